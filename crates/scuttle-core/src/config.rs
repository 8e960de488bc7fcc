//! Protocol knobs of a node.

use std::time::Duration;

use crate::error::ConfigError;

/// The smallest [`Config::max_message_bytes`] accepted.
pub const MIN_MESSAGE_BYTES: usize = 64;

/// Protocol knobs of a [`Gossip`](crate::Gossip) node. Build with `Config::default()` and the
/// `with_*` methods; [`Gossip::new`](crate::Gossip::new) validates it.
///
/// **Trust.** The defaults suit one process or a trusted network: updates are not signed and
/// a peer's reset is believed. Where peers may be hostile, sign
/// ([`Gossip::with_signing`](crate::Gossip::with_signing)), collect tombstones with
/// [`Collection::Covered`] and tell the node its members
/// ([`Gossip::set_members`](crate::Gossip::set_members)), and hand messages in with their
/// authenticated sender ([`Gossip::handle_message_from`](crate::Gossip::handle_message_from)):
/// what every libp2p `scuttle node` does (`docs/security.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Most updates one message carries (the seed's `mtu`). Default 10.
    pub mtu: usize,
    /// Most encoded bytes of one message, news and digest included (the CBOR body, without a
    /// transport's length prefix). News is cut to fit, so no message ever exceeds it, and a
    /// write that could never fit is refused. Default 1 MiB.
    pub max_message_bytes: usize,
    /// Superseded updates kept for replay beyond the latest of each key. Default 10.
    pub max_history: usize,
    /// How long a tombstone is kept before [`Gossip::handle_timeout`](crate::Gossip::handle_timeout)
    /// collects it (`None`: never). Default one hour.
    pub tombstone_grace: Option<Duration>,
    /// When a tombstone past its grace may be collected, and whether resets are used (see
    /// [`Collection`]). Default [`Collection::AfterGrace`].
    pub collection: Collection,
    /// Most sources a peer's digest may name. Default 2^20.
    pub max_digest_sources: usize,
    /// Whether an exchange may open with only a hash of the digest when the last exchange
    /// found both sides equal, so an idle cluster costs a few bytes per exchange. Turn off to
    /// talk to seed (JSON) peers, which only understand full digests. Default on.
    pub digest_hashes: bool,
    /// Whether [`Gossip::poll_event`](crate::Gossip::poll_event) gets events. Default on.
    pub events: bool,
    /// How local writes are numbered. Default [`Versions::Counter`] (the seed's rule);
    /// networked nodes should use [`Versions::Hybrid`], which never repeats a version after a
    /// restart, store or no store.
    pub versions: Versions,
    /// With [`Versions::Hybrid`], how far ahead of `now` a remote version's clock may be.
    /// News above it waits (it is not applied and does not move anything, so the sender
    /// offers it again) until the local clock comes close enough: one peer cannot pin every
    /// node's clock at the maximum. Default one minute.
    pub max_clock_skew: Duration,
    /// Whether a node that starts empty (no store, or an empty one) refuses local writes
    /// ([`SetError::CatchingUp`]) until it has caught up with a peer, or this long has passed
    /// since the first `now` it was given. Caught up means: it heard a peer's digest (which
    /// raises its clock above every version of its own the peer holds) and holds its own
    /// updates up to the version that digest named. Without it, a node restarted without its
    /// store would raise its own watermark over its old updates with its first write, and
    /// never get them back. `None` (default): writes are accepted at once. After the period
    /// passes with no peer heard, a restarted node's old updates that only peers hold can be
    /// shadowed on it: keep a store where that matters.
    ///
    /// [`SetError::CatchingUp`]: crate::SetError::CatchingUp
    pub catch_up: Option<Duration>,
    /// Most sources this node keeps watermarks for. News or a reset that would make it learn
    /// more is left out (it changes nothing; `Stats::sources_refused`,
    /// [`Event::SourceLimit`](crate::Event::SourceLimit)), so a peer cannot grow every digest
    /// and every node's memory with made-up sources. Members
    /// ([`Gossip::set_members`](crate::Gossip::set_members)) are always let in: the
    /// membership layer vouches for them, so a flood cannot keep them out. Default 2^16.
    pub max_sources: usize,
}

/// How a node numbers its own writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Versions {
    /// The seed's Lamport counter: a write gets `version() + 1`. For in-process use and seed
    /// peers. A node that restarts without its store (or without catching up first, see
    /// [`Config::catch_up`]) can reissue a version its peers already hold, and they drop the
    /// write as a duplicate.
    #[default]
    Counter,
    /// A hybrid logical clock: a write gets `max(version() + 1, now << 16)` — milliseconds
    /// in the high bits, a counter in the low [`HLC_COUNTER_BITS`] — so the seed's rule stays
    /// the lower bound and a restarted node starts above every version it issued before
    /// (as long as its wall clock moved on past the last write's millisecond).
    Hybrid,
}

/// Bits of a [`Versions::Hybrid`] version that count writes within one millisecond.
pub const HLC_COUNTER_BITS: u32 = 16;

/// With [`Versions::Counter`], the highest remote version a node takes: news above it waits
/// for good, on every node alike. It leaves 2^62 versions below, so no peer can exhaust a
/// counter; it is a fixed bound and not one relative to the local counter, because a bound
/// that differs from node to node would let one node take news another never can (they would
/// stay apart for good).
pub const MAX_COUNTER_VERSION: u64 = 1 << 62;

/// The hybrid-clock version of the start of millisecond `now`.
pub fn hlc(now: crate::Millis) -> crate::Version {
    now.saturating_mul(1 << HLC_COUNTER_BITS)
}

/// When tombstones are collected, and how a peer behind a collection catches up.
///
/// A tombstone (a delete) must outlive every copy of the value it deletes, or the value comes
/// back. Collecting it is only safe once every node holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Collection {
    /// Collect a tombstone once [`Config::tombstone_grace`] has passed; a peer whose digest is
    /// behind a collected tombstone gets a [`Reset`](crate::Reset), and a reset received is
    /// trusted: the receiver forgets what the sender has seen but no longer holds. Right for a
    /// trusted cluster; a hostile peer can make a node forget anything with one reset
    /// (`docs/security.md`).
    #[default]
    AfterGrace,
    /// Collect a tombstone once its grace has passed **and** every member
    /// ([`Gossip::set_members`](crate::Gossip::set_members)) has said, in a digest of its
    /// own ([`Gossip::handle_message_from`](crate::Gossip::handle_message_from), the sender
    /// authenticated by the transport), that it holds it. Until members are set nothing is
    /// collected. No reset is sent, and a reset received is ignored (`Stats::resets_ignored`):
    /// no message can make a node forget a key or raise a watermark on a peer's word. A member never misses a collection; a node that was not a member while one
    /// happened (away longer than its membership lasted) may keep keys deleted meanwhile, and
    /// should rejoin empty, as a new incarnation (`docs/security.md`).
    Covered,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 10,
            max_message_bytes: 1 << 20,
            max_history: 10,
            tombstone_grace: Some(Duration::from_secs(3600)),
            collection: Collection::AfterGrace,
            max_digest_sources: 1 << 20,
            digest_hashes: true,
            events: true,
            versions: Versions::Counter,
            max_clock_skew: Duration::from_secs(60),
            catch_up: None,
            max_sources: 1 << 16,
        }
    }
}

impl Config {
    /// Sets [`mtu`](Self::mtu).
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// Sets [`max_message_bytes`](Self::max_message_bytes).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Sets [`max_history`](Self::max_history).
    pub fn with_max_history(mut self, max_history: usize) -> Self {
        self.max_history = max_history;
        self
    }

    /// Sets [`collection`](Self::collection).
    pub fn with_collection(mut self, collection: Collection) -> Self {
        self.collection = collection;
        self
    }

    /// Sets [`tombstone_grace`](Self::tombstone_grace).
    pub fn with_tombstone_grace(mut self, grace: Option<Duration>) -> Self {
        self.tombstone_grace = grace;
        self
    }

    /// Sets [`max_digest_sources`](Self::max_digest_sources).
    pub fn with_max_digest_sources(mut self, sources: usize) -> Self {
        self.max_digest_sources = sources;
        self
    }

    /// Sets [`digest_hashes`](Self::digest_hashes).
    pub fn with_digest_hashes(mut self, on: bool) -> Self {
        self.digest_hashes = on;
        self
    }

    /// Sets [`events`](Self::events).
    pub fn with_events(mut self, events: bool) -> Self {
        self.events = events;
        self
    }

    /// Sets [`versions`](Self::versions).
    pub fn with_versions(mut self, versions: Versions) -> Self {
        self.versions = versions;
        self
    }

    /// Sets [`max_clock_skew`](Self::max_clock_skew).
    pub fn with_max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Sets [`catch_up`](Self::catch_up).
    pub fn with_catch_up(mut self, timeout: Option<Duration>) -> Self {
        self.catch_up = timeout;
        self
    }

    /// Sets [`max_sources`](Self::max_sources).
    pub fn with_max_sources(mut self, sources: usize) -> Self {
        self.max_sources = sources;
        self
    }

    /// The settings for a networked node: [`Versions::Hybrid`] and a catch-up period of
    /// `catch_up` for a node that starts empty (no store, or an empty one).
    pub fn networked(catch_up: Duration) -> Self {
        Config::default()
            .with_versions(Versions::Hybrid)
            .with_catch_up(Some(catch_up))
    }

    /// Checks every constraint.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mtu == 0 {
            return Err(ConfigError::ZeroMtu);
        }
        if self.max_message_bytes < MIN_MESSAGE_BYTES {
            return Err(ConfigError::MessageBytesTooSmall {
                min: MIN_MESSAGE_BYTES,
                got: self.max_message_bytes,
            });
        }
        Ok(())
    }
}
