//! Runs the convergence workload (`scuttle_sim::workload`) and prints its report as JSON.
//!
//! `cargo run --release -p scuttle-gossip-sim --example workload -- [nodes] [keys] [fanout] [sorter] [idle rounds]`
//! (defaults: 10 nodes, 100 keys, fanout 3, breadth, 0 idle rounds).

use scuttle_sim::workload::{try_run, Workload};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let mut w = Workload::default();
    if let Some(n) = arg(0) {
        w.nodes = n.parse()?;
    }
    if let Some(k) = arg(1) {
        w.keys = k.parse()?;
    }
    if let Some(f) = arg(2) {
        w.fanout = f.parse()?;
    }
    if let Some(s) = arg(3) {
        w.sorter = s.parse()?;
    }
    if let Some(i) = arg(4) {
        w.idle_rounds = i.parse()?;
    }
    let report = try_run(&w, |round, holding| {
        eprintln!("round {round}: {holding}/{} nodes hold every key", w.nodes)
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
