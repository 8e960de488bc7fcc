//! A connection cut in the middle of an exchange, then reopened, still converges.

#![allow(clippy::unwrap_used)]

mod common;

use common::{link_duplex, link_tcp, next_event, node_with, wait_converged, CutAfter};
use scuttle_tokio::core::{Config, Event};
use scuttle_tokio::{ConnectionError, NodeEvent};

fn own_keys(n: &common::N, prefix: &str) -> usize {
    n.snapshot()
        .keys()
        .filter(|k| k.starts_with(prefix))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_stream_cut_inside_a_frame_then_reopened_converges() {
    let core = Config::default().with_mtu(5);
    let a = node_with("a", core.clone(), common::fast());
    let b = node_with("b", core, common::fast());
    for i in 0..60 {
        a.set(format!("a{i}"), "x".repeat(20)).unwrap();
    }
    for i in 0..10 {
        b.set(format!("b{i}"), "y".repeat(20)).unwrap();
    }
    let mut events = a.events();

    // a may write 700 bytes, then its stream fails: far less than its 60 updates.
    let (x, y) = tokio::io::duplex(16 * 1024);
    let cut = a.spawn_connection(CutAfter::new(x, 700));
    let other = b.spawn_connection(y);
    let error = cut.join().await.unwrap_err();
    assert!(matches!(*error, ConnectionError::Io(_)), "{error}");
    next_event(&mut events, |e| {
        matches!(e, NodeEvent::Error { .. }).then_some(())
    })
    .await;
    // b sees the stream end, cleanly or inside a frame; either way the connection is over.
    let _ = other.join().await;
    assert!(own_keys(&b, "a") < 60, "the cut came before the end");
    assert!(a.peers().is_empty() && b.peers().is_empty());

    link_duplex(&a, &b);
    wait_converged(&[a, b], 70).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_connection_closed_after_the_first_update_then_reopened_converges() {
    // One update per message and ticks only: the 60 updates of each side need dozens of
    // exchanges, so the close surely comes in the middle.
    let core = Config::default().with_mtu(1);
    let config = common::fast().with_gossip_on_change(false);
    let a = node_with("a", core.clone(), config.clone());
    let b = node_with("b", core, config);
    for i in 0..60 {
        a.set(format!("a{i}"), format!("{i}")).unwrap();
        b.set(format!("b{i}"), format!("{i}")).unwrap();
    }
    let mut events = b.events();
    let (ca, cb) = link_tcp(&a, &b).await;
    next_event(&mut events, |e| {
        matches!(
            e,
            NodeEvent::Core {
                event: Event::Update { local: false, .. },
                from: Some(_),
            }
        )
        .then_some(())
    })
    .await;
    ca.close();
    assert_eq!(ca.join().await.unwrap().as_str(), "b");
    assert_eq!(cb.join().await.unwrap().as_str(), "a");
    assert!(own_keys(&b, "a") < 60, "closed mid-way");

    link_tcp(&a, &b).await;
    wait_converged(&[a, b], 120).await;
}
