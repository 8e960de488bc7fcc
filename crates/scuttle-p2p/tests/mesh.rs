//! Scuttle meshes on loopback: convergence, late joiners, leaving and coming back.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;

use common::{converged, drive_until, ignore, listen, node, Node};
use libp2p::identity::Keypair;
use libp2p::Swarm;
use scuttle_p2p::core::{Gossip, LastWriterWins, ScuttleBreadth};
use scuttle_p2p::Event;

/// Starts `n` nodes; node i dials node i-1 and node 0 (a connected mesh without full links).
async fn mesh(
    n: usize,
) -> (
    Vec<Option<Swarm<Node>>>,
    Vec<libp2p::Multiaddr>,
    Vec<Keypair>,
) {
    let mut swarms = Vec::new();
    let mut addrs = Vec::new();
    let mut keys = Vec::new();
    for i in 0..n {
        let key = Keypair::generate_ed25519();
        keys.push(key.clone());
        let mut swarm = node(key);
        addrs.push(listen(&mut swarm).await);
        if i > 0 {
            swarm.dial(addrs[i - 1].clone()).unwrap();
        }
        if i > 1 {
            swarm.dial(addrs[0].clone()).unwrap();
        }
        swarms.push(Some(swarm));
    }
    (swarms, addrs, keys)
}

/// Writes `keys` keys, key j on node `j % nodes.len()`, and returns what every node must hold.
fn write_keys(
    swarms: &mut [Option<Swarm<Node>>],
    prefix: &str,
    keys: usize,
) -> Vec<(String, String)> {
    let live: Vec<usize> = (0..swarms.len()).filter(|i| swarms[*i].is_some()).collect();
    let mut expected = Vec::new();
    for j in 0..keys {
        let i = live[j % live.len()];
        let (k, v) = (format!("{prefix}{j}"), format!("value {j} from node {i}"));
        swarms[i]
            .as_mut()
            .unwrap()
            .behaviour_mut()
            .set(k.clone(), v.clone())
            .unwrap();
        expected.push((k, v));
    }
    expected
}

async fn converge_on_100_keys(n: usize) {
    let (mut swarms, _, _) = mesh(n).await;
    let expected = write_keys(&mut swarms, "key", 100);
    let mut applied_from_peers = 0usize;
    drive_until(
        &mut swarms,
        |_, event| {
            if let libp2p::swarm::SwarmEvent::Behaviour(Event::UpdateApplied {
                from: Some(_),
                ..
            }) = event
            {
                applied_from_peers += 1;
            }
        },
        |s| converged(s, &expected),
    )
    .await;
    // Every node learned the keys it did not write from its peers.
    assert!(applied_from_peers >= 100 * (n - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_on_100_keys() {
    converge_on_100_keys(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_nodes_converge_on_100_keys() {
    converge_on_100_keys(10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_catches_up() {
    let (mut swarms, addrs, _) = mesh(3).await;
    let mut expected = write_keys(&mut swarms, "early", 100);
    drive_until(&mut swarms, ignore, |s| converged(s, &expected)).await;

    let mut late = node(Keypair::generate_ed25519());
    listen(&mut late).await;
    late.dial(addrs[1].clone()).unwrap();
    late.behaviour_mut()
        .set("late".into(), "joined".into())
        .unwrap();
    expected.push(("late".into(), "joined".into()));
    swarms.push(Some(late));
    drive_until(&mut swarms, ignore, |s| converged(s, &expected)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_that_leaves_and_comes_back_catches_up() {
    let (mut swarms, addrs, keys) = mesh(3).await;
    let mut expected = write_keys(&mut swarms, "before", 30);
    drive_until(&mut swarms, ignore, |s| converged(s, &expected)).await;

    // Node 2 leaves, keeping its key and its state (as if persisted), and the others see it go.
    let leaver = swarms[2].take().unwrap();
    let peer = *leaver.local_peer_id();
    let saved: Vec<_> = leaver
        .behaviour()
        .core()
        .entries()
        .map(|(k, e)| (k.clone(), e.clone()))
        .collect();
    let own_before = leaver.behaviour().core().watermark(&peer.to_string());
    drop(leaver);
    let left = [Cell::new(false), Cell::new(false)];
    drive_until(
        &mut swarms,
        |i, event| {
            if let libp2p::swarm::SwarmEvent::Behaviour(Event::PeerLeft { peer: p }) = event {
                if p == peer {
                    left[i].set(true);
                }
            }
        },
        |_| left.iter().all(Cell::get),
    )
    .await;

    // The others keep writing, including over keys node 2 wrote.
    expected.extend(write_keys(&mut swarms, "during", 70));
    for (k, v) in expected.iter_mut().take(6) {
        *v = format!("{v}, overwritten");
        swarms[0]
            .as_mut()
            .unwrap()
            .behaviour_mut()
            .set(k.clone(), v.clone())
            .unwrap();
    }

    // Node 2 comes back with the same identity and its saved state, and writes once more.
    let restored = Gossip::new(
        peer.to_string(),
        common::config().core,
        LastWriterWins,
        ScuttleBreadth,
    )
    .unwrap()
    .with_state(saved);
    // Its clock restarts above every version it issued before, so its next write is news.
    assert!(restored.version() >= own_before);
    let mut back = common::swarm_with(keys[2].clone(), |peer| {
        Node::from_gossip(peer, restored, common::config()).unwrap()
    });
    listen(&mut back).await;
    back.dial(addrs[0].clone()).unwrap();
    back.behaviour_mut()
        .set("back".into(), "again".into())
        .unwrap();
    expected.push(("back".into(), "again".into()));
    swarms[2] = Some(back);
    drive_until(&mut swarms, ignore, |s| converged(s, &expected)).await;
}

/// Swarms on their own tasks, driven through cloneable handles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_drive_swarms_on_their_own_tasks() {
    let (swarms, _, _) = mesh(3).await;
    let mut handles = Vec::new();
    let mut ids = Vec::new();
    for swarm in swarms {
        let mut swarm = swarm.unwrap();
        ids.push(*swarm.local_peer_id());
        handles.push(swarm.behaviour_mut().handle());
        tokio::spawn(async move {
            use futures::StreamExt;
            loop {
                swarm.select_next_some().await;
            }
        });
    }
    for (i, handle) in handles.iter().enumerate() {
        handle.set(format!("k{i}"), format!("v{i}")).await.unwrap();
    }
    handles[0].delete("k0".into()).await.unwrap();
    handles[1].gossip().await.unwrap();

    let all_there = async {
        loop {
            let mut done = true;
            for handle in &handles {
                let entries: std::collections::HashMap<_, _> =
                    handle.entries().await.unwrap().into_iter().collect();
                done &= entries.len() == 3
                    && entries["k0"].is_deleted()
                    && entries["k1"].value.as_deref() == Some("v1")
                    && entries["k2"].value.as_deref() == Some("v2");
            }
            if done {
                break;
            }
            tokio::time::sleep(common::TICK).await;
        }
    };
    tokio::time::timeout(common::PATIENCE, all_there)
        .await
        .expect("handles did not see the mesh converge");
    let k1 = handles[2].get("k1".into()).await.unwrap().unwrap();
    // The writer is node 1, named by its peer id.
    assert_eq!(k1.source_id.as_str(), ids[1].to_string());
}
