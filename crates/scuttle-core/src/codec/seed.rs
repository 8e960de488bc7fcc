//! The seed's (simple-scuttle's) line shapes: splitting a whole message into them and joining
//! them back.
//!
//! | line | shape |
//! |---|---|
//! | digest entry | `{"digest": true, "id": "a", "source_id": "a", "version": 3}` (+ `"reply": true`) |
//! | digest done | `{"digest": true, "done": true}` (+ `"reply": true`) |
//! | digest hash | `{"digest": true, "done": true, "hash": 123}` (scuttle only) |
//! | update | `{"key": .., "value": .., "source_id": "a", "version": 4, "timestamp": .., "prev": 3}` |
//! | delete | `{"key": .., "deleted": true, "source_id": "a", "version": 5, "prev": 4}` |
//! | reset | `{"reset": true, "watermarks": [["a", 5]], "floors": [["a", 2]], "entries": [..]}` |
//!
//! A `SynAck` is its update lines, then its digest marked `"reply": true`. Fields a peer does
//! not know are ignored; `prev`, `timestamp`, `reply` and `deleted` are optional, so seed
//! peers interoperate (their updates carry no `prev` and are trusted to arrive in order).
//! Seed peers understand no digest hash: talk to them with
//! [`Config::digest_hashes`](crate::Config::digest_hashes) off.
//!
//! A key sent as a JSON number (the seed's own tests use `1..10`) is read as its JavaScript
//! string form (`1` → `"1"`, `1.5` → `"1.5"`, `1e21` → `"1e+21"`), the name the seed's state
//! object gives it, unless the key type reads numbers itself.
//!
//! # What the seed's code really sends ([`Dialect::Seed`])
//!
//! simple-scuttle 3.0.2 differs from its README, and a [`Joiner`] in [`Dialect::Seed`] reads
//! what it really sends (scuttle's own lines still read the same):
//!
//! * a digest entry names its source `id` (scuttle writes both `id` and `source_id`);
//! * past about `mtu + 2` known sources its `gossip()` stops before `done`: a digest entry
//!   naming a source already in the half-received digest ends it (an implicit `done`), and a
//!   transport ends it after an idle pause with [`Joiner::finish_digest`];
//! * an update relayed by a seed node has lost `deleted`: an update without `value` is a
//!   delete.

use std::collections::{HashSet, VecDeque};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DecodeError;
use crate::message::{Digest, Message, News, Reset, Run};
use crate::types::{Millis, NodeId, Update, Version};

fn is_false(b: &bool) -> bool {
    !*b
}

/// Deserializes a field that is present (even as `null`) to `Some`, so a null value stays a
/// value; an absent field falls back to `None` through `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Reads a key; a JSON number the key type refuses is retried as its JavaScript string form.
fn key_or_number<'de, D: Deserializer<'de>, K: DeserializeOwned>(
    d: D,
) -> Result<Option<K>, D::Error> {
    use serde::de::Error;
    let raw = serde_json::Value::deserialize(d)?;
    match serde_json::from_value::<K>(raw.clone()) {
        Ok(key) => Ok(Some(key)),
        Err(e) => match &raw {
            serde_json::Value::Number(n) => {
                serde_json::from_value(serde_json::Value::String(js_number_string(n)))
                    .map(Some)
                    .map_err(D::Error::custom)
            }
            _ => Err(D::Error::custom(e)),
        },
    }
}

/// A JSON number as JavaScript's `String(n)` writes it: integers without a fraction, the
/// shortest decimal that reads back, exponents from `1e21` up and below `1e-6` with a sign.
pub fn js_number_string(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    js_float_string(n.as_f64().unwrap_or(f64::NAN))
}

/// A float as JavaScript's `String(f)` writes it (see [`js_number_string`]).
pub fn js_float_string(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let text = format!("{f:e}");
        return match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
            _ => text,
        };
    }
    format!("{f}")
}

/// One seed line: a flat object whose flags say which shape it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, V: Serialize",
    deserialize = "K: DeserializeOwned, V: DeserializeOwned"
))]
pub struct Line<K, V> {
    /// A digest line.
    #[serde(default, skip_serializing_if = "is_false")]
    pub digest: bool,
    /// The last line of a digest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub done: bool,
    /// A digest that answers one (the second half of push-pull).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reply: bool,
    /// The digest's hash instead of its entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<u64>,
    /// A reset line.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
    /// The key of an update (a JSON number is read as its JavaScript string form when the key
    /// type does not read numbers).
    #[serde(
        default,
        deserialize_with = "key_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub key: Option<K>,
    /// The value of an update (present even when null; absent for a delete).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<V>,
    /// A delete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// The source of a digest entry as the seed's code names it (`id`; its README says
    /// `source_id`). Digest lines carry both, so either kind of seed peer reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<NodeId>,
    /// The source of an update or digest entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<NodeId>,
    /// The version of an update or digest entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// The timestamp of an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Millis>,
    /// The version the receiver holds from the source just before this update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Version>,
    /// On the last update of a run: the sender holds nothing else from the source up to this
    /// version (see [`Run::through`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<Version>,
    /// A reset's watermarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermarks: Option<Vec<(NodeId, Version)>>,
    /// A reset's floors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floors: Option<Vec<(NodeId, Version)>>,
    /// A reset's entries, each an update line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<Line<K, V>>>,
}

impl<K, V> Default for Line<K, V> {
    fn default() -> Self {
        Line {
            digest: false,
            done: false,
            reply: false,
            hash: None,
            reset: false,
            key: None,
            value: None,
            deleted: false,
            id: None,
            source_id: None,
            version: None,
            timestamp: None,
            prev: None,
            through: None,
            watermarks: None,
            floors: None,
            entries: None,
        }
    }
}

fn update_line<K: Clone, V: Clone>(u: &Update<K, V>, prev: Option<Version>) -> Line<K, V> {
    Line {
        key: Some(u.key.clone()),
        value: u.value.clone(),
        deleted: u.value.is_none(),
        source_id: Some(u.source_id.clone()),
        version: Some(u.version),
        timestamp: Some(u.timestamp),
        prev,
        ..Line::default()
    }
}

fn missing(field: &str, kind: &str) -> DecodeError {
    DecodeError::Malformed(format!("{kind} without `{field}`"))
}

/// An update line's update, `prev` and `through`.
type UpdateLine<K, V> = (Update<K, V>, Option<Version>, Option<Version>);

fn update_from_line<K, V>(
    line: Line<K, V>,
    dialect: Dialect,
) -> Result<UpdateLine<K, V>, DecodeError> {
    let Line {
        key,
        value,
        deleted,
        source_id,
        version,
        timestamp,
        prev,
        through,
        ..
    } = line;
    match (&value, deleted) {
        // The seed's history keeps no `deleted` flag: a delete it relays has no value.
        (None, false) if dialect == Dialect::Seed => {}
        (None, false) => return Err(missing("value", "update")),
        (Some(_), true) => {
            return Err(DecodeError::Malformed(
                "update is both deleted and has a value".into(),
            ))
        }
        _ => {}
    }
    let update = Update {
        key: key.ok_or_else(|| missing("key", "update"))?,
        value,
        source_id: source_id.ok_or_else(|| missing("source_id", "update"))?,
        version: version.ok_or_else(|| missing("version", "update"))?,
        timestamp: timestamp.unwrap_or(0),
        // The seed's lines carry no signatures.
        signature: None,
    };
    Ok((update, prev, through))
}

/// Splits a message into seed lines, in sending order.
pub fn split<K: Clone, V: Clone>(msg: &Message<K, V>) -> Vec<Line<K, V>> {
    let mut lines = Vec::new();
    if let Some(news) = msg.news() {
        match news {
            News::Updates(runs) => {
                // A run without updates has no seed shape: it only raises a watermark, and the
                // next exchange sends it again.
                for run in runs {
                    let mut prev = run.prev;
                    for u in &run.updates {
                        lines.push(update_line(u, prev));
                        prev = Some(u.version);
                    }
                    if let Some(last) = lines.last_mut().filter(|_| !run.updates.is_empty()) {
                        last.through = run.through;
                    }
                }
            }
            News::Reset(reset) => lines.push(Line {
                reset: true,
                watermarks: Some(reset.watermarks.clone()),
                floors: Some(reset.floors.clone()),
                entries: Some(reset.entries.iter().map(|u| update_line(u, None)).collect()),
                ..Line::default()
            }),
        }
    }
    if let Some(digest) = msg.digest() {
        let reply = matches!(msg, Message::SynAck { .. });
        match digest {
            Digest::Full(entries) => {
                for (source, version) in entries {
                    lines.push(Line {
                        digest: true,
                        reply,
                        id: Some(source.clone()),
                        source_id: Some(source.clone()),
                        version: Some(*version),
                        ..Line::default()
                    });
                }
                lines.push(Line {
                    digest: true,
                    done: true,
                    reply,
                    ..Line::default()
                });
            }
            Digest::Hash(h) => lines.push(Line {
                digest: true,
                done: true,
                reply,
                hash: Some(*h),
                ..Line::default()
            }),
        }
    }
    lines
}

/// Which peers' lines a [`Joiner`] reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// Scuttle's full JSON lines: every digest ends with `done`, a delete says `deleted`.
    #[default]
    Scuttle,
    /// Also what the seed's JavaScript code really sends (see the [module docs](self)): a
    /// repeated digest source ends the digest, an update without `value` is a delete.
    Seed,
}

/// Joins seed lines back into whole messages.
///
/// A digest's lines become a `Syn` (a `SynAck` with no news when marked `reply`); consecutive
/// update lines become one `Ack`, handed over when a line of another kind arrives or on
/// [`flush`](Self::flush). Applying that `Ack` and then the `SynAck` is the same as applying
/// the `SynAck` the sender split.
#[derive(Debug)]
pub struct Joiner<K, V> {
    max_digest: usize,
    /// Bytes a half-received digest may hold (its source ids and versions).
    max_digest_bytes: usize,
    digest_bytes: usize,
    dialect: Dialect,
    digest: Vec<(NodeId, Version)>,
    /// The sources of `digest` (seed dialect: a repeat starts the next digest).
    digest_sources: HashSet<NodeId>,
    digest_reply: bool,
    runs: Vec<Run<K, V>>,
    ready: VecDeque<Message<K, V>>,
}

impl<K, V> Joiner<K, V> {
    /// A joiner refusing digests of more than `max_digest` entries, reading scuttle's lines
    /// ([`Dialect::Scuttle`]).
    pub fn new(max_digest: usize) -> Self {
        Joiner {
            max_digest,
            max_digest_bytes: usize::MAX,
            digest_bytes: 0,
            dialect: Dialect::Scuttle,
            digest: Vec::new(),
            digest_sources: HashSet::new(),
            digest_reply: false,
            runs: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// Also refuses a digest whose source ids and versions pass `max` bytes in all (counting
    /// 8 bytes per version): a digest arrives one line per source, so the entry count alone
    /// would let long ids pin `max_digest` times a line's size.
    pub fn with_max_digest_bytes(mut self, max: usize) -> Self {
        self.max_digest_bytes = max;
        self
    }

    /// Reads `dialect`.
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// The dialect read.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether a digest has begun and not ended.
    pub fn has_partial_digest(&self) -> bool {
        !self.digest.is_empty()
    }

    /// Ends a half-received digest as if its `done` had come (an implicit `done`: the seed's
    /// `gossip()` never sends one past about `mtu + 2` sources). A transport calls it after an
    /// idle pause; the message it makes waits in [`pop`](Self::pop), after any updates.
    pub fn finish_digest(&mut self) -> Option<Message<K, V>> {
        if self.has_partial_digest() {
            self.flush_updates();
            let reply = self.digest_reply;
            self.end_digest(reply, None);
        }
        self.pop()
    }

    fn end_digest(&mut self, reply: bool, hash: Option<u64>) {
        let digest = match hash {
            Some(h) => Digest::Hash(h),
            None => Digest::Full(std::mem::take(&mut self.digest)),
        };
        self.digest.clear();
        self.digest_sources.clear();
        self.digest_bytes = 0;
        self.digest_reply = false;
        self.ready.push_back(if reply {
            Message::SynAck {
                news: News::default(),
                digest,
            }
        } else {
            Message::Syn { digest }
        });
    }

    fn push_digest_entry(&mut self, line: Line<K, V>) -> Result<(), DecodeError> {
        let source = line
            .source_id
            .or(line.id)
            .ok_or_else(|| missing("source_id", "digest"))?;
        let version = line.version.ok_or_else(|| missing("version", "digest"))?;
        if self.dialect == Dialect::Seed && self.digest_sources.contains(&source) {
            // The seed's next round has begun: the last one never got its `done`.
            let reply = self.digest_reply;
            self.end_digest(reply, None);
        }
        if self.digest.len() >= self.max_digest {
            self.drop_digest();
            return Err(DecodeError::Malformed(format!(
                "digest names more than {} sources",
                self.max_digest
            )));
        }
        let bytes = self.digest_bytes.saturating_add(source.as_str().len() + 8);
        if bytes > self.max_digest_bytes {
            self.drop_digest();
            return Err(DecodeError::FrameTooLarge {
                len: bytes,
                max: self.max_digest_bytes,
            });
        }
        self.digest_bytes = bytes;
        if self.dialect == Dialect::Seed {
            self.digest_sources.insert(source.clone());
        }
        if self.digest.is_empty() {
            self.digest_reply = line.reply;
        }
        self.digest.push((source, version));
        Ok(())
    }

    /// Forgets a half-received digest that broke a bound.
    fn drop_digest(&mut self) {
        self.digest.clear();
        self.digest_sources.clear();
        self.digest_bytes = 0;
    }

    /// Adds one line. Whole messages it completes wait in [`pop`](Self::pop).
    pub fn push(&mut self, line: Line<K, V>) -> Result<Option<Message<K, V>>, DecodeError> {
        if line.digest {
            self.flush_updates();
            if line.done {
                self.end_digest(line.reply, line.hash);
            } else {
                self.push_digest_entry(line)?;
            }
        } else if line.reset {
            self.flush_updates();
            let dialect = self.dialect;
            let entries = line
                .entries
                .ok_or_else(|| missing("entries", "reset"))?
                .into_iter()
                .map(|l| update_from_line(l, dialect).map(|(u, _, _)| u))
                .collect::<Result<_, _>>()?;
            self.ready.push_back(Message::Ack {
                news: News::Reset(Reset {
                    watermarks: line
                        .watermarks
                        .ok_or_else(|| missing("watermarks", "reset"))?,
                    floors: line.floors.unwrap_or_default(),
                    entries,
                }),
            });
        } else {
            let (update, prev, through) = update_from_line(line, self.dialect)?;
            let last = self.runs.last().and_then(|run| run.updates.last());
            // An update without `prev` extends the run only while versions ascend: a seed
            // answering two digests in a row sends the same updates twice, and each answer
            // is a run of its own (the repeats are duplicates, not a broken run).
            let extends = match prev {
                None => last.is_some_and(|u| u.version < update.version),
                Some(_) => prev == last.map(|u| u.version),
            };
            match self.runs.last_mut() {
                Some(run) if run.source == update.source_id && run.through.is_none() && extends => {
                    run.updates.push(update);
                    run.through = through;
                }
                _ => self.runs.push(Run {
                    source: update.source_id.clone(),
                    prev,
                    updates: vec![update],
                    through,
                }),
            }
        }
        Ok(self.pop())
    }

    /// The next whole message joined so far.
    pub fn pop(&mut self) -> Option<Message<K, V>> {
        self.ready.pop_front()
    }

    /// Hands over the update lines joined so far as an `Ack`, then the next ready message.
    pub fn flush(&mut self) -> Option<Message<K, V>> {
        self.flush_updates();
        self.pop()
    }

    fn flush_updates(&mut self) {
        if !self.runs.is_empty() {
            let runs = std::mem::take(&mut self.runs);
            self.ready.push_back(Message::Ack {
                news: News::Updates(runs),
            });
        }
    }
}
