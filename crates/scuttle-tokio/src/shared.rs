//! What a node's handles, its connections and its timer share: the state machine behind a
//! mutex, the event channel, the change signal. Connections get an `Arc` of it; nothing here
//! knows about connections.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scuttle_core::{Gossip, Message, Millis, NodeId, ReceiveError};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bounds::{Key, NodeResolver, NodeSorter, Value};
use crate::config::NodeConfig;
use crate::event::{ConnectionId, NodeEvent};

/// The time passed to the core: milliseconds since the Unix epoch on the system clock.
pub(crate) fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) struct Shared<K, V, R, S> {
    pub(crate) id: NodeId,
    pub(crate) config: NodeConfig,
    /// A copy of the core's config, for the codecs' limits.
    pub(crate) core_config: scuttle_core::Config,
    gossip: Mutex<Gossip<K, V, R, S>>,
    events: broadcast::Sender<NodeEvent<K, V>>,
    /// Bumped whenever the node's digest changes: connections then start an exchange, the
    /// timer looks at the next deadline again.
    changed: watch::Sender<u64>,
    /// The peer of every connection whose handshake completed.
    peers: Mutex<BTreeMap<ConnectionId, NodeId>>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
    next_connection: AtomicU64,
    /// Connections whose task is running.
    pub(crate) open_connections: Arc<AtomicUsize>,
    timer_started: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another holder cannot leave the core half-updated in a way that matters more
    // than stopping the node would (the core decides, then commits), so a poisoned lock is
    // used as is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Key, V: Value, R: NodeResolver<K, V>, S: NodeSorter<K, V>> Shared<K, V, R, S> {
    pub(crate) fn new(gossip: Gossip<K, V, R, S>, config: NodeConfig) -> Self {
        let config = config.normalized();
        let (events, _) = broadcast::channel(config.event_capacity);
        Shared {
            id: gossip.id().clone(),
            core_config: gossip.config().clone(),
            config,
            gossip: Mutex::new(gossip),
            events,
            changed: watch::Sender::new(0),
            peers: Mutex::new(BTreeMap::new()),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            open_connections: Arc::new(AtomicUsize::new(0)),
            next_connection: AtomicU64::new(1),
            timer_started: AtomicBool::new(false),
        }
    }

    /// Runs `f` on the state machine under the lock (never held across an `.await`).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Gossip<K, V, R, S>) -> T) -> T {
        f(&lock(&self.gossip))
    }

    /// Runs `f` with the current time under the lock, then hands the core's events to the
    /// subscribers (with the peer that caused them) and signals a change of the digest.
    pub(crate) fn update<T>(
        &self,
        from: Option<&NodeId>,
        f: impl FnOnce(&mut Gossip<K, V, R, S>, Millis) -> T,
    ) -> T {
        let mut gossip = lock(&self.gossip);
        let before = gossip.digest_hash();
        let out = f(&mut gossip, now_ms());
        let changed = gossip.digest_hash() != before;
        while let Some(event) = gossip.poll_event() {
            // An error only means that nobody listens.
            let _ = self.events.send(NodeEvent::Core {
                event,
                from: from.cloned(),
            });
        }
        drop(gossip);
        if changed {
            self.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
        out
    }

    /// Hands a peer's message to the core; returns the reply to send back to that peer.
    pub(crate) fn handle(
        &self,
        from: &NodeId,
        msg: Message<K, V>,
    ) -> Result<Option<Message<K, V>>, ReceiveError<R::Error>> {
        self.update(Some(from), |g, now| g.handle_message(now, msg))
    }

    /// The message that opens an exchange.
    pub(crate) fn start_exchange(&self) -> Message<K, V> {
        self.read(Gossip::start_exchange)
    }

    pub(crate) fn emit(&self, event: NodeEvent<K, V>) {
        let _ = self.events.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<NodeEvent<K, V>> {
        self.events.subscribe()
    }

    /// A receiver that sees every later change of the digest.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn next_connection_id(&self) -> ConnectionId {
        ConnectionId(self.next_connection.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn add_peer(&self, connection: ConnectionId, peer: NodeId) {
        lock(&self.peers).insert(connection, peer);
    }

    pub(crate) fn remove_peer(&self, connection: ConnectionId) {
        lock(&self.peers).remove(&connection);
    }

    pub(crate) fn peers(&self) -> Vec<NodeId> {
        lock(&self.peers).values().cloned().collect()
    }

    /// Starts the task that calls `handle_timeout` when `poll_timeout` says, once, if a tokio
    /// runtime is at hand (else a later call starts it). The task holds only a weak reference
    /// and ends when the last handle to the node is gone.
    pub(crate) fn ensure_timer(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.timer_started.swap(true, Ordering::AcqRel) {
            return;
        }
        runtime.spawn(timer(Arc::downgrade(self), self.changes()));
    }
}

/// Calls the core's `handle_timeout` whenever its `poll_timeout` deadline passes.
async fn timer<K, V, R, S>(shared: Weak<Shared<K, V, R, S>>, mut changes: watch::Receiver<u64>)
where
    K: Key,
    V: Value,
    R: NodeResolver<K, V>,
    S: NodeSorter<K, V>,
{
    loop {
        let wait = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let deadline = shared.read(Gossip::poll_timeout);
            match deadline {
                Some(deadline) if deadline <= now_ms() => {
                    match shared.update(None, |g, now| g.handle_timeout(now)) {
                        Ok(_) => continue,
                        // The store refused: nothing was collected. Retry later, not at once.
                        Err(_) => Some(Duration::from_secs(1)),
                    }
                }
                Some(deadline) => Some(Duration::from_millis(deadline - now_ms().min(deadline))),
                None => None,
            }
        };
        tokio::select! {
            // A change may bring a tombstone that is due sooner; the sender is gone when the
            // node is.
            r = changes.changed() => if r.is_err() { return },
            () = sleep_or_forever(wait) => {}
        }
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
