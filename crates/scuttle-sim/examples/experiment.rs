//! Runs the LADIS 2008 flow-control experiment and writes `simulation.csv` (and, built with
//! the `plot` feature, `simulation.svg`) into the folder given as the first argument (default
//! `out/simulation`). An optional second argument sets the mtu (default 32).
//!
//! `cargo run --release -p scuttle-gossip-sim --features plot --example experiment -- out/simulation 32`

use std::path::PathBuf;

use scuttle_sim::experiment::{run_to_dir, steady_state_line, ExperimentConfig, PLOTS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "out/simulation".into()),
    );
    let mut cfg = ExperimentConfig::default();
    if let Some(mtu) = std::env::args().nth(2) {
        cfg.mtu = mtu.parse()?;
    }
    let samples = run_to_dir(&cfg, &dir)?;
    println!("{cfg:?}");
    println!("steady state (second half of the run):");
    for &s in &cfg.strategies {
        println!("{}", steady_state_line(&samples, s));
    }
    if PLOTS {
        println!(
            "wrote simulation.csv and simulation.svg into {}",
            dir.display()
        );
    } else {
        println!(
            "wrote simulation.csv into {} (build with --features plot for the SVG)",
            dir.display()
        );
    }
    Ok(())
}
