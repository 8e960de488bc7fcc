//! Structured inputs: arbitrary bytes become well-formed messages from a small world of sources
//! and keys (small, so that forged news collides with real news and with local writes).

use arbitrary::Arbitrary;
use scuttle_core::{hlc, Digest, Message, Millis, News, NodeId, Reset, Run, Update, Version};

/// Sources a message may name: the node under test (`me`), its peers, a stranger, and the
/// empty id.
pub const SOURCES: [&str; 6] = ["me", "p0", "p1", "p2", "x", ""];

/// Keys a message or local write may name.
pub const KEYS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", ""];

/// One of [`SOURCES`].
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Src(pub u8);

impl Src {
    /// The node id.
    pub fn id(self) -> NodeId {
        NodeId::from(SOURCES[usize::from(self.0) % SOURCES.len()])
    }
}

/// One of [`KEYS`].
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Key(pub u8);

impl Key {
    /// The key.
    pub fn key(self) -> String {
        KEYS[usize::from(self.0) % KEYS.len()].to_string()
    }
}

/// A version: a small counter, a hybrid clock near `now`, or one near `u64::MAX`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum AVersion {
    /// A small Lamport counter.
    Small(u8),
    /// A hybrid-clock version this many milliseconds (scaled) away from `now`.
    Clock(i16),
    /// `u64::MAX` minus this.
    Huge(u8),
}

impl AVersion {
    /// The version at time `now`.
    pub fn at(self, now: Millis) -> Version {
        match self {
            AVersion::Small(n) => u64::from(n),
            AVersion::Clock(d) => hlc(now).wrapping_add_signed(i64::from(d) * 50_000),
            AVersion::Huge(n) => u64::MAX - u64::from(n),
        }
    }
}

/// A timestamp relative to `now`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum ATime {
    /// Unknown (0).
    Zero,
    /// `now` moved by this many seconds.
    Near(i16),
    /// Any time at all.
    Any(u64),
}

impl ATime {
    /// The timestamp at time `now`.
    pub fn at(self, now: Millis) -> Millis {
        match self {
            ATime::Zero => 0,
            ATime::Near(s) => now.saturating_add_signed(i64::from(s) * 1000),
            ATime::Any(t) => t,
        }
    }
}

/// A value: short, or long enough to press on `max_message_bytes`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum AValue {
    /// `v<n>`.
    Small(u8),
    /// This many bytes (modulo 4096).
    Big(u16),
}

impl AValue {
    /// The value.
    pub fn value(self) -> String {
        match self {
            AValue::Small(n) => format!("v{n}"),
            AValue::Big(n) => "x".repeat(usize::from(n) % 4096),
        }
    }
}

/// The key, value (`None`: a delete) and timestamp of one update.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct AItem {
    /// The key.
    pub key: Key,
    /// The value, or a delete.
    pub value: Option<AValue>,
    /// When it was written.
    pub time: ATime,
    /// A signature (arbitrary bytes: they never verify), so the signed wire forms are
    /// decoded and encoded too.
    pub signature: Option<[u8; 64]>,
}

impl AItem {
    /// The update of `source` at `version`.
    pub fn update(self, source: NodeId, version: Version, now: Millis) -> Update<String, String> {
        Update {
            key: self.key.key(),
            value: self.value.map(AValue::value),
            source_id: source,
            version,
            timestamp: self.time.at(now),
            signature: self
                .signature
                .map(scuttle_core::signing::Signature::from_bytes),
        }
    }
}

/// A run: versions ascend from `prev` (or `first`) by `1 + gap` each, so it is well-formed
/// unless they reach `u64::MAX`.
#[derive(Arbitrary, Debug, Clone)]
pub struct ARun {
    /// The run's source.
    pub source: Src,
    /// The version the receiver is assumed to hold.
    pub prev: Option<AVersion>,
    /// The first version when there is no `prev`.
    pub first: AVersion,
    /// Each update with the gap before its version.
    pub items: Vec<(u8, AItem)>,
    /// How far beyond the last version `through` lies, if set.
    pub through: Option<u16>,
}

impl ARun {
    /// The run at time `now`.
    pub fn run(&self, now: Millis) -> Run<String, String> {
        let source = self.source.id();
        let prev = self.prev.map(|p| p.at(now));
        let mut last = prev;
        let mut updates = Vec::with_capacity(self.items.len());
        for (gap, item) in &self.items {
            let version = match last {
                Some(v) => v.saturating_add(1 + u64::from(*gap)),
                None => self.first.at(now).max(1),
            };
            updates.push(item.update(source.clone(), version, now));
            last = Some(version);
        }
        let through = self
            .through
            .map(|t| last.unwrap_or(0).saturating_add(u64::from(t)));
        Run {
            source,
            prev,
            updates,
            through,
        }
    }
}

/// A digest.
#[derive(Arbitrary, Debug, Clone)]
pub enum ADigest {
    /// Only a hash.
    Hash(u64),
    /// Watermarks.
    Full(Vec<(Src, AVersion)>),
}

impl ADigest {
    /// The digest at time `now`.
    pub fn digest(&self, now: Millis) -> Digest {
        match self {
            ADigest::Hash(h) => Digest::Hash(*h),
            ADigest::Full(pairs) => Digest::Full(pairs_at(pairs, now)),
        }
    }
}

fn pairs_at(pairs: &[(Src, AVersion)], now: Millis) -> Vec<(NodeId, Version)> {
    pairs.iter().map(|(s, v)| (s.id(), v.at(now))).collect()
}

/// News: runs or a reset.
#[derive(Arbitrary, Debug, Clone)]
pub enum ANews {
    /// Incremental news.
    Updates(Vec<ARun>),
    /// A state-based catch-up.
    Reset {
        /// Watermarks.
        watermarks: Vec<(Src, AVersion)>,
        /// Floors.
        floors: Vec<(Src, AVersion)>,
        /// Entries.
        entries: Vec<(Src, AVersion, AItem)>,
    },
}

impl ANews {
    /// The news at time `now`.
    pub fn news(&self, now: Millis) -> News<String, String> {
        match self {
            ANews::Updates(runs) => News::Updates(runs.iter().map(|r| r.run(now)).collect()),
            ANews::Reset {
                watermarks,
                floors,
                entries,
            } => News::Reset(Reset {
                watermarks: pairs_at(watermarks, now),
                floors: pairs_at(floors, now),
                entries: entries
                    .iter()
                    .map(|(s, v, item)| item.update(s.id(), v.at(now).max(1), now))
                    .collect(),
            }),
        }
    }
}

/// A message a peer may send.
#[derive(Arbitrary, Debug, Clone)]
pub enum AMessage {
    /// Opens an exchange.
    Syn(ADigest),
    /// Answers one.
    SynAck(ANews, ADigest),
    /// Closes one.
    Ack(ANews),
}

impl AMessage {
    /// The message at time `now`.
    pub fn message(&self, now: Millis) -> Message<String, String> {
        match self {
            AMessage::Syn(d) => Message::Syn {
                digest: d.digest(now),
            },
            AMessage::SynAck(n, d) => Message::SynAck {
                news: n.news(now),
                digest: d.digest(now),
            },
            AMessage::Ack(n) => Message::Ack { news: n.news(now) },
        }
    }
}
