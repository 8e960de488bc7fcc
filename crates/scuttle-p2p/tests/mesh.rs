//! Scuttle meshes on the memory transport: convergence, late joiners, leaving and coming back,
//! peers with other mtus, oversize writes, and a partition that heals.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;
use std::time::Duration;

use common::{
    assert_connected_unbanned, converged, drive_until, listen, no_violations, node, node_with, Node,
};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use scuttle_p2p::core::{self, SetError};
use scuttle_p2p::Event;

/// Starts `n` nodes; node i dials node i-1 and node 0 (a connected mesh without full links).
async fn mesh(n: usize) -> (Vec<Option<Swarm<Node>>>, Vec<Multiaddr>, Vec<Keypair>) {
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

/// Whether the event is an update that came from a peer.
fn is_remote_update(event: &SwarmEvent<Event<String, String>>) -> bool {
    matches!(
        event,
        SwarmEvent::Behaviour(Event::Core {
            event: core::Event::Update { local: false, .. },
            from: Some(_),
        })
    )
}

async fn converge_on_100_keys(n: usize) {
    let (mut swarms, _, _) = mesh(n).await;
    let expected = write_keys(&mut swarms, "key", 100);
    let mut applied_from_peers = 0usize;
    drive_until(
        &mut swarms,
        |i, event| {
            applied_from_peers += usize::from(is_remote_update(&event));
            no_violations(i, event);
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
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;

    let mut late = node(Keypair::generate_ed25519());
    listen(&mut late).await;
    late.dial(addrs[1].clone()).unwrap();
    late.behaviour_mut()
        .set("late".into(), "joined".into())
        .unwrap();
    expected.push(("late".into(), "joined".into()));
    swarms.push(Some(late));
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_that_leaves_and_comes_back_catches_up() {
    let (mut swarms, addrs, keys) = mesh(3).await;
    let mut expected = write_keys(&mut swarms, "before", 30);
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;

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
            if let SwarmEvent::Behaviour(Event::PeerLeft { peer: p }) = &event {
                if *p == peer {
                    left[i].set(true);
                }
            }
            no_violations(i, event);
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
    let mut back = common::swarm_with(keys[2].clone(), |peer| {
        Node::new(common::config(peer)).unwrap().with_state(saved)
    });
    // Its version restarts above every version it issued before, so its next write is news.
    assert!(back.behaviour().core().version() >= own_before);
    listen(&mut back).await;
    back.dial(addrs[0].clone()).unwrap();
    back.behaviour_mut()
        .set("back".into(), "again".into())
        .unwrap();
    expected.push(("back".into(), "again".into()));
    swarms[2] = Some(back);
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;
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
                if let SwarmEvent::Behaviour(Event::Misbehaved { peer, error }) =
                    swarm.select_next_some().await
                {
                    panic!("banned honest peer {peer}: {error}");
                }
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

/// Peers with different mtus interoperate: a SynAck with more updates than the receiver's mtu
/// is applied, and nobody is banned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_with_different_mtus_converge_without_bans() {
    let mut swarms = Vec::new();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for (i, mtu) in [100, 1, 7].into_iter().enumerate() {
        let mut swarm = node_with(Keypair::generate_ed25519(), |c| {
            let core = c.core.clone().with_mtu(mtu);
            c.with_core(core)
        });
        addrs.push(listen(&mut swarm).await);
        for addr in &addrs[..i] {
            swarm.dial(addr.clone()).unwrap();
        }
        swarms.push(Some(swarm));
    }
    // Most keys on the node with the large mtu: its SynAcks carry up to 100 updates to nodes
    // whose own mtu is 1 or 7.
    let mut expected = Vec::new();
    for j in 0..150 {
        let i = if j % 10 == 0 { 1 + j % 2 } else { 0 };
        let (k, v) = (format!("k{j}"), format!("v{j}"));
        let b = swarms[i].as_mut().unwrap().behaviour_mut();
        b.set(k.clone(), v.clone()).unwrap();
        expected.push((k, v));
    }
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;
    assert_connected_unbanned(&swarms, 2);
}

/// A write that could never fit one message is refused at `set` with the typed error, and
/// does not block later writes (no news is dropped in transit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_write_is_refused_and_later_writes_arrive() {
    let small = |c: scuttle_p2p::Config| {
        let core = c.core.clone().with_max_message_bytes(1024);
        c.with_core(core)
    };
    let mut a = node_with(Keypair::generate_ed25519(), small);
    let mut b = node_with(Keypair::generate_ed25519(), small);
    let addr = listen(&mut a).await;
    listen(&mut b).await;
    b.dial(addr).unwrap();

    let node = a.behaviour_mut();
    node.set("before".into(), "1".into()).unwrap();
    let err = node.set("big".into(), "x".repeat(4000)).unwrap_err();
    assert!(
        matches!(err, SetError::TooLarge { len, max: 1024 } if len > 4000),
        "{err:?}"
    );
    // Many small writes after it, more than one message holds.
    let mut expected = vec![("before".to_string(), "1".to_string())];
    for j in 0..100 {
        let (k, v) = (format!("after{j}"), "y".repeat(50));
        node.set(k.clone(), v.clone()).unwrap();
        expected.push((k, v));
    }
    let mut swarms = [Some(a), Some(b)];
    drive_until(&mut swarms, no_violations, |s| converged(s, &expected)).await;
    for swarm in swarms.iter().flatten() {
        assert!(swarm.behaviour().core().get("big").is_none());
    }
}

/// Partitions: every link between two halves is closed from both ends while exchanges are in
/// flight, both halves write (the same key too), then the links come back, dialled from both
/// ends. Three times over. Nobody is banned and everyone converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_heals_without_bans_and_converges() {
    const N: usize = 4;
    let side = |i: usize| usize::from(i >= N / 2);
    let mut swarms = Vec::new();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for i in 0..N {
        // Rounds as fast as the machine goes, so streams are open when the links close.
        let mut swarm = node_with(Keypair::generate_ed25519(), |c| {
            c.with_interval(Duration::from_millis(10))
                .with_fanout(N)
                .with_rate_limit(1_000_000, Duration::from_secs(1))
        });
        addrs.push(listen(&mut swarm).await);
        for addr in &addrs[..i] {
            swarm.dial(addr.clone()).unwrap();
        }
        swarms.push(Some(swarm));
    }
    let ids: Vec<PeerId> = swarms
        .iter()
        .flatten()
        .map(|s| *s.local_peer_id())
        .collect();
    let peers_are = |n: usize| {
        move |s: &[Option<Swarm<Node>>]| {
            s.iter()
                .flatten()
                .all(|s| s.behaviour().peers().count() == n)
        }
    };
    let holds = |s: &Swarm<Node>, keys: &[(String, String)], len: usize| {
        let core = s.behaviour().core();
        core.len() == len && keys.iter().all(|(k, v)| core.value(k.as_str()) == Some(v))
    };
    let agree_on = |s: &[Option<Swarm<Node>>], key: &str| {
        let values: Vec<_> = s
            .iter()
            .flatten()
            .map(|s| s.behaviour().core().get(key).cloned())
            .collect();
        values[0].is_some() && values.iter().all(|v| *v == values[0])
    };
    let mut expected = write_keys(&mut swarms, "before", 40);
    drive_until(&mut swarms, no_violations, |s| {
        peers_are(N - 1)(s) && converged(s, &expected)
    })
    .await;

    for cycle in 0..3 {
        // Writes start flowing; once news crosses a link, every cross link is closed from
        // both ends.
        expected.extend(write_keys(&mut swarms, &format!("racing{cycle}/"), 40));
        let crossed = Cell::new(false);
        drive_until(
            &mut swarms,
            |i, event| {
                crossed.set(crossed.get() || is_remote_update(&event));
                no_violations(i, event);
            },
            |_| crossed.get(),
        )
        .await;
        for (i, swarm) in swarms.iter_mut().enumerate() {
            let swarm = swarm.as_mut().unwrap();
            for j in (0..N).filter(|j| side(*j) != side(i)) {
                let _ = swarm.disconnect_peer_id(ids[j]);
            }
        }
        drive_until(&mut swarms, no_violations, peers_are(N / 2 - 1)).await;

        // Both halves write, the same key too, and each converges on its own.
        let mut per_side: [Vec<(String, String)>; 2] = Default::default();
        for (i, swarm) in swarms.iter_mut().enumerate() {
            let (k, v) = (format!("during{cycle}/{i}"), format!("from node {i}"));
            let b = swarm.as_mut().unwrap().behaviour_mut();
            b.set(k.clone(), v.clone()).unwrap();
            b.set("contested".into(), format!("node {i}, cycle {cycle}"))
                .unwrap();
            per_side[side(i)].push((k, v));
        }
        drive_until(&mut swarms, no_violations, |s| {
            peers_are(N / 2 - 1)(s)
                && s.iter().enumerate().all(|(i, s)| {
                    let keys = &per_side[side(i)];
                    s.as_ref().is_some_and(|s| {
                        keys.iter()
                            .all(|(k, v)| s.behaviour().core().value(k.as_str()) == Some(v))
                    })
                })
        })
        .await;

        // The links come back, dialled from both ends.
        for (i, swarm) in swarms.iter_mut().enumerate() {
            let swarm = swarm.as_mut().unwrap();
            for j in (0..N).filter(|j| side(*j) != side(i)) {
                swarm.dial(addrs[j].clone()).unwrap();
            }
        }
        expected.extend(per_side.iter().flatten().cloned());
        drive_until(&mut swarms, no_violations, |s| {
            peers_are(N - 1)(s)
                && agree_on(s, "contested")
                && s.iter()
                    .flatten()
                    .all(|s| holds(s, &expected, expected.len() + 1))
        })
        .await;
        for swarm in swarms.iter().flatten() {
            let b = swarm.behaviour();
            assert!(ids.iter().all(|p| !b.is_banned(p)), "cycle {cycle}");
        }
    }
}
