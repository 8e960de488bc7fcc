//! Runs the LADIS 2008 flow-control experiment and writes `simulation.csv` and
//! `simulation.svg` into the folder given as the first argument (default `out/simulation`).
//!
//! `cargo run --release -p scuttle-sim --example experiment -- out/simulation`

use std::path::PathBuf;

use scuttle_sim::experiment::{run_to_dir, steady_mean, ExperimentConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "out/simulation".into()),
    );
    let cfg = ExperimentConfig::default();
    let samples = run_to_dir(&cfg, &dir)?;
    println!("{cfg:?}");
    println!("steady state (second half of the run):");
    for &s in &cfg.strategies {
        println!(
            "  {:16} mean staleness {:6.2} rounds, max {:6.1}; mean behind {:5.2} writes",
            s.name(),
            steady_mean(&samples, s, |x| x.mean_staleness),
            steady_mean(&samples, s, |x| x.max_staleness as f64),
            steady_mean(&samples, s, |x| x.mean_behind),
        );
    }
    println!("wrote {}", dir.display());
    Ok(())
}
