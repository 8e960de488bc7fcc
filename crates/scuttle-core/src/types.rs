//! The data every node stores and sends: node ids, versions, updates and entries.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::signing::Signature;

/// A version number. Versions are Lamport-style counters: `0` means "nothing seen",
/// the first write of a fresh node is version `1`.
pub type Version = u64;

/// Milliseconds since the Unix epoch, as the caller's clock reads them. The core never reads
/// a clock: every method that needs the time takes it as an argument.
pub type Millis = u64;

/// The identity of a node (a *source* of updates). Ordered, so ties between updates of equal
/// rank can be broken deterministically on every replica.
///
/// Cloning is cheap (a shared `Arc<str>`): one id is referenced by every update, entry and
/// watermark of its source, so a node stores each id's text once.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(Arc<str>);

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(NodeId::from)
    }
}

impl NodeId {
    /// Creates a node id from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        NodeId(Arc::from(id.into()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> Self {
        NodeId(Arc::from(s))
    }
}

impl From<String> for NodeId {
    fn from(s: String) -> Self {
        NodeId(Arc::from(s))
    }
}

impl From<&NodeId> for NodeId {
    fn from(s: &NodeId) -> Self {
        s.clone()
    }
}

impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One write: "source `source_id` set `key` to `value` at `version`".
///
/// `value: None` is a delete (a tombstone). A value that is itself "null" (for example
/// `serde_json::Value::Null`) is a value, not a delete.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Update<K, V> {
    /// The key written.
    pub key: K,
    /// The new value, or `None` for a delete.
    pub value: Option<V>,
    /// The node that made the write.
    pub source_id: NodeId,
    /// The source's version for this write; unique per source.
    pub version: Version,
    /// Milliseconds since the Unix epoch on the source's clock when it wrote (0 when unknown).
    pub timestamp: Millis,
    /// The source's signature over the update (see [`crate::signing`]); `None` where nodes
    /// do not sign.
    pub signature: Option<Signature>,
}

impl<K, V> Update<K, V> {
    /// A borrowed view of this update.
    pub fn as_ref(&self) -> UpdateRef<'_, K, V> {
        UpdateRef {
            key: &self.key,
            value: self.value.as_ref(),
            source_id: &self.source_id,
            version: self.version,
            timestamp: self.timestamp,
            signature: self.signature.as_ref(),
        }
    }

    /// Whether this update deletes its key.
    pub fn is_delete(&self) -> bool {
        self.value.is_none()
    }

    /// The entry this update leaves in the state when it wins.
    pub fn to_entry(&self) -> Entry<V>
    where
        V: Clone,
    {
        Entry {
            value: self.value.clone(),
            version: self.version,
            source_id: self.source_id.clone(),
            timestamp: self.timestamp,
            signature: self.signature.clone(),
        }
    }
}

/// What the state holds for a key: the winning update without its key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry<V> {
    /// The current value, or `None` when the key is deleted (a tombstone).
    pub value: Option<V>,
    /// The version of the winning update.
    pub version: Version,
    /// The source of the winning update.
    pub source_id: NodeId,
    /// The winning update's timestamp (milliseconds since the Unix epoch, source clock).
    pub timestamp: Millis,
    /// The source's signature over the winning update, kept to forward it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl<V> Entry<V> {
    /// Whether the key is deleted (the entry is a tombstone).
    pub fn is_deleted(&self) -> bool {
        self.value.is_none()
    }

    /// Rebuilds the update that produced this entry.
    pub fn to_update<K>(&self, key: K) -> Update<K, V>
    where
        V: Clone,
    {
        Update {
            key,
            value: self.value.clone(),
            source_id: self.source_id.clone(),
            version: self.version,
            timestamp: self.timestamp,
            signature: self.signature.clone(),
        }
    }
}

/// A borrowed update: what the core hands to sorters and getters without copying values.
#[derive(Debug, PartialEq, Eq)]
pub struct UpdateRef<'a, K, V> {
    /// The key written.
    pub key: &'a K,
    /// The new value, or `None` for a delete.
    pub value: Option<&'a V>,
    /// The node that made the write.
    pub source_id: &'a NodeId,
    /// The source's version for this write.
    pub version: Version,
    /// The source's clock when it wrote (milliseconds since the Unix epoch).
    pub timestamp: Millis,
    /// The source's signature, if it signs.
    pub signature: Option<&'a Signature>,
}

impl<K, V> Clone for UpdateRef<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for UpdateRef<'_, K, V> {}

impl<K: Clone, V: Clone> UpdateRef<'_, K, V> {
    /// An owned copy of the update.
    pub fn to_owned(&self) -> Update<K, V> {
        Update {
            key: self.key.clone(),
            value: self.value.cloned(),
            source_id: self.source_id.clone(),
            version: self.version,
            timestamp: self.timestamp,
            signature: self.signature.cloned(),
        }
    }
}
