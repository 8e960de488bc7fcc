//! The node handle: a [`Gossip`] shared by the application's tasks and the node's connections.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use scuttle_core::{Entry, Gossip, LastWriterWins, NodeId, ScuttleBreadth, SetError, Version};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::bounds::{Key, NodeResolver, NodeSorter, Value};
use crate::config::{NodeConfig, WireFormat};
use crate::connection::{self, ConnShared, ConnectionHandle};
use crate::error::ConnectionError;
use crate::event::NodeEvent;
use crate::shared::Shared;

/// A stream of [`NodeEvent`]s, from [`Node::events`].
pub type EventStream<K, V> = BoxStream<'static, NodeEvent<K, V>>;

/// How long [`Node::listen`] waits after a failed `accept` (for example when the process is
/// out of file descriptors) before it tries again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A scuttlebutt node shared by the tasks of an application and by its connections.
///
/// `Node` is a cheap handle (an [`Arc`]): clone it into every task that reads or writes the
/// replicated map, and hand byte streams to [`connect`](Self::connect) or
/// [`spawn_connection`](Self::spawn_connection) (or a TCP listener to
/// [`listen`](Self::listen)), one stream per peer. Every method takes the lock on the
/// [`Gossip`] for a moment and never across an `.await`. The time given to the core is the
/// system clock's, in milliseconds since the Unix epoch.
///
/// ```
/// use futures::StreamExt;
/// use scuttle_core::{Event, Gossip};
/// use scuttle_tokio::{Node, NodeConfig, NodeEvent};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let a: Node<String, String> = Node::new(Gossip::with_defaults("a"), NodeConfig::default());
/// let b: Node<String, String> = Node::new(Gossip::with_defaults("b"), NodeConfig::default());
/// let mut events = b.events();
/// a.set("greeting".into(), "hello".into()).unwrap();
///
/// // Any AsyncRead + AsyncWrite works: a TCP stream, a Unix socket, an in-memory pipe.
/// let (io_a, io_b) = tokio::io::duplex(64 * 1024);
/// a.spawn_connection(io_a);
/// b.spawn_connection(io_b);
///
/// while let Some(event) = events.next().await {
///     if let NodeEvent::Core { event: Event::Update { key, .. }, from } = event {
///         assert_eq!(key, "greeting");
///         assert_eq!(from.as_ref().map(|p| p.as_str()), Some("a"));
///         break;
///     }
/// }
/// assert_eq!(b.value("greeting").as_deref(), Some("hello"));
/// a.shutdown().await;
/// b.shutdown().await;
/// # }
/// ```
pub struct Node<K, V, R = LastWriterWins, S = ScuttleBreadth> {
    shared: Arc<Shared<K, V, R, S>>,
}

impl<K, V, R, S> Clone for Node<K, V, R, S> {
    fn clone(&self) -> Self {
        Node {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K, V, R, S> std::fmt::Debug for Node<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

impl<K: Key, V: Value, R: NodeResolver<K, V>, S: NodeSorter<K, V>> Node<K, V, R, S> {
    /// Wraps `gossip` (which may already hold state, see
    /// [`Gossip::with_state`](scuttle_core::Gossip::with_state)); its core
    /// [`Config`](scuttle_core::Config) sets the codecs' frame limits. Within a tokio runtime
    /// this starts the node's timer task (tombstone collection); otherwise the first
    /// connection does.
    pub fn new(gossip: Gossip<K, V, R, S>, config: NodeConfig) -> Self {
        let node = Node {
            shared: Arc::new(Shared::new(gossip, config)),
        };
        node.shared.ensure_timer();
        node
    }

    // ------------------------------------------------------------ getters

    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.shared.id
    }

    /// The settings.
    pub fn config(&self) -> &NodeConfig {
        &self.shared.config
    }

    /// The entry of `key`, tombstones included.
    pub fn get<Q>(&self, key: &Q) -> Option<Entry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.read(|g| g.get(key).cloned())
    }

    /// The live value of `key` (`None` when absent or deleted).
    pub fn value<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shared.read(|g| g.value(key).cloned())
    }

    /// Every live key and value.
    pub fn snapshot(&self) -> HashMap<K, V> {
        self.shared
            .read(|g| g.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// Every entry, tombstones included.
    pub fn entries(&self) -> HashMap<K, Entry<V>> {
        self.shared
            .read(|g| g.entries().map(|(k, e)| (k.clone(), e.clone())).collect())
    }

    /// The highest version this node has seen (see [`Gossip::version`]).
    pub fn version(&self) -> Version {
        self.shared.read(Gossip::version)
    }

    /// Runs `f` on the state machine, for the getters this handle does not copy (watermarks,
    /// history, stats). The lock is held while `f` runs: keep it short.
    pub fn with_gossip<T>(&self, f: impl FnOnce(&Gossip<K, V, R, S>) -> T) -> T {
        self.shared.read(f)
    }

    /// The ids of the peers with an open connection (one entry per connection).
    pub fn peers(&self) -> Vec<NodeId> {
        self.shared.peers()
    }

    // ------------------------------------------------------------ commands

    /// Writes `key = value` at the system time (see [`Gossip::set`]); every connection
    /// starts an exchange soon after. A write that could never fit one message is refused with
    /// [`SetError::TooLarge`] and changes nothing.
    pub fn set(&self, key: K, value: V) -> Result<Version, SetError<R::Error>> {
        self.shared.ensure_timer();
        self.shared.update(None, |g, now| g.set(now, key, value))
    }

    /// Deletes `key` with a tombstone at the system time (see [`Gossip::delete`]).
    pub fn delete(&self, key: K) -> Result<Version, SetError<R::Error>> {
        self.shared.ensure_timer();
        self.shared.update(None, |g, now| g.delete(now, key))
    }

    /// Events from now on: core events with the peer that caused them, peers connected and
    /// disconnected, connection errors, policy failures. Every call makes an independent
    /// subscriber with its own bounded buffer ([`NodeConfig::event_capacity`]); a subscriber
    /// that falls behind gets [`NodeEvent::Lagged`]. The stream ends when every handle to the
    /// node (and every connection) is gone.
    pub fn events(&self) -> EventStream<K, V> {
        let rx = self.shared.subscribe();
        futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(event) => Some((event, rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((NodeEvent::Lagged { missed }, rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .boxed()
    }

    // ------------------------------------------------------------ connections

    /// Runs one peer connection over `io` until it ends: handshake, then exchanges in both
    /// directions. Returns the peer's id when the connection ended cleanly (the peer closed
    /// the stream, or it was closed locally by [`shutdown`](Self::shutdown)), or why it
    /// failed. Either way the node and its other connections go on.
    pub async fn connect<IO>(&self, io: IO) -> Result<NodeId, Arc<ConnectionError>>
    where
        IO: AsyncRead + AsyncWrite,
    {
        self.connect_with(io, self.shared.config.wire_format).await
    }

    /// [`connect`](Self::connect) in `format` instead of the node's
    /// [`wire_format`](NodeConfig::wire_format) (say, seed peers beside scuttle peers).
    pub async fn connect_with<IO>(
        &self,
        io: IO,
        format: WireFormat,
    ) -> Result<NodeId, Arc<ConnectionError>>
    where
        IO: AsyncRead + AsyncWrite,
    {
        self.shared.ensure_timer();
        let conn = Arc::new(ConnShared::new(self.shared.next_connection_id()));
        let cancel = self.shared.cancel.child_token();
        let run = connection::run(Arc::clone(&self.shared), io, conn, cancel, format);
        self.shared.tracker.track_future(run).await
    }

    /// Spawns [`connect`](Self::connect) on the current tokio runtime and returns a handle to
    /// watch or close the connection. Must be called within a tokio runtime.
    pub fn spawn_connection<IO>(&self, io: IO) -> ConnectionHandle
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.spawn_connection_with(io, self.shared.config.wire_format)
    }

    /// [`spawn_connection`](Self::spawn_connection) in `format` instead of the node's
    /// [`wire_format`](NodeConfig::wire_format).
    pub fn spawn_connection_with<IO>(&self, io: IO, format: WireFormat) -> ConnectionHandle
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        self.shared.ensure_timer();
        let conn = Arc::new(ConnShared::new(self.shared.next_connection_id()));
        let cancel = self.shared.cancel.child_token();
        // Counted while its task runs, however it ends (the guard goes with the future).
        let open = OpenConnection::count(&self.shared.open_connections);
        let run = connection::run(
            Arc::clone(&self.shared),
            io,
            Arc::clone(&conn),
            cancel.clone(),
            format,
        );
        let run = async move {
            let _open = open;
            run.await
        };
        ConnectionHandle::new(conn, cancel, self.shared.tracker.spawn(run))
    }

    /// Accepts peers on `listener` until [`shutdown`](Self::shutdown), spawning a connection
    /// for each (with `TCP_NODELAY` set). A failed `accept` is retried after a short pause.
    /// Must be called within a tokio runtime.
    pub fn listen(&self, listener: TcpListener) -> JoinHandle<()> {
        let node = self.clone();
        let cancel = self.shared.cancel.clone();
        self.shared.tracker.spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = cancel.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let max = node.shared.config.max_connections;
                        if node.shared.open_connections.load(Ordering::Relaxed) >= max {
                            drop(stream);
                            node.shared.emit(NodeEvent::ConnectionRefused {
                                max_connections: max,
                            });
                            continue;
                        }
                        // Only a latency hint: the connection works without it.
                        let _ = stream.set_nodelay(true);
                        node.spawn_connection(stream);
                    }
                    Err(_) => tokio::select! {
                        _ = cancel.cancelled() => return,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    },
                }
            }
        })
    }

    /// Closes every connection (each ends with
    /// [`DisconnectReason::Closed`](crate::DisconnectReason)), stops [`listen`](Self::listen),
    /// and waits until their tasks have finished. Connections started afterwards close at
    /// once. The state stays readable and writable.
    pub async fn shutdown(&self) {
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }
}

/// One open connection in the node's count of open connections, for as long
/// as it lives.
struct OpenConnection(Arc<AtomicUsize>);

impl OpenConnection {
    fn count(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(open))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
