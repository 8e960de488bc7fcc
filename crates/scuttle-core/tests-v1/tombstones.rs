//! Tombstone collection, and the reset that catches up a peer behind collected deletes.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{assert_converged, exchange, settle, values};
use scuttle_core::{Config, Event, Gossip, LastWriterWins, ManualClock, Message, ScuttleBreadth};

type Node = Gossip<String, String>;

fn node(id: &str, clock: &ManualClock) -> Node {
    let config = Config::default().with_tombstone_grace(Some(Duration::from_secs(10)));
    Gossip::new(id, config, LastWriterWins, ScuttleBreadth)
        .unwrap()
        .with_clock(clock.clone())
}

#[test]
fn tombstones_are_kept_for_the_grace_period_then_collected() {
    let clock = ManualClock::new(1_000);
    let mut a = node("a", &clock);
    a.set("k".into(), "v".into()).unwrap();
    a.set("k".into(), "w".into()).unwrap();
    a.delete("k".into()).unwrap();
    assert_eq!(a.collect_tombstones(), 0);
    assert!(a.get("k").is_some_and(|e| e.is_deleted()));
    clock.advance(9_999);
    assert_eq!(a.collect_tombstones(), 0, "still inside the grace period");
    clock.advance(1);
    assert_eq!(a.collect_tombstones(), 1);
    assert!(a.get("k").is_none());
    assert_eq!(
        a.history().len(),
        0,
        "the tombstone and the writes it superseded are gone"
    );
    assert!(
        std::iter::from_fn(|| a.poll_event()).any(|e| e == Event::TombstonesCollected { count: 1 })
    );
}

#[test]
fn a_write_after_a_delete_revives_the_key() {
    let clock = ManualClock::new(0);
    let mut n = vec![node("a", &clock), node("b", &clock)];
    n[0].set("k".into(), "1".into()).unwrap();
    n[0].delete("k".into()).unwrap();
    n[1].set("k".into(), "2".into()).unwrap(); // version 1: older than the delete
    settle(&mut n, 10);
    assert_converged(&n);
    assert_eq!(n[1].value("k"), None);
    n[1].set("k".into(), "3".into()).unwrap(); // now above the delete
    settle(&mut n, 10);
    assert_eq!(n[0].value("k").map(String::as_str), Some("3"));
}

#[test]
fn a_peer_behind_collected_tombstones_gets_a_reset() {
    let clock = ManualClock::new(0);
    let mut n = vec![node("a", &clock), node("b", &clock), node("c", &clock)];
    n[0].set("doomed".into(), "x".into()).unwrap();
    n[0].set("kept".into(), "y".into()).unwrap();
    n[1].set("other".into(), "z".into()).unwrap();
    settle(&mut n, 10);
    assert_converged(&n);

    // c is cut off; a deletes, b learns it, both collect the tombstone after the grace period.
    n[0].delete("doomed".into()).unwrap();
    n[0].set("late".into(), "w".into()).unwrap();
    exchange(&mut n, 0, 1);
    assert_eq!(n[1].value("doomed"), None);
    clock.advance(60_000);
    n[0].collect_tombstones();
    n[1].collect_tombstones();
    assert!(n[0].get("doomed").is_none() && n[1].get("doomed").is_none());

    // c comes back and talks to b only: incremental news could never tell it about the
    // delete, so b answers with a reset.
    let (bid, cid) = (n[1].id().clone(), n[2].id().clone());
    n[2].gossip(&bid);
    while let Some(msg) = n[2].poll_message(&bid) {
        n[1].receive(&cid, msg).unwrap();
    }
    let answer: Vec<_> = std::iter::from_fn(|| n[1].poll_message(&cid)).collect();
    assert!(
        matches!(answer.first(), Some(Message::Reset(_))),
        "{answer:?}"
    );
    for msg in answer {
        n[2].receive(&bid, msg).unwrap();
    }
    assert_eq!(n[2].value("doomed"), None, "c forgot the deleted key");
    assert_eq!(n[2].value("late").map(String::as_str), Some("w"));
    assert!(std::iter::from_fn(|| n[2].poll_event()).any(|e| e
        == Event::Forgotten {
            key: "doomed".to_string()
        }));

    // Afterwards everyone agrees and no more resets are needed.
    settle(&mut n, 10);
    assert_converged(&n);
    let before = n[1].stats().resets_sent + n[0].stats().resets_sent;
    exchange(&mut n, 2, 0);
    exchange(&mut n, 2, 1);
    assert_eq!(n[1].stats().resets_sent + n[0].stats().resets_sent, before);
    assert_eq!(values(&n[2]).len(), 3);
}

#[test]
fn a_reset_keeps_writes_the_sender_has_not_seen() {
    let clock = ManualClock::new(0);
    let mut n = vec![node("a", &clock), node("b", &clock)];
    n[0].set("k".into(), "v".into()).unwrap();
    n[0].delete("k".into()).unwrap();
    clock.advance(60_000);
    n[0].collect_tombstones();
    // b wrote before ever hearing from a: its write is news to a and must survive the reset.
    n[1].set("mine".into(), "1".into()).unwrap();
    settle(&mut n, 10);
    assert_converged(&n);
    assert_eq!(n[0].value("mine").map(String::as_str), Some("1"));
    assert!(n[1].get("k").is_none());
}
