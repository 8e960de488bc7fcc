//! Full convergence of an in-memory cluster (N = 10, 50, 100 nodes, 1,000 keys in all): the
//! workload of `scuttle demo` (`scuttle_sim::workload`), every message a whole `Syn`,
//! `SynAck` or `Ack` measured by its exact encoded size.
//!
//! Before timing, prints rounds, messages, updates and bytes of each configuration against
//! the lower bounds (every key must reach the N − 1 other nodes once; the payload bound
//! counts key and value bytes only).
//!
//! One iteration is one `workload::run`: building the nodes and their 1,000 writes (small
//! next to the gossip) and the rounds until convergence.
//!
//! `cargo bench -p scuttle-gossip --bench convergence` (results in `docs/benchmarks.md`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scuttle::SorterKind;
use scuttle_sim::workload::{run, Workload};

/// Keys written in all, spread evenly over the nodes.
const KEYS: usize = 1_000;
const SEED: u64 = 1;
const MAX_ROUNDS: usize = 100_000;

fn workload(nodes: usize, mtu: usize, sorter: SorterKind) -> Workload {
    Workload {
        nodes,
        keys: KEYS / nodes,
        fanout: 1,
        mtu,
        sorter,
        seed: SEED,
        max_rounds: MAX_ROUNDS,
        idle_rounds: 0,
        ..Workload::default()
    }
}

/// Prints what each configuration costs (deterministic for the seed) as a Markdown table.
fn report() {
    eprintln!();
    eprintln!(
        "| nodes | mtu | sorter | rounds | messages | updates sent | lower bound | ratio | bytes | payload bound | ratio |"
    );
    eprintln!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for nodes in [10, 50, 100] {
        for mtu in [10, 100] {
            for sorter in [SorterKind::Breadth, SorterKind::Depth] {
                let w = workload(nodes, mtu, sorter);
                let r = run(&w);
                assert!(r.converged, "{nodes} nodes, mtu {mtu}: no convergence");
                let lower = (nodes * w.keys * (nodes - 1)) as u64;
                eprintln!(
                    "| {nodes} | {mtu} | {sorter} | {} | {} | {} | {lower} | {:.2} | {} | {} | {:.2} |",
                    r.rounds,
                    r.messages,
                    r.updates_sent,
                    r.updates_sent as f64 / lower as f64,
                    r.bytes,
                    r.payload_lower_bound,
                    r.bytes as f64 / r.payload_lower_bound as f64,
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
    for nodes in [10usize, 50, 100] {
        let w = workload(nodes, 100, SorterKind::Breadth);
        // Throughput: key copies put in place (keys × nodes).
        group.throughput(Throughput::Elements((nodes * w.keys * nodes) as u64));
        group.bench_with_input(BenchmarkId::new("mtu100_breadth", nodes), &w, |b, w| {
            b.iter(|| {
                let r = run(w);
                assert!(r.converged);
                r
            })
        });
    }
    group.finish();
}

criterion_group!(benches, convergence);
criterion_main!(benches);
