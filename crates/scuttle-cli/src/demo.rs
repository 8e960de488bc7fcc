//! `scuttle demo`: an in-memory cluster that gossips until every replica holds the same state.
//!
//! The workload and the network are `scuttle-sim`'s ([`scuttle_sim::workload`]): every node
//! writes `--keys` keys of its own, then every round each node opens an exchange with
//! `--fanout` random peers, and every message counts its exact encoded size (digests
//! included). This file only parses flags and prints the [`Report`].

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scuttle_core::SorterKind;
use scuttle_sim::workload::{self, Report, Schedule, Workload};
use serde::Serialize;

/// Arguments of `scuttle demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of in-memory nodes.
    #[arg(long, default_value_t = Workload::default().nodes as u32,
          value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub nodes: u32,
    /// Keys each node writes (its own; all nodes together write nodes × keys).
    #[arg(long, default_value_t = Workload::default().keys as u32)]
    pub keys: u32,
    /// Exchanges each node opens per round, with distinct random peers (at most nodes − 1
    /// are used).
    #[arg(long, default_value_t = Workload::default().fanout as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout: u32,
    /// Most encoded bytes of one message (the core's `max_message_bytes`).
    #[arg(long, default_value_t = Workload::default().max_message_bytes)]
    pub max_message_bytes: usize,
    /// Most updates one message carries (the paper's flow-control mtu; default: no limit,
    /// bytes govern).
    #[arg(long)]
    pub mtu: Option<usize>,
    /// Bytes of every value written.
    #[arg(long, default_value_t = Workload::default().value_len)]
    pub value_len: usize,
    /// Which news goes first when a message is full: breadth or depth.
    #[arg(long, default_value_t = SorterKind::Breadth)]
    pub sorter: SorterKind,
    /// Seed of the values and peer choices (same seed, same run).
    #[arg(long, default_value_t = Workload::default().seed)]
    pub seed: u64,
    /// Give up (and exit non-zero) after this many rounds.
    #[arg(long, default_value_t = Workload::default().max_rounds)]
    pub max_rounds: usize,
    /// Rounds run after convergence to measure what an idle cluster costs (0: none).
    #[arg(long, default_value_t = 5)]
    pub idle_rounds: usize,
    /// Start every exchange of a round at once (replies cross in the network: the worst case
    /// for duplicate news) instead of one after the other.
    #[arg(long)]
    pub concurrent: bool,
    /// Compress frames with zstd (counted bytes are the compressed ones; sequential rounds
    /// only).
    #[arg(long)]
    pub compression: bool,
    /// Print one JSON object (the run's parameters and its report) instead of a summary.
    #[arg(long)]
    pub json: bool,
}

impl DemoArgs {
    fn workload(&self) -> Workload {
        Workload {
            nodes: self.nodes as usize,
            keys: self.keys as usize,
            fanout: self.fanout as usize,
            value_len: self.value_len,
            max_message_bytes: self.max_message_bytes,
            mtu: self.mtu.unwrap_or(Workload::default().mtu),
            sorter: self.sorter,
            seed: self.seed,
            max_rounds: self.max_rounds,
            idle_rounds: self.idle_rounds,
            schedule: if self.concurrent {
                Schedule::Concurrent
            } else {
                Schedule::Sequential
            },
            compression: self.compression,
        }
    }
}

/// What `--json` prints: the parameters, then every field of the [`Report`].
#[derive(Serialize)]
struct JsonReport<'a> {
    nodes: usize,
    keys: usize,
    fanout: usize,
    value_len: usize,
    max_message_bytes: usize,
    /// `None`: no update-count limit.
    mtu: Option<usize>,
    sorter: String,
    seed: u64,
    schedule: Schedule,
    compression: bool,
    #[serde(flatten)]
    report: &'a Report,
}

/// The error of a run that did not converge or could not start.
#[derive(Debug)]
struct DemoError(String);

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemoError {}

/// `scuttle demo`: runs the workload, shows progress on a terminal, prints a summary or JSON.
/// Fails if the flags make an invalid workload (the core's checks) or if the cluster does not
/// converge within `--max-rounds`.
pub fn run(args: &DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let w = args.workload();
    let report = if args.json {
        workload::try_run(&w, |_, _| {}).map_err(invalid)?
    } else {
        println!(
            "scuttle demo: {} nodes × {} keys of their own ({}-byte values), fanout {}, mtu {}, \
             max message {}, sorter {}, seed {}",
            thousands(w.nodes as u64),
            thousands(w.keys as u64),
            w.value_len,
            w.fanout,
            if w.mtu == usize::MAX {
                "unlimited".to_string()
            } else {
                thousands(w.mtu as u64)
            },
            bytes(w.max_message_bytes as u64),
            w.sorter,
            w.seed,
        );
        with_progress(&w)?
    };
    if args.json {
        let out = JsonReport {
            nodes: w.nodes,
            keys: w.keys,
            fanout: w.fanout,
            value_len: w.value_len,
            max_message_bytes: w.max_message_bytes,
            mtu: (w.mtu != usize::MAX).then_some(w.mtu),
            sorter: w.sorter.to_string(),
            seed: w.seed,
            schedule: w.schedule,
            compression: w.compression,
            report: &report,
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_summary(&w, &report);
    }
    if report.converged {
        Ok(())
    } else {
        Err(Box::new(DemoError(format!(
            "did not converge within {} rounds",
            w.max_rounds
        ))))
    }
}

/// Runs the workload with a progress line on stderr when stdout is a terminal.
fn with_progress(w: &Workload) -> Result<Report, Box<dyn std::error::Error>> {
    let bar = ProgressBar::with_draw_target(
        Some(w.max_rounds as u64),
        if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(ProgressStyle::with_template(
        "{spinner:.green} round {pos:>5}  {msg}  {elapsed}",
    )?);
    bar.set_message(format!("0 of {} nodes hold every key", w.nodes));
    bar.enable_steady_tick(Duration::from_millis(100));
    let report = workload::try_run(w, |round, holding| {
        bar.set_position(round as u64);
        bar.set_message(format!("{holding} of {} nodes hold every key", w.nodes));
    });
    bar.finish_and_clear();
    report.map_err(invalid)
}

/// A workload the simulator refused to run (the core's checks of the flags).
fn invalid(e: workload::WorkloadError) -> Box<dyn std::error::Error> {
    Box::new(DemoError(format!("cannot run this workload: {e}")))
}

fn print_summary(w: &Workload, r: &Report) {
    let total_keys = (w.nodes * w.keys) as u64;
    if r.converged {
        println!(
            "converged: all {} nodes hold the same {} keys after {} rounds",
            thousands(w.nodes as u64),
            thousands(total_keys),
            thousands(r.rounds as u64)
        );
    } else {
        println!("NOT converged after {} rounds", thousands(r.rounds as u64));
    }
    let lower_updates = total_keys * (w.nodes as u64).saturating_sub(1);
    println!("  rounds        {:>14}", thousands(r.rounds as u64));
    println!("  messages      {:>14}", thousands(r.messages));
    println!(
        "  updates sent  {:>14}   lower bound {} = {} keys × {} peers  ({})",
        thousands(r.updates_sent),
        thousands(lower_updates),
        thousands(total_keys),
        thousands((w.nodes as u64).saturating_sub(1)),
        ratio(r.updates_sent, lower_updates),
    );
    println!(
        "    of which    {:>14}   arrived already held (the same news from two peers)",
        thousands(r.duplicates),
    );
    println!(
        "  bytes         {:>14}   payload lower bound {} (keys and values to every peer)  ({})",
        human_bytes(r.bytes),
        human_bytes(r.payload_lower_bound),
        ratio(r.bytes, r.payload_lower_bound),
    );
    if let Some(idle) = r.idle_bytes_per_node_round {
        println!(
            "  idle          {:>14}   per node and round, over {} rounds once converged",
            format!("{idle:.1} B"),
            w.idle_rounds,
        );
    }
    println!("  wall time     {:>14}", millis(r.elapsed_ms));
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

/// An exact byte count: `65507` → `65,507 bytes`.
fn bytes(n: u64) -> String {
    format!("{} bytes", thousands(n))
}

fn ratio(actual: u64, bound: u64) -> String {
    if bound == 0 {
        "-".into()
    } else {
        format!("{:.2}×", actual as f64 / bound as f64)
    }
}

fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(bytes(65507), "65,507 bytes");
        assert_eq!(ratio(3, 2), "1.50×");
        assert_eq!(ratio(3, 0), "-");
        assert_eq!(millis(12.4), "12 ms");
        assert_eq!(millis(2500.0), "2.50 s");
    }

    #[test]
    fn flags_map_onto_the_workload() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            demo: DemoArgs,
        }
        let t = T::try_parse_from([
            "t",
            "--nodes",
            "5",
            "--keys",
            "10",
            "--fanout",
            "3",
            "--max-message-bytes",
            "65507",
            "--sorter",
            "depth",
        ])
        .unwrap();
        let w = t.demo.workload();
        assert_eq!(
            (w.nodes, w.keys, w.fanout, w.max_message_bytes, w.value_len),
            (5, 10, 3, 65507, 16)
        );
        assert_eq!(w.sorter, SorterKind::Depth);
        assert!(T::try_parse_from(["t", "--sorter", "sideways"]).is_err());
        assert!(T::try_parse_from(["t", "--nodes", "1"]).is_err());
    }
}
