//! Properties over random writes and a faulty network (the simulator):
//!
//! * whatever the writes and however single messages are lost, duplicated, delayed (so
//!   reordered) or delivered to the wrong node, once exchanges run fault-free every replica
//!   holds the same state, and that state is the resolver's maximum of all accepted writes;
//! * no message ever exceeds its sender's `max_message_bytes`, and no run of news skips a
//!   version its sender holds;
//! * nodes with different `mtu` converge together.
#![allow(clippy::unwrap_used)] // tests may panic

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::rc::Rc;

use proptest::prelude::*;
use scuttle_core::wire::message_len;
use scuttle_core::{
    Config, DynSorter, Entry, Gossip, LastWriterWins, Message, News, Resolver, ScuttleBreadth,
    ScuttleDepth, StrictlyOrderedValues, Update,
};
use scuttle_sim::{lww_order, Faults, Sim};

#[derive(Clone, Debug)]
enum Op {
    Set {
        node: usize,
        key: u8,
        value: i8,
    },
    Delete {
        node: usize,
        key: u8,
    },
    /// Node `a` starts an exchange with node `b`, then the network takes `steps` steps (so
    /// exchanges overlap when it is small).
    Exchange {
        a: usize,
        b: usize,
        steps: u64,
    },
}

fn op(nodes: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..nodes, 0..4u8, -3..4i8).prop_map(|(node, key, value)| Op::Set { node, key, value }),
        1 => (0..nodes, 0..4u8).prop_map(|(node, key)| Op::Delete { node, key }),
        4 => (0..nodes, 0..nodes, 0..4u64).prop_map(|(a, b, steps)| Op::Exchange { a, b, steps }),
    ]
}

fn faults() -> impl Strategy<Value = Faults> {
    (0.0..0.3, 0.0..0.3, 0.0..0.3, 1..6u64, 0.0..0.2).prop_map(
        |(drop, duplicate, delay, max_delay, misdeliver)| Faults {
            drop,
            duplicate,
            delay,
            max_delay,
            misdeliver,
        },
    )
}

fn sorter<K, V>(depth: bool) -> DynSorter<K, V> {
    if depth {
        Box::new(ScuttleDepth)
    } else {
        Box::new(ScuttleBreadth)
    }
}

/// Runs the ops over a faulty network, then settles fault-free and checks the outcome.
fn check<R>(
    resolver: R,
    nodes: usize,
    mtu: usize,
    depth: bool,
    seed: u64,
    faults: Faults,
    ops: &[Op],
) -> Result<(), TestCaseError>
where
    R: Resolver<u8, i8> + Clone + 'static,
    R::Error: Display,
{
    let config = Config::default()
        .with_mtu(mtu)
        .with_max_history(3)
        .with_tombstone_grace(None);
    let r = resolver.clone();
    let mut sim = Sim::new(nodes, seed, faults, move |id| {
        Gossip::new(id, config.clone(), r.clone(), sorter(depth)).expect("valid config")
    });
    for op in ops {
        match *op {
            Op::Set { node, key, value } => {
                if let Ok(version) = sim.set(node, key, value) {
                    prop_assert_eq!(sim.writes().last().map(|w| w.version), Some(version));
                }
            }
            Op::Delete { node, key } => {
                let _ = sim.delete(node, key);
            }
            Op::Exchange { a, b, steps } => {
                sim.gossip(a, b);
                sim.drive(steps).map_err(fail)?;
            }
        }
    }
    // Leftover delayed messages arrive after everything else, still faulty.
    sim.run_until_quiet(1_000).map_err(fail)?;
    sim.set_faults(Faults::none());
    sim.settle(200).map_err(fail)?;

    // The expected state: the resolver's maximum over all accepted writes, per key, ...
    let mut expected: BTreeMap<u8, Entry<i8>> = BTreeMap::new();
    for u in sim.writes() {
        let accepted = resolver
            .accept(expected.get(&u.key), u)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        if accepted {
            expected.insert(u.key, u.to_entry());
        }
    }
    for i in 0..nodes {
        prop_assert_eq!(&sim.snapshot(i), &expected, "node {} differs", i);
        // The version covers every version the node holds (a compacted, dominated write may
        // be unknown to some nodes, so "every accepted write" is not required).
        let max_held = expected.values().map(|e| e.version).max().unwrap_or(0);
        prop_assert!(sim.node(i).version() >= max_held);
    }
    Ok(())
}

fn fail(e: scuttle_sim::SimError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn lww_converges_under_faults(
        (nodes, ops) in (2..=6usize).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 1..60))),
        faults in faults(),
        seed in any::<u64>(),
        mtu in 1..5usize,
        depth in any::<bool>(),
    ) {
        check(LastWriterWins, nodes, mtu, depth, seed, faults, &ops)?;
    }

    #[test]
    fn strict_converges_under_faults(
        (nodes, ops) in (2..=6usize).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 1..60))),
        faults in faults(),
        seed in any::<u64>(),
        mtu in 1..5usize,
        depth in any::<bool>(),
    ) {
        check(StrictlyOrderedValues, nodes, mtu, depth, seed, faults, &ops)?;
    }
}

// ------------------------------------------------------------ byte budget, no skipped version

/// A write of a value of `len` bytes.
#[derive(Clone, Debug)]
struct Write {
    node: usize,
    key: u16,
    len: usize,
}

type BudgetSim = Sim<u16, String, LastWriterWins, DynSorter<u16, String>>;

/// What the observer found wrong, if anything.
type Findings = Rc<RefCell<Vec<String>>>;

/// What is wrong with `msg` as `sender` just sent it: a size above the sender's budget, or a
/// run of news that leaves out an update the sender holds between the run's `prev` and its
/// last version.
fn problems<R, S>(sender: &Gossip<u16, String, R, S>, msg: &Message<u16, String>) -> Vec<String>
where
    R: Resolver<u16, String>,
    S: scuttle_core::Sorter<u16, String>,
{
    let mut found = Vec::new();
    let len = message_len(msg);
    let max = sender.config().max_message_bytes;
    if len > max {
        found.push(format!("{len} bytes > max_message_bytes = {max}"));
    }
    let Some(News::Updates(runs)) = msg.news() else {
        return found;
    };
    for run in runs {
        let Some(last) = run.updates.last().map(|u| u.version) else {
            continue;
        };
        let sent: Vec<u64> = run.updates.iter().map(|u| u.version).collect();
        let held: Vec<u64> = sender
            .news(run.source.as_str(), run.prev.unwrap_or(0))
            .map(|u| u.version)
            .take_while(|&v| v <= last)
            .collect();
        if let Some(skipped) = held.iter().find(|v| !sent.contains(v)) {
            found.push(format!(
                "run of {} skips version {skipped}: sent {sent:?}, held {held:?}",
                run.source
            ));
        }
    }
    found
}

/// Checks every message as the simulator sends it.
fn watch(sim: &mut BudgetSim) -> Findings {
    let findings: Findings = Rc::default();
    let out = findings.clone();
    sim.observe(move |sender, from, to, msg| {
        for p in problems(sender, msg) {
            out.borrow_mut().push(format!("{from}->{to}: {p}"));
        }
    });
    findings
}

fn budget_sim(nodes: usize, budget: usize, mtu: usize, depth: bool, seed: u64) -> BudgetSim {
    let faults = Faults {
        drop: 0.1,
        duplicate: 0.1,
        delay: 0.2,
        max_delay: 3,
        misdeliver: 0.05,
    };
    Sim::new(nodes, seed, faults, move |id| {
        let config = Config::default()
            .with_mtu(mtu)
            .with_max_message_bytes(budget)
            .with_max_history(4)
            .with_tombstone_grace(None);
        Gossip::new(id, config, LastWriterWins, sorter(depth)).expect("valid config")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Small budgets and values of random sizes (some too large to ever fit, which `set`
    /// refuses): no message exceeds `max_message_bytes`, no run skips a version, and the
    /// cluster still converges.
    #[test]
    fn no_message_exceeds_the_budget_and_no_version_is_skipped(
        (nodes, writes) in (2..=5usize).prop_flat_map(|n| (
            Just(n),
            prop::collection::vec(
                (0..n, 0..12u16, 0..400usize).prop_map(|(node, key, len)| Write { node, key, len }),
                1..50,
            ),
        )),
        budget in 200..=2_000usize,
        mtu in prop_oneof![Just(usize::MAX), 1..8usize],
        depth in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut sim = budget_sim(nodes, budget, mtu, depth, seed);
        let findings = watch(&mut sim);
        let mut refused = 0;
        for (i, w) in writes.iter().enumerate() {
            let value = char::from(b'a' + (i % 26) as u8).to_string().repeat(w.len);
            if sim.set(w.node, w.key, value).is_err() {
                refused += 1;
            }
            if i % 3 == 0 {
                sim.gossip_round();
                sim.drive(2).map_err(fail)?;
            }
        }
        prop_assert_eq!(sim.writes().len() + refused, writes.len());
        sim.run_until_quiet(1_000).map_err(fail)?;
        sim.set_faults(Faults::none());
        sim.settle(500).map_err(fail)?;
        sim.check_converged(lww_order).map_err(fail)?;
        prop_assert!(findings.borrow().is_empty(), "{:?}", findings.borrow());
        prop_assert!(sim.stats().largest <= budget as u64);
    }
}

/// The checks above can fail: a run with a hole and an oversize message are reported.
#[test]
fn a_skipped_version_and_an_oversize_message_would_be_found() {
    let config = Config::default().with_max_message_bytes(500);
    let mut node: Gossip<u16, String> =
        Gossip::new("n00", config, LastWriterWins, ScuttleBreadth).unwrap();
    for k in 0..3 {
        node.set(1, k, "v".into()).unwrap();
    }
    // What the node answers a peer that holds nothing is fine ...
    let syn_ack = node
        .handle_message(
            0,
            Message::Syn {
                digest: scuttle_core::Digest::Full(Vec::new()),
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(problems(&node, &syn_ack), Vec::<String>::new());
    // ... but not with version 2 cut out, nor with a value far above the budget.
    let Message::SynAck {
        news: News::Updates(mut runs),
        digest,
    } = syn_ack
    else {
        panic!("expected news");
    };
    assert_eq!(runs[0].updates.len(), 3);
    runs[0].updates.retain(|u| u.version != 2);
    let holed = Message::SynAck {
        news: News::Updates(runs.clone()),
        digest,
    };
    let found = problems(&node, &holed);
    assert!(
        found.len() == 1 && found[0].contains("skips version 2"),
        "{found:?}"
    );
    runs[0].updates[0].value = Some("x".repeat(1_000));
    let big = Message::Ack {
        news: News::Updates(runs),
    };
    assert!(problems(&node, &big)
        .iter()
        .any(|p| p.contains("max_message_bytes")));
}

// ------------------------------------------------------------ mixed mtu

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Every node has its own `mtu` (1..20): peers never refuse more news than their own mtu,
    /// and the cluster converges.
    #[test]
    fn nodes_with_different_mtu_converge(
        mtus in prop::collection::vec(1..20usize, 2..=7),
        writes in prop::collection::vec((0..7usize, 0..30u16, any::<u16>()), 1..80),
        depth in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let n = mtus.len();
        let by_id: BTreeMap<String, usize> = mtus
            .iter()
            .enumerate()
            .map(|(i, &m)| (scuttle_sim::node_id(i).to_string(), m))
            .collect();
        let mut sim = Sim::new(n, seed, Faults::none(), move |id| {
            let mtu = by_id.get(id.as_str()).copied().unwrap_or(1);
            let config = Config::default().with_mtu(mtu).with_tombstone_grace(None);
            Gossip::<u16, u16, _, _>::new(id, config, LastWriterWins, sorter(depth))
                .expect("valid config")
        });
        // Every message carries at most its sender's mtu updates (and is counted).
        let over_mtu: Rc<RefCell<(Vec<String>, u64)>> = Rc::default();
        let out = over_mtu.clone();
        sim.observe(move |sender, from, to, msg| {
            let news = msg.news().map_or(0, |n| n.len());
            let mut out = out.borrow_mut();
            out.1 += 1;
            if news > sender.config().mtu {
                out.0.push(format!("{from}->{to}: {news} > {}", sender.config().mtu));
            }
        });
        for (i, &(node, key, value)) in writes.iter().enumerate() {
            sim.set(node % n, key, value).map_err(fail)?;
            if i % 5 == 0 {
                sim.gossip_round();
                sim.run_until_quiet(100).map_err(fail)?;
            }
        }
        sim.settle(1_000).map_err(fail)?;
        sim.check_converged(lww_order).map_err(fail)?;
        let over = over_mtu.borrow();
        prop_assert!(over.0.is_empty(), "a message above its sender's mtu: {:?}", over.0);
        prop_assert_eq!(sim.stats().messages, over.1);
    }
}

/// What `check` computes as the expected state is the resolver maximum: a direct case.
#[test]
fn expected_state_is_the_resolver_maximum() {
    let w = |value, version, source: &str| Update {
        key: 0u8,
        value,
        source_id: source.into(),
        version,
        timestamp: 0,
        signature: None,
    };
    let writes = [
        w(Some(1i8), 1, "n00"),
        w(Some(-1), 2, "n01"),
        w(None, 2, "n00"),
    ];
    let lww = scuttle_sim::expected_state(&writes, lww_order);
    assert_eq!(lww[&0].value, Some(-1), "(2, n01) beats (2, n00)");
    let strict = scuttle_sim::expected_state(&writes, scuttle_sim::strict_order);
    assert_eq!(strict[&0].value, Some(1));
}
