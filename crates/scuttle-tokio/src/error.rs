//! Why a connection failed or ended.

use std::sync::Arc;
use std::time::Duration;

use scuttle_core::{DecodeError, EncodeError, NodeId, ProtocolError};

/// A connection failed. Only that connection is closed: the node, its state and its other
/// connections go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// Reading from or writing to the stream failed (this includes a stream that ends in the
    /// middle of a frame). A stream closed or reset by the peer (broken pipe, connection
    /// reset or aborted) is not an error: it ends as [`DisconnectReason::PeerClosed`].
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a malformed or oversize frame, or a message that breaks the protocol.
    #[error("bad frame from the peer: {0}")]
    Decode(#[from] DecodeError),
    /// A local message could not be encoded (for example larger than the maximum frame size).
    #[error("could not encode a message: {0}")]
    Encode(#[from] EncodeError),
    /// The peer sent a well-formed message that the node refused (see [`ProtocolError`]).
    #[error("the peer broke the protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// The peer's hello names another protocol version.
    #[error(
        "protocol version mismatch: this node speaks version {ours}, the peer speaks {theirs}"
    )]
    VersionMismatch {
        /// [`scuttle_core::PROTOCOL_VERSION`].
        ours: u32,
        /// The version in the peer's hello.
        theirs: u32,
    },
    /// The peer's first frame is not a valid hello.
    #[error("bad handshake: {0}")]
    Handshake(String),
    /// The peer sent no hello in time.
    #[error("no hello from the peer within {0:?}")]
    HandshakeTimeout(Duration),
    /// The peer closed the stream before its hello arrived.
    #[error("the peer closed the connection during the handshake")]
    ClosedDuringHandshake,
    /// The peer's hello carries this node's own id.
    #[error("the peer has this node's own id {0}")]
    SelfConnection(NodeId),
    /// More messages wait for the peer than the bound allows: it does not read fast enough.
    #[error("the peer is too slow: {queued} messages wait for it (limit {limit})")]
    SlowPeer {
        /// Messages waiting.
        queued: usize,
        /// The bound (see [`NodeConfig::max_outgoing`](crate::NodeConfig)).
        limit: usize,
    },
    /// The connection was closed locally (by [`ConnectionHandle::close`](crate::ConnectionHandle)
    /// or [`Node::shutdown`](crate::Node::shutdown)) before the handshake completed.
    #[error("closed locally before the handshake completed")]
    Cancelled,
    /// The connection task panicked or was aborted.
    #[error("connection task failed: {0}")]
    Task(String),
}

/// Why a connection whose handshake completed has ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer closed the stream between two frames, or reset it.
    PeerClosed,
    /// Closed locally by [`ConnectionHandle::close`](crate::ConnectionHandle::close) or
    /// [`Node::shutdown`](crate::Node::shutdown).
    Closed,
    /// The connection failed.
    Error(Arc<ConnectionError>),
}
