//! The plain TCP node (`--transport tcp`): the `scuttle-tokio` adapter, `--peer` links kept
//! open by redialling, and an idle timeout so a silent link is noticed within a few rounds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use scuttle_core::Event;
use scuttle_tokio::{DisconnectReason, NodeConfig, NodeEvent};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::NodeError;
use crate::gossip::build_gossip;
use crate::handle::{sorted_state, Command, NodeHandle, COMMAND_QUEUE};
use crate::metrics::Metrics;
use crate::options::NodeOptions;
use crate::view::{EntryView, Liveness, MemberCounts, MemberView, Notice, Status};
use crate::Started;

type Node = scuttle_tokio::Node<
    String,
    String,
    scuttle_core::DynResolver<String, String>,
    scuttle_core::DynSorter<String, String>,
>;

/// How long to wait before redialling a peer.
const REDIAL: Duration = Duration::from_secs(1);

/// The adapter's settings from the options: exchanges given up after two rounds, links
/// closed after nothing arrived for two rounds more.
pub fn node_config(options: &NodeOptions) -> Result<NodeConfig, NodeError> {
    let interval = options.interval();
    let exchange = (interval * 2).clamp(Duration::from_secs(1), Duration::from_secs(5));
    Ok(NodeConfig::default()
        .with_wire_format(options.wire_format()?)
        .with_gossip_interval(interval)
        .with_gossip_jitter(interval / 4)
        .with_compression(options.compression)
        .with_max_connections(options.max_connections)
        .with_exchange_timeout(exchange)
        .with_idle_timeout(Some(exchange + interval * 2)))
}

pub(crate) async fn start(
    options: NodeOptions,
    notices: broadcast::Sender<Notice>,
) -> Result<Started, NodeError> {
    let listen = options.listen_or_default();
    let [addr] = listen.as_slice() else {
        return Err(NodeError::Options(
            "--transport tcp listens on one HOST:PORT".into(),
        ));
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| NodeError::Options(format!("bad --listen `{addr}` (HOST:PORT): {e}")))?;
    let mut peers = Vec::new();
    for p in &options.peers {
        peers.push(
            p.parse::<SocketAddr>()
                .map_err(|e| NodeError::Options(format!("bad --peer `{p}` (HOST:PORT): {e}")))?,
        );
    }
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let id = options
        .id
        .clone()
        .unwrap_or_else(|| format!("node-{}", local.port()));
    if options.wire_format()? == scuttle_tokio::WireFormat::SeedJson
        && options.resolver_kind()? == scuttle_core::ResolverKind::LastWriterWinsClock
    {
        tracing::warn!(
            "seed peers' updates carry no clock (they read as timestamp 0), so under \
             lww-clock a later seed write loses to any scuttle write; use lww with seed peers"
        );
    }
    let node = Node::new(build_gossip(&options, &id, None)?, node_config(&options)?);
    tracing::info!(addr = %local, %id, "listening (tcp)");
    let metrics = Arc::new(Metrics::new());
    tokio::spawn(report_events(node.clone(), notices, Arc::clone(&metrics)));
    node.listen(listener);
    for peer in peers {
        tokio::spawn(dial(node.clone(), peer));
    }
    let (tx, commands) = mpsc::channel(COMMAND_QUEUE);
    let (stop, stopped) = oneshot::channel();
    let serve = Serve {
        node,
        options,
        listen: local.to_string(),
        metrics: Arc::clone(&metrics),
        started: Instant::now(),
    };
    let task = tokio::spawn(serve.run(commands, stopped));
    Ok(Started {
        handle: NodeHandle::new(tx),
        id,
        listen: vec![local.to_string()],
        metrics,
        stop,
        task,
    })
}

/// Keeps a connection to `addr` open, redialling a second after it fails or ends.
async fn dial(node: Node, addr: SocketAddr) {
    let mut reported = false;
    while !node.is_shut_down() {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                reported = false;
                // Only a latency hint: the connection works without it.
                let _ = stream.set_nodelay(true);
                // Runs until the link ends; events report how.
                let _ = node.connect(stream).await;
            }
            Err(e) if !reported => {
                tracing::warn!(%addr, error = %e, "cannot reach peer; retrying every second");
                reported = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(REDIAL).await;
    }
}

/// Turns the adapter's events into notices, logs and metrics.
async fn report_events(node: Node, notices: broadcast::Sender<Notice>, metrics: Arc<Metrics>) {
    let mut events = node.events();
    drop(node);
    while let Some(event) = events.next().await {
        let notice = match event {
            NodeEvent::Core {
                event: Event::Update { key, entry, .. },
                from: Some(peer),
            } => {
                let lag = crate::now_ms().saturating_sub(entry.timestamp);
                metrics.replication_lag.observe(lag as f64 / 1000.0);
                Notice::Update {
                    key,
                    value: entry.value,
                    from: peer.to_string(),
                }
            }
            NodeEvent::Core {
                event: Event::Forgotten { key },
                from: Some(peer),
            } => Notice::Forgotten {
                key,
                from: peer.to_string(),
            },
            NodeEvent::PeerConnected { peer, .. } => {
                tracing::info!(%peer, "peer connected");
                Notice::PeerConnected(peer.to_string())
            }
            NodeEvent::PeerDisconnected { peer, reason, .. } => {
                let reason = match reason {
                    DisconnectReason::PeerClosed => "closed by peer".to_string(),
                    DisconnectReason::Closed => "closed".to_string(),
                    DisconnectReason::Error(e) => e.to_string(),
                    other => format!("{other:?}"),
                };
                tracing::info!(%peer, %reason, "peer disconnected");
                Notice::PeerDisconnected {
                    peer: peer.to_string(),
                    reason,
                }
            }
            NodeEvent::Error {
                peer: None, error, ..
            } => {
                tracing::debug!(%error, "connection failed");
                Notice::ConnectionFailed(error.to_string())
            }
            NodeEvent::Error {
                peer: Some(peer),
                error,
                ..
            } => {
                if matches!(*error, scuttle_tokio::ConnectionError::Protocol(_)) {
                    metrics.bans.inc();
                }
                tracing::warn!(%peer, %error, "connection failed");
                continue;
            }
            NodeEvent::PolicyFailed { peer, error, .. } => Notice::Refused {
                peer: peer.to_string(),
                error: error.to_string(),
            },
            NodeEvent::Lagged { missed } => Notice::Lagged(missed),
            NodeEvent::ConnectionRefused { max_connections } => {
                metrics.connections_refused.inc();
                tracing::warn!(
                    max_connections,
                    "connection refused: at the connection limit"
                );
                continue;
            }
            _ => continue,
        };
        // Nobody listening is fine.
        let _ = notices.send(notice);
    }
}

struct Serve {
    node: Node,
    options: NodeOptions,
    listen: String,
    metrics: Arc<Metrics>,
    started: Instant,
}

impl Serve {
    async fn run(self, mut commands: mpsc::Receiver<Command>, mut stopped: oneshot::Receiver<()>) {
        let mut tick = tokio::time::interval(self.options.interval());
        loop {
            tokio::select! {
                Some(command) = commands.recv() => self.on_command(command),
                _ = tick.tick() => self.observe(),
                _ = &mut stopped => break,
            }
        }
        self.node.shutdown().await;
    }

    fn observe(&self) {
        let (stats, keys, version) = self
            .node
            .with_gossip(|g| (g.stats(), crate::p2p::live_keys(g), g.version()));
        self.metrics.observe_core(stats, keys, version);
        let peers = self.node.peers().len();
        self.metrics.observe_members(
            MemberCounts {
                alive: peers,
                ..MemberCounts::default()
            },
            peers,
        );
    }

    fn on_command(&self, command: Command) {
        let node = &self.node;
        // A dropped reply channel only means the asker stopped waiting.
        match command {
            Command::Set(key, value, reply) => {
                let _ = reply.send(node.set(key, value).map_err(NodeError::from_set));
            }
            Command::Delete(key, reply) => {
                let _ = reply.send(node.delete(key).map_err(NodeError::from_set));
            }
            Command::Get(key, reply) => {
                let _ = reply.send(node.get(&key).map(|e| EntryView::new(key, e)));
            }
            Command::State(reply) => {
                let _ = reply.send(node.with_gossip(sorted_state));
            }
            Command::Peers(reply) => {
                let mut peers: Vec<String> = node.peers().iter().map(ToString::to_string).collect();
                peers.sort();
                let _ = reply.send(peers);
            }
            // The TCP transport has no membership protocol: its members are its connected
            // peers, alive while their link is.
            Command::Members(reply) => {
                let mut peers: Vec<MemberView> = node
                    .peers()
                    .iter()
                    .map(|p| MemberView {
                        id: p.to_string(),
                        addrs: Vec::new(),
                        state: Liveness::Alive,
                        connected: true,
                    })
                    .collect();
                peers.sort_by(|a, b| a.id.cmp(&b.id));
                let _ = reply.send(peers);
            }
            Command::Status(reply) => {
                let peers = node.peers().len();
                let _ = reply.send(Status {
                    id: node.id().to_string(),
                    transport: "tcp".into(),
                    cluster: self.options.cluster.clone(),
                    listen: vec![self.listen.clone()],
                    version: node.version(),
                    keys: node.with_gossip(crate::p2p::live_keys),
                    peers,
                    members: MemberCounts {
                        alive: peers,
                        ..MemberCounts::default()
                    },
                    uptime_seconds: self.started.elapsed().as_secs(),
                    rejoining: node.with_gossip(|g| g.is_rejoining()),
                });
            }
        }
    }
}
