//! # scuttle-c
//!
//! Package `scuttle-gossip-c`, library `scuttle_c`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! C bindings of scuttle, the scuttlebutt anti-entropy gossip library. The crate builds
//! `libscuttle_c.so` and `libscuttle_c.a`, which `make -C bindings/c install` installs as
//! `libscuttle` (SONAME `libscuttle.so.MAJOR`) with `scuttle.pc`; the header `include/scuttle.h` is generated from this
//! source by cbindgen (`cbindgen.toml`), and `docs/c.md` tells how to build, link and use it.
//!
//! Two levels:
//!
//! * **The networked node** (`node.rs`, `node_config.rs`, `node_types.rs`): an opaque
//!   `ScuttleNode *` from `scuttle_node_start(&config, &node)` is the node `scuttle node` runs
//!   ([`scuttle_node::EmbeddedNode`]: libp2p or TCP, on a two-thread tokio runtime inside the
//!   library). `scuttle_node_set`/`_get`/`_delete`, `scuttle_node_poll_event`,
//!   `scuttle_node_members`, `scuttle_node_stop`. Every call but `scuttle_node_stop` may come
//!   from any thread at once; stop must be the last call on a node.
//! * **The frame-level API**, below.
//!
//! The frame-level bindings wrap one sans-IO [`scuttle_core::Gossip`] node with byte-string keys and values
//! (`Gossip<Vec<u8>, Vec<u8>, DynResolver<.., CallbackError>, DynSorter>`) behind an opaque
//! `ScuttleGossip *` handle. The application moves frames between nodes itself, one frame per
//! protocol message:
//!
//! 1. `scuttle_gossip_new()` (or `scuttle_gossip_new_with_resolver()` for a C resolver, or
//!    `scuttle_gossip_open()` for a durable node kept in one file);
//! 2. `scuttle_gossip_set(now_ms, ..)`, `scuttle_gossip_delete(now_ms, ..)`,
//!    `scuttle_gossip_get()`, ... (`scuttle_now_ms()` reads the system clock; the library never
//!    reads a clock by itself);
//! 3. `scuttle_gossip_start_exchange()` gives the frame that opens an exchange with a peer;
//!    `scuttle_gossip_handle_frame(now_ms, ..)` takes each frame a peer sends and gives the reply frame
//!    to send back to it (none when the exchange is over);
//! 4. after each call, drain `scuttle_gossip_poll_event()` (what changed), and call
//!    `scuttle_gossip_handle_timeout(now_ms)` when `scuttle_gossip_poll_timeout()` says;
//! 5. `scuttle_gossip_free()`.
//!
//! Rules that hold for every call:
//!
//! * **Status codes.** Every call that can fail returns a [`ScuttleStatus`] (0 =
//!   `SCUTTLE_STATUS_OK`); `scuttle_last_error()` explains the last failure on the calling
//!   thread. NULL pointers, impossible lengths, bad ids and malformed frames are errors, never
//!   crashes.
//! * **No panic crosses the boundary.** Every entry point runs under `catch_unwind`; a panic
//!   becomes `SCUTTLE_STATUS_PANIC`. A panic in the middle of a call on a handle poisons it
//!   (later calls return `SCUTTLE_STATUS_PANIC`), except a panic inside a resolver callback:
//!   like a callback error, it makes the core refuse the whole call (decide, then commit), so
//!   nothing changed and the handle stays usable.
//! * **Ownership.** Inputs are borrowed for the duration of the call and copied. Outputs
//!   (`ScuttleBytes`, `ScuttleEntry`, `ScuttleEvent`, `ScuttleKeys *`, `ScuttleGossip *`) belong
//!   to the caller, who releases each with its own `*_free` function; every free function
//!   accepts NULL.
//! * **Threads.** A `ScuttleGossip` handle may move between threads but is used by one thread
//!   at a time; concurrent or re-entrant use is detected and refused with
//!   `SCUTTLE_STATUS_BUSY`. A `ScuttleNode` takes calls from any thread at once (all but
//!   `scuttle_node_stop`). Different handles are independent.
#![deny(missing_docs)]

mod error;
mod gossip;
#[cfg(feature = "node")]
mod node;
#[cfg(feature = "node")]
mod node_config;
#[cfg(feature = "node")]
mod node_types;
mod resolver;
mod store;
mod types;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod store_tests;

#[cfg(all(test, feature = "node"))]
mod node_tests;

pub use error::{scuttle_last_error, ScuttleStatus};
pub use gossip::{
    scuttle_gossip_delete, scuttle_gossip_free, scuttle_gossip_get, scuttle_gossip_handle_frame,
    scuttle_gossip_handle_timeout, scuttle_gossip_id, scuttle_gossip_keys, scuttle_gossip_len,
    scuttle_gossip_new, scuttle_gossip_new_with_resolver, scuttle_gossip_poll_event,
    scuttle_gossip_poll_timeout, scuttle_gossip_set, scuttle_gossip_start_exchange,
    scuttle_gossip_version, scuttle_now_ms, ScuttleGossip,
};
#[cfg(feature = "node")]
pub use node::{
    scuttle_node_api_addr, scuttle_node_delete, scuttle_node_get, scuttle_node_id,
    scuttle_node_listen_addrs, scuttle_node_members, scuttle_node_peers, scuttle_node_poll_event,
    scuttle_node_set, scuttle_node_start, scuttle_node_stop, ScuttleNode,
};
#[cfg(feature = "node")]
pub use node_config::{
    scuttle_node_config_default, ScuttleNodeConfig, ScuttleTransportKind,
    SCUTTLE_NODE_CONFIG_VERSION, SCUTTLE_TRANSPORT_DEFAULT, SCUTTLE_TRANSPORT_LIBP2P,
    SCUTTLE_TRANSPORT_TCP,
};
#[cfg(feature = "node")]
pub use node_types::{
    scuttle_members_free, scuttle_node_event_free, scuttle_strings_free, ScuttleLiveness,
    ScuttleMember, ScuttleMembers, ScuttleNodeEvent, ScuttleNodeEventKind, ScuttleStrings,
    SCUTTLE_LIVENESS_ALIVE, SCUTTLE_LIVENESS_DOWN, SCUTTLE_LIVENESS_SUSPECT,
    SCUTTLE_NODE_EVENT_CONNECTION_FAILED, SCUTTLE_NODE_EVENT_FORGOTTEN, SCUTTLE_NODE_EVENT_LAGGED,
    SCUTTLE_NODE_EVENT_OTHER, SCUTTLE_NODE_EVENT_PEER_CONNECTED,
    SCUTTLE_NODE_EVENT_PEER_DISCONNECTED, SCUTTLE_NODE_EVENT_REFUSED, SCUTTLE_NODE_EVENT_UPDATE,
};
pub use resolver::{
    ScuttleDecision, ScuttleEntryView, ScuttleResolveFn, SCUTTLE_DECISION_ACCEPT,
    SCUTTLE_DECISION_ERROR, SCUTTLE_DECISION_REFUSE,
};
pub use store::{scuttle_gossip_flush, scuttle_gossip_open, scuttle_gossip_open_with_resolver};
pub use types::{
    scuttle_bytes_free, scuttle_config_default, scuttle_entry_free, scuttle_event_free,
    scuttle_keys_free, scuttle_keys_get, scuttle_keys_len, ScuttleBytes, ScuttleConfig,
    ScuttleEntry, ScuttleEvent, ScuttleEventKind, ScuttleKeys, ScuttleResolverKind,
    ScuttleSorterKind, ScuttleVersionsKind, SCUTTLE_CONFIG_VERSION, SCUTTLE_EVENT_COMPACTION,
    SCUTTLE_EVENT_FORGOTTEN, SCUTTLE_EVENT_OTHER, SCUTTLE_EVENT_TOMBSTONES_COLLECTED,
    SCUTTLE_EVENT_UPDATE, SCUTTLE_RESOLVER_LWW, SCUTTLE_RESOLVER_LWW_CLOCK,
    SCUTTLE_RESOLVER_STRICT, SCUTTLE_SORTER_BREADTH, SCUTTLE_SORTER_DEPTH,
    SCUTTLE_VERSIONS_COUNTER, SCUTTLE_VERSIONS_HYBRID,
};

/// The wire protocol version the frames follow (`scuttle_core::PROTOCOL_VERSION`).
pub const SCUTTLE_PROTOCOL_VERSION: u32 = 2;

/// Bytes of the big-endian length prefix before each CBOR frame body.
pub const SCUTTLE_FRAME_PREFIX_LEN: usize = 4;

/// The smallest `ScuttleConfig.max_message_bytes` accepted.
pub const SCUTTLE_MIN_MESSAGE_BYTES: usize = 64;

// The constants above are the core's, checked at compile time.
const _: () = assert!(SCUTTLE_PROTOCOL_VERSION == scuttle_core::PROTOCOL_VERSION);
const _: () = assert!(SCUTTLE_FRAME_PREFIX_LEN == scuttle_core::codec::LENGTH_PREFIX);
const _: () = assert!(SCUTTLE_MIN_MESSAGE_BYTES == scuttle_core::MIN_MESSAGE_BYTES);
