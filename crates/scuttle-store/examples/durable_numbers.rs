//! The numbers of `docs/benchmarks.md` ("Durable nodes"): durable write throughput (fsync per
//! write and group commit), bytes on disk per key, and recovery time, each next to raw redb
//! doing the same inserts in the same run.
//!
//! `cargo run --release -p scuttle-store --example durable_numbers [-- KEYS]` (default
//! 1,000,000 keys for size and recovery).
#![allow(clippy::unwrap_used)] // a measurement program

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Instant;

use redb::{Database, ReadableDatabase, TableDefinition};
use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth, Versions};
use scuttle_store::{Durability, RedbStore};

type Node = Gossip<String, String>;

const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw");
const T: u64 = 1_700_000_000_000;

fn node(path: &Path, durability: Durability) -> Node {
    let store = RedbStore::open(path, "bench")
        .unwrap()
        .with_durability(durability);
    Gossip::new(
        "bench",
        Config::default().with_versions(Versions::Hybrid),
        LastWriterWins,
        ScuttleBreadth,
    )
    .unwrap()
    .with_store(store)
    .unwrap()
}

fn key(i: usize) -> String {
    format!("key-{i:08}")
}

fn value(i: usize) -> String {
    format!("value-{i:016}")
}

/// Writes per second through `set`.
fn scuttle_writes(dir: &Path, n: usize, durability: Durability) -> f64 {
    let path = dir.join(format!("s-{n}-{durability:?}.redb"));
    let mut g = node(&path, durability);
    let start = Instant::now();
    for i in 0..n {
        g.set(T, key(i), value(i)).unwrap();
    }
    g.flush().unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

/// Raw redb: one transaction per insert (or per `group` inserts), same keys and values.
fn raw_writes(dir: &Path, n: usize, group: usize) -> f64 {
    let path = dir.join(format!("r-{n}-{group}.redb"));
    let db = Database::create(&path).unwrap();
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let mut txn = db.begin_write().unwrap();
        let durable = group == 1 || (i / group + 1) * group >= n || (i + 1) % group == 0;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })
        .unwrap();
        {
            let mut t = txn.open_table(RAW).unwrap();
            t.insert(key(i).as_bytes(), value(i).as_bytes()).unwrap();
        }
        txn.commit().unwrap();
        i += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let keys: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let group = |n| Durability::Group(NonZeroUsize::new(n).unwrap());

    println!("| what | scuttle (RedbStore) | raw redb, same inserts | ratio |");
    println!("|---|---|---|---|");
    // Trials alternate between the two, and the medians are compared: fsync times on a
    // shared machine vary a lot from one second to the next.
    let trials = |label: &str, n: usize, commit: usize| {
        let (mut s, mut r) = (Vec::new(), Vec::new());
        for t in 0..7 {
            let sub = d.join(format!("{label}-{t}"));
            std::fs::create_dir(&sub).unwrap();
            let durability = if commit == 1 {
                Durability::Every
            } else {
                group(commit)
            };
            s.push(scuttle_writes(&sub, n, durability));
            r.push(raw_writes(&sub, n, commit));
        }
        let (s, r) = (median(s), median(r));
        println!(
            "| writes/s, {label} ({n} writes, median of 7) | {s:.0} | {r:.0} | {:.2}× |",
            s / r
        );
    };
    trials("fsync per write", 300, 1);
    trials("group commit of 100", 10_000, 100);

    // Size and recovery: `keys` keys loaded in batches of 10,000 per commit.
    let path = d.join("big.redb");
    {
        let mut g = node(&path, group(10_000));
        for i in 0..keys {
            g.set(T, key(i), value(i)).unwrap();
        }
        g.flush().unwrap();
    }
    let raw_path = d.join("big-raw.redb");
    {
        let db = Database::create(&raw_path).unwrap();
        for chunk in (0..keys).collect::<Vec<_>>().chunks(10_000) {
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(RAW).unwrap();
                for &i in chunk {
                    t.insert(key(i).as_bytes(), value(i).as_bytes()).unwrap();
                }
            }
            txn.commit().unwrap();
        }
    }
    let size = std::fs::metadata(&path).unwrap().len() as f64 / keys as f64;
    let raw_size = std::fs::metadata(&raw_path).unwrap().len() as f64 / keys as f64;
    println!(
        "| bytes on disk per key ({keys} keys, 12 B key + 22 B value) | {size:.1} | {raw_size:.1} | {:.2}× |",
        size / raw_size
    );
    let start = Instant::now();
    let g = node(&path, Durability::Every);
    let recovery = start.elapsed().as_secs_f64();
    assert_eq!(g.len(), keys);
    let start = Instant::now();
    let db = redb::Builder::new()
        .set_check_integrity_on_open(true)
        .create(&raw_path)
        .unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn.open_table(RAW).unwrap();
    let mut n = 0;
    for row in redb::ReadableTable::iter(&t).unwrap() {
        let (k, v) = row.unwrap();
        std::hint::black_box((k.value(), v.value()));
        n += 1;
    }
    let raw_recovery = start.elapsed().as_secs_f64();
    assert_eq!(n, keys);
    println!(
        "| recovery: open + load {keys} keys (s) | {recovery:.2} | {raw_recovery:.2} (open + read all) | {:.2}× |",
        recovery / raw_recovery
    );
}
