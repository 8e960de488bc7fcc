//! Why a connection failed or ended, and policy failures.

use std::error::Error;
use std::fmt;
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
    /// The peer sent a malformed or oversize frame.
    #[error("bad frame from the peer: {0}")]
    Decode(#[from] DecodeError),
    /// A message could not be encoded (a key or value whose `Serialize` fails).
    #[error("could not encode a message: {0}")]
    Encode(#[from] EncodeError),
    /// The peer sent a well-formed message that breaks a rule of the protocol; the core
    /// refused it and changed nothing.
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
    /// Nothing arrived from the peer for [`NodeConfig::idle_timeout`](crate::NodeConfig):
    /// the link is presumed dead (not the peer's fault; the caller may redial).
    #[error("nothing received for {0:?}: the link is presumed dead")]
    IdleTimeout(Duration),
    /// The peer closed the stream before its hello arrived.
    #[error("the peer closed the connection during the handshake")]
    ClosedDuringHandshake,
    /// The peer's hello carries this node's own id.
    #[error("the peer has this node's own id {0}")]
    SelfConnection(NodeId),
    /// The connection was closed locally (by [`ConnectionHandle::close`](crate::ConnectionHandle::close)
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

/// A policy of the node (its resolver or sorter) failed on a peer's message, so the core
/// refused the whole message and changed nothing. Reported in
/// [`NodeEvent::PolicyFailed`](crate::NodeEvent::PolicyFailed); the connection stays open.
///
/// It wraps the core's [`ReceiveError`](scuttle_core::ReceiveError); reach it, and the
/// resolver's own error inside, with [`get`](Self::get) or [`downcast_ref`](Self::downcast_ref).
#[derive(Clone)]
pub struct PolicyError(Arc<dyn Error + Send + Sync>);

impl PolicyError {
    pub(crate) fn new(error: impl Error + Send + Sync + 'static) -> Self {
        PolicyError(Arc::new(error))
    }

    /// The error, as the core returned it.
    pub fn get(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.0
    }

    /// The error as its concrete type, for example
    /// `scuttle_core::ReceiveError<MyResolverError>`.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for PolicyError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}
