//! # scuttle
//!
//! A replicated key/value workspace over the *scuttlebutt* anti-entropy gossip protocol.
//! This facade re-exports the sans-IO core as [`core`] (and its main types at the root);
//! transports live in their own crates.
#![deny(missing_docs)]

#[doc(inline)]
pub use scuttle_core as core;
pub use scuttle_core::{Config, Entry, Event, Gossip, Message, NodeId, Update, Version};
