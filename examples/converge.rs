//! A few in-memory nodes in a ring converge on each other's writes.
//!
//! Run: `cargo run --release --example converge`

use scuttle::core::{Gossip, NodeId};

fn main() {
    let n = 5;
    let mut nodes: Vec<Gossip<String, String>> = (0..n)
        .map(|i| Gossip::with_defaults(format!("node-{i}")))
        .collect();
    for (i, node) in nodes.iter_mut().enumerate() {
        for k in 0..20 {
            node.set(format!("key-{i}-{k}"), format!("value {k} from node {i}"))
                .expect("last-writer-wins accepts every local write");
        }
    }
    let mut rounds = 0;
    while !converged(&nodes) {
        rounds += 1;
        for i in 0..n {
            exchange(&mut nodes, i, (i + 1) % n);
        }
    }
    println!(
        "{n} nodes converged on {} keys after {rounds} rounds",
        nodes[0].len()
    );
}

fn converged(nodes: &[Gossip<String, String>]) -> bool {
    nodes.iter().all(|n| n.len() == nodes[0].len())
        && nodes[0]
            .iter()
            .all(|(k, v)| nodes.iter().all(|n| n.value(k) == Some(v)))
}

/// Runs one push-pull exchange between nodes `a` and `b`, delivering every message.
fn exchange(nodes: &mut [Gossip<String, String>], a: usize, b: usize) {
    let (id_a, id_b): (NodeId, NodeId) = (nodes[a].id().clone(), nodes[b].id().clone());
    nodes[a].gossip(&id_b);
    loop {
        let mut moved = false;
        while let Some(msg) = nodes[a].poll_message(&id_b) {
            nodes[b].receive(&id_a, msg).expect("valid message");
            moved = true;
        }
        while let Some(msg) = nodes[b].poll_message(&id_a) {
            nodes[a].receive(&id_b, msg).expect("valid message");
            moved = true;
        }
        if !moved {
            break;
        }
    }
}
