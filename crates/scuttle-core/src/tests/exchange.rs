//! Exchanges between two nodes: push-pull, idle cost, decide-then-commit, time as an argument.

use std::convert::Infallible;

use super::{exchange, node, NOW};
use crate::resolver::TryResolver;
use crate::wire::message_len;
use crate::{Config, Digest, Entry, Event, Gossip, Message, ReceiveError, SetError, Update};

#[test]
fn one_exchange_is_push_pull_in_three_messages() {
    let mut a = node("a", Config::default());
    let mut b = node("b", Config::default());
    a.set(10, "x".into(), "1".into()).unwrap();
    b.set(20, "y".into(), "2".into()).unwrap();
    let sent = exchange(&mut a, &mut b);
    assert_eq!(sent.len(), 3);
    assert!(matches!(
        sent[0],
        Message::Syn {
            digest: Digest::Full(_)
        }
    ));
    assert!(matches!(sent[1], Message::SynAck { .. }));
    assert!(matches!(sent[2], Message::Ack { .. }));
    assert_eq!(a.value("y").map(String::as_str), Some("2"));
    assert_eq!(b.value("x").map(String::as_str), Some("1"));
    assert_eq!(
        a.get("y").unwrap().timestamp,
        20,
        "the writer's `now` travels"
    );
    assert_eq!(a.digest_hash(), b.digest_hash());
}

#[test]
fn an_idle_exchange_costs_a_few_bytes_whatever_the_number_of_sources() {
    let n = 100;
    let config = Config::default().with_mtu(1000);
    let mut nodes: Vec<_> = (0..n)
        .map(|i| node(&format!("node-{i}"), config.clone()))
        .collect();
    for (i, g) in nodes.iter_mut().enumerate() {
        g.set(1, format!("k{i}"), "v".into()).unwrap();
    }
    // Everyone learns everything through node 0 (a star). A node that found itself in sync
    // opens its next exchange with a hash and pulls nothing from a peer that differs (it learns
    // that it differs and asks in full next time), so this takes a few rounds.
    for _ in 0..3 {
        for i in 1..n {
            let (first, rest) = nodes.split_at_mut(i);
            exchange(&mut first[0], &mut rest[0]);
        }
    }
    let lens: Vec<usize> = nodes.iter().map(|g| g.len()).collect();
    assert!(lens.iter().all(|&l| l == n), "{lens:?}");
    // The first exchange between synced nodes finds the digests equal; the next opens with a hash.
    let (first, rest) = nodes.split_at_mut(1);
    exchange(&mut first[0], &mut rest[0]);
    let sent = exchange(&mut first[0], &mut rest[0]);
    let bytes: usize = sent.iter().map(message_len).sum();
    assert_eq!(sent.len(), 2, "no Ack when idle");
    assert!(matches!(
        sent[0],
        Message::Syn {
            digest: Digest::Hash(_)
        }
    ));
    assert!(bytes <= 30, "idle exchange cost {bytes} bytes");
    // A write leaves the idle state: the next exchange carries the full digest and the news.
    first[0].set(2, "new".into(), "v".into()).unwrap();
    let sent = exchange(&mut first[0], &mut rest[0]);
    assert!(matches!(
        sent[0],
        Message::Syn {
            digest: Digest::Full(_)
        }
    ));
    assert_eq!(rest[0].value("new").map(String::as_str), Some("v"));
}

#[test]
fn a_stale_node_that_believes_it_is_in_sync_catches_up_next_time() {
    let mut a = node("a", Config::default());
    let mut b = node("b", Config::default());
    let mut c = node("c", Config::default());
    a.set(1, "k".into(), "1".into()).unwrap();
    exchange(&mut a, &mut b);
    exchange(&mut a, &mut b); // a and b now in sync, a opens with a hash next
    c.set(2, "c".into(), "3".into()).unwrap();
    exchange(&mut c, &mut b); // b changes, but a does not know
    let sent = exchange(&mut a, &mut b);
    assert!(matches!(
        sent[0],
        Message::Syn {
            digest: Digest::Hash(_)
        }
    ));
    // b answers with its full digest; a learns it is behind and asks fully next time.
    exchange(&mut a, &mut b);
    assert_eq!(a.value("c").map(String::as_str), Some("3"));
}

#[test]
fn an_oversize_write_is_refused_and_later_writes_arrive() {
    let config = Config::default().with_max_message_bytes(256);
    let mut a = node("a", config.clone());
    let mut b = node("b", config);
    let err = a.set(1, "big".into(), "x".repeat(300)).unwrap_err();
    assert!(
        matches!(err, SetError::TooLarge { max: 256, .. }),
        "{err:?}"
    );
    assert_eq!(a.version(), 0, "a refused write changes nothing");
    // The largest write that is accepted always fits a message, with any prev.
    let mut fits = 0;
    for len in (150..256).rev() {
        if a.set(2, "edge".into(), "y".repeat(len)).is_ok() {
            fits = len;
            break;
        }
    }
    assert!(fits > 150);
    a.set(3, "small".into(), "z".into()).unwrap();
    for _ in 0..3 {
        for msg in exchange(&mut a, &mut b) {
            assert!(message_len(&msg) <= 256);
        }
    }
    assert_eq!(b.value("small").map(String::as_str), Some("z"));
    assert_eq!(b.value("edge").map(|v| v.len()), Some(fits));
}

#[derive(Debug, PartialEq)]
struct Boom;

#[test]
fn a_failing_resolver_refuses_the_whole_message_and_changes_nothing() {
    let fails_on_bad = |_: Option<&Entry<String>>, u: &Update<String, String>| {
        if u.value.as_deref() == Some("bad") {
            Err(Boom)
        } else {
            Ok(true)
        }
    };
    let mut a = node("a", Config::default());
    let mut b = Gossip::new(
        "b",
        Config::default(),
        TryResolver::new(fails_on_bad, fails_on_bad),
        crate::ScuttleBreadth,
    )
    .unwrap();
    a.set(1, "good".into(), "ok".into()).unwrap();
    a.set(2, "evil".into(), "bad".into()).unwrap();
    let syn = b.start_exchange();
    let syn_ack = a.handle_message(NOW, syn).unwrap().unwrap();
    let before = (b.version(), b.len(), b.digest_hash(), b.watermark("a"));
    let err = b.handle_message(NOW, syn_ack).unwrap_err();
    assert!(matches!(err, ReceiveError::Policy(Boom)), "{err:?}");
    assert_eq!(
        before,
        (b.version(), b.len(), b.digest_hash(), b.watermark("a"))
    );
    assert!(b.poll_event().is_none());
    // A local write the resolver fails on is refused the same way.
    assert_eq!(
        b.set(3, "k".into(), "bad".into()),
        Err(SetError::Policy(Boom))
    );
    assert_eq!(b.version(), 0);
}

#[test]
fn the_resolver_sees_earlier_updates_of_the_same_message() {
    // Two sources wrote the same key; the message carries both, and the winner must not depend
    // on which run comes first.
    let mut a = node("a", Config::default());
    let mut b = node("b", Config::default());
    let mut c = node("c", Config::default());
    a.set(1, "k".into(), "from-a".into()).unwrap();
    b.set(1, "k".into(), "from-b".into()).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(a.value("k"), b.value("k"));
    exchange(&mut c, &mut a);
    assert_eq!(c.value("k"), a.value("k"));
    assert_eq!(
        c.get("k").unwrap().source_id.as_str(),
        "b",
        "(1, b) beats (1, a)"
    );
}

#[test]
fn tombstones_are_collected_when_their_time_comes() {
    let config =
        Config::default().with_tombstone_grace(Some(std::time::Duration::from_millis(100)));
    let mut a = node("a", config);
    a.set(1_000, "k".into(), "v".into()).unwrap();
    a.delete(1_010, "k".into()).unwrap();
    assert_eq!(a.poll_timeout(), Some(1_110));
    assert_eq!(a.handle_timeout(1_109).unwrap(), 0);
    assert!(a.get("k").is_some());
    assert_eq!(a.handle_timeout(1_110).unwrap(), 1);
    assert!(a.get("k").is_none());
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(
        a.history_len(),
        0,
        "the superseded write went with its tombstone"
    );
}

#[test]
fn events_say_whether_a_write_was_local() {
    let mut a = node("a", Config::default());
    let mut b = node("b", Config::default());
    a.set(1, "k".into(), "v".into()).unwrap();
    assert!(matches!(
        a.poll_event(),
        Some(Event::Update { local: true, .. })
    ));
    exchange(&mut a, &mut b);
    assert!(matches!(
        b.poll_event(),
        Some(Event::Update { local: false, .. })
    ));
}

#[test]
fn a_value_is_stored_once() {
    let mut a = node("a", Config::default().with_max_history(0));
    for i in 0..10 {
        a.set(i, format!("k{i}"), "v".into()).unwrap();
    }
    a.set(20, "k0".into(), "w".into()).unwrap();
    // History holds every current update (as a key) and no superseded one at max_history 0.
    assert_eq!(a.history_len(), 10);
    assert_eq!(a.superseded_len(), 0);
    let news: Vec<_> = a
        .news("a", 0)
        .map(|u| (u.key.clone(), u.value.cloned()))
        .collect();
    assert_eq!(news.len(), 10);
    assert!(news.contains(&("k0".to_string(), Some("w".to_string()))));
}

#[test]
fn closures_and_infallible_resolvers_need_no_error_handling() {
    let higher =
        |c: Option<&Entry<String>>, u: &Update<String, String>| c.is_none_or(|c| u.value > c.value);
    let mut g: Gossip<String, String, _> =
        Gossip::new("a", Config::default(), higher, crate::ScuttleBreadth).unwrap();
    g.set(1, "k".into(), "b".into()).unwrap();
    let refused: Result<_, SetError<Infallible>> = g.set(2, "k".into(), "a".into());
    assert_eq!(refused, Err(SetError::Rejected));
}

#[test]
fn a_write_near_the_limit_moves_even_when_its_holder_only_answers() {
    // Reported from the C bindings: a SynAck also carries a digest, so an update that fits an
    // Ack alone may not fit beside the digest; it must still reach a peer that only pulls.
    let config = Config::default().with_max_message_bytes(200);
    let mut h = node("h", config.clone());
    let mut p = node("p", config.clone());
    for i in 0..10 {
        let mut s = node(&format!("s{i:02}"), config.clone());
        s.set(0, "k".into(), String::new()).unwrap();
        exchange(&mut s, &mut h);
        exchange(&mut s, &mut p);
    }
    let big = (1..200usize)
        .rev()
        .find(|&n| h.set(1, "big".into(), "x".repeat(n)).is_ok())
        .expect("some write fits");
    h.set(2, "small".into(), "v".into()).unwrap();
    for _ in 0..10 {
        // p pulls from h: h only ever answers.
        let syn_ack = h.handle_message(NOW, p.start_exchange()).unwrap().unwrap();
        assert!(message_len(&syn_ack) <= 200);
        if let Some(ack) = p.handle_message(NOW, syn_ack).unwrap() {
            h.handle_message(NOW, ack).unwrap();
        }
    }
    assert_eq!(p.value("big").map(String::len), Some(big));
    assert_eq!(p.value("small").map(String::as_str), Some("v"));
}
