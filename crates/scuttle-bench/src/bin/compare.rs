//! `compare`: scuttle and chitchat on the same workload, side by side, as markdown tables.
//!
//! ```sh
//! cargo run --release -p scuttle-gossip-bench --bin compare -- [--quick] [--nodes 10,30,100]
//!     [--keys 10,100,1000] [--seed 1] [--max-rounds 1000] [--idle-rounds 10]
//!     [--sorter breadth|depth] [--chitchat v1|v0] [--side both|scuttle|chitchat]
//!     [--schedule sequential|concurrent] [--compression on|off]
//! ```
//!
//! Progress goes to stderr, the tables to stdout.

use std::process::ExitCode;
use std::str::FromStr;

use scuttle_sim::workload::Schedule;

use scuttle_bench::{
    run_chitchat, run_scuttle, table, thread_cpu_time, Case, ProtocolVersion, Row, Side,
    SorterKind, FANOUT, MAX_MESSAGE_BYTES, VALUE_LEN,
};

const USAGE: &str = "usage: compare [--quick] [--nodes 10,30,100] [--keys 10,100,1000] \
[--seed 1] [--max-rounds 1000] [--idle-rounds 10] [--sorter breadth|depth] [--chitchat v1|v0] [--side both|scuttle|chitchat] \
[--schedule sequential|concurrent] [--compression on|off]";

struct Args {
    nodes: Vec<usize>,
    keys: Vec<usize>,
    seed: u64,
    max_rounds: usize,
    idle_rounds: usize,
    sorter: SorterKind,
    schedule: Schedule,
    compression: bool,
    protocol: ProtocolVersion,
    scuttle: bool,
    chitchat: bool,
}

fn list(value: &str) -> Result<Vec<usize>, String> {
    value
        .split(',')
        .map(|v| v.trim().parse::<usize>().map_err(|e| format!("{v:?}: {e}")))
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        nodes: vec![10, 30, 100],
        keys: vec![10, 100, 1_000],
        seed: 1,
        max_rounds: 1_000,
        idle_rounds: 10,
        sorter: Case::new(2, 1).sorter,
        schedule: Case::new(2, 1).schedule,
        compression: false,
        protocol: ProtocolVersion::V1,
        scuttle: true,
        chitchat: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--quick" {
            args.nodes = vec![10, 30];
            args.keys = vec![10, 100];
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: String| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--nodes" => args.nodes = list(&value).map_err(bad)?,
            "--keys" => args.keys = list(&value).map_err(bad)?,
            "--seed" => args.seed = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--max-rounds" => args.max_rounds = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--idle-rounds" => args.idle_rounds = value.parse().map_err(|e| bad(format!("{e}")))?,
            "--schedule" => {
                args.schedule = match value.as_str() {
                    "sequential" => Schedule::Sequential,
                    "concurrent" => Schedule::Concurrent,
                    other => return Err(bad(format!("unknown schedule {other:?}"))),
                }
            }
            "--compression" => {
                args.compression = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(bad(format!("expected on or off, got {other:?}"))),
                }
            }
            "--sorter" => {
                args.sorter = SorterKind::from_str(&value).map_err(|e| bad(e.to_string()))?
            }
            "--chitchat" => {
                args.protocol = match value.as_str() {
                    "v0" | "V0" => ProtocolVersion::V0,
                    "v1" | "V1" => ProtocolVersion::V1,
                    other => return Err(bad(format!("unknown digest format {other:?} (v0|v1)"))),
                }
            }
            "--side" => {
                (args.scuttle, args.chitchat) = match value.as_str() {
                    "both" => (true, true),
                    "scuttle" => (true, false),
                    "chitchat" => (false, true),
                    other => {
                        return Err(bad(format!(
                            "unknown side {other:?} (both|scuttle|chitchat)"
                        )))
                    }
                }
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if args.nodes.iter().any(|&n| n < 2) {
        return Err("every N must be at least 2".to_string());
    }
    Ok(args)
}

fn describe(row: &Row) -> String {
    let cpu = row
        .cpu_ms
        .map_or_else(|| "–".to_string(), |c| format!("{c:.0}"));
    let updates = match (row.updates_sent, row.duplicates) {
        (Some(u), Some(d)) => format!(", {u} updates sent ({d} duplicates)"),
        _ => String::new(),
    };
    format!(
        "{}: converged {} in {} rounds, {} msgs, {} bytes (ratio {:.2}){updates}, cpu {cpu} ms, wall {:.0} ms, idle {}",
        row.side,
        row.converged,
        row.rounds,
        row.messages,
        row.bytes,
        row.ratio(),
        row.wall_ms,
        row.idle_bytes_per_node_round
            .map_or_else(|| "–".to_string(), |b| format!("{b:.0} B/node/round")),
    )
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let other = match args.protocol {
        ProtocolVersion::V0 => ProtocolVersion::V1,
        ProtocolVersion::V1 => ProtocolVersion::V0,
    };
    let case_of = |n: usize, k: usize| Case {
        seed: args.seed,
        max_rounds: args.max_rounds,
        idle_rounds: args.idle_rounds,
        sorter: args.sorter,
        schedule: args.schedule,
        compression: args.compression,
        ..Case::new(n, k)
    };
    let cpu0 = thread_cpu_time();
    let mut lines: Vec<(Case, Option<Row>, Option<Row>)> = Vec::new();
    let mut failed = false;
    for &n in &args.nodes {
        for &k in &args.keys {
            let case = case_of(n, k);
            eprintln!("N = {n}, K = {k}:");
            let s = args.scuttle.then(|| run_scuttle(&case));
            if let Some(s) = &s {
                eprintln!("  {}", describe(s));
            }
            let c = if args.chitchat {
                chitchat_row(&case, args.protocol, &mut failed)
            } else {
                None
            };
            lines.push((case, s, c));
        }
    }

    // The idle cost at the largest N, plus chitchat's other digest format at the smallest K.
    let mut idle_lines = Vec::new();
    if let (Some(&n), Some(&k_min)) = (args.nodes.iter().max(), args.keys.iter().min()) {
        for (case, s, c) in lines.iter().filter(|(case, _, _)| case.nodes == n) {
            let other_row = if args.chitchat && case.keys == k_min {
                eprintln!("N = {n}, K = {k_min}, chitchat {other:?} for the idle cost:");
                chitchat_row(case, other, &mut failed)
            } else {
                None
            };
            idle_lines.push((n, case.keys, vec![s.clone(), c.clone(), other_row]));
        }
    }
    let total_cpu = match (cpu0, thread_cpu_time()) {
        (Some(a), Some(b)) => format!("{:.1} s", (b.saturating_sub(a)).as_secs_f64()),
        _ => "–".to_string(),
    };

    println!(
        "Workload: every node writes K keys with {VALUE_LEN}-byte values, then every round each node \
         starts an exchange with {FANOUT} random peers; messages of at most {MAX_MESSAGE_BYTES} bytes. \
         scuttle sorter: {}, schedule {:?}, zstd {}; chitchat digests: {:?}; seed {}. Bytes: encoded messages, digests \
         included. Lower bound: N·(N−1)·Σ(key + value bytes). ms: CPU / wall time from the first \
         write to convergence.\n",
        args.sorter, args.schedule, args.compression, args.protocol, args.seed
    );
    println!("{}", table::convergence(&lines));
    if !idle_lines.is_empty() {
        println!(
            "Idle cost: bytes per node per round over {} rounds after convergence.\n",
            args.idle_rounds
        );
        println!(
            "{}",
            table::idle(
                &[
                    Side::Scuttle,
                    Side::Chitchat(args.protocol),
                    Side::Chitchat(other)
                ],
                &idle_lines
            )
        );
    }
    println!("Total CPU time of this run: {total_cpu}.");
    let not_converged = lines
        .iter()
        .flat_map(|(_, s, c)| [s, c])
        .any(|row| row.as_ref().is_some_and(|r| !r.converged));
    if failed || not_converged {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One chitchat run, printed; a failure is printed and remembered in `failed`.
fn chitchat_row(case: &Case, protocol: ProtocolVersion, failed: &mut bool) -> Option<Row> {
    match run_chitchat(case, protocol) {
        Ok(row) => {
            eprintln!("  {}", describe(&row));
            Some(row)
        }
        Err(e) => {
            eprintln!("  chitchat failed: {e}");
            *failed = true;
            None
        }
    }
}
