//! Micro-benchmarks of the core: writes and applied news against a plain `HashMap` (the lower
//! bound), `news()` at growing history sizes, digests and their answers, and the CBOR frame
//! codec.
//!
//! `cargo bench -p scuttle-gossip --bench core` (results in `docs/benchmarks.md`).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use scuttle::core::{LastWriterWins, Run, ScuttleBreadth};
use scuttle::{Config, FrameCodec, Gossip, Message, Millis, News, NodeId, Update};

type Node = Gossip<String, String>;

/// The time every write of these benchmarks happens at (the core never reads a clock).
const NOW: Millis = 1_700_000_000_000;

/// Updates per message of the news a peer sends (the default `mtu`).
const PER_MESSAGE: usize = 10;

fn node(id: &str) -> Node {
    let config = Config::default()
        .with_max_history(usize::MAX)
        .with_events(false);
    Gossip::new(id, config, LastWriterWins, ScuttleBreadth).expect("valid config")
}

fn pairs(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("key-{i:07}"), format!("value-{i:07}")))
        .collect()
}

/// The news a peer `source` would send for `pairs`: `Ack`s of [`PER_MESSAGE`] updates each,
/// every run chained to the previous one by `prev`.
fn news_from(source: &str, pairs: &[(String, String)]) -> Vec<Message<String, String>> {
    let source = NodeId::from(source);
    let updates: Vec<Update<String, String>> = pairs
        .iter()
        .zip(1u64..)
        .map(|((k, v), version)| Update {
            key: k.clone(),
            value: Some(v.clone()),
            source_id: source.clone(),
            version,
            timestamp: NOW,
            signature: None,
        })
        .collect();
    updates
        .chunks(PER_MESSAGE)
        .map(|chunk| Message::Ack {
            news: News::Updates(vec![Run {
                source: source.clone(),
                prev: Some(chunk[0].version - 1),
                updates: chunk.to_vec(),
                through: None,
            }]),
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
                        node.set(NOW, k, v).expect("accepted");
                    }
                    node
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("gossip_apply", n), &news, |b, news| {
            b.iter_batched(
                || news.clone(),
                |news| {
                    let mut node = node("me");
                    for msg in news {
                        node.handle_message(0, msg).expect("well-formed");
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
            node.set(NOW, k, v).expect("accepted");
        }
        assert_eq!(node.history_len(), n);
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
        // `me` holds one update from each of `sources` sources; `peer` holds the same.
        let mut me = node("me");
        let mut peer = node("peer");
        let one = pairs(1);
        for s in 0..sources {
            for msg in news_from(&format!("source-{s:05}"), &one) {
                me.handle_message(0, msg.clone()).expect("well-formed");
                peer.handle_message(0, msg).expect("well-formed");
            }
        }
        group.throughput(Throughput::Elements(sources as u64));
        // The Syn that opens an exchange: the full digest.
        group.bench_function(BenchmarkId::new("start_exchange", sources), |b| {
            b.iter(|| black_box(me.start_exchange()))
        });
        // A peer answering that Syn when both hold the same: an empty SynAck.
        let syn = me.start_exchange();
        group.bench_with_input(BenchmarkId::new("answer_syn", sources), &syn, |b, syn| {
            b.iter_batched(
                || syn.clone(),
                |syn| peer.handle_message(0, syn).expect("well-formed"),
                BatchSize::SmallInput,
            )
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
        // An `Ack` carrying one update.
        let msg: Message<String, String> = Message::Ack {
            news: News::Updates(vec![Run {
                source: NodeId::from("node-042"),
                prev: Some(123_455),
                updates: vec![Update {
                    key: "key-0001234".into(),
                    value: Some("v".repeat(value_len)),
                    source_id: NodeId::from("node-042"),
                    version: 123_456,
                    timestamp: NOW,
                    signature: None,
                }],
                through: None,
            }]),
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
