//! Valid messages of every shape, from real nodes, for the seed corpora (`write_seeds`).

use std::time::Duration;

use scuttle_core::{Config, Gossip, LastWriterWins, Message, ScuttleBreadth};

/// A fixed time: seeds do not depend on the clock.
pub const NOW: u64 = 1_700_000_000_000;

type Node = Gossip<String, String, LastWriterWins, ScuttleBreadth>;

fn node(id: &str) -> Node {
    let config = Config::default().with_tombstone_grace(Some(Duration::from_secs(1)));
    Gossip::new(id, config, LastWriterWins, ScuttleBreadth).expect("a valid config")
}

fn reply(
    node: &mut Node,
    now: u64,
    msg: Message<String, String>,
) -> Option<Message<String, String>> {
    node.handle_message(now, msg).expect("a valid message")
}

/// Named messages: a full `Syn`, a `SynAck` with news, an `Ack`, a hash-only `Syn`, a
/// `SynAck` carrying a reset, and one carrying a long value (which compresses).
pub fn messages() -> Vec<(&'static str, Message<String, String>)> {
    let mut out = Vec::new();
    let (mut a, mut b) = (node("a"), node("b"));
    a.set(NOW, "k".into(), "v1".into()).expect("a write");
    a.set(NOW, "j".into(), "w".into()).expect("a write");
    b.set(NOW + 1, "k".into(), "v2".into()).expect("a write");
    b.delete(NOW + 1, "gone".into()).expect("a delete");

    let syn = a.start_exchange();
    out.push(("syn_full", syn.clone()));
    let syn_ack = reply(&mut b, NOW, syn).expect("a SynAck");
    out.push(("synack_news", syn_ack.clone()));
    let ack = reply(&mut a, NOW, syn_ack).expect("news for b");
    out.push(("ack_news", ack.clone()));
    assert!(reply(&mut b, NOW, ack).is_none());

    // In sync now: the next exchange opens with the digest hash only.
    let syn = a.start_exchange();
    let syn_ack = reply(&mut b, NOW, syn.clone()).expect("a SynAck");
    let _ = reply(&mut a, NOW, syn_ack);
    out.push(("syn_hash", a.start_exchange()));

    // A fresh node behind a collected tombstone gets a reset.
    a.delete(NOW + 2, "j".into()).expect("a delete");
    a.handle_timeout(NOW + 10_000).expect("no store");
    let c = node("c");
    let reset = reply(&mut a, NOW + 10_000, c.start_exchange()).expect("a SynAck");
    out.push(("synack_reset", reset));

    // A long, repetitive value: its frame is smaller compressed.
    let mut d = node("d");
    d.set(NOW, "big".into(), "abc".repeat(200))
        .expect("a write");
    let big = reply(&mut d, NOW, node("e").start_exchange()).expect("a SynAck");
    out.push(("synack_big", big));
    out
}
