//! Loopback swarms (127.0.0.1, TCP + noise + yamux) and a driver that polls many of them in
//! one task until a condition holds.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder};
use scuttle_p2p::{Behaviour, Config, Event};

/// The node type of the tests.
pub type Node = Behaviour<String, String>;

/// The overall budget of one wait: generous, so slow CI machines pass; never a timing assert.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// How often [`drive_until`] re-checks its condition when no swarm has an event.
pub const TICK: Duration = Duration::from_millis(50);

/// Fast rounds for tests.
pub fn config() -> Config {
    Config::default()
        .with_interval(Duration::from_millis(100))
        .with_fanout(2)
        .with_max_updates(20)
}

/// A swarm on 127.0.0.1 running `behaviour` (built from the swarm's own key).
pub fn swarm_with<B: NetworkBehaviour>(
    key: Keypair,
    behaviour: impl FnOnce(PeerId) -> B,
) -> Swarm<B> {
    let peer = key.public().to_peer_id();
    SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| behaviour(peer))
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build()
}

/// A scuttle node with [`config`].
pub fn node(key: Keypair) -> Swarm<Node> {
    swarm_with(key, |peer| Node::new(peer, config()).unwrap())
}

/// Starts listening on an ephemeral loopback port and returns the address.
pub async fn listen<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> Multiaddr {
    swarm
        .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
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
        let b = s.behaviour();
        b.core().len() == expected.len()
            && expected.iter().all(|(k, v)| b.value(k.as_str()) == Some(v))
    })
}

/// Ignores events.
pub fn ignore(_: usize, _: SwarmEvent<Event<String, String>>) {}
