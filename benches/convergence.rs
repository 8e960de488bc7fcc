//! Full convergence of an in-memory cluster (N = 10, 50, 100 nodes × 1,000 keys), every
//! message encoded and decoded as a CBOR frame: the same cluster as `scuttle demo`.
//!
//! Before timing, prints rounds, messages, updates and bytes of each configuration against the
//! payload lower bound (every key must reach the N − 1 other nodes once).
//!
//! `cargo bench --bench convergence` (results in `docs/benchmarks.md`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

#[allow(dead_code)]
#[path = "../src/bin/scuttle/demo.rs"]
mod demo;

use demo::{human_bytes, thousands, Cluster, SorterKind};

const KEYS: u32 = 1_000;
const SEED: u64 = 1;
const MAX_ROUNDS: u64 = 100_000;

fn cluster(nodes: u32, mtu: usize, sorter: SorterKind) -> Cluster {
    Cluster::new(nodes, KEYS, mtu, 1, SEED, sorter).expect("valid cluster")
}

/// Prints what each configuration costs (deterministic for the seed) as a Markdown table.
fn report() {
    eprintln!();
    eprintln!("| nodes | mtu | sorter | rounds | messages | updates sent | lower bound | ratio | bytes | lower bound | ratio |");
    eprintln!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for nodes in [10, 50, 100] {
        for mtu in [10, 100] {
            for sorter in [SorterKind::Breadth, SorterKind::Depth] {
                let mut c = cluster(nodes, mtu, sorter);
                let ok = c.run(MAX_ROUNDS, |_| {}).expect("no protocol error");
                assert!(ok, "{nodes} nodes, mtu {mtu}: no convergence");
                let t = c.totals();
                let sent = c.updates_sent();
                eprintln!(
                    "| {nodes} | {mtu} | {sorter} | {} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
                    t.rounds,
                    thousands(t.messages),
                    thousands(sent),
                    thousands(c.lower_bound_updates()),
                    sent as f64 / c.lower_bound_updates() as f64,
                    human_bytes(t.bytes),
                    human_bytes(c.lower_bound_bytes()),
                    t.bytes as f64 / c.lower_bound_bytes() as f64,
                );
            }
        }
    }
    eprintln!();
}

fn convergence(c: &mut Criterion) {
    report();
    let mut group = c.benchmark_group("converge_1k_keys");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for nodes in [10u32, 50, 100] {
        // Throughput: key copies put in place (keys × nodes).
        group.throughput(Throughput::Elements(u64::from(KEYS) * u64::from(nodes)));
        group.bench_function(BenchmarkId::new("mtu100_breadth", nodes), |b| {
            b.iter_batched(
                || cluster(nodes, 100, SorterKind::Breadth),
                |mut c| {
                    let ok = c.run(MAX_ROUNDS, |_| {}).expect("no protocol error");
                    assert!(ok);
                    c
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, convergence);
criterion_main!(benches);
