//! Swarms on libp2p's in-process memory transport (noise + yamux over channels, no sockets)
//! and a driver that polls many of them in one task until a condition holds.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use libp2p::core::transport::MemoryTransport;
use libp2p::core::upgrade::Version;
use libp2p::core::Transport;
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder};
use scuttle_p2p::{core, Behaviour, Config, Event};

/// The node type of the tests.
pub type Node = Behaviour<String, String>;

/// The overall budget of one wait: a guard against a hang, never a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// How often [`drive_until`] re-checks its condition when no swarm has an event.
pub const TICK: Duration = Duration::from_millis(50);

/// Fast rounds for tests.
pub fn config(peer: PeerId) -> Config {
    Config::new(peer)
        .with_core(core::Config::default().with_mtu(20))
        .with_interval(Duration::from_millis(100))
        .with_fanout(2)
}

/// A swarm on the memory transport running `behaviour` (built for the swarm's own peer id).
pub fn swarm_with<B: NetworkBehaviour>(
    key: Keypair,
    behaviour: impl FnOnce(PeerId) -> B,
) -> Swarm<B> {
    let peer = key.public().to_peer_id();
    SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| {
            MemoryTransport::default()
                .upgrade(Version::V1)
                .authenticate(noise::Config::new(key).expect("noise keys from ed25519"))
                .multiplex(yamux::Config::default())
        })
        .unwrap()
        .with_behaviour(|_| behaviour(peer))
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build()
}

/// A scuttle node with [`config`], adjusted by `adjust`.
pub fn node_with(key: Keypair, adjust: impl FnOnce(Config) -> Config) -> Swarm<Node> {
    swarm_with(key, |peer| Node::new(adjust(config(peer))).unwrap())
}

/// A scuttle node with [`config`].
pub fn node(key: Keypair) -> Swarm<Node> {
    node_with(key, |c| c)
}

/// Starts listening on a fresh memory address and returns it.
pub async fn listen<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> Multiaddr {
    swarm.listen_on("/memory/0".parse().unwrap()).unwrap();
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return address;
        }
    }
}

/// Polls every present swarm, handing each event to `on_event(index, event)`, until `done`
/// holds. Panics after [`PATIENCE`].
pub async fn drive_until<B: NetworkBehaviour>(
    swarms: &mut [Option<Swarm<B>>],
    mut on_event: impl FnMut(usize, SwarmEvent<B::ToSwarm>),
    mut done: impl FnMut(&[Option<Swarm<B>>]) -> bool,
) {
    let run = async {
        while !done(swarms) {
            // Wake up now and then even without swarm events, so conditions that depend on
            // something else (a channel from another task) are re-checked.
            let events = tokio::time::timeout(
                TICK,
                poll_fn(|cx| {
                    let mut events = Vec::new();
                    for (i, swarm) in swarms.iter_mut().enumerate() {
                        let Some(swarm) = swarm else { continue };
                        while let Poll::Ready(Some(event)) = swarm.poll_next_unpin(cx) {
                            events.push((i, event));
                            if events.len() >= 256 {
                                break;
                            }
                        }
                    }
                    if events.is_empty() {
                        Poll::Pending
                    } else {
                        Poll::Ready(events)
                    }
                }),
            )
            .await
            .unwrap_or_default();
            for (i, event) in events {
                on_event(i, event);
            }
        }
    };
    tokio::time::timeout(PATIENCE, run)
        .await
        .expect("the swarms did not reach the expected state in time");
}

/// Whether every present node holds exactly `expected` (key, value) pairs as live values.
pub fn converged(swarms: &[Option<Swarm<Node>>], expected: &[(String, String)]) -> bool {
    swarms.iter().flatten().all(|s| {
        let core = s.behaviour().core();
        core.len() == expected.len()
            && expected
                .iter()
                .all(|(k, v)| core.value(k.as_str()) == Some(v))
    })
}

/// Ignores events but fails the test on a ban: in these meshes every peer is honest.
pub fn no_violations(i: usize, event: SwarmEvent<Event<String, String>>) {
    if let SwarmEvent::Behaviour(Event::Misbehaved { peer, error }) = event {
        panic!("node {i} banned honest peer {peer}: {error}");
    }
}

/// Every node is connected to `peers` others and has banned none of them.
pub fn assert_connected_unbanned(swarms: &[Option<Swarm<Node>>], peers: usize) {
    let ids: Vec<PeerId> = swarms
        .iter()
        .flatten()
        .map(|s| *s.local_peer_id())
        .collect();
    for swarm in swarms.iter().flatten() {
        let b = swarm.behaviour();
        assert_eq!(b.peers().count(), peers);
        assert!(ids.iter().all(|p| !b.is_banned(p)));
    }
}
