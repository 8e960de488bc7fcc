//! # scuttle-p2p
//!
//! Package `scuttle-gossip-p2p`, library `scuttle_p2p`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! Scuttlebutt anti-entropy gossip on [rust-libp2p](https://docs.rs/libp2p): a
//! [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour) that replicates a key/value map
//! between the peers of a swarm, composable with other behaviours the way gossipsub, kad or
//! identify are.
//!
//! * [`Behaviour`] owns a [`scuttle_core::Gossip`] whose node id is the local
//!   [`PeerId`](libp2p::PeerId) (as a string). Every [`Config::interval`] it starts an exchange
//!   with [`Config::fanout`] random connected peers, and it answers theirs. It keeps no
//!   protocol rule of its own: the core decides what a message holds and whether it is valid.
//! * Build it with [`Behaviour::new`]`(`[`Config::new`]`(local_peer_id).with_*(..))`, or
//!   [`Behaviour::with_policies`] for another resolver or sorter; restore a saved state with
//!   [`Behaviour::with_state`].
//! * Commands go straight to the behaviour: `swarm.behaviour_mut().set(k, v)`,
//!   [`delete`](Behaviour::delete), [`gossip`](Behaviour::gossip); reads through
//!   [`core`](Behaviour::core). From other tasks, while the swarm runs on its own, use a
//!   cloneable [`Handle`] ([`Behaviour::handle`]). The behaviour passes the system time as the
//!   core's `now` and calls the core's `handle_timeout` when its `poll_timeout` says.
//! * [`Event`]s: [`Core`](Event::Core) (the core's event and the peer whose message caused
//!   it), [`PeerJoined`](Event::PeerJoined), [`PeerLeft`](Event::PeerLeft),
//!   [`ExchangeFailed`](Event::ExchangeFailed) (never held against the peer) and
//!   [`Misbehaved`](Event::Misbehaved) (the peer was disconnected and banned).
//! * The wire: `/scuttle/2.0.0` ([`PROTOCOL_NAME`]) on request-response. One whole core
//!   message per request or response, one [`FrameCodec`](scuttle_core::FrameCodec) frame: the
//!   `Syn` is a request and the `SynAck` its response; the `Ack`, sent only when the core
//!   returns one, is a second request whose response is empty ([`protocol`]).
//! * One size knob: the core's [`max_message_bytes`](scuttle_core::Config::max_message_bytes),
//!   which bounds every message the core builds and every frame the codec reads. A write that
//!   could never fit is refused by `set` ([`SetError::TooLarge`](scuttle_core::SetError)).
//! * Bans only for real protocol violations ([`Violation`]): a frame that does not decode, or a
//!   message the core refuses as a protocol error. Never for a timeout, a cancelled or failed
//!   request, a dropped connection, or a peer with another `mtu`.
//!
//! ## Trust model
//!
//! The connection is authenticated (noise or TLS), so a message is known to come from the
//! peer it claims. **Updates are not**: scuttlebutt relays news, so a peer legitimately
//! forwards updates whose `source_id` is another node, and the behaviour accepts them. A
//! malicious peer can forge updates "from" any source unless the core checks signatures:
//! give it [`signing::from_keypair`] (a source's key is read from its `PeerId`, so no key
//! set-up is needed) and every update is signed by its source, forwarded with its signature,
//! and refused — with a ban of the peer that sent it — if the signature does not verify.
//! `scuttle node` does this on libp2p.
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
//! let config = Config::new(key.public().to_peer_id());
//! let mut behaviour = MyBehaviour {
//!     scuttle: Behaviour::new(config).unwrap(),
//! };
//! behaviour.scuttle.set("greeting".into(), "hello".into()).unwrap();
//! assert_eq!(
//!     behaviour.scuttle.core().value("greeting").map(String::as_str),
//!     Some("hello")
//! );
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
mod peers;
pub mod protocol;
pub mod signing;

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
