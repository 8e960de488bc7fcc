//! Micro-benchmarks of the core: writes and applied news against a plain `HashMap` (the lower
//! bound), `news()` at growing history sizes, digest creation, and the CBOR frame codec.
//!
//! `cargo bench --bench core` (results in `docs/benchmarks.md`).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use scuttle_core::{Config, FrameCodec, Gossip, Message, NodeId, Update};

type Node = Gossip<String, String>;

fn node(id: &str) -> Node {
    let config = Config::default()
        .with_max_history(usize::MAX)
        .with_events(false);
    Gossip::new(
        id,
        config,
        scuttle_core::LastWriterWins,
        scuttle_core::ScuttleBreadth,
    )
    .expect("valid config")
}

fn pairs(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("key-{i:07}"), format!("value-{i:07}")))
        .collect()
}

/// The news a peer `source` would send for `pairs`, one update each, gap-proof.
fn news_from(source: &str, pairs: &[(String, String)]) -> Vec<Message<String, String>> {
    pairs
        .iter()
        .zip(1u64..)
        .map(|((k, v), version)| Message::Update {
            update: Update {
                key: k.clone(),
                value: Some(v.clone()),
                source_id: NodeId::from(source),
                version,
                timestamp: 1_700_000_000_000,
            },
            prev: Some(version - 1),
        })
        .collect()
}

fn writes(c: &mut Criterion) {
    let mut group = c.benchmark_group("write");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for n in [1_000usize, 10_000, 100_000] {
        let input = pairs(n);
        let news = news_from("peer", &input);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("hashmap_insert", n), &input, |b, input| {
            b.iter_batched(
                || input.clone(),
                |input| {
                    let mut map = HashMap::new();
                    for (k, v) in input {
                        map.insert(k, v);
                    }
                    map
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("gossip_set", n), &input, |b, input| {
            b.iter_batched(
                || input.clone(),
                |input| {
                    let mut node = node("me");
                    for (k, v) in input {
                        node.set(k, v).expect("accepted");
                    }
                    node
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("gossip_apply", n), &news, |b, news| {
            let peer = NodeId::from("peer");
            b.iter_batched(
                || news.clone(),
                |news| {
                    let mut node = node("me");
                    for msg in news {
                        node.receive(&peer, msg).expect("well-formed");
                    }
                    node
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn news(c: &mut Criterion) {
    let mut group = c.benchmark_group("news");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(2));
    for n in [10_000usize, 100_000, 1_000_000] {
        let mut node = node("src");
        for (k, v) in pairs(n) {
            node.set(k, v).expect("accepted");
        }
        assert_eq!(node.history().len(), n);
        let n64 = n as u64;
        group.throughput(Throughput::Elements(10));
        // The 10 newest updates: what a peer that is nearly up to date asks for.
        group.bench_with_input(BenchmarkId::new("last_10", n), &node, |b, node| {
            b.iter(|| node.news(black_box("src"), black_box(n64 - 10)).count())
        });
        // 10 updates from the middle of the history (a cut exchange of mtu 10).
        group.bench_with_input(BenchmarkId::new("middle_10", n), &node, |b, node| {
            b.iter(|| {
                node.news(black_box("src"), black_box(n64 / 2))
                    .take(10)
                    .count()
            })
        });
    }
    group.finish();
}

fn digest(c: &mut Criterion) {
    let mut group = c.benchmark_group("digest");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(2));
    for sources in [10usize, 100, 1_000] {
        let mut me = node("me");
        let one = pairs(1);
        for s in 0..sources {
            let peer = NodeId::new(format!("source-{s:05}"));
            for msg in news_from(peer.as_str(), &one) {
                me.receive(&peer, msg).expect("well-formed");
            }
        }
        let peer = NodeId::from("peer");
        group.throughput(Throughput::Elements(sources as u64));
        group.bench_function(BenchmarkId::new("create", sources), |b| {
            b.iter(|| {
                me.gossip(&peer);
                let mut n = 0usize;
                while let Some(msg) = me.poll_message(&peer) {
                    black_box(&msg);
                    n += 1;
                }
                n
            })
        });
    }
    group.finish();
}

fn codec(c: &mut Criterion) {
    let codec = FrameCodec::default();
    let mut group = c.benchmark_group("cbor_update");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(2));
    for value_len in [16usize, 256, 4096] {
        let msg: Message<String, String> = Message::Update {
            update: Update {
                key: "key-0001234".into(),
                value: Some("v".repeat(value_len)),
                source_id: NodeId::from("node-042"),
                version: 123_456,
                timestamp: 1_700_000_000_000,
            },
            prev: Some(123_455),
        };
        let mut frame = Vec::new();
        codec.encode(&msg, &mut frame).expect("fits");
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_with_input(BenchmarkId::new("encode", value_len), &msg, |b, msg| {
            let mut out = Vec::with_capacity(frame.len());
            b.iter(|| {
                out.clear();
                codec.encode(black_box(msg), &mut out).expect("fits");
                out.len()
            })
        });
        group.bench_with_input(BenchmarkId::new("decode", value_len), &frame, |b, f| {
            b.iter(|| {
                codec
                    .decode_frame::<String, String>(black_box(f))
                    .expect("valid")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, writes, news, digest, codec);
criterion_main!(benches);
