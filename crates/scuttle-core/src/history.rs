//! The updates a node can still replay as news, indexed per source by version.
//!
//! Each value is stored once per node: the current update of a key lives in the state and
//! history holds only its state slot; a superseded update (no longer the state of its key)
//! moves its value here, where compaction can drop it, oldest first.

use std::collections::{BTreeSet, VecDeque};
use std::hash::Hash;

use crate::signing::Signature;
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

impl<K: Hash + Eq, V> Slot<K, V> {
    /// The update held here, as `source_id`'s at `version` (a current one reads its key and
    /// value from `state`).
    fn update<'a>(
        &'a self,
        state: &'a State<K, V>,
        source_id: &'a NodeId,
        version: Version,
    ) -> Option<UpdateRef<'a, K, V>> {
        match self {
            Slot::Current(id) => state.slot(*id).map(|(key, e)| UpdateRef {
                key,
                value: e.value.as_ref(),
                source_id,
                version,
                timestamp: e.timestamp,
                signature: e.signature.as_ref(),
            }),
            Slot::Superseded(s) => Some(UpdateRef {
                key: &s.key,
                value: s.value.as_ref(),
                source_id,
                version,
                timestamp: s.timestamp,
                signature: s.signature.as_ref(),
            }),
        }
    }
}

/// A superseded update, kept for replay until compaction drops it.
#[derive(Debug, Clone)]
struct Superseded<K, V> {
    key: K,
    value: Option<V>,
    timestamp: Millis,
    signature: Option<Signature>,
}

/// One source's updates, ascending by version. A source's news arrives in version order, so
/// an insert is almost always an append (O(1), where a `BTreeMap` walks from its root); a
/// removal leaves a hole, trimmed at the front and squeezed out once holes outnumber updates.
#[derive(Debug, Clone)]
struct Log<K, V> {
    entries: VecDeque<(Version, Option<Slot<K, V>>)>,
    live: usize,
}

impl<K, V> Default for Log<K, V> {
    fn default() -> Self {
        Log {
            entries: VecDeque::new(),
            live: 0,
        }
    }
}

impl<K, V> Log<K, V> {
    fn position(&self, version: Version) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&version, |(v, _)| *v)
    }

    /// Stores `slot` at `version`; returns whether the version was new.
    fn insert(&mut self, version: Version, slot: Slot<K, V>) -> bool {
        let at = match self.entries.back() {
            Some((last, _)) if *last < version => self.entries.len(),
            None => 0,
            Some(_) => match self.position(version) {
                Ok(i) => {
                    let new = self.entries[i].1.replace(slot).is_none();
                    self.live += usize::from(new);
                    return new;
                }
                Err(i) => i,
            },
        };
        self.entries.insert(at, (version, Some(slot)));
        self.live += 1;
        true
    }

    fn get(&self, version: Version) -> Option<&Slot<K, V>> {
        let i = self.position(version).ok()?;
        self.entries[i].1.as_ref()
    }

    fn get_mut(&mut self, version: Version) -> Option<&mut Slot<K, V>> {
        let i = self.position(version).ok()?;
        self.entries[i].1.as_mut()
    }

    fn remove(&mut self, version: Version) -> Option<Slot<K, V>> {
        let i = self.position(version).ok()?;
        let slot = self.entries[i].1.take()?;
        self.live -= 1;
        while matches!(self.entries.front(), Some((_, None))) {
            self.entries.pop_front();
        }
        while matches!(self.entries.back(), Some((_, None))) {
            self.entries.pop_back();
        }
        if self.entries.len() > 2 * self.live + 32 {
            self.entries.retain(|(_, s)| s.is_some());
        }
        Some(slot)
    }

    /// Held updates above `since`, ascending.
    fn since(&self, since: Version) -> impl Iterator<Item = (Version, &Slot<K, V>)> {
        let start = self.entries.partition_point(|(v, _)| *v <= since);
        self.entries
            .range(start..)
            .filter_map(|(v, s)| s.as_ref().map(|s| (*v, s)))
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }
}

/// Updates kept for replay; O(log n + k) news per source.
#[derive(Debug, Clone)]
pub(crate) struct History<K, V> {
    by_source: SourceMap<Log<K, V>>,
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
                m.since(since)
                    .filter_map(move |(version, slot)| slot.update(state, source_id, version))
            })
    }

    /// The update held at `(source, version)`, if history still holds it.
    pub(crate) fn find<'a>(
        &'a self,
        state: &'a State<K, V>,
        source: &str,
        version: Version,
    ) -> Option<UpdateRef<'a, K, V>> {
        let (source_id, log) = self.by_source.get_key_value(source)?;
        log.get(version)?.update(state, source_id, version)
    }

    /// How many updates from `source` are held above `since`.
    pub(crate) fn count_since(&self, source: &str, since: Version) -> usize {
        self.by_source
            .get(source)
            .map_or(0, |m| m.since(since).count())
    }

    /// Every source with at least one held update.
    pub(crate) fn sources(&self) -> impl Iterator<Item = &NodeId> {
        self.by_source.keys()
    }

    /// Records the current update of the key in state slot `id`.
    pub(crate) fn insert_current(&mut self, source: &NodeId, version: Version, id: SlotId) {
        let log = self.by_source.get_or_insert_with(source, Log::default);
        if log.insert(version, Slot::Current(id)) {
            self.len += 1;
        }
    }

    /// The update at `(old.source_id, old.version)` lost `key` to a later one: it keeps its
    /// value here from now on.
    pub(crate) fn supersede(&mut self, key: K, old: Entry<V>) {
        let Some(log) = self.by_source.get_mut(old.source_id.as_str()) else {
            return;
        };
        if let Some(slot @ Slot::Current(_)) = log.get_mut(old.version) {
            *slot = Slot::Superseded(Box::new(Superseded {
                key,
                value: old.value,
                timestamp: old.timestamp,
                signature: old.signature,
            }));
            self.superseded.insert((old.version, old.source_id));
        }
    }

    pub(crate) fn remove(&mut self, source: &NodeId, version: Version) {
        let Some(log) = self.by_source.get_mut(source.as_str()) else {
            return;
        };
        if log.remove(version).is_none() {
            return;
        }
        if log.is_empty() {
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

    /// [`compact`](Self::compact), dropping only superseded updates that `may_drop` allows
    /// (oldest first; the others stay) and none above `up_to` (so the scan stops there).
    pub(crate) fn compact_where(
        &mut self,
        max: usize,
        up_to: Version,
        mut may_drop: impl FnMut(&NodeId, Version) -> bool,
    ) -> usize {
        let excess = self.len.saturating_sub(max);
        if excess == 0 {
            return 0;
        }
        let doomed: Vec<(Version, NodeId)> = self
            .superseded
            .iter()
            .take_while(|(v, _)| *v <= up_to)
            .filter(|(v, s)| may_drop(s, *v))
            .take(excess)
            .cloned()
            .collect();
        for (version, source) in &doomed {
            self.remove(source, *version);
        }
        doomed.len()
    }

    /// Drops every superseded update whose key `forget` names.
    pub(crate) fn forget_superseded(
        &mut self,
        mut forget: impl FnMut(&NodeId, Version, &K) -> bool,
    ) {
        let doomed: Vec<(Version, NodeId)> = self
            .superseded
            .iter()
            .filter(|(v, source)| {
                matches!(
                    self.by_source.get(source.as_str()).and_then(|m| m.get(*v)),
                    Some(Slot::Superseded(s)) if forget(source, *v, &s.key)
                )
            })
            .cloned()
            .collect();
        for (version, source) in doomed {
            self.remove(&source, version);
        }
    }
}
