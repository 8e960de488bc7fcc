//! Unit and property tests of the core that need no network: wire sizes, the byte budget,
//! decide-then-commit, idle exchanges, the seed codec. Multi-node tests under faults live in
//! `scuttle-sim` (the one in-memory network).

mod budget;
mod chains;
mod covered;
mod durable;
mod exchange;
mod hostile;
mod seed_codec;
mod signed;
mod wire_size;

use crate::{Config, Gossip, Message};

pub(crate) type Node = Gossip<String, String>;

/// The time every test message is handled at (the counter versions of these tests are far
/// below any clock bound).
pub(crate) const NOW: crate::Millis = 1_000;

pub(crate) fn node(id: &str, config: Config) -> Node {
    Gossip::new(id, config, crate::LastWriterWins, crate::ScuttleBreadth).expect("valid config")
}

/// One exchange a → b, each side naming the other as the sender (`handle_message_from`).
pub(crate) fn exchange_from(a: &mut Node, b: &mut Node) {
    let (a_id, b_id) = (a.id().clone(), b.id().clone());
    let syn = a.start_exchange();
    let syn_ack = b
        .handle_message_from(NOW, a_id.as_str(), syn)
        .expect("b accepts a's syn")
        .expect("a syn is answered");
    if let Some(ack) = a
        .handle_message_from(NOW, b_id.as_str(), syn_ack)
        .expect("a accepts b's syn-ack")
    {
        b.handle_message_from(NOW, a_id.as_str(), ack)
            .expect("b accepts a's ack");
    }
}

/// Runs one whole exchange a → b and returns the messages sent, in order.
pub(crate) fn exchange<R, S>(
    a: &mut Gossip<String, String, R, S>,
    b: &mut Gossip<String, String, R, S>,
) -> Vec<Message<String, String>>
where
    R: crate::Resolver<String, String>,
    R::Error: std::fmt::Debug,
    S: crate::Sorter<String, String>,
{
    let mut sent = Vec::new();
    let syn = a.start_exchange();
    sent.push(syn.clone());
    let syn_ack = b
        .handle_message(NOW, syn)
        .expect("b accepts a's syn")
        .expect("a syn is always answered");
    sent.push(syn_ack.clone());
    if let Some(ack) = a
        .handle_message(NOW, syn_ack)
        .expect("a accepts b's syn-ack")
    {
        sent.push(ack.clone());
        assert!(b
            .handle_message(NOW, ack)
            .expect("b accepts a's ack")
            .is_none());
    }
    sent
}
