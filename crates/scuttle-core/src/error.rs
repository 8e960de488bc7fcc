//! Typed errors, split by who is at fault: a peer (bad input) or the caller (bad use).

use crate::types::Version;

/// A frame or message from a peer could not be decoded. The peer is at fault; nothing in the
/// local state changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame announces more bytes than the configured maximum frame size.
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The bytes are not valid CBOR or JSON for a message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message decoded but breaks the protocol (for example version 0).
    #[error("invalid message: {0}")]
    Invalid(#[from] ProtocolError),
    /// Bytes were left over after the message in a buffer that should hold exactly one.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// A well-formed message that breaks the protocol. The peer is at fault; the message was
/// ignored and nothing in the local state changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Update versions start at 1.
    #[error("update version must be at least 1")]
    ZeroVersion,
    /// `prev` must be below the update's own version.
    #[error("update version {version} is not above its prev {prev}")]
    PrevNotBelowVersion {
        /// The update's version.
        version: Version,
        /// Its `prev`.
        prev: Version,
    },
    /// A peer's digest named more sources than this node accepts.
    #[error("digest names more than {max} sources")]
    DigestTooLarge {
        /// The limit.
        max: usize,
    },
}

/// A local write was not applied; nothing changed, not even [`version`](crate::Gossip::version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetError {
    /// The resolver refused the write (for example a value that is not greater under
    /// [`StrictlyOrderedValues`](crate::StrictlyOrderedValues)).
    #[error("the resolver rejected the write")]
    Rejected,
    /// The node's version counter is exhausted.
    #[error("version counter overflow")]
    VersionOverflow,
}

/// A [`Config`](crate::Config) breaks a constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `mtu` must allow at least one update per exchange.
    #[error("mtu must be at least 1")]
    ZeroMtu,
    /// Frames must be able to hold at least a small message.
    #[error("max_frame_size must be at least {min} bytes, got {got}")]
    FrameSizeTooSmall {
        /// The minimum.
        min: usize,
        /// What was given.
        got: usize,
    },
}
