//! The updates a node can still replay as news, indexed per source by version.
//!
//! Each value is stored once per node: the current update of a key lives in the state and
//! history holds only its state slot; a superseded update (no longer the state of its key)
//! moves its value here, where compaction can drop it, oldest first.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;

use crate::sources::SourceMap;
use crate::state::{SlotId, State};
use crate::types::{Entry, Millis, NodeId, UpdateRef, Version};

/// What history holds for one `(source, version)`. Boxing the superseded case keeps the
/// common one (a current update: just its state slot) small.
#[derive(Debug, Clone)]
enum Slot<K, V> {
    /// The current update of the key in this state slot: key, value and timestamp are there.
    Current(SlotId),
    /// An update that lost its key to a later one.
    Superseded(Box<Superseded<K, V>>),
}

/// A superseded update, kept for replay until compaction drops it.
#[derive(Debug, Clone)]
struct Superseded<K, V> {
    key: K,
    value: Option<V>,
    timestamp: Millis,
}

/// Updates kept for replay; O(log n + k) news per source.
#[derive(Debug, Clone)]
pub(crate) struct History<K, V> {
    by_source: SourceMap<BTreeMap<Version, Slot<K, V>>>,
    superseded: BTreeSet<(Version, NodeId)>,
    len: usize,
}

impl<K, V> Default for History<K, V> {
    fn default() -> Self {
        History {
            by_source: SourceMap::default(),
            superseded: BTreeSet::new(),
            len: 0,
        }
    }
}

impl<K: Eq + Hash, V> History<K, V> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn superseded_len(&self) -> usize {
        self.superseded.len()
    }

    /// Updates from `source` above `since`, ascending; current updates read their value from
    /// `state`.
    pub(crate) fn news<'a>(
        &'a self,
        state: &'a State<K, V>,
        source: &str,
        since: Version,
    ) -> impl Iterator<Item = UpdateRef<'a, K, V>> + 'a {
        self.by_source
            .get_key_value(source)
            .into_iter()
            .flat_map(move |(source_id, m)| {
                m.range(since.saturating_add(1)..)
                    .filter_map(move |(&version, slot)| match slot {
                        Slot::Current(id) => state.slot(*id).map(|(key, e)| UpdateRef {
                            key,
                            value: e.value.as_ref(),
                            source_id,
                            version,
                            timestamp: e.timestamp,
                        }),
                        Slot::Superseded(s) => Some(UpdateRef {
                            key: &s.key,
                            value: s.value.as_ref(),
                            source_id,
                            version,
                            timestamp: s.timestamp,
                        }),
                    })
            })
    }

    /// How many updates from `source` are held above `since`.
    pub(crate) fn count_since(&self, source: &str, since: Version) -> usize {
        self.by_source
            .get(source)
            .map_or(0, |m| m.range(since.saturating_add(1)..).count())
    }

    /// Every source with at least one held update.
    pub(crate) fn sources(&self) -> impl Iterator<Item = &NodeId> {
        self.by_source.keys()
    }

    /// Records the current update of the key in state slot `id`.
    pub(crate) fn insert_current(&mut self, source: &NodeId, version: Version, id: SlotId) {
        let map = self.by_source.get_or_insert_with(source, BTreeMap::new);
        if map.insert(version, Slot::Current(id)).is_none() {
            self.len += 1;
        }
    }

    /// The update at `(old.source_id, old.version)` lost `key` to a later one: it keeps its
    /// value here from now on.
    pub(crate) fn supersede(&mut self, key: K, old: Entry<V>) {
        let Some(map) = self.by_source.get_mut(old.source_id.as_str()) else {
            return;
        };
        match map.remove(&old.version) {
            Some(Slot::Current(_)) => {
                map.insert(
                    old.version,
                    Slot::Superseded(Box::new(Superseded {
                        key,
                        value: old.value,
                        timestamp: old.timestamp,
                    })),
                );
                self.superseded.insert((old.version, old.source_id));
            }
            Some(other) => {
                map.insert(old.version, other);
            }
            None => {}
        }
    }

    pub(crate) fn remove(&mut self, source: &NodeId, version: Version) {
        let Some(map) = self.by_source.get_mut(source.as_str()) else {
            return;
        };
        if map.remove(&version).is_none() {
            return;
        }
        if map.is_empty() {
            self.by_source.remove(source.as_str());
        }
        self.superseded.remove(&(version, source.clone()));
        self.len -= 1;
    }

    /// Drops the oldest superseded updates until at most `max` updates are held or none
    /// superseded is left; returns how many were dropped.
    pub(crate) fn compact(&mut self, max: usize) -> usize {
        let mut dropped = 0;
        while self.len > max {
            let Some((version, source)) = self.superseded.pop_first() else {
                break;
            };
            self.remove(&source, version);
            dropped += 1;
        }
        dropped
    }

    /// Drops every superseded update whose key `forget` names.
    pub(crate) fn forget_superseded(&mut self, mut forget: impl FnMut(&K) -> bool) {
        let doomed: Vec<(Version, NodeId)> = self
            .superseded
            .iter()
            .filter(|(v, s)| {
                matches!(
                    self.by_source.get(s.as_str()).and_then(|m| m.get(v)),
                    Some(Slot::Superseded(s)) if forget(&s.key)
                )
            })
            .cloned()
            .collect();
        for (version, source) in doomed {
            self.remove(&source, version);
        }
    }
}
