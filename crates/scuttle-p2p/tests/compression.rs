//! Negotiated zstd compression: nodes with it on converge, and a node with it on converges
//! with a node without it (which only speaks `/scuttle/2.0.0`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    assert_connected_unbanned, converged, drive_until, listen, no_violations, node_with, Node,
};
use libp2p::identity::Keypair;
use libp2p::Swarm;

/// Two nodes (compression per `on`), the second dialing the first, with large compressible
/// values written on both; runs until both hold everything.
async fn pair(on: [bool; 2]) {
    let mut swarms: Vec<Option<Swarm<Node>>> = Vec::new();
    let mut first = None;
    for compression in on {
        let mut swarm = node_with(Keypair::generate_ed25519(), |c| {
            c.with_compression(compression)
        });
        let addr = listen(&mut swarm).await;
        if let Some(addr) = first.take() {
            swarm.dial(addr).unwrap();
        } else {
            first = Some(addr);
        }
        swarms.push(Some(swarm));
    }
    let mut expected = Vec::new();
    for j in 0..60 {
        let i = j % 2;
        let (k, v) = (
            format!("k{j}"),
            format!("value {j} from node {i} ").repeat(40),
        );
        let b = swarms[i].as_mut().unwrap().behaviour_mut();
        b.set(k.clone(), v.clone()).unwrap();
        expected.push((k, v));
    }
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;
    assert_connected_unbanned(&swarms, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_with_compression_converge() {
    pair([true, true]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compression_on_and_off_converge() {
    pair([true, false]).await;
    pair([false, true]).await;
}
