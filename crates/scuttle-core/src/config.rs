//! Tuning knobs of a [`Gossip`](crate::Gossip) node, validated once at construction.

use std::time::Duration;

use crate::error::ConfigError;

/// The smallest `max_frame_size` accepted.
pub const MIN_FRAME_SIZE: usize = 64;

/// Configuration of a node. Build with [`Config::default`] and the `with_*` methods; the
/// constructor of [`Gossip`](crate::Gossip) validates it.
///
/// ```
/// use scuttle_core::Config;
/// let config = Config::default().with_mtu(50).with_max_history(1_000);
/// assert_eq!(config.mtu, 50);
/// assert!(Config::default().with_mtu(0).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Maximum updates sent per exchange (flow control). Seed default: 10.
    pub mtu: usize,
    /// Superseded updates kept for replay before compaction drops the oldest. The latest update
    /// of every key is always kept, so history may exceed this by one update per key.
    /// Seed default: 10.
    pub max_history: usize,
    /// How long a tombstone is kept (by its timestamp) before it is collected. `None` keeps
    /// tombstones forever. Default: one hour.
    pub tombstone_grace: Option<Duration>,
    /// Largest encoded frame accepted or produced by the codecs, in bytes. Default: 4 MiB.
    pub max_frame_size: usize,
    /// Most sources one digest may name before the exchange is refused. Default: 1,048,576.
    pub max_digest_sources: usize,
    /// Seed of the random digest order; `None` derives it from the node id, so runs are
    /// reproducible either way.
    pub rng_seed: Option<u64>,
    /// Whether [`Event`](crate::Event)s are queued. Turn off when nobody drains them.
    pub events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 10,
            max_history: 10,
            tombstone_grace: Some(Duration::from_secs(3600)),
            max_frame_size: 4 * 1024 * 1024,
            max_digest_sources: 1 << 20,
            rng_seed: None,
            events: true,
        }
    }
}

impl Config {
    /// Sets [`Config::mtu`].
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }

    /// Sets [`Config::max_history`].
    pub fn with_max_history(mut self, max_history: usize) -> Self {
        self.max_history = max_history;
        self
    }

    /// Sets [`Config::tombstone_grace`].
    pub fn with_tombstone_grace(mut self, grace: Option<Duration>) -> Self {
        self.tombstone_grace = grace;
        self
    }

    /// Sets [`Config::max_frame_size`].
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Config::max_digest_sources`].
    pub fn with_max_digest_sources(mut self, sources: usize) -> Self {
        self.max_digest_sources = sources;
        self
    }

    /// Sets [`Config::rng_seed`].
    pub fn with_rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// Sets [`Config::events`].
    pub fn with_events(mut self, events: bool) -> Self {
        self.events = events;
        self
    }

    /// Checks every constraint, naming the first one broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mtu == 0 {
            return Err(ConfigError::ZeroMtu);
        }
        if self.max_frame_size < MIN_FRAME_SIZE {
            return Err(ConfigError::FrameSizeTooSmall {
                min: MIN_FRAME_SIZE,
                got: self.max_frame_size,
            });
        }
        Ok(())
    }
}
