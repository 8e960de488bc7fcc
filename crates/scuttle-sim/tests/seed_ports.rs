//! Ports of the seed's (simple-scuttle) behaviour tests, plus the core's exchange rules, on
//! the simulator (these were the core's own integration tests before protocol v2).
#![allow(clippy::unwrap_used)] // tests may panic

use std::cell::RefCell;
use std::rc::Rc;

use scuttle_core::{
    Candidate, Config, Digest, DynSorter, Entry, Event, Gossip, LastWriterWins, Message, News,
    NodeId, Resolver, Run, ScuttleBreadth, ScuttleDepth, SetError, Sorter, StrictlyOrderedValues,
    Update,
};
use scuttle_sim::{lww_order, Faults, Pair, Sim, SimEvent};

type Lww = Gossip<String, String>;
type LwwSim = Sim<String, String, LastWriterWins, ScuttleBreadth>;

fn lww_sim(n: usize, config: Config) -> LwwSim {
    Sim::new(n, 1, Faults::none(), move |id| {
        Gossip::new(id, config.clone(), LastWriterWins, ScuttleBreadth).expect("valid config")
    })
}

/// One fault-free exchange `a` → `b`, delivered completely.
fn exchange<K, V, R, S>(sim: &mut Sim<K, V, R, S>, a: usize, b: usize)
where
    K: Clone + Eq + std::hash::Hash + Ord + std::fmt::Debug + serde::Serialize,
    V: Clone + PartialEq + std::fmt::Debug + serde::Serialize,
    R: Resolver<K, V>,
    R::Error: std::fmt::Display,
    S: Sorter<K, V>,
{
    sim.gossip(a, b);
    sim.run_until_quiet(10)
        .expect("an exchange takes three steps");
}

fn value<'a, R, S>(node: &'a Gossip<String, String, R, S>, key: &str) -> Option<&'a str>
where
    R: Resolver<String, String>,
    S: Sorter<String, String>,
{
    node.value(key).map(String::as_str)
}

#[test]
fn four_nodes_in_a_line_share_writes() {
    // A–B, B–C, A–D: writes on A and B reach C and D through the relays.
    let mut sim = lww_sim(4, Config::default());
    sim.set(0, "from-a".into(), "1".into()).unwrap();
    sim.set(1, "from-b".into(), "2".into()).unwrap();
    for _ in 0..3 {
        exchange(&mut sim, 0, 1);
        exchange(&mut sim, 1, 2);
        exchange(&mut sim, 0, 3);
    }
    for i in 0..4 {
        assert_eq!(value(sim.node(i), "from-a"), Some("1"), "node {i}");
        assert_eq!(value(sim.node(i), "from-b"), Some("2"), "node {i}");
    }
    sim.check_converged(lww_order).unwrap();
}

#[test]
fn ring_of_four_each_bumping_its_own_key_converges() {
    let mut sim = lww_sim(4, Config::default());
    for step in 0..5 {
        for i in 0..4 {
            sim.set(i, format!("key-{i}"), format!("{step}")).unwrap();
        }
        for i in 0..4 {
            exchange(&mut sim, i, (i + 1) % 4);
        }
    }
    for _ in 0..4 {
        for i in 0..4 {
            exchange(&mut sim, i, (i + 1) % 4);
        }
    }
    sim.check_converged(lww_order).unwrap();
    for i in 0..4 {
        assert_eq!(value(sim.node(0), &format!("key-{i}")), Some("4"));
    }
}

#[test]
fn mtu_one_delivers_updates_in_order() {
    let mut sim = lww_sim(2, Config::default().with_mtu(1).with_max_history(4));
    for word in ["Doctor", "Who", "Just", "Me"] {
        sim.set(0, "words".into(), word.into()).unwrap();
    }
    sim.record_events(true);
    for _ in 0..6 {
        exchange(&mut sim, 1, 0);
    }
    let seen: Vec<String> = sim
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            SimEvent {
                node: 1,
                event: Event::Update { entry, .. },
                ..
            } => entry.value,
            _ => None,
        })
        .collect();
    assert_eq!(seen, ["Doctor", "Who", "Just", "Me"]);
}

/// The news `node` sends a peer that holds nothing, as `(source, [versions])` per run.
fn news_for_a_newcomer<S: Sorter<String, String>>(
    node: &mut Gossip<String, String, LastWriterWins, S>,
) -> Vec<(String, Option<u64>, Vec<u64>)> {
    let reply = node
        .handle_message(
            0,
            Message::Syn {
                digest: Digest::Full(Vec::new()),
            },
        )
        .unwrap();
    let Some(Message::SynAck {
        news: News::Updates(runs),
        ..
    }) = reply
    else {
        panic!("expected a SynAck with news, got {reply:?}");
    };
    runs.into_iter()
        .map(|r| {
            (
                r.source.to_string(),
                r.prev,
                r.updates.iter().map(|u| u.version).collect(),
            )
        })
        .collect()
}

#[test]
fn mtu_cut_sends_exactly_mtu_and_never_skips_a_version() {
    for depth in [false, true] {
        let config = Config::default().with_mtu(3).with_max_history(1000);
        let sorter: DynSorter<String, String> = if depth {
            Box::new(ScuttleDepth)
        } else {
            Box::new(ScuttleBreadth)
        };
        let mut a = Gossip::new("a", config, LastWriterWins, sorter).unwrap();
        for i in 0..5 {
            a.set(1, format!("a{i}"), "x".into()).unwrap();
        }
        // a relays two writes of b.
        let b = NodeId::from("b");
        let updates = (1..=2)
            .map(|version| Update {
                key: format!("b{version}"),
                value: Some("x".to_string()),
                source_id: b.clone(),
                version,
                timestamp: 0,
                signature: None,
            })
            .collect();
        let relayed = Message::Ack {
            news: News::Updates(vec![Run {
                source: b,
                prev: Some(0),
                updates,
                through: None,
            }]),
        };
        assert_eq!(a.handle_message(0, relayed).unwrap(), None);
        // c has heard nothing: its digest is empty. Each run starts right after what c holds
        // and ascends without a gap.
        let news = news_for_a_newcomer(&mut a);
        let total: usize = news.iter().map(|(_, _, v)| v.len()).sum();
        assert_eq!(total, 3, "exactly mtu updates go out: {news:?}");
        let want = if depth {
            // a has 5 outstanding, b 2: depth sends a's first.
            vec![("a".to_string(), Some(0), vec![1, 2, 3])]
        } else {
            // breadth: ascending version, ties by source id: a1, b1, a2.
            vec![
                ("a".to_string(), Some(0), vec![1, 2]),
                ("b".to_string(), Some(0), vec![1]),
            ]
        };
        assert_eq!(news, want);
    }
}

#[test]
fn a_sorter_cannot_make_a_cut_skip_a_version() {
    // A hostile sorter that puts the newest first: the core still sends versions in order.
    let newest_first = |news: &mut [Candidate<'_, String, String>]| {
        news.sort_by_key(|c| std::cmp::Reverse(c.update.version))
    };
    let mut a = Gossip::new(
        "a",
        Config::default().with_mtu(2).with_max_history(100),
        LastWriterWins,
        newest_first,
    )
    .unwrap();
    for i in 0..5 {
        a.set(1, format!("k{i}"), "v".into()).unwrap();
    }
    assert_eq!(
        news_for_a_newcomer(&mut a),
        [("a".to_string(), Some(0), vec![1, 2])]
    );
}

#[test]
fn versions_follow_the_seed() {
    let mut pair = Pair::new(Lww::with_defaults("a"), Lww::with_defaults("b"));
    assert_eq!(pair.a.version(), 0);
    assert_eq!(pair.a.set(1, "k".into(), "1".into()), Ok(1));
    assert_eq!(pair.a.set(1, "k".into(), "2".into()), Ok(2));
    // b has seen version 10 of someone; a learns of it and its next write is above it.
    for _ in 0..10 {
        pair.b.set(1, "j".into(), "x".into()).unwrap();
    }
    pair.exchange().unwrap();
    assert_eq!(pair.a.version(), 10);
    assert_eq!(pair.a.set(1, "k".into(), "3".into()), Ok(11));
}

#[test]
fn rejected_local_write_changes_nothing() {
    let mut sim = Sim::new(1, 1, Faults::none(), |id| {
        Gossip::new(id, Config::default(), StrictlyOrderedValues, ScuttleBreadth).unwrap()
    });
    sim.record_events(true);
    assert_eq!(sim.set(0, "n", 5i64), Ok(1));
    sim.take_events();
    assert_eq!(sim.set(0, "n", 5), Err(SetError::Rejected.into()));
    assert_eq!(sim.set(0, "n", 4), Err(SetError::Rejected.into()));
    assert_eq!(sim.delete(0, "n"), Err(SetError::Rejected.into()));
    let a = sim.node(0);
    assert_eq!(a.version(), 1);
    assert_eq!(a.watermark("n00"), 1);
    assert_eq!(a.value("n"), Some(&5));
    assert!(sim.events().is_empty());
    assert_eq!(sim.writes().len(), 1);
    assert_eq!(sim.set(0, "n", 6), Ok(2));
}

#[test]
fn strict_equal_values_from_two_sources_converge() {
    // The design's regression: equal values written on two nodes, relayed by depth with mtu 1
    // through a third; with ties broken by (version, source) every replica ends on one winner.
    let config = Config::default().with_mtu(1).with_max_history(2);
    for order in 0..6 {
        let config = config.clone();
        let mut sim = Sim::new(3, order, Faults::none(), move |id| {
            Gossip::new(id, config.clone(), StrictlyOrderedValues, ScuttleDepth).unwrap()
        });
        sim.set(0, "x", 7i64).unwrap();
        sim.set(0, "y", 1).unwrap();
        sim.set(1, "x", 7).unwrap();
        sim.set(1, "y", 1).unwrap();
        let schedule: [(usize, usize); 3] = match order {
            0 => [(0, 2), (1, 2), (0, 1)],
            1 => [(1, 2), (0, 2), (0, 1)],
            2 => [(2, 0), (2, 1), (1, 0)],
            3 => [(2, 1), (0, 1), (2, 0)],
            4 => [(0, 1), (2, 0), (2, 1)],
            _ => [(1, 0), (2, 1), (0, 2)],
        };
        for (a, b) in schedule {
            exchange(&mut sim, a, b);
        }
        sim.settle(20).unwrap();
        sim.check_converged(scuttle_sim::strict_order).unwrap();
        let winner = sim.node(2).get("x").unwrap();
        assert_eq!((winner.value, winner.source_id.as_str()), (Some(7), "n01"));
    }
}

#[test]
fn compaction_keeps_the_latest_update_of_every_key() {
    let mut sim = lww_sim(2, Config::default().with_max_history(3));
    sim.record_events(true);
    for k in 0..10 {
        sim.set(0, format!("k{k}"), "first".into()).unwrap();
    }
    // Ten live keys, nothing superseded: nothing may be dropped.
    assert_eq!(sim.node(0).history_len(), 10);
    for k in 0..10 {
        sim.set(0, format!("k{k}"), "second".into()).unwrap();
    }
    assert_eq!(
        sim.node(0).history_len(),
        10,
        "superseded updates compacted away"
    );
    let compactions: usize = sim
        .take_events()
        .into_iter()
        .filter_map(|e| match e.event {
            Event::Compaction { dropped, .. } => Some(dropped),
            _ => None,
        })
        .sum();
    assert_eq!(compactions, 10);
    // A late joiner still gets every key, and the watermarks meet despite the compacted
    // versions.
    sim.settle(50).unwrap();
    assert_eq!(sim.node(1).len(), 10);
    assert!(sim.node(1).iter().all(|(_, v)| v == "second"));
    assert_eq!(sim.node(1).watermark("n00"), sim.node(0).watermark("n00"));
}

#[test]
fn delete_is_a_tombstone_and_null_is_a_value() {
    let mut pair: Pair<String, serde_json::Value> =
        Pair::new(Gossip::with_defaults("a"), Gossip::with_defaults("b"));
    pair.a
        .set(1, "null".into(), serde_json::Value::Null)
        .unwrap();
    pair.a.set(1, "gone".into(), serde_json::json!(1)).unwrap();
    pair.drive_bounded(10).unwrap();
    pair.b.delete(2, "gone".into()).unwrap();
    pair.drive_bounded(10).unwrap();
    for node in [&pair.a, &pair.b] {
        assert_eq!(node.value("null"), Some(&serde_json::Value::Null));
        assert!(node.contains_key("null"));
        assert_eq!(node.value("gone"), None);
        assert!(node.get("gone").is_some_and(Entry::is_deleted));
        assert_eq!(node.len(), 1);
    }
}

#[test]
fn events_report_local_and_remote_updates() {
    let mut sim = lww_sim(2, Config::default());
    sim.record_events(true);
    sim.set(0, "k".into(), "v".into()).unwrap();
    exchange(&mut sim, 0, 1);
    let events = sim.take_events();
    assert!(matches!(
        &events[0],
        SimEvent {
            node: 0,
            from: None,
            event: Event::Update { local: true, .. }
        }
    ));
    match &events[1..] {
        [SimEvent {
            node: 1,
            from: Some(0),
            event: Event::Update { key, entry, local },
        }] => {
            assert_eq!(key, "k");
            assert_eq!(entry.source_id.as_str(), "n00");
            assert!(!local);
        }
        other => panic!("expected one remote update event, got {other:?}"),
    }
}

#[test]
fn with_state_restores_a_node_above_its_old_versions() {
    let mut sim = lww_sim(1, Config::default());
    sim.set(0, "k".into(), "1".into()).unwrap();
    sim.set(0, "k".into(), "2".into()).unwrap();
    sim.record_events(true);
    sim.restart_from_snapshot(0);
    assert_eq!(sim.node(0).version(), 2);
    assert!(sim.events().is_empty(), "loading a state is not news");
    assert_eq!(sim.set(0, "k".into(), "3".into()), Ok(3));
    assert_eq!(sim.events().len(), 1);
}

#[test]
fn an_exchange_is_three_messages_and_ends() {
    let mut pair = Pair::new(Lww::with_defaults("a"), Lww::with_defaults("b"));
    pair.a.set(1, "x".into(), "1".into()).unwrap();
    pair.b.set(1, "y".into(), "1".into()).unwrap();
    let t = pair.exchange().unwrap();
    assert!(matches!(t.syn, Message::Syn { digest: Digest::Full(ref d) } if d.len() == 1));
    // b's news for a (y) and b's digest; then a's news for b (x).
    assert_eq!(t.syn_ack.news().map(|n| n.len()), Some(1));
    assert!(matches!(t.syn_ack.digest(), Some(Digest::Full(d)) if d.len() == 1));
    assert_eq!(
        t.ack.as_ref().and_then(|m| m.news()).map(|n| n.len()),
        Some(1)
    );
    assert_eq!(pair.stats().messages, 3);
    assert!(pair.identical());
    // The next exchange finds nothing to send: no Ack.
    let idle = pair.exchange().unwrap();
    assert!(idle.ack.is_none() && idle.is_idle());
}

/// A write travels through a relay: in the writer's `Ack`, then in the relay's `SynAck`.
#[test]
fn news_travels_through_a_relay() {
    let mut sim = lww_sim(3, Config::default());
    let seen = Rc::new(RefCell::new(Vec::new()));
    let out = seen.clone();
    sim.observe(move |_, from, to, msg| {
        if let Some(news) = msg.news().filter(|n| !n.is_empty()) {
            out.borrow_mut().push((from, to, news.len()));
        }
    });
    sim.set(0, "k".into(), "v".into()).unwrap();
    exchange(&mut sim, 0, 1); // n00 → n01 in n00's Ack
    exchange(&mut sim, 2, 1); // n01 → n02 in n01's SynAck
    assert_eq!(*seen.borrow(), [(0, 1, 1), (1, 2, 1)]);
    assert_eq!(value(sim.node(2), "k"), Some("v"));
}
