//! Core bugs found while porting the simulator to protocol v2, kept as regression tests. The
//! last one is a known limitation of resets, `#[ignore]`d until resets are replaced (the
//! "Hostile peers" issue's safe catch-up after tombstone collection):
//!
//! `cargo test --release -p scuttle-gossip-sim --test regressions -- --ignored`
#![allow(clippy::unwrap_used)] // tests may panic

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scuttle_core::wire::message_len;
use scuttle_core::{
    Collection, Config, DynSorter, Entry, Gossip, LastWriterWins, NodeId, ScuttleBreadth,
    ScuttleDepth,
};
use scuttle_sim::{expected_state, lww_order, node_id, Faults, Sim, SimError};

/// `Config::max_message_bytes` promises that no message exceeds it, but a full digest is
/// never cut: a node that knows 40 sources opens an exchange with a `Syn` above a 200-byte
/// budget, which a transport's `FrameCodec::new(max_message_bytes)` then refuses.
#[test]
fn a_syn_fits_max_message_bytes_whatever_the_number_of_sources() {
    let entries = (0..40u32).map(|i| {
        let entry = Entry {
            value: Some(1u8),
            version: 1,
            source_id: NodeId::new(format!("n{i:02}")),
            timestamp: 0,
            signature: None,
        };
        (i, entry)
    });
    let config = Config::default().with_max_message_bytes(200);
    let node: Gossip<u32, u8> = Gossip::new("a", config, LastWriterWins, ScuttleBreadth)
        .unwrap()
        .with_state(entries);
    let syn = node.start_exchange();
    assert!(
        message_len(&syn) <= 200,
        "Syn of {} bytes > max_message_bytes = 200",
        message_len(&syn)
    );
}

/// A reset merges the sender's entries through the resolver even when the receiver has
/// already passed their version (here: seen the key's delete and collected its tombstone).
/// n01 gets `k = v` back from n02's reset, while n00 and n02 (after n01's reset) do not hold
/// it; all three digests are then equal, so no exchange ever repairs it.
#[test]
fn a_reset_does_not_bring_back_a_collected_delete() {
    let mut sim = Sim::new(3, 1, Faults::none(), |id| {
        let config = Config::default().with_tombstone_grace(Some(Duration::from_secs(10)));
        Gossip::<String, String>::new(id, config, LastWriterWins, ScuttleBreadth).unwrap()
    });
    let exchange = |sim: &mut Sim<_, _, _, _>, a, b| {
        sim.gossip(a, b);
        sim.run_until_quiet(10).unwrap();
    };
    sim.set(0, "k".into(), "v".into()).unwrap();
    exchange(&mut sim, 0, 1);
    exchange(&mut sim, 0, 2); // everyone holds k = v
    sim.delete(0, "k".into()).unwrap();
    exchange(&mut sim, 0, 1); // n01 learns the delete, n02 does not
    sim.set(2, "j".into(), "x".into()).unwrap();
    sim.delete(2, "j".into()).unwrap();
    sim.advance(60_000); // n00, n01 collect k's tombstone; n02 collects j's
    exchange(&mut sim, 1, 2); // n02 answers n01 with a reset that still holds k = v
    assert_eq!(
        sim.node(1).get("k"),
        None,
        "n01 had seen and collected k's delete"
    );
    sim.settle(100).unwrap();
}

/// One schedule of the fault suite with tombstone collection on (grace 50 ms – 2 s, the
/// network steps 10 ms): after healing and fault-free rounds the replicas must be identical,
/// and every key whose last write is a value must hold it. Returns whether a deleted key
/// came back (reported, not failed: a partition longer than the grace period can do that).
/// Returns whether a deleted key came back, and how many tombstones were collected.
fn tombstone_schedule(seed: u64, collection: Collection) -> Result<(bool, u64), String> {
    let mut r = SmallRng::seed_from_u64(seed);
    let nodes = r.gen_range(2..=10);
    let depth = r.gen_bool(0.5);
    let config = Config::default()
        .with_collection(collection)
        .with_mtu(r.gen_range(1..=10))
        .with_max_history(r.gen_range(0..=10))
        .with_tombstone_grace(Some(Duration::from_millis(r.gen_range(50..=2_000))))
        .with_events(false);
    let faults = Faults {
        drop: r.gen_range(0.0..0.3),
        duplicate: r.gen_range(0.0..0.2),
        delay: r.gen_range(0.0..0.3),
        max_delay: r.gen_range(1..=8),
        misdeliver: r.gen_range(0.0..0.1),
    };
    let mut sim = Sim::new(nodes, seed, faults, move |id| {
        let sorter: DynSorter<u8, u16> = if depth {
            Box::new(ScuttleDepth)
        } else {
            Box::new(ScuttleBreadth)
        };
        let mut node = Gossip::new(id, config.clone(), LastWriterWins, sorter).unwrap();
        // Membership: every node of the simulation, always (a crashed node is still a
        // member, so collection waits for it).
        node.set_members((0..nodes).map(node_id));
        node
    });
    let e = |e: SimError| e.to_string();
    for _ in 0..r.gen_range(5..150) {
        let n = sim.len();
        let i = sim.rng().gen_range(0..n);
        let key = sim.rng().gen_range(0..6u8);
        match sim.rng().gen_range(0..100) {
            0..=29 => {
                let value = sim.rng().gen_range(0..1_000);
                let _ = sim.set(i, key, value);
            }
            30..=44 => {
                let _ = sim.delete(i, key);
            }
            45..=64 => sim.gossip_round(),
            65..=74 => {
                let j = sim.rng().gen_range(0..n);
                sim.gossip(i, j);
            }
            75..=86 => {
                let steps = sim.rng().gen_range(1..=30);
                sim.drive(steps).map_err(e)?;
            }
            87..=90 => {
                let sides = sim.rng().gen_range(2..=3);
                sim.partition_random(sides);
            }
            91..=93 => sim.heal(),
            94..=96 => sim.crash(i),
            _ => sim.restart(i),
        }
    }
    sim.recover();
    if let Err(err) = sim.settle(2_000) {
        if std::env::var("SCUTTLE_DEBUG").is_ok() {
            for i in 0..sim.len() {
                let marks: Vec<_> = sim
                    .node(i)
                    .watermarks()
                    .map(|(s, v)| format!("{s}:{v}"))
                    .collect();
                eprintln!("node {i}: {:?} marks {marks:?}", sim.snapshot(i));
            }
            for w in sim.writes().iter().filter(|w| w.key == 1) {
                eprintln!("write {w:?}");
            }
        }
        return Err(e(err));
    }
    let want = expected_state(sim.writes(), lww_order);
    let got = sim.snapshot(0);
    let mut resurrected = false;
    for (k, w) in &want {
        match (&w.value, got.get(k)) {
            (Some(_), g) if g != Some(w) => return Err(format!("key {k}: want {w:?}, got {g:?}")),
            (None, Some(g)) if g.value.is_some() => resurrected = true,
            _ => {}
        }
    }
    let collected = (0..sim.len())
        .map(|i| sim.node(i).stats().tombstones_collected)
        .sum();
    Ok((resurrected, collected))
}

/// With tombstone collection on, some schedules end with every digest equal but different
/// entries (the node that lacks an entry has already passed its version), so the replicas
/// never converge. About 5 % of these seeds fail with the core of this commit; with
/// `a_reset_does_not_bring_back_a_collected_delete` fixed (reset entries at or below the
/// receiver's watermark skipped), about 1 % still do: a reset cannot remove a losing write its
/// sender never saw, once the winning delete is collected.
#[test]
#[ignore = "known limit of Collection::AfterGrace: replicas can stay apart for good; use Covered"]
fn tombstone_collection_under_faults_converges() {
    let mut failures = Vec::new();
    let mut resurrections = 0;
    for seed in 0..3_000 {
        match tombstone_schedule(seed, Collection::AfterGrace) {
            Ok((resurrected, _)) => resurrections += u32::from(resurrected),
            Err(err) => failures.push((seed, err)),
        }
    }
    eprintln!(
        "{} failing seeds, {resurrections} with a deleted key back",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{:?}",
        &failures[..failures.len().min(5)]
    );
}

/// The same schedules with `Collection::Covered` (a tombstone collected only once every
/// member's own digest holds it, no resets): every schedule converges, and no deleted key
/// ever comes back.
#[test]
fn covered_collection_under_faults_converges_and_resurrects_nothing() {
    let mut failures = Vec::new();
    let mut resurrections = 0;
    let mut collected = 0;
    let seeds: Vec<u64> = match std::env::var("SCUTTLE_SIM_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (0..3_000).collect(),
    };
    for seed in seeds {
        match tombstone_schedule(seed, Collection::Covered) {
            Ok((resurrected, n)) => {
                resurrections += u32::from(resurrected);
                collected += n;
            }
            Err(err) => failures.push((seed, err)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing seeds: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(resurrections, 0, "deleted keys came back");
    assert!(collected > 1_000, "only {collected} tombstones collected");
    eprintln!("{collected} tombstones collected");
}
