//! The convergence workload: how many rounds, messages and bytes a cluster needs to replicate
//! every node's keys everywhere, measured against the payload lower bound. `scuttle demo`
//! and the benchmarks run it.
//!
//! Every node first writes `keys` keys of its own (`String` keys such as `n07-k0042`, all of
//! one length, and random `String` values of `value_len` bytes). Then, every round, every node
//! starts an exchange with `fanout` distinct random peers (seeded), and every message is
//! delivered in memory, without faults, before the round ends. The run stops when all
//! replicas are identical or after `max_rounds`. On a converged cluster it can then run
//! `idle_rounds` more rounds to measure what an idle cluster costs.
//!
//! [`Schedule`] says how the exchanges of a round overlap: one after the other in a random
//! order (the default: an exchange takes a round trip, a round a gossip interval, so real
//! exchanges rarely overlap), or all at once (every `Syn` of the round leaves before any reply:
//! the worst case for duplicate news). In the sequential schedule every message is really
//! encoded with [`FrameCodec`] (zstd-compressed when `compression` is on) and decoded, so the
//! time measured includes the codec, and `bytes` counts the encoded bodies.
//!
//! ```
//! use scuttle_sim::workload::{run, Workload};
//!
//! let report = run(&Workload { nodes: 5, keys: 20, ..Workload::default() });
//! assert!(report.converged);
//! assert!(report.bytes >= report.payload_lower_bound);
//! ```

use std::fmt::Write as _;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::Rng;
use scuttle_core::{
    Config, ConfigError, DynSorter, FrameCodec, Gossip, LastWriterWins, Message, SorterKind,
};

use crate::{Sim, SimError};

/// Steps one round may take before it is declared stuck (a round needs three).
const ROUND_STEPS: u64 = 1_000;

/// Parameters of a workload run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Keys each node writes before gossip starts.
    pub keys: usize,
    /// Peers each node starts an exchange with per round (at most `nodes - 1`).
    pub fanout: usize,
    /// Bytes of each value.
    pub value_len: usize,
    /// [`Config::max_message_bytes`] of every node.
    pub max_message_bytes: usize,
    /// [`Config::mtu`] of every node.
    pub mtu: usize,
    /// The sorter of every node.
    pub sorter: SorterKind,
    /// Seed of the values and of the peer choices.
    pub seed: u64,
    /// Rounds after which the run gives up.
    pub max_rounds: usize,
    /// Rounds to run on the converged cluster to measure its idle cost (0: none).
    pub idle_rounds: usize,
    /// How the exchanges of a round overlap.
    pub schedule: Schedule,
    /// Whether frames are zstd-compressed (above 128 bytes, when it makes them smaller).
    /// Only the sequential schedule encodes frames; the concurrent one counts plain bodies.
    pub compression: bool,
}

/// How the exchanges of one round overlap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum Schedule {
    /// Each exchange ends before the next starts, in a random order of the round's exchanges.
    #[default]
    Sequential,
    /// Every exchange of a round starts at once; replies cross in the network.
    Concurrent,
}

impl Default for Workload {
    /// 10 nodes × 100 keys, fanout 3, 16-byte values, messages of at most 65,507 bytes (one
    /// UDP datagram) and no update-count limit (bytes govern), scuttle-breadth, seed 1, at
    /// most 1,000 rounds, no idle rounds.
    fn default() -> Self {
        Workload {
            nodes: 10,
            keys: 100,
            fanout: 3,
            value_len: 16,
            max_message_bytes: 65_507,
            mtu: usize::MAX,
            sorter: SorterKind::Breadth,
            seed: 1,
            max_rounds: 1_000,
            idle_rounds: 0,
            schedule: Schedule::Sequential,
            compression: false,
        }
    }
}

/// What a run cost.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Report {
    /// Whether every replica ended identical.
    pub converged: bool,
    /// Gossip rounds run until convergence (or `max_rounds`).
    pub rounds: usize,
    /// Messages sent until then.
    pub messages: u64,
    /// Encoded bytes of those messages, digests included (the sum of
    /// [`wire::message_len`](scuttle_core::wire::message_len); no transport framing).
    pub bytes: u64,
    /// Key and value bytes every node must receive at least once:
    /// `N · (N − 1) · Σ (key bytes + value bytes)` over one node's `K` keys.
    pub payload_lower_bound: u64,
    /// Updates the nodes sent as news, summed over nodes.
    pub updates_sent: u64,
    /// Updates that arrived already held, summed over nodes.
    pub duplicates: u64,
    /// Bytes per node per round during the idle rounds (`None` without idle rounds or
    /// without convergence).
    pub idle_bytes_per_node_round: Option<f64>,
    /// Wall time of the gossip rounds until convergence, in milliseconds (a measurement;
    /// the writes before are not included).
    pub elapsed_ms: f64,
}

/// Why a workload could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadError {
    /// The node configuration is invalid (for example `max_message_bytes` below the minimum
    /// or `mtu` 0).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The simulation failed (for example a value too large for `max_message_bytes`).
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A node refused a message or a frame did not round-trip (a bug: the workload has no
    /// faults and no custom policy).
    #[error("exchange failed: {0}")]
    Exchange(String),
}

type Node = Gossip<String, String, LastWriterWins, DynSorter<String, String>>;
type Cluster = Sim<String, String, LastWriterWins, DynSorter<String, String>>;

impl Workload {
    fn config(&self) -> Config {
        Config::default()
            .with_mtu(self.mtu)
            .with_max_message_bytes(self.max_message_bytes)
            .with_tombstone_grace(None)
            .with_events(false)
    }

    /// The key node `node` writes as its `index`-th key. Every key of a workload has the same
    /// length.
    pub fn key(&self, node: usize, index: usize) -> String {
        let wn = digits(self.nodes.saturating_sub(1));
        let wk = digits(self.keys.saturating_sub(1));
        format!("n{node:0wn$}-k{index:0wk$}")
    }

    /// `N · (N − 1) · Σ (key bytes + value bytes)` over one node's `K` keys: every node must
    /// receive every other node's keys and values at least once.
    pub fn payload_lower_bound(&self) -> u64 {
        let n = self.nodes as u64;
        let one_node: u64 = (0..self.keys)
            .map(|j| (self.key(0, j).len() + self.value_len) as u64)
            .sum();
        n * n.saturating_sub(1) * one_node
    }

    /// Checks that the nodes can be built and a value of `value_len` bytes can be written
    /// (the core's own checks: [`ConfigError`], [`SetError::TooLarge`](scuttle_core::SetError)).
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let mut probe: Node =
            Gossip::new("probe", self.config(), LastWriterWins, self.sorter.boxed())?;
        probe
            .set(0, self.key(0, 0), "x".repeat(self.value_len))
            .map_err(SimError::set)?;
        Ok(())
    }
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

impl Workload {
    fn codec(&self) -> FrameCodec {
        let codec = FrameCodec::new(self.max_message_bytes);
        if self.compression {
            codec.with_compression(128)
        } else {
            codec
        }
    }
}

/// Messages and bytes the sequential schedule carried itself (the concurrent one's are
/// counted by the simulator's network).
#[derive(Default)]
struct Count {
    messages: u64,
    bytes: u64,
}

impl Count {
    /// Messages and bytes so far, both schedules.
    fn totals(&self, sim: &Cluster) -> (u64, u64) {
        let net = sim.stats();
        (self.messages + net.messages, self.bytes + net.bytes)
    }
}

/// One gossip round of the workload.
fn round(
    sim: &mut Cluster,
    w: &Workload,
    codec: &FrameCodec,
    count: &mut Count,
) -> Result<(), WorkloadError> {
    match w.schedule {
        Schedule::Sequential => {
            for (i, j) in round_pairs(sim, w.fanout) {
                exchange(sim, codec, i, j, count)?;
            }
        }
        Schedule::Concurrent => {
            sim.gossip_round_with(w.fanout);
            sim.run_until_quiet(ROUND_STEPS)?;
        }
    }
    Ok(())
}

/// The exchanges of one round: every node with `fanout` distinct random peers, shuffled.
fn round_pairs(sim: &mut Cluster, fanout: usize) -> Vec<(usize, usize)> {
    let n = sim.len();
    let fanout = fanout.min(n.saturating_sub(1));
    let mut pairs = Vec::with_capacity(n * fanout);
    for i in 0..n {
        let peers = rand::seq::index::sample(sim.rng(), n - 1, fanout);
        pairs.extend(peers.iter().map(|j| (i, if j >= i { j + 1 } else { j })));
    }
    pairs.shuffle(sim.rng());
    pairs
}

/// One whole exchange `i → j`, every message encoded and decoded as a transport would.
fn exchange(
    sim: &mut Cluster,
    codec: &FrameCodec,
    i: usize,
    j: usize,
    count: &mut Count,
) -> Result<(), WorkloadError> {
    let mut frame = Vec::new();
    let mut carry =
        |msg: &Message<String, String>| -> Result<Message<String, String>, WorkloadError> {
            frame.clear();
            codec
                .encode(msg, &mut frame)
                .map_err(|e| WorkloadError::Exchange(e.to_string()))?;
            count.bytes += (frame.len() - scuttle_core::codec::LENGTH_PREFIX) as u64;
            count.messages += 1;
            codec
                .decode_frame(&frame)
                .map_err(|e| WorkloadError::Exchange(e.to_string()))
        };
    let refused = |e| WorkloadError::Exchange(format!("{e:?}"));
    let now = sim.now();
    let syn = carry(&sim.node(i).start_exchange())?;
    let Some(syn_ack) = sim.node_mut(j).handle_message(now, syn).map_err(refused)? else {
        return Ok(());
    };
    let syn_ack = carry(&syn_ack)?;
    if let Some(ack) = sim
        .node_mut(i)
        .handle_message(now, syn_ack)
        .map_err(refused)?
    {
        let ack = carry(&ack)?;
        sim.node_mut(j).handle_message(now, ack).map_err(refused)?;
    }
    Ok(())
}

/// Runs the workload. See the [module docs](self).
///
/// # Panics
///
/// If the workload is invalid ([`Workload::validate`]); [`try_run`] returns the error
/// instead.
pub fn run(w: &Workload) -> Report {
    run_with_progress(w, |_, _| {})
}

/// [`run`], calling `on_round(round, nodes holding every key)` after every gossip round of the
/// convergence phase.
///
/// # Panics
///
/// If the workload is invalid ([`Workload::validate`]); [`try_run`] returns the error
/// instead.
pub fn run_with_progress(w: &Workload, on_round: impl FnMut(usize, usize)) -> Report {
    match try_run(w, on_round) {
        Ok(report) => report,
        Err(e) => panic!("invalid workload {w:?}: {e}"),
    }
}

/// [`run_with_progress`], returning an error for an invalid workload.
pub fn try_run(
    w: &Workload,
    mut on_round: impl FnMut(usize, usize),
) -> Result<Report, WorkloadError> {
    w.validate()?;
    let config = w.config();
    let sorter = w.sorter;
    let mut sim = Sim::new(w.nodes, w.seed, crate::Faults::none(), move |id| -> Node {
        Gossip::new(id, config.clone(), LastWriterWins, sorter.boxed())
            .expect("the configuration was validated")
    });
    let mut value = String::with_capacity(w.value_len);
    for i in 0..w.nodes {
        for j in 0..w.keys {
            value.clear();
            for _ in 0..w.value_len {
                let c = char::from(b'a' + sim.rng().gen_range(0..26u8));
                let _ = value.write_char(c);
            }
            sim.set(i, w.key(i, j), value.clone())?;
        }
    }
    let total = w.nodes * w.keys;
    let holding = |sim: &Sim<String, String, _, _>| {
        (0..sim.len())
            .filter(|&i| sim.node(i).len() == total)
            .count()
    };

    let codec = w.codec();
    let mut count = Count::default();

    let start = Instant::now();
    let mut rounds = 0;
    while holding(&sim) < w.nodes && rounds < w.max_rounds {
        round(&mut sim, w, &codec, &mut count)?;
        rounds += 1;
        on_round(rounds, holding(&sim));
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1_000.0;
    // Every key is written once, so a node holding every key holds the final state; the
    // exact comparison confirms it.
    let converged = holding(&sim) == w.nodes && sim.replicas_identical();
    let (updates_sent, duplicates) = (0..sim.len()).fold((0, 0), |(u, d), i| {
        let s = sim.node(i).stats();
        (u + s.updates_sent, d + s.duplicates)
    });
    let (messages_then, bytes_then) = count.totals(&sim);

    let mut idle_bytes_per_node_round = None;
    if converged && w.idle_rounds > 0 && w.nodes > 0 {
        for _ in 0..w.idle_rounds {
            round(&mut sim, w, &codec, &mut count)?;
        }
        let (_, bytes_now) = count.totals(&sim);
        let idle = bytes_now - bytes_then;
        idle_bytes_per_node_round = Some(idle as f64 / (w.nodes * w.idle_rounds) as f64);
    }
    let (messages, bytes) = (messages_then, bytes_then);

    Ok(Report {
        converged,
        rounds,
        messages,
        bytes,
        payload_lower_bound: w.payload_lower_bound(),
        updates_sent,
        duplicates,
        idle_bytes_per_node_round,
        elapsed_ms,
    })
}
