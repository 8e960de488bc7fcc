//! # scuttle-sim
//!
//! A seeded, deterministic, in-memory network simulator for [`scuttle_core::Gossip`] nodes: no
//! sockets, no wall clock (every node shares one [`ManualClock`]), no threads. The same seed
//! always gives the same run, so a failing schedule can be replayed from its seed.
//!
//! [`Sim`] holds the nodes and the network. Every message a node emits is put on the wire with
//! the [`Faults`] in force: it may be dropped, duplicated, delayed (which reorders it behind
//! later messages) or delivered to the wrong peer (the core skips news whose `prev` it does not
//! hold). The network can be partitioned and healed; a node can crash (its queued and in-flight
//! messages, to and from it, are lost; its state is kept) and restart, optionally from a snapshot
//! of its state through [`Gossip::with_state`].
//!
//! [`Sim::run_until_quiet`] and [`Sim::settle`] drive the network with a bound and fail when it
//! never settles; [`Sim::check_converged`] compares every replica with the resolver maximum of
//! the write log, computed without the core ([`expected_state`]).
//!
//! [`experiment`] reproduces the flow-control experiment of van Renesse et al. (LADIS 2008).
//!
//! ```
//! use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleDepth};
//! use scuttle_sim::{lww_order, Faults, Sim};
//!
//! let mut sim = Sim::new(3, 7, Faults::none(), |id, clock| {
//!     Gossip::new(id, Config::default(), LastWriterWins, ScuttleDepth)
//!         .expect("valid config")
//!         .with_clock(clock)
//! });
//! sim.set(0, 1u32, 10u64).unwrap();
//! sim.set(2, 1u32, 20u64).unwrap();
//! sim.settle(100).unwrap();
//! sim.check_converged(lww_order).unwrap();
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod experiment;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::hash::Hash;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scuttle_core::{
    Entry, Gossip, ManualClock, Message, NodeId, Resolver, SetError, Sorter, Update, Version,
};

/// Milliseconds the shared clock moves per network step.
pub const TICK_MS: u64 = 10;

/// Per-message fault probabilities (each in `0.0..=1.0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Probability that a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back `1..=max_delay` extra steps (so later
    /// messages overtake it).
    pub delay: f64,
    /// Largest extra delay, in steps.
    pub max_delay: u64,
    /// Probability that a message reaches a random other node instead of its recipient.
    pub misdeliver: f64,
}

impl Faults {
    /// A perfect network: every message arrives once, in order, one step after it was sent.
    pub fn none() -> Self {
        Faults {
            drop: 0.0,
            duplicate: 0.0,
            delay: 0.0,
            max_delay: 0,
            misdeliver: 0.0,
        }
    }

    /// Whether this is a perfect network.
    pub fn is_none(&self) -> bool {
        self.drop <= 0.0 && self.duplicate <= 0.0 && self.delay <= 0.0 && self.misdeliver <= 0.0
    }
}

/// Why a simulation run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Messages were still moving after the step bound.
    #[error("network not quiet after {steps} steps ({in_flight} messages in flight)")]
    NotQuiet {
        /// The bound.
        steps: u64,
        /// Messages still in flight.
        in_flight: usize,
    },
    /// Replicas still differ after the round bound.
    #[error("replicas still differ after {rounds} gossip rounds")]
    NotConverged {
        /// The bound.
        rounds: usize,
    },
    /// A node refused a message the simulator delivered.
    #[error("node {node} refused a message: {reason}")]
    Protocol {
        /// The node.
        node: NodeId,
        /// The core's error.
        reason: String,
    },
    /// The final state is wrong.
    #[error("wrong final state: {0}")]
    Diverged(String),
    /// The command named a crashed node.
    #[error("node {0} is down")]
    NodeDown(usize),
    /// The resolver refused a local write.
    #[error(transparent)]
    Set(#[from] SetError),
}

/// Counters of what the network did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages put on the wire.
    pub sent: u64,
    /// Messages handed to a node.
    pub delivered: u64,
    /// Messages lost to faults, partitions or crashes.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Messages held back.
    pub delayed: u64,
    /// Messages sent to the wrong node.
    pub misdelivered: u64,
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

type Factory<K, V, R, S> = Box<dyn Fn(NodeId, ManualClock) -> Gossip<K, V, R, S>>;

/// A deterministic network of [`Gossip`] nodes.
pub struct Sim<K, V, R, S> {
    nodes: Vec<SimNode<K, V, R, S>>,
    ids: Vec<NodeId>,
    index: HashMap<NodeId, usize>,
    factory: Factory<K, V, R, S>,
    clock: ManualClock,
    rng: SmallRng,
    faults: Faults,
    net: Vec<InFlight<K, V>>,
    seq: u64,
    step: u64,
    groups: Option<Vec<usize>>,
    writes: Vec<Update<K, V>>,
    stats: NetStats,
}

impl<K, V, R, S> Debug for Sim<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("nodes", &self.ids)
            .field("step", &self.step)
            .field("in_flight", &self.net.len())
            .field("faults", &self.faults)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The id of node `i`: `n00`, `n01`, ... (zero-padded so ids sort like indices).
pub fn node_id(i: usize) -> NodeId {
    NodeId::new(format!("n{i:02}"))
}

impl<K, V, R, S> Sim<K, V, R, S>
where
    K: Clone + Eq + Hash + Ord + Debug,
    V: Clone + PartialEq + Debug,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    /// `n` nodes built by `factory(id, clock)` (give each node the clock with
    /// [`Gossip::with_clock`]), a network with `faults`, and a scheduler seeded with `seed`.
    pub fn new(
        n: usize,
        seed: u64,
        faults: Faults,
        factory: impl Fn(NodeId, ManualClock) -> Gossip<K, V, R, S> + 'static,
    ) -> Self {
        let clock = ManualClock::new(1_000_000);
        let ids: Vec<NodeId> = (0..n).map(node_id).collect();
        let nodes = ids
            .iter()
            .map(|id| SimNode {
                gossip: factory(id.clone(), clock.clone()),
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
            clock,
            rng: SmallRng::seed_from_u64(seed),
            faults,
            net: Vec::new(),
            seq: 0,
            step: 0,
            groups: None,
            writes: Vec::new(),
            stats: NetStats::default(),
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

    /// Node `i`, mutably (messages it queues are sent on the next [`Sim::flush`]).
    pub fn node_mut(&mut self, i: usize) -> &mut Gossip<K, V, R, S> {
        &mut self.nodes[i].gossip
    }

    /// Whether node `i` is up.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].up
    }

    /// The index of the node with id `id`.
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The shared clock.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
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

    /// Whether no message is in flight or queued at an up node.
    pub fn is_quiet(&self) -> bool {
        self.net.is_empty() && self.nodes.iter().all(|n| !n.up || !n.gossip.has_outgoing())
    }

    // ------------------------------------------------------------ commands

    /// Node `i` writes `key = value`; an accepted write is logged in [`Sim::writes`].
    pub fn set(&mut self, i: usize, key: K, value: V) -> Result<Version, SimError> {
        self.write(i, key, Some(value))
    }

    /// Node `i` deletes `key`; an accepted delete is logged in [`Sim::writes`].
    pub fn delete(&mut self, i: usize, key: K) -> Result<Version, SimError> {
        self.write(i, key, None)
    }

    fn write(&mut self, i: usize, key: K, value: Option<V>) -> Result<Version, SimError> {
        if !self.nodes[i].up {
            return Err(SimError::NodeDown(i));
        }
        let g = &mut self.nodes[i].gossip;
        let version = match value {
            Some(v) => g.set(key.clone(), v)?,
            None => g.delete(key.clone())?,
        };
        if let Some(entry) = g.get(&key) {
            self.writes.push(entry.to_update(key));
        }
        self.flush(i);
        Ok(version)
    }

    /// Node `i` starts an exchange with node `j` (nothing happens if `i` is down).
    pub fn gossip(&mut self, i: usize, j: usize) {
        if !self.nodes[i].up || i == j {
            return;
        }
        let peer = self.ids[j].clone();
        self.nodes[i].gossip.gossip(&peer);
        self.flush(i);
    }

    /// Every up node starts an exchange with a random other node.
    pub fn gossip_round(&mut self) {
        let n = self.nodes.len();
        if n < 2 {
            return;
        }
        for i in 0..n {
            let mut j = self.rng.gen_range(0..n - 1);
            if j >= i {
                j += 1;
            }
            self.gossip(i, j);
        }
    }

    /// Moves every message node `i` queued onto the wire, applying the faults.
    pub fn flush(&mut self, i: usize) {
        while let Some((to, msg)) = self.nodes[i].gossip.poll_transmit() {
            let Some(to) = self.index.get(&to).copied() else {
                self.stats.dropped += 1;
                continue;
            };
            self.put_on_wire(i, to, msg);
        }
        while self.nodes[i].gossip.poll_event().is_some() {}
    }

    fn put_on_wire(&mut self, from: usize, mut to: usize, msg: Message<K, V>) {
        self.stats.sent += 1;
        let f = self.faults;
        if f.is_none() {
            self.enqueue(from, to, msg, 1);
            return;
        }
        if self.rng.gen_bool(f.drop.clamp(0.0, 1.0)) {
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

    /// One network step: the clock moves [`TICK_MS`], and every message due is delivered in
    /// send order (unless a fault delayed it). Messages across a partition or to or from a
    /// crashed node are lost.
    pub fn step(&mut self) -> Result<(), SimError> {
        self.step += 1;
        self.clock.advance(TICK_MS);
        let now = self.step;
        let (mut due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|m| m.deliver_at <= now);
        self.net = rest;
        due.sort_by_key(|m| (m.deliver_at, m.seq));
        for m in due {
            if !self.connected(m.from, m.to) {
                self.stats.dropped += 1;
                continue;
            }
            self.stats.delivered += 1;
            let from = self.ids[m.from].clone();
            if let Err(e) = self.nodes[m.to].gossip.receive(&from, m.msg) {
                return Err(SimError::Protocol {
                    node: self.ids[m.to].clone(),
                    reason: e.to_string(),
                });
            }
            self.flush(m.to);
        }
        Ok(())
    }

    /// Steps until [`Sim::is_quiet`]; fails after `max_steps`. Returns the steps taken.
    pub fn run_until_quiet(&mut self, max_steps: u64) -> Result<u64, SimError> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].up {
                self.flush(i);
            }
        }
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

    /// Gossip rounds (each followed by [`Sim::run_until_quiet`]) until every up node holds
    /// the same entries; fails after `max_rounds`. Returns the rounds used.
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

    /// Whether a partition is in force.
    pub fn is_partitioned(&self) -> bool {
        self.groups.is_some()
    }

    /// Crashes node `i`: its queued messages and every message in flight to or from it are
    /// lost; its peers forget their half-done exchanges with it. Its state is kept.
    pub fn crash(&mut self, i: usize) {
        if !self.nodes[i].up {
            return;
        }
        self.nodes[i].up = false;
        let ids = self.ids.clone();
        for peer in &ids {
            self.nodes[i].gossip.forget_peer(peer);
        }
        while self.nodes[i].gossip.poll_event().is_some() {}
        let before = self.net.len();
        self.net.retain(|m| m.from != i && m.to != i);
        self.stats.dropped += (before - self.net.len()) as u64;
        let id = ids[i].clone();
        for (k, node) in self.nodes.iter_mut().enumerate() {
            if k != i {
                node.gossip.forget_peer(&id);
            }
        }
    }

    /// Restarts a crashed node with the state it had.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].up = true;
    }

    /// Restarts node `i` (crashing it first if needed) as a fresh node loaded with a snapshot
    /// of its entries through [`Gossip::with_state`]: watermarks and history are rebuilt from
    /// the state.
    ///
    /// The node's clock restarts at the highest version in its state. Under
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
        let fresh = (self.factory)(self.ids[i].clone(), self.clock.clone()).with_state(entries);
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

    /// Whether every up node holds the same entries.
    pub fn replicas_identical(&self) -> bool {
        let mut up = self.nodes.iter().filter(|n| n.up);
        let Some(first) = up.next() else {
            return true;
        };
        up.all(|n| {
            n.gossip.entries().count() == first.gossip.entries().count()
                && n.gossip
                    .entries()
                    .all(|(k, e)| first.gossip.get(k) == Some(e))
        })
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

/// The final state a correct protocol must reach: for each key, the maximum of its writes
/// under `order`. Computed from the log alone, independently of the core.
pub fn expected_state<K, V>(
    writes: &[Update<K, V>],
    order: impl Fn(&Update<K, V>, &Update<K, V>) -> Ordering,
) -> BTreeMap<K, Entry<V>>
where
    K: Clone + Ord,
    V: Clone,
{
    let mut best: BTreeMap<K, &Update<K, V>> = BTreeMap::new();
    for w in writes {
        match best.get(&w.key) {
            Some(cur) if order(w, cur) != Ordering::Greater => {}
            _ => {
                best.insert(w.key.clone(), w);
            }
        }
    }
    best.into_iter().map(|(k, u)| (k, u.to_entry())).collect()
}

/// Last-writer-wins order: `(version, source_id)`.
pub fn lww_order<K, V>(a: &Update<K, V>, b: &Update<K, V>) -> Ordering {
    (a.version, &a.source_id).cmp(&(b.version, &b.source_id))
}

/// Strictly-ordered-values order: `(value, version, source_id)`, a delete below every value.
pub fn strict_order<K, V: Ord>(a: &Update<K, V>, b: &Update<K, V>) -> Ordering {
    (&a.value, a.version, &a.source_id).cmp(&(&b.value, b.version, &b.source_id))
}
