//! Tombstone collection and the core's reset path: a node partitioned away for longer than
//! the grace period rejoins, and the deleted keys are gone everywhere.
#![allow(clippy::unwrap_used)] // tests may panic

use std::time::Duration;

use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth, ScuttleDepth, Sorter};
use scuttle_sim::{Faults, Sim, TICK_MS};

const GRACE_MS: u64 = 1_000;

fn scenario<S: Sorter<u32, u64> + Clone + 'static>(sorter: S, seed: u64) {
    let config = Config::default()
        .with_mtu(3)
        .with_max_history(4)
        .with_tombstone_grace(Some(Duration::from_millis(GRACE_MS)));
    let mut sim = Sim::new(5, seed, Faults::none(), move |id, clock| {
        Gossip::new(id, config.clone(), LastWriterWins, sorter.clone())
            .expect("valid config")
            .with_clock(clock)
    });
    for key in 0..10u32 {
        sim.set((key % 5) as usize, key, u64::from(key) * 100)
            .unwrap();
    }
    sim.settle(200).unwrap();
    assert!((0..5).all(|i| sim.node(i).len() == 10));

    // Node 4 is cut off; the others delete keys 0..4 and node 4 writes a key of its own.
    sim.partition(vec![0, 0, 0, 0, 1]);
    for key in 0..4u32 {
        sim.delete(0, key).unwrap();
    }
    sim.set(4, 99, 9_900).unwrap();
    for _ in 0..60 {
        sim.gossip_round();
        sim.run_until_quiet(1_000).unwrap();
    }
    // Let the grace period pass; the next exchanges collect the tombstones.
    sim.drive(2 * GRACE_MS / TICK_MS).unwrap();
    for _ in 0..10 {
        sim.gossip_round();
        sim.run_until_quiet(1_000).unwrap();
    }
    for i in 0..4 {
        for key in 0..4u32 {
            assert!(sim.node(i).get(&key).is_none(), "n{i} still holds {key}");
        }
        assert!(sim.node(i).get(&99).is_none());
    }
    for key in 0..4u32 {
        assert_eq!(sim.node(4).value(&key), Some(&(u64::from(key) * 100)));
    }

    // Heal: the majority is past node 4's watermarks, so it gets a reset.
    sim.heal();
    sim.settle(500).unwrap();
    for i in 0..5 {
        let snap = sim.snapshot(i);
        for key in 0..4u32 {
            assert!(
                !snap.contains_key(&key),
                "n{i} still holds deleted key {key}"
            );
        }
        assert_eq!(snap.len(), 7, "n{i}: {snap:?}");
        assert_eq!(sim.node(i).value(&99), Some(&9_900));
        for key in 4..10u32 {
            assert_eq!(sim.node(i).value(&key), Some(&(u64::from(key) * 100)));
        }
    }
    let resets: u64 = (0..5).map(|i| sim.node(i).stats().resets_sent).sum();
    assert!(resets > 0, "the rejoin went through the reset path");
}

#[test]
fn rejoin_after_grace_forgets_deleted_keys_breadth() {
    scenario(ScuttleBreadth, 1);
}

#[test]
fn rejoin_after_grace_forgets_deleted_keys_depth() {
    scenario(ScuttleDepth, 2);
}
