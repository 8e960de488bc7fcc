//! # scuttle-sim
//!
//! Package `scuttle-gossip-sim`, library `scuttle_sim`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! A seeded, deterministic, in-memory network for [`scuttle_core::Gossip`] nodes: no sockets,
//! no wall clock, no threads. The simulator owns one clock value ([`Sim::now`]) and passes it
//! to the core, and a seeded `SmallRng` makes every choice, so the same seed always gives the
//! same run and a failing schedule can be replayed from its seed.
//!
//! * [`Sim`]: `n` nodes and a faulty network. A message in flight is one whole
//!   [`Message`](scuttle_core::Message) (`Syn`, `SynAck` or `Ack`) from one node to another.
//!   When it is delivered, the reply [`Gossip::handle_message`](scuttle_core::Gossip::handle_message)
//!   returns goes back to the sender through the same network. Every message may be dropped,
//!   duplicated, delayed (which reorders it) or delivered to the wrong node ([`Faults`]); the
//!   network can be partitioned and healed; a node can crash and restart, also from a
//!   snapshot of its state. [`Sim::settle`] and [`Sim::check_converged`] check the outcome
//!   against the resolver maximum of the write log, computed without the core
//!   ([`expected_state`]).
//! * [`Pair`]: two nodes and nothing else, for tests of one exchange at a time.
//! * [`workload`]: the convergence workload (every node writes its own keys, then gossips
//!   with `fanout` peers per round) that `scuttle demo` and the benchmarks run.
//! * [`experiment`]: the flow-control experiment of van Renesse et al. (LADIS 2008). Its SVG
//!   plots need the `plot` feature; the CSV is always written.
//!
//! ```
//! use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleDepth};
//! use scuttle_sim::{lww_order, Faults, Sim};
//!
//! let mut sim = Sim::new(3, 7, Faults::none(), |id| {
//!     Gossip::new(id, Config::default(), LastWriterWins, ScuttleDepth).expect("valid config")
//! });
//! sim.set(0, 1u32, 10u64).unwrap();
//! sim.set(2, 1u32, 20u64).unwrap();
//! sim.settle(100).unwrap();
//! sim.check_converged(lww_order).unwrap();
//! assert!(sim.stats().bytes > 0);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod byzantine;
pub mod experiment;
pub mod keys;
mod pair;
mod sim;
pub mod workload;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Display;

use scuttle_core::{Entry, NodeId, ReceiveError, SetError, Update};

pub use pair::{Pair, Transcript};
pub use sim::{Observer, Sim, SimEvent, START_MS, TICK_MS};

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

impl Default for Faults {
    /// [`Faults::none`].
    fn default() -> Self {
        Faults::none()
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
    /// A node refused a message as a protocol violation (a core bug: the simulator only
    /// carries messages the core built).
    #[error("node {node} refused a message: {reason}")]
    Protocol {
        /// The node that refused.
        node: NodeId,
        /// The core's error.
        reason: String,
    },
    /// A node's resolver or sorter failed while it handled a message (the core refused the
    /// message and changed nothing).
    #[error("node {node}: a policy failed: {reason}")]
    Policy {
        /// The node whose policy failed.
        node: NodeId,
        /// The policy's error.
        reason: String,
    },
    /// The final state is wrong.
    #[error("wrong final state: {0}")]
    Diverged(String),
    /// The command named a crashed node.
    #[error("node {0} is down")]
    NodeDown(usize),
    /// A local write was refused (the resolver's own error, if any, as text).
    #[error(transparent)]
    Set(#[from] SetError<String>),
}

impl SimError {
    /// The error for `node` refusing a message with `e`.
    pub fn receive<E: Display>(node: &NodeId, e: ReceiveError<E>) -> Self {
        match e {
            ReceiveError::Protocol(p) => SimError::Protocol {
                node: node.clone(),
                reason: p.to_string(),
            },
            other => SimError::Policy {
                node: node.clone(),
                reason: other.to_string(),
            },
        }
    }

    /// The error for a refused local write.
    pub fn set<E: Display>(e: SetError<E>) -> Self {
        SimError::Set(match e {
            SetError::Rejected => SetError::Rejected,
            SetError::VersionOverflow => SetError::VersionOverflow,
            SetError::TooLarge { len, max } => SetError::TooLarge { len, max },
            SetError::Policy(p) => SetError::Policy(p.to_string()),
            SetError::CatchingUp => SetError::CatchingUp,
            SetError::Store(e) => SetError::Store(e),
            // A kind this crate does not know yet: reported with its text.
            other => SetError::Policy(other.to_string()),
        })
    }
}

/// Counters of what the network did.
///
/// Every message a node sends is counted once in `messages` and `bytes`; faults then act on
/// it. `sent = messages + duplicated` copies go on the wire, and each copy is eventually
/// `delivered`, `dropped`, or still in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages the nodes sent (`Syn`, `SynAck` and `Ack` alike).
    pub messages: u64,
    /// Encoded bytes of those messages: the sum of
    /// [`wire::message_len`](scuttle_core::wire::message_len), digests included (no
    /// transport framing).
    pub bytes: u64,
    /// The largest message sent, in encoded bytes.
    pub largest: u64,
    /// Copies put on the wire (`messages + duplicated`).
    pub sent: u64,
    /// Copies handed to a node.
    pub delivered: u64,
    /// Copies lost to faults, partitions or crashes.
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Copies held back.
    pub delayed: u64,
    /// Messages sent to the wrong node.
    pub misdelivered: u64,
}

/// The id of node `i`: `n00`, `n01`, ... (zero-padded so ids sort like indices).
pub fn node_id(i: usize) -> NodeId {
    NodeId::new(format!("n{i:02}"))
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

/// Last-writer-wins-by-clock order: `(timestamp, version, source_id)`.
pub fn lww_clock_order<K, V>(a: &Update<K, V>, b: &Update<K, V>) -> Ordering {
    (a.timestamp, a.version, &a.source_id).cmp(&(b.timestamp, b.version, &b.source_id))
}

/// Strictly-ordered-values order: `(value, version, source_id)`, a delete below every value.
pub fn strict_order<K, V: Ord>(a: &Update<K, V>, b: &Update<K, V>) -> Ordering {
    (&a.value, a.version, &a.source_id).cmp(&(&b.value, b.version, &b.source_id))
}
