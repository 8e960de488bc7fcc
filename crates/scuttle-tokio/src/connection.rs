//! One peer connection: handshake, then a reader and a writer over the same stream.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scuttle_core::{Message, NodeId, Resolver, Sorter};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use crate::codec::{Hello, HelloCodec, WireCodec};
use crate::config::NodeConfig;
use crate::error::{ConnectionError, DisconnectReason};
use crate::event::{ConnectionId, NodeEvent};
use crate::node::Node;

/// Messages taken from the core per lock while writing.
const WRITE_BATCH: usize = 64;

/// How long a connection closed locally may take to finish its last frame.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// State of a connection shared between its task and its [`ConnectionHandle`].
#[derive(Debug)]
pub(crate) struct ConnShared {
    id: ConnectionId,
    peer: OnceLock<NodeId>,
    established: AtomicBool,
    received: AtomicU64,
    sent: AtomicU64,
    rounds: AtomicU64,
    rounds_skipped: AtomicU64,
}

impl ConnShared {
    pub(crate) fn new(id: ConnectionId) -> Self {
        ConnShared {
            id,
            peer: OnceLock::new(),
            established: AtomicBool::new(false),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            rounds: AtomicU64::new(0),
            rounds_skipped: AtomicU64::new(0),
        }
    }
}

/// Counters of one connection, from [`ConnectionHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Messages received from the peer and handled (the hello not included).
    pub messages_received: u64,
    /// Messages written to the peer (the hello not included).
    pub messages_sent: u64,
    /// Gossip rounds started with the peer.
    pub rounds: u64,
    /// Gossip rounds skipped because too many messages still waited for the peer
    /// ([`NodeConfig::round_skip_threshold`]).
    pub rounds_skipped: u64,
}

/// A connection started by [`Node::spawn_connection`]. Dropping the handle leaves the
/// connection running; [`close`](Self::close) ends it.
#[derive(Debug)]
pub struct ConnectionHandle {
    conn: Arc<ConnShared>,
    cancel: CancellationToken,
    task: JoinHandle<Result<NodeId, Arc<ConnectionError>>>,
}

impl ConnectionHandle {
    pub(crate) fn new(
        conn: Arc<ConnShared>,
        cancel: CancellationToken,
        task: JoinHandle<Result<NodeId, Arc<ConnectionError>>>,
    ) -> Self {
        ConnectionHandle { conn, cancel, task }
    }

    /// The connection's id (as in [`NodeEvent`]s).
    pub fn id(&self) -> ConnectionId {
        self.conn.id
    }

    /// The peer's node id, once its hello has arrived.
    pub fn peer(&self) -> Option<NodeId> {
        self.conn.peer.get().cloned()
    }

    /// Whether the handshake completed (the connection may have ended since).
    pub fn is_established(&self) -> bool {
        self.conn.established.load(Ordering::Acquire)
    }

    /// The connection's counters so far.
    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            messages_received: self.conn.received.load(Ordering::Relaxed),
            messages_sent: self.conn.sent.load(Ordering::Relaxed),
            rounds: self.conn.rounds.load(Ordering::Relaxed),
            rounds_skipped: self.conn.rounds_skipped.load(Ordering::Relaxed),
        }
    }

    /// Asks the connection to close; it ends with [`DisconnectReason::Closed`].
    pub fn close(&self) {
        self.cancel.cancel();
    }

    /// Whether the connection has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the connection to end: the peer's id when it ended cleanly, or why it failed
    /// (as in [`Node::connect`]).
    pub async fn join(self) -> Result<NodeId, Arc<ConnectionError>> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(Arc::new(ConnectionError::Task(e.to_string()))),
        }
    }
}

/// How a connection ended without error.
enum End {
    PeerClosed,
    Closed,
}

/// Runs a connection and reports its end as events.
pub(crate) async fn run<K, V, R, S, IO>(
    node: Node<K, V, R, S>,
    io: IO,
    conn: Arc<ConnShared>,
    cancel: CancellationToken,
) -> Result<NodeId, Arc<ConnectionError>>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
    IO: AsyncRead + AsyncWrite,
{
    let result = run_inner(&node, io, &conn, &cancel).await;
    let peer = conn.peer.get().cloned();
    let established = conn.established.load(Ordering::Acquire);
    let connection = conn.id;
    match (result, peer) {
        (Ok(end), Some(peer)) => {
            let reason = match end {
                End::PeerClosed => DisconnectReason::PeerClosed,
                End::Closed => DisconnectReason::Closed,
            };
            node.emit(NodeEvent::PeerDisconnected {
                peer: peer.clone(),
                connection,
                reason,
            });
            Ok(peer)
        }
        // A clean end always follows the handshake; this arm only keeps the match total.
        (Ok(_), None) => Err(Arc::new(ConnectionError::Cancelled)),
        (Err(error), peer) => {
            let error = Arc::new(error);
            if !matches!(*error, ConnectionError::Cancelled) {
                node.emit(NodeEvent::Error {
                    peer: peer.clone(),
                    connection,
                    error: Arc::clone(&error),
                });
            }
            if let (true, Some(peer)) = (established, peer) {
                node.emit(NodeEvent::PeerDisconnected {
                    peer,
                    connection,
                    reason: DisconnectReason::Error(Arc::clone(&error)),
                });
            }
            Err(error)
        }
    }
}

async fn run_inner<K, V, R, S, IO>(
    node: &Node<K, V, R, S>,
    io: IO,
    conn: &ConnShared,
    cancel: &CancellationToken,
) -> Result<End, ConnectionError>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
    IO: AsyncRead + AsyncWrite,
{
    if cancel.is_cancelled() {
        return Err(ConnectionError::Cancelled);
    }
    let config = node.config();
    let format = config.wire_format;
    let max_frame_size = node.with_gossip(|g| g.config().max_frame_size);
    let (rd, mut wr) = tokio::io::split(io);

    // Handshake: both sides send their hello at once, then read the other's.
    let hello = Hello::new(node.id().clone()).to_bytes(format)?;
    let handshake = async {
        wr.write_all(&hello).await?;
        wr.flush().await?;
        let mut reader = FramedRead::new(rd, HelloCodec::new(format));
        match reader.next().await {
            Some(Ok(hello)) => Ok((hello, reader)),
            Some(Err(e)) => Err(e),
            None => Err(ConnectionError::ClosedDuringHandshake),
        }
    };
    let timeout = config.handshake_timeout;
    let (hello, reader) = tokio::select! {
        _ = cancel.cancelled() => return Err(ConnectionError::Cancelled),
        r = tokio::time::timeout(timeout, handshake) => {
            r.map_err(|_| ConnectionError::HandshakeTimeout(timeout))??
        }
    };
    let peer = hello.node_id;
    let _ = conn.peer.set(peer.clone());
    if &peer == node.id() {
        return Err(ConnectionError::SelfConnection(peer));
    }

    // The core sees one peer per connection, so two connections to the same node never share
    // a half-received digest or an outbox.
    let key = NodeId::new(format!("{peer}#{}", conn.id.get()));
    node.locked(|sh| sh.links.insert(key.clone(), peer.clone()));
    conn.established.store(true, Ordering::Release);
    node.emit(NodeEvent::PeerConnected {
        peer,
        connection: conn.id,
    });

    let reader = reader.map_decoder(|_| WireCodec::<K, V>::new(format, max_frame_size));
    let mut writer = FramedWrite::new(wr, WireCodec::<K, V>::new(format, max_frame_size));
    let wake = Notify::new();
    let result = tokio::select! {
        r = read_loop(node, &key, reader, conn, &wake, cancel) => or_peer_closed(r),
        r = write_loop(node, &key, &mut writer, conn, &wake, cancel) => or_peer_closed(r),
    };
    node.locked(|sh| {
        sh.gossip.forget_peer(&key);
        sh.links.remove(&key);
    });
    if matches!(result, Ok(End::Closed)) {
        // Finish the frame being written and close our direction, so that the peer sees a
        // clean end between two frames; never wait long on a peer that does not read.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            writer.flush().await?;
            writer.get_mut().shutdown().await?;
            Ok::<_, ConnectionError>(())
        })
        .await;
    }
    result
}

/// Whether an error only says that the peer has gone away (it closed or reset the stream
/// while we were writing or between frames).
fn peer_gone(error: &ConnectionError) -> bool {
    use std::io::ErrorKind;
    matches!(error, ConnectionError::Io(e) if matches!(
        e.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    ))
}

/// Maps "the peer has gone away" to a clean end.
fn or_peer_closed(result: Result<End, ConnectionError>) -> Result<End, ConnectionError> {
    match result {
        Err(e) if peer_gone(&e) => Ok(End::PeerClosed),
        other => other,
    }
}

/// Feeds every frame from the peer to the core. Never waits on the writer, so two nodes that
/// both have much to say cannot block each other.
async fn read_loop<K, V, R, S, IO>(
    node: &Node<K, V, R, S>,
    key: &NodeId,
    mut reader: FramedRead<ReadHalf<IO>, WireCodec<K, V>>,
    conn: &ConnShared,
    wake: &Notify,
    cancel: &CancellationToken,
) -> Result<End, ConnectionError>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
    IO: AsyncRead,
{
    let max_outgoing = node.config().max_outgoing;
    loop {
        let frame = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(End::Closed),
            frame = reader.next() => frame,
        };
        let msg = match frame {
            None => return Ok(End::PeerClosed),
            Some(msg) => msg?,
        };
        conn.received.fetch_add(1, Ordering::Relaxed);
        let queued = node.locked(|sh| -> Result<usize, ConnectionError> {
            sh.gossip.receive(key, msg)?;
            let queued = sh.gossip.outgoing_len(key);
            if queued > max_outgoing {
                // One full answer (news, digest, done) must always fit.
                let answer = sh.gossip.watermarks().count() + 1 + sh.gossip.config().mtu;
                let limit = max_outgoing.max(answer.saturating_mul(4));
                if queued > limit {
                    return Err(ConnectionError::SlowPeer { queued, limit });
                }
            }
            Ok(queued)
        })?;
        if queued > 0 {
            wake.notify_one();
        }
    }
}

/// Starts gossip rounds (periodic, and on change) and writes whatever the core queued for the
/// peer.
async fn write_loop<K, V, R, S, IO>(
    node: &Node<K, V, R, S>,
    key: &NodeId,
    writer: &mut FramedWrite<WriteHalf<IO>, WireCodec<K, V>>,
    conn: &ConnShared,
    wake: &Notify,
    cancel: &CancellationToken,
) -> Result<End, ConnectionError>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
    IO: AsyncWrite,
{
    let config = node.config();
    let mut changed = node.inner.changed.subscribe();
    let mut watch_changes = config.gossip_on_change;
    let mut rng = SmallRng::seed_from_u64({
        let mut h = RandomState::new().build_hasher();
        h.write_u64(conn.id.get());
        h.finish()
    });
    let mut next_round = Instant::now();
    let mut last_round: Option<Instant> = None;
    // The first round starts at once, so a new peer syncs without waiting an interval.
    let mut round = true;
    loop {
        if round {
            let threshold = config.round_skip_threshold;
            let skipped = node.locked(|sh| {
                if sh.gossip.outgoing_len(key) > threshold {
                    true
                } else {
                    sh.gossip.gossip(key);
                    false
                }
            });
            let counter = if skipped {
                &conn.rounds_skipped
            } else {
                &conn.rounds
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            last_round = Some(now);
            next_round = now + pause(config, &mut rng);
        }
        loop {
            let batch: Vec<Message<K, V>> = node.locked(|sh| {
                std::iter::from_fn(|| sh.gossip.poll_message(key))
                    .take(WRITE_BATCH)
                    .collect()
            });
            if batch.is_empty() {
                break;
            }
            for msg in batch {
                writer.feed(msg).await?;
                conn.sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        writer.flush().await?;
        round = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(End::Closed),
            _ = tokio::time::sleep_until(next_round) => true,
            r = changed.changed(), if watch_changes => {
                watch_changes = r.is_ok();
                // A change pulls the next round forward, but never closer than
                // `min_round_gap` to the previous one: a burst of writes shares one round.
                let earliest = last_round.map_or_else(Instant::now, |t| t + config.min_round_gap);
                next_round = next_round.min(earliest);
                false
            }
            _ = wake.notified() => false,
        };
    }
}

/// The pause before the next periodic round: the interval plus a random jitter.
fn pause(config: &NodeConfig, rng: &mut SmallRng) -> Duration {
    let jitter = u64::try_from(config.gossip_jitter.as_nanos()).unwrap_or(u64::MAX);
    let extra = if jitter == 0 {
        0
    } else {
        rng.gen_range(0..=jitter)
    };
    config.gossip_interval + Duration::from_nanos(extra)
}
