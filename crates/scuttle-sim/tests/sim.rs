//! The simulator's own behaviour: faults, partitions, crashes and the bounds.
#![allow(clippy::unwrap_used)] // tests may panic

use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleDepth};
use scuttle_sim::{lww_order, Faults, Sim, SimError};

type TestSim = Sim<u32, u64, LastWriterWins, ScuttleDepth>;

fn sim(n: usize, seed: u64, faults: Faults) -> TestSim {
    Sim::new(n, seed, faults, |id, clock| {
        Gossip::new(
            id,
            Config::default().with_tombstone_grace(None),
            LastWriterWins,
            ScuttleDepth,
        )
        .unwrap()
        .with_clock(clock)
    })
}

#[test]
fn fault_free_exchange_converges() {
    let mut s = sim(4, 1, Faults::none());
    s.set(0, 1, 10).unwrap();
    s.set(3, 2, 20).unwrap();
    s.delete(2, 1).unwrap();
    let rounds = s.settle(100).unwrap();
    assert!(rounds > 0);
    s.check_converged(lww_order).unwrap();
    assert_eq!(s.stats().dropped, 0);
    assert!((0..4).all(|i| s.node(i).get(&1).unwrap().is_deleted()));
}

#[test]
fn same_seed_same_run() {
    let faults = Faults {
        drop: 0.2,
        duplicate: 0.1,
        delay: 0.2,
        max_delay: 4,
        misdeliver: 0.1,
    };
    let run = |seed| {
        let mut s = sim(6, seed, faults);
        for k in 0..10 {
            s.set((k % 6) as usize, k, u64::from(k)).unwrap();
            s.gossip_round();
            s.drive(2).unwrap();
        }
        (s.stats(), (0..6).map(|i| s.snapshot(i)).collect::<Vec<_>>())
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5).0, run(6).0);
}

#[test]
fn partition_keeps_sides_apart_until_healed() {
    let mut s = sim(4, 2, Faults::none());
    s.partition(vec![0, 0, 1, 1]);
    s.set(0, 1, 1).unwrap();
    for _ in 0..20 {
        s.gossip_round();
        s.run_until_quiet(100).unwrap();
    }
    assert!(s.node(1).get(&1).is_some());
    assert!(s.node(2).get(&1).is_none() && s.node(3).get(&1).is_none());
    assert_eq!(
        s.settle(5),
        Err(SimError::NotConverged { rounds: 5 }),
        "a partitioned network never settles"
    );
    s.heal();
    s.settle(100).unwrap();
    s.check_converged(lww_order).unwrap();
}

#[test]
fn crash_loses_in_flight_messages_and_keeps_state() {
    let mut s = sim(3, 3, Faults::none());
    s.set(0, 7, 70).unwrap();
    s.gossip(0, 1);
    assert!(s.in_flight() > 0);
    s.crash(0);
    assert_eq!(s.in_flight(), 0);
    assert!(s.stats().dropped > 0);
    assert!(s.set(0, 8, 80).is_err(), "a crashed node takes no writes");
    s.run_until_quiet(100).unwrap();
    assert!(s.node(1).get(&7).is_none());
    s.restart(0);
    assert_eq!(s.node(0).value(&7), Some(&70));
    s.settle(100).unwrap();
    s.check_converged(lww_order).unwrap();
}

#[test]
fn snapshot_restart_rebuilds_the_node() {
    let mut s = sim(3, 4, Faults::none());
    s.set(1, 1, 1).unwrap();
    s.set(1, 1, 2).unwrap();
    s.settle(100).unwrap();
    s.restart_from_snapshot(1);
    assert_eq!(s.node(1).value(&1), Some(&2));
    let v = s.set(1, 2, 3).unwrap();
    assert!(v > 2, "the clock restarts above the snapshot");
    s.settle(100).unwrap();
    s.check_converged(lww_order).unwrap();
}

#[test]
fn misdelivered_news_is_handled_by_prev() {
    let faults = Faults {
        misdeliver: 1.0,
        ..Faults::none()
    };
    let mut s = sim(5, 5, faults);
    for k in 0..5 {
        s.set(k as usize, k, u64::from(k)).unwrap();
    }
    for _ in 0..10 {
        s.gossip_round();
        s.run_until_quiet(1_000).unwrap();
    }
    assert!(s.stats().misdelivered > 0);
    s.set_faults(Faults::none());
    s.settle(200).unwrap();
    s.check_converged(lww_order).unwrap();
}

#[test]
fn delays_bound_run_until_quiet() {
    let faults = Faults {
        delay: 1.0,
        max_delay: 50,
        ..Faults::none()
    };
    let mut s = sim(2, 6, faults);
    s.set(0, 1, 1).unwrap();
    s.gossip(0, 1);
    assert!(matches!(
        s.run_until_quiet(1),
        Err(SimError::NotQuiet { steps: 1, .. })
    ));
    s.run_until_quiet(10_000).unwrap();
}
