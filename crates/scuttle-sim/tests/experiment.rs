//! The flow-control experiment runs, is deterministic, and writes its CSV and SVG.
#![allow(clippy::unwrap_used)] // tests may panic

use scuttle_sim::experiment::{run, run_to_dir, steady_mean, ExperimentConfig, Strategy, PLOTS};

fn small() -> ExperimentConfig {
    ExperimentConfig {
        nodes: 12,
        keys_per_node: 4,
        updates_per_round: 1,
        mtu: 4,
        rounds: 40,
        seed: 7,
        strategies: Strategy::ALL.to_vec(),
    }
}

#[test]
fn one_sample_per_round_and_strategy_and_deterministic() {
    let cfg = small();
    let a = run(&cfg).unwrap();
    assert_eq!(a.len(), cfg.rounds * Strategy::ALL.len());
    for s in Strategy::ALL {
        let rounds: Vec<usize> = a
            .iter()
            .filter(|x| x.strategy == s)
            .map(|x| x.round)
            .collect();
        assert_eq!(rounds, (1..=cfg.rounds).collect::<Vec<_>>());
    }
    assert!(a.iter().all(|s| s.mean_staleness <= s.max_staleness as f64));
    assert!(a.iter().all(|s| s.mean_behind <= s.max_behind as f64));
    // Under load some view is stale.
    assert!(a.iter().any(|s| s.max_staleness > 0));
    assert_eq!(run(&cfg).unwrap(), a, "same seed, same samples");
}

#[test]
fn without_load_views_stay_fresh() {
    // One write per node every round and an mtu far above the load: everyone is at most a
    // few rounds behind (epidemic spread), never growing.
    let cfg = ExperimentConfig {
        mtu: 10_000,
        ..small()
    };
    let samples = run(&cfg).unwrap();
    for s in Strategy::ALL {
        let tail = steady_mean(&samples, s, |x| x.max_staleness as f64);
        assert!(tail < 12.0, "{s}: {tail}");
    }
}

#[test]
fn writes_csv_and_svg_with_the_plot_feature() {
    let dir = std::env::temp_dir().join(format!("scuttle-sim-exp-{}", std::process::id()));
    let cfg = ExperimentConfig {
        rounds: 10,
        ..small()
    };
    run_to_dir(&cfg, &dir).unwrap();
    let csv = std::fs::read_to_string(dir.join("simulation.csv")).unwrap();
    assert!(csv.starts_with("strategy,round,mean_staleness"));
    assert_eq!(csv.lines().count(), 1 + Strategy::ALL.len() * cfg.rounds);
    let svg = std::fs::read_to_string(dir.join("simulation.svg"));
    if PLOTS {
        let svg = svg.unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(
            svg.contains("scuttle-depth")
                && svg.contains("precise")
                && svg.contains("scuttle-stalest")
        );
    } else {
        assert!(svg.is_err(), "no SVG without the plot feature");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rejects_bad_parameters() {
    let cfg = ExperimentConfig {
        nodes: 1,
        ..small()
    };
    assert!(run(&cfg).is_err());
}
