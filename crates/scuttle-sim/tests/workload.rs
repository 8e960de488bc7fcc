//! The convergence workload: converges, counts what it sends, is deterministic, measures the
//! idle cost, and refuses invalid workloads.
#![allow(clippy::unwrap_used)] // tests may panic

use scuttle_core::SorterKind;
use scuttle_sim::workload::{
    run, run_with_progress, try_run, Report, Schedule, Workload, WorkloadError,
};

fn small() -> Workload {
    Workload {
        nodes: 8,
        keys: 30,
        ..Workload::default()
    }
}

/// The report without its wall-time measurement.
fn counts(r: &Report) -> Report {
    Report {
        elapsed_ms: 0.0,
        ..r.clone()
    }
}

#[test]
fn converges_and_costs_at_least_the_payload() {
    for sorter in [SorterKind::Breadth, SorterKind::Depth] {
        let w = Workload { sorter, ..small() };
        let r = run(&w);
        assert!(r.converged, "{r:?}");
        assert!(r.rounds > 0 && r.rounds < w.max_rounds, "{r:?}");
        // Every key reaches the N − 1 other nodes at least once.
        let needed = (w.nodes * (w.nodes - 1) * w.keys) as u64;
        assert!(r.updates_sent >= needed, "{r:?}");
        assert!(r.bytes > r.payload_lower_bound, "{r:?}");
        assert!(
            r.messages >= 2 * (w.nodes * w.fanout * r.rounds) as u64,
            "{r:?}"
        );
        assert_eq!(r.idle_bytes_per_node_round, None);
    }
}

#[test]
fn lower_bound_follows_the_formula() {
    let w = Workload {
        nodes: 12,
        keys: 150,
        value_len: 7,
        ..Workload::default()
    };
    // Keys are `n07-k042`: 8 bytes each, all of one length.
    assert_eq!(w.key(7, 42), "n07-k042");
    assert_eq!(w.key(0, 0).len(), w.key(11, 149).len());
    assert_eq!(w.payload_lower_bound(), 12 * 11 * 150 * (8 + 7));
}

#[test]
fn same_seed_same_report() {
    let a = run(&small());
    let b = run(&small());
    assert_eq!(counts(&a), counts(&b));
    let c = run(&Workload { seed: 2, ..small() });
    assert!(c.converged);
    assert_ne!(counts(&a), counts(&c), "another seed picks other peers");
}

#[test]
fn progress_is_reported_every_round() {
    let mut seen = Vec::new();
    let r = run_with_progress(&small(), |round, holding| seen.push((round, holding)));
    assert_eq!(seen.len(), r.rounds);
    assert!(seen
        .iter()
        .enumerate()
        .all(|(i, (round, _))| *round == i + 1));
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1), "{seen:?}");
    assert_eq!(seen.last().map(|s| s.1), Some(small().nodes));
}

#[test]
fn small_messages_and_small_mtu_still_converge() {
    for (max_message_bytes, mtu) in [(200, usize::MAX), (65_507, 2), (120, 1)] {
        let w = Workload {
            max_message_bytes,
            mtu,
            value_len: 20,
            ..small()
        };
        let r = run(&w);
        assert!(r.converged, "{w:?}: {r:?}");
        assert!(r.rounds > run(&small()).rounds, "{w:?}: {r:?}");
    }
}

#[test]
fn an_idle_cluster_costs_the_same_whatever_its_size() {
    let idle = |nodes| {
        let r = run(&Workload {
            nodes,
            keys: 5,
            idle_rounds: 4,
            ..Workload::default()
        });
        assert!(r.converged);
        r.idle_bytes_per_node_round.expect("idle rounds ran")
    };
    let (few, many) = (idle(4), idle(40));
    assert!(few > 0.0);
    // Digest hashes: an idle exchange does not list the sources (a full digest of 40 sources
    // alone is about 240 bytes).
    assert!(many < 1.2 * few && few < 1.2 * many, "{few} vs {many}");
    assert!(
        many < 30.0 * 3.0,
        "{many}: about 25 bytes per idle exchange, fanout 3"
    );
    let busy = run(&Workload {
        nodes: 40,
        keys: 5,
        ..Workload::default()
    });
    let per_node_round = busy.bytes as f64 / (40 * busy.rounds) as f64;
    assert!(many * 10.0 < per_node_round, "{many} vs {per_node_round}");
}

#[test]
fn degenerate_clusters() {
    let one = run(&Workload {
        nodes: 1,
        ..small()
    });
    assert!(one.converged && one.rounds == 0 && one.bytes == 0);
    assert_eq!(one.payload_lower_bound, 0);
    let no_fanout = run(&Workload {
        fanout: 0,
        max_rounds: 3,
        ..small()
    });
    assert!(!no_fanout.converged && no_fanout.rounds == 3 && no_fanout.messages == 0);
    // A fanout above the cluster size means "every other node".
    let all = run(&Workload {
        nodes: 4,
        fanout: 10,
        ..small()
    });
    assert!(all.converged && all.rounds == 1, "{all:?}");
}

#[test]
fn invalid_workloads_are_errors() {
    let too_big = Workload {
        value_len: 70_000,
        ..small()
    };
    assert!(matches!(
        try_run(&too_big, |_, _| {}),
        Err(WorkloadError::Sim(_))
    ));
    let tiny = Workload {
        max_message_bytes: 10,
        ..small()
    };
    assert!(matches!(tiny.validate(), Err(WorkloadError::Config(_))));
    assert!(small().validate().is_ok());
}

#[test]
#[should_panic(expected = "invalid workload")]
fn run_panics_on_an_invalid_workload() {
    run(&Workload { mtu: 0, ..small() });
}

#[test]
fn the_report_serializes() {
    let r = run(&Workload {
        idle_rounds: 1,
        ..small()
    });
    let json = serde_json::to_value(&r).expect("serializable");
    assert_eq!(json["converged"], true);
    assert_eq!(json["bytes"], r.bytes);
    assert!(json["idle_bytes_per_node_round"].is_number());
}

#[test]
fn both_schedules_converge_and_sequential_sends_no_duplicate() {
    let sequential = run(&small());
    let concurrent = run(&Workload {
        schedule: Schedule::Concurrent,
        ..small()
    });
    assert!(sequential.converged && concurrent.converged);
    // One exchange at a time: every digest is fresh, so no update arrives twice.
    assert_eq!(sequential.duplicates, 0, "{sequential:?}");
    assert!(concurrent.duplicates > 0, "{concurrent:?}");
    assert!(sequential.bytes < concurrent.bytes);
}

#[test]
fn compression_makes_the_same_run_cheaper() {
    let plain = run(&small());
    let packed = run(&Workload {
        compression: true,
        ..small()
    });
    assert!(packed.converged);
    assert_eq!(
        (packed.rounds, packed.messages),
        (plain.rounds, plain.messages)
    );
    assert!(packed.bytes < plain.bytes, "{packed:?} vs {plain:?}");
}
