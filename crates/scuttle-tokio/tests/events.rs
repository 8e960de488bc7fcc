//! Events, connection handles, the timer, policy failures and shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{link_duplex, next_event, node, node_with, wait_for};
use futures::StreamExt;
use scuttle_tokio::core::{
    Config, Entry, Event, Gossip, LastWriterWins, ReceiveError, Resolver, ScuttleBreadth,
    TryResolver, Update,
};
use scuttle_tokio::{ConnectionError, DisconnectReason, Node, NodeEvent};

fn system_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn events_report_peers_updates_and_shutdown() {
    let (a, b) = (node("a"), node("b"));
    let mut events_a = a.events();
    let mut events_b = b.events();
    let (ca, cb) = link_duplex(&a, &b);

    let (peer, connection) = next_event(&mut events_a, |e| match e {
        NodeEvent::PeerConnected { peer, connection } => Some((peer.clone(), *connection)),
        _ => None,
    })
    .await;
    assert_eq!((peer.as_str(), connection), ("b", ca.id()));
    wait_for("both handshakes", || {
        ca.is_established() && cb.is_established()
    })
    .await;
    assert_eq!(ca.peer().unwrap().as_str(), "b");

    // A local write: `local: true`, no peer; its timestamp is the system time.
    let before = system_ms();
    a.set("mine".into(), "1".into()).unwrap();
    let after = system_ms();
    let (key, entry, local, from) = next_event(&mut events_a, |e| match e {
        NodeEvent::Core {
            event: Event::Update { key, entry, local },
            from,
        } => Some((key.clone(), entry.clone(), *local, from.clone())),
        _ => None,
    })
    .await;
    assert_eq!((key.as_str(), local, from), ("mine", true, None));
    assert!((before..=after).contains(&entry.timestamp));

    // A remote write: the real id of the peer that delivered it.
    b.set("theirs".into(), "2".into()).unwrap();
    let (key, local, from) = next_event(&mut events_a, |e| match e {
        NodeEvent::Core {
            event: Event::Update { key, local, .. },
            from,
        } if key == "theirs" => Some((key.clone(), *local, from.clone())),
        _ => None,
    })
    .await;
    assert_eq!((key.as_str(), local), ("theirs", false));
    assert_eq!(from.unwrap().as_str(), "b");
    wait_for("an exchange both ways", || {
        ca.stats().exchanges_answered > 0 && cb.stats().exchanges_answered > 0
    })
    .await;

    a.shutdown().await;
    assert!(a.is_shut_down());
    let reason = next_event(&mut events_a, |e| match e {
        NodeEvent::PeerDisconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(matches!(reason, DisconnectReason::Closed));
    let (peer, reason) = next_event(&mut events_b, |e| match e {
        NodeEvent::PeerDisconnected { peer, reason, .. } => Some((peer.clone(), reason.clone())),
        _ => None,
    })
    .await;
    assert_eq!(peer.as_str(), "a");
    assert!(matches!(reason, DisconnectReason::PeerClosed));
    assert_eq!(ca.join().await.unwrap().as_str(), "b");
    assert_eq!(cb.join().await.unwrap().as_str(), "a");
    assert!(a.peers().is_empty() && b.peers().is_empty());

    // The state outlives the connections; new connections close at once.
    a.set("after".into(), "3".into()).unwrap();
    assert_eq!(a.value("after").as_deref(), Some("3"));
    let (x, _y) = tokio::io::duplex(1024);
    let late = a.spawn_connection(x);
    assert!(matches!(
        *late.join().await.unwrap_err(),
        ConnectionError::Cancelled
    ));
}

#[tokio::test(start_paused = true)]
async fn connect_returns_the_peer_when_the_other_side_closes() {
    let (a, b) = (node("a"), node("b"));
    let (x, y) = tokio::io::duplex(16 * 1024);
    let handle = b.spawn_connection(y);
    let closer = async {
        wait_for("handshake", || handle.is_established()).await;
        handle.close();
    };
    let (result, ()) = tokio::join!(a.connect(x), closer);
    assert_eq!(result.unwrap().as_str(), "b");
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_is_told_what_it_missed() {
    let a = node_with(
        "a",
        Config::default(),
        common::fast().with_event_capacity(2),
    );
    let mut events = a.events();
    for i in 0..10 {
        a.set(format!("k{i}"), "v".into()).unwrap();
    }
    assert!(matches!(
        events.next().await.unwrap(),
        NodeEvent::Lagged { missed: 8 }
    ));
    assert!(matches!(
        events.next().await.unwrap(),
        NodeEvent::Core { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn compaction_is_reported() {
    let a = node_with("a", Config::default().with_max_history(1), common::fast());
    let mut events = a.events();
    a.set("k".into(), "1".into()).unwrap();
    a.set("k".into(), "2".into()).unwrap();
    a.set("j".into(), "1".into()).unwrap();
    next_event(&mut events, |e| {
        matches!(
            e,
            NodeEvent::Core {
                event: Event::Compaction { .. },
                from: None
            }
        )
        .then_some(())
    })
    .await;
}

/// The node's timer calls `handle_timeout` when `poll_timeout` says: here at once (no grace).
#[tokio::test(start_paused = true)]
async fn a_due_tombstone_is_collected_by_the_timer() {
    let core = Config::default().with_tombstone_grace(Some(Duration::ZERO));
    let a = node_with("a", core, common::fast());
    let mut events = a.events();
    a.set("k".into(), "v".into()).unwrap();
    a.delete("k".into()).unwrap();
    let count = next_event(&mut events, |e| match e {
        NodeEvent::Core {
            event: Event::TombstonesCollected { count },
            from: None,
        } => Some(*count),
        _ => None,
    })
    .await;
    assert_eq!(count, 1);
    assert!(a.get("k").is_none(), "the tombstone is gone");
}

/// The timer sleeps until the deadline `poll_timeout` gives (real time: the deadline is on the
/// system clock).
#[tokio::test]
async fn a_tombstone_is_collected_after_its_grace_period() {
    let core = Config::default().with_tombstone_grace(Some(Duration::from_millis(200)));
    let a = node_with("a", core, common::fast());
    let mut events = a.events();
    a.delete("k".into()).unwrap();
    let deadline = a.with_gossip(Gossip::poll_timeout).unwrap();
    next_event(&mut events, |e| {
        matches!(
            e,
            NodeEvent::Core {
                event: Event::TombstonesCollected { count: 1 },
                ..
            }
        )
        .then_some(())
    })
    .await;
    assert!(system_ms() >= deadline, "collected no sooner than due");
    assert!(a.get("k").is_none());
}

// ---------------------------------------------------------------- a failing resolver

#[derive(Debug)]
struct Poisoned;

impl std::fmt::Display for Poisoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the resolver refuses to decide on `poison`")
    }
}

impl std::error::Error for Poisoned {}

/// While set, the resolver below fails on the key "poison".
static POISONED: AtomicBool = AtomicBool::new(true);

type Decide = fn(Option<&Entry<String>>, &Update<String, String>) -> Result<bool, Poisoned>;

fn remote(
    current: Option<&Entry<String>>,
    update: &Update<String, String>,
) -> Result<bool, Poisoned> {
    if update.key == "poison" && POISONED.load(Ordering::SeqCst) {
        return Err(Poisoned);
    }
    let Ok(accept) = LastWriterWins.accept(current, update);
    Ok(accept)
}

fn local(
    current: Option<&Entry<String>>,
    update: &Update<String, String>,
) -> Result<bool, Poisoned> {
    let Ok(accept) = LastWriterWins.accept_local(current, update);
    Ok(accept)
}

/// A resolver error refuses the peer's whole message and is reported; the connection stays
/// open, and once the resolver decides again the news comes in a later exchange.
#[tokio::test(start_paused = true)]
async fn a_failing_resolver_is_reported_and_the_connection_goes_on() {
    let a = node("a");
    let resolver: TryResolver<Decide, Decide> = TryResolver::new(remote, local);
    let gossip = Gossip::new("b", Config::default(), resolver, ScuttleBreadth).unwrap();
    let b: Node<String, String, TryResolver<Decide, Decide>> = Node::new(gossip, common::fast());
    let mut events = b.events();
    a.set("poison".into(), "x".into()).unwrap();
    a.set("fine".into(), "y".into()).unwrap();
    let (x, y) = tokio::io::duplex(16 * 1024);
    a.spawn_connection(x);
    let conn = b.spawn_connection(y);

    let (peer, error) = next_event(&mut events, |e| match e {
        NodeEvent::PolicyFailed { peer, error, .. } => Some((peer.clone(), error.clone())),
        _ => None,
    })
    .await;
    assert_eq!(peer.as_str(), "a");
    assert!(matches!(
        error.downcast_ref::<ReceiveError<Poisoned>>(),
        Some(ReceiveError::Policy(Poisoned))
    ));
    // The whole message was refused: nothing of it applied.
    assert!(b.value("fine").is_none() && b.value("poison").is_none());
    assert!(!conn.is_finished());

    POISONED.store(false, Ordering::SeqCst);
    wait_for("the news again", || {
        b.value("fine").as_deref() == Some("y") && b.value("poison").as_deref() == Some("x")
    })
    .await;
    assert!(!conn.is_finished(), "the connection stayed open");
}
