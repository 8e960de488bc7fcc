//! What a node reports to its application, drained with
//! [`Gossip::poll_event`](crate::Gossip::poll_event).

use crate::types::{Entry, Update};

/// Something that happened inside a node.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<K, V> {
    /// An update won and is now the state of `key` (local writes included).
    Update {
        /// The key.
        key: K,
        /// Its new entry (`entry.value == None` for a delete).
        entry: Entry<V>,
        /// Whether a local [`set`](crate::Gossip::set)/[`delete`](crate::Gossip::delete)
        /// made it. Otherwise it came in the message being handled: the transport knows from
        /// which peer.
        local: bool,
    },
    /// Compaction dropped superseded updates from history because it held more than
    /// `max_history`.
    Compaction {
        /// Updates dropped.
        dropped: usize,
        /// Updates held afterwards.
        history_len: usize,
    },
    /// Tombstones older than the grace period were forgotten.
    TombstonesCollected {
        /// How many.
        count: usize,
    },
    /// A peer's [`Reset`](crate::Reset) showed that `key` was deleted and its tombstone
    /// collected, so this node forgot it too.
    Forgotten {
        /// The key.
        key: K,
    },
    /// A message named more new sources than [`Config::max_sources`](crate::Config::max_sources)
    /// leaves room for: their news was left out (it changed nothing).
    SourceLimit {
        /// Updates left out (a reset left out counts once).
        refused: u64,
    },
    /// A source signed two different updates with the same version (see
    /// [`crate::signing`]): the one held here and `update`, which was refused. Both
    /// signatures verify, so this is proof against the source, not the peer that relayed it.
    Equivocation {
        /// The update refused (its source, version and signature are the evidence).
        update: Box<Update<K, V>>,
    },
}

/// Counters of what a node did, for tests, simulations and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Updates queued as news for peers.
    pub updates_sent: u64,
    /// Remote updates that won and changed the state.
    pub updates_applied: u64,
    /// Remote updates the resolver refused (they still advance the watermark).
    pub updates_rejected: u64,
    /// Remote updates at or below the watermark of their source (already seen).
    pub duplicates: u64,
    /// Remote updates skipped because their `prev` (or, under strict chains, the signed link
    /// of one of them) was above the watermark (a gap).
    pub gaps: u64,
    /// Resets sent to peers behind collected tombstones.
    pub resets_sent: u64,
    /// Exchanges answered (digests completed by a peer).
    pub digests_answered: u64,
    /// Exchanges answered with a digest hash only, because both sides held the same.
    pub idle_exchanges: u64,
    /// Resets that did not fit `max_message_bytes`, so incremental news went instead.
    pub resets_too_large: u64,
    /// Remote updates (and resets) left for later because their version was beyond the
    /// clock bound (see `Config::max_clock_skew`).
    pub ahead: u64,
    /// Remote updates (and resets) left out because they named more new sources than
    /// `Config::max_sources` allows.
    pub sources_refused: u64,
    /// Updates refused as equivocation: a second, different update signed by its source
    /// under a version already held.
    pub equivocations: u64,
    /// Resets received and ignored: under
    /// [`Collection::Covered`](crate::Collection::Covered) no peer's reset is needed or
    /// trusted.
    pub resets_ignored: u64,
    /// Tombstones collected (see [`Config::collection`](crate::Config::collection)).
    pub tombstones_collected: u64,
    /// Entries forgotten after a [`rejoin`](crate::Gossip::rejoin): held from before, not
    /// heard again, and held by no member any more (their delete was collected meanwhile).
    pub stale_forgotten: u64,
}
