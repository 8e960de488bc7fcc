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
//! ```
//! use scuttle_sim::workload::{run, Workload};
//!
//! let report = run(&Workload { nodes: 5, keys: 20, ..Workload::default() });
//! assert!(report.converged);
//! assert!(report.bytes >= report.payload_lower_bound);
//! ```

use std::fmt::Write as _;
use std::time::Instant;

use rand::Rng;
use scuttle_core::{Config, ConfigError, DynSorter, Gossip, LastWriterWins, SorterKind};

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
}

type Node = Gossip<String, String, LastWriterWins, DynSorter<String, String>>;

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

    let start = Instant::now();
    let mut rounds = 0;
    while holding(&sim) < w.nodes && rounds < w.max_rounds {
        sim.gossip_round_with(w.fanout);
        sim.run_until_quiet(ROUND_STEPS)?;
        rounds += 1;
        on_round(rounds, holding(&sim));
    }
    let elapsed_ms = start.elapsed().as_secs_f64() * 1_000.0;
    // Every key is written once, so a node holding every key holds the final state; the
    // exact comparison confirms it.
    let converged = holding(&sim) == w.nodes && sim.replicas_identical();
    let net = sim.stats();
    let (updates_sent, duplicates) = (0..sim.len()).fold((0, 0), |(u, d), i| {
        let s = sim.node(i).stats();
        (u + s.updates_sent, d + s.duplicates)
    });

    let mut idle_bytes_per_node_round = None;
    if converged && w.idle_rounds > 0 && w.nodes > 0 {
        for _ in 0..w.idle_rounds {
            sim.gossip_round_with(w.fanout);
            sim.run_until_quiet(ROUND_STEPS)?;
        }
        let idle = sim.stats().bytes - net.bytes;
        idle_bytes_per_node_round = Some(idle as f64 / (w.nodes * w.idle_rounds) as f64);
    }

    Ok(Report {
        converged,
        rounds,
        messages: net.messages,
        bytes: net.bytes,
        payload_lower_bound: w.payload_lower_bound(),
        updates_sent,
        duplicates,
        idle_bytes_per_node_round,
        elapsed_ms,
    })
}
