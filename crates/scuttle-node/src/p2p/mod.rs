//! The libp2p node: a swarm ([`behaviour`]) and SWIM membership ([`swim`]) driven by one task.
//!
//! The task owns the swarm and the foca instance. It serves the [`NodeHandle`]'s commands,
//! feeds foca the datagrams and timers it asked for, dials live members it is not connected
//! to, closes the connections of members declared down, and refuses peers of another cluster.

pub mod away;
// The derive's generated event enum has undocumented variants.
#[allow(missing_docs)]
pub mod behaviour;
pub mod swim;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foca::{AccumulatingRuntime, Foca, NoCustomBroadcast, OwnedNotification, PostcardCodec, Timer};
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{identify, mdns, request_response, Multiaddr, PeerId, Swarm};
use prometheus_client::registry::Registry;
use rand_foca::SeedableRng;
use tokio::sync::{broadcast, mpsc, oneshot};

use self::away::Away;
use self::behaviour::{cluster_of, cluster_tag, NodeBehaviour, NodeBehaviourEvent};
use self::swim::{MemberId, MAX_DATAGRAM};
use crate::error::NodeError;
use crate::gossip::build_gossip;
use crate::handle::{sorted_state, Command, NodeHandle, COMMAND_QUEUE};
use crate::metrics::Metrics;
use crate::options::NodeOptions;
use crate::view::{EntryView, Liveness, MemberCounts, MemberView, Notice, Status};
use crate::{identity, now_ms, Started};

type Swim = Foca<MemberId, PostcardCodec, rand_foca::rngs::StdRng, NoCustomBroadcast>;

/// How long start-up waits for the listeners to report their addresses.
const LISTEN_WAIT: Duration = Duration::from_secs(2);

/// Starts a libp2p node as `options` say.
pub(crate) async fn start(
    options: NodeOptions,
    notices: broadcast::Sender<Notice>,
) -> Result<Started, NodeError> {
    let key = identity::load_or_create(options.data_dir.as_deref())?;
    let local = key.public().to_peer_id();
    // Every write signed with the identity key; a source's key is read from its peer id.
    let signing = scuttle_p2p::signing::from_keypair(&key)
        .ok_or_else(|| NodeError::Libp2p("the identity key is not ed25519".into()))?;
    let mut core = build_gossip(&options, &local.to_string(), Some(signing))?;
    // Back after longer than the others keep a member that went down: they may have
    // collected deletes of values this node still holds.
    if let Some(dir) = options.data_dir.as_deref() {
        if !core.is_empty() && away::away_too_long(dir, options.member_grace(), now_ms()) {
            tracing::warn!(
                "away longer than the member grace ({} s): rejoining (one full catch-up)",
                options.member_grace_secs
            );
            core.rejoin();
        }
    }
    let mut registry = Registry::default();
    let mut swarm = behaviour::build_swarm(key, &options, core, &mut registry)?;
    let metrics = Arc::new(Metrics::with_registry(registry));

    let wanted = options.listen_multiaddrs()?;
    for addr in &wanted {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NodeError::Libp2p(format!("cannot listen on {addr}: {e}")))?;
    }
    let listen = wait_for_listeners(&mut swarm, wanted.len()).await?;
    let advertised = advertised(&listen);
    for addr in &listen {
        tracing::info!(%addr, peer = %local, "listening");
    }

    let me = MemberId::new(local, &advertised, now_ms());
    let seed = now_ms()
        ^ local
            .to_bytes()
            .iter()
            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b));
    let foca = Foca::new(
        me,
        swim_config(&options),
        rand_foca::rngs::StdRng::seed_from_u64(seed),
        PostcardCodec,
    );
    let bootstrap = options.bootstrap_multiaddrs()?;
    let (tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let (stop, stopped) = oneshot::channel();
    let (timers_tx, timers) = mpsc::unbounded_channel();
    let mut node = P2pNode {
        swarm,
        foca,
        runtime: AccumulatingRuntime::new(),
        timers_tx,
        states: HashMap::new(),
        members: Vec::new(),
        foreign: HashSet::new(),
        bootstrap,
        last_bootstrap: None,
        metrics: Arc::clone(&metrics),
        away: Away::new(
            options.member_grace(),
            options.data_dir.as_deref(),
            Instant::now(),
        ),
        options,
        local,
        listen: listen.iter().map(ToString::to_string).collect(),
        started: Instant::now(),
        notices,
        leaving: false,
    };
    node.dial_bootstrap();
    let id = local.to_string();
    let listen_text = node.listen.clone();
    let task = tokio::spawn(node.run(commands, timers, stopped));
    Ok(Started {
        handle: NodeHandle::new(tx),
        id,
        listen: listen_text,
        metrics,
        stop,
        task,
    })
}

/// foca's settings from the gossip interval: one probe per interval (half of it to answer
/// before indirect probes go out), suspicion for six intervals (at least 3 s, so that a
/// lossy link's retransmissions rarely turn a live member "down"), periodic gossip every half
/// interval, and announces to down members every interval (so partitions heal).
fn swim_config(options: &NodeOptions) -> foca::Config {
    use std::num::{NonZeroU32, NonZeroUsize};
    let period = options.interval().max(Duration::from_millis(100));
    let mut config = foca::Config::new_lan(NonZeroU32::new(32).unwrap_or(NonZeroU32::MIN));
    config.probe_period = period;
    config.probe_rtt = period / 2;
    config.suspect_to_down_after = (period * 6).max(Duration::from_secs(3));
    config.max_packet_size = NonZeroUsize::new(MAX_DATAGRAM).unwrap_or(NonZeroUsize::MIN);
    let every = |frequency, n| {
        Some(foca::PeriodicParams {
            frequency,
            num_members: NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN),
        })
    };
    config.periodic_gossip = every(period / 2, 3);
    config.periodic_announce = every(period * 10, 1);
    config.periodic_announce_to_down_members = every(period, 2);
    config
}

/// Waits until each of `n` listeners reported an address (or [`LISTEN_WAIT`] passed).
async fn wait_for_listeners(
    swarm: &mut Swarm<NodeBehaviour>,
    n: usize,
) -> Result<Vec<Multiaddr>, NodeError> {
    let mut addrs = Vec::new();
    let mut listeners = HashSet::new();
    let deadline = tokio::time::Instant::now() + LISTEN_WAIT;
    while listeners.len() < n {
        let event = tokio::select! {
            e = swarm.select_next_some() => e,
            () = tokio::time::sleep_until(deadline) => break,
        };
        match event {
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                listeners.insert(listener_id);
                addrs.push(address);
            }
            SwarmEvent::ListenerError { error, .. } => {
                return Err(NodeError::Libp2p(format!("listener failed: {error}")))
            }
            SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => return Err(NodeError::Libp2p(format!("listener closed: {error}"))),
            _ => {}
        }
    }
    if addrs.is_empty() {
        return Err(NodeError::Libp2p("no listener came up".into()));
    }
    Ok(addrs)
}

/// The addresses to tell members: the listen addresses, without loopback ones when there
/// are others (a peer on another host cannot reach this node's 127.0.0.1).
fn advertised(listen: &[Multiaddr]) -> Vec<Multiaddr> {
    let loopback = |a: &Multiaddr| {
        a.iter().any(|p| match p {
            Protocol::Ip4(ip) => ip.is_loopback(),
            Protocol::Ip6(ip) => ip.is_loopback(),
            _ => false,
        })
    };
    let outside: Vec<Multiaddr> = listen.iter().filter(|a| !loopback(a)).cloned().collect();
    let mut out = if outside.is_empty() {
        listen.to_vec()
    } else {
        outside
    };
    // QUIC first: members dial addresses in this order (see `options::multiaddrs`).
    out.sort_by_key(|a| !a.iter().any(|p| matches!(p, Protocol::QuicV1)));
    out
}

fn liveness(state: foca::State) -> Liveness {
    match state {
        foca::State::Alive => Liveness::Alive,
        foca::State::Suspect => Liveness::Suspect,
        foca::State::Down => Liveness::Down,
    }
}

struct P2pNode {
    swarm: Swarm<NodeBehaviour>,
    foca: Swim,
    runtime: AccumulatingRuntime<MemberId>,
    timers_tx: mpsc::UnboundedSender<Timer<MemberId>>,
    /// Each member's liveness after the last foca call, to report changes.
    states: HashMap<PeerId, Liveness>,
    /// The members the core was last told of (sorted).
    members: Vec<PeerId>,
    /// Peers of another cluster: refused.
    foreign: HashSet<PeerId>,
    bootstrap: Vec<Vec<Multiaddr>>,
    last_bootstrap: Option<Instant>,
    metrics: Arc<Metrics>,
    options: NodeOptions,
    local: PeerId,
    listen: Vec<String>,
    started: Instant,
    notices: broadcast::Sender<Notice>,
    /// Shutting down: foca's "defunct" is our own goodbye.
    leaving: bool,
    /// Members down within their grace, and this node's own time away.
    away: Away,
}

impl P2pNode {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut timers: mpsc::UnboundedReceiver<Timer<MemberId>>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        let mut tick = tokio::time::interval(self.options.interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some(command) = commands.recv() => self.on_command(command),
                Some(timer) = timers.recv() => {
                    let result = self.foca.handle_timer(timer, &mut self.runtime);
                    self.after_foca("timer", result);
                }
                _ = tick.tick() => self.on_tick(),
                _ = &mut stopped => break,
            }
        }
        self.leaving = true;
        let result = self.foca.leave_cluster(&mut self.runtime);
        self.after_foca("leave", result);
        // Give the goodbye a moment to go out.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                self.swarm.select_next_some().await;
            }
        })
        .await;
        tracing::info!("stopped");
    }

    // -------------------------------------------------------------- membership (foca)

    /// Carries out what foca asked for: datagrams, timers, notifications; then reports
    /// liveness changes.
    fn after_foca(&mut self, what: &str, result: Result<(), foca::Error>) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "membership {what}");
        }
        while let Some((to, data)) = self.runtime.to_send() {
            let Some(peer) = to.peer_id() else { continue };
            if self.foreign.contains(&peer) || peer == self.local {
                continue;
            }
            self.swarm.behaviour_mut().swim.send_request_with_addresses(
                &peer,
                data.to_vec(),
                to.multiaddrs(),
            );
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            let tx = self.timers_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                // The receiver is gone only once the node stopped.
                let _ = tx.send(timer);
            });
        }
        while let Some(notification) = self.runtime.to_notify() {
            self.on_notification(notification);
        }
        self.report_liveness();
        self.sync_members();
    }

    /// Tells the core who the members are, when that changed: alive, suspect, or down for
    /// less than the member grace (see [`away`]).
    fn sync_members(&mut self) {
        let mut members: Vec<PeerId> = self
            .foca
            .iter_membership_state()
            .filter(|m| liveness(m.state()) != Liveness::Down)
            .filter_map(|m| m.id().peer_id())
            .chain(self.away.in_grace().copied())
            .collect();
        members.sort_unstable();
        members.dedup();
        if members != self.members {
            self.swarm
                .behaviour_mut()
                .scuttle
                .set_members(members.iter().copied());
            self.members = members;
        }
    }

    fn on_notification(&mut self, notification: OwnedNotification<MemberId>) {
        match notification {
            OwnedNotification::MemberUp(m) => {
                if let Some(peer) = m.peer_id() {
                    tracing::info!(%peer, "member up");
                    self.away.member_up(&peer);
                    self.dial_member(peer, m.multiaddrs());
                }
            }
            OwnedNotification::MemberDown(m) => {
                if let Some(peer) = m.peer_id() {
                    tracing::warn!(%peer, "member down: closing its connections");
                    self.away.member_down(peer, Instant::now());
                    // Its scuttle exchanges and queues go with the connections.
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
            }
            OwnedNotification::Rejoin(_) => {
                self.metrics.rejoins.inc();
                tracing::warn!("this node was declared down by the cluster; rejoined")
            }
            OwnedNotification::Active => tracing::info!("joined the cluster"),
            OwnedNotification::Idle => tracing::warn!("no live member left"),
            OwnedNotification::Defunct if self.leaving => tracing::info!("left the cluster"),
            OwnedNotification::Defunct => tracing::warn!("this node was declared down"),
            OwnedNotification::Rename(..) => {}
        }
    }

    /// Counts and logs members whose liveness changed since the last call.
    fn report_liveness(&mut self) {
        for member in self.foca.iter_membership_state() {
            let Some(peer) = member.id().peer_id() else {
                continue;
            };
            let state = liveness(member.state());
            let before = self.states.insert(peer, state);
            if before == Some(state) {
                continue;
            }
            self.metrics.transition(state);
            match state {
                Liveness::Suspect => tracing::warn!(%peer, "member suspect"),
                Liveness::Down => tracing::debug!(%peer, "member state down"),
                Liveness::Alive => tracing::debug!(%peer, "member state alive"),
            }
        }
    }

    fn member_counts(&self) -> MemberCounts {
        let mut counts = MemberCounts::default();
        for member in self.foca.iter_membership_state() {
            match liveness(member.state()) {
                Liveness::Alive => counts.alive += 1,
                Liveness::Suspect => counts.suspect += 1,
                Liveness::Down => counts.down += 1,
            }
        }
        counts
    }

    fn is_live_member(&self, peer: &PeerId) -> bool {
        self.foca
            .iter_members()
            .any(|m| m.id().peer_id().as_ref() == Some(peer))
    }

    // -------------------------------------------------------------- connections

    fn dial_member(&mut self, peer: PeerId, addrs: Vec<Multiaddr>) {
        if peer == self.local
            || self.foreign.contains(&peer)
            || self.swarm.is_connected(&peer)
            || addrs.is_empty()
        {
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addrs)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "dial");
        }
    }

    /// Dials the bootstrap addresses (at start, and again while no member is alive).
    fn dial_bootstrap(&mut self) {
        self.last_bootstrap = Some(Instant::now());
        for addrs in self.bootstrap.clone() {
            // The peer id is not known yet: one dial per address, the first that connects
            // introduces the peer (a second connection to it is harmless).
            for addr in addrs {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::debug!(%addr, error = %e, "bootstrap dial");
                }
            }
        }
    }

    fn on_tick(&mut self) {
        let alive: Vec<(PeerId, Vec<Multiaddr>)> = self
            .foca
            .iter_members()
            .filter_map(|m| Some((m.id().peer_id()?, m.id().multiaddrs())))
            .collect();
        if alive.is_empty()
            && !self.bootstrap.is_empty()
            && self
                .last_bootstrap
                .is_none_or(|t| t.elapsed() >= self.options.interval().max(Duration::from_secs(2)))
        {
            self.dial_bootstrap();
        }
        let now = Instant::now();
        if self.away.tick(now, !alive.is_empty()) {
            tracing::warn!(
                "no live member for longer than the member grace ({} s): rejoining",
                self.options.member_grace_secs
            );
            self.swarm.behaviour_mut().scuttle.rejoin();
        }
        if self.away.expire(now) {
            self.sync_members();
        }
        for (peer, addrs) in alive {
            self.dial_member(peer, addrs);
        }
        let core = self.swarm.behaviour().scuttle.core();
        let (stats, keys, version) = (core.stats(), live_keys(core), core.version());
        self.metrics.observe_core(stats, keys, version);
        let peers = self.swarm.behaviour().scuttle.peers().count();
        self.metrics.observe_members(self.member_counts(), peers);
    }

    // -------------------------------------------------------------- swarm events

    fn on_swarm_event(&mut self, event: SwarmEvent<NodeBehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(NodeBehaviourEvent::Scuttle(e)) => self.on_scuttle(e),
            SwarmEvent::Behaviour(NodeBehaviourEvent::Swim(e)) => self.on_swim(e),
            SwarmEvent::Behaviour(NodeBehaviourEvent::Identify(e)) => self.on_identify(e),
            SwarmEvent::Behaviour(NodeBehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    tracing::debug!(%peer, %addr, "found by mDNS");
                    self.dial_member(peer, vec![addr]);
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if self.foreign.contains(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                tracing::debug!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                if !self.is_live_member(&peer_id) {
                    // A bootstrap peer, an mDNS find, a node that dialled us, or a member back
                    // from "down": introduce ourselves so that membership learns of it.
                    let addrs = match &endpoint {
                        ConnectedPoint::Dialer { address, .. } => vec![address.clone()],
                        ConnectedPoint::Listener { .. } => Vec::new(),
                    };
                    let dst = MemberId::new(peer_id, &addrs, 0);
                    let result = self.foca.announce(dst, &mut self.runtime);
                    self.after_foca("announce", result);
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => match &error {
                DialError::LocalPeerId { address } => tracing::warn!(
                    %address,
                    "this address is this node itself, or a node with the same identity key \
                     (a copied data dir?): every node needs its own"
                ),
                DialError::WrongPeerId { obtained, address } => tracing::warn!(
                    %address, %obtained, expected = ?peer_id,
                    "a different node answered at this address"
                ),
                _ => tracing::debug!(peer = ?peer_id, %error, "dial failed"),
            },
            SwarmEvent::IncomingConnectionError {
                error: libp2p::swarm::ListenError::Denied { cause },
                ..
            } => {
                self.metrics.connections_refused.inc();
                tracing::warn!(%cause, "inbound connection refused");
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                tracing::debug!(%error, "inbound connection failed")
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
            }
            _ => {}
        }
    }

    fn on_scuttle(&mut self, event: scuttle_p2p::Event<String, String>) {
        use scuttle_p2p::Event;
        match event {
            Event::Core {
                event: scuttle_core::Event::Update { key, entry, .. },
                from: Some(peer),
            } => {
                let lag = now_ms().saturating_sub(entry.timestamp);
                self.metrics.replication_lag.observe(lag as f64 / 1000.0);
                tracing::debug!(%key, version = entry.version, source = %entry.source_id, via = %peer, "update");
                // Nobody listening is fine.
                let _ = self.notices.send(Notice::Update {
                    key,
                    value: entry.value,
                    from: peer.to_string(),
                });
            }
            Event::Core {
                event: scuttle_core::Event::Forgotten { key },
                from: Some(peer),
            } => {
                let _ = self.notices.send(Notice::Forgotten {
                    key,
                    from: peer.to_string(),
                });
            }
            Event::PeerJoined { peer } => {
                tracing::info!(%peer, "peer connected");
                let _ = self.notices.send(Notice::PeerConnected(peer.to_string()));
            }
            Event::PeerLeft { peer } => {
                tracing::info!(%peer, "peer disconnected");
                let _ = self.notices.send(Notice::PeerDisconnected {
                    peer: peer.to_string(),
                    reason: "connection closed".into(),
                });
            }
            Event::ExchangeFailed { peer, error } => {
                self.metrics.exchanges_failed.inc();
                tracing::debug!(%peer, %error, "exchange failed");
            }
            Event::Misbehaved { peer, error } => {
                self.metrics.bans.inc();
                tracing::warn!(%peer, %error, "peer broke the protocol: banned");
            }
            _ => {}
        }
    }

    fn on_swim(&mut self, event: request_response::Event<Vec<u8>, ()>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                // The empty answer only completes the stream.
                let _ = self.swarm.behaviour_mut().swim.send_response(channel, ());
                if self.foreign.contains(&peer) {
                    return;
                }
                let result = self.foca.handle_data(&request, &mut self.runtime);
                self.after_foca("datagram", result);
            }
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::trace!(%peer, %error, "membership datagram not delivered");
            }
            _ => {}
        }
    }

    fn on_identify(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else {
            return;
        };
        let ours = cluster_tag(&self.options.cluster);
        if info.protocol_version == ours {
            return;
        }
        self.metrics.foreign_refused.inc();
        if self.foreign.insert(peer_id) {
            match cluster_of(&info.protocol_version) {
                Some(theirs) => tracing::warn!(
                    peer = %peer_id,
                    "refusing peer: it belongs to cluster `{theirs}`, this node to `{}` (--cluster)",
                    self.options.cluster
                ),
                None => tracing::warn!(
                    peer = %peer_id,
                    protocol = %info.protocol_version,
                    "refusing peer: not a scuttle node"
                ),
            }
        }
        let _ = self.swarm.disconnect_peer_id(peer_id);
    }

    // -------------------------------------------------------------- commands

    fn on_command(&mut self, command: Command) {
        let scuttle = &mut self.swarm.behaviour_mut().scuttle;
        match command {
            Command::Set(key, value, reply) => {
                let _ = reply.send(scuttle.set(key, value).map_err(NodeError::from_set));
            }
            Command::Delete(key, reply) => {
                let _ = reply.send(scuttle.delete(key).map_err(NodeError::from_set));
            }
            Command::Get(key, reply) => {
                let entry = scuttle.core().get(&key).cloned();
                let _ = reply.send(entry.map(|e| EntryView::new(key, e)));
            }
            Command::State(reply) => {
                let _ = reply.send(sorted_state(scuttle.core()));
            }
            Command::Peers(reply) => {
                let mut peers: Vec<String> = scuttle.peers().map(ToString::to_string).collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            Command::Members(reply) => {
                let _ = reply.send(self.members());
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn members(&self) -> Vec<MemberView> {
        let mut out: Vec<MemberView> = self
            .foca
            .iter_membership_state()
            .filter_map(|m| {
                let peer = m.id().peer_id()?;
                Some(MemberView {
                    id: peer.to_string(),
                    addrs: m
                        .id()
                        .multiaddrs()
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                    state: liveness(m.state()),
                    connected: self.swarm.is_connected(&peer),
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    fn status(&self) -> Status {
        let scuttle = &self.swarm.behaviour().scuttle;
        Status {
            id: self.local.to_string(),
            transport: "libp2p".into(),
            cluster: self.options.cluster.clone(),
            listen: self.listen.clone(),
            version: scuttle.core().version(),
            keys: live_keys(scuttle.core()),
            peers: scuttle.peers().count(),
            members: self.member_counts(),
            uptime_seconds: self.started.elapsed().as_secs(),
            rejoining: scuttle.core().is_rejoining(),
        }
    }
}

/// Keys with a value (tombstones not counted).
pub(crate) fn live_keys(core: &crate::gossip::Core) -> usize {
    core.iter().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<Multiaddr> {
        list.iter()
            .map(|a| a.parse().unwrap_or_else(|_| panic!("{a}")))
            .collect()
    }

    #[test]
    fn members_are_told_outside_addresses_quic_first() {
        let listen = addrs(&[
            "/ip4/127.0.0.1/tcp/7400",
            "/ip4/10.0.0.1/tcp/7400",
            "/ip4/127.0.0.1/udp/7400/quic-v1",
            "/ip4/10.0.0.1/udp/7400/quic-v1",
        ]);
        assert_eq!(
            advertised(&listen),
            addrs(&["/ip4/10.0.0.1/udp/7400/quic-v1", "/ip4/10.0.0.1/tcp/7400"])
        );
        // Loopback only (one machine): loopback it is.
        let local = addrs(&["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/2/quic-v1"]);
        assert_eq!(advertised(&local)[0], local[1]);
    }

    #[test]
    fn probes_follow_the_interval() {
        let options = NodeOptions {
            interval_ms: 500,
            ..NodeOptions::default()
        };
        let c = swim_config(&options);
        assert_eq!(c.probe_period, Duration::from_millis(500));
        assert!(c.probe_rtt < c.probe_period);
        assert_eq!(c.suspect_to_down_after, Duration::from_secs(3));
        assert!(
            c.periodic_announce_to_down_members.is_some(),
            "partitions heal"
        );
    }
}
