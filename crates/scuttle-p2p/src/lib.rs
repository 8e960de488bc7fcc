//! # scuttle-p2p
//!
//! Scuttlebutt anti-entropy gossip on [rust-libp2p](https://docs.rs/libp2p): a
//! [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour) that replicates a key/value map
//! between the peers of a swarm, composable with other behaviours the way gossipsub, kad or
//! identify are.
//!
//! * [`Behaviour`] owns a [`scuttle_core::Gossip`] whose node id is the local
//!   [`PeerId`](libp2p::PeerId) (as a string). Every [`Config::interval`] it starts an exchange
//!   with [`Config::fanout`] random connected peers, and it answers theirs.
//! * Commands go straight to the behaviour: `swarm.behaviour_mut().set(k, v)`,
//!   [`get`](Behaviour::get), [`delete`](Behaviour::delete), [`gossip`](Behaviour::gossip);
//!   or, from other tasks while the swarm runs on its own, through a cloneable [`Handle`]
//!   ([`Behaviour::handle`]).
//! * [`Event`]s: [`UpdateApplied`](Event::UpdateApplied), [`PeerJoined`](Event::PeerJoined),
//!   [`PeerLeft`](Event::PeerLeft), [`ExchangeFailed`](Event::ExchangeFailed),
//!   [`Misbehaved`](Event::Misbehaved) (the peer was disconnected).
//! * The wire: `/scuttle/1.0.0` ([`PROTOCOL_NAME`]) on request-response, each request or
//!   response a batch of the core's length-prefixed CBOR frames ([`protocol`]).
//! * Limits: [`Config::max_frame_bytes`] per batch, the core's `mtu` updates per batch
//!   ([`Config::with_max_updates`]), [`Config::rate_limit`] requests per peer. A peer that sends
//!   an oversize or undecodable batch or breaks the protocol is disconnected and banned for
//!   [`Config::ban_duration`].
//!
//! ## Trust model
//!
//! The connection is authenticated (noise or TLS), so a batch is known to come from the peer
//! it claims. **Updates are not**: scuttlebutt relays news, so a peer legitimately forwards
//! updates whose `source_id` is another node, and the behaviour accepts them. A malicious peer
//! can therefore forge updates "from" any source. Authentication covers the link, not the
//! origin of an update; run scuttle only among peers you trust, or layer signed updates on top
//! (see `docs/p2p.md`).
//!
//! ## Example
//!
//! ```no_run
//! use libp2p::swarm::NetworkBehaviour;
//! use scuttle_p2p::{Behaviour, Config};
//!
//! // Compose with your own behaviours like any other.
//! #[derive(NetworkBehaviour)]
//! struct MyBehaviour {
//!     scuttle: Behaviour<String, String>,
//! }
//!
//! let key = libp2p::identity::Keypair::generate_ed25519();
//! let peer = key.public().to_peer_id();
//! let mut behaviour = MyBehaviour {
//!     scuttle: Behaviour::new(peer, Config::default()).unwrap(),
//! };
//! behaviour.scuttle.set("greeting".into(), "hello".into()).unwrap();
//! assert_eq!(behaviour.scuttle.value("greeting").map(String::as_str), Some("hello"));
//! ```
//!
//! See `examples/mesh.rs` for a whole mesh over TCP + noise + yamux.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod behaviour;
mod config;
mod handle;
pub mod handler;
pub mod protocol;

pub use behaviour::{Banned, Behaviour, Event, ExchangeError, NotConnected, Violation};
pub use config::{Config, ConfigError, RateLimit};
pub use handle::{Handle, HandleError};
pub use protocol::{Codec, Frame, PROTOCOL_NAME};

/// Re-export of the core, so users need one dependency.
pub use scuttle_core as core;

/// mDNS discovery (feature `mdns`): compose `mdns::tokio::Behaviour` next to [`Behaviour`] and
/// pass its `Discovered` peers to [`Behaviour::dial_peer`].
#[cfg(feature = "mdns")]
#[cfg_attr(docsrs, doc(cfg(feature = "mdns")))]
pub use libp2p::mdns;
