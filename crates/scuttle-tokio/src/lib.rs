//! # scuttle-tokio
//!
//! Package `scuttle-gossip-tokio`, library `scuttle_tokio`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! Runs a [`scuttle_core::Gossip`] node over tokio byte streams: the Rust form of the seed's
//! `a.pipe(b).pipe(a)`. One [`Node`] holds the replicated map; every peer connection is any
//! `AsyncRead + AsyncWrite` stream (a TCP stream, a Unix socket, `tokio::io::duplex`), driven
//! by [`Node::connect`], [`Node::spawn_connection`] or [`Node::listen`]. Every protocol
//! decision is the core's; this crate carries its messages, starts its exchanges, passes it
//! the time and reports what happened.
//!
//! Per connection:
//!
//! 1. **Handshake**: each side sends a [`Hello`] `{protocol_version, node_id}` first; a peer
//!    with another [`PROTOCOL_VERSION`](scuttle_core::PROTOCOL_VERSION) is refused with
//!    [`ConnectionError::VersionMismatch`]. The peer's node id is the `from` of the events
//!    its messages cause.
//! 2. **Messages**: whole `Syn`/`SynAck`/`Ack` messages, framed as length-prefixed CBOR
//!    ([`WireFormat::Cbor`]) or as the seed's JSON lines ([`WireFormat::JsonLines`]), with the
//!    frame limit of the node's core [`Config`](scuttle_core::Config). The seed's own
//!    JavaScript code sends no hello and its own dialect: [`WireFormat::SeedJson`] (see
//!    `docs/interop.md`); [`Node::spawn_connection_with`] picks the format per connection.
//! 3. **Exchanges**: at most one in flight in each direction. On every gossip tick
//!    ([`NodeConfig::gossip_interval`] plus jitter), and soon after the node's digest changes,
//!    the connection sends `start_exchange()`, hands the peer's `SynAck` to the core and sends
//!    back its `Ack`. Every message from the peer goes to `handle_message`, and the reply goes
//!    back on the same connection.
//! 4. **Errors**: a bad frame or a protocol violation closes that connection with a typed
//!    [`ConnectionError`]; a failing resolver or sorter is reported
//!    ([`NodeEvent::PolicyFailed`]) and the connection goes on. A bad peer only ever closes its
//!    own connection.
//!
//! The node also runs one timer task: it calls the core's `handle_timeout` when
//! `poll_timeout` says (tombstone collection). [`Node::events`] streams [`NodeEvent`]s. See
//! `docs/tokio.md` for the rules in full.
//!
//! ```
//! use futures::StreamExt;
//! use scuttle_tokio::core::{Event, Gossip};
//! use scuttle_tokio::{Node, NodeConfig, NodeEvent};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let a: Node<String, u64> = Node::new(Gossip::with_defaults("a"), NodeConfig::default());
//! let b: Node<String, u64> = Node::new(Gossip::with_defaults("b"), NodeConfig::default());
//! let mut events = b.events();
//!
//! // Over TCP on loopback; tokio::io::duplex or a Unix socket work the same way.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! b.listen(listener);
//! a.spawn_connection(tokio::net::TcpStream::connect(addr).await.unwrap());
//!
//! a.set("answer".into(), 42).unwrap();
//! while let Some(event) = events.next().await {
//!     if let NodeEvent::Core { event: Event::Update { key, .. }, from } = event {
//!         assert_eq!((key.as_str(), from.as_ref().map(|p| p.as_str())), ("answer", Some("a")));
//!         break;
//!     }
//! }
//! assert_eq!(b.value("answer"), Some(42));
//! a.shutdown().await;
//! b.shutdown().await;
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bounds;
pub mod codec;
mod config;
mod connection;
mod error;
mod event;
mod node;
mod shared;

pub use bounds::{Key, NodeResolver, NodeSorter, Value};
pub use codec::{Hello, WireCodec};
pub use config::{NodeConfig, WireFormat};
pub use connection::{ConnectionHandle, ConnectionStats};
pub use error::{ConnectionError, DisconnectReason, PolicyError};
pub use event::{ConnectionId, NodeEvent};
pub use node::{EventStream, Node};

/// The core this adapter runs: [`Gossip`](scuttle_core::Gossip), its
/// [`Config`](scuttle_core::Config), [`Event`](scuttle_core::Event), the codecs.
pub use scuttle_core as core;
