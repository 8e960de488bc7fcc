//! The scuttle [`NetworkBehaviour`]: a [`Gossip`] node driven by periodic exchanges with
//! connected peers over `/scuttle/2.0.0`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::hash::Hash;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use futures_timer::Delay;
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::request_response::{
    self, InboundFailure, OutboundFailure, OutboundRequestId, ProtocolSupport, ResponseChannel,
};
use libp2p::swarm::behaviour::{ConnectionClosed, ConnectionEstablished};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{
    CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use scuttle_core::codec::LENGTH_PREFIX;
use scuttle_core::{
    wire, DecodeError, EncodeError, Entry, FrameCodec, Gossip, LastWriterWins, Message, Millis,
    ProtocolError, ReceiveError, Resolver, ScuttleBreadth, SetError, Sorter, Version,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{Config, ConfigError};
use crate::handle::{Command, Commands, Handle, HANDLE_QUEUE};
use crate::handler::Handler;
use crate::peers::{Peers, Sent};
use crate::protocol::{Codec, Frame, COMPRESS_ABOVE};

type Inner = request_response::Behaviour<Codec>;

/// What the behaviour asks of the swarm.
type Action<K, V, E> = ToSwarm<Event<K, V, E>, THandlerInEvent<Inner>>;

/// What the behaviour reports to the swarm's owner. `E` is the resolver's error type
/// ([`Infallible`] for the built-in resolvers).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<K, V, E = Infallible> {
    /// An event of the core, with the peer whose message caused it: for
    /// [`Update`](scuttle_core::Event::Update)s, the peer that delivered the update (it may
    /// have relayed it; `entry.source_id` names the node that wrote it). `None` for local
    /// writes and for tombstone collection.
    Core {
        /// The core's event.
        event: scuttle_core::Event<K, V>,
        /// The peer whose message caused it.
        from: Option<PeerId>,
    },
    /// A peer connected (its first connection); it takes part in rounds from now on.
    PeerJoined {
        /// The peer.
        peer: PeerId,
    },
    /// A peer's last connection closed.
    PeerLeft {
        /// The peer.
        peer: PeerId,
    },
    /// An exchange with a peer failed or was cut short. Not the peer's fault (or not provably
    /// so): nothing is lost, the next round retries, and the peer stays connected.
    ExchangeFailed {
        /// The peer.
        peer: PeerId,
        /// What went wrong.
        error: ExchangeError<E>,
    },
    /// A peer broke the protocol: it was disconnected and is refused for
    /// [`Config::ban_duration`].
    Misbehaved {
        /// The peer.
        peer: PeerId,
        /// What it did.
        error: Violation,
    },
}

/// Why an exchange failed: timeouts, closed connections, cancelled or refused requests,
/// frames above this node's size limit, local failures. None of them is held against the peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError<E = Infallible> {
    /// A request to the peer failed (timeout, closed connection, stream error, ...).
    #[error("outbound request failed: {0}")]
    Outbound(OutboundFailure),
    /// A request from the peer could not be answered (timeout, closed connection, ...).
    #[error("inbound request failed: {0}")]
    Inbound(InboundFailure),
    /// The peer sent more requests than [`Config::rate_limit`] allows; the request was refused.
    #[error("the peer exceeded the request rate limit")]
    RateLimited,
    /// The peer answered this node's `Syn` with nothing: it refused the request (its rate
    /// limit) or could not answer it.
    #[error("the peer did not answer the exchange")]
    Refused,
    /// The peer sent a frame of `len` bytes, above this node's `max_message_bytes`: it was
    /// refused unread. The peer's own `max_message_bytes` is larger; give every node of a mesh
    /// the same one.
    #[error("the peer sent a frame of {len} bytes, above max_message_bytes = {max}")]
    FrameTooLarge {
        /// The announced length.
        len: usize,
        /// This node's `max_message_bytes`.
        max: usize,
    },
    /// The peer does not speak the scuttle protocol; it is left out of rounds.
    #[error("the peer does not support the scuttle protocol")]
    Unsupported,
    /// A local message could not be encoded (a key or value whose `Serialize` fails).
    #[error("could not encode a message: {0}")]
    Encode(EncodeError),
    /// The core refused the peer's message for a reason that is not the peer's fault (the
    /// resolver or the sorter failed); nothing changed.
    #[error("the core refused the message: {0}")]
    Receive(ReceiveError<E>),
}

/// How a peer broke the protocol (it was disconnected and banned). Only these two: a frame
/// that does not decode, or a message the core refuses as a protocol violation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// A frame did not decode as a message of this protocol: malformed CBOR, bytes after the
    /// frame, or a message in a place the exchange does not allow (a request holds a `Syn` or
    /// an `Ack`, the response to a `Syn` a `SynAck`, the response to an `Ack` nothing). A
    /// frame above `max_message_bytes` is not a violation
    /// ([`ExchangeError::FrameTooLarge`]).
    #[error("undecodable message: {0}")]
    Decode(#[from] DecodeError),
    /// The core refused the message ([`ReceiveError::Protocol`]).
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
}

/// The peer was refused because it broke the protocol recently.
#[derive(Debug, thiserror::Error)]
#[error("peer {0} is banned for breaking the scuttle protocol")]
pub struct Banned(pub PeerId);

/// The peer is not connected (commands only talk to connected peers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("peer {0} is not connected")]
pub struct NotConnected(pub PeerId);

/// A scuttlebutt node as a libp2p [`NetworkBehaviour`].
///
/// It owns a [`Gossip`] whose node id is the local [`PeerId`]'s string
/// ([`Config::local_peer_id`]), gossips every [`Config::interval`] with [`Config::fanout`]
/// random connected peers, and answers their exchanges. Compose it into a swarm like any other
/// behaviour; reach it with `swarm.behaviour_mut()` to [`set`](Self::set),
/// [`delete`](Self::delete) or [`gossip`](Self::gossip), read the map through
/// [`core`](Self::core), and read its [`Event`]s from the swarm. Peers are whatever the swarm
/// connects to: dial bootstrap addresses with `Swarm::dial` (or [`Behaviour::dial`]), or feed
/// a discovery behaviour's finds (mDNS, Kademlia) to [`Behaviour::dial_peer`].
///
/// An exchange is the core's `Syn` as a request, the peer's `SynAck` as its response, then,
/// only when the core has news for the peer, an `Ack` as a second request whose response is
/// empty (see [`protocol`](crate::protocol)).
pub struct Behaviour<K, V, R = LastWriterWins, S = ScuttleBreadth>
where
    R: Resolver<K, V>,
{
    inner: Inner,
    core: Gossip<K, V, R, S>,
    codec: FrameCodec,
    /// With [`Config::compression`]: the codec of frames for `+zstd` streams.
    packer: Option<FrameCodec>,
    config: Config,
    peers: Peers,
    round: Delay,
    /// When the core next wants [`Gossip::handle_timeout`], and the timer for it.
    timeout: Option<(Millis, Delay)>,
    rng: SmallRng,
    events: VecDeque<Event<K, V, R::Error>>,
    actions: VecDeque<Action<K, V, R::Error>>,
    waker: Option<Waker>,
    commands: Option<Commands<K, V, R::Error>>,
}

impl<K, V> Behaviour<K, V, LastWriterWins, ScuttleBreadth>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
{
    /// A behaviour with [`LastWriterWins`] and [`ScuttleBreadth`].
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_policies(config, LastWriterWins, ScuttleBreadth)
    }
}

impl<K, V, R, S> Behaviour<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    R::Error: Send + 'static,
    S: Sorter<K, V> + Send + 'static,
{
    /// A behaviour with a chosen resolver and sorter (for policies chosen by name, see
    /// [`ResolverKind`](scuttle_core::ResolverKind) and
    /// [`SorterKind`](scuttle_core::SorterKind)).
    pub fn with_policies(config: Config, resolver: R, sorter: S) -> Result<Self, ConfigError> {
        config.validate()?;
        let local = config.local_peer_id;
        let core = Gossip::new(local.to_string(), config.core.clone(), resolver, sorter)?;
        Self::from_gossip(config, core)
    }

    /// A behaviour around a [`Gossip`] built by the caller (for example one whose state was
    /// loaded from a store). Its node id must be the local peer id's string and its core
    /// configuration is taken as [`Config::core`]; see [`ConfigError::ForeignGossip`].
    pub fn from_gossip(config: Config, core: Gossip<K, V, R, S>) -> Result<Self, ConfigError> {
        let config = config.with_core(core.config().clone());
        config.validate()?;
        let local = config.local_peer_id;
        if core.id().as_str() != local.to_string() {
            return Err(ConfigError::ForeignGossip {
                id: core.id().to_string(),
                peer: local,
            });
        }
        let max = config.core.max_message_bytes;
        let compressed = config.compressed_protocol();
        // With compression, `+zstd` first: peers that speak it pick it.
        let protocols = compressed
            .iter()
            .chain([&config.protocol])
            .map(|p| (p.clone(), ProtocolSupport::Full));
        let inner = Inner::with_codec(
            Codec::new(max).with_compressed_protocol(compressed.clone()),
            protocols,
            request_response::Config::default()
                .with_request_timeout(config.request_timeout)
                .with_max_concurrent_streams(config.max_concurrent_streams),
        );
        // Peer choice only needs to differ between nodes: seed from the peer id.
        let seed = local
            .to_bytes()
            .iter()
            .fold(0u64, |h, b| h.rotate_left(8) ^ u64::from(*b));
        Ok(Behaviour {
            inner,
            core,
            codec: FrameCodec::new(max),
            packer: compressed.map(|_| FrameCodec::new(max).with_compression(COMPRESS_ABOVE)),
            peers: Peers::new(config.rate_limit),
            round: Delay::new(config.interval),
            timeout: None,
            config,
            rng: SmallRng::seed_from_u64(seed),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            waker: None,
            commands: None,
        })
    }

    /// Loads a saved state, for example after a restart (see [`Gossip::with_state`]): call it
    /// right after construction. No event is reported for the loaded entries.
    pub fn with_state(self, entries: impl IntoIterator<Item = (K, Entry<V>)>) -> Self {
        let mut loaded = Behaviour {
            core: self.core.with_state(entries),
            ..self
        };
        loaded.schedule_timeout();
        loaded
    }

    // ------------------------------------------------------------------ getters

    /// The local peer id (the core's node id is its string form).
    pub fn local_peer_id(&self) -> &PeerId {
        &self.config.local_peer_id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The core node, for every read: [`Gossip::get`], [`Gossip::value`], [`Gossip::iter`],
    /// [`Gossip::len`], [`Gossip::watermarks`], [`Gossip::stats`], ...
    pub fn core(&self) -> &Gossip<K, V, R, S> {
        &self.core
    }

    /// The cluster's other live members, from a membership layer (SWIM, say): under
    /// [`Collection::Covered`](scuttle_core::Collection::Covered) a tombstone is collected
    /// only once each of them has said it holds it. See
    /// [`Gossip::set_members`](scuttle_core::Gossip::set_members).
    pub fn set_members(&mut self, members: impl IntoIterator<Item = PeerId>) {
        self.core
            .set_members(members.into_iter().map(|p| p.to_string()));
    }

    /// This node was away longer than the others kept it as a member: see
    /// [`Gossip::rejoin`](scuttle_core::Gossip::rejoin).
    pub fn rejoin(&mut self) {
        self.core.rejoin();
    }

    /// The connected peers that take part in rounds.
    pub fn peers(&self) -> impl Iterator<Item = &PeerId> {
        self.peers.gossiping()
    }

    /// Whether `peer` is refused now because it broke the protocol.
    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.peers.is_banned(peer)
    }

    // ------------------------------------------------------------------ commands

    /// Writes `key = value` locally, at the system time; peers learn it in the next rounds.
    /// Returns its version. A write that could never fit one message is refused with
    /// [`SetError::TooLarge`] and changes nothing.
    pub fn set(&mut self, key: K, value: V) -> Result<Version, SetError<R::Error>> {
        let version = self.core.set(now(), key, value)?;
        self.after_core(None);
        Ok(version)
    }

    /// Deletes `key` locally (a tombstone, at the system time); peers learn it in the next
    /// rounds.
    pub fn delete(&mut self, key: K) -> Result<Version, SetError<R::Error>> {
        let version = self.core.delete(now(), key)?;
        self.after_core(None);
        Ok(version)
    }

    /// Runs a gossip round now: starts an exchange with [`Config::fanout`] random connected
    /// peers that have none in flight (rounds also run every [`Config::interval`]).
    pub fn gossip(&mut self) {
        self.peers.prune_bans();
        for peer in self.peers.pick(self.config.fanout, &mut self.rng) {
            self.start_exchange(peer);
        }
    }

    /// Starts an exchange with one connected peer now.
    pub fn gossip_with(&mut self, peer: &PeerId) -> Result<(), NotConnected> {
        if !self.peers.contains(peer) {
            return Err(NotConnected(*peer));
        }
        self.start_exchange(*peer);
        Ok(())
    }

    /// Asks the swarm to dial `address` (a bootstrap peer, or one found by discovery).
    pub fn dial(&mut self, address: Multiaddr) {
        self.push_action(ToSwarm::Dial {
            opts: DialOpts::unknown_peer_id().address(address).build(),
        });
    }

    /// Asks the swarm to dial `peer` at `address` unless it is already connected or banned
    /// (for discovery results such as mDNS's `Discovered` list).
    pub fn dial_peer(&mut self, peer: PeerId, address: Multiaddr) {
        if peer == self.config.local_peer_id
            || self.peers.contains(&peer)
            || self.peers.is_banned(&peer)
        {
            return;
        }
        self.push_action(ToSwarm::Dial {
            opts: DialOpts::peer_id(peer).addresses(vec![address]).build(),
        });
    }

    /// A cloneable [`Handle`] for other tasks, once the swarm runs on its own task.
    pub fn handle(&mut self) -> Handle<K, V, R::Error> {
        let (tx, _) = self
            .commands
            .get_or_insert_with(|| mpsc::channel(HANDLE_QUEUE));
        Handle::new(tx.clone())
    }

    // ------------------------------------------------------------------ internals

    fn run_command(&mut self, command: Command<K, V, R::Error>) {
        // A closed reply channel only means the caller stopped waiting.
        match command {
            Command::Set(key, value, reply) => {
                let _ = reply.send(self.set(key, value));
            }
            Command::Delete(key, reply) => {
                let _ = reply.send(self.delete(key));
            }
            Command::Get(key, reply) => {
                let _ = reply.send(self.core.get(&key).cloned());
            }
            Command::Entries(reply) => {
                let entries = self
                    .core
                    .entries()
                    .map(|(k, e)| (k.clone(), e.clone()))
                    .collect();
                let _ = reply.send(entries);
            }
            Command::Gossip => self.gossip(),
        }
    }

    fn push_action(&mut self, action: Action<K, V, R::Error>) {
        self.actions.push_back(action);
        self.wake();
    }

    fn push_event(&mut self, event: Event<K, V, R::Error>) {
        self.events.push_back(event);
        self.wake();
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Reports the core's events, attributed to `from`, and re-arms the core's timer.
    fn after_core(&mut self, from: Option<PeerId>) {
        while let Some(event) = self.core.poll_event() {
            let from = match event {
                scuttle_core::Event::Update { local: true, .. } => None,
                _ => from,
            };
            self.events.push_back(Event::Core { event, from });
        }
        if !self.events.is_empty() {
            self.wake();
        }
        self.schedule_timeout();
    }

    /// Arms the timer for the core's next [`Gossip::handle_timeout`], if it changed.
    fn schedule_timeout(&mut self) {
        let next = self.core.poll_timeout();
        if self.timeout.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        self.timeout = next.map(|at| {
            let wait = Duration::from_millis(at.saturating_sub(now()));
            (at, Delay::new(wait))
        });
        self.wake();
    }

    fn start_exchange(&mut self, peer: PeerId) {
        let syn = self.core.start_exchange();
        self.send_request(peer, &syn, Sent::Syn);
    }

    fn send_request(&mut self, peer: PeerId, msg: &Message<K, V>, what: Sent) {
        if !self.peers.contains(&peer) {
            // Request-response would dial a peer that left; the next round picks live peers.
            return;
        }
        if let Some(frame) = self.encode(peer, msg) {
            let id = self.inner.send_request(&peer, frame);
            self.peers.sent(&peer, id, what);
            self.wake();
        }
    }

    fn encode(&mut self, peer: PeerId, msg: &Message<K, V>) -> Option<Frame> {
        let mut bytes = Vec::with_capacity(LENGTH_PREFIX + wire::message_len(msg));
        match self.codec.encode(msg, &mut bytes) {
            Ok(()) => Some(self.with_compressed(msg, bytes)),
            Err(e) => {
                self.push_event(Event::ExchangeFailed {
                    peer,
                    error: ExchangeError::Encode(e),
                });
                None
            }
        }
    }

    /// The frame `plain` of `msg`, plus its compressed form when compression is on and makes
    /// it smaller (the codec picks one by the stream's protocol).
    fn with_compressed(&self, msg: &Message<K, V>, plain: Vec<u8>) -> Frame {
        let Some(packer) = self.packer else {
            return Frame::Bytes(plain);
        };
        if plain.len() <= LENGTH_PREFIX + COMPRESS_ABOVE {
            return Frame::Bytes(plain);
        }
        let mut compressed = Vec::new();
        match packer.encode(msg, &mut compressed) {
            Ok(()) if compressed.len() < plain.len() => Frame::Compressible { plain, compressed },
            _ => Frame::Bytes(plain),
        }
    }

    /// The message of a frame; `None` for an empty frame.
    fn decode(&self, frame: Frame) -> Result<Option<Message<K, V>>, DecodeError> {
        match frame {
            Frame::Empty => Ok(None),
            Frame::Oversize { len } => Err(DecodeError::FrameTooLarge {
                len,
                max: self.codec.max_frame_size(),
            }),
            Frame::Bytes(bytes) | Frame::Compressible { plain: bytes, .. } => {
                self.codec.decode_frame(&bytes).map(Some)
            }
        }
    }

    /// Reports a frame that did not decode. A frame above `max_message_bytes` is refused
    /// unread but not held against the peer: that is what a peer with a larger
    /// `max_message_bytes` sends. Anything else is a violation.
    fn undecodable(&mut self, peer: PeerId, error: DecodeError) {
        match error {
            DecodeError::FrameTooLarge { len, max } => self.push_event(Event::ExchangeFailed {
                peer,
                error: ExchangeError::FrameTooLarge { len, max },
            }),
            other => self.misbehaved(peer, other.into()),
        }
    }

    /// Hands a peer's message to the core; returns the reply, or `None` when the message was
    /// refused (and reported).
    fn receive(&mut self, peer: PeerId, msg: Message<K, V>) -> Option<Option<Message<K, V>>> {
        // The sender is authenticated by the connection: its digest counts as its own word
        // on what it holds (tombstone collection under `Collection::Covered`).
        match self.core.handle_message_from(now(), &peer.to_string(), msg) {
            Ok(reply) => {
                self.after_core(Some(peer));
                Some(reply)
            }
            Err(ReceiveError::Protocol(e)) => {
                self.misbehaved(peer, e.into());
                None
            }
            Err(e) => {
                self.push_event(Event::ExchangeFailed {
                    peer,
                    error: ExchangeError::Receive(e),
                });
                None
            }
        }
    }

    fn on_request(&mut self, peer: PeerId, request: Frame, channel: ResponseChannel<Frame>) {
        if !self.peers.contains(&peer) {
            // The connection is gone already; nobody waits for the answer.
            return;
        }
        if !self.peers.admit(&peer) {
            // Dropping the channel refuses the request: the peer reads an empty response.
            drop(channel);
            self.push_event(Event::ExchangeFailed {
                peer,
                error: ExchangeError::RateLimited,
            });
            return;
        }
        let msg = match self.decode(request) {
            Ok(Some(msg @ (Message::Syn { .. } | Message::Ack { .. }))) => msg,
            Ok(Some(Message::SynAck { .. })) => {
                return self.misbehaved(peer, misplaced("a request carries a SynAck"));
            }
            // The codec turns an empty request into a stream error; nothing to answer.
            Ok(None) => return,
            Err(e) => return self.undecodable(peer, e),
        };
        let Some(reply) = self.receive(peer, msg) else {
            return;
        };
        let frame = match reply {
            Some(reply) => match self.encode(peer, &reply) {
                Some(frame) => frame,
                None => return,
            },
            // The answer to an `Ack`: request-response's completion, zero bytes.
            None => Frame::Empty,
        };
        // An error means the stream is gone; request-response reports the failure itself.
        let _ = self.inner.send_response(channel, frame);
    }

    fn on_response(&mut self, peer: PeerId, request_id: OutboundRequestId, response: Frame) {
        let Some(sent) = self.peers.finished(&peer, request_id) else {
            // The peer left meanwhile.
            return;
        };
        let msg = match self.decode(response) {
            Ok(msg) => msg,
            Err(e) => return self.undecodable(peer, e),
        };
        match (sent, msg) {
            (Sent::Syn, Some(msg @ Message::SynAck { .. })) => {
                if let Some(Some(ack)) = self.receive(peer, msg) {
                    self.send_request(peer, &ack, Sent::Ack);
                }
            }
            (Sent::Syn, None) => self.push_event(Event::ExchangeFailed {
                peer,
                error: ExchangeError::Refused,
            }),
            (Sent::Syn, Some(_)) => {
                self.misbehaved(peer, misplaced("the response to a Syn is not a SynAck"))
            }
            (Sent::Ack, None) => {}
            (Sent::Ack, Some(_)) => {
                self.misbehaved(peer, misplaced("the response to an Ack carries a message"))
            }
        }
    }

    fn misbehaved(&mut self, peer: PeerId, error: Violation) {
        self.peers.ban(peer, self.config.ban_duration);
        self.push_event(Event::Misbehaved { peer, error });
        self.push_action(ToSwarm::CloseConnection {
            peer_id: peer,
            connection: CloseConnection::All,
        });
    }

    fn check_ban(&self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        if self.peers.is_banned(peer) {
            return Err(ConnectionDenied::new(Banned(*peer)));
        }
        Ok(())
    }

    fn on_connection_established(&mut self, peer: PeerId) {
        if self.peers.connected(peer) {
            self.push_event(Event::PeerJoined { peer });
        }
    }

    fn on_connection_closed(&mut self, peer: PeerId, remaining: usize) {
        if self.peers.disconnected(&peer, remaining) {
            self.push_event(Event::PeerLeft { peer });
        }
    }

    fn on_request_response(&mut self, event: request_response::Event<Frame, Frame>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_request(peer, request, channel),
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.on_response(peer, request_id, response),
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.peers.finished(&peer, request_id);
                let error = match error {
                    OutboundFailure::UnsupportedProtocols => {
                        self.peers.unsupported(&peer);
                        ExchangeError::Unsupported
                    }
                    other => ExchangeError::Outbound(other),
                };
                self.push_event(Event::ExchangeFailed { peer, error });
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                // Refusals (rate limit, undecodable requests) show up here as omissions; they
                // were reported already.
                if !matches!(error, InboundFailure::ResponseOmission) {
                    self.push_event(Event::ExchangeFailed {
                        peer,
                        error: ExchangeError::Inbound(error),
                    });
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// A message in a place the exchange does not allow: it does not decode as this protocol.
fn misplaced(what: &str) -> Violation {
    Violation::Decode(DecodeError::Malformed(format!(
        "{what} (a request holds a Syn or an Ack, the response to a Syn a SynAck, the response to an Ack nothing)"
    )))
}

/// The system time in milliseconds since the Unix epoch: the `now` given to the core.
fn now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<K, V, R, S> NetworkBehaviour for Behaviour<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    R::Error: Send + 'static,
    S: Sorter<K, V> + Send + 'static,
{
    type ConnectionHandler = Handler<THandler<Inner>>;
    type ToSwarm = Event<K, V, R::Error>;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check_ban(&peer)?;
        let inner = self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )?;
        Ok(Handler::new(inner, self.config.keep_alive))
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = maybe_peer {
            self.check_ban(&peer)?;
        }
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check_ban(&peer)?;
        let inner = self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )?;
        Ok(Handler::new(inner, self.config.keep_alive))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match &event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished { peer_id, .. }) => {
                self.on_connection_established(*peer_id)
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                remaining_established,
                ..
            }) => self.on_connection_closed(*peer_id, *remaining_established),
            _ => {}
        }
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(peer_id, connection_id, event)
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return Poll::Ready(action);
            }
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(ToSwarm::GenerateEvent(event));
            }
            if let Some((_, rx)) = self.commands.as_mut() {
                if let Poll::Ready(Some(command)) = rx.poll_next_unpin(cx) {
                    self.run_command(command);
                    continue;
                }
            }
            if let Some((_, timer)) = self.timeout.as_mut() {
                if timer.poll_unpin(cx).is_ready() {
                    self.timeout = None;
                    if self.core.handle_timeout(now()).is_err() {
                        // The store refused: nothing was collected. Retry in a second
                        // instead of at once.
                        let retry = now().saturating_add(1_000);
                        self.timeout = Some((retry, Delay::new(Duration::from_secs(1))));
                        continue;
                    }
                    self.after_core(None);
                    continue;
                }
            }
            if self.round.poll_unpin(cx).is_ready() {
                self.round.reset(self.config.interval);
                self.gossip();
                continue;
            }
            match self.inner.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(event)) => self.on_request_response(event),
                Poll::Ready(other) => {
                    return Poll::Ready(other.map_out(|_| unreachable!("matched above")))
                }
                Poll::Pending => {
                    self.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<K, V, R, S> std::fmt::Debug for Behaviour<K, V, R, S>
where
    R: Resolver<K, V>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour")
            .field("local", &self.config.local_peer_id)
            .field("core", &self.core)
            .field("peers", &self.peers)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::future::poll_fn;

    use scuttle_core::{Digest, NodeId};

    use super::*;

    type Node = Behaviour<String, String>;

    fn peer() -> PeerId {
        libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    fn config() -> Config {
        Config::new(peer())
    }

    fn frame(msg: &Message<String, String>) -> Frame {
        let mut bytes = Vec::new();
        FrameCodec::default().encode(msg, &mut bytes).unwrap();
        Frame::Bytes(bytes)
    }

    /// `b` starts an exchange with a (fake) connected peer; returns the peer and the request.
    fn exchange(b: &mut Node) -> (PeerId, OutboundRequestId) {
        let other = peer();
        b.peers.connected(other);
        b.gossip_with(&other).unwrap();
        let in_flight = b.peers.in_flight(&other);
        assert_eq!(in_flight.len(), 1);
        assert_eq!(in_flight[0].1, Sent::Syn);
        (other, in_flight[0].0)
    }

    fn respond(b: &mut Node, peer: PeerId, request_id: OutboundRequestId, response: Frame) {
        b.on_request_response(request_response::Event::Message {
            peer,
            connection_id: ConnectionId::new_unchecked(0),
            message: request_response::Message::Response {
                request_id,
                response,
            },
        });
    }

    #[test]
    fn from_gossip_takes_a_core_of_the_local_peer_only() {
        let config = config();
        let local = config.local_peer_id;
        let mut core: Gossip<String, String> = Gossip::new(
            local.to_string(),
            scuttle_core::Config::default().with_mtu(7),
            LastWriterWins,
            ScuttleBreadth,
        )
        .unwrap();
        core.set(1, "k".into(), "v".into()).unwrap();
        let b = Node::from_gossip(config.clone(), core).unwrap();
        assert_eq!(b.core().value("k").map(String::as_str), Some("v"));
        assert_eq!(
            b.config().core.mtu,
            7,
            "the core's config is the behaviour's"
        );
        let stranger: Gossip<String, String> = Gossip::with_defaults("someone-else");
        assert!(matches!(
            Node::from_gossip(config, stranger),
            Err(ConfigError::ForeignGossip { .. })
        ));
    }

    fn drain(b: &mut Node) -> Vec<Event<String, String>> {
        b.events.drain(..).collect()
    }

    fn misbehaved(events: &[Event<String, String>]) -> Vec<&Violation> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Misbehaved { error, .. } => Some(error),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn commands_reach_the_core_and_report_local_events() {
        let config = config();
        let local = config.local_peer_id;
        let mut b: Node = Behaviour::new(config).unwrap();
        assert_eq!(b.core().id().as_str(), local.to_string());
        assert_eq!(b.set("k".into(), "v".into()).unwrap(), 1);
        assert_eq!(b.core().value("k").map(String::as_str), Some("v"));
        assert!(matches!(
            b.events.pop_front(),
            Some(Event::Core {
                event: scuttle_core::Event::Update { local: true, .. },
                from: None
            })
        ));
        assert_eq!(b.delete("k".into()).unwrap(), 2);
        assert!(b.core().get("k").is_some_and(Entry::is_deleted));
        // No peer is connected: a round sends nothing, a targeted exchange is refused.
        b.gossip();
        assert!(b.actions.is_empty());
        let other = peer();
        assert_eq!(b.gossip_with(&other), Err(NotConnected(other)));
    }

    #[test]
    fn an_oversize_write_is_refused_with_the_typed_error() {
        let core = scuttle_core::Config::default().with_max_message_bytes(256);
        let mut b: Node = Behaviour::new(config().with_core(core)).unwrap();
        let err = b.set("big".into(), "x".repeat(1000)).unwrap_err();
        assert!(
            matches!(err, SetError::TooLarge { max: 256, .. }),
            "{err:?}"
        );
        assert_eq!(b.core().version(), 0, "a refused write changes nothing");
        assert!(b.events.is_empty());
        assert_eq!(b.set("small".into(), "y".into()).unwrap(), 1);
    }

    #[test]
    fn invalid_config_is_refused() {
        let zero_mtu = scuttle_core::Config::default().with_mtu(0);
        assert!(matches!(
            Node::new(config().with_core(zero_mtu)),
            Err(ConfigError::Core(_))
        ));
        assert!(matches!(
            Node::new(config().with_rate_limit(0, Duration::from_secs(1))),
            Err(ConfigError::ZeroRateLimit)
        ));
        assert!(matches!(
            Node::new(config().with_interval(Duration::ZERO)),
            Err(ConfigError::ZeroInterval)
        ));
        assert!(matches!(
            Node::new(config().with_max_concurrent_streams(0)),
            Err(ConfigError::ZeroConcurrentStreams)
        ));
    }

    #[test]
    fn with_state_restores_a_node() {
        let mut a: Node = Behaviour::new(config()).unwrap();
        a.set("k".into(), "v".into()).unwrap();
        let saved: Vec<_> = a
            .core()
            .entries()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        let b: Node = Behaviour::new(config()).unwrap().with_state(saved);
        assert_eq!(b.core().value("k").map(String::as_str), Some("v"));
        assert_eq!(b.core().version(), 1);
        assert!(b.events.is_empty());
    }

    /// A peer with a larger mtu sends more updates than this node's mtu in one SynAck: they
    /// are applied, attributed to the peer, and the peer is not held to this node's mtu.
    #[test]
    fn a_peer_with_a_larger_mtu_is_not_banned() {
        let core = scuttle_core::Config::default().with_mtu(2);
        let mut b: Node = Behaviour::new(config().with_core(core)).unwrap();
        b.set("mine".into(), "b".into()).unwrap();
        drain(&mut b);
        let (other, request) = exchange(&mut b);

        let mut big: Gossip<String, String> = Gossip::new(
            other.to_string(),
            scuttle_core::Config::default().with_mtu(50),
            LastWriterWins,
            ScuttleBreadth,
        )
        .unwrap();
        for i in 0..30 {
            big.set(now(), format!("k{i}"), format!("v{i}")).unwrap();
        }
        let syn_ack = big
            .handle_message(now(), b.core().start_exchange())
            .unwrap()
            .unwrap();
        assert!(syn_ack.news().unwrap().len() > 2);
        respond(&mut b, other, request, frame(&syn_ack));

        let events = drain(&mut b);
        assert!(misbehaved(&events).is_empty(), "{events:?}");
        assert!(!b.is_banned(&other));
        assert!(b.actions.is_empty());
        assert_eq!(b.core().len(), 31);
        let from_peer = events
            .iter()
            .filter(|e| {
                matches!(e, Event::Core { event: scuttle_core::Event::Update { local: false, .. }, from: Some(p) } if *p == other)
            })
            .count();
        assert_eq!(from_peer, 30);
        // b has news for the peer: the Ack goes out as a second request.
        let in_flight = b.peers.in_flight(&other);
        assert_eq!(in_flight.len(), 1);
        assert_eq!(in_flight[0].1, Sent::Ack);
        // Its empty response completes the exchange.
        respond(&mut b, other, in_flight[0].0, Frame::Empty);
        assert!(drain(&mut b).is_empty());
        assert!(b.peers.in_flight(&other).is_empty());
    }

    /// Failures that are not the peer's fault are reported and nothing more.
    #[test]
    fn refusals_and_failed_requests_are_not_held_against_the_peer() {
        let mut b: Node = Behaviour::new(config()).unwrap();
        let (other, request) = exchange(&mut b);
        respond(&mut b, other, request, Frame::Empty);
        let events = drain(&mut b);
        assert!(matches!(
            events[..],
            [Event::ExchangeFailed {
                error: ExchangeError::Refused,
                ..
            }]
        ));

        // What a peer with a larger max_message_bytes sends: refused unread, not banned.
        b.gossip_with(&other).unwrap();
        let (request, _) = b.peers.in_flight(&other)[0];
        respond(&mut b, other, request, Frame::Oversize { len: 1 << 30 });
        let events = drain(&mut b);
        assert!(
            matches!(
                events[..],
                [Event::ExchangeFailed {
                    error: ExchangeError::FrameTooLarge {
                        len: 0x4000_0000,
                        max: 0x10_0000
                    },
                    ..
                }]
            ),
            "{events:?}"
        );

        for error in [
            OutboundFailure::Timeout,
            OutboundFailure::ConnectionClosed,
            OutboundFailure::DialFailure,
            OutboundFailure::Io(std::io::Error::other("reset")),
        ] {
            b.gossip_with(&other).unwrap();
            let (request_id, _) = b.peers.in_flight(&other)[0];
            b.on_request_response(request_response::Event::OutboundFailure {
                peer: other,
                connection_id: ConnectionId::new_unchecked(0),
                request_id,
                error,
            });
            assert!(b.peers.in_flight(&other).is_empty());
        }
        let events = drain(&mut b);
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| matches!(
            e,
            Event::ExchangeFailed {
                error: ExchangeError::Outbound(_),
                ..
            }
        )));
        assert!(!b.is_banned(&other));
        assert!(b.actions.is_empty());
        assert_eq!(b.peers().count(), 1);
    }

    #[test]
    fn undecodable_and_misplaced_responses_are_violations() {
        let syn: Message<String, String> = Message::Syn {
            digest: Digest::Hash(0),
        };
        let ack: Message<String, String> = Message::Ack {
            news: Default::default(),
        };
        let cases: Vec<(Frame, bool)> = vec![
            (Frame::Bytes(b"\x00\x00\x00\x07garbage".to_vec()), false),
            (Frame::Bytes(b"\x00\x00\x00\x01\x00\x00".to_vec()), false),
            (frame(&syn), false),
            (frame(&ack), false),
            (frame(&syn), true),
        ];
        for (response, after_ack) in cases {
            let mut b: Node = Behaviour::new(config()).unwrap();
            let (other, mut request) = exchange(&mut b);
            if after_ack {
                // Complete the Syn with a SynAck that makes b send an Ack.
                b.set("k".into(), "v".into()).unwrap();
                let responder: Gossip<String, String> = Gossip::with_defaults(other.to_string());
                let mut responder = responder;
                let syn_ack = responder
                    .handle_message(now(), b.core().start_exchange())
                    .unwrap()
                    .unwrap();
                respond(&mut b, other, request, frame(&syn_ack));
                request = b.peers.in_flight(&other)[0].0;
            }
            drain(&mut b);
            respond(&mut b, other, request, response.clone());
            let events = drain(&mut b);
            let violations = misbehaved(&events);
            assert!(
                matches!(violations[..], [Violation::Decode(_)]),
                "{response:?}: {events:?}"
            );
            assert!(b.is_banned(&other));
            assert!(matches!(
                b.actions.pop_front(),
                Some(ToSwarm::CloseConnection { peer_id, .. }) if peer_id == other
            ));
        }
    }

    #[test]
    fn a_protocol_error_from_the_core_is_a_violation() {
        let core = scuttle_core::Config::default().with_max_digest_sources(1);
        let mut b: Node = Behaviour::new(config().with_core(core)).unwrap();
        let (other, request) = exchange(&mut b);
        let syn_ack: Message<String, String> = Message::SynAck {
            news: Default::default(),
            digest: Digest::Full(vec![(NodeId::from("x"), 1), (NodeId::from("y"), 1)]),
        };
        respond(&mut b, other, request, frame(&syn_ack));
        let events = drain(&mut b);
        assert!(
            matches!(
                misbehaved(&events)[..],
                [Violation::Protocol(ProtocolError::DigestTooLarge {
                    max: 1
                })]
            ),
            "{events:?}"
        );
        assert!(b.is_banned(&other));
    }

    #[test]
    fn a_zero_ban_duration_disconnects_without_banning() {
        let mut b: Node = Behaviour::new(config().with_ban_duration(Duration::ZERO)).unwrap();
        let (other, request) = exchange(&mut b);
        respond(&mut b, other, request, Frame::Bytes(vec![0, 0, 0, 1, 0xff]));
        assert_eq!(misbehaved(&drain(&mut b)).len(), 1);
        assert!(!b.is_banned(&other));
        assert!(matches!(
            b.actions.pop_front(),
            Some(ToSwarm::CloseConnection { .. })
        ));
    }

    /// The core's `poll_timeout` arms a timer; when it fires the behaviour calls
    /// `handle_timeout` with the system time and reports what the core did.
    #[tokio::test]
    async fn tombstones_are_collected_when_the_core_asks() {
        let core = scuttle_core::Config::default().with_tombstone_grace(Some(Duration::ZERO));
        let mut b: Node = Behaviour::new(config().with_core(core)).unwrap();
        b.set("k".into(), "v".into()).unwrap();
        b.delete("k".into()).unwrap();
        assert!(b.timeout.is_some());
        let collected = poll_fn(|cx| loop {
            match b.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(Event::Core {
                    event: scuttle_core::Event::TombstonesCollected { count },
                    from,
                })) => return Poll::Ready((count, from)),
                Poll::Ready(_) => continue,
                Poll::Pending => return Poll::Pending,
            }
        });
        let (count, from) = tokio::time::timeout(Duration::from_secs(60), collected)
            .await
            .expect("the tombstone timer fired");
        assert_eq!((count, from), (1, None));
        assert!(b.core().get("k").is_none());
        assert!(b.timeout.is_none());
    }
}
