//! Seeded fault schedules: after healing and fault-free rounds every replica must equal the
//! resolver maximum of the write log, and no message may exceed its sender's
//! `max_message_bytes`.
//!
//! Replay one failing schedule with `SCUTTLE_SIM_SEED=<seed> cargo test --release -p
//! scuttle-sim --test faults` (the seed's suite runs it alone and prints its parameters).
#![allow(clippy::unwrap_used)] // tests may panic
use std::cmp::Ordering;
use std::fmt::Display;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use scuttle_core::{
    Config, Gossip, LastWriterWins, LastWriterWinsClock, Resolver, ScuttleBreadth, ScuttleDepth,
    Sorter, StrictlyOrderedValues, Update, Versions,
};
use scuttle_sim::{lww_clock_order, lww_order, strict_order, Faults, Sim};

type K = u8;
type V = u16;

/// What one seed draws.
#[derive(Debug, Clone, Copy)]
struct Params {
    nodes: usize,
    mtu: usize,
    max_history: usize,
    max_message_bytes: usize,
    digest_hashes: bool,
    keys: u8,
    actions: usize,
    faults: Faults,
    restarts: Restarts,
    hybrid: bool,
}

/// How a crashed node comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restarts {
    /// With the state it had (a pause, not a crash).
    Paused,
    /// Half the time from a snapshot of its entries.
    Snapshots,
    /// From its store: what it persisted, nothing it only held in memory.
    Stores,
}

impl Params {
    fn draw(seed: u64, restarts: Restarts) -> Self {
        let mut r = SmallRng::seed_from_u64(seed ^ 0x5eed_5eed);
        Params {
            nodes: r.gen_range(2..=20),
            mtu: r.gen_range(1..=10),
            max_history: r.gen_range(0..=10),
            // Half the schedules cut news by bytes too.
            max_message_bytes: if r.gen_bool(0.5) {
                r.gen_range(150..=2_000)
            } else {
                Config::default().max_message_bytes
            },
            digest_hashes: r.gen_bool(0.8),
            keys: r.gen_range(1..=12),
            actions: r.gen_range(5..=120),
            faults: Faults {
                drop: r.gen_range(0.0..0.3),
                duplicate: r.gen_range(0.0..0.2),
                delay: r.gen_range(0.0..0.3),
                max_delay: r.gen_range(1..=8),
                misdeliver: r.gen_range(0.0..0.1),
            },
            hybrid: restarts == Restarts::Stores && r.gen_bool(0.5),
            restarts,
        }
    }
}

/// Runs one schedule; `Err` says what went wrong.
fn run<R, S>(
    seed: u64,
    p: Params,
    resolver: R,
    sorter: S,
    order: fn(&Update<K, V>, &Update<K, V>) -> Ordering,
) -> Result<Totals, String>
where
    R: Resolver<K, V> + Clone + 'static,
    R::Error: Display,
    S: Sorter<K, V> + Clone + 'static,
{
    let config = Config::default()
        .with_mtu(p.mtu)
        .with_max_history(p.max_history)
        .with_max_message_bytes(p.max_message_bytes)
        .with_digest_hashes(p.digest_hashes)
        .with_tombstone_grace(None)
        .with_versions(if p.hybrid {
            Versions::Hybrid
        } else {
            Versions::Counter
        })
        .with_events(false);
    let mut sim = Sim::new(p.nodes, seed, p.faults, move |id| {
        Gossip::new(id, config.clone(), resolver.clone(), sorter.clone()).expect("valid config")
    });
    if p.restarts == Restarts::Stores {
        sim = sim.with_stores();
    }
    let e = |e: scuttle_sim::SimError| e.to_string();
    for _ in 0..p.actions {
        let n = sim.len();
        let i = sim.rng().gen_range(0..n);
        let key = sim.rng().gen_range(0..p.keys);
        match sim.rng().gen_range(0..100) {
            0..=29 => {
                let value = sim.rng().gen_range(0..1000);
                let _ = sim.set(i, key, value); // refused writes (node down, resolver) are fine
            }
            30..=37 => {
                let _ = sim.delete(i, key);
            }
            38..=59 => sim.gossip_round(),
            60..=74 => {
                let j = sim.rng().gen_range(0..n);
                sim.gossip(i, j);
            }
            75..=84 => {
                let steps = sim.rng().gen_range(1..=6);
                sim.drive(steps).map_err(e)?;
            }
            85..=88 => {
                let sides = sim.rng().gen_range(2..=3);
                sim.partition_random(sides);
            }
            89..=91 => sim.heal(),
            92..=95 => sim.crash(i),
            _ => match p.restarts {
                Restarts::Snapshots if sim.rng().gen_bool(0.5) => sim.restart_from_snapshot(i),
                Restarts::Stores => sim.restart_from_store(i),
                _ => sim.restart(i),
            },
        }
    }
    // Heal everything, then fault-free rounds.
    sim.recover();
    sim.settle(2_000).map_err(e)?;
    sim.check_converged(order).map_err(e)?;
    let net = sim.stats();
    if net.largest > p.max_message_bytes as u64 {
        return Err(format!(
            "a message of {} bytes exceeds max_message_bytes = {}",
            net.largest, p.max_message_bytes
        ));
    }
    Ok(Totals {
        writes: sim.writes().iter().filter(|w| w.value.is_some()).count() as u64,
        deletes: sim.writes().iter().filter(|w| w.value.is_none()).count() as u64,
        dropped: net.dropped,
        duplicated: net.duplicated,
        delayed: net.delayed,
        misdelivered: net.misdelivered,
    })
}

/// What the schedules of a suite did, to check that the faults really happened.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    writes: u64,
    deletes: u64,
    dropped: u64,
    duplicated: u64,
    delayed: u64,
    misdelivered: u64,
}

/// Runs `count` seeds from `base` (or only `SCUTTLE_SIM_SEED`), panicking with every failing
/// seed and its parameters.
fn suite(
    name: &str,
    base: u64,
    count: u64,
    restarts: Restarts,
    one: impl Fn(u64, Params) -> Result<Totals, String>,
) {
    let mut sum = Totals::default();
    let replay = std::env::var("SCUTTLE_SIM_SEED").is_ok();
    let seeds: Vec<u64> = match std::env::var("SCUTTLE_SIM_SEED") {
        Ok(s) => {
            let seed: u64 = s.parse().expect("SCUTTLE_SIM_SEED must be a u64");
            if seed < base || seed >= base + count {
                return; // belongs to another suite
            }
            vec![seed]
        }
        Err(_) => (base..base + count).collect(),
    };
    let mut failures = Vec::new();
    for seed in seeds {
        let p = Params::draw(seed, restarts);
        match one(seed, p) {
            Ok(t) => {
                sum.writes += t.writes;
                sum.deletes += t.deletes;
                sum.dropped += t.dropped;
                sum.duplicated += t.duplicated;
                sum.delayed += t.delayed;
                sum.misdelivered += t.misdelivered;
            }
            Err(err) => {
                eprintln!(
                    "FAILED {name} seed={seed} (replay: SCUTTLE_SIM_SEED={seed}) {p:?}: {err}"
                );
                failures.push(seed);
            }
        }
    }
    assert!(failures.is_empty(), "{name}: failing seeds {failures:?}");
    if !replay {
        eprintln!("{name}: {sum:?}");
        // The schedules really wrote, deleted and suffered every kind of fault.
        assert!(sum.writes > 0 && sum.deletes > 0, "{name}: {sum:?}");
        assert!(sum.dropped > 0 && sum.duplicated > 0, "{name}: {sum:?}");
        assert!(sum.delayed > 0 && sum.misdelivered > 0, "{name}: {sum:?}");
    }
}

const PER_SUITE: u64 = 1_250;

#[test]
fn lww_breadth() {
    suite("lww_breadth", 0, PER_SUITE, Restarts::Snapshots, |s, p| {
        run(s, p, LastWriterWins, ScuttleBreadth, lww_order)
    });
}

#[test]
fn lww_depth() {
    suite(
        "lww_depth",
        10_000,
        PER_SUITE,
        Restarts::Snapshots,
        |s, p| run(s, p, LastWriterWins, ScuttleDepth, lww_order),
    );
}

#[test]
fn lww_breadth_more() {
    suite(
        "lww_breadth_more",
        20_000,
        PER_SUITE,
        Restarts::Paused,
        |s, p| run(s, p, LastWriterWins, ScuttleBreadth, lww_order),
    );
}

#[test]
fn lww_depth_more() {
    suite(
        "lww_depth_more",
        30_000,
        PER_SUITE,
        Restarts::Paused,
        |s, p| run(s, p, LastWriterWins, ScuttleDepth, lww_order),
    );
}

#[test]
fn strict_breadth() {
    suite(
        "strict_breadth",
        40_000,
        PER_SUITE,
        Restarts::Paused,
        |s, p| run(s, p, StrictlyOrderedValues, ScuttleBreadth, strict_order),
    );
}

#[test]
fn strict_depth() {
    suite(
        "strict_depth",
        50_000,
        PER_SUITE,
        Restarts::Paused,
        |s, p| run(s, p, StrictlyOrderedValues, ScuttleDepth, strict_order),
    );
}

#[test]
fn lww_depth_snapshots() {
    suite(
        "lww_depth_snapshots",
        60_000,
        PER_SUITE,
        Restarts::Snapshots,
        |s, p| run(s, p, LastWriterWins, ScuttleDepth, lww_order),
    );
}

#[test]
fn lww_breadth_snapshots() {
    suite(
        "lww_breadth_snapshots",
        70_000,
        PER_SUITE,
        Restarts::Snapshots,
        |s, p| run(s, p, LastWriterWins, ScuttleBreadth, lww_order),
    );
}

/// Crashed nodes come back from their stores (half the schedules with hybrid-clock
/// versions), under every built-in resolver.
const STORE_SUITE: u64 = 400;

#[test]
fn lww_breadth_stores() {
    suite(
        "lww_breadth_stores",
        80_000,
        STORE_SUITE,
        Restarts::Stores,
        |s, p| run(s, p, LastWriterWins, ScuttleBreadth, lww_order),
    );
}

#[test]
fn strict_depth_stores() {
    suite(
        "strict_depth_stores",
        90_000,
        STORE_SUITE,
        Restarts::Stores,
        |s, p| run(s, p, StrictlyOrderedValues, ScuttleDepth, strict_order),
    );
}

#[test]
fn lww_clock_breadth_stores() {
    suite(
        "lww_clock_breadth_stores",
        100_000,
        STORE_SUITE,
        Restarts::Stores,
        |s, p| run(s, p, LastWriterWinsClock, ScuttleBreadth, lww_clock_order),
    );
}

/// The suites above cover at least 10,000 schedules, 1,200 of them restarting from stores.
#[test]
fn suites_cover_ten_thousand_schedules() {
    const { assert!(PER_SUITE * 8 >= 10_000 && STORE_SUITE * 3 >= 1_200) };
}

/// The check can fail: judging last-writer-wins replicas by the wrong order finds divergence.
#[test]
fn wrong_oracle_is_caught() {
    let caught = (0..50).any(|seed| {
        let p = Params::draw(seed, Restarts::Paused);
        run(seed, p, LastWriterWins, ScuttleDepth, strict_order).is_err()
    });
    assert!(caught);
}

/// The check can fail on a real divergence too: a resolver that is not a total order on
/// updates ("accept if the value is greater", no tie-break) leaves replicas apart or wrong.
#[test]
fn non_total_resolver_is_caught() {
    let greater = |cur: Option<&scuttle_core::Entry<V>>, up: &Update<K, V>| {
        cur.is_none_or(|c| up.value > c.value)
    };
    let caught = (0..200).any(|seed| {
        let mut p = Params::draw(seed, Restarts::Paused);
        p.keys = 1; // many conflicting writes of one key
        run(seed, p, greater, ScuttleDepth, strict_order).is_err()
    });
    assert!(caught);
}

/// Regression: hybrid-clock versions take 9 bytes, so 20 sources' digest no longer fit 213
/// bytes and was cut — always at the same place, so the sources left out stalled for good.
/// Cuts now rotate.
#[test]
fn cut_digests_rotate() {
    let mut p = Params::draw(80166, Restarts::Paused);
    assert!(!p.hybrid && p.max_message_bytes < 250 && p.nodes == 20);
    p.hybrid = true;
    run(80166, p, LastWriterWins, ScuttleBreadth, lww_order).unwrap();
}
