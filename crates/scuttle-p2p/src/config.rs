//! Tuning knobs of the scuttle [`Behaviour`](crate::Behaviour).

use std::time::Duration;

use libp2p::StreamProtocol;

use crate::protocol::PROTOCOL_NAME;

/// A per-peer budget of inbound requests: at most `requests` in any window of `per`
/// (a token bucket that refills continuously and holds at most `requests` tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (also the burst size).
    pub requests: u32,
    /// The window.
    pub per: Duration,
}

impl Default for RateLimit {
    /// 50 requests per second: a peer's exchange costs 2 requests, so this leaves room for
    /// rounds 25 times faster than the default interval.
    fn default() -> Self {
        RateLimit {
            requests: 50,
            per: Duration::from_secs(1),
        }
    }
}

/// Configuration of a [`Behaviour`](crate::Behaviour). Start from [`Config::new`] (or
/// [`Config::default`]) and adjust with the `with_*` methods; the behaviour validates it once.
///
/// ```
/// use std::time::Duration;
/// use scuttle_p2p::Config;
///
/// let config = Config::default()
///     .with_interval(Duration::from_millis(200))
///     .with_fanout(2)
///     .with_max_updates(100)
///     .with_max_frame_bytes(256 * 1024);
/// assert_eq!(config.fanout, 2);
/// assert_eq!(config.core.mtu, 100);
/// assert!(config.validate().is_ok());
/// assert!(Config::default().with_interval(Duration::ZERO).validate().is_err());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The core's configuration. Its `mtu` is the most updates sent per exchange **and** the
    /// most accepted in one batch from a peer (see [`Config::with_max_updates`]).
    pub core: scuttle_core::Config,
    /// Time between two gossip rounds. Default: 1 s.
    pub interval: Duration,
    /// Peers picked at random for each round (0 makes a passive node that only answers).
    /// Default: 3.
    pub fanout: usize,
    /// Largest request or response (one batch of messages), in bytes; a peer that sends more
    /// is disconnected. Default: 1 MiB.
    pub max_frame_bytes: usize,
    /// Inbound requests allowed per peer; requests over the budget are refused (not
    /// processed) and reported.
    pub rate_limit: RateLimit,
    /// How long a request may take, both ways. Default: 10 s.
    pub request_timeout: Duration,
    /// Most concurrent scuttle streams per connection. Default: 16.
    pub max_concurrent_streams: usize,
    /// Keep connections open between rounds (otherwise the swarm's idle timeout closes them
    /// when no request is in flight). Default: true.
    pub keep_alive: bool,
    /// How long a misbehaving peer is refused after it was disconnected
    /// ([`Duration::ZERO`] lets it reconnect at once). Default: 60 s.
    pub ban_duration: Duration,
    /// The protocol id negotiated. Nodes with different ids do not gossip, which separates
    /// clusters sharing a swarm. Default: [`PROTOCOL_NAME`] (`/scuttle/1.0.0`).
    pub protocol: StreamProtocol,
}

impl Default for Config {
    fn default() -> Self {
        Config::new(scuttle_core::Config::default())
    }
}

impl Config {
    /// A configuration around the core's, with the defaults documented on each field.
    pub fn new(core: scuttle_core::Config) -> Self {
        Config {
            core,
            interval: Duration::from_secs(1),
            fanout: 3,
            max_frame_bytes: 1024 * 1024,
            rate_limit: RateLimit::default(),
            request_timeout: Duration::from_secs(10),
            max_concurrent_streams: 16,
            keep_alive: true,
            ban_duration: Duration::from_secs(60),
            protocol: PROTOCOL_NAME,
        }
    }

    /// Sets [`Config::interval`].
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`Config::fanout`].
    pub fn with_fanout(mut self, fanout: usize) -> Self {
        self.fanout = fanout;
        self
    }

    /// Sets the most updates per exchange (the core's `mtu`): the most this node sends in one
    /// batch, and the most it accepts from a peer. Give every node of a mesh the same value.
    pub fn with_max_updates(mut self, updates: usize) -> Self {
        self.core.mtu = updates;
        self
    }

    /// Sets [`Config::max_frame_bytes`].
    pub fn with_max_frame_bytes(mut self, bytes: usize) -> Self {
        self.max_frame_bytes = bytes;
        self
    }

    /// Sets [`Config::rate_limit`]: at most `requests` inbound requests per peer per `per`.
    pub fn with_rate_limit(mut self, requests: u32, per: Duration) -> Self {
        self.rate_limit = RateLimit { requests, per };
        self
    }

    /// Sets [`Config::request_timeout`].
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`Config::max_concurrent_streams`].
    pub fn with_max_concurrent_streams(mut self, streams: usize) -> Self {
        self.max_concurrent_streams = streams;
        self
    }

    /// Sets [`Config::keep_alive`].
    pub fn with_keep_alive(mut self, keep_alive: bool) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Sets [`Config::ban_duration`].
    pub fn with_ban_duration(mut self, duration: Duration) -> Self {
        self.ban_duration = duration;
        self
    }

    /// Sets [`Config::protocol`].
    pub fn with_protocol(mut self, protocol: StreamProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Checks every constraint, naming the first one broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.core.validate()?;
        if self.interval.is_zero() {
            return Err(ConfigError::ZeroInterval);
        }
        if self.max_frame_bytes < scuttle_core::MIN_FRAME_SIZE {
            return Err(ConfigError::FrameSizeTooSmall {
                min: scuttle_core::MIN_FRAME_SIZE,
                got: self.max_frame_bytes,
            });
        }
        if self.rate_limit.requests == 0 || self.rate_limit.per.is_zero() {
            return Err(ConfigError::ZeroRateLimit);
        }
        if self.max_concurrent_streams == 0 {
            return Err(ConfigError::ZeroConcurrentStreams);
        }
        Ok(())
    }
}

/// A [`Config`] breaks a constraint, or a behaviour could not be built from its parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The core's configuration is invalid.
    #[error(transparent)]
    Core(#[from] scuttle_core::ConfigError),
    /// Rounds need a non-zero interval.
    #[error("interval must be above zero")]
    ZeroInterval,
    /// Frames must hold at least a small message.
    #[error("max_frame_bytes must be at least {min} bytes, got {got}")]
    FrameSizeTooSmall {
        /// The minimum.
        min: usize,
        /// What was given.
        got: usize,
    },
    /// The rate limit must allow some requests in a non-zero window.
    #[error("rate limit must allow at least one request in a non-zero window")]
    ZeroRateLimit,
    /// Connections need at least one stream.
    #[error("max_concurrent_streams must be at least 1")]
    ZeroConcurrentStreams,
    /// The core node's id is not the local peer id (see
    /// [`Behaviour::from_gossip`](crate::Behaviour::from_gossip)).
    #[error("the gossip node's id {got} is not the local peer id {expected}")]
    IdMismatch {
        /// The local peer id.
        expected: String,
        /// The core node's id.
        got: String,
    },
}
