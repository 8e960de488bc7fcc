//! 2, 4 and 10 nodes converge over in-memory pipes (paused time) and over loopback TCP.

#![allow(clippy::unwrap_used)]

mod common;

use common::{link_duplex, link_tcp, node, node_with, wait_converged, N};
use scuttle_tokio::core::Config;
use scuttle_tokio::ConnectionHandle;

#[derive(Clone, Copy)]
enum Transport {
    Duplex,
    Tcp,
}

async fn link(t: Transport, a: &N, b: &N) -> (ConnectionHandle, ConnectionHandle) {
    match t {
        Transport::Duplex => link_duplex(a, b),
        Transport::Tcp => link_tcp(a, b).await,
    }
}

/// Edges of the test topologies: one link, a ring of four, a line of ten with two chords
/// (the line alone makes news relay through up to nine hops).
fn edges(n: usize) -> Vec<(usize, usize)> {
    let mut edges: Vec<_> = (1..n).map(|i| (i - 1, i)).collect();
    match n {
        4 => edges.push((3, 0)),
        10 => edges.extend([(0, 5), (2, 8)]),
        _ => {}
    }
    edges
}

/// Writes on every node before and after linking; also a contested key and a delete.
async fn run(n: usize, transport: Transport) {
    let nodes: Vec<N> = (0..n).map(|i| node(&format!("n{i}"))).collect();
    for (i, node) in nodes.iter().enumerate() {
        node.set(format!("early-{i}"), format!("{i}")).unwrap();
        node.set("shared".into(), node.id().to_string()).unwrap();
    }
    nodes[0].set("doomed".into(), "x".into()).unwrap();
    nodes[0].delete("doomed".into()).unwrap();
    let mut handles = Vec::new();
    for (a, b) in edges(n) {
        handles.push(link(transport, &nodes[a], &nodes[b]).await);
    }
    for (i, node) in nodes.iter().enumerate() {
        node.set(format!("late-{i}"), format!("{i}")).unwrap();
    }
    // early + late per node, plus "shared"; "doomed" is a tombstone everywhere.
    wait_converged(&nodes, 2 * n + 1).await;
    let doomed = nodes[n - 1].get("doomed").unwrap();
    assert!(doomed.is_deleted());
    let shared = nodes[n - 1].value("shared").unwrap();
    assert!(nodes
        .iter()
        .all(|x| x.value("shared").as_ref() == Some(&shared)));
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.peers().len(), links_of(&handles, i));
    }
    // Every connection runs exchanges, and the peer answers them.
    common::wait_for("an answered exchange on every connection", || {
        handles
            .iter()
            .all(|(a, b)| a.stats().exchanges_answered > 0 && b.stats().exchanges_answered > 0)
    })
    .await;
    for node in &nodes {
        node.shutdown().await;
    }
    for (a, b) in handles {
        assert!(a.join().await.is_ok());
        assert!(b.join().await.is_ok());
    }
}

fn links_of(handles: &[(ConnectionHandle, ConnectionHandle)], i: usize) -> usize {
    let id = format!("n{i}");
    handles
        .iter()
        .filter(|(a, b)| {
            a.peer().is_some_and(|p| p.as_str() == id) || b.peer().is_some_and(|p| p.as_str() == id)
        })
        .count()
}

#[tokio::test(start_paused = true)]
async fn two_nodes_over_duplex() {
    run(2, Transport::Duplex).await;
}

#[tokio::test(start_paused = true)]
async fn four_nodes_over_duplex() {
    run(4, Transport::Duplex).await;
}

#[tokio::test(start_paused = true)]
async fn ten_nodes_over_duplex() {
    run(10, Transport::Duplex).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_over_tcp() {
    run(2, Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_over_tcp() {
    run(4, Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_nodes_over_tcp() {
    run(10, Transport::Tcp).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_over_a_unix_socket_pair() {
    let (a, b) = (node("a"), node("b"));
    a.set("k".into(), "from a".into()).unwrap();
    b.set("j".into(), "from b".into()).unwrap();
    let (x, y) = tokio::net::UnixStream::pair().unwrap();
    a.spawn_connection(x);
    b.spawn_connection(y);
    wait_converged(&[a.clone(), b.clone()], 2).await;
}

/// A node that listens on TCP and a node that dials it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_node_accepts_peers() {
    let (a, b) = (node("a"), node("b"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = a.listen(listener);
    b.set("k".into(), "v".into()).unwrap();
    b.spawn_connection(tokio::net::TcpStream::connect(addr).await.unwrap());
    wait_converged(&[a.clone(), b.clone()], 1).await;
    a.shutdown().await;
    tokio::time::timeout(common::PATIENCE, accept)
        .await
        .expect("shutdown stops listening")
        .unwrap();
    b.shutdown().await;
}

/// Ticks alone (no exchange on change), mtu 3 and a small history: many exchanges, each cut
/// short, still converge.
#[tokio::test(start_paused = true)]
async fn periodic_exchanges_with_small_mtu_converge() {
    let core = Config::default().with_mtu(3).with_max_history(5);
    let config = common::fast().with_gossip_on_change(false);
    let nodes: Vec<N> = (0..4)
        .map(|i| node_with(&format!("m{i}"), core.clone(), config.clone()))
        .collect();
    for (i, node) in nodes.iter().enumerate() {
        for k in 0..20 {
            node.set(format!("k{k}"), format!("{i}-{k}")).unwrap();
        }
        for k in 0..5 {
            node.set(format!("own-{i}-{k}"), "v".into()).unwrap();
        }
    }
    for (a, b) in [(0, 1), (1, 2), (2, 3)] {
        link_duplex(&nodes[a], &nodes[b]);
    }
    wait_converged(&nodes, 20 + 4 * 5).await;
}

/// Two connections between the same pair of nodes are harmless: the core keeps no per-peer
/// state, so each connection runs its own exchanges.
#[tokio::test(start_paused = true)]
async fn duplicate_connections_between_two_nodes_converge() {
    let (a, b) = (node("a"), node("b"));
    link_duplex(&a, &b);
    link_duplex(&a, &b);
    for i in 0..10 {
        a.set(format!("a{i}"), "x".into()).unwrap();
        b.set(format!("b{i}"), "y".into()).unwrap();
    }
    wait_converged(&[a.clone(), b.clone()], 20).await;
    let peers = a.peers();
    assert_eq!(peers.len(), 2);
    assert!(peers.iter().all(|p| p.as_str() == "b"), "real peer ids");
}
