//! Hybrid-clock versions, the clock bound on remote versions, the catch-up gate and the
//! store hooks: what must hold on one node (multi-node restarts live in scuttle-sim).

use std::time::Duration;

use proptest::prelude::*;

use super::{node, NOW};
use crate::{
    hlc, Config, Gossip, MemoryStore, Message, News, NodeId, ReceiveError, Run, SetError, Update,
    Version, Versions, HLC_COUNTER_BITS,
};

const T: u64 = 1_700_000_000_000;

fn hybrid() -> Config {
    Config::default().with_versions(Versions::Hybrid)
}

fn ack(source: &str, prev: Option<Version>, versions: &[Version]) -> Message<String, String> {
    Message::Ack {
        news: News::Updates(vec![Run {
            source: NodeId::from(source),
            prev,
            updates: versions
                .iter()
                .map(|v| Update {
                    key: format!("k{v}"),
                    value: Some("x".into()),
                    source_id: NodeId::from(source),
                    version: *v,
                    timestamp: 0,
                    signature: None,
                })
                .collect(),
            through: None,
        }]),
    }
}

/// A node's clock, values and watermarks.
type Observed = (Version, Vec<(String, String)>, Vec<(NodeId, Version)>);

/// Everything observable about a node, to check that something changed nothing.
fn observe(g: &Gossip<String, String>) -> Observed {
    let mut state: Vec<_> = g.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    state.sort();
    let mut marks: Vec<_> = g.watermarks().map(|(s, v)| (s.clone(), v)).collect();
    marks.sort();
    (g.version(), state, marks)
}

#[test]
fn hybrid_versions_follow_the_clock_and_the_seed_rule() {
    let mut a = node("a", hybrid());
    let v1 = a.set(T, "k".into(), "1".into()).unwrap();
    assert_eq!(v1, hlc(T));
    // Same millisecond: the counter bits count up.
    assert_eq!(a.set(T, "k".into(), "2".into()).unwrap(), v1 + 1);
    // The clock going back never makes a version go back.
    assert_eq!(a.set(T - 10, "k".into(), "3".into()).unwrap(), v1 + 2);
    assert_eq!(a.set(T + 1, "k".into(), "4".into()).unwrap(), hlc(T + 1));
    assert_eq!(hlc(1), 1 << HLC_COUNTER_BITS);
}

#[test]
fn a_restarted_hybrid_node_starts_above_every_old_version() {
    let mut a = node("a", hybrid());
    let old = (0..100)
        .map(|i| a.set(T, format!("k{i}"), "v".into()).unwrap())
        .max()
        .unwrap();
    let mut fresh = node("a", hybrid());
    assert!(fresh.set(T + 1, "k".into(), "v".into()).unwrap() > old);
}

#[test]
fn news_beyond_the_clock_bound_waits_and_moves_nothing() {
    let config = hybrid().with_max_clock_skew(Duration::from_secs(1));
    let mut a = node("a", config);
    a.set(T, "mine".into(), "v".into()).unwrap();
    let before = observe(&a);
    let far = hlc(T + 60_000);
    // Three updates: the first within the bound, the rest too far ahead.
    let near = hlc(T + 500);
    a.handle_message(T, ack("b", Some(0), &[near, far, far + 1]))
        .unwrap();
    assert_eq!(
        a.watermark("b"),
        near,
        "the run stops before the first far update"
    );
    assert_eq!(a.version(), near.max(before.0));
    assert_eq!(a.stats().ahead, 2);
    // Only far updates: nothing moves, the clock included.
    let mut b = node("b", config_far());
    b.set(T, "mine".into(), "v".into()).unwrap();
    let before = observe(&b);
    b.handle_message(T, ack("c", Some(0), &[Version::MAX]))
        .unwrap();
    b.handle_message(T, ack("c", Some(0), &[far])).unwrap();
    assert_eq!(observe(&b), before);
    // The same news is taken once the local clock comes close enough.
    b.handle_message(T + 60_000, ack("c", Some(0), &[far]))
        .unwrap();
    assert_eq!(b.watermark("c"), far);
    assert!(b.version() >= far);
    // A write now is above it.
    assert!(b.set(T + 60_000, "k".into(), "v".into()).unwrap() > far);
}

fn config_far() -> Config {
    hybrid().with_max_clock_skew(Duration::from_secs(1))
}

#[test]
fn counter_versions_are_bounded_too() {
    let mut a = node("a", Config::default());
    a.handle_message(NOW, ack("b", Some(0), &[Version::MAX]))
        .unwrap();
    assert_eq!((a.version(), a.watermark("b")), (0, 0));
    // A gap is skipped and moves nothing either (the clock included).
    a.handle_message(NOW, ack("b", Some(5), &[9])).unwrap();
    assert_eq!((a.version(), a.watermark("b")), (0, 0));
    a.handle_message(NOW, ack("b", Some(0), &[1 << 20]))
        .unwrap();
    assert_eq!((a.version(), a.watermark("b")), (1 << 20, 1 << 20));
}

#[test]
fn a_store_is_written_before_memory_and_reloads() {
    let store = MemoryStore::new();
    let mut a = node("a", hybrid()).with_store(store.clone()).unwrap();
    a.set(T, "x".into(), "1".into()).unwrap();
    a.delete(T, "x".into()).unwrap();
    a.set(T, "y".into(), "2".into()).unwrap();
    a.handle_message(T, ack("b", Some(0), &[hlc(T)])).unwrap();
    let want = observe(&a);
    let reopened = node("a", hybrid()).with_store(store).unwrap();
    assert_eq!(observe(&reopened), want);
    assert!(reopened.get("x").is_some_and(|e| e.is_deleted()));
}

#[test]
fn a_refused_store_commit_changes_nothing() {
    let store = MemoryStore::new();
    let mut a = node("a", Config::default())
        .with_store(store.failing_after(1))
        .unwrap();
    a.set(NOW, "x".into(), "1".into()).unwrap();
    let before = observe(&a);
    assert!(matches!(
        a.set(NOW, "y".into(), "2".into()),
        Err(SetError::Store(_))
    ));
    assert!(matches!(
        a.handle_message(NOW, ack("b", Some(0), &[1, 2])),
        Err(ReceiveError::Store(_))
    ));
    assert_eq!(observe(&a), before);
    assert!(a
        .poll_event()
        .is_some_and(|e| matches!(e, crate::Event::Update { local: true, .. })));
    assert!(
        a.poll_event().is_none(),
        "no event for what was not persisted"
    );
}

#[test]
fn a_store_opens_only_on_a_fresh_node() {
    let mut a = node("a", Config::default());
    a.set(NOW, "x".into(), "1".into()).unwrap();
    assert!(a.with_store(MemoryStore::new()).is_err());
}

#[test]
fn catching_up_waits_for_the_own_updates_a_peer_holds() {
    let mut old = node("a", Config::default());
    for i in 0..30 {
        old.set(NOW, format!("k{i}"), "v".into()).unwrap();
    }
    let mut peer = node("b", Config::default().with_mtu(10));
    super::exchange(&mut old, &mut peer);
    super::exchange(&mut peer, &mut old);
    super::exchange(&mut peer, &mut old);
    super::exchange(&mut peer, &mut old);
    assert_eq!(peer.watermark("a"), 30);
    // "a" restarts with nothing; its writes wait for its own 30 updates.
    let mut a = node(
        "a",
        Config::default()
            .with_mtu(10)
            .with_catch_up(Some(Duration::from_secs(60))),
    );
    assert_eq!(
        a.set(NOW, "new".into(), "v".into()),
        Err(SetError::CatchingUp)
    );
    let mut rounds = 0;
    while !a.is_caught_up() {
        super::exchange(&mut a, &mut peer);
        rounds += 1;
        assert!(rounds < 10);
    }
    assert!(rounds > 1, "mtu 10 needs several exchanges for 30 updates");
    assert_eq!(a.len(), 30);
    assert_eq!(a.set(NOW, "new".into(), "v".into()), Ok(31));
    // Or the period passes.
    let mut lonely = node(
        "z",
        Config::default().with_catch_up(Some(Duration::from_secs(60))),
    );
    assert_eq!(
        lonely.set(NOW, "k".into(), "v".into()),
        Err(SetError::CatchingUp)
    );
    assert!(lonely.set(NOW + 60_000, "k".into(), "v".into()).is_ok());
}

proptest! {
    /// Whatever the clock readings, a hybrid node's versions strictly rise, and a node that
    /// restarts later (by the wall clock) starts above them all.
    #[test]
    fn hybrid_versions_strictly_rise(steps in proptest::collection::vec(0u64..3, 1..200)) {
        let mut a = node("a", hybrid());
        let (mut now, mut last) = (T, 0);
        for step in steps {
            now += step;
            let v = a.set(now, "k".into(), "v".into()).unwrap();
            prop_assert!(v > last);
            last = v;
        }
        let mut b = node("a", hybrid());
        let behind = last >> HLC_COUNTER_BITS; // the millisecond the clock ran to
        prop_assert!(b.set(behind + 1, "k".into(), "v".into()).unwrap() > last);
    }
}
