//! Rejoining after time away: which entries held from before have been heard again.
//!
//! While a node is not a member (declared down, partitioned for longer than the membership
//! kept it, stopped), the others may collect tombstones without it: it can come back holding
//! values whose deletes no longer exist anywhere, and since their versions are below every
//! member's watermark nothing would ever correct them. [`Gossip::rejoin`](crate::Gossip::rejoin)
//! starts its watermarks again from zero and keeps what it holds; everything the members
//! still hold comes back as news and is *heard*. An entry of source `s` at version `v` that
//! was not heard once the node's watermark for `s` has passed `v`, and every other member
//! holds `s` past `v`, was dropped by all of them (superseded by a delete since collected):
//! it is forgotten. An entry above what the members hold is this node's alone (a write made
//! while away): it stays, and spreads as usual.

use std::collections::{BTreeMap, HashMap};

use crate::types::{NodeId, Version};

/// Per source, the entries held at the rejoin and not heard again since.
#[derive(Debug, Clone)]
pub(crate) struct Rejoining<K> {
    unheard: HashMap<NodeId, BTreeMap<Version, K>>,
}

impl<K> Rejoining<K> {
    /// Starts from `entries`: `(source, version, key)` of every entry held.
    pub(crate) fn new(entries: impl IntoIterator<Item = (NodeId, Version, K)>) -> Self {
        let mut unheard: HashMap<NodeId, BTreeMap<Version, K>> = HashMap::new();
        for (source, version, key) in entries {
            unheard.entry(source).or_default().insert(version, key);
        }
        Rejoining { unheard }
    }

    /// `(source, version)` came again as news.
    pub(crate) fn heard(&mut self, source: &NodeId, version: Version) {
        if let Some(versions) = self.unheard.get_mut(source) {
            versions.remove(&version);
            if versions.is_empty() {
                self.unheard.remove(source);
            }
        }
    }

    /// The sources with entries not heard yet.
    pub(crate) fn sources(&self) -> impl Iterator<Item = &NodeId> {
        self.unheard.keys()
    }

    /// Takes out every unheard entry at or below `bound` of its source: `(source, version,
    /// key)`.
    pub(crate) fn take_due(
        &mut self,
        bound: &HashMap<NodeId, Version>,
    ) -> Vec<(NodeId, Version, K)> {
        let mut due = Vec::new();
        self.unheard.retain(|source, versions| {
            let Some(&bound) = bound.get(source) else {
                return true;
            };
            let above = match bound.checked_add(1) {
                Some(next) => versions.split_off(&next),
                None => BTreeMap::new(),
            };
            let below = std::mem::replace(versions, above);
            due.extend(below.into_iter().map(|(v, k)| (source.clone(), v, k)));
            !versions.is_empty()
        });
        due
    }

    /// Whether every entry held at the rejoin was heard or taken out.
    pub(crate) fn is_done(&self) -> bool {
        self.unheard.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heard_entries_are_never_due_and_due_ones_come_out_once() {
        let a = NodeId::from("a");
        let b = NodeId::from("b");
        let mut r = Rejoining::new([
            (a.clone(), 1, "x"),
            (a.clone(), 5, "y"),
            (a.clone(), 9, "z"),
            (b.clone(), 2, "w"),
        ]);
        r.heard(&a, 5);
        let bound = HashMap::from([(a.clone(), 6)]);
        assert_eq!(r.take_due(&bound), vec![(a.clone(), 1, "x")]);
        assert!(r.take_due(&bound).is_empty());
        let bound = HashMap::from([(a.clone(), Version::MAX), (b.clone(), 1)]);
        assert_eq!(r.take_due(&bound), vec![(a.clone(), 9, "z")]);
        assert!(!r.is_done(), "b's entry is above its bound");
        r.heard(&b, 2);
        assert!(r.is_done());
    }
}
