//! Tombstone collection (the simulator calls `handle_timeout` when `poll_timeout` has come)
//! and the core's reset path: a node partitioned away for longer than the grace period
//! rejoins, and the deleted keys are gone everywhere. The single- and three-node cases were
//! the core's own tests before protocol v2.
#![allow(clippy::unwrap_used)] // tests may panic

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use scuttle_core::{
    Config, Event, Gossip, LastWriterWins, Message, News, ScuttleBreadth, ScuttleDepth, Sorter,
};
use scuttle_sim::{lww_order, Faults, Sim, TICK_MS};

const GRACE_MS: u64 = 1_000;

fn scenario<S: Sorter<u32, u64> + Clone + 'static>(sorter: S, seed: u64) {
    let config = Config::default()
        .with_mtu(3)
        .with_max_history(4)
        .with_tombstone_grace(Some(Duration::from_millis(GRACE_MS)));
    let mut sim = Sim::new(5, seed, Faults::none(), move |id| {
        Gossip::new(id, config.clone(), LastWriterWins, sorter.clone()).expect("valid config")
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
    // Let the grace period pass: the nodes collect the tombstones when their time comes.
    sim.drive(2 * GRACE_MS / TICK_MS).unwrap();
    assert!((0..4).all(|i| sim.node(i).poll_timeout().is_none()));
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

// ------------------------------------------------------------ single exchanges

type StringSim = Sim<String, String, LastWriterWins, ScuttleBreadth>;

const GRACE_10S: u64 = 10_000;

fn strings(n: usize) -> StringSim {
    Sim::new(n, 1, Faults::none(), |id| {
        let config = Config::default().with_tombstone_grace(Some(Duration::from_millis(GRACE_10S)));
        Gossip::new(id, config, LastWriterWins, ScuttleBreadth).expect("valid config")
    })
}

/// One fault-free exchange `a` → `b`, delivered completely.
fn exchange(sim: &mut StringSim, a: usize, b: usize) {
    sim.gossip(a, b);
    sim.run_until_quiet(10)
        .expect("an exchange takes three steps");
}

#[test]
fn tombstones_are_kept_for_the_grace_period_then_collected() {
    let mut sim = strings(1);
    sim.record_events(true);
    sim.set(0, "k".into(), "v".into()).unwrap();
    sim.set(0, "k".into(), "w".into()).unwrap();
    sim.delete(0, "k".into()).unwrap();
    let deleted_at = sim.now();
    assert_eq!(sim.node(0).poll_timeout(), Some(deleted_at + GRACE_10S));
    assert!(sim.node(0).get("k").is_some_and(|e| e.is_deleted()));
    sim.advance(GRACE_10S - 1);
    assert!(
        sim.node(0).get("k").is_some(),
        "still inside the grace period"
    );
    sim.advance(1);
    assert!(sim.node(0).get("k").is_none());
    assert_eq!(sim.node(0).poll_timeout(), None);
    assert_eq!(
        sim.node(0).history_len(),
        0,
        "the tombstone and the writes it superseded are gone"
    );
    assert!(sim
        .events()
        .iter()
        .any(|e| e.from.is_none() && e.event == Event::TombstonesCollected { count: 1 }));
}

#[test]
fn a_write_after_a_delete_revives_the_key() {
    let mut sim = strings(2);
    sim.set(0, "k".into(), "1".into()).unwrap();
    sim.delete(0, "k".into()).unwrap();
    sim.set(1, "k".into(), "2".into()).unwrap(); // version 1: older than the delete
    sim.settle(10).unwrap();
    sim.check_converged(lww_order).unwrap();
    assert_eq!(sim.node(1).value("k"), None);
    sim.set(1, "k".into(), "3".into()).unwrap(); // now above the delete
    sim.settle(10).unwrap();
    assert_eq!(sim.node(0).value("k").map(String::as_str), Some("3"));
}

#[test]
fn a_peer_behind_collected_tombstones_gets_a_reset() {
    let mut sim = strings(3);
    sim.record_events(true);
    sim.set(0, "doomed".into(), "x".into()).unwrap();
    sim.set(0, "kept".into(), "y".into()).unwrap();
    sim.set(1, "other".into(), "z".into()).unwrap();
    sim.settle(10).unwrap();
    sim.check_converged(lww_order).unwrap();

    // Node 2 hears nothing for a while; node 0 deletes, node 1 learns it, both collect the
    // tombstone after the grace period.
    sim.delete(0, "doomed".into()).unwrap();
    sim.set(0, "late".into(), "w".into()).unwrap();
    exchange(&mut sim, 0, 1);
    assert_eq!(sim.node(1).value("doomed"), None);
    sim.advance(6 * GRACE_10S);
    assert!(sim.node(0).get("doomed").is_none() && sim.node(1).get("doomed").is_none());

    // Node 2 comes back and talks to node 1 only: incremental news could never tell it about
    // the delete, so node 1 answers with a reset.
    let answers = Rc::new(RefCell::new(Vec::new()));
    let seen = answers.clone();
    sim.observe(move |_, from, to, msg| {
        if let Message::SynAck { news, .. } = msg {
            seen.borrow_mut()
                .push((from, to, matches!(news, News::Reset(_))));
        }
    });
    sim.take_events();
    exchange(&mut sim, 2, 1);
    assert_eq!(*answers.borrow(), [(1, 2, true)]);
    assert_eq!(
        sim.node(2).value("doomed"),
        None,
        "node 2 forgot the deleted key"
    );
    assert!(
        sim.node(2).get("doomed").is_none(),
        "no tombstone left either"
    );
    assert_eq!(sim.node(2).value("late").map(String::as_str), Some("w"));
    assert!(sim.events().iter().any(|e| e.node == 2
        && e.from == Some(1)
        && e.event
            == Event::Forgotten {
                key: "doomed".to_string()
            }));

    // Afterwards everyone agrees and no more resets are needed.
    sim.settle(10).unwrap();
    let resets = |sim: &StringSim| (0..3).map(|i| sim.node(i).stats().resets_sent).sum::<u64>();
    let before = resets(&sim);
    exchange(&mut sim, 2, 0);
    exchange(&mut sim, 2, 1);
    assert_eq!(resets(&sim), before);
    assert!(sim.replicas_identical());
    assert_eq!(sim.node(2).len(), 3);
}

#[test]
fn a_reset_keeps_writes_the_sender_has_not_seen() {
    let mut sim = strings(2);
    sim.set(0, "k".into(), "v".into()).unwrap();
    sim.delete(0, "k".into()).unwrap();
    sim.advance(6 * GRACE_10S);
    assert!(sim.node(0).get("k").is_none());
    // Node 1 wrote before ever hearing from node 0: its write is news to node 0 and must
    // survive the reset.
    sim.set(1, "mine".into(), "1".into()).unwrap();
    sim.settle(10).unwrap();
    assert_eq!(sim.node(0).value("mine").map(String::as_str), Some("1"));
    assert!(sim.node(1).get("k").is_none());
    assert!(sim.node(0).stats().resets_sent > 0);
}
