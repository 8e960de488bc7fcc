//! # scuttle-core
//!
//! The sans-IO core of scuttle: the *scuttlebutt* anti-entropy gossip protocol (van Renesse
//! et al., "Efficient Reconciliation and Flow Control for Anti-Entropy Protocols", LADIS 2008)
//! as a deterministic state machine over a replicated key/value map.
//!
//! The crate does no networking, spawns nothing and reads the wall clock only through the
//! injectable [`Clock`] trait. Transports (the `scuttle-tokio` adapter, `scuttle-p2p`, the C
//! and Python bindings) move its [`Message`]s; a simulation moves them in memory.
//!
//! * [`Gossip`] is a node: `set`/`delete`/`get`, `gossip(peer)` to start an exchange,
//!   `receive(peer, msg)` for every message, then `poll_transmit` and `poll_event`.
//! * [`Resolver`]s decide which update of a key wins ([`LastWriterWins`],
//!   [`StrictlyOrderedValues`], [`LastWriterWinsClock`], or a closure). They must be a total
//!   order on updates for replicas to converge.
//! * [`Sorter`]s decide which news goes first when [`Config::mtu`] cuts an exchange
//!   ([`ScuttleBreadth`], [`ScuttleDepth`]).
//! * [`FrameCodec`] (length-prefixed CBOR) and [`JsonLinesCodec`] (the seed's JSON shapes)
//!   put messages on the wire.
//!
//! See [`Gossip`] for a two-node example and `docs/protocol.md` for the algorithm.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
pub mod codec;
mod config;
mod error;
mod event;
mod gossip;
pub mod history;
pub mod message;
pub mod resolver;
pub mod sorter;
mod types;

pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{EncodeError, FrameCodec, JsonLinesCodec};
pub use config::{Config, MIN_FRAME_SIZE};
pub use error::{ConfigError, DecodeError, ProtocolError, SetError};
pub use event::{Event, Stats};
pub use gossip::Gossip;
pub use history::History;
pub use message::{Message, Reset, PROTOCOL_VERSION};
pub use resolver::{
    DynResolver, LastWriterWins, LastWriterWinsClock, Resolver, StrictlyOrderedValues,
};
pub use sorter::{Candidate, DynSorter, ScuttleBreadth, ScuttleDepth, Sorter};
pub use types::{Entry, NodeId, Update, Version};
