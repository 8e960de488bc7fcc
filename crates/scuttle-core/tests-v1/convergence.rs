//! Property: whatever the writes and however single messages are lost, duplicated,
//! reordered or delivered to the wrong peer, once exchanges run fault-free every replica holds
//! the same state, and that state is the resolver's maximum of all accepted writes.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, VecDeque};

use common::{settle, snapshot};
use proptest::prelude::*;
use scuttle_core::{
    Config, DynSorter, Entry, Gossip, LastWriterWins, Message, NodeId, Resolver, ScuttleBreadth,
    ScuttleDepth, StrictlyOrderedValues, Update,
};

#[derive(Clone, Debug)]
enum Op {
    Set { node: usize, key: u8, value: i8 },
    Delete { node: usize, key: u8 },
    Exchange { a: usize, b: usize },
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Deliver,
    Drop,
    Duplicate,
    Delay,
    Misdeliver(usize),
}

fn op(nodes: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..nodes, 0..4u8, -3..4i8).prop_map(|(node, key, value)| Op::Set { node, key, value }),
        1 => (0..nodes, 0..4u8).prop_map(|(node, key)| Op::Delete { node, key }),
        4 => (0..nodes, 0..nodes).prop_map(|(a, b)| Op::Exchange { a, b }),
    ]
}

fn fault(nodes: usize) -> impl Strategy<Value = Fault> {
    prop_oneof![
        6 => Just(Fault::Deliver),
        1 => Just(Fault::Drop),
        1 => Just(Fault::Duplicate),
        1 => Just(Fault::Delay),
        1 => (0..nodes).prop_map(Fault::Misdeliver),
    ]
}

type Node<R> = Gossip<u8, i8, R, DynSorter<u8, i8>>;

/// Runs the ops over a faulty network, then settles fault-free and checks the outcome.
fn check<R: Resolver<u8, i8> + Clone>(
    resolver: R,
    nodes: usize,
    mtu: usize,
    depth: bool,
    ops: &[Op],
    faults: &[Fault],
) -> Result<(), TestCaseError> {
    let config = Config::default()
        .with_mtu(mtu)
        .with_max_history(3)
        .with_tombstone_grace(None);
    let mut n: Vec<Node<R>> = (0..nodes)
        .map(|i| {
            let sorter: DynSorter<u8, i8> = if depth {
                Box::new(ScuttleDepth)
            } else {
                Box::new(ScuttleBreadth)
            };
            Gossip::new(format!("n{i}"), config.clone(), resolver.clone(), sorter).unwrap()
        })
        .collect();
    let ids: Vec<NodeId> = n.iter().map(|g| g.id().clone()).collect();
    let mut accepted: Vec<Update<u8, i8>> = Vec::new();
    let mut delayed: VecDeque<(usize, usize, Message<u8, i8>)> = VecDeque::new();
    let mut faults = faults.iter().cycle();

    for op in ops {
        match *op {
            Op::Set { node, key, value } => {
                if let Ok(version) = n[node].set(key, value) {
                    accepted.push(n[node].get(&key).unwrap().to_update(key));
                    prop_assert_eq!(accepted.last().unwrap().version, version);
                }
            }
            Op::Delete { node, key } => {
                if n[node].delete(key).is_ok() {
                    accepted.push(n[node].get(&key).unwrap().to_update(key));
                }
            }
            Op::Exchange { a, b } if a != b => {
                n[a].gossip(&ids[b]);
                // Pump every queued message through the faulty link until all are idle.
                let mut budget = 10_000;
                loop {
                    let mut moved = false;
                    for from in 0..nodes {
                        while let Some((to_id, msg)) = n[from].poll_transmit() {
                            moved = true;
                            let to = ids.iter().position(|i| *i == to_id).unwrap();
                            match *faults.next().unwrap() {
                                Fault::Deliver => n[to].receive(&ids[from], msg).unwrap(),
                                Fault::Drop => {}
                                Fault::Duplicate => {
                                    n[to].receive(&ids[from], msg.clone()).unwrap();
                                    n[to].receive(&ids[from], msg).unwrap();
                                }
                                Fault::Delay => delayed.push_back((from, to, msg)),
                                Fault::Misdeliver(other) if other != from => {
                                    n[other].receive(&ids[from], msg).unwrap()
                                }
                                Fault::Misdeliver(_) => n[to].receive(&ids[from], msg).unwrap(),
                            }
                        }
                    }
                    // Delayed messages arrive late, in between later traffic.
                    if let Some((from, to, msg)) = delayed.pop_front() {
                        moved = true;
                        n[to].receive(&ids[from], msg).unwrap();
                    }
                    budget -= 1;
                    prop_assert!(budget > 0, "exchange never went idle");
                    if !moved {
                        break;
                    }
                }
            }
            Op::Exchange { .. } => {}
        }
    }
    // Leftover delayed messages arrive after everything else.
    while let Some((from, to, msg)) = delayed.pop_front() {
        n[to].receive(&ids[from], msg).unwrap();
    }
    for node in &mut n {
        for peer in &ids {
            node.forget_peer(peer);
        }
    }
    settle(&mut n, 200);

    // The expected state: the resolver's maximum over all accepted writes, per key.
    let mut expected: BTreeMap<u8, Entry<i8>> = BTreeMap::new();
    for u in &accepted {
        if resolver.accept(expected.get(&u.key), u) {
            expected.insert(u.key, u.to_entry());
        }
    }
    for node in &n {
        prop_assert_eq!(&snapshot(node), &expected, "node {} differs", node.id());
        // The clock covers every version the node holds (a compacted, dominated write may be
        // unknown to some nodes, so "every accepted write" is not required).
        let max_held = expected.values().map(|e| e.version).max().unwrap_or(0);
        prop_assert!(node.version() >= max_held);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn lww_converges_under_faults(
        (nodes, ops, faults) in (2..=6usize).prop_flat_map(|n| (
            Just(n),
            prop::collection::vec(op(n), 1..60),
            prop::collection::vec(fault(n), 1..40),
        )),
        mtu in 1..5usize,
        depth in any::<bool>(),
    ) {
        check(LastWriterWins, nodes, mtu, depth, &ops, &faults)?;
    }

    #[test]
    fn strict_converges_under_faults(
        (nodes, ops, faults) in (2..=6usize).prop_flat_map(|n| (
            Just(n),
            prop::collection::vec(op(n), 1..60),
            prop::collection::vec(fault(n), 1..40),
        )),
        mtu in 1..5usize,
        depth in any::<bool>(),
    ) {
        check(StrictlyOrderedValues, nodes, mtu, depth, &ops, &faults)?;
    }
}
