//! Settings of a [`Node`](crate::Node) and its connections.

use std::time::Duration;

/// How messages are framed on a connection. Both ends of a connection must use the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireFormat {
    /// Length-prefixed compact CBOR frames ([`scuttle_core::FrameCodec`]): a 4-byte big-endian
    /// length, then one whole message. The default.
    #[default]
    Cbor,
    /// The seed's JSON objects, one per line ([`scuttle_core::JsonLinesCodec`]), for peers
    /// written in other languages (the seed's JavaScript included) and for debugging by hand.
    /// Talk to seed peers with
    /// [`Config::with_digest_hashes(false)`](scuttle_core::Config::with_digest_hashes).
    /// Peers must send scuttle's hello line first; for the seed's own code use
    /// [`SeedJson`](Self::SeedJson).
    JsonLines,
    /// The seed's JSON objects as its JavaScript code (simple-scuttle 3.0.2) really exchanges
    /// them, one per line: no hello (the peer's id in events is `seed#<connection>`), the
    /// seed's dialect ([`Dialect::Seed`](scuttle_core::codec::seed::Dialect::Seed): digest
    /// entries named by `id`, number keys, value-less deletes, digests that end without
    /// `done`), a line that does not parse or breaks a protocol rule skipped with
    /// [`NodeEvent::LineSkipped`](crate::NodeEvent::LineSkipped) instead of closing the
    /// connection, and exchanges that wait for no `SynAck` (the seed answers a digest with
    /// news only). A digest the seed leaves unfinished ends when the next one starts or after
    /// [`NodeConfig::seed_digest_idle`]. Use it with
    /// [`Config::with_digest_hashes(false)`](scuttle_core::Config::with_digest_hashes). See
    /// `docs/interop.md`.
    SeedJson,
}

impl WireFormat {
    /// Whether connections in this format open with a hello (all but [`SeedJson`](Self::SeedJson)).
    pub fn has_hello(self) -> bool {
        self != WireFormat::SeedJson
    }
}

/// Settings of a [`Node`](crate::Node): wire format, when exchanges start, and timeouts.
///
/// Protocol knobs (`mtu`, `max_message_bytes`, ...) are the core's
/// [`Config`](scuttle_core::Config), given with the [`Gossip`](scuttle_core::Gossip); the
/// codecs take their frame limit from it.
///
/// ```
/// use std::time::Duration;
/// use scuttle_tokio::{NodeConfig, WireFormat};
///
/// let config = NodeConfig::default()
///     .with_wire_format(WireFormat::JsonLines)
///     .with_gossip_interval(Duration::from_millis(200))
///     .with_gossip_jitter(Duration::from_millis(50));
/// assert_eq!(config.wire_format, WireFormat::JsonLines);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeConfig {
    /// Framing used on every connection of the node. Default: [`WireFormat::Cbor`].
    pub wire_format: WireFormat,
    /// Pause between two gossip ticks on a connection; each tick starts an exchange unless one
    /// is still waiting for its answer. Default: 1 s. Values below 1 ms are raised to 1 ms.
    pub gossip_interval: Duration,
    /// Each pause is `gossip_interval` plus a random extra in `[0, gossip_jitter]`, so that
    /// nodes started together do not gossip in lockstep. Default: 250 ms.
    pub gossip_jitter: Duration,
    /// Also start an exchange on every connection soon after the node's digest changes (a
    /// local write, or news applied from any peer): at once when no exchange is in flight on
    /// that connection, else as soon as its answer has come. Default: `true`. Not on
    /// [`WireFormat::SeedJson`] connections: a seed node broadcasts its answer to a digest on
    /// all its pipes and counts every copy it hears against its `max_history`.
    pub gossip_on_change: bool,
    /// How long an exchange may wait for the peer's answer (its `SynAck`): the first tick after
    /// that gives it up, so the next exchange can start. Seed (JSON) peers answer a digest with
    /// news only, never with a `SynAck`: with them, set this near `gossip_interval`.
    /// Default: 5 s.
    pub exchange_timeout: Duration,
    /// How long a peer has to send its hello. Default: 10 s.
    pub handshake_timeout: Duration,
    /// Capacity of the event channel; a subscriber that falls further behind loses the oldest
    /// events and sees [`NodeEvent::Lagged`](crate::NodeEvent::Lagged). Default: 1,024.
    /// 0 is raised to 1.
    pub event_capacity: usize,
    /// Offer zstd frame compression to peers: the hello says this node accepts compressed
    /// frames, and CBOR messages longer than [`COMPRESS_ABOVE`](crate::codec::COMPRESS_ABOVE)
    /// bytes go out compressed (when that makes them smaller) to peers whose hello says the
    /// same. Trades CPU for bytes. JSON-lines connections never compress; compressed frames
    /// from a peer are always read. Default: `false`.
    pub compression: bool,
    /// On [`WireFormat::SeedJson`] connections: how long a digest may stay half-received
    /// before it is taken as done (the seed's `gossip()` stops sending a digest before its
    /// `done` once it knows more than about `mtu + 2` sources). Default: 100 ms.
    pub seed_digest_idle: Duration,
    /// Close a connection on which nothing arrived for this long (`None`: never). A live peer
    /// starts an exchange every `gossip_interval`, so a silent link (a partition, a dead host
    /// whose kernel still holds the socket) is noticed within a few intervals instead of the
    /// kernel's retransmission timeout; pick it above `exchange_timeout + 2 × gossip_interval`.
    /// The connection ends with [`ConnectionError::IdleTimeout`](crate::ConnectionError).
    /// Default: `None`.
    pub idle_timeout: Option<Duration>,
    /// Most connections open at once, both ways. [`Node::listen`](crate::Node::listen) closes
    /// a connection accepted beyond it at once
    /// ([`NodeEvent::ConnectionRefused`](crate::NodeEvent::ConnectionRefused)), so a peer
    /// opening connections without end runs into it instead of the process's file limit.
    /// Default 1,024.
    pub max_connections: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            wire_format: WireFormat::Cbor,
            gossip_interval: Duration::from_secs(1),
            gossip_jitter: Duration::from_millis(250),
            gossip_on_change: true,
            exchange_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            event_capacity: 1_024,
            compression: false,
            seed_digest_idle: Duration::from_millis(100),
            idle_timeout: None,
            max_connections: 1_024,
        }
    }
}

impl NodeConfig {
    /// Sets [`wire_format`](Self::wire_format).
    pub fn with_wire_format(mut self, format: WireFormat) -> Self {
        self.wire_format = format;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`gossip_interval`](Self::gossip_interval).
    pub fn with_gossip_interval(mut self, interval: Duration) -> Self {
        self.gossip_interval = interval;
        self
    }

    /// Sets [`gossip_jitter`](Self::gossip_jitter).
    pub fn with_gossip_jitter(mut self, jitter: Duration) -> Self {
        self.gossip_jitter = jitter;
        self
    }

    /// Sets [`gossip_on_change`](Self::gossip_on_change).
    pub fn with_gossip_on_change(mut self, on: bool) -> Self {
        self.gossip_on_change = on;
        self
    }

    /// Sets [`exchange_timeout`](Self::exchange_timeout).
    pub fn with_exchange_timeout(mut self, timeout: Duration) -> Self {
        self.exchange_timeout = timeout;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`event_capacity`](Self::event_capacity).
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Sets [`compression`](Self::compression).
    pub fn with_compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Sets [`seed_digest_idle`](Self::seed_digest_idle).
    pub fn with_seed_digest_idle(mut self, idle: Duration) -> Self {
        self.seed_digest_idle = idle;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The settings with out-of-range values raised to their minimum.
    pub(crate) fn normalized(mut self) -> Self {
        self.gossip_interval = self.gossip_interval.max(Duration::from_millis(1));
        self.event_capacity = self.event_capacity.max(1);
        self
    }
}
