//! The shared node: a [`Gossip`] behind a mutex, with events and connections.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{BoxStream, StreamExt};
use scuttle_core::{
    Entry, Event, Gossip, LastWriterWins, NodeId, Resolver, ScuttleBreadth, SetError, Sorter,
    Version,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::NodeConfig;
use crate::connection::{self, ConnShared, ConnectionHandle};
use crate::error::ConnectionError;
use crate::event::{ConnectionId, NodeEvent};

/// A stream of [`NodeEvent`]s, from [`Node::events`].
pub type EventStream<K, V> = BoxStream<'static, NodeEvent<K, V>>;

/// What the mutex guards: the state machine and the map from connection keys to peer ids.
pub(crate) struct Shared<K, V, R, S> {
    pub(crate) gossip: Gossip<K, V, R, S>,
    /// Connection key (the peer id the core sees, one per connection) -> the peer's node id.
    pub(crate) links: HashMap<NodeId, NodeId>,
}

pub(crate) struct Inner<K, V, R, S> {
    pub(crate) id: NodeId,
    pub(crate) config: NodeConfig,
    shared: Mutex<Shared<K, V, R, S>>,
    events: broadcast::Sender<NodeEvent<K, V>>,
    /// Bumped whenever the state changes; connections start a round when it moves.
    pub(crate) changed: watch::Sender<u64>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    next_connection: AtomicU64,
}

/// A scuttlebutt node shared by the tasks of an application and by its connections.
///
/// `Node` is a cheap handle (an [`Arc`]): clone it into every task that reads or writes the
/// replicated map, and hand byte streams to [`connect`](Self::connect) or
/// [`spawn_connection`](Self::spawn_connection), one per peer. Every method takes the lock on
/// the [`Gossip`] for a moment and never across an `.await`.
///
/// ```
/// use scuttle_core::Gossip;
/// use scuttle_tokio::{Node, NodeConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let a: Node<String, String> = Node::new(Gossip::with_defaults("a"), NodeConfig::default());
/// let b: Node<String, String> = Node::new(Gossip::with_defaults("b"), NodeConfig::default());
/// a.set("greeting".into(), "hello".into()).unwrap();
///
/// // Any AsyncRead + AsyncWrite works: a TCP stream, a Unix socket, an in-memory pipe.
/// let (io_a, io_b) = tokio::io::duplex(64 * 1024);
/// a.spawn_connection(io_a);
/// b.spawn_connection(io_b);
///
/// while b.value("greeting").is_none() {
///     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
/// }
/// assert_eq!(b.value("greeting").as_deref(), Some("hello"));
/// a.shutdown().await;
/// b.shutdown().await;
/// # }
/// ```
pub struct Node<K, V, R = LastWriterWins, S = ScuttleBreadth> {
    pub(crate) inner: Arc<Inner<K, V, R, S>>,
}

impl<K, V, R, S> Clone for Node<K, V, R, S> {
    fn clone(&self) -> Self {
        Node {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, R, S> std::fmt::Debug for Node<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

impl<K, V, R, S> Node<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + 'static,
    R: Resolver<K, V> + Send + 'static,
    S: Sorter<K, V> + Send + 'static,
{
    /// Wraps `gossip` (which may already hold state, see
    /// [`Gossip::with_state`](scuttle_core::Gossip::with_state)). No task starts until a
    /// connection does.
    pub fn new(gossip: Gossip<K, V, R, S>, config: NodeConfig) -> Self {
        let config = config.normalized();
        let (events, _) = broadcast::channel(config.event_capacity);
        let (changed, _) = watch::channel(0);
        Node {
            inner: Arc::new(Inner {
                id: gossip.id().clone(),
                config,
                shared: Mutex::new(Shared {
                    gossip,
                    links: HashMap::new(),
                }),
                events,
                changed,
                cancel: CancellationToken::new(),
                tracker: TaskTracker::new(),
                next_connection: AtomicU64::new(1),
            }),
        }
    }

    // ------------------------------------------------------------ getters

    /// This node's id.
    pub fn id(&self) -> &NodeId {
        &self.inner.id
    }

    /// The settings.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// The entry of `key`, tombstones included.
    pub fn get<Q>(&self, key: &Q) -> Option<Entry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(|g| g.get(key).cloned())
    }

    /// The live value of `key` (`None` when absent or deleted).
    pub fn value<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read(|g| g.value(key).cloned())
    }

    /// Every live key and value.
    pub fn snapshot(&self) -> HashMap<K, V> {
        self.read(|g| g.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// Every entry, tombstones included.
    pub fn entries(&self) -> HashMap<K, Entry<V>> {
        self.read(|g| g.entries().map(|(k, e)| (k.clone(), e.clone())).collect())
    }

    /// The highest version this node has seen (see [`Gossip::version`]).
    pub fn version(&self) -> Version {
        self.read(Gossip::version)
    }

    /// Runs `f` on the state machine, for the getters this handle does not copy (watermarks,
    /// history, stats). The lock is held while `f` runs: keep it short.
    pub fn with_gossip<T>(&self, f: impl FnOnce(&Gossip<K, V, R, S>) -> T) -> T {
        self.read(f)
    }

    /// The ids of the peers with an open connection (one entry per connection).
    pub fn peers(&self) -> Vec<NodeId> {
        let shared = self.lock();
        shared.links.values().cloned().collect()
    }

    // ------------------------------------------------------------ commands

    /// Writes `key = value` (see [`Gossip::set`]); connections notice and gossip it.
    pub fn set(&self, key: K, value: V) -> Result<Version, SetError> {
        self.locked(|sh| sh.gossip.set(key, value))
    }

    /// Deletes `key` with a tombstone (see [`Gossip::delete`]).
    pub fn delete(&self, key: K) -> Result<Version, SetError> {
        self.locked(|sh| sh.gossip.delete(key))
    }

    /// Events from now on: core events (updates, compactions), peers connected and
    /// disconnected, connection errors. Every call makes an independent subscriber with its
    /// own bounded buffer ([`NodeConfig::event_capacity`]); a subscriber that falls behind
    /// gets [`NodeEvent::Lagged`]. The stream ends when every handle to the node is dropped.
    pub fn events(&self) -> EventStream<K, V> {
        let rx = self.inner.events.subscribe();
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

    /// The raw broadcast receiver behind [`events`](Self::events).
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent<K, V>> {
        self.inner.events.subscribe()
    }

    /// Runs one peer connection over `io` until it ends: handshake, then gossip in both
    /// directions. Returns the peer's id when the connection ended cleanly (the peer closed
    /// the stream, or it was closed locally by [`shutdown`](Self::shutdown)), or why it
    /// failed. Either way the node and its other connections go on.
    pub async fn connect<IO>(&self, io: IO) -> Result<NodeId, Arc<ConnectionError>>
    where
        IO: AsyncRead + AsyncWrite,
    {
        let conn = self.new_connection();
        let cancel = self.inner.cancel.child_token();
        self.inner
            .tracker
            .track_future(connection::run(self.clone(), io, conn, cancel))
            .await
    }

    /// Spawns [`connect`](Self::connect) on the current tokio runtime and returns a handle to
    /// watch or close the connection. Must be called within a tokio runtime.
    pub fn spawn_connection<IO>(&self, io: IO) -> ConnectionHandle
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let conn = self.new_connection();
        let cancel = self.inner.cancel.child_token();
        let task = self.inner.tracker.spawn(connection::run(
            self.clone(),
            io,
            Arc::clone(&conn),
            cancel.clone(),
        ));
        ConnectionHandle::new(conn, cancel, task)
    }

    /// Closes every connection (each ends with [`DisconnectReason::Closed`](crate::DisconnectReason))
    /// and waits until their tasks have finished. Connections started afterwards close at
    /// once. The state stays readable and writable.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    // ------------------------------------------------------------ internals

    fn new_connection(&self) -> Arc<ConnShared> {
        let id = self.inner.next_connection.fetch_add(1, Ordering::Relaxed);
        Arc::new(ConnShared::new(ConnectionId(id)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared<K, V, R, S>> {
        // A panic in another holder cannot leave the core half-updated in a way that matters
        // more than stopping the node would, so a poisoned lock is used as is.
        self.inner
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read<T>(&self, f: impl FnOnce(&Gossip<K, V, R, S>) -> T) -> T {
        let shared = self.lock();
        f(&shared.gossip)
    }

    /// Runs `f` under the lock, then forwards the core's events and wakes the connections if
    /// the state changed. The lock is never held across an `.await`.
    pub(crate) fn locked<T>(&self, f: impl FnOnce(&mut Shared<K, V, R, S>) -> T) -> T {
        let mut shared = self.lock();
        let before = (
            shared.gossip.version(),
            shared.gossip.stats().updates_applied,
        );
        let out = f(&mut shared);
        let after = (
            shared.gossip.version(),
            shared.gossip.stats().updates_applied,
        );
        let mut changed = before != after;
        while let Some(event) = shared.gossip.poll_event() {
            let event = match event {
                Event::Update { key, entry, from } => Event::Update {
                    key,
                    entry,
                    from: from.map(|k| shared.links.get(&k).cloned().unwrap_or(k)),
                },
                Event::Forgotten { key } => {
                    changed = true;
                    Event::Forgotten { key }
                }
                other => other,
            };
            // An error only means that nobody listens.
            let _ = self.inner.events.send(NodeEvent::Core(event));
        }
        drop(shared);
        if changed {
            self.inner.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
        out
    }

    pub(crate) fn emit(&self, event: NodeEvent<K, V>) {
        let _ = self.inner.events.send(event);
    }
}
