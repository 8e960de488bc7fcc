//! The messages nodes exchange, and their wire shape.
//!
//! On the wire every message is one flat map in the seed's shapes, so the CBOR and JSON codecs
//! share one serde form:
//!
//! | message | shape |
//! |---|---|
//! | digest entry | `{"digest": true, "source_id": "a", "version": 3}` (+ `"reply": true`) |
//! | digest done | `{"digest": true, "done": true}` (+ `"reply": true`) |
//! | update | `{"key": .., "value": .., "source_id": "a", "version": 4, "timestamp": .., "prev": 3}` |
//! | delete | `{"key": .., "deleted": true, "source_id": "a", "version": 5, "prev": 4}` |
//! | reset | `{"reset": true, "watermarks": [["a", 5]], "floors": [["a", 2]], "entries": [..]}` |
//!
//! Fields a peer does not know are ignored; `prev`, `timestamp`, `reply` and `deleted` are
//! optional, so seed peers interoperate (their updates are trusted to arrive in order).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{DecodeError, ProtocolError};
use crate::types::{NodeId, Update, Version};

/// Version of the wire protocol; transports exchange it in their handshake.
pub const PROTOCOL_VERSION: u32 = 1;

/// One message of an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<K, V> {
    /// One digest entry: "the highest version I hold from `source_id` is `version`".
    Digest {
        /// The source.
        source_id: NodeId,
        /// The sender's watermark for that source.
        version: Version,
        /// Part of a digest sent in answer to the peer's digest (answer with news only).
        reply: bool,
    },
    /// The digest is complete: the receiver now sends its news (and, unless `reply`, its own
    /// digest marked as a reply).
    DigestDone {
        /// Whether this digest answers one (push-pull's second half).
        reply: bool,
    },
    /// News: one update the receiver lacks.
    Update {
        /// The update.
        update: Update<K, V>,
        /// The version the receiver is known to hold from the same source just before this
        /// update; the receiver skips the update if it holds less (an earlier one was lost).
        /// `None` (seed peers) trusts in-order delivery.
        prev: Option<Version>,
    },
    /// The sender collected tombstones the receiver has not seen, so it sends its whole state
    /// instead of incremental news for those deletes. See [`Reset`].
    Reset(Reset<K, V>),
}

/// A state-based catch-up, sent when a peer is behind a source's collected tombstones.
///
/// The receiver merges `entries` through its resolver, forgets every key it holds that the
/// sender has seen (entry version at or below the sender's watermark for its source) but no
/// longer holds, and raises its watermarks to the sender's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reset<K, V> {
    /// The sender's watermark for every source it knows.
    pub watermarks: Vec<(NodeId, Version)>,
    /// For each source, the highest version whose tombstones the sender collected.
    pub floors: Vec<(NodeId, Version)>,
    /// The sender's whole state, tombstones included.
    pub entries: Vec<Update<K, V>>,
}

impl<K, V> Message<K, V> {
    /// Checks the rules a decoded or hand-made message must follow.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Message::Update { update, prev } => validate_update(update, *prev),
            Message::Reset(reset) => reset
                .entries
                .iter()
                .try_for_each(|u| validate_update(u, None)),
            Message::Digest { .. } | Message::DigestDone { .. } => Ok(()),
        }
    }
}

fn validate_update<K, V>(
    update: &Update<K, V>,
    prev: Option<Version>,
) -> Result<(), ProtocolError> {
    if update.version == 0 {
        return Err(ProtocolError::ZeroVersion);
    }
    match prev {
        Some(prev) if prev >= update.version => Err(ProtocolError::PrevNotBelowVersion {
            version: update.version,
            prev,
        }),
        _ => Ok(()),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Deserializes a field that is present (even as `null`) to `Some`, so a null value stays a
/// value; an absent field falls back to `None` through `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The flat wire form of an update (used inside resets).
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, V: Serialize",
    deserialize = "K: DeserializeOwned, V: DeserializeOwned"
))]
struct WireUpdate<K, V> {
    key: K,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    value: Option<V>,
    #[serde(default, skip_serializing_if = "is_false")]
    deleted: bool,
    source_id: NodeId,
    version: Version,
    #[serde(default)]
    timestamp: u64,
}

/// The flat wire form shared by every message kind.
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, V: Serialize",
    deserialize = "K: DeserializeOwned, V: DeserializeOwned"
))]
pub(crate) struct Wire<K, V> {
    #[serde(default, skip_serializing_if = "is_false")]
    digest: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    done: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    reply: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    reset: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<K>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    value: Option<V>,
    #[serde(default, skip_serializing_if = "is_false")]
    deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_id: Option<NodeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prev: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watermarks: Option<Vec<(NodeId, Version)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    floors: Option<Vec<(NodeId, Version)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entries: Option<Vec<WireUpdate<K, V>>>,
}

impl<K, V> Default for Wire<K, V> {
    fn default() -> Self {
        Wire {
            digest: false,
            done: false,
            reply: false,
            reset: false,
            key: None,
            value: None,
            deleted: false,
            source_id: None,
            version: None,
            timestamp: None,
            prev: None,
            watermarks: None,
            floors: None,
            entries: None,
        }
    }
}

fn missing(field: &str, kind: &str) -> DecodeError {
    DecodeError::Malformed(format!("{kind} without `{field}`"))
}

fn update_from_parts<K, V>(
    key: K,
    value: Option<V>,
    deleted: bool,
    source_id: NodeId,
    version: Version,
    timestamp: u64,
) -> Result<Update<K, V>, DecodeError> {
    match (&value, deleted) {
        (None, false) => return Err(missing("value", "update")),
        (Some(_), true) => {
            return Err(DecodeError::Malformed(
                "update is both deleted and has a value".into(),
            ))
        }
        _ => {}
    }
    Ok(Update {
        key,
        value,
        source_id,
        version,
        timestamp,
    })
}

impl<K, V> From<&Update<K, V>> for WireUpdate<K, V>
where
    K: Clone,
    V: Clone,
{
    fn from(u: &Update<K, V>) -> Self {
        WireUpdate {
            key: u.key.clone(),
            value: u.value.clone(),
            deleted: u.value.is_none(),
            source_id: u.source_id.clone(),
            version: u.version,
            timestamp: u.timestamp,
        }
    }
}

impl<K: Clone, V: Clone> From<&Message<K, V>> for Wire<K, V> {
    fn from(msg: &Message<K, V>) -> Self {
        match msg {
            Message::Digest {
                source_id,
                version,
                reply,
            } => Wire {
                digest: true,
                reply: *reply,
                source_id: Some(source_id.clone()),
                version: Some(*version),
                ..Wire::default()
            },
            Message::DigestDone { reply } => Wire {
                digest: true,
                done: true,
                reply: *reply,
                ..Wire::default()
            },
            Message::Update { update, prev } => Wire {
                key: Some(update.key.clone()),
                value: update.value.clone(),
                deleted: update.value.is_none(),
                source_id: Some(update.source_id.clone()),
                version: Some(update.version),
                timestamp: Some(update.timestamp),
                prev: *prev,
                ..Wire::default()
            },
            Message::Reset(reset) => Wire {
                reset: true,
                watermarks: Some(reset.watermarks.clone()),
                floors: Some(reset.floors.clone()),
                entries: Some(reset.entries.iter().map(WireUpdate::from).collect()),
                ..Wire::default()
            },
        }
    }
}

impl<K, V> TryFrom<Wire<K, V>> for Message<K, V> {
    type Error = DecodeError;

    fn try_from(w: Wire<K, V>) -> Result<Self, DecodeError> {
        let msg = if w.digest && w.done {
            Message::DigestDone { reply: w.reply }
        } else if w.digest {
            Message::Digest {
                source_id: w.source_id.ok_or_else(|| missing("source_id", "digest"))?,
                version: w.version.ok_or_else(|| missing("version", "digest"))?,
                reply: w.reply,
            }
        } else if w.reset {
            let entries = w
                .entries
                .ok_or_else(|| missing("entries", "reset"))?
                .into_iter()
                .map(|e| {
                    update_from_parts(
                        e.key,
                        e.value,
                        e.deleted,
                        e.source_id,
                        e.version,
                        e.timestamp,
                    )
                })
                .collect::<Result<_, _>>()?;
            Message::Reset(Reset {
                watermarks: w.watermarks.ok_or_else(|| missing("watermarks", "reset"))?,
                floors: w.floors.unwrap_or_default(),
                entries,
            })
        } else {
            let update = update_from_parts(
                w.key.ok_or_else(|| missing("key", "update"))?,
                w.value,
                w.deleted,
                w.source_id.ok_or_else(|| missing("source_id", "update"))?,
                w.version.ok_or_else(|| missing("version", "update"))?,
                w.timestamp.unwrap_or(0),
            )?;
            Message::Update {
                update,
                prev: w.prev,
            }
        };
        msg.validate()?;
        Ok(msg)
    }
}
