//! Memory per stored key: a node holding 1,000,000 keys, against a plain `HashMap` of the same
//! pairs (the lower bound). The node either wrote the keys itself or received them from a peer
//! through real exchanges (`scuttle-sim`'s `Pair`).
//!
//! ```text
//! cargo run --release -p scuttle-gossip --example memory            # 1,000,000 keys
//! cargo run --release -p scuttle-gossip --example memory -- 100000  # another count
//! ```
//!
//! Two measures per structure: heap bytes requested (a counting global allocator, exact and
//! independent of the allocator's rounding) and the growth of the resident set (RSS, from
//! `/proc/self/statm` on Linux; what the process really costs, allocator overhead included).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use scuttle::core::{LastWriterWins, ScuttleBreadth};
use scuttle::{Config, Gossip, Millis};
use scuttle_sim::Pair;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
            ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Resident set size in bytes (Linux), or 0 where `/proc/self/statm` is missing.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn key(i: usize) -> String {
    format!("key-{i:07}")
}

fn value(i: usize) -> String {
    format!("value-{i:07}")
}

/// Heap and RSS growth while `build` makes a structure (kept alive until both are read).
fn measure<T>(label: &str, n: usize, build: impl FnOnce() -> T) -> (f64, f64) {
    let (heap0, rss0) = (ALLOCATED.load(Ordering::Relaxed), rss());
    let kept = build();
    let (heap1, rss1) = (ALLOCATED.load(Ordering::Relaxed), rss());
    black_box(&kept);
    drop(kept);
    let heap = heap1.saturating_sub(heap0) as f64 / n as f64;
    let rss = rss1.saturating_sub(rss0) as f64 / n as f64;
    println!("| {label} | {heap:.0} | {rss:.0} |");
    (heap, rss)
}

/// The time of every write (the core never reads a clock).
const NOW: Millis = 1_700_000_000_000;

fn node(id: &str) -> Gossip<String, String> {
    // Events off: nobody drains them here. History keeps every latest update whatever
    // max_history says, so the default configuration stores the same. The default mtu (10
    // updates a message) keeps the messages in flight small, so they leave no mark on the RSS.
    Gossip::new(
        id,
        Config::default().with_events(false),
        LastWriterWins,
        ScuttleBreadth,
    )
    .expect("valid config")
}

/// Builds one structure (`hashmap`, `local` or `remote`) and prints its table row.
fn row(which: &str, n: usize) -> Option<(f64, f64)> {
    Some(match which {
        "hashmap" => measure("`HashMap<String, String>` (lower bound)", n, || {
            let mut map = HashMap::new();
            for i in 0..n {
                map.insert(key(i), value(i));
            }
            map
        }),
        "local" => measure("`Gossip<String, String>`, local `set`s", n, || {
            let mut g = node("me");
            for i in 0..n {
                g.set(NOW, key(i), value(i)).expect("accepted");
            }
            g
        }),
        "remote" => {
            // The peer is built before the measurement starts; only the receiver counts.
            let mut peer = node("peer-0042");
            for i in 0..n {
                peer.set(NOW, key(i), value(i)).expect("accepted");
            }
            measure("`Gossip<String, String>`, news from a peer", n, move || {
                let mut pair = Pair::new(peer, node("me"));
                // Each round is two whole exchanges; the bound only turns a bug into a panic.
                pair.drive_bounded(n + 1).expect("the pair converges");
                assert_eq!(pair.b.len(), n);
                pair
            })
        }
        _ => return None,
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // `memory N which`: one measurement in this process (RSS is only meaningful in a process
    // that has not freed a big structure before).
    if let Some(which) = args.next() {
        let (heap, rss) = row(&which, n).expect("which: hashmap, local or remote");
        eprintln!("{heap} {rss}");
        return;
    }
    let payload = key(0).len() + value(0).len();
    println!(
        "{n} keys; key and value strings of {} + {} = {payload} bytes",
        key(0).len(),
        value(0).len()
    );
    println!();
    println!("| structure | heap bytes / key | RSS bytes / key |");
    println!("|---|---:|---:|");
    let exe = std::env::current_exe().expect("own path");
    let mut results = Vec::new();
    for which in ["hashmap", "local", "remote"] {
        let out = std::process::Command::new(&exe)
            .args([n.to_string(), which.to_string()])
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run a measurement");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        let text = String::from_utf8_lossy(&out.stderr);
        let nums: Vec<f64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        results.push((
            nums.first().copied().unwrap_or(0.0),
            nums.get(1).copied().unwrap_or(0.0),
        ));
    }
    let (lower, lower_rss) = results[0];
    println!();
    println!(
        "ratio to the HashMap: heap {:.2}× (local) and {:.2}× (from a peer); RSS {:.2}× and {:.2}×",
        results[1].0 / lower,
        results[2].0 / lower,
        results[1].1 / lower_rss.max(1.0),
        results[2].1 / lower_rss.max(1.0),
    );
}
