//! The simulator's own behaviour: faults, partitions, crashes, the clock, the counters, error
//! reporting and the bounds.
#![allow(clippy::unwrap_used)] // tests may panic

use std::cell::RefCell;
use std::rc::Rc;

use scuttle_core::wire::message_len;
use scuttle_core::{
    Config, Entry, Event, Gossip, LastWriterWins, Message, ScuttleDepth, SetError, TryResolver,
    Update,
};
use scuttle_sim::{lww_order, Faults, Sim, SimError, START_MS, TICK_MS};

type TestSim = Sim<u32, u64, LastWriterWins, ScuttleDepth>;

fn sim(n: usize, seed: u64, faults: Faults) -> TestSim {
    Sim::new(n, seed, faults, |id| {
        Gossip::new(
            id,
            Config::default().with_tombstone_grace(None),
            LastWriterWins,
            ScuttleDepth,
        )
        .unwrap()
    })
}

fn noisy() -> Faults {
    Faults {
        drop: 0.2,
        duplicate: 0.1,
        delay: 0.2,
        max_delay: 4,
        misdeliver: 0.1,
    }
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
fn one_exchange_is_three_whole_messages() {
    let mut s = sim(2, 1, Faults::none());
    s.set(0, 1, 10).unwrap();
    s.set(1, 2, 20).unwrap();
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let seen = kinds.clone();
    s.observe(move |_, from, to, msg| {
        let kind = match msg {
            Message::Syn { .. } => "syn",
            Message::SynAck { .. } => "syn-ack",
            Message::Ack { .. } => "ack",
        };
        seen.borrow_mut().push((from, to, kind));
    });
    s.gossip(0, 1);
    assert_eq!(s.run_until_quiet(10).unwrap(), 3, "one step per message");
    assert_eq!(
        *kinds.borrow(),
        [(0, 1, "syn"), (1, 0, "syn-ack"), (0, 1, "ack")]
    );
    assert!(s.replicas_identical());
    assert_eq!(s.stats().messages, 3);
}

#[test]
fn counters_add_up() {
    let mut s = sim(6, 9, noisy());
    let bytes = Rc::new(RefCell::new(0u64));
    let seen = bytes.clone();
    s.observe(move |_, _, _, msg| *seen.borrow_mut() += message_len(msg) as u64);
    for k in 0..30 {
        let _ = s.set((k % 6) as usize, k, u64::from(k)); // n03 is down for a while
        s.gossip_round();
        s.drive(2).unwrap();
        if k == 10 {
            s.crash(3);
        }
        if k == 20 {
            s.restart(3);
        }
    }
    let st = s.stats();
    assert_eq!(
        st.bytes,
        *bytes.borrow(),
        "bytes are the sum of message_len"
    );
    assert_eq!(st.sent, st.messages + st.duplicated);
    assert_eq!(
        st.sent,
        st.delivered + st.dropped + s.in_flight() as u64,
        "{st:?}"
    );
    assert!(st.dropped > 0 && st.duplicated > 0 && st.delayed > 0 && st.misdelivered > 0);
    assert!(st.largest > 0 && st.largest * st.messages >= st.bytes);
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut s = sim(6, seed, noisy());
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
fn the_clock_moves_with_steps_and_stamps_writes() {
    let mut s = sim(2, 1, Faults::none());
    assert_eq!(s.now(), START_MS);
    s.drive(3).unwrap();
    assert_eq!(s.now(), START_MS + 3 * TICK_MS);
    s.advance(1_000);
    s.set(0, 1, 1).unwrap();
    assert_eq!(
        s.node(0).get(&1).unwrap().timestamp,
        START_MS + 3 * TICK_MS + 1_000
    );
    assert_eq!(s.writes()[0].timestamp, s.now());
}

#[test]
fn partition_keeps_sides_apart_until_healed() {
    let mut s = sim(4, 2, Faults::none());
    s.partition(vec![0, 0, 1, 1]);
    assert!(s.is_partitioned());
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
    assert!(!s.is_up(0));
    assert_eq!(s.in_flight(), 0);
    assert!(s.stats().dropped > 0);
    assert_eq!(s.set(0, 8, 80), Err(SimError::NodeDown(0)));
    s.gossip(0, 1);
    assert_eq!(s.in_flight(), 0, "a crashed node starts no exchange");
    // Exchanges towards the crashed node are lost on the way.
    s.gossip(1, 0);
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
    assert!(s.is_up(1));
    assert_eq!(s.node(1).value(&1), Some(&2));
    let v = s.set(1, 2, 3).unwrap();
    assert!(v > 2, "the version restarts above the snapshot");
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

#[test]
fn events_name_the_node_and_the_peer() {
    let mut s = sim(3, 7, Faults::none());
    s.record_events(true);
    s.set(0, 1, 10).unwrap();
    s.gossip(0, 2);
    s.run_until_quiet(10).unwrap();
    let events = s.take_events();
    let updates: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Update { key, local, .. } => Some((e.node, e.from, *key, *local)),
            _ => None,
        })
        .collect();
    assert_eq!(updates, [(0, None, 1, true), (2, Some(0), 1, false)]);
    assert!(s.events().is_empty());
}

#[test]
fn fanout_rounds_pick_distinct_peers() {
    let mut s = sim(6, 8, Faults::none());
    let pairs = Rc::new(RefCell::new(Vec::new()));
    let seen = pairs.clone();
    s.observe(move |_, from, to, msg| {
        if matches!(msg, Message::Syn { .. }) {
            seen.borrow_mut().push((from, to));
        }
    });
    s.gossip_round_with(3);
    let mut pairs = pairs.borrow().clone();
    assert_eq!(pairs.len(), 18);
    assert!(pairs.iter().all(|(a, b)| a != b));
    pairs.sort_unstable();
    pairs.dedup();
    assert_eq!(pairs.len(), 18, "no node picks a peer twice in a round");
}

#[test]
fn a_failing_resolver_is_reported_not_a_panic() {
    // Every node fails (with an error) on a remote update of key 13.
    let refuse = |_: Option<&Entry<u64>>, u: &Update<u32, u64>| {
        if u.key == 13 {
            Err("key 13 is cursed".to_string())
        } else {
            Ok(true)
        }
    };
    let local = |_: Option<&Entry<u64>>, _: &Update<u32, u64>| Ok::<_, String>(true);
    let mut s = Sim::new(2, 1, Faults::none(), move |id| {
        Gossip::new(
            id,
            Config::default(),
            TryResolver::new(refuse, local),
            ScuttleDepth,
        )
        .unwrap()
    });
    s.set(0, 12, 1).unwrap();
    s.settle(10).unwrap();
    s.set(0, 13, 1).unwrap();
    s.gossip(0, 1);
    let err = s.run_until_quiet(10).unwrap_err();
    match &err {
        SimError::Policy { node, reason } => {
            assert_eq!(node.as_str(), "n01", "n01 refused n00's Ack");
            assert!(reason.contains("cursed"), "{reason}");
        }
        other => panic!("expected a policy error, got {other:?}"),
    }
    // The refused message changed nothing.
    assert!(s.node(1).get(&13).is_none());
    assert_eq!(s.node(1).watermark("n00"), 1);
    assert!(s.node(1).get(&12).is_some());
}

#[test]
fn refused_writes_are_errors() {
    let mut s = Sim::new(1, 1, Faults::none(), |id| {
        Gossip::new(
            id,
            Config::default().with_max_message_bytes(100),
            scuttle_core::StrictlyOrderedValues,
            ScuttleDepth,
        )
        .unwrap()
    });
    s.set(0, 1u32, 5u64).unwrap();
    assert_eq!(s.set(0, 1, 4), Err(SimError::Set(SetError::Rejected)));
    let mut big = Sim::new(1, 1, Faults::none(), |id| {
        Gossip::new(
            id,
            Config::default().with_max_message_bytes(100),
            LastWriterWins,
            ScuttleDepth,
        )
        .unwrap()
    });
    assert!(matches!(
        big.set(0, 1u32, "x".repeat(200)),
        Err(SimError::Set(SetError::TooLarge { max: 100, .. }))
    ));
    assert!(big.writes().is_empty(), "refused writes are not logged");
}
