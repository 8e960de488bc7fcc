//! One peer connection: the hello, then exchanges, read and written side by side.
//!
//! Per connection, at most one exchange is in flight in each direction:
//!
//! * **Ours.** On a gossip tick (or soon after the digest changed) the writer sends the core's
//!   `start_exchange()` (a `Syn`) and waits for the peer's `SynAck`; the reader hands that
//!   `SynAck` to the core and the writer sends back the core's reply (an `Ack`, if any). No
//!   new `Syn` goes out until the `SynAck` came or `exchange_timeout` gave the exchange up.
//! * **Theirs.** Every message from the peer goes to the core's `handle_message`, and its reply
//!   (a `SynAck` for a `Syn`) goes back on the same connection, in order.
//!
//! The reader never waits on the writer as long as a few replies are queued, so two nodes that
//! both write large messages cannot block each other; a peer that keeps sending but never
//! reads fills that small queue, and then this node stops reading from it (backpressure, no
//! unbounded buffer). Protocol decisions are all the core's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scuttle_core::{DecodeError, Message, NodeId, ReceiveError};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use crate::bounds::{Key, NodeResolver, NodeSorter, Value};
use crate::codec::{Hello, HelloCodec, WireCodec, COMPRESS_ABOVE};
use crate::config::{NodeConfig, WireFormat};
use crate::error::{ConnectionError, DisconnectReason, PolicyError};
use crate::event::{ConnectionId, NodeEvent};
use crate::shared::Shared;

/// Replies the reader may queue for the writer before it waits. A well-behaved peer has at
/// most one exchange in flight, so it never needs more than two (a `SynAck` for its `Syn`, an
/// `Ack` for its `SynAck`).
const REPLY_SLOTS: usize = 4;

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
    bytes_sent: AtomicU64,
    exchanges: AtomicU64,
    answered: AtomicU64,
}

impl ConnShared {
    pub(crate) fn new(id: ConnectionId) -> Self {
        ConnShared {
            id,
            peer: OnceLock::new(),
            established: AtomicBool::new(false),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Counters of one connection, from [`ConnectionHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Messages received from the peer and handed to the core (the hello not included).
    pub messages_received: u64,
    /// Messages written to the peer (the hello not included).
    pub messages_sent: u64,
    /// Bytes written to the peer, the hello included (compressed frames count their
    /// compressed size).
    pub bytes_sent: u64,
    /// Exchanges this node started (`Syn`s sent).
    pub exchanges_started: u64,
    /// Exchanges this node started that the peer answered (`SynAck`s received).
    pub exchanges_answered: u64,
}

/// A connection started by [`Node::spawn_connection`](crate::Node::spawn_connection).
/// Dropping the handle leaves the connection running; [`close`](Self::close) ends it.
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
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionStats {
            messages_received: get(&self.conn.received),
            messages_sent: get(&self.conn.sent),
            bytes_sent: get(&self.conn.bytes_sent),
            exchanges_started: get(&self.conn.exchanges),
            exchanges_answered: get(&self.conn.answered),
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
    /// (as in [`Node::connect`](crate::Node::connect)).
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

/// What the reader hands the writer after a message from the peer.
struct Step<K, V> {
    /// The core's reply, to send back.
    reply: Option<Message<K, V>>,
    /// The message was a `SynAck`: the exchange this node started is answered.
    answers_ours: bool,
}

/// What the reader takes off the wire: a message, or a line of a seed peer that was skipped.
enum Incoming<K, V> {
    Message(Message<K, V>),
    Skipped(DecodeError),
}

/// [`WireCodec`] reporting skipped lines as soon as they are read, in order with the messages.
struct ReadCodec<K, V> {
    wire: WireCodec<K, V>,
    skipped: VecDeque<DecodeError>,
    /// A message decoded after lines that were skipped, handed over after them.
    held: Option<Message<K, V>>,
}

impl<K: Key, V: Value> Decoder for ReadCodec<K, V> {
    type Item = Incoming<K, V>;
    type Error = ConnectionError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming<K, V>>, ConnectionError> {
        if self.skipped.is_empty() && self.held.is_none() {
            self.held = self.wire.decode(buf)?;
            self.skipped.extend(self.wire.take_skipped());
        }
        if let Some(e) = self.skipped.pop_front() {
            return Ok(Some(Incoming::Skipped(e)));
        }
        Ok(self.held.take().map(Incoming::Message))
    }
}

/// Runs a connection in `format` and reports its end as events.
pub(crate) async fn run<K, V, R, S, IO>(
    shared: Arc<Shared<K, V, R, S>>,
    io: IO,
    conn: Arc<ConnShared>,
    cancel: CancellationToken,
    format: WireFormat,
) -> Result<NodeId, Arc<ConnectionError>>
where
    K: Key,
    V: Value,
    R: NodeResolver<K, V>,
    S: NodeSorter<K, V>,
    IO: AsyncRead + AsyncWrite,
{
    let link = Link {
        shared: &shared,
        conn: &conn,
        cancel: &cancel,
        format,
    };
    let result = link.run(io).await;
    shared.remove_peer(conn.id);
    let peer = conn.peer.get().cloned();
    let established = conn.established.load(Ordering::Acquire);
    let connection = conn.id;
    match (result, peer) {
        (Ok(end), Some(peer)) => {
            let reason = match end {
                End::PeerClosed => DisconnectReason::PeerClosed,
                End::Closed => DisconnectReason::Closed,
            };
            shared.emit(NodeEvent::PeerDisconnected {
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
                shared.emit(NodeEvent::Error {
                    peer: peer.clone(),
                    connection,
                    error: Arc::clone(&error),
                });
            }
            if let (true, Some(peer)) = (established, peer) {
                shared.emit(NodeEvent::PeerDisconnected {
                    peer,
                    connection,
                    reason: DisconnectReason::Error(Arc::clone(&error)),
                });
            }
            Err(error)
        }
    }
}

/// One connection's view of the node.
struct Link<'a, K, V, R, S> {
    shared: &'a Shared<K, V, R, S>,
    conn: &'a ConnShared,
    cancel: &'a CancellationToken,
    format: WireFormat,
}

impl<K: Key, V: Value, R: NodeResolver<K, V>, S: NodeSorter<K, V>> Link<'_, K, V, R, S> {
    async fn run<IO: AsyncRead + AsyncWrite>(&self, io: IO) -> Result<End, ConnectionError> {
        if self.cancel.is_cancelled() {
            return Err(ConnectionError::Cancelled);
        }
        let config = &self.shared.config;
        let format = self.format;
        let (rd, mut wr) = tokio::io::split(io);

        // Handshake: both sides send their hello at once, then read the other's.
        // Compression is offered on CBOR connections only. Seed peers send no hello.
        let offer = config.compression && format == WireFormat::Cbor;
        let (hello, reader) = if format.has_hello() {
            let hello = Hello::new(self.shared.id.clone())
                .with_zstd(offer)
                .to_bytes(format)?;
            let handshake = async {
                wr.write_all(&hello).await?;
                wr.flush().await?;
                self.conn
                    .bytes_sent
                    .fetch_add(hello.len() as u64, Ordering::Relaxed);
                let mut reader = FramedRead::new(rd, HelloCodec::new(format));
                match reader.next().await {
                    Some(Ok(hello)) => Ok((hello, reader)),
                    Some(Err(e)) => Err(e),
                    None => Err(ConnectionError::ClosedDuringHandshake),
                }
            };
            let timeout = config.handshake_timeout;
            tokio::select! {
                _ = self.cancel.cancelled() => return Err(ConnectionError::Cancelled),
                r = tokio::time::timeout(timeout, handshake) => {
                    r.map_err(|_| ConnectionError::HandshakeTimeout(timeout))??
                }
            }
        } else {
            let peer = NodeId::from(format!("seed{}", self.conn.id));
            (
                Hello::new(peer),
                FramedRead::new(rd, HelloCodec::new(format)),
            )
        };
        let peer = hello.node_id.clone();
        let _ = self.conn.peer.set(peer.clone());
        if peer == self.shared.id {
            return Err(ConnectionError::SelfConnection(peer));
        }
        self.shared.add_peer(self.conn.id, peer.clone());
        self.conn.established.store(true, Ordering::Release);
        self.shared.emit(NodeEvent::PeerConnected {
            peer: peer.clone(),
            connection: self.conn.id,
        });

        // The bytes after the hello stay buffered in the reader.
        let core = &self.shared.core_config;
        let reader = reader.map_decoder(|_| ReadCodec {
            wire: WireCodec::<K, V>::new(format, core),
            skipped: VecDeque::new(),
            held: None,
        });
        let mut encoder = WireCodec::<K, V>::new(format, core);
        // Compress only when both sides asked for it.
        if offer && hello.accepts_zstd {
            encoder = encoder.with_compression(COMPRESS_ABOVE);
        }
        let mut writer = FramedWrite::new(wr, encoder);
        let (tx, rx) = mpsc::channel(REPLY_SLOTS);
        let result = tokio::select! {
            r = self.read(&peer, reader, tx) => or_peer_closed(r),
            r = self.write(&mut writer, rx) => or_peer_closed(r),
        };
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

    /// Hands every message from the peer to the core and the replies to the writer.
    async fn read<IO: AsyncRead>(
        &self,
        peer: &NodeId,
        mut reader: FramedRead<ReadHalf<IO>, ReadCodec<K, V>>,
        replies: mpsc::Sender<Step<K, V>>,
    ) -> Result<End, ConnectionError> {
        let seed = self.format == WireFormat::SeedJson;
        let seed_idle = self.shared.config.seed_digest_idle;
        let idle = self.shared.config.idle_timeout;
        loop {
            let next = async {
                match idle {
                    Some(limit) => tokio::time::timeout(limit, reader.next())
                        .await
                        .map_err(|_| ConnectionError::IdleTimeout(limit)),
                    None => Ok(reader.next().await),
                }
            };
            let frame = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(End::Closed),
                frame = next => frame?,
                // Nothing for a while: a digest the seed left without `done` is done.
                () = tokio::time::sleep(seed_idle), if seed => {
                    match reader.decoder_mut().wire.finish_digest() {
                        Some(msg) => Some(Ok(Incoming::Message(msg))),
                        None => continue,
                    }
                }
            };
            let msg = match frame {
                None => return Ok(End::PeerClosed),
                Some(Ok(Incoming::Message(msg))) => msg,
                Some(Ok(Incoming::Skipped(error))) => {
                    self.skipped(peer, ConnectionError::Decode(error));
                    continue;
                }
                Some(Err(e)) => return Err(e),
            };
            bump(&self.conn.received);
            let answers_ours = matches!(msg, Message::SynAck { .. });
            let reply = match self.shared.handle(peer, msg) {
                Ok(reply) => reply,
                Err(ReceiveError::Protocol(e)) if seed => {
                    self.skipped(peer, ConnectionError::Protocol(e));
                    None
                }
                Err(ReceiveError::Protocol(e)) => return Err(ConnectionError::Protocol(e)),
                Err(e) => {
                    // The resolver or sorter failed: the core refused the message and changed
                    // nothing. Not the peer's fault, so the connection goes on.
                    self.shared.emit(NodeEvent::PolicyFailed {
                        peer: peer.clone(),
                        connection: self.conn.id,
                        error: PolicyError::new(e),
                    });
                    None
                }
            };
            if reply.is_none() && !answers_ours {
                continue;
            }
            let step = Step {
                reply,
                answers_ours,
            };
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(End::Closed),
                sent = replies.send(step) => if sent.is_err() { return Ok(End::Closed) },
            }
        }
    }

    /// Reports a line or message of a seed peer that was skipped.
    fn skipped(&self, peer: &NodeId, error: ConnectionError) {
        self.shared.emit(NodeEvent::LineSkipped {
            peer: peer.clone(),
            connection: self.conn.id,
            error: Arc::new(error),
        });
    }

    /// Counts a message just written.
    fn sent<IO>(&self, writer: &mut FramedWrite<WriteHalf<IO>, WireCodec<K, V>>) {
        bump(&self.conn.sent);
        let bytes = writer.encoder_mut().take_bytes_encoded();
        self.conn.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Starts this node's exchanges and writes every message to the peer.
    async fn write<IO: AsyncWrite>(
        &self,
        writer: &mut FramedWrite<WriteHalf<IO>, WireCodec<K, V>>,
        mut replies: mpsc::Receiver<Step<K, V>>,
    ) -> Result<End, ConnectionError> {
        let config = &self.shared.config;
        let mut changes = self.shared.changes();
        // Seed peers gossip on ticks only: a seed node broadcasts its answer to every digest
        // on all its pipes, and counts each copy it hears against its `max_history`.
        let mut on_change = config.gossip_on_change && self.format != WireFormat::SeedJson;
        let mut rng = SmallRng::seed_from_u64(seed(&self.shared.id, self.conn.id));
        // When this node's exchange started, while it waits for its SynAck.
        let mut in_flight: Option<Instant> = None;
        // The first exchange starts at once, so a new peer syncs without waiting a tick.
        let mut wanted = true;
        let mut next_tick = Instant::now() + pause(config, &mut rng);
        loop {
            if wanted && in_flight.is_none() {
                wanted = false;
                let syn = self.shared.start_exchange();
                writer.send(syn).await?;
                self.sent(writer);
                bump(&self.conn.exchanges);
                // Seed peers answer a digest with news only, never with a SynAck: wait for
                // nothing.
                if self.format != WireFormat::SeedJson {
                    in_flight = Some(Instant::now());
                }
            }
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(End::Closed),
                step = replies.recv() => {
                    // The reader holds the sender until it ends, and then so does this task.
                    let Some(step) = step else { return Ok(End::Closed) };
                    if let Some(reply) = step.reply {
                        writer.send(reply).await?;
                        self.sent(writer);
                    }
                    if step.answers_ours && in_flight.take().is_some() {
                        bump(&self.conn.answered);
                    }
                }
                () = tokio::time::sleep_until(next_tick) => {
                    let now = Instant::now();
                    next_tick = now + pause(config, &mut rng);
                    match in_flight {
                        // Still waiting for the answer: this tick is skipped.
                        Some(since) if now.duration_since(since) < config.exchange_timeout => {}
                        // No answer in time: give the exchange up and start the next.
                        _ => {
                            in_flight = None;
                            wanted = true;
                        }
                    }
                }
                changed = changes.changed(), if on_change => match changed {
                    Ok(()) => wanted = true,
                    Err(_) => on_change = false,
                },
            }
        }
    }
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

/// A seed for the jitter of one connection: different for every connection of every node,
/// the same from run to run (so tests under paused time replay).
fn seed(node: &NodeId, connection: ConnectionId) -> u64 {
    node.as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        ^ connection.get()
}

/// The pause before the next tick: the interval plus a random jitter.
fn pause(config: &NodeConfig, rng: &mut SmallRng) -> Duration {
    let jitter = u64::try_from(config.gossip_jitter.as_nanos()).unwrap_or(u64::MAX);
    let extra = if jitter == 0 {
        0
    } else {
        rng.gen_range(0..=jitter)
    };
    config.gossip_interval + Duration::from_nanos(extra)
}
