//! Tuning knobs of the scuttle [`Behaviour`](crate::Behaviour).

use std::time::Duration;

use libp2p::{PeerId, StreamProtocol};

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
    /// 50 requests per second: an exchange costs a peer at most 2 requests, so this leaves
    /// room for rounds 25 times faster than the default interval.
    fn default() -> Self {
        RateLimit {
            requests: 50,
            per: Duration::from_secs(1),
        }
    }
}

/// Configuration of a [`Behaviour`](crate::Behaviour): [`Config::new`] with the local peer id,
/// then the `with_*` methods; the behaviour validates it once.
///
/// The protocol knobs (`mtu`, `max_message_bytes`, `tombstone_grace`, ...) are the core's
/// [`scuttle_core::Config`], set with [`with_core`](Config::with_core). Its
/// `max_message_bytes` is also the largest frame the codec reads: there is no second size knob.
///
/// ```
/// use std::time::Duration;
/// use scuttle_p2p::{core, Config};
///
/// let peer = libp2p::identity::Keypair::generate_ed25519().public().to_peer_id();
/// let config = Config::new(peer)
///     .with_core(core::Config::default().with_mtu(100).with_max_message_bytes(256 * 1024))
///     .with_interval(Duration::from_millis(200))
///     .with_fanout(2);
/// assert_eq!(config.fanout, 2);
/// assert_eq!(config.core.mtu, 100);
/// assert!(config.validate().is_ok());
/// assert!(config.with_interval(Duration::ZERO).validate().is_err());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The local peer id: the core's node id is its string form, so every write of this node
    /// names the key that authenticates its connections.
    pub local_peer_id: PeerId,
    /// The core's configuration (protocol knobs). Default: the core's defaults.
    pub core: scuttle_core::Config,
    /// Time between two gossip rounds. Default: 1 s.
    pub interval: Duration,
    /// Peers picked at random for each round (0 makes a passive node that only answers).
    /// Default: 3.
    pub fanout: usize,
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
    /// How long a peer that broke the protocol is refused after it was disconnected
    /// ([`Duration::ZERO`] lets it reconnect at once). Default: 60 s.
    pub ban_duration: Duration,
    /// The protocol id negotiated. Nodes with different ids do not gossip, which separates
    /// clusters sharing a swarm. Default: [`PROTOCOL_NAME`] (`/scuttle/2.0.0`).
    pub protocol: StreamProtocol,
    /// Offer zstd frame compression: negotiate `{protocol}+zstd` (e.g. `/scuttle/2.0.0+zstd`)
    /// first and [`Config::protocol`] second, and on streams that agreed on the `+zstd` id
    /// send frames longer than [`COMPRESS_ABOVE`](crate::protocol::COMPRESS_ABOVE) bytes
    /// compressed (when that makes them smaller). Nodes without it speak only the plain id, so
    /// they never receive a compressed frame. Trades CPU for bytes. Default: `false`.
    pub compression: bool,
}

impl Config {
    /// A configuration for the node `local_peer_id`, with the defaults documented on each
    /// field.
    pub fn new(local_peer_id: PeerId) -> Self {
        Config {
            local_peer_id,
            core: scuttle_core::Config::default(),
            interval: Duration::from_secs(1),
            fanout: 3,
            rate_limit: RateLimit::default(),
            request_timeout: Duration::from_secs(10),
            max_concurrent_streams: 16,
            keep_alive: true,
            ban_duration: Duration::from_secs(60),
            protocol: PROTOCOL_NAME,
            compression: false,
        }
    }

    /// Sets [`Config::core`].
    pub fn with_core(mut self, core: scuttle_core::Config) -> Self {
        self.core = core;
        self
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

    /// Sets [`Config::compression`].
    pub fn with_compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// The protocol id of compressed streams, `{protocol}+zstd`, when
    /// [`compression`](Config::compression) is on.
    pub fn compressed_protocol(&self) -> Option<StreamProtocol> {
        if !self.compression {
            return None;
        }
        StreamProtocol::try_from_owned(format!("{}+zstd", self.protocol)).ok()
    }

    /// Checks every constraint, naming the first one broken.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.core.validate()?;
        if self.interval.is_zero() {
            return Err(ConfigError::ZeroInterval);
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

/// A [`Config`] breaks a constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The core's configuration is invalid.
    #[error(transparent)]
    Core(#[from] scuttle_core::ConfigError),
    /// Rounds need a non-zero interval.
    #[error("interval must be above zero")]
    ZeroInterval,
    /// The rate limit must allow some requests in a non-zero window.
    #[error("rate limit must allow at least one request in a non-zero window")]
    ZeroRateLimit,
    /// Connections need at least one stream.
    #[error("max_concurrent_streams must be at least 1")]
    ZeroConcurrentStreams,
    /// [`Behaviour::from_gossip`](crate::Behaviour::from_gossip) was given a core whose node
    /// id is not the local peer id.
    #[error("the core's node id `{id}` is not the local peer id {peer}")]
    ForeignGossip {
        /// The core's node id.
        id: String,
        /// The local peer id.
        peer: PeerId,
    },
}
