//! Protocol knobs of a node.

use std::time::Duration;

use crate::error::ConfigError;

/// The smallest [`Config::max_message_bytes`] accepted.
pub const MIN_MESSAGE_BYTES: usize = 64;

/// Protocol knobs of a [`Gossip`](crate::Gossip) node. Build with `Config::default()` and the
/// `with_*` methods; [`Gossip::new`](crate::Gossip::new) validates it.
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
    /// Most sources a peer's digest may name. Default 2^20.
    pub max_digest_sources: usize,
    /// Whether an exchange may open with only a hash of the digest when the last exchange
    /// found both sides equal, so an idle cluster costs a few bytes per exchange. Turn off to
    /// talk to seed (JSON) peers, which only understand full digests. Default on.
    pub digest_hashes: bool,
    /// Whether [`Gossip::poll_event`](crate::Gossip::poll_event) gets events. Default on.
    pub events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 10,
            max_message_bytes: 1 << 20,
            max_history: 10,
            tombstone_grace: Some(Duration::from_secs(3600)),
            max_digest_sources: 1 << 20,
            digest_hashes: true,
            events: true,
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
