//! The flow-control experiment of van Renesse et al., "Efficient Reconciliation and Flow
//! Control for Anti-Entropy Protocols" (LADIS 2008), section 4.
//!
//! `nodes` participants each own `keys_per_node` keys and update `updates_per_round` of them
//! (picked at random) every round. Every round each participant starts one push-pull exchange
//! with a random peer; each answer carries at most `mtu` updates, chosen below what the update
//! load needs, so flow control decides who learns what. Superseded updates are dropped at once
//! (`max_history = 0`): only the latest mapping of a key is ever sent, as in the paper.
//!
//! After every round the experiment measures, for every participant and every key owned by
//! another participant, how **stale** its view is:
//!
//! * *staleness* (rounds): how long ago the first write it has not seen was made (0 when
//!   up to date);
//! * *behind* (versions): how many writes of that key it has not seen.
//!
//! Three orderings compete, each on the same seeded workload:
//!
//! * [`Strategy::Breadth`]: [`ScuttleBreadth`], the oldest update versions first;
//! * [`Strategy::Depth`]: [`ScuttleDepth`], the sources with the most outstanding news first;
//! * [`Strategy::Precise`]: the paper's idealised *precise reconciliation*, modelled outside
//!   the core: each side knows the other's exact state and sends, of the mappings newer than
//!   the peer's, the `mtu` the peer has had stale the longest (any subset may go; scuttlebutt
//!   may not skip a version of a source).
//! * [`Strategy::StalestSorter`]: scuttlebutt (the core) with a custom [`Sorter`] that knows the
//!   receiver's state and ranks news by how long the receiver has had its key stale. The core
//!   still fills a source's slots with that source's oldest outstanding updates (so a cut never
//!   skips a version), so this sorter only chooses how many slots each source gets: the closest
//!   a scuttlebutt sorter can come to precise reconciliation.
//!
//! [`run_to_dir`] writes the samples as CSV, and as an SVG plot when the crate is built with
//! the `plot` feature (which pulls in `plotters`; off by default).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::rc::Rc;

#[cfg(feature = "plot")]
use plotters::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scuttle_core::{
    Candidate, Config, ConfigError, Gossip, LastWriterWins, NodeId, ScuttleBreadth, ScuttleDepth,
    SortError, Sorter, Version,
};

use crate::node_id;

/// Keys are `owner * keys_per_node + index`.
pub type Key = u32;

/// A flow-control ordering under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// scuttle-breadth: ascending version.
    Breadth,
    /// scuttle-depth: deepest source first.
    Depth,
    /// Idealised precise reconciliation (outside the core): the receiver's stalest keys first.
    Precise,
    /// Scuttlebutt with a sorter that ranks news by the receiver's staleness.
    StalestSorter,
}

impl Strategy {
    /// Every strategy, in plotting order.
    pub const ALL: [Strategy; 4] = [
        Strategy::Precise,
        Strategy::StalestSorter,
        Strategy::Depth,
        Strategy::Breadth,
    ];

    /// The name used in the CSV and the plots.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Breadth => "scuttle-breadth",
            Strategy::Depth => "scuttle-depth",
            Strategy::Precise => "precise",
            Strategy::StalestSorter => "scuttle-stalest",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters of one experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentConfig {
    /// Participants.
    pub nodes: usize,
    /// Keys each participant owns.
    pub keys_per_node: usize,
    /// Writes each participant makes per round.
    pub updates_per_round: usize,
    /// Updates per answer.
    pub mtu: usize,
    /// Rounds to run.
    pub rounds: usize,
    /// Seed of the workload and of the peer choices.
    pub seed: u64,
    /// Strategies to compare.
    pub strategies: Vec<Strategy>,
}

impl Default for ExperimentConfig {
    /// 64 participants, 16 keys each, 2 writes per participant per round, mtu 32, 200 rounds:
    /// about 128 fresh writes per round must reach each participant through at most two
    /// answers of 32 updates.
    fn default() -> Self {
        ExperimentConfig {
            nodes: 64,
            keys_per_node: 16,
            updates_per_round: 2,
            mtu: 32,
            rounds: 200,
            seed: 2008,
            strategies: Strategy::ALL.to_vec(),
        }
    }
}

/// Staleness after one round of one strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The strategy.
    pub strategy: Strategy,
    /// The round (1-based).
    pub round: usize,
    /// Mean staleness in rounds over every (participant, remote key) pair.
    pub mean_staleness: f64,
    /// Largest staleness in rounds.
    pub max_staleness: u64,
    /// Mean number of unseen writes per (participant, remote key) pair.
    pub mean_behind: f64,
    /// Largest number of unseen writes.
    pub max_behind: u64,
}

/// Why the experiment could not run or write its output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// The parameters are unusable.
    #[error("invalid experiment: {0}")]
    Invalid(String),
    /// The core refused the configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Drawing the plot failed (`plot` feature).
    #[error("plot: {0}")]
    Plot(String),
}

/// Ground truth shared with the precise sorter.
#[derive(Default)]
struct Truth {
    round: u64,
    /// Per key, every write as `(version, round)` in ascending version.
    writes: HashMap<Key, Vec<(Version, u64)>>,
    /// The version of each key held by the node about to receive news.
    receiver: HashMap<Key, Version>,
}

impl Truth {
    /// `(staleness in rounds, unseen writes)` of a view holding `held` of `key`.
    fn staleness(&self, key: Key, held: Version) -> (u64, u64) {
        let Some(w) = self.writes.get(&key) else {
            return (0, 0);
        };
        let first_unseen = w.partition_point(|(v, _)| *v <= held);
        match w.get(first_unseen) {
            Some((_, at)) => (
                self.round.saturating_sub(*at),
                (w.len() - first_unseen) as u64,
            ),
            None => (0, 0),
        }
    }
}

/// The stalest-first sorter (knows the receiver's state through the shared truth).
#[derive(Clone)]
struct Precise(Rc<RefCell<Truth>>);

impl Sorter<Key, u64> for Precise {
    fn sort(&self, news: &mut [Candidate<'_, Key, u64>]) -> Result<(), SortError> {
        let truth = self.0.try_borrow().map_err(SortError::new)?;
        news.sort_by_cached_key(|c| {
            let key = *c.update.key;
            let held = truth.receiver.get(&key).copied().unwrap_or(0);
            let (stale, _) = truth.staleness(key, held);
            (
                std::cmp::Reverse(stale),
                c.update.source_id.clone(),
                c.update.version,
            )
        });
        Ok(())
    }
}

/// A sorter picked at run time.
#[derive(Clone)]
enum AnySorter {
    Breadth,
    Depth,
    Precise(Precise),
}

impl Sorter<Key, u64> for AnySorter {
    fn sort(&self, news: &mut [Candidate<'_, Key, u64>]) -> Result<(), SortError> {
        match self {
            AnySorter::Breadth => ScuttleBreadth.sort(news),
            AnySorter::Depth => ScuttleDepth.sort(news),
            AnySorter::Precise(p) => p.sort(news),
        }
    }
}

type Node = Gossip<Key, u64, LastWriterWins, AnySorter>;

/// Runs every strategy of `cfg` on the same seeded workload; samples are grouped by strategy,
/// one per round.
pub fn run(cfg: &ExperimentConfig) -> Result<Vec<Sample>, ExperimentError> {
    if cfg.nodes < 2 || cfg.keys_per_node == 0 || cfg.mtu == 0 {
        return Err(ExperimentError::Invalid(
            "need at least 2 nodes, 1 key per node and mtu 1".into(),
        ));
    }
    if u32::try_from(cfg.nodes.saturating_mul(cfg.keys_per_node)).is_err() {
        return Err(ExperimentError::Invalid("too many keys".into()));
    }
    let mut out = Vec::with_capacity(cfg.rounds * cfg.strategies.len());
    for &strategy in &cfg.strategies {
        if strategy == Strategy::Precise {
            out.extend(run_precise(cfg));
        } else {
            out.extend(run_one(cfg, strategy)?);
        }
    }
    Ok(out)
}

fn run_one(cfg: &ExperimentConfig, strategy: Strategy) -> Result<Vec<Sample>, ExperimentError> {
    let truth = Rc::new(RefCell::new(Truth::default()));
    let sorter = match strategy {
        Strategy::Breadth => AnySorter::Breadth,
        Strategy::Depth => AnySorter::Depth,
        Strategy::Precise | Strategy::StalestSorter => AnySorter::Precise(Precise(truth.clone())),
    };
    let config = Config::default()
        .with_mtu(cfg.mtu)
        .with_max_history(0)
        .with_tombstone_grace(None)
        .with_events(false);
    let ids: Vec<NodeId> = (0..cfg.nodes).map(node_id).collect();
    let mut nodes: Vec<Node> = ids
        .iter()
        .map(|id| Gossip::new(id.clone(), config.clone(), LastWriterWins, sorter.clone()))
        .collect::<Result<_, _>>()?;
    // The same workload and peer choices for every strategy.
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut samples = Vec::with_capacity(cfg.rounds);
    for round in 1..=cfg.rounds {
        truth.borrow_mut().round = round as u64;
        // One round is one second of the nodes' clocks.
        let now = round as u64 * 1_000;
        for (i, node) in nodes.iter_mut().enumerate() {
            for _ in 0..cfg.updates_per_round {
                let key = (i * cfg.keys_per_node + rng.gen_range(0..cfg.keys_per_node)) as Key;
                let version = node
                    .set(now, key, round as u64)
                    .map_err(|e| ExperimentError::Invalid(e.to_string()))?;
                truth
                    .borrow_mut()
                    .writes
                    .entry(key)
                    .or_default()
                    .push((version, round as u64));
            }
        }
        for i in 0..cfg.nodes {
            let mut j = rng.gen_range(0..cfg.nodes - 1);
            if j >= i {
                j += 1;
            }
            exchange(&mut nodes, i, j, &truth)?;
        }
        samples.push(measure(cfg, strategy, round, &nodes, &truth.borrow()));
    }
    Ok(samples)
}

/// One push-pull exchange started by `a` with `b`, each message delivered at once. Before a
/// node builds news, the precise sorter learns what the receiver holds.
fn exchange(
    nodes: &mut [Node],
    a: usize,
    b: usize,
    truth: &Rc<RefCell<Truth>>,
) -> Result<(), ExperimentError> {
    let refused = |e: scuttle_core::ReceiveError<std::convert::Infallible>| {
        ExperimentError::Invalid(e.to_string())
    };
    let tell = |receiver: &Node| {
        truth.borrow_mut().receiver = receiver.entries().map(|(k, e)| (*k, e.version)).collect();
    };
    let syn = nodes[a].start_exchange();
    tell(&nodes[a]);
    let Some(syn_ack) = nodes[b].handle_message(0, syn).map_err(refused)? else {
        return Err(ExperimentError::Invalid("a Syn got no answer".into()));
    };
    tell(&nodes[b]);
    if let Some(ack) = nodes[a].handle_message(0, syn_ack).map_err(refused)? {
        nodes[b].handle_message(0, ack).map_err(refused)?;
    }
    Ok(())
}

fn measure(
    cfg: &ExperimentConfig,
    strategy: Strategy,
    round: usize,
    nodes: &[Node],
    truth: &Truth,
) -> Sample {
    measure_with(cfg, strategy, round, truth, |i, key| {
        nodes[i].get(&key).map_or(0, |e| e.version)
    })
}

/// The precise-reconciliation model: node `i` holds, per key, how many of its writes it has
/// seen (writes of a key are numbered 1, 2, ...). Same workload and peer choices as the core
/// runs.
fn run_precise(cfg: &ExperimentConfig) -> Vec<Sample> {
    let keys = cfg.nodes * cfg.keys_per_node;
    let mut truth = Truth::default();
    let mut held: Vec<Vec<Version>> = vec![vec![0; keys]; cfg.nodes];
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut samples = Vec::with_capacity(cfg.rounds);
    for round in 1..=cfg.rounds {
        truth.round = round as u64;
        for (i, view) in held.iter_mut().enumerate() {
            for _ in 0..cfg.updates_per_round {
                let key = i * cfg.keys_per_node + rng.gen_range(0..cfg.keys_per_node);
                let w = truth.writes.entry(key as Key).or_default();
                let n = w.len() as Version + 1;
                w.push((n, round as u64));
                view[key] = n;
            }
        }
        for i in 0..cfg.nodes {
            let mut j = rng.gen_range(0..cfg.nodes - 1);
            if j >= i {
                j += 1;
            }
            // Push-pull as in the core: j's news for i, then i's news for j.
            precise_send(&mut held, &truth, cfg.mtu, j, i);
            precise_send(&mut held, &truth, cfg.mtu, i, j);
        }
        samples.push(measure_with(
            cfg,
            Strategy::Precise,
            round,
            &truth,
            |i, key| held[i][key as usize],
        ));
    }
    samples
}

/// `from` sends `to` the `mtu` mappings newer than `to`'s that `to` has had stale longest.
fn precise_send(held: &mut [Vec<Version>], truth: &Truth, mtu: usize, from: usize, to: usize) {
    let mut deltas: Vec<(u64, usize)> = held[from]
        .iter()
        .zip(&held[to])
        .enumerate()
        .filter(|(_, (f, t))| f > t)
        .map(|(key, (_, t))| (truth.staleness(key as Key, *t).0, key))
        .collect();
    deltas.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, key) in deltas.iter().take(mtu) {
        held[to][key] = held[from][key];
    }
}

fn measure_with(
    cfg: &ExperimentConfig,
    strategy: Strategy,
    round: usize,
    truth: &Truth,
    held: impl Fn(usize, Key) -> Version,
) -> Sample {
    let mut sum_stale = 0u64;
    let mut max_stale = 0u64;
    let mut sum_behind = 0u64;
    let mut max_behind = 0u64;
    let mut pairs = 0u64;
    for i in 0..cfg.nodes {
        for owner in (0..cfg.nodes).filter(|&o| o != i) {
            for k in 0..cfg.keys_per_node {
                let key = (owner * cfg.keys_per_node + k) as Key;
                let (stale, behind) = truth.staleness(key, held(i, key));
                sum_stale += stale;
                max_stale = max_stale.max(stale);
                sum_behind += behind;
                max_behind = max_behind.max(behind);
                pairs += 1;
            }
        }
    }
    let pairs = pairs.max(1) as f64;
    Sample {
        strategy,
        round,
        mean_staleness: sum_stale as f64 / pairs,
        max_staleness: max_stale,
        mean_behind: sum_behind as f64 / pairs,
        max_behind,
    }
}

/// Writes `samples` as CSV: `strategy,round,mean_staleness,max_staleness,mean_behind,max_behind`.
pub fn write_csv(samples: &[Sample], path: &Path) -> Result<(), ExperimentError> {
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(
        w,
        "strategy,round,mean_staleness,max_staleness,mean_behind,max_behind"
    )?;
    for s in samples {
        writeln!(
            w,
            "{},{},{:.4},{},{:.4},{}",
            s.strategy, s.round, s.mean_staleness, s.max_staleness, s.mean_behind, s.max_behind
        )?;
    }
    w.flush()?;
    Ok(())
}

/// Mean of `f` over the samples of `strategy` in the second half of the run (steady state).
pub fn steady_mean(samples: &[Sample], strategy: Strategy, f: impl Fn(&Sample) -> f64) -> f64 {
    let of: Vec<&Sample> = samples.iter().filter(|s| s.strategy == strategy).collect();
    let tail = &of[of.len() / 2..];
    if tail.is_empty() {
        return 0.0;
    }
    tail.iter().map(|s| f(s)).sum::<f64>() / tail.len() as f64
}

/// One line of steady-state summary for `strategy`: mean and max staleness, mean writes behind.
pub fn steady_state_line(samples: &[Sample], strategy: Strategy) -> String {
    format!(
        "  {:16} mean staleness {:6.2} rounds, max {:6.1}; mean behind {:5.2} writes",
        strategy.name(),
        steady_mean(samples, strategy, |x| x.mean_staleness),
        steady_mean(samples, strategy, |x| x.max_staleness as f64),
        steady_mean(samples, strategy, |x| x.mean_behind),
    )
}

#[cfg(feature = "plot")]
fn color(s: Strategy) -> RGBColor {
    match s {
        Strategy::Precise => RGBColor(0x2c, 0xa0, 0x2c),
        Strategy::Depth => RGBColor(0x1f, 0x77, 0xb4),
        Strategy::Breadth => RGBColor(0xd6, 0x27, 0x28),
        Strategy::StalestSorter => RGBColor(0x94, 0x67, 0xbd),
    }
}

/// Draws two SVG panels (mean and max staleness per round, one line per strategy) into `path`
/// (only with the `plot` feature).
#[cfg(feature = "plot")]
pub fn plot(
    samples: &[Sample],
    cfg: &ExperimentConfig,
    path: &Path,
) -> Result<(), ExperimentError> {
    let err = |e: &dyn fmt::Display| ExperimentError::Plot(e.to_string());
    let root = SVGBackend::new(path, (1000, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(
            &format!(
                "Staleness: {} nodes x {} keys, {} writes/node/round, mtu {}",
                cfg.nodes, cfg.keys_per_node, cfg.updates_per_round, cfg.mtu
            ),
            ("sans-serif", 22),
        )
        .map_err(|e| err(&e))?;
    let panels = root.split_evenly((2, 1));
    let rounds = samples.iter().map(|s| s.round).max().unwrap_or(1) as f64;
    type Metric = fn(&Sample) -> f64;
    let metrics: [(&str, Metric); 2] = [
        ("mean staleness (rounds)", |s| s.mean_staleness),
        ("max staleness (rounds)", |s| s.max_staleness as f64),
    ];
    for (panel, (label, metric)) in panels.iter().zip(metrics) {
        let top = samples.iter().map(metric).fold(1.0f64, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(panel)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..rounds, 0f64..top)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("round")
            .y_desc(label)
            .draw()
            .map_err(|e| err(&e))?;
        for &strategy in &cfg.strategies {
            let c = color(strategy);
            chart
                .draw_series(LineSeries::new(
                    samples
                        .iter()
                        .filter(|s| s.strategy == strategy)
                        .map(|s| (s.round as f64, metric(s))),
                    c.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(strategy.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Whether this build draws SVG plots (the `plot` feature).
pub const PLOTS: bool = cfg!(feature = "plot");

/// Runs the experiment and writes `simulation.csv` into `dir` (created if missing), and
/// `simulation.svg` when the crate is built with the `plot` feature ([`PLOTS`]). Returns the
/// samples.
pub fn run_to_dir(cfg: &ExperimentConfig, dir: &Path) -> Result<Vec<Sample>, ExperimentError> {
    std::fs::create_dir_all(dir)?;
    let samples = run(cfg)?;
    write_csv(&samples, &dir.join("simulation.csv"))?;
    #[cfg(feature = "plot")]
    plot(&samples, cfg, &dir.join("simulation.svg"))?;
    Ok(samples)
}
