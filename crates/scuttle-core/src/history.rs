//! The updates a node can still replay as news, indexed per source by version.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::types::{NodeId, Update, Version};

/// Updates kept for replay. Each source's updates sit in a `BTreeMap` by version, so
/// [`History::news`] costs O(log n + k). Superseded updates (no longer the state of their key)
/// are tracked separately so compaction can drop the oldest without touching the latest
/// update of any key.
#[derive(Debug, Clone)]
pub struct History<K, V> {
    by_source: HashMap<NodeId, BTreeMap<Version, Update<K, V>>>,
    superseded: BTreeSet<(Version, NodeId)>,
    len: usize,
}

impl<K, V> Default for History<K, V> {
    fn default() -> Self {
        History {
            by_source: HashMap::new(),
            superseded: BTreeSet::new(),
            len: 0,
        }
    }
}

impl<K, V> History<K, V> {
    /// Number of updates held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no update is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of held updates that are no longer the state of their key.
    pub fn superseded_len(&self) -> usize {
        self.superseded.len()
    }

    /// Updates from `source` with a version above `since`, in ascending version.
    pub fn news<'a>(
        &'a self,
        source: &str,
        since: Version,
    ) -> impl Iterator<Item = &'a Update<K, V>> + Clone + 'a {
        self.by_source
            .get(source)
            .into_iter()
            .flat_map(move |m| m.range(since.saturating_add(1)..).map(|(_, u)| u))
    }

    /// Every source with at least one held update.
    pub fn sources(&self) -> impl Iterator<Item = &NodeId> {
        self.by_source.keys()
    }

    /// Every held update, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Update<K, V>> {
        self.by_source.values().flat_map(|m| m.values())
    }

    pub(crate) fn insert(&mut self, update: Update<K, V>) {
        let source = self.by_source.entry(update.source_id.clone()).or_default();
        if source.insert(update.version, update).is_none() {
            self.len += 1;
        }
    }

    pub(crate) fn mark_superseded(&mut self, source: &NodeId, version: Version) {
        if self
            .by_source
            .get(source)
            .is_some_and(|m| m.contains_key(&version))
        {
            self.superseded.insert((version, source.clone()));
        }
    }

    pub(crate) fn remove(&mut self, source: &NodeId, version: Version) -> Option<Update<K, V>> {
        let map = self.by_source.get_mut(source)?;
        let removed = map.remove(&version)?;
        if map.is_empty() {
            self.by_source.remove(source);
        }
        self.superseded.remove(&(version, source.clone()));
        self.len -= 1;
        Some(removed)
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
                self.by_source
                    .get(s)
                    .and_then(|m| m.get(v))
                    .is_some_and(|u| forget(&u.key))
            })
            .cloned()
            .collect();
        for (version, source) in doomed {
            self.remove(&source, version);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(source: &str, version: Version) -> Update<u32, u32> {
        Update {
            key: version as u32,
            value: Some(0),
            source_id: NodeId::from(source),
            version,
            timestamp: 0,
        }
    }

    #[test]
    fn news_is_per_source_and_ascending() {
        let mut h = History::default();
        for v in [5, 1, 3] {
            h.insert(up("a", v));
        }
        h.insert(up("b", 2));
        let got: Vec<_> = h.news("a", 1).map(|u| u.version).collect();
        assert_eq!(got, vec![3, 5]);
        assert_eq!(h.news("b", 0).count(), 1);
        assert_eq!(h.news("zz", 0).count(), 0);
        assert_eq!(h.news("a", u64::MAX).count(), 0);
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn compaction_drops_only_superseded_oldest_first() {
        let mut h = History::default();
        for v in 1..=6 {
            h.insert(up("a", v));
        }
        h.mark_superseded(&NodeId::from("a"), 4);
        h.mark_superseded(&NodeId::from("a"), 2);
        h.mark_superseded(&NodeId::from("a"), 9); // not held: ignored
        assert_eq!(h.compact(5), 1);
        let left: Vec<_> = h.news("a", 0).map(|u| u.version).collect();
        assert_eq!(left, vec![1, 3, 4, 5, 6]);
        // Only one superseded update is left, so the bound cannot be met.
        assert_eq!(h.compact(2), 1);
        assert_eq!(h.len(), 4);
        assert_eq!(h.superseded_len(), 0);
    }
}
