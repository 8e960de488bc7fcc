//! The measured race of the "durable nodes" work: a node is killed, restarts, and writes at
//! once. Without a store and with counter versions its new writes reuse versions its peers
//! hold and are dropped as duplicates (the bug, kept as a control); with hybrid-clock
//! versions, with a catch-up period, or with a store, the cluster converges and keeps every
//! acknowledged write. Seeded schedules with message faults before the crash.
#![allow(clippy::unwrap_used)] // tests may panic

use std::time::Duration;

use rand::Rng;
use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth, SetError, Versions};
use scuttle_sim::{lww_order, Faults, Sim, SimError};

type Node = Gossip<u16, u32>;

/// How the crashed node comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restart {
    /// Empty: no store.
    Empty,
    /// From its store.
    Store,
}

fn sim(seed: u64, config: Config, stores: bool) -> Sim<u16, u32, LastWriterWins, ScuttleBreadth> {
    let faults = Faults {
        drop: 0.1,
        duplicate: 0.05,
        delay: 0.1,
        max_delay: 4,
        misdeliver: 0.0,
    };
    let s = Sim::new(5, seed, faults, move |id| -> Node {
        Gossip::new(id, config.clone(), LastWriterWins, ScuttleBreadth).unwrap()
    });
    if stores {
        s.with_stores()
    } else {
        s
    }
}

/// Writes, (replicates unless a store keeps them), kills node 0, restarts it, writes on it at
/// once (retrying while it catches up), then heals and checks that every acknowledged write
/// is where the resolver says.
fn race(seed: u64, config: Config, restart: Restart) -> Result<(), SimError> {
    let mut sim = sim(seed, config, restart == Restart::Store);
    for round in 0..40u32 {
        let i = sim.rng().gen_range(0..5);
        let key = sim.rng().gen_range(0..8);
        let _ = sim.set(i, key, round);
        // Node 0 writes a lot: its versions run ahead of the others'.
        let _ = sim.set(0, key + 100, round);
        sim.gossip_round();
        sim.drive(10)?;
    }
    if restart == Restart::Empty {
        // Without a store only what the peers hold survives: let every write reach them.
        sim.set_faults(Faults::none());
        sim.settle(500)?;
    }
    sim.crash(0);
    match restart {
        Restart::Empty => sim.restart_empty(0),
        Restart::Store => sim.restart_from_store(0),
    }
    sim.advance(1);
    // Write at once: overwrite old keys and add new ones.
    let mut written = 0;
    for attempt in 0..200u32 {
        match sim.set(0, (attempt % 16) as u16, 1_000_000 + attempt) {
            Ok(_) => written += 1,
            Err(SimError::Set(SetError::CatchingUp)) => {}
            Err(e) => return Err(e),
        }
        if written == 16 {
            break;
        }
        sim.gossip_round();
        sim.drive(10)?;
    }
    assert_eq!(written, 16, "the restarted node never took writes");
    sim.set_faults(Faults::none());
    sim.settle(1_000)?;
    sim.check_converged(lww_order)
}

const SEEDS: u64 = 60;

#[test]
fn hybrid_versions_without_catching_up_diverge() {
    // Versions never repeat, but the restarted node's first write lifts its own watermark
    // over its old updates: it never gets them back.
    let config = Config::default().with_versions(Versions::Hybrid);
    let diverged = (0..SEEDS)
        .filter(|s| race(*s, config.clone(), Restart::Empty).is_err())
        .count();
    assert!(diverged > 0);
}

#[test]
fn counter_versions_without_a_store_lose_writes() {
    // The bug as measured: the control shows the check can fail.
    let lost = (0..SEEDS)
        .filter(|s| race(*s, Config::default(), Restart::Empty).is_err())
        .count();
    assert!(
        lost > SEEDS as usize / 2,
        "only {lost} of {SEEDS} lost writes"
    );
}

#[test]
fn hybrid_versions_without_a_store_keep_every_write() {
    // The networked default: hybrid versions, and writes wait until the node holds its own
    // old updates again.
    let config = Config::networked(Duration::from_secs(600));
    for seed in 0..SEEDS {
        race(seed, config.clone(), Restart::Empty).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

#[test]
fn counter_versions_catching_up_keep_every_write() {
    // Writes wait until a peer's digest raised the clock (or ten minutes passed).
    let config = Config::default().with_catch_up(Some(Duration::from_secs(600)));
    for seed in 0..SEEDS {
        race(seed, config.clone(), Restart::Empty).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

#[test]
fn stores_keep_every_write_under_both_clocks() {
    for versions in [Versions::Counter, Versions::Hybrid] {
        let config = Config::default().with_versions(versions);
        for seed in 0..SEEDS {
            race(seed, config.clone(), Restart::Store)
                .unwrap_or_else(|e| panic!("{versions:?} seed {seed}: {e}"));
        }
    }
}

#[test]
fn catching_up_refuses_writes_until_an_exchange() {
    let config = Config::networked(Duration::from_secs(5));
    let mut sim = sim(1, config, false);
    sim.set_faults(Faults::none());
    // A fresh node's writes wait for a peer ...
    assert!(matches!(
        sim.node_mut(0).set(scuttle_sim::START_MS, 1, 1),
        Err(SetError::CatchingUp)
    ));
    // ... or for the period to pass.
    assert!(sim
        .node_mut(1)
        .set(scuttle_sim::START_MS + 5_000, 1, 1)
        .is_err());
    sim.node_mut(2)
        .set(scuttle_sim::START_MS, 1, 1)
        .unwrap_err();
    assert!(sim
        .node_mut(2)
        .set(scuttle_sim::START_MS + 5_000, 1, 1)
        .is_ok());
    sim.gossip(0, 3);
    sim.settle(50).unwrap();
    assert!(sim.node(0).is_caught_up());
    let now = sim.now();
    assert!(sim.node_mut(0).set(now, 2, 2).is_ok());
}
