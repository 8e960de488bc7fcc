//! What signed origins cost: one node writes K updates, a second takes them all in exchanges
//! (the default 64 KiB messages), once unsigned and once signed, side by side in one run.
//! Prints bytes on the wire, bytes per update, and the receiving side's time (decide and
//! apply, which is where signatures are verified), best of 5.
//!
//! `cargo run --release -p scuttle-gossip-sim --example signed_cost [K]`

use std::time::{Duration, Instant};

use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth};
use scuttle_sim::keys::signing_for;

type Node = Gossip<String, String>;

fn node(id: &str, signed: bool) -> Node {
    let node =
        Gossip::new(id, Config::default(), LastWriterWins, ScuttleBreadth).expect("default config");
    if signed {
        node.with_signing(signing_for(id))
            .expect("the key is the id's")
    } else {
        node
    }
}

/// Bytes sent and the receiver's time to take `k` writes.
fn run(k: usize, signed: bool) -> (usize, Duration) {
    let mut a = node("a", signed);
    for i in 0..k {
        a.set(1, format!("key-{i:08}"), "v".repeat(100))
            .expect("write");
    }
    let mut b = node("b", signed);
    let codec = scuttle_core::FrameCodec::default();
    let (mut bytes, mut spent) = (0, Duration::ZERO);
    while b.len() < k {
        // b asks, a answers with news; only b's handling of the answer is timed.
        let syn = b.start_exchange();
        let syn_ack = a
            .handle_message(2, syn)
            .expect("a answers")
            .expect("a syn is answered");
        let mut frame = Vec::new();
        codec.encode(&syn_ack, &mut frame).expect("encodes");
        bytes += frame.len();
        let started = Instant::now();
        let ack = b.handle_message(2, syn_ack).expect("b takes the news");
        spent += started.elapsed();
        if let Some(ack) = ack {
            a.handle_message(2, ack).expect("a takes b's ack");
        }
    }
    (bytes, spent)
}

fn main() {
    let k: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    println!("{k} updates of 100-byte values, best of 5");
    println!("| | bytes | bytes/update | receiver time | µs/update |");
    println!("|---|---|---|---|---|");
    for signed in [false, true] {
        let (bytes, best) = (0..5)
            .map(|_| run(k, signed))
            .min_by_key(|(_, t)| *t)
            .expect("five runs");
        println!(
            "| {} | {bytes} | {:.1} | {:.1} ms | {:.2} |",
            if signed { "signed" } else { "unsigned" },
            bytes as f64 / k as f64,
            best.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e6 / k as f64,
        );
    }
}
