//! # scuttle
//!
//! Package `scuttle-gossip`, library `scuttle`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! A replicated key/value workspace over the *scuttlebutt* anti-entropy gossip protocol
//! (van Renesse et al., "Efficient Reconciliation and Flow Control for Anti-Entropy
//! Protocols", LADIS 2008).
//!
//! This facade is library-only. It re-exports the sans-IO core as [`core`] (and its main types
//! at the root); the transports come in behind features:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | (always) | [`core`] | `scuttle-core`: the `Gossip` state machine, policies, codecs |
//! | `tokio` | `tokio` | `scuttle-tokio`: a node over any async byte stream |
//! | `p2p` | `p2p` | `scuttle-p2p`: a rust-libp2p `NetworkBehaviour` (Rust 1.88) |
//!
//! The command-line tools (`scuttle demo`, `scuttle node`, `scuttle simulate`) live in the
//! `scuttle-cli` crate, the in-memory network in `scuttle-sim`.
//!
//! ```
//! use scuttle::Gossip;
//!
//! let now = 1_700_000_000_000; // ms since the Unix epoch, on the caller's clock
//! let mut a: Gossip<String, String> = Gossip::with_defaults("a");
//! let mut b: Gossip<String, String> = Gossip::with_defaults("b");
//! a.set(now, "greeting".into(), "hello".into()).unwrap();
//!
//! // One exchange: Syn, SynAck, Ack (a transport carries each message).
//! let syn = a.start_exchange();
//! let syn_ack = b.handle_message(now, syn).unwrap().expect("a Syn is always answered");
//! if let Some(ack) = a.handle_message(now, syn_ack).unwrap() {
//!     b.handle_message(now, ack).unwrap();
//! }
//! assert_eq!(b.value("greeting").map(String::as_str), Some("hello"));
//! ```
#![deny(missing_docs)]

#[doc(inline)]
pub use scuttle_core as core;
pub use scuttle_core::{
    Config, Digest, Entry, Event, FrameCodec, Gossip, Message, Millis, News, NodeId, ReceiveError,
    ResolverKind, SetError, SorterKind, Update, Version,
};

/// The tokio adapter (`scuttle-tokio`): a node over any async byte stream.
#[cfg(feature = "tokio")]
#[doc(inline)]
pub use scuttle_tokio as tokio;

/// The rust-libp2p behaviour (`scuttle-p2p`).
#[cfg(feature = "p2p")]
#[doc(inline)]
pub use scuttle_p2p as p2p;
