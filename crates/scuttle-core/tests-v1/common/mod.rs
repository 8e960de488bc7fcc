//! Test support: deliver messages between in-memory nodes.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

use scuttle_core::{Entry, Gossip, Resolver, Sorter};

/// Runs one fault-free push-pull exchange started by `a` with `b`; returns messages delivered.
pub fn exchange<K, V, R, S>(nodes: &mut [Gossip<K, V, R, S>], a: usize, b: usize) -> usize
where
    K: Clone + Eq + Hash,
    V: Clone,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    let (id_a, id_b) = (nodes[a].id().clone(), nodes[b].id().clone());
    nodes[a].gossip(&id_b);
    let mut delivered = 0;
    loop {
        let mut moved = false;
        while let Some(msg) = nodes[a].poll_message(&id_b) {
            nodes[b].receive(&id_a, msg).expect("valid message");
            delivered += 1;
            moved = true;
        }
        while let Some(msg) = nodes[b].poll_message(&id_a) {
            nodes[a].receive(&id_b, msg).expect("valid message");
            delivered += 1;
            moved = true;
        }
        if !moved {
            return delivered;
        }
    }
}

/// Every entry of a node (tombstones included), sorted by key.
pub fn snapshot<K, V, R, S>(node: &Gossip<K, V, R, S>) -> BTreeMap<K, Entry<V>>
where
    K: Clone + Eq + Hash + Ord,
    V: Clone,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    node.entries()
        .map(|(k, e)| (k.clone(), e.clone()))
        .collect()
}

/// Live values of a node, sorted by key.
pub fn values<K, V, R, S>(node: &Gossip<K, V, R, S>) -> BTreeMap<K, V>
where
    K: Clone + Eq + Hash + Ord,
    V: Clone,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    node.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Runs fault-free exchanges between every ordered pair until no state changes, at most
/// `max_rounds` rounds; panics if they never settle. Returns the rounds run.
pub fn settle<K, V, R, S>(nodes: &mut [Gossip<K, V, R, S>], max_rounds: usize) -> usize
where
    K: Clone + Eq + Hash + Ord + Debug,
    V: Clone + PartialEq + Debug,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    for round in 1..=max_rounds {
        let before: Vec<_> = nodes.iter().map(|n| (snapshot(n), watermarks(n))).collect();
        for a in 0..nodes.len() {
            for b in 0..nodes.len() {
                if a != b {
                    exchange(nodes, a, b);
                }
            }
        }
        let after: Vec<_> = nodes.iter().map(|n| (snapshot(n), watermarks(n))).collect();
        if before == after {
            return round;
        }
    }
    panic!("nodes did not settle within {max_rounds} rounds");
}

fn watermarks<K, V, R, S>(node: &Gossip<K, V, R, S>) -> BTreeMap<String, u64>
where
    K: Clone + Eq + Hash,
    V: Clone,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    node.watermarks().map(|(s, v)| (s.to_string(), v)).collect()
}

/// Panics unless every node holds the same entries.
pub fn assert_converged<K, V, R, S>(nodes: &[Gossip<K, V, R, S>])
where
    K: Clone + Eq + Hash + Ord + Debug,
    V: Clone + PartialEq + Debug,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    let first = snapshot(&nodes[0]);
    for n in &nodes[1..] {
        assert_eq!(
            snapshot(n),
            first,
            "{} differs from {}",
            n.id(),
            nodes[0].id()
        );
    }
}
