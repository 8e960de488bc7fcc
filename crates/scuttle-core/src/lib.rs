//! # scuttle-core
//!
//! Package `scuttle-gossip-core`, library `scuttle_core`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! The sans-IO core of scuttle: the *scuttlebutt* anti-entropy gossip protocol (van Renesse
//! et al., "Efficient Reconciliation and Flow Control for Anti-Entropy Protocols", LADIS 2008)
//! as a deterministic state machine over a replicated key/value map.
//!
//! The crate does no networking, spawns nothing, reads no clock (time is an argument) and keeps
//! no per-peer state. Transports (the `scuttle-tokio` adapter, `scuttle-p2p`, the C and Python
//! bindings) carry its [`Message`]s; `scuttle-sim` carries them in memory.
//!
//! * [`Gossip`] is a node: `set`/`delete`/`get`; [`start_exchange`](Gossip::start_exchange)
//!   gives the message that opens an exchange, [`handle_message`](Gossip::handle_message)
//!   takes a peer's message and returns the reply; then [`poll_event`](Gossip::poll_event).
//!   An exchange is three whole messages: `Syn` (digest), `SynAck` (news + digest), `Ack`
//!   (news).
//! * News fills a message under [`Config::mtu`] updates *and* [`Config::max_message_bytes`]
//!   encoded bytes, in one place; a write that could never fit is refused at `set`.
//! * [`Resolver`]s decide which update of a key wins ([`LastWriterWins`],
//!   [`StrictlyOrderedValues`], [`LastWriterWinsClock`], a closure, or a fallible
//!   [`TryResolver`]). They must be a total order on updates for replicas to converge.
//! * [`Sorter`]s decide which news goes first when a message is full ([`ScuttleBreadth`],
//!   [`ScuttleDepth`]).
//! * [`FrameCodec`] (length-prefixed compact CBOR) and [`JsonLinesCodec`] (the seed's JSON
//!   shapes) put messages on the wire.
//!
//! Why these crates: `serde` + `ciborium` give a compact, self-delimiting binary form without
//! a schema compiler; `serde_json` speaks the seed's JSON; `thiserror` types the errors;
//! `bytes` is the buffer type every Rust network stack shares.
//!
//! See [`Gossip`] for a two-node example and `docs/protocol.md` for the algorithm and the
//! bytes on the wire.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cbor_len;
pub mod codec;
mod config;
mod error;
mod event;
mod gossip;
mod history;
pub mod message;
mod news;
pub mod policy;
mod rejoin;
pub mod resolver;
pub mod signing;
pub mod sorter;
mod sources;
mod state;
pub mod store;
mod types;
pub mod wire;

pub use codec::{FrameCodec, JsonLinesCodec};
pub use config::{
    hlc, Collection, Config, Versions, HLC_COUNTER_BITS, MAX_COUNTER_VERSION, MIN_MESSAGE_BYTES,
};
pub use error::{
    ConfigError, DecodeError, EncodeError, OpenError, ProtocolError, ReceiveError, SetError,
    SortError,
};
pub use event::{Event, Stats};
pub use gossip::Gossip;
pub use message::{Digest, Message, News, Reset, Run, PROTOCOL_VERSION};
pub use policy::{ResolverKind, SorterKind, UnknownPolicy};
pub use resolver::{
    DynResolver, LastWriterWins, LastWriterWinsClock, Resolver, StrictlyOrderedValues, TryResolver,
};
pub use sorter::{Candidate, DynSorter, ScuttleBreadth, ScuttleDepth, Sorter};
pub use store::{Batch, MemoryStore, Snapshot, Store, StoreError};
pub use types::{Entry, Millis, NodeId, Update, UpdateRef, Version};

#[cfg(test)]
mod tests;
