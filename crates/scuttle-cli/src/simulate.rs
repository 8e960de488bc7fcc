//! `scuttle simulate`: the flow-control experiment of van Renesse et al. (LADIS 2008) on the
//! deterministic simulator; writes `simulation.csv` and `simulation.svg` into `--out`.

use std::path::PathBuf;

use scuttle_sim::experiment::{run_to_dir, steady_state_line, ExperimentConfig, Strategy};

/// Arguments of `scuttle simulate`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Folder for `simulation.csv` and `simulation.svg` (created if missing).
    #[arg(long, default_value = "out/simulation")]
    pub out: PathBuf,
    /// Participants.
    #[arg(long, default_value_t = 64)]
    pub nodes: usize,
    /// Keys each participant owns.
    #[arg(long, default_value_t = 16)]
    pub keys: usize,
    /// Writes each participant makes per round.
    #[arg(long, default_value_t = 2)]
    pub rate: usize,
    /// Updates per answer (flow-control limit).
    #[arg(long, default_value_t = 32)]
    pub mtu: usize,
    /// Rounds to simulate.
    #[arg(long, default_value_t = 200)]
    pub rounds: usize,
    /// Seed of the workload and peer choices.
    #[arg(long, default_value_t = 2008)]
    pub seed: u64,
    /// Skip the run of scuttlebutt with the stalest-first sorter (`scuttle-stalest`).
    #[arg(long)]
    pub skip_stalest: bool,
}

/// Runs the experiment and prints the steady-state staleness of each strategy.
pub fn run(args: &SimulateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let strategies = Strategy::ALL
        .into_iter()
        .filter(|s| !(args.skip_stalest && *s == Strategy::StalestSorter))
        .collect();
    let cfg = ExperimentConfig {
        nodes: args.nodes,
        keys_per_node: args.keys,
        updates_per_round: args.rate,
        mtu: args.mtu,
        rounds: args.rounds,
        seed: args.seed,
        strategies,
    };
    let samples = run_to_dir(&cfg, &args.out)?;
    println!("steady state (second half of {} rounds):", cfg.rounds);
    for &s in &cfg.strategies {
        println!("{}", steady_state_line(&samples, s));
    }
    println!(
        "wrote {} and {}",
        args.out.join("simulation.csv").display(),
        args.out.join("simulation.svg").display()
    );
    Ok(())
}
