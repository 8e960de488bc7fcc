//! `Pair`: one exchange at a time between two nodes, and a bounded drive to idle.
#![allow(clippy::unwrap_used)] // tests may panic

use scuttle_core::{
    Config, Entry, Gossip, LastWriterWins, ScuttleBreadth, ScuttleDepth, TryResolver, Update,
};
use scuttle_sim::{Pair, SimError};

type Lww = Gossip<String, String>;

#[test]
fn drive_bounded_converges_and_counts() {
    let config = Config::default().with_mtu(2);
    let node = |id: &str| Lww::new(id, config.clone(), LastWriterWins, ScuttleBreadth).unwrap();
    let mut pair = Pair::new(node("a"), node("b"));
    for k in 0..5 {
        pair.a.set(1, format!("a{k}"), "x".into()).unwrap();
        pair.b.set(1, format!("b{k}"), "y".into()).unwrap();
    }
    let rounds = pair.drive_bounded(10).unwrap();
    // mtu 2: five updates each way need three exchanges' worth of news, then one idle round.
    assert!((2..=4).contains(&rounds), "{rounds}");
    assert!(pair.identical());
    assert_eq!(pair.a.len(), 10);
    let st = pair.stats();
    assert_eq!(st.sent, st.messages);
    assert_eq!(st.delivered, st.messages);
    assert!(st.largest > 0 && st.bytes >= st.largest);
}

#[test]
fn a_transcript_counts_what_it_carried() {
    let mut pair = Pair::new(Lww::with_defaults("a"), Lww::with_defaults("b"));
    pair.b.set(1, "k".into(), "v".into()).unwrap();
    let t = pair.exchange().unwrap();
    assert_eq!(t.updates(), 1);
    assert_eq!(t.messages().count(), 2, "a had no news for b: no Ack");
    assert_eq!(t.bytes() as u64, pair.stats().bytes);
    assert!(!t.is_idle());
    let back = pair.exchange_from_b().unwrap();
    assert!(back.is_idle());
}

#[test]
fn drive_bounded_fails_when_the_bound_is_too_small() {
    let config = Config::default().with_mtu(1);
    let node = |id: &str| Lww::new(id, config.clone(), LastWriterWins, ScuttleBreadth).unwrap();
    let mut pair = Pair::new(node("a"), node("b"));
    for k in 0..6 {
        pair.a.set(1, format!("k{k}"), "x".into()).unwrap();
    }
    assert_eq!(
        pair.drive_bounded(2),
        Err(SimError::NotConverged { rounds: 2 })
    );
    assert!(pair.drive_bounded(10).is_ok());
}

#[test]
fn a_non_total_resolver_is_caught() {
    // "Accept if the value is greater" leaves equal values from two sources tied: each node
    // keeps its own write, the watermarks meet, and the pair goes idle apart.
    let greater = |cur: Option<&Entry<i32>>, up: &Update<&'static str, i32>| {
        cur.is_none_or(|c| up.value > c.value)
    };
    let node = |id: &str| Gossip::new(id, Config::default(), greater, ScuttleDepth).unwrap();
    let mut pair = Pair::new(node("a"), node("b"));
    pair.a.set(1, "x", 7).unwrap();
    pair.b.set(1, "x", 7).unwrap();
    assert!(matches!(pair.drive_bounded(10), Err(SimError::Diverged(_))));
    // The same writes under a total order converge.
    let mut lww: Pair<&str, i32> =
        Pair::new(Gossip::with_defaults("a"), Gossip::with_defaults("b"));
    lww.a.set(1, "x", 7).unwrap();
    lww.b.set(1, "x", 7).unwrap();
    lww.drive_bounded(10).unwrap();
    assert_eq!(lww.a.get("x").unwrap().source_id.as_str(), "b");
}

#[test]
fn a_failing_policy_is_an_error_and_changes_nothing() {
    let remote = |_: Option<&Entry<i32>>, _: &Update<&'static str, i32>| {
        Err::<bool, _>("no remote writes today".to_string())
    };
    let local = |_: Option<&Entry<i32>>, _: &Update<&'static str, i32>| Ok(true);
    let node = |id: &str| {
        Gossip::new(
            id,
            Config::default(),
            TryResolver::new(remote, local),
            ScuttleDepth,
        )
        .unwrap()
    };
    let mut pair = Pair::new(node("a"), node("b"));
    pair.b.set(1, "x", 1).unwrap();
    match pair.exchange() {
        Err(SimError::Policy { node, reason }) => {
            assert_eq!(node.as_str(), "a");
            assert!(reason.contains("no remote writes today"), "{reason}");
        }
        other => panic!("expected a policy error, got {other:?}"),
    }
    assert!(pair.a.get("x").is_none());
    assert_eq!(pair.a.watermark("b"), 0);
}
