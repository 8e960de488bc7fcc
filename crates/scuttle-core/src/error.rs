//! Errors, split by who is at fault: a peer ([`DecodeError`], [`ProtocolError`]), the caller
//! ([`SetError`], [`ConfigError`], [`EncodeError`]) or a user policy ([`SortError`], the
//! resolver's own error inside [`ReceiveError::Policy`] and [`SetError::Policy`]).

use std::convert::Infallible;

use crate::store::StoreError;

use crate::types::{NodeId, Version};

/// A frame from a peer could not be decoded. The peer is at fault; the transport should drop
/// the connection. Never a panic, whatever the bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame (or line) is longer than the codec's limit.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The announced or buffered length.
        len: usize,
        /// The codec's limit.
        max: usize,
    },
    /// The bytes are not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Bytes follow the message inside its frame.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// A message could not be encoded. The caller is at fault (a value whose `Serialize` fails,
/// or a frame above the codec's limit: the core never builds one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message is longer than the codec's limit.
    #[error("encoded message of {len} bytes exceeds the maximum frame size of {max} bytes")]
    FrameTooLarge {
        /// The encoded length.
        len: usize,
        /// The codec's limit.
        max: usize,
    },
    /// The key or value type failed to serialize.
    #[error("serialization failed: {0}")]
    Serialize(String),
}

/// A well-formed message breaks a rule of the protocol. The peer is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An update has version 0.
    #[error("update version must be at least 1")]
    ZeroVersion,
    /// A run's versions do not ascend from its `prev`.
    #[error("update version {version} is not above its predecessor {prev}")]
    PrevNotBelowVersion {
        /// The update's version.
        version: Version,
        /// The version before it in the run.
        prev: Version,
    },
    /// An update inside a run names another source than the run.
    #[error("an update of a run names another source than the run")]
    MixedRun,
    /// A digest names more sources than [`Config::max_digest_sources`](crate::Config).
    #[error("digest names more than {max} sources")]
    DigestTooLarge {
        /// The limit.
        max: usize,
    },
    /// A node that checks signatures got an update without one (see [`crate::signing`]).
    #[error("update {version} of source {source_id} carries no signature")]
    Unsigned {
        /// The update's source.
        source_id: NodeId,
        /// Its version.
        version: Version,
    },
    /// An update's signature does not verify with its source's key, or its source names no
    /// key: the update was forged or changed on its way, and the peer that sent it relayed it.
    #[error("update {version} of source {source_id} has a bad signature")]
    BadSignature {
        /// The update's source.
        source_id: NodeId,
        /// Its version.
        version: Version,
    },
}

/// A sorter could not order the news (for example a Python sort key raised).
#[derive(Debug, thiserror::Error)]
#[error("the sorter failed: {0}")]
pub struct SortError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl SortError {
    /// Wraps any error.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SortError(e.into())
    }
}

/// Why [`Gossip::handle_message`](crate::Gossip::handle_message) refused a message. A refused
/// message changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError<E = Infallible> {
    /// The peer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    /// The resolver failed (its own error).
    #[error("the resolver failed: {0}")]
    Policy(E),
    /// The sorter failed while building the reply.
    #[error(transparent)]
    Sort(#[from] SortError),
    /// The node's store refused to persist what the message would change.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a local write was refused. A refused write changes nothing, not even
/// [`Gossip::version`](crate::Gossip::version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetError<E = Infallible> {
    /// The resolver refused the write (for example a value not above the current one under
    /// [`StrictlyOrderedValues`](crate::StrictlyOrderedValues)).
    #[error("the resolver rejected the write")]
    Rejected,
    /// The version counter is at its maximum.
    #[error("version counter overflow")]
    VersionOverflow,
    /// The update could never fit one message of
    /// [`Config::max_message_bytes`](crate::Config::max_message_bytes).
    #[error("the write needs a message of {len} bytes, above max_message_bytes = {max}")]
    TooLarge {
        /// Bytes of the smallest message that could carry the write.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The resolver failed (its own error).
    #[error("the resolver failed: {0}")]
    Policy(E),
    /// The node started empty and has not caught up with a peer yet (see
    /// [`Config::catch_up`](crate::Config::catch_up)): a write now could reuse a version its
    /// peers hold. Retry after an exchange, or after the catch-up period.
    #[error("the node has not caught up with a peer yet; retry after an exchange")]
    CatchingUp,
    /// The node's store refused to persist the write; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The write could not be signed: its key or value does not serialize.
    #[error("the write could not be signed: its key or value does not serialize")]
    Unsignable,
}

/// Why [`Gossip::with_store`](crate::Gossip::with_store) could not open a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node already holds data, so the store's contents could not simply be loaded.
    #[error("a store can only be attached to a fresh node")]
    NotFresh,
}

/// A [`Config`](crate::Config) breaks a constraint. The caller is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `mtu` is 0: no exchange could ever carry news.
    #[error("mtu must be at least 1")]
    ZeroMtu,
    /// `max_message_bytes` is below the smallest useful message.
    #[error("max_message_bytes must be at least {min} bytes, got {got}")]
    MessageBytesTooSmall {
        /// The smallest allowed.
        min: usize,
        /// The value given.
        got: usize,
    },
    /// The signing key given to [`Gossip::with_signing`](crate::Gossip::with_signing) is not
    /// the key its [`SourceKeys`](crate::signing::SourceKeys) name for the node's own id, so
    /// every peer would refuse its writes.
    #[error("the signing key is not the key of node id {id}")]
    SigningKeyMismatch {
        /// The node's id.
        id: NodeId,
    },
}
