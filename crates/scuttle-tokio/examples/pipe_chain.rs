//! The seed's four-node pipe topology in one process: A–B, B–C, A–D over in-memory pipes
//! (`tokio::io::duplex`), the Rust form of `a.pipe(b).pipe(a)`.
//!
//! ```text
//! cargo run -p scuttle-gossip-tokio --example pipe_chain
//! ```
//!
//! A and B write; C and D, which only reach them through a relay or directly, receive both
//! writes. The example exits once all four nodes agree (at most 20 s, then it fails).

use std::collections::BTreeMap;
use std::time::Duration;

use scuttle_tokio::core::Gossip;
use scuttle_tokio::{Node, NodeConfig};

type Kv = Node<String, String>;

/// Connects two nodes with an in-memory duplex pipe.
fn pipe(x: &Kv, y: &Kv) {
    let (one, other) = tokio::io::duplex(64 * 1024);
    x.spawn_connection(one);
    y.spawn_connection(other);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = NodeConfig::default().with_gossip_interval(Duration::from_millis(100));
    let [a, b, c, d]: [Kv; 4] =
        ["A", "B", "C", "D"].map(|id| Node::new(Gossip::with_defaults(id), config.clone()));

    pipe(&a, &b);
    pipe(&b, &c);
    pipe(&a, &d);

    a.set("from-a".into(), "written on A".into())?;
    b.set("from-b".into(), "written on B".into())?;

    let nodes = [&a, &b, &c, &d];
    let converged = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let first = a.entries();
            if first.len() == 2 && nodes.iter().all(|n| n.entries() == first) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if converged.is_err() {
        eprintln!("pipe_chain: the nodes did not converge within 20 s");
        std::process::exit(1);
    }

    for node in nodes {
        let state: BTreeMap<_, _> = node.snapshot().into_iter().collect();
        println!("{}: {state:?}", node.id());
    }
    for node in nodes {
        node.shutdown().await;
    }
    println!("converged");
    Ok(())
}
