//! Criterion: time to converge, scuttle vs chitchat, on small clusters (`cargo bench -p
//! scuttle-bench` finishes in a few minutes). Each iteration is one whole run; the time
//! measured is the wall time from the first write to convergence (the row's `wall_ms`), so
//! chitchat's membership warm-up is not timed. The traffic of each case is printed first.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use scuttle_bench::{run_chitchat, run_scuttle, Case, ProtocolVersion, Row};

const CASES: [(usize, usize); 3] = [(10, 10), (10, 100), (30, 10)];

fn case(n: usize, k: usize) -> Case {
    Case {
        idle_rounds: 0,
        ..Case::new(n, k)
    }
}

fn chitchat(case: &Case) -> Row {
    match run_chitchat(case, ProtocolVersion::V1) {
        Ok(row) => row,
        Err(e) => panic!("chitchat failed on {case:?}: {e}"),
    }
}

fn converge(c: &mut Criterion) {
    for (n, k) in CASES {
        let s = run_scuttle(&case(n, k));
        let h = chitchat(&case(n, k));
        eprintln!(
            "N = {n}, K = {k}: lower bound {} B; scuttle {} rounds, {} B ({:.2}×); chitchat {} rounds, {} B ({:.2}×)",
            s.payload_lower_bound,
            s.rounds,
            s.bytes,
            s.ratio(),
            h.rounds,
            h.bytes,
            h.ratio()
        );
    }
    let mut group = c.benchmark_group("converge");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (n, k) in CASES {
        let id = format!("N{n}_K{k}");
        group.bench_function(BenchmarkId::new("scuttle", &id), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| Duration::from_secs_f64(run_scuttle(&case(n, k)).wall_ms / 1e3))
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("chitchat", &id), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| Duration::from_secs_f64(chitchat(&case(n, k)).wall_ms / 1e3))
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, converge);
criterion_main!(benches);
