//! Ports of the seed's (simple-scuttle) behaviour tests, plus the core's exchange rules.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_converged, exchange, settle, snapshot, values};
use scuttle_core::{
    Config, Entry, Event, Gossip, LastWriterWins, NodeId, ScuttleBreadth, ScuttleDepth, SetError,
    StrictlyOrderedValues, Update,
};

type Lww = Gossip<String, String>;

fn lww(id: &str, config: Config) -> Lww {
    Gossip::new(id, config, LastWriterWins, ScuttleBreadth).expect("valid config")
}

#[test]
fn four_nodes_in_a_line_share_writes() {
    // A–B, B–C, A–D: writes on A and B reach C and D through the relays.
    let mut n: Vec<Lww> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| lww(id, Config::default()))
        .collect();
    n[0].set("from-a".into(), "1".into()).unwrap();
    n[1].set("from-b".into(), "2".into()).unwrap();
    for _ in 0..3 {
        exchange(&mut n, 0, 1);
        exchange(&mut n, 1, 2);
        exchange(&mut n, 0, 3);
    }
    for node in &n {
        assert_eq!(
            node.value("from-a").map(String::as_str),
            Some("1"),
            "{}",
            node.id()
        );
        assert_eq!(
            node.value("from-b").map(String::as_str),
            Some("2"),
            "{}",
            node.id()
        );
    }
    assert_converged(&n);
}

#[test]
fn ring_of_four_each_bumping_its_own_key_converges() {
    let mut n: Vec<Lww> = (0..4)
        .map(|i| lww(&format!("n{i}"), Config::default()))
        .collect();
    for step in 0..5 {
        for (i, node) in n.iter_mut().enumerate() {
            node.set(format!("key-{i}"), format!("{step}")).unwrap();
        }
        for i in 0..4 {
            exchange(&mut n, i, (i + 1) % 4);
        }
    }
    for _ in 0..4 {
        for i in 0..4 {
            exchange(&mut n, i, (i + 1) % 4);
        }
    }
    assert_converged(&n);
    for i in 0..4 {
        assert_eq!(
            n[0].value(&format!("key-{i}")).map(String::as_str),
            Some("4")
        );
    }
}

#[test]
fn mtu_one_delivers_updates_in_order() {
    let config = Config::default().with_mtu(1).with_max_history(4);
    let mut n = vec![lww("a", config.clone()), lww("b", config)];
    for word in ["Doctor", "Who", "Just", "Me"] {
        n[0].set("words".into(), word.into()).unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        exchange(&mut n, 1, 0);
        while let Some(event) = n[1].poll_event() {
            if let Event::Update { entry, .. } = event {
                seen.push(entry.value.unwrap());
            }
        }
    }
    assert_eq!(seen, ["Doctor", "Who", "Just", "Me"]);
}

#[test]
fn mtu_cut_sends_exactly_mtu_and_never_skips_a_version() {
    for sorter_depth in [false, true] {
        let config = Config::default().with_mtu(3).with_max_history(1000);
        let sorter: scuttle_core::DynSorter<String, String> = if sorter_depth {
            Box::new(ScuttleDepth)
        } else {
            Box::new(ScuttleBreadth)
        };
        let mut a = Gossip::new("a", config.clone(), LastWriterWins, sorter).unwrap();
        for i in 0..5 {
            a.set(format!("a{i}"), "x".into()).unwrap();
        }
        // a relays two writes of b.
        for version in 1..=2 {
            let update = Update {
                key: format!("b{version}"),
                value: Some("x".to_string()),
                source_id: NodeId::from("b"),
                version,
                timestamp: 0,
            };
            a.receive(
                &NodeId::from("b"),
                scuttle_core::Message::Update { update, prev: None },
            )
            .unwrap();
        }
        // c has heard nothing: its digest is empty.
        let cid = NodeId::from("c");
        a.receive(&cid, scuttle_core::Message::DigestDone { reply: true })
            .unwrap();
        let mut news = Vec::new();
        while let Some(msg) = a.poll_message(&cid) {
            if let scuttle_core::Message::Update { update, prev } = msg {
                news.push((update.source_id.to_string(), update.version, prev));
            }
        }
        assert_eq!(news.len(), 3, "exactly mtu updates go out");
        // Per source: ascending, starting right after what c holds, each prev the one before.
        for source in ["a", "b"] {
            let mut last = 0;
            for (_, version, prev) in news.iter().filter(|(s, _, _)| s == source) {
                assert_eq!(*prev, Some(last), "gap in {source}'s news: {news:?}");
                last = *version;
            }
        }
        let order: Vec<_> = news.iter().map(|(s, v, _)| (s.as_str(), *v)).collect();
        if sorter_depth {
            // a has 5 outstanding, b 2: depth sends a's first.
            assert_eq!(order, vec![("a", 1), ("a", 2), ("a", 3)]);
        } else {
            // breadth: ascending version, ties by source id.
            assert_eq!(order, vec![("a", 1), ("b", 1), ("a", 2)]);
        }
    }
}

#[test]
fn a_sorter_cannot_make_a_cut_skip_a_version() {
    // A hostile sorter that puts the newest first: the core still sends versions in order.
    let newest_first = |news: &mut [scuttle_core::Candidate<'_, String, String>]| {
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
        a.set(format!("k{i}"), "v".into()).unwrap();
    }
    let (aid, bid) = (a.id().clone(), NodeId::from("b"));
    a.receive(&bid, scuttle_core::Message::DigestDone { reply: true })
        .unwrap();
    let versions: Vec<_> = std::iter::from_fn(|| a.poll_message(&bid))
        .filter_map(|m| match m {
            scuttle_core::Message::Update { update, .. } => Some(update.version),
            _ => None,
        })
        .collect();
    assert_eq!(versions, vec![1, 2], "from {aid}");
}

#[test]
fn versions_follow_the_seed() {
    let mut a = lww("a", Config::default());
    assert_eq!(a.version(), 0);
    assert_eq!(a.set("k".into(), "1".into()), Ok(1));
    assert_eq!(a.set("k".into(), "2".into()), Ok(2));
    let update = Update {
        key: "j".to_string(),
        value: Some("x".to_string()),
        source_id: NodeId::from("b"),
        version: 10,
        timestamp: 0,
    };
    a.receive(
        &NodeId::from("b"),
        scuttle_core::Message::Update {
            update,
            prev: Some(0),
        },
    )
    .unwrap();
    assert_eq!(a.version(), 10);
    assert_eq!(a.set("k".into(), "3".into()), Ok(11));
}

#[test]
fn rejected_local_write_changes_nothing() {
    let mut a: Gossip<&str, i64, StrictlyOrderedValues> = Gossip::new(
        "a",
        Config::default(),
        StrictlyOrderedValues,
        ScuttleBreadth,
    )
    .unwrap();
    assert_eq!(a.set("n", 5), Ok(1));
    while a.poll_event().is_some() {}
    assert_eq!(a.set("n", 5), Err(SetError::Rejected));
    assert_eq!(a.set("n", 4), Err(SetError::Rejected));
    assert_eq!(a.delete("n"), Err(SetError::Rejected));
    assert_eq!(a.version(), 1);
    assert_eq!(a.watermark("a"), 1);
    assert_eq!(a.value("n"), Some(&5));
    assert!(a.poll_event().is_none());
    assert_eq!(a.set("n", 6), Ok(2));
}

#[test]
fn strict_equal_values_from_two_sources_converge() {
    // The design's regression: equal values written on two nodes, relayed by depth with mtu 1
    // through a third; with ties broken by (version, source) every replica ends on one winner.
    let config = Config::default().with_mtu(1).with_max_history(2);
    let mk = |id: &str| -> Gossip<&'static str, i64, StrictlyOrderedValues, ScuttleDepth> {
        Gossip::new(id, config.clone(), StrictlyOrderedValues, ScuttleDepth).unwrap()
    };
    for order in 0..6 {
        let mut n = vec![mk("a"), mk("b"), mk("c")];
        n[0].set("x", 7).unwrap();
        n[0].set("y", 1).unwrap();
        n[1].set("x", 7).unwrap();
        n[1].set("y", 1).unwrap();
        let schedule: [(usize, usize); 3] = match order {
            0 => [(0, 2), (1, 2), (0, 1)],
            1 => [(1, 2), (0, 2), (0, 1)],
            2 => [(2, 0), (2, 1), (1, 0)],
            3 => [(2, 1), (0, 1), (2, 0)],
            4 => [(0, 1), (2, 0), (2, 1)],
            _ => [(1, 0), (2, 1), (0, 2)],
        };
        for (a, b) in schedule {
            exchange(&mut n, a, b);
        }
        settle(&mut n, 20);
        assert_converged(&n);
        let winner = n[2].get("x").unwrap();
        assert_eq!((winner.value, winner.source_id.as_str()), (Some(7), "b"));
    }
}

#[test]
fn compaction_keeps_the_latest_update_of_every_key() {
    let config = Config::default().with_max_history(3);
    let mut a = lww("a", config.clone());
    for k in 0..10 {
        a.set(format!("k{k}"), "first".into()).unwrap();
    }
    // Ten live keys, nothing superseded: nothing may be dropped.
    assert_eq!(a.history().len(), 10);
    for k in 0..10 {
        a.set(format!("k{k}"), "second".into()).unwrap();
    }
    assert_eq!(a.history().len(), 10, "superseded updates compacted away");
    let compactions: usize = std::iter::from_fn(|| a.poll_event())
        .filter_map(|e| match e {
            Event::Compaction { dropped, .. } => Some(dropped),
            _ => None,
        })
        .sum();
    assert_eq!(compactions, 10);
    // A late joiner still gets every key.
    let mut n = vec![a, lww("late", config)];
    settle(&mut n, 50);
    assert_eq!(values(&n[1]).len(), 10);
    assert!(values(&n[1]).values().all(|v| v == "second"));
}

#[test]
fn delete_is_a_tombstone_and_null_is_a_value() {
    let mut n: Vec<Gossip<String, serde_json::Value>> =
        vec![Gossip::with_defaults("a"), Gossip::with_defaults("b")];
    n[0].set("null".into(), serde_json::Value::Null).unwrap();
    n[0].set("gone".into(), serde_json::json!(1)).unwrap();
    settle(&mut n, 10);
    n[1].delete("gone".into()).unwrap();
    settle(&mut n, 10);
    for node in &n {
        assert_eq!(node.value("null"), Some(&serde_json::Value::Null));
        assert!(node.contains_key("null"));
        assert_eq!(node.value("gone"), None);
        assert!(node.get("gone").is_some_and(Entry::is_deleted));
        assert_eq!(node.len(), 1);
    }
}

#[test]
fn events_report_local_and_remote_updates() {
    let mut n: Vec<Lww> = vec![Gossip::with_defaults("a"), Gossip::with_defaults("b")];
    n[0].set("k".into(), "v".into()).unwrap();
    assert!(matches!(
        n[0].poll_event(),
        Some(Event::Update { from: None, .. })
    ));
    exchange(&mut n, 0, 1);
    match n[1].poll_event() {
        Some(Event::Update { key, entry, from }) => {
            assert_eq!(key, "k");
            assert_eq!(entry.source_id.as_str(), "a");
            assert_eq!(from, Some(NodeId::from("a")));
        }
        other => panic!("expected an update event, got {other:?}"),
    }
    assert!(n[1].poll_event().is_none());
}

#[test]
fn with_state_restores_a_node_above_its_old_versions() {
    let mut a = lww("a", Config::default());
    a.set("k".into(), "1".into()).unwrap();
    a.set("k".into(), "2".into()).unwrap();
    let saved: Vec<_> = snapshot(&a).into_iter().collect();
    let mut restarted = lww("a", Config::default()).with_state(saved);
    assert_eq!(restarted.version(), 2);
    assert_eq!(restarted.set("k".into(), "3".into()), Ok(3));
    assert!(restarted.poll_event().is_some());
}

#[test]
fn an_exchange_is_three_batches_and_ends() {
    let mut n: Vec<Lww> = vec![Gossip::with_defaults("a"), Gossip::with_defaults("b")];
    n[0].set("x".into(), "1".into()).unwrap();
    n[1].set("y".into(), "1".into()).unwrap();
    // digest a (2 msgs: a's entry + done), b: news 1 + digest (entry b + a? no: b knows b only) ...
    let delivered = exchange(&mut n, 0, 1);
    assert!(!n[0].has_outgoing() && !n[1].has_outgoing());
    // a: {a}+done = 2; b: news(x? no, a has x) 0 + {b}+done... b's news for a = y (1), b's digest = a,b + done
    // = 4 messages (b learned a during the batch? no, b's digest is queued before a's news); a: news 1.
    assert!(delivered <= 8, "{delivered}");
    assert_eq!(values(&n[0]), values(&n[1]));
}
