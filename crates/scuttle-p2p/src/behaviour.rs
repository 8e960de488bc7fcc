//! The scuttle [`NetworkBehaviour`]: a [`Gossip`] node driven by periodic exchanges with
//! connected peers over `/scuttle/1.0.0`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::str::FromStr;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use futures_timer::Delay;
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::{ConnectionClosed, ConnectionEstablished};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{
    CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use scuttle_core::{
    DecodeError, EncodeError, Entry, Gossip, LastWriterWins, Message, NodeId, ProtocolError,
    Resolver, ScuttleBreadth, SetError, Sorter, Version,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{Config, ConfigError, RateLimit};
use crate::handle::{Command, Commands, Handle, HANDLE_QUEUE};
use crate::handler::Handler;
use crate::protocol::{decode_batch, encode_batch, Codec, Frame};

type Inner = request_response::Behaviour<Codec>;

/// What the behaviour reports to the swarm's owner.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<K, V> {
    /// An update won and is now the state of `key`: a local write (`from == None`) or news
    /// delivered by the peer `from` (which may have relayed it; `entry.source_id` names the
    /// node that wrote it).
    UpdateApplied {
        /// The key.
        key: K,
        /// Its new entry (`entry.value == None` for a delete).
        entry: Entry<V>,
        /// The peer that delivered the update, `None` for a local write.
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
    /// An exchange with a peer failed or was cut short; nothing is lost, the next round
    /// retries.
    ExchangeFailed {
        /// The peer.
        peer: PeerId,
        /// What went wrong.
        error: ExchangeError,
    },
    /// A peer broke the protocol: it was disconnected (and is refused for
    /// [`Config::ban_duration`]).
    Misbehaved {
        /// The peer.
        peer: PeerId,
        /// What it did.
        error: Violation,
    },
    /// Any other event of the core (compaction, collected tombstones, forgotten keys).
    Core(scuttle_core::Event<K, V>),
}

/// Why an exchange failed (not the peer's fault, or not provably so).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// A request to the peer failed (timeout, closed connection, stream error, ...).
    #[error("outbound request failed: {0}")]
    Outbound(#[from] request_response::OutboundFailure),
    /// A request from the peer could not be answered.
    #[error("inbound request failed: {0}")]
    Inbound(#[from] request_response::InboundFailure),
    /// The peer sent more requests than [`Config::rate_limit`] allows; the request was refused.
    #[error("the peer exceeded the request rate limit")]
    RateLimited,
    /// The peer does not speak the scuttle protocol; it is left out of rounds.
    #[error("the peer does not support the scuttle protocol")]
    Unsupported,
    /// A local batch could not be encoded (for example a digest larger than the frame).
    #[error("could not encode a batch: {0}")]
    Encode(#[from] EncodeError),
    /// Some news did not fit in [`Config::max_frame_bytes`] and was left out of a batch; it is
    /// resent next time, but a single update larger than the frame never goes through.
    #[error("{dropped} updates did not fit in the frame and were left out")]
    NewsTruncated {
        /// How many updates or resets were left out.
        dropped: usize,
    },
}

/// How a peer broke the protocol (the peer is at fault and was disconnected).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The peer sent a request or response larger than [`Config::max_frame_bytes`].
    #[error("batch larger than {max} bytes")]
    FrameTooLarge {
        /// The limit.
        max: usize,
    },
    /// The batch did not decode.
    #[error("undecodable batch: {0}")]
    Decode(#[from] DecodeError),
    /// The batch carried more updates than the core's `mtu`.
    #[error("batch carries {count} updates, more than the limit of {max}")]
    TooManyUpdates {
        /// Updates in the batch.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A digest was not closed by `DigestDone` in the batch that started it.
    #[error("digest not terminated within its batch")]
    UnterminatedDigest,
    /// A response carried a digest that is not a reply (only a request may open an exchange).
    #[error("response opens a new exchange")]
    DigestInResponse,
    /// The core refused a message.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
}

/// The peer was refused because it misbehaved recently.
#[derive(Debug, thiserror::Error)]
#[error("peer {0} is banned for misbehaving on the scuttle protocol")]
pub struct Banned(pub PeerId);

/// The peer is not connected (commands only talk to connected peers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("peer {0} is not connected")]
pub struct NotConnected(pub PeerId);

/// A token bucket for one peer's inbound requests.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(limit: RateLimit) -> Self {
        Bucket {
            tokens: f64::from(limit.requests),
            last: Instant::now(),
        }
    }

    fn take(&mut self, limit: RateLimit) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let cap = f64::from(limit.requests);
        let rate = cap / limit.per.as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(cap);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Peer {
    node: NodeId,
    connections: usize,
    /// False once a request failed with `UnsupportedProtocols`.
    speaks_scuttle: bool,
    bucket: Bucket,
    in_flight: HashSet<OutboundRequestId>,
}

/// A scuttlebutt node as a libp2p [`NetworkBehaviour`].
///
/// It owns a [`Gossip`] whose node id is the local [`PeerId`]'s string, gossips every
/// [`Config::interval`] with [`Config::fanout`] random connected peers, and answers their
/// exchanges. Compose it into a swarm like any other behaviour; reach it with
/// `swarm.behaviour_mut()` to [`set`](Self::set), [`get`](Self::get),
/// [`delete`](Self::delete) or [`gossip`](Self::gossip), and read its [`Event`]s from the
/// swarm. Peers are whatever the swarm connects to: dial bootstrap addresses with
/// `Swarm::dial` (or [`Behaviour::dial`]), or feed a discovery behaviour's finds (mDNS, Kademlia)
/// to [`Behaviour::dial`].
///
/// An exchange is three batches on two requests, each batch one request or response:
/// the initiator's digest (request) → the responder's news and reply digest (response) → the
/// initiator's news (a second request, answered with an empty response).
pub struct Behaviour<K, V, R = LastWriterWins, S = ScuttleBreadth> {
    inner: Inner,
    core: Gossip<K, V, R, S>,
    config: Config,
    local: PeerId,
    peers: HashMap<PeerId, Peer>,
    banned: HashMap<PeerId, Instant>,
    timer: Delay,
    rng: SmallRng,
    events: VecDeque<Event<K, V>>,
    actions: VecDeque<ToSwarm<Event<K, V>, THandlerInEvent<Inner>>>,
    waker: Option<Waker>,
    commands: Option<Commands<K, V>>,
}

impl<K, V> Behaviour<K, V, LastWriterWins, ScuttleBreadth>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
{
    /// A behaviour with [`LastWriterWins`] and [`ScuttleBreadth`] for the node `local`.
    pub fn new(local: PeerId, config: Config) -> Result<Self, ConfigError> {
        Self::with_resolver(local, config, LastWriterWins, ScuttleBreadth)
    }
}

impl<K, V, R, S> Behaviour<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
{
    /// A behaviour with a chosen resolver and sorter.
    pub fn with_resolver(
        local: PeerId,
        config: Config,
        resolver: R,
        sorter: S,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let core = Gossip::new(local.to_string(), config.core.clone(), resolver, sorter)?;
        Self::from_gossip(local, core, config)
    }

    /// A behaviour around an existing node, for example one restored with
    /// [`Gossip::with_state`] after a restart. Its id must be `local.to_string()`; its own
    /// configuration is kept (`config.core` is not applied to it).
    pub fn from_gossip(
        local: PeerId,
        core: Gossip<K, V, R, S>,
        config: Config,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        if core.id().as_str() != local.to_string() {
            return Err(ConfigError::IdMismatch {
                expected: local.to_string(),
                got: core.id().to_string(),
            });
        }
        let inner = Inner::with_codec(
            Codec::new(config.max_frame_bytes),
            [(config.protocol.clone(), ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(config.request_timeout)
                .with_max_concurrent_streams(config.max_concurrent_streams),
        );
        let seed = config.core.rng_seed.unwrap_or_else(|| {
            local
                .to_bytes()
                .iter()
                .fold(0u64, |h, b| h.rotate_left(8) ^ u64::from(*b))
        });
        Ok(Behaviour {
            inner,
            timer: Delay::new(config.interval),
            config,
            core,
            local,
            peers: HashMap::new(),
            banned: HashMap::new(),
            rng: SmallRng::seed_from_u64(seed),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            waker: None,
            commands: None,
        })
    }

    // ------------------------------------------------------------------ getters

    /// The local peer id (also the core's node id, as a string).
    pub fn local_peer_id(&self) -> &PeerId {
        &self.local
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The core node, for every read-only query ([`Gossip::iter`], [`Gossip::len`],
    /// [`Gossip::watermarks`], [`Gossip::stats`], ...).
    pub fn core(&self) -> &Gossip<K, V, R, S> {
        &self.core
    }

    /// The entry of `key`, tombstones included.
    pub fn get<Q>(&self, key: &Q) -> Option<&Entry<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.get(key)
    }

    /// The live value of `key` (`None` when absent or deleted).
    pub fn value<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.core.value(key)
    }

    /// The connected peers that take part in rounds.
    pub fn peers(&self) -> impl Iterator<Item = &PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.speaks_scuttle)
            .map(|(id, _)| id)
    }

    // ------------------------------------------------------------------ commands

    /// Writes `key = value` locally; peers learn it in the next rounds. Returns its version.
    pub fn set(&mut self, key: K, value: V) -> Result<Version, SetError> {
        let version = self.core.set(key, value)?;
        self.drain_core_events();
        Ok(version)
    }

    /// Deletes `key` locally (a tombstone); peers learn it in the next rounds.
    pub fn delete(&mut self, key: K) -> Result<Version, SetError> {
        let version = self.core.delete(key)?;
        self.drain_core_events();
        Ok(version)
    }

    /// Runs a gossip round now: starts an exchange with [`Config::fanout`] random connected
    /// peers (rounds also run every [`Config::interval`]).
    pub fn gossip(&mut self) {
        let now = Instant::now();
        self.banned.retain(|_, until| *until > now);
        let mut candidates: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.speaks_scuttle && p.in_flight.is_empty())
            .map(|(id, _)| *id)
            .collect();
        candidates.sort_unstable();
        let chosen: Vec<PeerId> = candidates
            .choose_multiple(&mut self.rng, self.config.fanout)
            .copied()
            .collect();
        for peer in chosen {
            self.start_exchange(peer);
        }
    }

    /// Starts an exchange with one connected peer now.
    pub fn gossip_with(&mut self, peer: &PeerId) -> Result<(), NotConnected> {
        if !self.peers.contains_key(peer) {
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

    /// Asks the swarm to dial `peer` at `address` unless it is already connected (for
    /// discovery results such as mDNS's `Discovered` list).
    pub fn dial_peer(&mut self, peer: PeerId, address: Multiaddr) {
        if peer == self.local || self.peers.contains_key(&peer) || self.is_banned(&peer) {
            return;
        }
        self.push_action(ToSwarm::Dial {
            opts: DialOpts::peer_id(peer).addresses(vec![address]).build(),
        });
    }

    /// A cloneable [`Handle`] for other tasks, once the swarm runs on its own task.
    pub fn handle(&mut self) -> Handle<K, V> {
        let (tx, _) = self
            .commands
            .get_or_insert_with(|| mpsc::channel(HANDLE_QUEUE));
        Handle::new(tx.clone())
    }

    // ------------------------------------------------------------------ internals

    fn run_command(&mut self, command: Command<K, V>) {
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

    fn push_action(&mut self, action: ToSwarm<Event<K, V>, THandlerInEvent<Inner>>) {
        self.actions.push_back(action);
        self.wake();
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn start_exchange(&mut self, peer: PeerId) {
        let Some(node) = self.peers.get(&peer).map(|p| p.node.clone()) else {
            return;
        };
        self.core.gossip(&node);
        self.drain_core_events();
        self.flush(peer, None);
        self.wake();
    }

    fn drain_core_events(&mut self) {
        while let Some(event) = self.core.poll_event() {
            let event = match event {
                scuttle_core::Event::Update { key, entry, from } => Event::UpdateApplied {
                    key,
                    entry,
                    from: from.and_then(|n| PeerId::from_str(n.as_str()).ok()),
                },
                other => Event::Core(other),
            };
            self.events.push_back(event);
        }
        if !self.events.is_empty() {
            self.wake();
        }
    }

    /// Sends what the core queued for `peer`: as the response on `channel`, or else as a new
    /// request when there is anything to send.
    fn flush(&mut self, peer: PeerId, channel: Option<ResponseChannel<Frame>>) {
        let Some(state) = self.peers.get(&peer) else {
            self.core.forget_peer(&node_id(&peer));
            return;
        };
        let node = state.node.clone();
        let mut batch = Vec::new();
        while let Some(msg) = self.core.poll_message(&node) {
            batch.push(msg);
        }
        if batch.is_empty() && channel.is_none() {
            return;
        }
        let frame = match encode_batch(&batch, self.config.max_frame_bytes) {
            Ok((frame, dropped)) => {
                if dropped > 0 {
                    self.events.push_back(Event::ExchangeFailed {
                        peer,
                        error: ExchangeError::NewsTruncated { dropped },
                    });
                }
                frame
            }
            Err(error) => {
                self.events.push_back(Event::ExchangeFailed {
                    peer,
                    error: error.into(),
                });
                // Answer anyway (empty), so the peer's request does not hang until timeout.
                Frame::empty_batch()
            }
        };
        match channel {
            Some(channel) => {
                // An error means the stream is gone; the failure is reported by
                // request-response itself.
                let _ = self.inner.send_response(channel, frame);
            }
            None => {
                let id = self.inner.send_request(&peer, frame);
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.in_flight.insert(id);
                }
            }
        }
    }

    /// Feeds a batch from `peer` to the core; `Err` means the peer broke the protocol.
    /// A `response` may not open an exchange (its digest, if any, must be a reply), or a
    /// peer could keep this node in an endless exchange.
    fn receive(&mut self, peer: &PeerId, frame: &Frame, response: bool) -> Result<(), Violation> {
        if frame.is_oversize() {
            return Err(Violation::FrameTooLarge {
                max: self.config.max_frame_bytes,
            });
        }
        let batch: Vec<Message<K, V>> = decode_batch(frame, self.config.max_frame_bytes)?;
        let max = self.core.config().mtu;
        let count = batch
            .iter()
            .filter(|m| matches!(m, Message::Update { .. }))
            .count();
        if count > max {
            return Err(Violation::TooManyUpdates { count, max });
        }
        let mut open_digest = false;
        for msg in &batch {
            match msg {
                Message::Digest { reply: false, .. } | Message::DigestDone { reply: false }
                    if response =>
                {
                    return Err(Violation::DigestInResponse);
                }
                Message::Digest { .. } => open_digest = true,
                Message::DigestDone { .. } => open_digest = false,
                _ => {}
            }
        }
        if open_digest {
            return Err(Violation::UnterminatedDigest);
        }
        let Some(node) = self.peers.get(peer).map(|p| p.node.clone()) else {
            return Ok(());
        };
        for msg in batch {
            if let Err(e) = self.core.receive(&node, msg) {
                self.core.forget_peer(&node);
                self.drain_core_events();
                return Err(e.into());
            }
        }
        self.drain_core_events();
        Ok(())
    }

    fn misbehaved(&mut self, peer: PeerId, error: Violation) {
        self.core.forget_peer(&node_id(&peer));
        if !self.config.ban_duration.is_zero() {
            self.banned
                .insert(peer, Instant::now() + self.config.ban_duration);
        }
        self.events.push_back(Event::Misbehaved { peer, error });
        self.push_action(ToSwarm::CloseConnection {
            peer_id: peer,
            connection: CloseConnection::All,
        });
    }

    fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned
            .get(peer)
            .is_some_and(|until| *until > Instant::now())
    }

    fn check_ban(&mut self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        if self.is_banned(peer) {
            return Err(ConnectionDenied::new(Banned(*peer)));
        }
        self.banned.remove(peer);
        Ok(())
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
            } => {
                let limit = self.config.rate_limit;
                let Some(state) = self.peers.get_mut(&peer) else {
                    // The connection is gone already; nobody waits for the answer.
                    return;
                };
                if !state.bucket.take(limit) {
                    // Dropping the channel refuses the request.
                    drop(channel);
                    self.events.push_back(Event::ExchangeFailed {
                        peer,
                        error: ExchangeError::RateLimited,
                    });
                    return;
                }
                match self.receive(&peer, &request, false) {
                    Ok(()) => self.flush(peer, Some(channel)),
                    Err(error) => self.misbehaved(peer, error),
                }
            }
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.in_flight.remove(&request_id);
                }
                match self.receive(&peer, &response, true) {
                    Ok(()) => self.flush(peer, None),
                    Err(error) => self.misbehaved(peer, error),
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let unsupported = matches!(
                    error,
                    request_response::OutboundFailure::UnsupportedProtocols
                );
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.in_flight.remove(&request_id);
                    if unsupported {
                        state.speaks_scuttle = false;
                    }
                }
                let error = if unsupported {
                    ExchangeError::Unsupported
                } else {
                    ExchangeError::Outbound(error)
                };
                self.events.push_back(Event::ExchangeFailed { peer, error });
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                // Refusals by the rate limit show up here as omissions; they were reported.
                if !matches!(error, request_response::InboundFailure::ResponseOmission) {
                    self.events.push_back(Event::ExchangeFailed {
                        peer,
                        error: ExchangeError::Inbound(error),
                    });
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_connection_established(&mut self, peer: PeerId) {
        let limit = self.config.rate_limit;
        let state = self.peers.entry(peer).or_insert_with(|| Peer {
            node: node_id(&peer),
            connections: 0,
            speaks_scuttle: true,
            bucket: Bucket::full(limit),
            in_flight: HashSet::new(),
        });
        state.connections += 1;
        if state.connections == 1 {
            self.events.push_back(Event::PeerJoined { peer });
            self.wake();
        }
    }

    fn on_connection_closed(&mut self, peer: PeerId, remaining: usize) {
        if remaining > 0 {
            if let Some(state) = self.peers.get_mut(&peer) {
                state.connections = remaining;
            }
            return;
        }
        if let Some(state) = self.peers.remove(&peer) {
            self.core.forget_peer(&state.node);
            self.events.push_back(Event::PeerLeft { peer });
            self.wake();
        }
    }
}

/// The core's node id of a peer: its `PeerId` as a string.
fn node_id(peer: &PeerId) -> NodeId {
    NodeId::from(peer.to_string())
}

impl<K, V, R, S> NetworkBehaviour for Behaviour<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
{
    type ConnectionHandler = Handler<THandler<Inner>>;
    type ToSwarm = Event<K, V>;

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

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Event<K, V>, THandlerInEvent<Self>>> {
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
            if self.timer.poll_unpin(cx).is_ready() {
                self.timer.reset(self.config.interval);
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

impl<K, V, R, S> std::fmt::Debug for Behaviour<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Behaviour")
            .field("local", &self.local)
            .field("core", &self.core)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn peer() -> PeerId {
        libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    #[test]
    fn bucket_allows_a_burst_then_refuses() {
        let limit = RateLimit {
            requests: 3,
            per: Duration::from_secs(3600),
        };
        let mut bucket = Bucket::full(limit);
        assert!((0..3).all(|_| bucket.take(limit)));
        assert!(!bucket.take(limit));
    }

    #[test]
    fn from_gossip_checks_the_node_id() {
        let core: Gossip<String, String> = Gossip::with_defaults("someone else");
        let err = Behaviour::from_gossip(peer(), core, Config::default()).unwrap_err();
        assert!(matches!(err, ConfigError::IdMismatch { .. }));
    }

    #[test]
    fn commands_reach_the_core_and_queue_events() {
        let local = peer();
        let mut b: Behaviour<String, String> = Behaviour::new(local, Config::default()).unwrap();
        assert_eq!(b.core().id().as_str(), local.to_string());
        assert_eq!(b.set("k".into(), "v".into()).unwrap(), 1);
        assert_eq!(b.value("k").map(String::as_str), Some("v"));
        assert!(matches!(
            b.events.pop_front(),
            Some(Event::UpdateApplied { from: None, .. })
        ));
        assert_eq!(b.delete("k".into()).unwrap(), 2);
        assert!(b.get("k").is_some_and(Entry::is_deleted));
        // No peer is connected: a round does nothing, a targeted exchange is refused.
        b.gossip();
        assert!(!b.core().has_outgoing());
        let other = peer();
        assert_eq!(b.gossip_with(&other), Err(NotConnected(other)));
    }

    #[test]
    fn invalid_config_is_refused() {
        assert!(matches!(
            Behaviour::<String, String>::new(
                peer(),
                Config::default().with_fanout(1).with_max_updates(0)
            ),
            Err(ConfigError::Core(_))
        ));
        assert!(matches!(
            Behaviour::<String, String>::new(
                peer(),
                Config::default().with_rate_limit(0, Duration::from_secs(1))
            ),
            Err(ConfigError::ZeroRateLimit)
        ));
    }
}
