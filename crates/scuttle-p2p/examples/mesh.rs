//! A scuttle mesh in one process: N nodes (default 5) on 127.0.0.1 over TCP + noise + yamux,
//! connected as a chain (node i dials node i-1), so most news travels through relays. Every
//! other node writes some keys; the example waits until every node holds every key, prints the
//! time it took and a few counters, and exits.
//!
//! ```text
//! cargo run -p scuttle-gossip-p2p --example mesh -- [nodes=5] [keys per writer=20]
//! ```
#![allow(clippy::unwrap_used)]

use std::error::Error;
use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use scuttle_p2p::{core, Behaviour, Config, Event};

type Node = Behaviour<String, String>;

fn new_node() -> Result<Swarm<Node>, Box<dyn Error>> {
    Ok(
        SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|key| {
                let config = Config::new(key.public().to_peer_id())
                    .with_core(core::Config::default().with_mtu(50))
                    .with_interval(Duration::from_millis(200))
                    .with_fanout(2);
                Ok::<_, Box<dyn Error + Send + Sync>>(Node::new(config)?)
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build(),
    )
}

/// Polls every swarm until `done` holds, passing events to `on_event`; gives up after `limit`.
async fn drive(
    swarms: &mut [Swarm<Node>],
    limit: Duration,
    mut on_event: impl FnMut(usize, SwarmEvent<Event<String, String>>),
    mut done: impl FnMut(&[Swarm<Node>]) -> bool,
) -> Result<(), Box<dyn Error>> {
    let run = async {
        while !done(swarms) {
            let events = poll_fn(|cx| {
                let mut events = Vec::new();
                for (i, swarm) in swarms.iter_mut().enumerate() {
                    while let Poll::Ready(Some(event)) = swarm.poll_next_unpin(cx) {
                        events.push((i, event));
                    }
                }
                if events.is_empty() {
                    Poll::Pending
                } else {
                    Poll::Ready(events)
                }
            })
            .await;
            for (i, event) in events {
                on_event(i, event);
            }
        }
    };
    tokio::time::timeout(limit, run)
        .await
        .map_err(|_| "the mesh did not converge in time".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let keys_per_writer: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    if nodes < 2 {
        return Err("a mesh needs at least 2 nodes".into());
    }

    // Start the nodes and chain them: node i dials node i-1.
    let mut swarms = Vec::with_capacity(nodes);
    let mut addrs: Vec<Multiaddr> = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let mut swarm = new_node()?;
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        if i > 0 {
            swarm.dial(addrs[i - 1].clone())?;
        }
        println!("node {i}: {} on {addr}", swarm.local_peer_id());
        addrs.push(addr);
        swarms.push(swarm);
    }
    drive(
        &mut swarms,
        Duration::from_secs(30),
        |_, _| {},
        |s| s.iter().all(|s| s.behaviour().peers().next().is_some()),
    )
    .await?;
    println!("{nodes} nodes connected in a chain");

    // Every other node writes.
    let start = Instant::now();
    let mut expected = Vec::new();
    for (i, swarm) in swarms.iter_mut().enumerate().filter(|(i, _)| i % 2 == 0) {
        for j in 0..keys_per_writer {
            let (k, v) = (format!("node{i}/key{j}"), format!("value {j}"));
            swarm.behaviour_mut().set(k.clone(), v.clone())?;
            expected.push((k, v));
        }
    }
    println!(
        "{} keys written on {} nodes; gossiping...",
        expected.len(),
        nodes.div_ceil(2)
    );

    let mut remote_updates = 0u64;
    drive(
        &mut swarms,
        Duration::from_secs(120),
        |_, event| match event {
            SwarmEvent::Behaviour(Event::Core {
                event: core::Event::Update { .. },
                from: Some(_),
            }) => remote_updates += 1,
            SwarmEvent::Behaviour(Event::Misbehaved { peer, error }) => {
                eprintln!("banned {peer}: {error}")
            }
            _ => {}
        },
        |s| {
            s.iter().all(|s| {
                let core = s.behaviour().core();
                core.len() == expected.len()
                    && expected
                        .iter()
                        .all(|(k, v)| core.value(k.as_str()) == Some(v))
            })
        },
    )
    .await?;
    let elapsed = start.elapsed();

    let sent: u64 = swarms
        .iter()
        .map(|s| s.behaviour().core().stats().updates_sent)
        .sum();
    let exchanges: u64 = swarms
        .iter()
        .map(|s| s.behaviour().core().stats().digests_answered)
        .sum();
    println!(
        "converged: {nodes} nodes hold all {} keys after {:.2?}",
        expected.len(),
        elapsed
    );
    println!(
        "{remote_updates} remote updates applied, {sent} updates sent, {exchanges} digests answered"
    );
    Ok(())
}
