//! `scuttle demo`: an in-memory cluster that gossips until every replica holds the same state.
//!
//! The [`Cluster`] is also used by the convergence benchmark (`benches/convergence.rs`
//! includes this file), so it depends on nothing but the core, `rand`, `clap` and `indicatif`.

use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scuttle_core::{
    Config, DynSorter, FrameCodec, Gossip, LastWriterWins, Message, NodeId, ScuttleBreadth,
    ScuttleDepth, Update,
};

/// The replica type of the demo: string keys and values, last writer wins.
pub type Node = Gossip<String, String, LastWriterWins, DynSorter<String, String>>;

/// Which flow-control ordering the nodes use when `mtu` cuts an exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SorterKind {
    /// scuttle-depth: sources with the most outstanding news first.
    Depth,
    /// scuttle-breadth: ascending version, so every source makes progress.
    #[default]
    Breadth,
}

impl fmt::Display for SorterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SorterKind::Depth => "depth",
            SorterKind::Breadth => "breadth",
        })
    }
}

impl SorterKind {
    fn boxed(self) -> DynSorter<String, String> {
        match self {
            SorterKind::Depth => Box::new(ScuttleDepth),
            SorterKind::Breadth => Box::new(ScuttleBreadth),
        }
    }
}

/// Arguments of `scuttle demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of in-memory nodes.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub nodes: u32,
    /// Number of keys written in all (each node writes its share).
    #[arg(long, default_value_t = 1000)]
    pub keys: u32,
    /// Updates one node sends per exchange at most (the paper's flow-control mtu).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub mtu: u64,
    /// Exchanges each node starts per round (with distinct random peers).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout: u32,
    /// Seed of the peer choices and digest orders (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which news goes first when mtu cuts an exchange.
    #[arg(long, value_enum, default_value_t = SorterKind::Breadth)]
    pub sorter: SorterKind,
    /// Give up (and exit non-zero) after this many rounds.
    #[arg(long, default_value_t = 10_000)]
    pub max_rounds: u64,
}

/// What one round or a whole run cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Rounds run.
    pub rounds: u64,
    /// Messages delivered (digest entries, digest ends and updates).
    pub messages: u64,
    /// Of which updates.
    pub update_messages: u64,
    /// Bytes on the wire, length prefixes included (CBOR frames).
    pub bytes: u64,
}

/// An in-memory cluster of [`Node`]s, every message encoded and decoded as a real frame.
pub struct Cluster {
    nodes: Vec<Node>,
    index: HashMap<NodeId, usize>,
    codec: FrameCodec,
    rng: SmallRng,
    fanout: usize,
    buf: Vec<u8>,
    totals: Totals,
    keys: u64,
    lower_bound_bytes: u64,
}

/// The error of a run that broke (a codec or protocol failure is a bug, not a normal outcome).
#[derive(Debug)]
pub struct DemoError(pub String);

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemoError {}

/// The key written for index `i`.
pub fn key(i: u64) -> String {
    format!("key-{i:07}")
}

/// The value written for index `i`.
pub fn value(i: u64) -> String {
    format!("value-{i:07}")
}

impl Cluster {
    /// `nodes` nodes; key `i` (of `keys`) is written by node `i % nodes`.
    pub fn new(
        nodes: u32,
        keys: u32,
        mtu: usize,
        fanout: u32,
        seed: u64,
        sorter: SorterKind,
    ) -> Result<Self, DemoError> {
        let n = nodes as usize;
        let codec = FrameCodec::default();
        let mut cluster = Cluster {
            nodes: Vec::with_capacity(n),
            index: HashMap::with_capacity(n),
            codec,
            rng: SmallRng::seed_from_u64(seed),
            fanout: (fanout as usize).min(n.saturating_sub(1)).max(1),
            buf: Vec::new(),
            totals: Totals::default(),
            keys: u64::from(keys),
            lower_bound_bytes: 0,
        };
        let width = nodes.saturating_sub(1).to_string().len();
        for i in 0..n {
            let id = NodeId::new(format!("node-{i:0width$}"));
            let config = Config::default()
                .with_mtu(mtu)
                .with_max_history(usize::MAX)
                .with_events(false)
                .with_rng_seed(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let node = Gossip::new(id.clone(), config, LastWriterWins, sorter.boxed())
                .map_err(|e| DemoError(format!("bad configuration: {e}")))?;
            cluster.index.insert(id, i);
            cluster.nodes.push(node);
        }
        let mut lower = 0u64;
        for k in 0..u64::from(keys) {
            let node = &mut cluster.nodes[(k % nodes as u64) as usize];
            let version = node
                .set(key(k), value(k))
                .map_err(|e| DemoError(format!("local write refused: {e}")))?;
            // The cheapest way to tell one peer about this write: one update frame.
            let update = Update {
                key: key(k),
                value: Some(value(k)),
                source_id: node.id().clone(),
                version,
                timestamp: node.get(&key(k)).map_or(0, |e| e.timestamp),
            };
            cluster.buf.clear();
            cluster
                .codec
                .encode(
                    &Message::Update {
                        update,
                        prev: Some(version - 1),
                    },
                    &mut cluster.buf,
                )
                .map_err(|e| DemoError(format!("encode: {e}")))?;
            lower += cluster.buf.len() as u64;
        }
        cluster.lower_bound_bytes = lower * (u64::from(nodes) - 1);
        Ok(cluster)
    }

    /// The nodes.
    #[allow(dead_code)] // used by the tests
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// What the run cost so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Updates every node must receive at least: each key reaches the `N − 1` other nodes.
    pub fn lower_bound_updates(&self) -> u64 {
        self.keys * (self.nodes.len() as u64 - 1)
    }

    /// Bytes of [`lower_bound_updates`](Self::lower_bound_updates) one update frame each.
    pub fn lower_bound_bytes(&self) -> u64 {
        self.lower_bound_bytes
    }

    /// Updates queued as news by all nodes.
    pub fn updates_sent(&self) -> u64 {
        self.nodes.iter().map(|n| n.stats().updates_sent).sum()
    }

    /// Updates that arrived already held (`duplicates`) or ahead of a missing one (`gaps`),
    /// summed over all nodes.
    pub fn wasted(&self) -> (u64, u64) {
        self.nodes.iter().fold((0, 0), |(d, g), n| {
            let s = n.stats();
            (d + s.duplicates, g + s.gaps)
        })
    }

    /// Entries held by all nodes together (`keys × nodes` once converged).
    pub fn replicated(&self) -> u64 {
        self.nodes.iter().map(|n| n.entries().count() as u64).sum()
    }

    /// Whether every node holds exactly the same entries.
    pub fn converged(&self) -> bool {
        let Some((first, rest)) = self.nodes.split_first() else {
            return true;
        };
        let len = first.entries().count();
        rest.iter().all(|n| {
            n.entries().count() == len && first.entries().all(|(k, e)| n.get(k) == Some(e))
        })
    }

    /// One round: every node starts an exchange with `fanout` distinct random peers, then
    /// every message is delivered until all nodes are idle.
    pub fn round(&mut self) -> Result<(), DemoError> {
        let n = self.nodes.len();
        let mut peers = Vec::with_capacity(self.fanout);
        for i in 0..n {
            peers.clear();
            while peers.len() < self.fanout {
                let j = self.rng.gen_range(0..n - 1);
                let j = if j >= i { j + 1 } else { j };
                if !peers.contains(&j) {
                    peers.push(j);
                }
            }
            for &j in &peers {
                let peer = self.nodes[j].id().clone();
                self.nodes[i].gossip(&peer);
            }
        }
        self.deliver()?;
        self.totals.rounds += 1;
        Ok(())
    }

    /// Delivers messages until no node has anything to send.
    fn deliver(&mut self) -> Result<(), DemoError> {
        let mut batch: Vec<(usize, usize, Message<String, String>)> = Vec::new();
        loop {
            batch.clear();
            for (from, node) in self.nodes.iter_mut().enumerate() {
                while let Some((to, msg)) = node.poll_transmit() {
                    let to = *self
                        .index
                        .get(&to)
                        .ok_or_else(|| DemoError(format!("message for unknown node {to}")))?;
                    batch.push((from, to, msg));
                }
            }
            if batch.is_empty() {
                return Ok(());
            }
            for (from, to, msg) in batch.drain(..) {
                self.buf.clear();
                self.codec
                    .encode(&msg, &mut self.buf)
                    .map_err(|e| DemoError(format!("encode: {e}")))?;
                let msg: Message<String, String> = self
                    .codec
                    .decode_frame(&self.buf)
                    .map_err(|e| DemoError(format!("decode: {e}")))?;
                self.totals.messages += 1;
                self.totals.bytes += self.buf.len() as u64;
                if matches!(msg, Message::Update { .. }) {
                    self.totals.update_messages += 1;
                }
                let sender = self.nodes[from].id().clone();
                self.nodes[to]
                    .receive(&sender, msg)
                    .map_err(|e| DemoError(format!("protocol: {e}")))?;
            }
        }
    }

    /// Runs rounds until converged or `max_rounds`; returns whether it converged. `tick` is
    /// called after every round.
    pub fn run(
        &mut self,
        max_rounds: u64,
        mut tick: impl FnMut(&Cluster),
    ) -> Result<bool, DemoError> {
        while !self.converged() {
            if self.totals.rounds >= max_rounds {
                return Ok(false);
            }
            self.round()?;
            tick(self);
        }
        Ok(true)
    }
}

/// Thousands separators: `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

/// Bytes in a readable unit (`12.3 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn ratio(actual: u64, bound: u64) -> String {
    if bound == 0 {
        "-".into()
    } else {
        format!("{:.2}×", actual as f64 / bound as f64)
    }
}

fn seconds(d: Duration) -> String {
    if d.as_secs_f64() < 1.0 {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `scuttle demo`: builds the cluster, shows progress, prints a summary. Fails if the cluster
/// does not converge within `--max-rounds`.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mtu = usize::try_from(args.mtu).unwrap_or(usize::MAX);
    println!(
        "scuttle demo: {} nodes, {} keys ({} per node), mtu {}, fanout {}, sorter {}, seed {}",
        thousands(args.nodes.into()),
        thousands(args.keys.into()),
        thousands(u64::from(args.keys).div_ceil(args.nodes.into())),
        args.mtu,
        args.fanout,
        args.sorter,
        args.seed,
    );
    let start = Instant::now();
    let mut cluster = Cluster::new(
        args.nodes,
        args.keys,
        mtu,
        args.fanout,
        args.seed,
        args.sorter,
    )?;
    let target = u64::from(args.keys) * u64::from(args.nodes);
    let bar = ProgressBar::with_draw_target(
        Some(target),
        if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner:.green} round {msg:>5} [{bar:40.cyan/blue}] {percent:>3}% of key copies  {elapsed}",
        )
        .map_err(|e| DemoError(e.to_string()))?
        .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    bar.set_message("0");
    bar.set_position(cluster.replicated());
    bar.enable_steady_tick(Duration::from_millis(100));
    let converged = cluster.run(args.max_rounds, |c| {
        bar.set_message(c.totals().rounds.to_string());
        bar.set_position(c.replicated());
    })?;
    bar.finish_and_clear();
    let elapsed = start.elapsed();
    let t = cluster.totals();
    let sent = cluster.updates_sent();
    let lower = cluster.lower_bound_updates();
    if converged {
        println!(
            "converged: all {} nodes hold the same {} keys after {} rounds",
            thousands(args.nodes.into()),
            thousands(args.keys.into()),
            thousands(t.rounds)
        );
    } else {
        println!(
            "NOT converged after {} rounds ({} of {} key copies in place)",
            thousands(t.rounds),
            thousands(cluster.replicated()),
            thousands(target),
        );
    }
    println!("  rounds        {:>14}", thousands(t.rounds),);
    println!(
        "  messages      {:>14}   ({} updates, {} digest entries and ends)",
        thousands(t.messages),
        thousands(t.update_messages),
        thousands(t.messages - t.update_messages),
    );
    println!(
        "  updates sent  {:>14}   lower bound {} = {} keys × {} peers  ({})",
        thousands(sent),
        thousands(lower),
        thousands(args.keys.into()),
        thousands(u64::from(args.nodes) - 1),
        ratio(sent, lower),
    );
    let (duplicates, gaps) = cluster.wasted();
    println!(
        "    of which    {:>14}   arrived already held (sent by two exchanges in flight){}",
        thousands(duplicates),
        if gaps > 0 {
            format!(", {} ahead of a missing one", thousands(gaps))
        } else {
            String::new()
        },
    );
    println!(
        "  bytes         {:>14}   lower bound {} (one update frame per copy)  ({})",
        human_bytes(t.bytes),
        human_bytes(cluster.lower_bound_bytes()),
        ratio(t.bytes, cluster.lower_bound_bytes()),
    );
    println!("  wall time     {:>14}", seconds(elapsed));
    if converged {
        Ok(())
    } else {
        Err(Box::new(DemoError(format!(
            "did not converge within {} rounds",
            args.max_rounds
        ))))
    }
}

#[cfg(test)]
mod tests {
    // The convergence bench includes this file in a target where `#[test]`s are left out.
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn small_cluster_converges_to_every_key() {
        let mut c = Cluster::new(5, 50, 10, 1, 7, SorterKind::Breadth).unwrap();
        assert!(!c.converged());
        assert!(c.run(1000, |_| {}).unwrap());
        assert!(c.converged());
        for node in c.nodes() {
            assert_eq!(node.len(), 50);
            for i in 0..50 {
                assert_eq!(node.value(&key(i)), Some(&value(i)));
            }
        }
        // Every update sent was applied once per node that lacked it, or counted as waste.
        let applied: u64 = c.nodes().iter().map(|n| n.stats().updates_applied).sum();
        assert_eq!(applied, c.lower_bound_updates());
        let (duplicates, gaps) = c.wasted();
        assert_eq!(c.updates_sent(), applied + duplicates + gaps);
        assert_eq!(c.lower_bound_updates(), 50 * 4);
        assert!(c.totals().bytes >= c.lower_bound_bytes());
        assert!(c.totals().update_messages >= c.lower_bound_updates());
    }

    #[test]
    fn depth_sorter_and_fanout_converge_too() {
        let mut c = Cluster::new(8, 100, 3, 3, 11, SorterKind::Depth).unwrap();
        assert!(c.run(1000, |_| {}).unwrap());
        assert_eq!(c.replicated(), 800);
    }

    #[test]
    fn same_seed_same_run() {
        let run = |seed| {
            let mut c = Cluster::new(6, 60, 4, 1, seed, SorterKind::Breadth).unwrap();
            assert!(c.run(1000, |_| {}).unwrap());
            (c.totals().rounds, c.totals().messages, c.updates_sent())
        };
        assert_eq!(run(3), run(3));
    }

    #[test]
    fn round_bound_is_reported() {
        let mut c = Cluster::new(10, 100, 1, 1, 1, SorterKind::Breadth).unwrap();
        assert!(!c.run(2, |_| {}).unwrap());
        assert_eq!(c.totals().rounds, 2);
        assert!(!c.converged());
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
