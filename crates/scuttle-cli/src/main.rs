//! `scuttle`: command-line tools for the scuttlebutt gossip workspace.
//!
//! Package `scuttle-gossip-cli` (`cargo install scuttle-gossip-cli`), binary `scuttle`: every
//! package of the workspace is named `scuttle-gossip*`, because `scuttle` and `scuttle-core` on
//! crates.io are another project (README, "Names").
//!
//! * `scuttle demo` — an in-memory cluster (`scuttle-sim`'s workload) gossiping until
//!   converged, with a summary (or one JSON object with `--json`).
//! * `scuttle node` — a networked node (libp2p by default, plain TCP with `--transport tcp`;
//!   the `scuttle-node` crate) with a line REPL, an HTTP API and metrics.
//! * `scuttle get|set|del|state|members` — clients of a node's HTTP API.
//! * `scuttle simulate` — the paper's flow-control experiment (`scuttle-sim`), CSV and SVG out.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client;
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
    /// Run a networked node (libp2p by default; `--transport tcp` for plain TCP) with a line
    /// REPL on stdin: set, get, del, state, peers.
    #[command(after_help = "Example, in three terminals (one machine):
  scuttle node --listen 127.0.0.1:7401 --data-dir /tmp/s1 --api 127.0.0.1:7481
  scuttle node --listen 127.0.0.1:7402 --data-dir /tmp/s2 --bootstrap 127.0.0.1:7401
  scuttle node --listen 127.0.0.1:7403 --data-dir /tmp/s3 --bootstrap 127.0.0.1:7401
then `set greeting hello` in one, `get greeting` in another, or from any shell:
  scuttle get greeting --api 127.0.0.1:7481
Plain TCP:
  scuttle node --transport tcp --listen 127.0.0.1:7401 --id a
  scuttle node --transport tcp --listen 127.0.0.1:7402 --id b --peer 127.0.0.1:7401")]
    Node(Box<node::NodeArgs>),
    /// Read a key from a running node (its HTTP API).
    Get {
        /// The key.
        key: String,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Write a key on a running node.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Delete a key on a running node.
    Del {
        /// The key.
        key: String,
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Every live key of a running node.
    State {
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// The members a running node knows of, with their liveness.
    Members {
        #[command(flatten)]
        client: client::ClientArgs,
    },
    /// Run the LADIS 2008 flow-control experiment in simulation and write its CSV and SVG.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Node(args) => node::run(args),
        Command::Get { key, client } => client::run(client, client::Request::Get(key.clone())),
        Command::Set { key, value, client } => {
            client::run(client, client::Request::Set(key.clone(), value.clone()))
        }
        Command::Del { key, client } => client::run(client, client::Request::Del(key.clone())),
        Command::State { client } => client::run(client, client::Request::State),
        Command::Members { client } => client::run(client, client::Request::Members),
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
