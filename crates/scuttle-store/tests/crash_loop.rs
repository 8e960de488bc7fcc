//! The crash loop: a child process writes through the public API and prints each write's
//! number once `set` returned; the parent kills it with SIGKILL at a random moment and starts
//! it again on the same file, 200 times (`SCUTTLE_CRASH_ITERATIONS` for more). Afterwards
//! every write whose `set` returned is in the store, with its value, versions never
//! repeated, and a fresh peer converges with the node.
//!
//! The child is this same test binary, run again with `SCUTTLE_CRASH_CHILD` set (so no
//! extra binary is built).
#![allow(clippy::unwrap_used)] // tests may panic

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth, Versions};
use scuttle_sim::Pair;
use scuttle_store::RedbStore;

type Node = Gossip<String, String>;

const CHILD: &str = "SCUTTLE_CRASH_CHILD";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn open(path: &Path) -> Node {
    let config = Config::default().with_versions(Versions::Hybrid);
    Gossip::new("writer", config, LastWriterWins, ScuttleBreadth)
        .unwrap()
        .with_store(RedbStore::open(path, "writer").unwrap())
        .unwrap()
}

/// Key and value of write `n`: new keys, overwrites of older keys and deletes.
fn write(node: &mut Node, n: u64) {
    let key = format!("k{}", n % 50);
    if n % 7 == 3 {
        node.delete(now_ms(), key).unwrap();
    } else {
        node.set(now_ms(), key, format!("v{n}")).unwrap();
    }
}

/// The child: opens the store and writes from `SCUTTLE_CRASH_START` on, forever.
#[test]
fn child() {
    let Ok(path) = std::env::var(CHILD) else {
        return; // Not a child: nothing to do.
    };
    let start: u64 = std::env::var("SCUTTLE_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let mut node = open(Path::new(&path));
    let mut out = std::io::stdout().lock();
    writeln!(out, "open").unwrap();
    for n in start.. {
        write(&mut node, n);
        // `set` returned: the write is acknowledged.
        writeln!(out, "{n}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_write() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let iterations: usize = std::env::var("SCUTTLE_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("writer.redb");
    let me = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut next = 0u64;
    let mut killed_mid_run = 0;
    for _ in 0..iterations {
        let mut child = Command::new(&me)
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(CHILD, &path)
            .env("SCUTTLE_CRASH_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait until the store is open, then let it write for a random while.
        loop {
            match lines.next() {
                // The harness may print "test child ... " on the same line.
                Some(Ok(l)) if l.trim_end().ends_with("open") => break,
                Some(Ok(_)) => {}
                other => panic!("child failed to open the store: {other:?}"),
            }
        }
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..20_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Every number printed before the kill was acknowledged.
        let acked: Vec<u64> = lines
            .map_while(Result::ok)
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if let Some(last) = acked.last() {
            assert_eq!(acked.first().copied(), Some(next), "acks are in order");
            next = last + 1;
            killed_mid_run += 1;
        }
    }
    assert!(next > 100, "the children wrote only {next} times");
    assert!(killed_mid_run > iterations / 2);

    // What the acknowledged writes say each key must hold (the last write wins).
    let mut want: BTreeMap<String, Option<String>> = BTreeMap::new();
    for n in 0..next {
        let key = format!("k{}", n % 50);
        want.insert(key, (n % 7 != 3).then(|| format!("v{n}")));
    }
    let node = open(&path);
    for (key, value) in &want {
        let got = node.get(key.as_str()).map(|e| e.value.clone());
        // A write after the last acknowledged one may have landed (it was durable, but the
        // kill came before its ack was printed): then the key holds a later write, never an
        // earlier one.
        match (got, value) {
            (Some(got), want) if &got == want => {}
            (Some(Some(v)), _) if v[1..].parse::<u64>().unwrap() >= next => {}
            (Some(None), _) if next % 7 == 3 => {}
            (got, want) => panic!("{key}: want {want:?}, got {got:?}"),
        }
    }
    // Versions never repeat across the restarts.
    let mut versions: Vec<u64> = node.entries().map(|(_, e)| e.version).collect();
    let held = versions.len();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), held);
    assert!(node.version() >= *versions.last().unwrap());

    // A peer converges with it.
    let peer: Node = Gossip::new(
        "peer",
        Config::default().with_versions(Versions::Hybrid),
        LastWriterWins,
        ScuttleBreadth,
    )
    .unwrap();
    let mut pair = Pair::new(node, peer);
    pair.now = now_ms();
    pair.drive_bounded(100).unwrap();
    assert!(pair.identical());
    eprintln!("{iterations} kills, {next} acknowledged writes, {held} keys");
}
