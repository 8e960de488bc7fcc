//! Settings of a [`Node`](crate::Node) and its connections.

use std::time::Duration;

/// How messages are framed on a connection. Both ends of a connection must use the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireFormat {
    /// Length-prefixed CBOR frames ([`scuttle_core::FrameCodec`]): a 4-byte big-endian length,
    /// then one CBOR message. The default.
    #[default]
    Cbor,
    /// One JSON object per line in the seed's shapes ([`scuttle_core::JsonLinesCodec`]), for
    /// peers written in other languages and for debugging by hand.
    JsonLines,
}

/// Settings of a [`Node`](crate::Node): wire format, gossip timing and the bounds that keep a
/// slow peer from growing memory.
///
/// Frame size limits come from the core's [`Config::max_frame_size`](scuttle_core::Config).
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
    /// Pause between two periodic gossip rounds on a connection. Default: 1 s. Values below
    /// 1 ms are raised to 1 ms.
    pub gossip_interval: Duration,
    /// Each pause is `gossip_interval` plus a uniformly random extra in `[0, gossip_jitter]`,
    /// so that nodes started together do not gossip in lockstep. Default: 250 ms.
    pub gossip_jitter: Duration,
    /// Start a round on every connection as soon as the node's state changes (a local write
    /// or news applied from a peer), besides the periodic rounds, but no sooner than
    /// [`min_round_gap`](Self::min_round_gap) after the previous round: changes that come
    /// quickly one after the other share one round. Default: `true`.
    pub gossip_on_change: bool,
    /// Shortest time between two rounds on one connection started because of changes.
    /// Default: 10 ms.
    pub min_round_gap: Duration,
    /// How long a peer has to send its hello. Default: 10 s.
    pub handshake_timeout: Duration,
    /// A gossip round for a peer is skipped while more than this many messages still wait to
    /// be written to it (the peer is not keeping up, so more digests would only queue).
    /// Default: 256.
    pub round_skip_threshold: usize,
    /// A connection is closed with [`ConnectionError::SlowPeer`](crate::ConnectionError) when
    /// more than this many messages wait for its peer after a message from it was handled
    /// (the limit is raised to four times the size of one full answer, digest plus `mtu`
    /// updates, when that is larger). Default: 16,384.
    pub max_outgoing: usize,
    /// Capacity of the event broadcast channel; a subscriber that falls further behind loses
    /// the oldest events and sees [`NodeEvent::Lagged`](crate::NodeEvent). Default: 1,024.
    /// 0 is raised to 1.
    pub event_capacity: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            wire_format: WireFormat::Cbor,
            gossip_interval: Duration::from_secs(1),
            gossip_jitter: Duration::from_millis(250),
            gossip_on_change: true,
            min_round_gap: Duration::from_millis(10),
            handshake_timeout: Duration::from_secs(10),
            round_skip_threshold: 256,
            max_outgoing: 16_384,
            event_capacity: 1_024,
        }
    }
}

impl NodeConfig {
    /// Sets [`NodeConfig::wire_format`].
    pub fn with_wire_format(mut self, format: WireFormat) -> Self {
        self.wire_format = format;
        self
    }

    /// Sets [`NodeConfig::gossip_interval`].
    pub fn with_gossip_interval(mut self, interval: Duration) -> Self {
        self.gossip_interval = interval;
        self
    }

    /// Sets [`NodeConfig::gossip_jitter`].
    pub fn with_gossip_jitter(mut self, jitter: Duration) -> Self {
        self.gossip_jitter = jitter;
        self
    }

    /// Sets [`NodeConfig::gossip_on_change`].
    pub fn with_gossip_on_change(mut self, on: bool) -> Self {
        self.gossip_on_change = on;
        self
    }

    /// Sets [`NodeConfig::min_round_gap`].
    pub fn with_min_round_gap(mut self, gap: Duration) -> Self {
        self.min_round_gap = gap;
        self
    }

    /// Sets [`NodeConfig::handshake_timeout`].
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`NodeConfig::round_skip_threshold`].
    pub fn with_round_skip_threshold(mut self, messages: usize) -> Self {
        self.round_skip_threshold = messages;
        self
    }

    /// Sets [`NodeConfig::max_outgoing`].
    pub fn with_max_outgoing(mut self, messages: usize) -> Self {
        self.max_outgoing = messages;
        self
    }

    /// Sets [`NodeConfig::event_capacity`].
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// The settings with out-of-range values raised to their minimum.
    pub(crate) fn normalized(mut self) -> Self {
        self.gossip_interval = self.gossip_interval.max(Duration::from_millis(1));
        self.event_capacity = self.event_capacity.max(1);
        self
    }
}
