//! Sequences of well-formed messages from several peers into one `Gossip<String, String>` with
//! a small config, mixed with its local writes, tombstone timeouts and real exchanges with
//! peer nodes. Structured input (`arbitrary`): see `scuttle_fuzz::arb`.
//!
//! Invariants checked after every step:
//! * no panic;
//! * the state only changes through the resolver: a key whose entry changed holds the last
//!   update the (recording) resolver accepted for it in that step, a local write's through
//!   `accept_local`; a key only disappears through tombstone collection (a timeout past its
//!   grace) or a reset's `Forgotten` event; every `Update` event is such an accepted update;
//! * a refused message or write (protocol error, failing resolver) changes nothing;
//! * memory is bounded by what the input carried: entries ≤ distinct keys seen, sources ≤
//!   distinct ids seen, superseded history ≤ `max_history`, history ≤ entries + `max_history`,
//!   one step's events ≤ what its news could cause;
//! * the version and the watermarks never go down.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scuttle_core::{
    Config, DynSorter, Entry, Event, Gossip, LastWriterWins, Message, News, NodeId, ScuttleBreadth,
    ScuttleDepth, Versions,
};
use scuttle_fuzz::arb::{AMessage, AValue, Key};
use scuttle_fuzz::recording::{Decision, Policy, Recording};

const START: u64 = 1_700_000_000_000;
const PEERS: [&str; 3] = ["p0", "p1", "p2"];

#[derive(Arbitrary, Debug)]
struct Input {
    config: SmallConfig,
    policy: Policy,
    depth_first: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct SmallConfig {
    mtu: u8,
    max_message_bytes: u16,
    max_history: u8,
    grace_secs: Option<u8>,
    digest_hashes: bool,
    hybrid: bool,
    skew_secs: u8,
    catch_up_secs: Option<u8>,
}

impl SmallConfig {
    fn config(&self) -> Config {
        let mut c = Config::default()
            .with_mtu(usize::from(self.mtu % 8) + 1)
            .with_max_message_bytes(64 + usize::from(self.max_message_bytes % 8192))
            .with_max_history(usize::from(self.max_history % 8))
            .with_tombstone_grace(self.grace_secs.map(|s| Duration::from_secs(u64::from(s))))
            .with_digest_hashes(self.digest_hashes)
            .with_max_clock_skew(Duration::from_secs(u64::from(self.skew_secs)))
            .with_catch_up(
                self.catch_up_secs
                    .map(|s| Duration::from_secs(u64::from(s))),
            );
        if self.hybrid {
            c = c.with_versions(Versions::Hybrid);
        }
        c
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A forged message from a peer.
    Message { advance: u16, msg: AMessage },
    /// The same message delivered again (a replay).
    Replay,
    /// A local write or delete.
    Write {
        advance: u16,
        key: Key,
        value: Option<AValue>,
    },
    /// `handle_timeout`.
    Timeout { advance: u32 },
    /// A peer node writes.
    PeerWrite {
        peer: u8,
        key: Key,
        value: Option<AValue>,
    },
    /// A real exchange with a peer node, either side opening.
    Exchange {
        peer: u8,
        we_open: bool,
        advance: u16,
    },
    /// A peer collects its tombstones.
    PeerTimeout { peer: u8, advance: u32 },
}

/// What a checked step does to the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A local write or delete: decisions through `accept_local`.
    Local,
    /// A peer's message: decisions through `accept`, keys may be forgotten by a reset.
    Remote,
    /// `handle_timeout`: tombstones past their grace may go, nothing else.
    Timeout,
}

type Node = Gossip<String, String, Recording, DynSorter<String, String>>;
type Peer = Gossip<String, String, LastWriterWins, ScuttleBreadth>;

struct World {
    node: Node,
    log: std::rc::Rc<std::cell::RefCell<Vec<Decision>>>,
    peers: Vec<Peer>,
    now: u64,
    last: Option<Message<String, String>>,
    keys: BTreeSet<String>,
    sources: BTreeSet<NodeId>,
    grace: Option<u64>,
}

type Snapshot = BTreeMap<String, Entry<String>>;

fuzz_target!(|input: Input| {
    let config = input.config.config();
    let (resolver, log) = Recording::new(input.policy);
    let sorter: DynSorter<String, String> = if input.depth_first {
        Box::new(ScuttleDepth)
    } else {
        Box::new(ScuttleBreadth)
    };
    let Ok(node) = Gossip::new("me", config.clone(), resolver, sorter) else {
        return;
    };
    let peers = PEERS
        .iter()
        .map(|id| Gossip::new(*id, config.clone(), LastWriterWins, ScuttleBreadth))
        .collect::<Result<Vec<_>, _>>()
        .expect("the same config");
    let mut world = World {
        node,
        log,
        peers,
        now: START,
        last: None,
        keys: BTreeSet::new(),
        sources: BTreeSet::from([NodeId::from("me")]),
        grace: config.tombstone_grace.map(|g| g.as_millis() as u64),
    };
    for step in input.steps.iter().take(64) {
        world.step(step);
    }
});

impl World {
    fn snapshot(&self) -> Snapshot {
        self.node
            .entries()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect()
    }

    fn marks(&self) -> BTreeMap<NodeId, u64> {
        self.node
            .watermarks()
            .map(|(s, v)| (s.clone(), v))
            .collect()
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Message { advance, msg } => {
                self.now += u64::from(*advance);
                let msg = msg.message(self.now);
                self.last = Some(msg.clone());
                self.deliver(msg);
            }
            Step::Replay => {
                if let Some(msg) = self.last.clone() {
                    self.deliver(msg);
                }
            }
            Step::Write {
                advance,
                key,
                value,
            } => {
                self.now += u64::from(*advance);
                let key = key.key();
                self.keys.insert(key.clone());
                let now = self.now;
                let value = value.map(AValue::value);
                self.checked(Kind::Local, 0, |n| match value {
                    Some(v) => n.set(now, key, v).is_ok(),
                    None => n.delete(now, key).is_ok(),
                });
            }
            Step::Timeout { advance } => {
                self.now += u64::from(*advance);
                let now = self.now;
                self.checked(Kind::Timeout, 0, |n| n.handle_timeout(now).is_ok());
            }
            Step::PeerWrite { peer, key, value } => {
                let now = self.now;
                let p = &mut self.peers[usize::from(*peer) % PEERS.len()];
                let _ = match value {
                    Some(v) => p.set(now, key.key(), v.value()),
                    None => p.delete(now, key.key()),
                };
                while p.poll_event().is_some() {}
            }
            Step::PeerTimeout { peer, advance } => {
                let now = self.now + u64::from(*advance);
                let p = &mut self.peers[usize::from(*peer) % PEERS.len()];
                let _ = p.handle_timeout(now);
                while p.poll_event().is_some() {}
            }
            Step::Exchange {
                peer,
                we_open,
                advance,
            } => {
                self.now += u64::from(*advance);
                self.exchange(usize::from(*peer) % PEERS.len(), *we_open);
            }
        }
    }

    /// A real three-message exchange with peer `i`.
    fn exchange(&mut self, i: usize, we_open: bool) {
        let now = self.now;
        if we_open {
            let syn = self.node.start_exchange();
            let Ok(Some(syn_ack)) = self.peers[i].handle_message(now, syn) else {
                return;
            };
            while self.peers[i].poll_event().is_some() {}
            if let Some(Some(ack)) = self.deliver(syn_ack) {
                let _ = self.peers[i].handle_message(now, ack);
                while self.peers[i].poll_event().is_some() {}
            }
        } else {
            let syn = self.peers[i].start_exchange();
            let Some(Some(syn_ack)) = self.deliver(syn) else {
                return;
            };
            if let Ok(Some(ack)) = self.peers[i].handle_message(now, syn_ack) {
                while self.peers[i].poll_event().is_some() {}
                self.deliver(ack);
            }
        }
    }

    /// Hands `msg` to the node under test, checking every invariant; the reply, or `None`
    /// when the node refused the message.
    fn deliver(&mut self, msg: Message<String, String>) -> Option<Option<Message<String, String>>> {
        self.learn(&msg);
        let updates = msg.news().map_or(0, News::len);
        let now = self.now;
        let mut reply = None;
        self.checked(Kind::Remote, updates, |n| {
            match n.handle_message(now, msg) {
                Ok(r) => {
                    reply = Some(r);
                    true
                }
                Err(_) => false,
            }
        });
        if let Some(Some(r)) = &reply {
            let budget = self.node.config().max_message_bytes;
            let len = scuttle_core::wire::message_len(r);
            assert!(len <= budget, "a reply of {len} bytes over {budget}");
            assert!(r.validate().is_ok(), "an invalid reply: {r:?}");
        }
        reply
    }

    /// Keys and sources a message names: what the node may hold afterwards.
    fn learn(&mut self, msg: &Message<String, String>) {
        if let Some(news) = msg.news() {
            for u in news.updates() {
                self.keys.insert(u.key.clone());
                self.sources.insert(u.source_id.clone());
            }
            match news {
                News::Updates(runs) => {
                    self.sources.extend(runs.iter().map(|r| r.source.clone()));
                }
                News::Reset(reset) => {
                    self.sources
                        .extend(reset.watermarks.iter().map(|(s, _)| s.clone()));
                }
            }
        }
    }

    /// Runs `action` on the node (`true`: it succeeded) and checks every invariant.
    fn checked(&mut self, kind: Kind, updates: usize, action: impl FnOnce(&mut Node) -> bool) {
        let before = self.snapshot();
        let marks_before = self.marks();
        let version_before = self.node.version();
        self.log.borrow_mut().clear();
        let local = kind == Kind::Local;
        let ok = action(&mut self.node);
        let after = self.snapshot();
        let marks_after = self.marks();
        let decisions = std::mem::take(&mut *self.log.borrow_mut());
        let mut events = Vec::new();
        while let Some(e) = self.node.poll_event() {
            events.push(e);
        }

        if !ok {
            assert_eq!(before, after, "a refused input changed the state");
            assert_eq!(
                marks_before, marks_after,
                "a refused input moved watermarks"
            );
            assert_eq!(
                version_before,
                self.node.version(),
                "a refused input moved the clock"
            );
            assert!(
                events.is_empty(),
                "a refused input queued events: {events:?}"
            );
            return;
        }

        // Monotone clock and watermarks.
        assert!(self.node.version() >= version_before);
        for (s, v) in &marks_before {
            assert!(
                marks_after.get(s).is_some_and(|w| w >= v),
                "watermark of {s} fell"
            );
        }

        // The last accepted update of each key, in this step.
        let mut accepted: BTreeMap<&str, &Decision> = BTreeMap::new();
        for d in &decisions {
            assert_ne!(kind, Kind::Timeout, "a timeout asked the resolver");
            assert_eq!(
                d.local, local,
                "a remote decision in a local write, or back"
            );
            if d.accepted == Some(true) {
                accepted.insert(d.update.key.as_str(), d);
            }
        }
        let forgotten: BTreeSet<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Forgotten { key } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let (old, new) = (before.get(key), after.get(key));
            if old == new {
                continue;
            }
            match new {
                Some(entry) => {
                    let d = accepted
                        .get(key.as_str())
                        .unwrap_or_else(|| panic!("{key} changed without the resolver"));
                    assert_eq!(
                        &d.update.to_entry(),
                        entry,
                        "{key}: not the accepted update"
                    );
                }
                None => {
                    let old = old.expect("a key that changed was somewhere");
                    let collected = kind == Kind::Timeout
                        && old.is_deleted()
                        && self
                            .grace
                            .is_some_and(|g| old.timestamp.saturating_add(g) <= self.now);
                    assert!(
                        collected || (kind == Kind::Remote && forgotten.contains(key.as_str())),
                        "{key} vanished neither collected nor forgotten: {old:?}"
                    );
                }
            }
        }
        for e in &events {
            if let Event::Update {
                key,
                entry,
                local: l,
            } = e
            {
                assert_eq!(*l, local);
                assert!(
                    decisions.iter().any(|d| d.accepted == Some(true)
                        && &d.update.key == key
                        && &d.update.to_entry() == entry),
                    "an Update event the resolver never accepted: {key} {entry:?}"
                );
            }
        }

        // Memory bounded by what the input carried.
        let max_history = self.node.config().max_history;
        assert!(
            after.len() <= self.keys.len(),
            "more entries than keys seen"
        );
        assert!(
            marks_after.len() <= self.sources.len(),
            "more sources than ids seen"
        );
        assert!(self.node.superseded_len() <= max_history);
        assert!(self.node.history_len() <= after.len() + max_history);
        assert!(
            events.len() <= 2 * updates.max(1) + before.len() + 1,
            "{} events",
            events.len()
        );
    }
}
