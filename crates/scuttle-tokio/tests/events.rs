//! Events, connection handles and shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use common::{link_duplex, next_event, node, node_with, wait_for};
use futures::StreamExt;
use scuttle_core::{Config, Event};
use scuttle_tokio::{ConnectionError, DisconnectReason, NodeEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_report_peers_updates_and_shutdown() {
    let (a, b) = (node("a"), node("b"));
    let mut events_a = a.events();
    let mut events_b = b.events();
    let (ca, cb) = link_duplex(&a, &b);

    let connected = next_event(&mut events_a, |e| {
        matches!(e, NodeEvent::PeerConnected { .. })
    })
    .await;
    assert!(
        matches!(connected, NodeEvent::PeerConnected { peer, connection }
            if peer.as_str() == "b" && connection == ca.id())
    );
    wait_for("both handshakes", || {
        ca.is_established() && cb.is_established()
    })
    .await;
    assert_eq!(ca.peer().unwrap().as_str(), "b");

    a.set("mine".into(), "1".into()).unwrap();
    let local = next_event(&mut events_a, |e| matches!(e, NodeEvent::Core(_))).await;
    assert!(
        matches!(local, NodeEvent::Core(Event::Update { key, from: None, .. }) if key == "mine")
    );
    b.set("theirs".into(), "2".into()).unwrap();
    let remote = next_event(&mut events_a, |e| {
        matches!(e, NodeEvent::Core(Event::Update { from: Some(_), .. }))
    })
    .await;
    // `from` is the peer's node id, whatever the connection.
    assert!(
        matches!(remote, NodeEvent::Core(Event::Update { key, from: Some(p), .. })
        if key == "theirs" && p.as_str() == "b")
    );
    wait_for("a round both ways", || {
        ca.stats().rounds > 0 && ca.stats().messages_received > 0
    })
    .await;

    a.shutdown().await;
    assert!(a.is_shut_down());
    let gone = next_event(&mut events_a, |e| {
        matches!(e, NodeEvent::PeerDisconnected { .. })
    })
    .await;
    assert!(matches!(
        gone,
        NodeEvent::PeerDisconnected {
            reason: DisconnectReason::Closed,
            ..
        }
    ));
    let gone = next_event(&mut events_b, |e| {
        matches!(e, NodeEvent::PeerDisconnected { .. })
    })
    .await;
    assert!(matches!(
        gone,
        NodeEvent::PeerDisconnected { peer, reason: DisconnectReason::PeerClosed, .. }
            if peer.as_str() == "a"
    ));
    assert_eq!(ca.join().await.unwrap().as_str(), "b");
    assert_eq!(cb.join().await.unwrap().as_str(), "a");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test]
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
    assert!(matches!(events.next().await.unwrap(), NodeEvent::Core(_)));
}

#[tokio::test]
async fn compaction_is_reported() {
    let a = node_with("a", Config::default().with_max_history(1), common::fast());
    let mut events = a.events();
    a.set("k".into(), "1".into()).unwrap();
    a.set("k".into(), "2".into()).unwrap();
    a.set("j".into(), "1".into()).unwrap();
    next_event(&mut events, |e| {
        matches!(e, NodeEvent::Core(Event::Compaction { .. }))
    })
    .await;
}
