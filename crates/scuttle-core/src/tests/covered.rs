//! `Collection::Covered`: tombstones are collected only once every member's own digest holds
//! them, and no reset can make a node forget anything or move a watermark.

use std::time::Duration;

use super::{exchange_from as exchange, node, Node, NOW};
use crate::{Collection, Config, Message, News, NodeId, Reset};

fn covered(id: &str) -> Node {
    let mut n = node(
        id,
        Config::default()
            .with_collection(Collection::Covered)
            .with_tombstone_grace(Some(Duration::from_millis(10))),
    );
    n.set_members(["a", "b", "c"]);
    n
}

#[test]
fn a_tombstone_waits_until_every_member_holds_it() {
    let (mut a, mut b, mut c) = (covered("a"), covered("b"), covered("c"));
    a.set(NOW, "k".into(), "v".into()).unwrap();
    exchange(&mut a, &mut b);
    exchange(&mut a, &mut c);
    a.delete(NOW, "k".into()).unwrap();
    exchange(&mut a, &mut b);
    exchange(&mut b, &mut a); // a hears b's digest, which holds the delete
    let later = NOW + 1_000;
    assert_eq!(
        a.handle_timeout(later).unwrap(),
        0,
        "c has not said it holds it"
    );
    assert_eq!(b.handle_timeout(later).unwrap(), 0);
    // A digest from someone who is not a member counts for nothing.
    let stranger = node("x", Config::default());
    exchange(&mut a, &mut c);
    let syn = stranger.start_exchange();
    a.handle_message_from(NOW, "x", syn).unwrap();
    exchange(&mut c, &mut a); // now c's own digest holds it
    assert_eq!(a.handle_timeout(later).unwrap(), 1);
    assert!(a.get("k").is_none());
}

#[test]
fn a_member_that_leaves_stops_holding_collection_back() {
    let (mut a, mut b) = (covered("a"), covered("b"));
    a.delete(NOW, "k".into()).unwrap();
    exchange(&mut a, &mut b);
    exchange(&mut b, &mut a);
    assert_eq!(a.handle_timeout(NOW + 1_000).unwrap(), 0, "c holds it back");
    a.set_members(["b"]);
    assert_eq!(a.handle_timeout(NOW + 1_000).unwrap(), 1);
    // Until members are known, nothing is collected.
    let mut lone = node(
        "a",
        Config::default()
            .with_collection(Collection::Covered)
            .with_tombstone_grace(Some(Duration::from_millis(10))),
    );
    lone.delete(NOW, "k".into()).unwrap();
    assert_eq!(lone.handle_timeout(NOW + 1_000).unwrap(), 0);
    lone.set_members(Vec::<NodeId>::new());
    assert_eq!(lone.handle_timeout(NOW + 1_000).unwrap(), 1);
}

/// The attack: a reset with no entries and high watermarks and floors.
fn wiping_reset() -> Message<String, String> {
    let high = |s: &str| (NodeId::from(s), 1_000_000);
    Message::Ack {
        news: News::Reset(Reset {
            watermarks: vec![high("a"), high("b")],
            floors: vec![high("a"), high("b")],
            entries: Vec::new(),
        }),
    }
}

#[test]
fn an_unsolicited_reset_forgets_nothing() {
    let (mut a, mut b) = (covered("a"), covered("b"));
    a.set(NOW, "mine".into(), "v".into()).unwrap();
    b.set(NOW, "theirs".into(), "w".into()).unwrap();
    exchange(&mut a, &mut b);
    let before: Vec<_> = a.entries().map(|(k, e)| (k.clone(), e.clone())).collect();
    let marks: Vec<_> = a.watermarks().map(|(s, v)| (s.clone(), v)).collect();
    a.handle_message_from(NOW, "b", wiping_reset()).unwrap();
    assert_eq!(a.stats().resets_ignored, 1);
    let after: Vec<_> = a.entries().map(|(k, e)| (k.clone(), e.clone())).collect();
    assert_eq!(after, before);
    assert_eq!(
        a.watermarks()
            .map(|(s, v)| (s.clone(), v))
            .collect::<Vec<_>>(),
        marks
    );
    // And it still takes b's later writes.
    b.set(NOW, "later".into(), "x".into()).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(a.value("later").map(String::as_str), Some("x"));
}

/// The control: the same reset wipes a node that trusts resets (`AfterGrace`).
#[test]
fn the_same_reset_wipes_a_node_that_trusts_resets() {
    let mut a = node("a", Config::default());
    a.set(NOW, "mine".into(), "v".into()).unwrap();
    a.handle_message(NOW, wiping_reset()).unwrap();
    assert!(a.get("mine").is_none());
}

/// A member dropped from the set (away longer than the membership kept it) misses a
/// collection; `rejoin` makes it forget the deleted value — persisted — and nothing else.
#[test]
fn a_rejoining_member_forgets_what_was_deleted_while_it_was_away() {
    let store = crate::MemoryStore::new();
    let (mut a, mut b) = (covered("a"), covered("b"));
    let mut c = covered("c").with_store(store.clone()).unwrap();
    a.set(NOW, "gone".into(), "old".into()).unwrap();
    c.set(NOW, "kept".into(), "c's".into()).unwrap();
    for _ in 0..2 {
        exchange(&mut a, &mut c);
        exchange(&mut c, &mut a);
        exchange(&mut a, &mut b);
    }
    assert_eq!(c.value("gone").map(String::as_str), Some("old"));

    // c is away: a and b drop it, delete `gone` and collect the tombstone.
    a.set_members(["b"]);
    b.set_members(["a"]);
    a.delete(NOW, "gone".into()).unwrap();
    exchange(&mut a, &mut b);
    exchange(&mut b, &mut a);
    exchange(&mut a, &mut b);
    let later = NOW + 1_000;
    assert_eq!(a.handle_timeout(later).unwrap(), 1);
    assert_eq!(b.handle_timeout(later).unwrap(), 1);

    // Back: nothing would ever correct c's stale value...
    a.set_members(["b", "c"]);
    b.set_members(["a", "c"]);
    exchange(&mut c, &mut a);
    exchange(&mut a, &mut c);
    assert_eq!(c.value("gone").map(String::as_str), Some("old"), "stale");
    // ...until it rejoins.
    c.rejoin();
    assert!(c.is_rejoining());
    for _ in 0..3 {
        exchange(&mut c, &mut a);
        exchange(&mut a, &mut c);
        exchange(&mut c, &mut b);
        exchange(&mut b, &mut c);
    }
    assert_eq!(c.get("gone"), None);
    assert_eq!(c.value("kept").map(String::as_str), Some("c's"));
    assert_eq!(c.stats().stale_forgotten, 1);
    assert!(!c.is_rejoining(), "everything held was heard or forgotten");
    assert_eq!(a.value("kept").map(String::as_str), Some("c's"));
    // The store forgot it too.
    let reopened = covered("c").with_store(store).unwrap();
    assert_eq!(reopened.get("gone"), None);
    assert_eq!(reopened.value("kept").map(String::as_str), Some("c's"));
}

/// A node alone (no other member to say what it holds) forgets nothing when it rejoins, and
/// its own writes — before or after the rejoin — are never looked at.
#[test]
fn a_rejoin_never_forgets_what_nobody_else_can_vouch_for() {
    let mut lone = covered("a");
    lone.set_members(Vec::<NodeId>::new());
    lone.set(NOW, "mine".into(), "1".into()).unwrap();
    lone.rejoin();
    lone.set(NOW, "later".into(), "2".into()).unwrap();
    let (mut b, mut c) = (covered("b"), covered("c"));
    exchange(&mut b, &mut lone);
    exchange(&mut lone, &mut b);
    lone.handle_timeout(NOW + 1_000).unwrap();
    assert_eq!(lone.value("mine").map(String::as_str), Some("1"));
    assert_eq!(lone.value("later").map(String::as_str), Some("2"));

    // With members, its own entries are still left alone, and a write right after the
    // rejoin does not make the older ones look unheard.
    let mut a = covered("a");
    a.set(NOW, "own".into(), "x".into()).unwrap();
    b.set(NOW, "theirs".into(), "y".into()).unwrap();
    for _ in 0..2 {
        exchange(&mut a, &mut b);
        exchange(&mut b, &mut a);
        exchange(&mut a, &mut c);
        exchange(&mut c, &mut a);
    }
    a.rejoin();
    a.set(NOW, "own2".into(), "z".into()).unwrap();
    for _ in 0..3 {
        exchange(&mut a, &mut b);
        exchange(&mut b, &mut a);
        exchange(&mut a, &mut c);
        exchange(&mut c, &mut a);
    }
    assert_eq!(a.value("own").map(String::as_str), Some("x"));
    assert_eq!(
        a.value("theirs").map(String::as_str),
        Some("y"),
        "heard again"
    );
    assert_eq!(a.stats().stale_forgotten, 0);
    assert!(!a.is_rejoining());
}
