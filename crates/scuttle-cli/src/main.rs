//! `scuttle`: command-line tools for the scuttlebutt gossip workspace.
//!
//! Package `scuttle-gossip-cli` (`cargo install scuttle-gossip-cli`), binary `scuttle`: every
//! package of the workspace is named `scuttle-gossip*`, because `scuttle` and `scuttle-core` on
//! crates.io are another project (README, "Names").
//!
//! * `scuttle demo` — an in-memory cluster (`scuttle-sim`'s workload) gossiping until
//!   converged, with a summary (or one JSON object with `--json`).
//! * `scuttle node` — a networked node over TCP (`scuttle-tokio`) with a small line REPL.
//! * `scuttle simulate` — the paper's flow-control experiment (`scuttle-sim`), CSV and SVG out.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod node;
mod simulate;

/// Scuttlebutt anti-entropy gossip: a replicated key/value map.
#[derive(Debug, Parser)]
#[command(name = "scuttle", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run N in-memory nodes that each write K keys and gossip until every replica is
    /// identical, then summarize.
    #[command(after_help = "Examples:
  scuttle demo --nodes 100 --keys 10 --mtu 10 --sorter depth
  scuttle demo --nodes 5 --keys 10 --fanout 3 --max-message-bytes 65507 --json")]
    Demo(demo::DemoArgs),
    /// Run a networked node (TCP) with a line REPL on stdin: set, get, del, state, peers.
    #[command(after_help = "Example, in two terminals:
  scuttle node --listen 127.0.0.1:7401 --id a
  scuttle node --listen 127.0.0.1:7402 --id b --peer 127.0.0.1:7401
then `set greeting hello` in one and `get greeting` in the other.")]
    Node(node::NodeArgs),
    /// Run the LADIS 2008 flow-control experiment in simulation and write its CSV and SVG.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Node(args) => node::run(args),
        Command::Simulate(args) => simulate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
