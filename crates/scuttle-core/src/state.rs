//! The state: the winning entry of every key, in a slab indexed by a hash table.
//!
//! Each key is stored once, beside its entry; the hash table holds only slot numbers
//! (`hashbrown::HashTable`, the table behind `std::collections::HashMap`, used directly so a
//! slot number can stand for a key). History refers to a current update by its slot number,
//! so reading news walks no hash table and clones no key.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::HashTable;

use crate::types::Entry;

/// The position of a key in the state; stable while the key is held.
pub(crate) type SlotId = u32;

struct Slot<K, V> {
    hash: u64,
    key: K,
    entry: Entry<V>,
}

pub(crate) struct State<K, V> {
    index: HashTable<SlotId>,
    hasher: RandomState,
    /// Each key with its entry and its hash (kept so growing the table rehashes nothing).
    slots: Vec<Option<Slot<K, V>>>,
    free: Vec<SlotId>,
}

impl<K, V> Default for State<K, V> {
    fn default() -> Self {
        State {
            index: HashTable::new(),
            hasher: RandomState::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<K, V> State<K, V> {
    /// Number of keys held (tombstones included).
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }
}

impl<K: Hash + Eq, V> State<K, V> {
    fn find<Q>(&self, key: &Q) -> Option<SlotId>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find_hashed(self.hasher.hash_one(key), key)
    }

    fn find_hashed<Q>(&self, hash: u64, key: &Q) -> Option<SlotId>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index
            .find(
                hash,
                |&id| matches!(&self.slots[id as usize], Some(s) if s.hash == hash && s.key.borrow() == key),
            )
            .copied()
    }

    /// The hash the table files `key` under (to look it up or insert it more than once without
    /// hashing it again).
    pub(crate) fn hash_of<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// [`get`](Self::get) with the key's [`hash_of`](Self::hash_of).
    pub(crate) fn get_hashed<Q>(&self, hash: u64, key: &Q) -> Option<&Entry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find_hashed(hash, key)
            .and_then(|id| self.slot(id))
            .map(|(_, e)| e)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&Entry<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(key).and_then(|id| self.slot(id)).map(|(_, e)| e)
    }

    /// The key and entry in slot `id`.
    pub(crate) fn slot(&self, id: SlotId) -> Option<(&K, &Entry<V>)> {
        self.slots
            .get(id as usize)
            .and_then(Option::as_ref)
            .map(|s| (&s.key, &s.entry))
    }

    /// Makes `entry` the entry of `key`, whose [`hash_of`](Self::hash_of) is `hash`; returns
    /// its slot and the entry it replaced.
    pub(crate) fn insert_hashed(
        &mut self,
        hash: u64,
        key: K,
        entry: Entry<V>,
    ) -> (SlotId, Option<Entry<V>>) {
        if let Some(id) = self.find_hashed(hash, &key) {
            let slot = self.slots[id as usize].as_mut().map(|s| &mut s.entry);
            let old = slot.map(|e| std::mem::replace(e, entry));
            return (id, old);
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(Slot { hash, key, entry });
                id
            }
            None => {
                // More than 2^32 keys on one node is out of reach of its memory anyway.
                let id = SlotId::try_from(self.slots.len()).unwrap_or(SlotId::MAX);
                self.slots.push(Some(Slot { hash, key, entry }));
                id
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(hash, id, |&i| {
            slots[i as usize].as_ref().map_or(0, |s| s.hash)
        });
        (id, None)
    }

    /// Removes `key`; returns its slot and entry.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<(SlotId, K, Entry<V>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let found = self.index.find_entry(
            hash,
            |&id| matches!(&slots[id as usize], Some(s) if s.hash == hash && s.key.borrow() == key),
        );
        let (id, _) = found.ok()?.remove();
        let slot = self.slots[id as usize].take()?;
        self.free.push(id);
        Some((id, slot.key, slot.entry))
    }

    /// Every key and entry, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &Entry<V>)> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|s| (&s.key, &s.entry)))
    }
}
