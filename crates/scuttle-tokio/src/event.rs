//! What a node reports to its application.

use std::fmt;
use std::sync::Arc;

use scuttle_core::{Event, NodeId};

use crate::error::{ConnectionError, DisconnectReason, PolicyError};

/// Identifies one connection of a node (unique for the node's lifetime).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
    /// The number behind the id (connections are numbered from 1 in the order they start).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Something that happened on a [`Node`](crate::Node), delivered by
/// [`Node::events`](crate::Node::events).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum NodeEvent<K, V> {
    /// An event of the core state machine: an update that won (local writes included), a
    /// compaction, tombstones collected, a key forgotten.
    Core {
        /// The core's event. In [`Event::Update`], `local: true` marks a local
        /// [`set`](crate::Node::set) or [`delete`](crate::Node::delete).
        event: Event<K, V>,
        /// The node id of the peer whose message caused it; `None` for local writes and for
        /// tombstone collection.
        from: Option<NodeId>,
    },
    /// A connection completed its handshake.
    PeerConnected {
        /// The peer's node id (from its hello).
        peer: NodeId,
        /// The connection.
        connection: ConnectionId,
    },
    /// A connection whose handshake had completed has ended.
    PeerDisconnected {
        /// The peer's node id.
        peer: NodeId,
        /// The connection.
        connection: ConnectionId,
        /// Why.
        reason: DisconnectReason,
    },
    /// A connection failed and was closed (before or after its handshake). A
    /// [`PeerDisconnected`](Self::PeerDisconnected) follows when the handshake had completed.
    Error {
        /// The peer's node id, if its hello arrived.
        peer: Option<NodeId>,
        /// The connection.
        connection: ConnectionId,
        /// What went wrong.
        error: Arc<ConnectionError>,
    },
    /// The node's resolver or sorter failed on a message from a peer: the message was refused
    /// and nothing changed. The connection stays open; the peer's news comes again in a later
    /// exchange.
    PolicyFailed {
        /// The peer that sent the message.
        peer: NodeId,
        /// The connection.
        connection: ConnectionId,
        /// The core's error.
        error: PolicyError,
    },
    /// A [`WireFormat::SeedJson`](crate::WireFormat::SeedJson) peer sent a line that does not
    /// parse, or a message that breaks a protocol rule: it was skipped and the connection
    /// goes on (seed peers are not held to scuttle's rules).
    LineSkipped {
        /// The peer (`seed#<connection>`).
        peer: NodeId,
        /// The connection.
        connection: ConnectionId,
        /// Why it was skipped.
        error: Arc<ConnectionError>,
    },
    /// [`Node::listen`](crate::Node::listen) accepted a connection while
    /// [`NodeConfig::max_connections`](crate::NodeConfig::max_connections) were open, and
    /// closed it at once.
    ConnectionRefused {
        /// The limit.
        max_connections: usize,
    },
    /// This subscriber fell behind and lost `missed` events.
    Lagged {
        /// How many events were lost.
        missed: u64,
    },
}
