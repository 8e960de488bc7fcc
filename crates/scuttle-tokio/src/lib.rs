//! # scuttle-tokio
//!
//! Runs a [`scuttle_core::Gossip`] node over tokio byte streams: the Rust form of the seed's
//! `a.pipe(b).pipe(a)`. One [`Node`] holds the replicated map; every peer connection is any
//! `AsyncRead + AsyncWrite` stream (a TCP stream, a Unix socket, `tokio::io::duplex`), driven
//! by [`Node::connect`] or [`Node::spawn_connection`]. Protocol decisions stay in the core;
//! this crate only moves its messages, times its rounds and bounds its queues.
//!
//! Per connection:
//!
//! 1. **Handshake**: each side sends a [`Hello`] `{protocol_version, node_id}` first; a peer
//!    with another [`PROTOCOL_VERSION`](scuttle_core::PROTOCOL_VERSION) is refused with
//!    [`ConnectionError::VersionMismatch`].
//! 2. **Messages**, framed as length-prefixed CBOR ([`WireFormat::Cbor`]) or as JSON lines in
//!    the seed's shapes ([`WireFormat::JsonLines`]).
//! 3. **Gossip rounds** every [`NodeConfig::gossip_interval`] plus jitter, and at once when the
//!    state changes; after every message received the answers are written back.
//! 4. **Bounds**: a round is skipped while the peer's queue is long, a peer that does not read
//!    is dropped ([`ConnectionError::SlowPeer`]), frames are capped by the core's
//!    `max_frame_size`. A bad peer only ever closes its own connection.
//!
//! [`Node::events`] streams [`NodeEvent`]s: core updates and compactions, peers connected and
//! disconnected, connection errors. See `docs/tokio.md` for the rules in full.
//!
//! ```
//! use std::time::Duration;
//! use futures::StreamExt;
//! use scuttle_core::Gossip;
//! use scuttle_tokio::{Node, NodeConfig, NodeEvent};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let config = NodeConfig::default().with_gossip_interval(Duration::from_millis(50));
//! let a: Node<String, u64> = Node::new(Gossip::with_defaults("a"), config.clone());
//! let b: Node<String, u64> = Node::new(Gossip::with_defaults("b"), config);
//! let mut events = b.events();
//!
//! // Over TCP on loopback; tokio::io::duplex or a Unix socket work the same way.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let addr = listener.local_addr().unwrap();
//! let (client, server) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
//! a.spawn_connection(client.unwrap());
//! b.spawn_connection(server.unwrap().0);
//!
//! a.set("answer".into(), 42).unwrap();
//! while let Some(event) = events.next().await {
//!     if let NodeEvent::Core(scuttle_core::Event::Update { key, from, .. }) = event {
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

pub mod codec;
mod config;
mod connection;
mod error;
mod event;
mod node;

pub use codec::{Hello, WireCodec};
pub use config::{NodeConfig, WireFormat};
pub use connection::{ConnectionHandle, ConnectionStats};
pub use error::{ConnectionError, DisconnectReason};
pub use event::{ConnectionId, NodeEvent};
pub use node::{EventStream, Node};

pub use scuttle_core;
