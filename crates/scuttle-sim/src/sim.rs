//! The simulated network: nodes, messages in flight, faults, partitions, crashes and a clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{Debug, Display};
use std::hash::Hash;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scuttle_core::wire::message_len;
use scuttle_core::{
    Entry, Event, Gossip, MemoryStore, Message, Millis, NodeId, Resolver, Sorter, Update, Version,
};
use serde::Serialize;

use crate::{expected_state, node_id, Faults, NetStats, SimError};

/// Milliseconds the clock moves per network step.
pub const TICK_MS: u64 = 10;

/// The clock's value when a simulation starts (milliseconds since the Unix epoch, late 2023).
pub const START_MS: Millis = 1_700_000_000_000;

/// A callback that sees every message a node sends: the sender (its state right after it
/// built the message), the sender's index, the recipient's index and the message, before any
/// fault acts on it. Set it with [`Sim::observe`].
pub type Observer<K, V, R, S> = Box<dyn FnMut(&Gossip<K, V, R, S>, usize, usize, &Message<K, V>)>;

type Factory<K, V, R, S> = Box<dyn Fn(NodeId) -> Gossip<K, V, R, S>>;

/// An event a node reported, with where it happened. Kept only after
/// [`Sim::record_events`]`(true)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent<K, V> {
    /// The node that reported it.
    pub node: usize,
    /// The node whose message caused it (`None` for local writes and timeouts).
    pub from: Option<usize>,
    /// The event.
    pub event: Event<K, V>,
}

struct InFlight<K, V> {
    deliver_at: u64,
    seq: u64,
    from: usize,
    to: usize,
    msg: Message<K, V>,
}

struct SimNode<K, V, R, S> {
    gossip: Gossip<K, V, R, S>,
    up: bool,
}

/// A deterministic network of [`Gossip`] nodes.
///
/// Commands ([`set`](Self::set), [`delete`](Self::delete), [`gossip`](Self::gossip)) act at
/// once; messages move only when the network [`step`](Self::step)s. Each step moves the clock
/// by [`TICK_MS`], lets every node whose [`poll_timeout`](Gossip::poll_timeout) has come
/// collect its tombstones, and delivers every message that is due. A delivered message's
/// reply is sent back to its sender and arrives one step later (or suffers its own faults).
pub struct Sim<K, V, R, S> {
    nodes: Vec<SimNode<K, V, R, S>>,
    ids: Vec<NodeId>,
    index: HashMap<NodeId, usize>,
    factory: Factory<K, V, R, S>,
    now: Millis,
    rng: SmallRng,
    faults: Faults,
    net: Vec<InFlight<K, V>>,
    seq: u64,
    step: u64,
    groups: Option<Vec<usize>>,
    writes: Vec<Update<K, V>>,
    stats: NetStats,
    record_events: bool,
    events: Vec<SimEvent<K, V>>,
    observer: Option<Observer<K, V, R, S>>,
    /// Each node's store, when the simulation keeps them ([`Sim::with_stores`]).
    stores: Vec<Option<MemoryStore<K, V>>>,
}

impl<K, V, R, S> Sim<K, V, R, S>
where
    K: Clone + Eq + Hash + Ord + Debug + Serialize + Send + Sync + 'static,
    V: Clone + PartialEq + Debug + Serialize + Send + Sync + 'static,
    R: Resolver<K, V>,
    R::Error: Display,
    S: Sorter<K, V>,
{
    /// Gives every node a [`MemoryStore`] (the nodes must be fresh: call it right after
    /// [`new`](Self::new)): every change a node makes is persisted there first, and
    /// [`restart_from_store`](Self::restart_from_store) reopens it, as a real node reopens
    /// its file after `kill -9`.
    ///
    /// # Panics
    /// If a node already holds data.
    pub fn with_stores(mut self) -> Self {
        self.stores = Vec::with_capacity(self.nodes.len());
        for i in 0..self.nodes.len() {
            let store = MemoryStore::new();
            let fresh = (self.factory)(self.ids[i].clone());
            self.nodes[i].gossip = fresh
                .with_store(store.clone())
                .expect("a fresh node opens an empty store");
            self.stores.push(Some(store));
        }
        self
    }

    /// Restarts node `i` (crashing it first if needed) as a fresh node from the factory,
    /// opened on its store: it comes back with everything it persisted, and nothing it held
    /// only in memory. Without stores ([`with_stores`](Self::with_stores)) it restarts empty.
    pub fn restart_from_store(&mut self, i: usize) {
        let Some(Some(store)) = self.stores.get(i) else {
            self.restart_empty(i);
            return;
        };
        let store = store.clone();
        self.crash(i);
        let fresh = (self.factory)(self.ids[i].clone());
        // A store the node itself filled loads; a failure here is a bug in the core.
        let gossip = fresh
            .with_store(store)
            .expect("a node reopens its own store");
        self.nodes[i] = SimNode { gossip, up: true };
    }
}

impl<K, V, R, S> Debug for Sim<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("nodes", &self.ids)
            .field("now", &self.now)
            .field("step", &self.step)
            .field("in_flight", &self.net.len())
            .field("faults", &self.faults)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<K, V, R, S> Sim<K, V, R, S>
where
    K: Clone + Eq + Hash + Ord + Debug + Serialize,
    V: Clone + PartialEq + Debug + Serialize,
    R: Resolver<K, V>,
    R::Error: Display,
    S: Sorter<K, V>,
{
    /// `n` nodes built by `factory(id)` (ids from [`node_id`]), a network with `faults`, and
    /// a scheduler seeded with `seed`. The clock starts at [`START_MS`]. `factory` is called
    /// again by [`restart_from_snapshot`](Self::restart_from_snapshot).
    pub fn new(
        n: usize,
        seed: u64,
        faults: Faults,
        factory: impl Fn(NodeId) -> Gossip<K, V, R, S> + 'static,
    ) -> Self {
        let ids: Vec<NodeId> = (0..n).map(node_id).collect();
        let nodes = ids
            .iter()
            .map(|id| SimNode {
                gossip: factory(id.clone()),
                up: true,
            })
            .collect();
        Sim {
            nodes,
            index: ids
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, id)| (id, i))
                .collect(),
            ids,
            factory: Box::new(factory),
            now: START_MS,
            rng: SmallRng::seed_from_u64(seed),
            faults,
            net: Vec::new(),
            seq: 0,
            step: 0,
            groups: None,
            writes: Vec::new(),
            stats: NetStats::default(),
            record_events: false,
            events: Vec::new(),
            observer: None,
            stores: Vec::new(),
        }
    }

    // ------------------------------------------------------------ getters

    /// Number of nodes (up or down).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the simulation has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Gossip<K, V, R, S> {
        &self.nodes[i].gossip
    }

    /// Node `i`, mutably. Writes made through it bypass [`writes`](Self::writes) (so
    /// [`check_converged`](Self::check_converged) does not know them), and its events are
    /// drained with those of the node's next input.
    pub fn node_mut(&mut self, i: usize) -> &mut Gossip<K, V, R, S> {
        &mut self.nodes[i].gossip
    }

    /// The id of node `i`.
    pub fn id(&self, i: usize) -> &NodeId {
        &self.ids[i]
    }

    /// Whether node `i` is up.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].up
    }

    /// The index of the node with id `id`.
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The clock: milliseconds since the Unix epoch, as the simulation has it.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Network steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Messages in flight.
    pub fn in_flight(&self) -> usize {
        self.net.len()
    }

    /// Network counters.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Every local write a node accepted, in order.
    pub fn writes(&self) -> &[Update<K, V>] {
        &self.writes
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Changes the faults for messages sent from now on.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// The scheduler's random number generator (to draw schedules from the same seed).
    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }

    /// Whether no message is in flight.
    pub fn is_quiet(&self) -> bool {
        self.net.is_empty()
    }

    /// Starts (or stops) keeping the nodes' events in [`events`](Self::events). Off by
    /// default: events are drained and dropped.
    pub fn record_events(&mut self, on: bool) {
        self.record_events = on;
    }

    /// The events recorded so far, oldest first.
    pub fn events(&self) -> &[SimEvent<K, V>] {
        &self.events
    }

    /// Takes the events recorded so far.
    pub fn take_events(&mut self) -> Vec<SimEvent<K, V>> {
        std::mem::take(&mut self.events)
    }

    /// Calls `f` for every message a node sends from now on (see [`Observer`]).
    pub fn observe(
        &mut self,
        f: impl FnMut(&Gossip<K, V, R, S>, usize, usize, &Message<K, V>) + 'static,
    ) {
        self.observer = Some(Box::new(f));
    }

    // ------------------------------------------------------------ commands

    /// Node `i` writes `key = value` at [`now`](Self::now); an accepted write is logged in
    /// [`writes`](Self::writes).
    pub fn set(&mut self, i: usize, key: K, value: V) -> Result<Version, SimError> {
        self.write(i, key, Some(value))
    }

    /// Node `i` deletes `key` at [`now`](Self::now); an accepted delete is logged in
    /// [`writes`](Self::writes).
    pub fn delete(&mut self, i: usize, key: K) -> Result<Version, SimError> {
        self.write(i, key, None)
    }

    fn write(&mut self, i: usize, key: K, value: Option<V>) -> Result<Version, SimError> {
        if !self.nodes[i].up {
            return Err(SimError::NodeDown(i));
        }
        let now = self.now;
        let g = &mut self.nodes[i].gossip;
        let version = match value {
            Some(v) => g.set(now, key.clone(), v),
            None => g.delete(now, key.clone()),
        }
        .map_err(SimError::set)?;
        if let Some(entry) = g.get(&key) {
            self.writes.push(entry.to_update(key));
        }
        self.drain_events(i, None);
        Ok(version)
    }

    /// Node `i` starts an exchange with node `j`: its `Syn` goes on the wire (nothing happens
    /// if `i` is down or `i == j`).
    pub fn gossip(&mut self, i: usize, j: usize) {
        if !self.nodes[i].up || i == j {
            return;
        }
        let syn = self.nodes[i].gossip.start_exchange();
        self.send(i, j, syn);
    }

    /// Hands `msg` to node `i` as if a peer outside the simulation sent it (a byzantine
    /// one, say): its events are drained, its reply is dropped, and a refusal comes back as
    /// the error. A down node takes nothing.
    pub fn inject(&mut self, i: usize, msg: Message<K, V>) -> Result<(), SimError> {
        self.inject_as(i, None, msg)
    }

    /// [`inject`](Self::inject) as if the transport had authenticated the sender as `from`
    /// (a byzantine peer's own id, say).
    pub fn inject_from(
        &mut self,
        i: usize,
        from: &str,
        msg: Message<K, V>,
    ) -> Result<(), SimError> {
        self.inject_as(i, Some(from), msg)
    }

    fn inject_as(
        &mut self,
        i: usize,
        from: Option<&str>,
        msg: Message<K, V>,
    ) -> Result<(), SimError> {
        if !self.nodes[i].up {
            return Err(SimError::NodeDown(i));
        }
        let result = match from {
            Some(from) => self.nodes[i]
                .gossip
                .handle_message_from(self.now, from, msg),
            None => self.nodes[i].gossip.handle_message(self.now, msg),
        };
        self.drain_events(i, None);
        result
            .map(|_| ())
            .map_err(|e| SimError::receive(&self.ids[i], e))
    }

    /// Every up node starts an exchange with a random other node.
    pub fn gossip_round(&mut self) {
        self.gossip_round_with(1);
    }

    /// Every up node starts exchanges with `fanout` distinct random other nodes (at most all
    /// of them).
    pub fn gossip_round_with(&mut self, fanout: usize) {
        let n = self.nodes.len();
        if n < 2 {
            return;
        }
        let fanout = fanout.min(n - 1);
        for i in 0..n {
            if fanout == 1 {
                let mut j = self.rng.gen_range(0..n - 1);
                if j >= i {
                    j += 1;
                }
                self.gossip(i, j);
                continue;
            }
            let peers = rand::seq::index::sample(&mut self.rng, n - 1, fanout);
            for j in peers.iter() {
                self.gossip(i, if j >= i { j + 1 } else { j });
            }
        }
    }

    /// Moves the clock `ms` forward (no message moves); nodes whose tombstones are due
    /// collect them.
    pub fn advance(&mut self, ms: u64) {
        self.now = self.now.saturating_add(ms);
        self.fire_timeouts();
    }

    fn fire_timeouts(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            if node.up && node.gossip.poll_timeout().is_some_and(|t| t <= now) {
                // A collection the store refuses changes nothing; the tombstones stay due and
                // go at the next timeout.
                let _ = node.gossip.handle_timeout(now);
                self.drain_events(i, None);
            }
        }
    }

    fn drain_events(&mut self, i: usize, from: Option<usize>) {
        while let Some(event) = self.nodes[i].gossip.poll_event() {
            if self.record_events {
                self.events.push(SimEvent {
                    node: i,
                    from,
                    event,
                });
            }
        }
    }

    /// Node `from` sends `msg` to node `to`: counted, shown to the observer, then put on the
    /// wire with the faults in force.
    fn send(&mut self, from: usize, to: usize, msg: Message<K, V>) {
        let len = message_len(&msg) as u64;
        self.stats.messages += 1;
        self.stats.bytes += len;
        self.stats.largest = self.stats.largest.max(len);
        if let Some(observe) = self.observer.as_mut() {
            observe(&self.nodes[from].gossip, from, to, &msg);
        }
        self.put_on_wire(from, to, msg);
    }

    fn put_on_wire(&mut self, from: usize, mut to: usize, msg: Message<K, V>) {
        let f = self.faults;
        if f.is_none() {
            self.enqueue(from, to, msg, 1);
            return;
        }
        if self.rng.gen_bool(f.drop.clamp(0.0, 1.0)) {
            self.stats.sent += 1;
            self.stats.dropped += 1;
            return;
        }
        let n = self.nodes.len();
        if n > 2 && self.rng.gen_bool(f.misdeliver.clamp(0.0, 1.0)) {
            let wrong = (0..n).filter(|&k| k != from && k != to).collect::<Vec<_>>();
            if let Some(&w) = wrong.choose(&mut self.rng) {
                to = w;
                self.stats.misdelivered += 1;
            }
        }
        let copies = if self.rng.gen_bool(f.duplicate.clamp(0.0, 1.0)) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for c in 0..copies {
            let mut delay = 1;
            if f.max_delay > 0 && self.rng.gen_bool(f.delay.clamp(0.0, 1.0)) {
                self.stats.delayed += 1;
                delay += self.rng.gen_range(1..=f.max_delay);
            }
            if c + 1 < copies {
                self.enqueue(from, to, msg.clone(), delay);
            } else {
                self.enqueue(from, to, msg, delay);
                break;
            }
        }
    }

    fn enqueue(&mut self, from: usize, to: usize, msg: Message<K, V>, delay: u64) {
        self.stats.sent += 1;
        self.seq += 1;
        self.net.push(InFlight {
            deliver_at: self.step + delay,
            seq: self.seq,
            from,
            to,
            msg,
        });
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.nodes[a].up && self.nodes[b].up && self.groups.as_ref().is_none_or(|g| g[a] == g[b])
    }

    /// One network step: the clock moves [`TICK_MS`], due tombstones are collected, and every
    /// message due is delivered in send order (unless a fault delayed it). Messages across a
    /// partition or to or from a crashed node are lost. Each reply goes back on the wire.
    ///
    /// Fails when a node refuses a message ([`SimError::Protocol`], [`SimError::Policy`]);
    /// the messages not yet delivered stay in flight.
    pub fn step(&mut self) -> Result<(), SimError> {
        self.step += 1;
        self.now = self.now.saturating_add(TICK_MS);
        self.fire_timeouts();
        let now = self.step;
        let (mut due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|m| m.deliver_at <= now);
        self.net = rest;
        due.sort_by_key(|m| (m.deliver_at, m.seq));
        let mut due = due.into_iter();
        while let Some(m) = due.next() {
            if !self.connected(m.from, m.to) {
                self.stats.dropped += 1;
                continue;
            }
            self.stats.delivered += 1;
            // The sender is known, as an authenticated transport knows it.
            let from = self.ids[m.from].clone();
            match self.nodes[m.to]
                .gossip
                .handle_message_from(self.now, from.as_str(), m.msg)
            {
                Ok(reply) => {
                    self.drain_events(m.to, Some(m.from));
                    if let Some(reply) = reply {
                        self.send(m.to, m.from, reply);
                    }
                }
                Err(e) => {
                    self.net.extend(due);
                    return Err(SimError::receive(&self.ids[m.to], e));
                }
            }
        }
        Ok(())
    }

    /// Steps until [`is_quiet`](Self::is_quiet); fails after `max_steps`. Returns the steps
    /// taken.
    pub fn run_until_quiet(&mut self, max_steps: u64) -> Result<u64, SimError> {
        let mut steps = 0;
        while !self.is_quiet() {
            if steps >= max_steps {
                return Err(SimError::NotQuiet {
                    steps: max_steps,
                    in_flight: self.net.len(),
                });
            }
            self.step()?;
            steps += 1;
        }
        Ok(steps)
    }

    /// Steps `steps` times (messages still in flight stay there).
    pub fn drive(&mut self, steps: u64) -> Result<(), SimError> {
        for _ in 0..steps {
            self.step()?;
        }
        Ok(())
    }

    /// Gossip rounds (each followed by [`run_until_quiet`](Self::run_until_quiet)) until every
    /// up node holds the same entries; fails after `max_rounds`. Returns the rounds used.
    pub fn settle(&mut self, max_rounds: usize) -> Result<usize, SimError> {
        const STEP_BOUND: u64 = 10_000;
        self.run_until_quiet(STEP_BOUND)?;
        for round in 0..=max_rounds {
            if self.replicas_identical() {
                return Ok(round);
            }
            if round == max_rounds {
                break;
            }
            self.gossip_round();
            self.run_until_quiet(STEP_BOUND)?;
        }
        Err(SimError::NotConverged { rounds: max_rounds })
    }

    /// Splits the network: `group[i]` is node `i`'s side; messages between sides are lost.
    ///
    /// # Panics
    ///
    /// If `group` does not name one side per node.
    pub fn partition(&mut self, group: Vec<usize>) {
        assert_eq!(group.len(), self.nodes.len(), "one group per node");
        self.groups = Some(group);
    }

    /// Splits the network into `sides` random sides.
    pub fn partition_random(&mut self, sides: usize) {
        let sides = sides.max(1);
        let group = (0..self.nodes.len())
            .map(|_| self.rng.gen_range(0..sides))
            .collect();
        self.groups = Some(group);
    }

    /// Ends any partition.
    pub fn heal(&mut self) {
        self.groups = None;
    }

    /// Ends every fault: heals the partition, restarts every crashed node (with the state it
    /// had) and turns message faults off — what a schedule does before its fault-free rounds.
    pub fn recover(&mut self) {
        self.heal();
        for node in &mut self.nodes {
            node.up = true;
        }
        self.faults = Faults::none();
    }

    /// Whether a partition is in force.
    pub fn is_partitioned(&self) -> bool {
        self.groups.is_some()
    }

    /// Crashes node `i`: every message in flight to or from it is lost, and it takes no
    /// command and no message until it restarts. Its state is kept.
    pub fn crash(&mut self, i: usize) {
        if !self.nodes[i].up {
            return;
        }
        self.nodes[i].up = false;
        self.drain_events(i, None);
        let before = self.net.len();
        self.net.retain(|m| m.from != i && m.to != i);
        self.stats.dropped += (before - self.net.len()) as u64;
    }

    /// Restarts a crashed node with the state it had.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].up = true;
    }

    /// Restarts node `i` (crashing it first if needed) as a fresh node from the factory,
    /// loaded with a snapshot of its entries through [`Gossip::with_state`]: watermarks and
    /// history are rebuilt from the state.
    ///
    /// The node's version restarts at the highest version in its state. Under
    /// [`LastWriterWins`](scuttle_core::LastWriterWins) that is above every version it issued
    /// (a superseded write lost to a higher version); under a resolver where a lower version
    /// can win (such as [`StrictlyOrderedValues`](scuttle_core::StrictlyOrderedValues)) the
    /// node could reuse a version, so do not use snapshot restarts there.
    pub fn restart_from_snapshot(&mut self, i: usize) {
        self.crash(i);
        let entries: Vec<(K, Entry<V>)> = self.nodes[i]
            .gossip
            .entries()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        let fresh = (self.factory)(self.ids[i].clone()).with_state(entries);
        self.nodes[i] = SimNode {
            gossip: fresh,
            up: true,
        };
    }

    /// Restarts node `i` (crashing it first if needed) as a fresh node from the factory that
    /// holds nothing: a restart that lost the node's memory and had no store. What it wrote
    /// and nobody else held is gone; what it gets back comes from its peers.
    pub fn restart_empty(&mut self, i: usize) {
        self.crash(i);
        let fresh = (self.factory)(self.ids[i].clone());
        self.nodes[i] = SimNode {
            gossip: fresh,
            up: true,
        };
    }

    // ------------------------------------------------------------ checks

    /// Node `i`'s entries (tombstones included), sorted by key.
    pub fn snapshot(&self, i: usize) -> BTreeMap<K, Entry<V>> {
        self.nodes[i]
            .gossip
            .entries()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect()
    }

    /// Whether every up node holds the same entries (tombstones included).
    pub fn replicas_identical(&self) -> bool {
        let mut up = self.nodes.iter().filter(|n| n.up).map(|n| &n.gossip);
        let Some(first) = up.next() else {
            return true;
        };
        let count = first.entries().count();
        let rest: Vec<_> = up.collect();
        // Cheap test first: equal entry counts.
        rest.iter().all(|n| n.entries().count() == count)
            && rest
                .iter()
                .all(|n| n.entries().all(|(k, e)| first.get(k) == Some(e)))
    }

    /// Checks that every node (up or down) holds exactly [`expected_state`] of the write log
    /// under `order`: replicas are identical, and no accepted write is lost (each key's entry
    /// is the maximum of its writes).
    pub fn check_converged(
        &self,
        order: impl Fn(&Update<K, V>, &Update<K, V>) -> Ordering,
    ) -> Result<(), SimError> {
        let want = expected_state(&self.writes, order);
        for i in 0..self.nodes.len() {
            let got = self.snapshot(i);
            if got != want {
                let missing: Vec<_> = want
                    .iter()
                    .filter(|(k, e)| got.get(*k) != Some(*e))
                    .take(3)
                    .map(|(k, e)| format!("{k:?}: want {e:?}, got {:?}", got.get(k)))
                    .collect();
                let extra: Vec<_> = got
                    .keys()
                    .filter(|k| !want.contains_key(*k))
                    .take(3)
                    .collect();
                return Err(SimError::Diverged(format!(
                    "node {} ({} keys, want {}): {missing:?} unexpected keys {extra:?}",
                    self.ids[i],
                    got.len(),
                    want.len()
                )));
            }
        }
        Ok(())
    }
}
