//! Two nodes gossip over loopback TCP in one process: `alice` listens, `bob` dials.
//!
//! ```text
//! cargo run -p scuttle-gossip-tokio --example tcp_pair
//! ```
//!
//! Each node writes a key, the example waits until both hold the same state (at most 20 s,
//! then it fails), prints it and exits.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use scuttle_tokio::core::{Event, Gossip};
use scuttle_tokio::{Node, NodeConfig, NodeEvent};
use tokio::net::{TcpListener, TcpStream};

type Kv = Node<String, String>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = NodeConfig::default()
        .with_gossip_interval(Duration::from_millis(200))
        .with_gossip_jitter(Duration::from_millis(50));
    let alice: Kv = Node::new(Gossip::with_defaults("alice"), config.clone());
    let bob: Kv = Node::new(Gossip::with_defaults("bob"), config);

    // Print what bob sees happen.
    let mut events = bob.events();
    let printer = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                NodeEvent::PeerConnected { peer, connection } => {
                    println!("bob: connected to {peer} ({connection})")
                }
                NodeEvent::Core {
                    event: Event::Update { key, entry, .. },
                    from: Some(from),
                } => println!("bob: {key} = {:?} (from {from})", entry.value),
                NodeEvent::Error { error, .. } => println!("bob: connection error: {error}"),
                _ => {}
            }
        }
    });

    // alice accepts every peer that dials her.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    alice.listen(listener);

    // bob dials alice.
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    bob.spawn_connection(stream);

    alice.set("greeting".into(), "hello from alice".into())?;
    bob.set("answer".into(), "42, says bob".into())?;

    let converged = tokio::time::timeout(Duration::from_secs(20), async {
        while !(alice.snapshot().len() == 2 && alice.entries() == bob.entries()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if converged.is_err() {
        eprintln!("tcp_pair: the nodes did not converge within 20 s");
        std::process::exit(1);
    }

    for node in [&alice, &bob] {
        let state: BTreeMap<_, _> = node.snapshot().into_iter().collect();
        println!("{}: {state:?}", node.id());
    }
    alice.shutdown().await;
    bob.shutdown().await;
    printer.abort();
    println!("converged");
    Ok(())
}
