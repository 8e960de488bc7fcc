//! Two nodes and a perfect link, for tests of one exchange at a time (after quinn-proto's
//! test `Pair`).

use std::fmt::Display;
use std::hash::Hash;

use scuttle_core::wire::message_len;
use scuttle_core::{Gossip, LastWriterWins, Message, Resolver, ScuttleBreadth, Sorter};
use serde::Serialize;

use crate::{NetStats, SimError};

/// Two nodes, `a` and `b`, joined by a perfect in-memory link.
///
/// [`exchange`](Self::exchange) runs one whole exchange started by `a` (its `Syn`, `b`'s
/// `SynAck`, `a`'s `Ack` if any) and returns the messages; [`drive_bounded`](Self::drive_bounded)
/// runs exchanges both ways until the two are idle and identical. The nodes are public:
/// write to them (`pair.a.set(now, ..)`) and read their events directly.
///
/// ```
/// use scuttle_core::Gossip;
/// use scuttle_sim::Pair;
///
/// let mut pair = Pair::new(
///     Gossip::<String, String>::with_defaults("a"),
///     Gossip::with_defaults("b"),
/// );
/// pair.a.set(1, "k".into(), "v".into()).unwrap();
/// let t = pair.exchange().unwrap();
/// assert_eq!(t.syn_ack.news().map(|n| n.len()), Some(0), "b had nothing for a");
/// assert_eq!(t.ack.as_ref().and_then(|m| m.news()).map(|n| n.len()), Some(1));
/// assert_eq!(pair.b.value("k").map(String::as_str), Some("v"));
/// assert_eq!(pair.drive_bounded(10).unwrap(), 1, "one idle round both ways");
/// ```
pub struct Pair<K, V, R = LastWriterWins, S = ScuttleBreadth> {
    /// The first node: [`exchange`](Self::exchange) starts from it.
    pub a: Gossip<K, V, R, S>,
    /// The second node.
    pub b: Gossip<K, V, R, S>,
    /// The time exchanges are handled at (default 0): set it for hybrid-clock nodes, whose
    /// clock bound follows it.
    pub now: scuttle_core::Millis,
    stats: NetStats,
}

/// The messages of one exchange, in the order they went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript<K, V> {
    /// The initiator's digest.
    pub syn: Message<K, V>,
    /// The responder's news and digest.
    pub syn_ack: Message<K, V>,
    /// The initiator's news, if it had any.
    pub ack: Option<Message<K, V>>,
}

impl<K: Serialize, V: Serialize> Transcript<K, V> {
    /// Updates carried both ways.
    pub fn updates(&self) -> usize {
        self.messages()
            .filter_map(|m| m.news())
            .map(|n| n.len())
            .sum()
    }

    /// Encoded bytes of the exchange (the sum of
    /// [`wire::message_len`](scuttle_core::wire::message_len)).
    pub fn bytes(&self) -> usize {
        self.messages().map(message_len).sum()
    }

    /// Whether no message carried news (an empty reset still counts as news).
    pub fn is_idle(&self) -> bool {
        self.messages()
            .filter_map(|m| m.news())
            .all(|n| n.is_empty())
    }

    /// The two or three messages.
    pub fn messages(&self) -> impl Iterator<Item = &Message<K, V>> {
        [Some(&self.syn), Some(&self.syn_ack), self.ack.as_ref()]
            .into_iter()
            .flatten()
    }
}

impl<K, V, R, S> Pair<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize,
    V: Clone + PartialEq + Serialize,
    R: Resolver<K, V>,
    R::Error: Display,
    S: Sorter<K, V>,
{
    /// Joins two nodes.
    pub fn new(a: Gossip<K, V, R, S>, b: Gossip<K, V, R, S>) -> Self {
        Pair {
            a,
            b,
            now: 0,
            stats: NetStats::default(),
        }
    }

    /// Counters of the messages carried so far (no faults: every message is delivered).
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// Runs one whole exchange started by `a`.
    pub fn exchange(&mut self) -> Result<Transcript<K, V>, SimError> {
        Self::run(self.now, &mut self.a, &mut self.b, &mut self.stats)
    }

    /// Runs one whole exchange started by `b`.
    pub fn exchange_from_b(&mut self) -> Result<Transcript<K, V>, SimError> {
        Self::run(self.now, &mut self.b, &mut self.a, &mut self.stats)
    }

    fn run(
        now: scuttle_core::Millis,
        from: &mut Gossip<K, V, R, S>,
        to: &mut Gossip<K, V, R, S>,
        stats: &mut NetStats,
    ) -> Result<Transcript<K, V>, SimError> {
        let mut count = |msg: &Message<K, V>| {
            let len = message_len(msg) as u64;
            stats.messages += 1;
            stats.sent += 1;
            stats.delivered += 1;
            stats.bytes += len;
            stats.largest = stats.largest.max(len);
        };
        let syn = from.start_exchange();
        count(&syn);
        let syn_ack = to
            .handle_message(now, syn.clone())
            .map_err(|e| SimError::receive(to.id(), e))?
            .ok_or_else(|| SimError::Diverged(format!("{} did not answer a Syn", to.id())))?;
        count(&syn_ack);
        let ack = from
            .handle_message(now, syn_ack.clone())
            .map_err(|e| SimError::receive(from.id(), e))?;
        if let Some(ack) = &ack {
            count(ack);
            let after = to
                .handle_message(now, ack.clone())
                .map_err(|e| SimError::receive(to.id(), e))?;
            if after.is_some() {
                return Err(SimError::Diverged(format!("{} answered an Ack", to.id())));
            }
        }
        Ok(Transcript { syn, syn_ack, ack })
    }

    /// Whether both nodes hold the same entries (tombstones included).
    pub fn identical(&self) -> bool {
        self.a.entries().count() == self.b.entries().count()
            && self.a.entries().all(|(k, e)| self.b.get(k) == Some(e))
    }

    /// Runs rounds of two exchanges (`a` → `b`, then `b` → `a`) until a round carries no news
    /// and the two nodes are identical; returns the rounds run, the idle one included.
    ///
    /// Fails with [`SimError::Diverged`] when a round carries no news but the nodes differ
    /// (their resolver is not a total order on updates), and with
    /// [`SimError::NotConverged`] after `max` rounds.
    pub fn drive_bounded(&mut self, max: usize) -> Result<usize, SimError> {
        for round in 1..=max {
            let there = self.exchange()?.is_idle();
            let back = self.exchange_from_b()?.is_idle();
            if there && back {
                if self.identical() {
                    return Ok(round);
                }
                return Err(SimError::Diverged(format!(
                    "{} and {} are idle but hold different entries",
                    self.a.id(),
                    self.b.id()
                )));
            }
        }
        Err(SimError::NotConverged { rounds: max })
    }
}
