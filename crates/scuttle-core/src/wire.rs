//! The compact binary (CBOR) form of messages, and its exact size.
//!
//! Every structure is a positional CBOR array; no field names go on the wire:
//!
//! | value | CBOR |
//! |---|---|
//! | `Syn` | `[0, digest]` |
//! | `SynAck` | `[1, news, digest]` |
//! | `Ack` | `[2, news]` |
//! | full digest | `[source, version, source, version, ...]` |
//! | digest hash | unsigned integer |
//! | news | `[0, run, run, ...]` (signed: `[2, run, ...]`) |
//! | reset | `[1, [source, version, ...], [source, floor, ...], [entry, ...]]` (signed: `[3, ...]`) |
//! | run | `[source, prev or null, item, item, ..., through?]` |
//! | item | `[key, version - previous, timestamp, value]` (a delete has no value) |
//! | signed item | `[key, version - previous, timestamp, signature, value]` |
//! | signature | 64-byte string (link = previous version), or `[previous - link, bytes]` |
//! | reset entry | `[key, source, version, timestamp, value]` (a delete has no value) |
//! | signed reset entry | `[key, source, version, timestamp, signature, value]` |
//!
//! News is signed (kinds 2 and 3) when every update it carries has a signature (64 bytes,
//! see [`crate::signing`]); otherwise no signature is sent. A signature covers a link (the
//! version of its source's previous write); in a run the link is, nearly always, the
//! previous item's version (or `prev` for the first), and then costs nothing. In a reset
//! entry the implied link is 0.
//!
//! In a run, each item's version is a delta from the previous item's (from `prev` for the
//! first), and each timestamp after the first is a signed delta from the previous one, so a
//! burst of writes costs a byte or two per version and timestamp.
//!
//! The `*_len` functions compute the encoded size without encoding, so the news builder can
//! fill a message to an exact byte budget; a test checks them against the encoder.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Deserializer, Serialize};

use crate::message::{Digest, Message, News, Reset, Run};
use crate::signing::Signature;
use crate::types::{Millis, NodeId, Update, UpdateRef, Version};

const SYN: u8 = 0;
const SYN_ACK: u8 = 1;
const ACK: u8 = 2;
const NEWS_UPDATES: u8 = 0;
const NEWS_RESET: u8 = 1;
const NEWS_SIGNED_UPDATES: u8 = 2;
const NEWS_SIGNED_RESET: u8 = 3;

/// Bytes a signature adds to an item or a reset entry whose link is the implied one (a
/// 64-byte CBOR byte string).
pub(crate) const SIGNATURE_WIRE_LEN: usize = 2 + crate::signing::SIGNATURE_LEN;

/// The most bytes a signature can add: `[link delta, bytes]` with a 9-byte delta.
pub(crate) const MAX_SIGNATURE_WIRE_LEN: usize = 1 + 9 + SIGNATURE_WIRE_LEN;

/// The bytes `update`'s signature adds to it on the wire, when the news is signed and the
/// link a reader infers is `implied` (the previous item's version in a run).
pub(crate) fn signature_len<K, V>(update: UpdateRef<'_, K, V>, implied: Version) -> usize {
    update
        .signature
        .map_or(0, |s| signature_wire_len(s, implied))
}

fn signature_wire_len(signature: &Signature, implied: Version) -> usize {
    match link_delta(signature, implied) {
        0 => SIGNATURE_WIRE_LEN,
        delta => 1 + int_len(delta) + SIGNATURE_WIRE_LEN,
    }
}

/// How far a signature's link lies below the implied one (negative: above).
fn link_delta(signature: &Signature, implied: Version) -> i128 {
    i128::from(implied) - i128::from(signature.link())
}

/// Whether `news` goes in its signed form: every update it carries is signed.
fn is_signed<K, V>(news: &News<K, V>) -> bool {
    !news.is_empty() && news.updates().all(|u| u.signature.is_some())
}

// ------------------------------------------------------------------ sizes

/// Bytes of a CBOR unsigned integer, or of the head of an array, map or string of that length.
pub(crate) fn uint_len(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Bytes of a CBOR integer of either sign.
pub(crate) fn int_len(i: i128) -> usize {
    if i >= 0 {
        uint_len(u64::try_from(i).unwrap_or(u64::MAX))
    } else {
        uint_len(u64::try_from(-1 - i).unwrap_or(u64::MAX))
    }
}

fn text_len(s: &str) -> usize {
    uint_len(s.len() as u64) + s.len()
}

/// Bytes of any serializable value in CBOR.
pub(crate) fn cbor_len<T: Serialize + ?Sized>(value: &T) -> usize {
    if let Some(len) = crate::cbor_len::fast_len(value) {
        return len;
    }
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail; a type whose `Serialize` fails is refused when encoded.
    let _ = ciborium::into_writer(value, &mut count);
    count.0
}

/// Bytes of a message header (`[tag, ...]` with `fields` fields after the tag).
pub(crate) fn message_head_len(fields: usize) -> usize {
    uint_len(fields as u64 + 1) + 1
}

/// Bytes of a digest.
pub(crate) fn digest_len(digest: &Digest) -> usize {
    match digest {
        Digest::Hash(h) => uint_len(*h),
        Digest::Full(entries) => pairs_len(entries),
    }
}

/// Bytes of one digest entry (source and version).
pub(crate) fn digest_entry_len(source: &NodeId, version: Version) -> usize {
    text_len(source.as_str()) + uint_len(version)
}

fn pairs_len(entries: &[(NodeId, Version)]) -> usize {
    uint_len(2 * entries.len() as u64)
        + entries
            .iter()
            .map(|(s, v)| text_len(s.as_str()) + uint_len(*v))
            .sum::<usize>()
}

/// Bytes of the head of a news list of `runs` runs (`[0, ...]`).
pub(crate) fn news_head_len(runs: usize) -> usize {
    uint_len(runs as u64 + 1) + 1
}

/// Bytes of a run's head and fixed fields (source, prev) for `elements` elements after them
/// (its items, plus one for `through`).
pub(crate) fn run_head_len(source: &NodeId, prev: Option<Version>, elements: usize) -> usize {
    uint_len(elements as u64 + 2) + text_len(source.as_str()) + prev.map_or(1, uint_len)
}

/// Bytes of one run item, given its key's and value's encoded sizes.
pub(crate) fn item_len(
    key_len: usize,
    version_delta: Version,
    timestamp: i128,
    value_len: Option<usize>,
) -> usize {
    1 + key_len + uint_len(version_delta) + int_len(timestamp) + value_len.unwrap_or(0)
}

/// The encoded size of a whole message, as [`encode`](crate::codec) writes it.
pub fn message_len<K: Serialize, V: Serialize>(msg: &Message<K, V>) -> usize {
    match msg {
        Message::Syn { digest } => message_head_len(1) + digest_len(digest),
        Message::SynAck { news, digest } => {
            message_head_len(2) + news_len(news) + digest_len(digest)
        }
        Message::Ack { news } => message_head_len(1) + news_len(news),
    }
}

pub(crate) fn news_len<K: Serialize, V: Serialize>(news: &News<K, V>) -> usize {
    let signed = is_signed(news);
    match news {
        News::Updates(runs) => {
            news_head_len(runs.len()) + runs.iter().map(|r| run_len(r, signed)).sum::<usize>()
        }
        News::Reset(reset) => {
            uint_len(4)
                + 1
                + pairs_len(&reset.watermarks)
                + pairs_len(&reset.floors)
                + uint_len(reset.entries.len() as u64)
                + reset
                    .entries
                    .iter()
                    .map(|u| {
                        entry_len(u)
                            + if signed {
                                signature_len(u.as_ref(), 0)
                            } else {
                                0
                            }
                    })
                    .sum::<usize>()
        }
    }
}

fn run_len<K: Serialize, V: Serialize>(run: &Run<K, V>, signed: bool) -> usize {
    let elements = run.updates.len() + usize::from(run.through.is_some());
    let mut len = run_head_len(&run.source, run.prev, elements);
    let mut last = (run.prev.unwrap_or(0), None);
    for u in &run.updates {
        let (vd, ts) = deltas(last, u.version, u.timestamp);
        len += item_len(
            cbor_len(&u.key),
            vd,
            ts,
            u.value.as_ref().map(|v| cbor_len(v)),
        );
        if signed {
            len += signature_len(u.as_ref(), last.0);
        }
        last = (u.version, Some(u.timestamp));
    }
    len + run.through.map_or(0, uint_len)
}

/// Bytes of a reset entry.
pub(crate) fn entry_len<K: Serialize, V: Serialize>(u: &Update<K, V>) -> usize {
    1 + cbor_len(&u.key)
        + text_len(u.source_id.as_str())
        + uint_len(u.version)
        + uint_len(u.timestamp)
        + u.value.as_ref().map_or(0, |v| cbor_len(v))
}

/// The version delta and timestamp field of an item at `(version, timestamp)` after
/// `(last version, last timestamp)` (no last timestamp: the first item of its run).
pub(crate) fn deltas(
    last: (Version, Option<Millis>),
    version: Version,
    timestamp: Millis,
) -> (Version, i128) {
    let vd = version.wrapping_sub(last.0);
    let ts = match last.1 {
        None => i128::from(timestamp),
        Some(prev) => i128::from(timestamp) - i128::from(prev),
    };
    (vd, ts)
}

// ------------------------------------------------------------------ serialize

impl<K: Serialize, V: Serialize> Serialize for Message<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Message::Syn { digest } => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&SYN)?;
                seq.serialize_element(digest)?;
                seq.end()
            }
            Message::SynAck { news, digest } => {
                let mut seq = s.serialize_seq(Some(3))?;
                seq.serialize_element(&SYN_ACK)?;
                seq.serialize_element(news)?;
                seq.serialize_element(digest)?;
                seq.end()
            }
            Message::Ack { news } => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&ACK)?;
                seq.serialize_element(news)?;
                seq.end()
            }
        }
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Digest::Hash(h) => s.serialize_u64(*h),
            Digest::Full(entries) => Pairs(entries).serialize(s),
        }
    }
}

struct Pairs<'a>(&'a [(NodeId, Version)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2 * self.0.len()))?;
        for (source, version) in self.0 {
            seq.serialize_element(source.as_str())?;
            seq.serialize_element(version)?;
        }
        seq.end()
    }
}

impl<K: Serialize, V: Serialize> Serialize for News<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            News::Updates(runs) => {
                let signed = is_signed(self);
                let mut seq = s.serialize_seq(Some(runs.len() + 1))?;
                seq.serialize_element(if signed {
                    &NEWS_SIGNED_UPDATES
                } else {
                    &NEWS_UPDATES
                })?;
                for run in runs {
                    seq.serialize_element(&RunOut { run, signed })?;
                }
                seq.end()
            }
            News::Reset(reset) => {
                let signed = is_signed(self);
                let mut seq = s.serialize_seq(Some(4))?;
                seq.serialize_element(if signed {
                    &NEWS_SIGNED_RESET
                } else {
                    &NEWS_RESET
                })?;
                seq.serialize_element(&Pairs(&reset.watermarks))?;
                seq.serialize_element(&Pairs(&reset.floors))?;
                seq.serialize_element(&Entries(&reset.entries, signed))?;
                seq.end()
            }
        }
    }
}

impl<K: Serialize, V: Serialize> Serialize for Run<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RunOut {
            run: self,
            signed: false,
        }
        .serialize(s)
    }
}

/// A run as it goes on the wire, with or without its signatures.
struct RunOut<'a, K, V> {
    run: &'a Run<K, V>,
    signed: bool,
}

impl<K: Serialize, V: Serialize> Serialize for RunOut<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let signed = self.signed;
        let this = self.run;
        let extra = usize::from(this.through.is_some());
        let mut seq = s.serialize_seq(Some(this.updates.len() + 2 + extra))?;
        seq.serialize_element(this.source.as_str())?;
        seq.serialize_element(&this.prev)?;
        let mut last = (this.prev.unwrap_or(0), None);
        for u in &this.updates {
            let (vd, ts) = deltas(last, u.version, u.timestamp);
            seq.serialize_element(&Item {
                key: &u.key,
                version_delta: vd,
                timestamp: ts,
                value: u.value.as_ref(),
                signature: u
                    .signature
                    .as_ref()
                    .filter(|_| signed)
                    .map(|s| SignatureOut(s, last.0)),
            })?;
            last = (u.version, Some(u.timestamp));
        }
        if let Some(through) = &this.through {
            seq.serialize_element(through)?;
        }
        seq.end()
    }
}

struct Item<'a, K, V> {
    key: &'a K,
    version_delta: Version,
    timestamp: i128,
    value: Option<&'a V>,
    signature: Option<SignatureOut<'a>>,
}

/// A signature as an item or reset entry carries it, with the link a reader infers
/// (`implied`): its bytes alone when the link is that one, else `[implied - link, bytes]`.
struct SignatureOut<'a>(&'a Signature, Version);

impl Serialize for SignatureOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.0.to_bytes();
        match link_delta(self.0, self.1) {
            0 => s.serialize_bytes(&bytes),
            delta => {
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&delta)?;
                seq.serialize_element(&SignatureBytesOut(&bytes))?;
                seq.end()
            }
        }
    }
}

struct SignatureBytesOut<'a>(&'a [u8]);

impl Serialize for SignatureBytesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<K: Serialize, V: Serialize> Serialize for Item<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = 3 + usize::from(self.value.is_some()) + usize::from(self.signature.is_some());
        let mut seq = s.serialize_seq(Some(len))?;
        seq.serialize_element(self.key)?;
        seq.serialize_element(&self.version_delta)?;
        seq.serialize_element(&self.timestamp)?;
        if let Some(signature) = &self.signature {
            seq.serialize_element(signature)?;
        }
        if let Some(v) = self.value {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

/// Reset entries, and whether they go with their signatures.
struct Entries<'a, K, V>(&'a [Update<K, V>], bool);

impl<K: Serialize, V: Serialize> Serialize for Entries<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for u in self.0 {
            seq.serialize_element(&Entry(u, self.1))?;
        }
        seq.end()
    }
}

struct Entry<'a, K, V>(&'a Update<K, V>, bool);

impl<K: Serialize, V: Serialize> Serialize for Entry<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.0;
        let signature = if self.1 { u.signature.as_ref() } else { None };
        let len = 4 + usize::from(u.value.is_some()) + usize::from(signature.is_some());
        let mut seq = s.serialize_seq(Some(len))?;
        seq.serialize_element(&u.key)?;
        seq.serialize_element(u.source_id.as_str())?;
        seq.serialize_element(&u.version)?;
        seq.serialize_element(&u.timestamp)?;
        if let Some(signature) = signature {
            seq.serialize_element(&SignatureOut(signature, 0))?;
        }
        if let Some(v) = &u.value {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

// ------------------------------------------------------------------ deserialize

fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    what: &'static str,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom(format_args!("missing {what}")))
}

fn end<'de, A: SeqAccess<'de>>(seq: &mut A, what: &'static str) -> Result<(), A::Error> {
    match seq.next_element::<IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::custom(format_args!("extra fields in {what}"))),
    }
}

struct MessageVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned> Visitor<'de> for MessageVisitor<K, V> {
    type Value = Message<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scuttle message [tag, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let tag: u8 = next(&mut seq, "message tag")?;
        let msg = match tag {
            SYN => Message::Syn {
                digest: next(&mut seq, "digest")?,
            },
            SYN_ACK => Message::SynAck {
                news: next(&mut seq, "news")?,
                digest: next(&mut seq, "digest")?,
            },
            ACK => Message::Ack {
                news: next(&mut seq, "news")?,
            },
            other => {
                return Err(de::Error::custom(format_args!(
                    "unknown message tag {other}"
                )))
            }
        };
        end(&mut seq, "message")?;
        Ok(msg)
    }
}

impl<'de, K: DeserializeOwned, V: DeserializeOwned> Deserialize<'de> for Message<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(MessageVisitor(PhantomData))
    }
}

struct DigestVisitor;

impl<'de> Visitor<'de> for DigestVisitor {
    type Value = Digest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a digest hash or a [source, version, ...] list")
    }

    fn visit_u64<E: de::Error>(self, h: u64) -> Result<Digest, E> {
        Ok(Digest::Hash(h))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Digest, A::Error> {
        PairsVisitor.visit_seq(seq).map(Digest::Full)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DigestVisitor)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Vec<(NodeId, Version)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [source, version, ...] list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Capacity from the peer's length is capped: the frame limit bounds the real count.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024) / 2);
        while let Some(source) = seq.next_element::<String>()? {
            let version: Version = next(&mut seq, "version after source")?;
            out.push((NodeId::from(source), version));
        }
        Ok(out)
    }
}

struct Pairs2(Vec<(NodeId, Version)>);

impl<'de> Deserialize<'de> for Pairs2 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(PairsVisitor).map(Pairs2)
    }
}

struct NewsVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned> Visitor<'de> for NewsVisitor<K, V> {
    type Value = News<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("news [kind, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kind: u8 = next(&mut seq, "news kind")?;
        match kind {
            NEWS_UPDATES => {
                let mut runs = Vec::new();
                while let Some(RunIn(run)) = seq.next_element::<RunIn<K, V, false>>()? {
                    runs.push(run);
                }
                Ok(News::Updates(runs))
            }
            NEWS_SIGNED_UPDATES => {
                let mut runs = Vec::new();
                while let Some(RunIn(run)) = seq.next_element::<RunIn<K, V, true>>()? {
                    runs.push(run);
                }
                Ok(News::Updates(runs))
            }
            NEWS_RESET | NEWS_SIGNED_RESET => {
                let Pairs2(watermarks) = next(&mut seq, "reset watermarks")?;
                let Pairs2(floors) = next(&mut seq, "reset floors")?;
                let entries = if kind == NEWS_SIGNED_RESET {
                    next::<_, ResetEntries<K, V, true>>(&mut seq, "reset entries")?.0
                } else {
                    next::<_, ResetEntries<K, V, false>>(&mut seq, "reset entries")?.0
                };
                end(&mut seq, "reset")?;
                Ok(News::Reset(Reset {
                    watermarks,
                    floors,
                    entries,
                }))
            }
            other => Err(de::Error::custom(format_args!("unknown news kind {other}"))),
        }
    }
}

impl<'de, K: DeserializeOwned, V: DeserializeOwned> Deserialize<'de> for News<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(NewsVisitor(PhantomData))
    }
}

/// A run read in its signed (`SIGNED`) or unsigned form.
struct RunIn<K, V, const SIGNED: bool>(Run<K, V>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Deserialize<'de>
    for RunIn<K, V, SIGNED>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RunVisitor::<K, V, SIGNED>(PhantomData))
            .map(RunIn)
    }
}

struct RunVisitor<K, V, const SIGNED: bool>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Visitor<'de>
    for RunVisitor<K, V, SIGNED>
{
    type Value = Run<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a run [source, prev, item, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let source = NodeId::from(next::<_, String>(&mut seq, "run source")?);
        let prev: Option<Version> = next(&mut seq, "run prev")?;
        let mut updates = Vec::new();
        let mut last: (Version, Option<Millis>) = (prev.unwrap_or(0), None);
        let mut through = None;
        while let Some(RunElemIn(elem)) = seq.next_element::<RunElemIn<K, V, SIGNED>>()? {
            let item = match elem {
                RunElem::Item(item) if through.is_none() => item,
                RunElem::Through(v) if through.is_none() => {
                    through = Some(v);
                    continue;
                }
                _ => return Err(de::Error::custom("a run's `through` must come last")),
            };
            let version = last
                .0
                .checked_add(item.version_delta)
                .ok_or_else(|| de::Error::custom("version overflows u64"))?;
            let timestamp = match last.1 {
                None => item.timestamp,
                Some(prev) => i128::from(prev) + item.timestamp,
            };
            let timestamp = u64::try_from(timestamp)
                .map_err(|_| de::Error::custom("timestamp out of range"))?;
            updates.push(Update {
                key: item.key,
                value: item.value,
                source_id: source.clone(),
                version,
                timestamp,
                signature: item.signature.map(|s| s.resolve(last.0)).transpose()?,
            });
            last = (version, Some(timestamp));
        }
        Ok(Run {
            source,
            prev,
            updates,
            through,
        })
    }
}

impl<'de, K: DeserializeOwned, V: DeserializeOwned> Deserialize<'de> for Run<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RunVisitor::<K, V, false>(PhantomData))
    }
}

/// An element of a run after its head: an update, or the final `through` version.
enum RunElem<K, V> {
    Item(ItemWire<K, V>),
    Through(Version),
}

struct RunElemIn<K, V, const SIGNED: bool>(RunElem<K, V>);

struct RunElemVisitor<K, V, const SIGNED: bool>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Visitor<'de>
    for RunElemVisitor<K, V, SIGNED>
{
    type Value = RunElem<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an update or a `through` version")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(RunElem::Through(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ItemVisitor::<K, V, SIGNED>(PhantomData)
            .visit_seq(seq)
            .map(RunElem::Item)
    }
}

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Deserialize<'de>
    for RunElemIn<K, V, SIGNED>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RunElemVisitor::<K, V, SIGNED>(PhantomData))
            .map(RunElemIn)
    }
}

struct ItemWire<K, V> {
    key: K,
    version_delta: Version,
    timestamp: i128,
    value: Option<V>,
    signature: Option<SignatureIn>,
}

/// A signature as read, its link still relative to the implied one.
struct SignatureIn {
    bytes: [u8; crate::signing::SIGNATURE_LEN],
    delta: i128,
}

impl SignatureIn {
    /// The signature, with its link `delta` below `implied`.
    fn resolve<E: de::Error>(self, implied: Version) -> Result<Signature, E> {
        let link = Version::try_from(i128::from(implied) - self.delta)
            .map_err(|_| E::custom("a signature's link is out of range"))?;
        Ok(Signature::new(self.bytes, link))
    }
}

impl<'de> Deserialize<'de> for SignatureIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SignatureIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signature: 64 bytes, or [link delta, 64 bytes]")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<SignatureIn, E> {
                let bytes = crate::signing::BytesVisitor.visit_bytes(v)?.0;
                Ok(SignatureIn { bytes, delta: 0 })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SignatureIn, A::Error> {
                let delta: i128 = next(&mut seq, "link delta")?;
                let bytes: crate::signing::SignatureBytes = next(&mut seq, "signature")?;
                end(&mut seq, "signature")?;
                Ok(SignatureIn {
                    bytes: bytes.0,
                    delta,
                })
            }
        }
        d.deserialize_any(V)
    }
}

struct ItemVisitor<K, V, const SIGNED: bool>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Visitor<'de>
    for ItemVisitor<K, V, SIGNED>
{
    type Value = ItemWire<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an update [key, version delta, timestamp, value?]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let key = next(&mut seq, "key")?;
        let version_delta = next(&mut seq, "version delta")?;
        let timestamp = next(&mut seq, "timestamp")?;
        let signature = if SIGNED {
            Some(next(&mut seq, "signature")?)
        } else {
            None
        };
        // A value that is itself null is a value: presence is the array's length.
        let value = seq.next_element()?;
        end(&mut seq, "update")?;
        Ok(ItemWire {
            key,
            version_delta,
            timestamp,
            value,
            signature,
        })
    }
}

struct ResetEntries<K, V, const SIGNED: bool>(Vec<Update<K, V>>);

struct EntriesVisitor<K, V, const SIGNED: bool>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Visitor<'de>
    for EntriesVisitor<K, V, SIGNED>
{
    type Value = Vec<Update<K, V>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reset entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(EntryWire(u)) = seq.next_element::<EntryWire<K, V, SIGNED>>()? {
            out.push(u);
        }
        Ok(out)
    }
}

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Deserialize<'de>
    for ResetEntries<K, V, SIGNED>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EntriesVisitor::<K, V, SIGNED>(PhantomData))
            .map(ResetEntries)
    }
}

struct EntryWire<K, V, const SIGNED: bool>(Update<K, V>);

struct EntryVisitor<K, V, const SIGNED: bool>(PhantomData<(K, V)>);

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Visitor<'de>
    for EntryVisitor<K, V, SIGNED>
{
    type Value = EntryWire<K, V, SIGNED>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a reset entry [key, source, version, timestamp, value?]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let key = next(&mut seq, "key")?;
        let source: String = next(&mut seq, "source")?;
        let version = next(&mut seq, "version")?;
        let timestamp = next(&mut seq, "timestamp")?;
        let signature = if SIGNED {
            Some(next::<_, SignatureIn>(&mut seq, "signature")?.resolve(0)?)
        } else {
            None
        };
        let value = seq.next_element()?;
        end(&mut seq, "reset entry")?;
        Ok(EntryWire(Update {
            key,
            value,
            source_id: NodeId::from(source),
            version,
            timestamp,
            signature,
        }))
    }
}

impl<'de, K: DeserializeOwned, V: DeserializeOwned, const SIGNED: bool> Deserialize<'de>
    for EntryWire<K, V, SIGNED>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(EntryVisitor::<K, V, SIGNED>(PhantomData))
    }
}
