//! A map keyed by source id that remembers the last source it was asked for.
//!
//! A node's writes, and the updates of one run, all name the same source one after the other;
//! checking the last position first (a string comparison) saves hashing the id on every
//! update. Only `&mut` lookups move the remembered position, so the map stays `Sync`.

use std::collections::HashMap;

use crate::types::NodeId;

#[derive(Debug, Clone)]
pub(crate) struct SourceMap<T> {
    entries: Vec<(NodeId, T)>,
    index: HashMap<NodeId, usize>,
    last: usize,
}

impl<T> Default for SourceMap<T> {
    fn default() -> Self {
        SourceMap {
            entries: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }
}

impl<T> SourceMap<T> {
    /// How many sources the map holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn position(&self, source: &str) -> Option<usize> {
        match self.entries.get(self.last) {
            Some((id, _)) if id.as_str() == source => Some(self.last),
            _ => self.index.get(source).copied(),
        }
    }

    pub(crate) fn get(&self, source: &str) -> Option<&T> {
        self.position(source).map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_key_value(&self, source: &str) -> Option<(&NodeId, &T)> {
        self.position(source).map(|i| {
            let (id, value) = &self.entries[i];
            (id, value)
        })
    }

    pub(crate) fn get_mut(&mut self, source: &str) -> Option<&mut T> {
        let i = self.position(source)?;
        self.last = i;
        Some(&mut self.entries[i].1)
    }

    pub(crate) fn get_or_insert_with(
        &mut self,
        source: &NodeId,
        make: impl FnOnce() -> T,
    ) -> &mut T {
        let i = match self.position(source.as_str()) {
            Some(i) => i,
            None => {
                self.entries.push((source.clone(), make()));
                self.index.insert(source.clone(), self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        self.last = i;
        &mut self.entries[i].1
    }

    pub(crate) fn remove(&mut self, source: &str) -> Option<T> {
        let i = self.index.remove(source)?;
        let (_, value) = self.entries.swap_remove(i);
        if let Some((moved, _)) = self.entries.get(i) {
            self.index.insert(moved.clone(), i);
        }
        self.last = 0;
        Some(value)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&NodeId, &T)> {
        self.entries.iter().map(|(id, value)| (id, value))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&NodeId, &mut T)> {
        self.entries.iter_mut().map(|(id, value)| (&*id, value))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &NodeId> {
        self.entries.iter().map(|(id, _)| id)
    }
}
