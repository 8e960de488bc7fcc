//! [`NodeError`]: why a node could not start or a command failed.

/// Why a node could not start, or a request to it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The options are wrong (a bad address, an unknown policy name, an unreadable config
    /// file): the operator's to fix.
    #[error("{0}")]
    Options(String),
    /// The core refused the configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] scuttle_core::ConfigError),
    /// The libp2p behaviour refused the configuration.
    #[error("invalid configuration: {0}")]
    P2pConfig(#[from] scuttle_p2p::ConfigError),
    /// The identity key in the data dir could not be read or written.
    #[error("identity key {path}: {reason}")]
    Identity {
        /// The key file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A socket or file operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// libp2p could not set up its transports or listeners.
    #[error("libp2p: {0}")]
    Libp2p(String),
    /// The node has stopped.
    #[error("the node has stopped")]
    Stopped,
    /// The write was refused (the resolver said no, or it could never fit one message).
    #[error("refused: {0}")]
    Refused(String),
    /// The data file in the data dir could not be opened (corrupt, another node's, in use)
    /// or written.
    #[error("store: {0}")]
    Store(String),
    /// The node started empty and is catching up with its peers; retry in a moment.
    #[error("catching up with peers; retry shortly")]
    CatchingUp,
}

impl NodeError {
    /// The error for a write the core refused.
    pub fn from_set<E: std::fmt::Display>(e: scuttle_core::SetError<E>) -> Self {
        match e {
            scuttle_core::SetError::CatchingUp => NodeError::CatchingUp,
            scuttle_core::SetError::Store(e) => NodeError::Store(e.to_string()),
            other => NodeError::Refused(other.to_string()),
        }
    }
}
