//! Persistence: what a node hands its store, and the trait a store implements.
//!
//! The core stays sans-IO: it never opens a file. A node with a store
//! ([`Gossip::with_store`](crate::Gossip::with_store)) decides every change first, hands the
//! store one [`Batch`] per command or message, and changes its memory (and queues events)
//! only after the store accepted the batch. So a `set` that returned, and an update event,
//! are durable as far as the store's [`commit`](Store::commit) is; a batch the store refused
//! changes nothing.
//!
//! What is kept: every key's current entry (live values and tombstones), the watermarks,
//! the floors of collected tombstones and the node's clock. Superseded updates (a replay
//! aid bounded by `max_history`) are not: a restart compacts them, which the protocol already
//! allows (`Run::prev` covers the holes).

use std::error::Error as StdError;
use std::fmt;

use crate::types::{Entry, NodeId, Update, Version};

/// One atomic change to persist, in order: `puts` (later puts of a key win over earlier
/// ones), then `removes`, then the watermarks, floors and clock (each only ever rises).
#[derive(Debug)]
pub struct Batch<'a, K, V> {
    /// Keys whose entry is now the update's (its key, value or tombstone, source, version,
    /// timestamp).
    pub puts: Vec<&'a Update<K, V>>,
    /// Keys forgotten (tombstones collected).
    pub removes: Vec<&'a K>,
    /// Watermarks raised to the given version.
    pub watermarks: Vec<(&'a NodeId, Version)>,
    /// Floors (highest collected tombstone version per source) raised to the given version.
    pub floors: Vec<(&'a NodeId, Version)>,
    /// The node's version (clock) after the batch.
    pub clock: Version,
}

impl<K, V> Batch<'_, K, V> {
    /// Whether the batch changes nothing but, at most, the clock.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty()
            && self.removes.is_empty()
            && self.watermarks.is_empty()
            && self.floors.is_empty()
    }
}

/// What a store holds, handed back when a node opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot<K, V> {
    /// Every key's current entry.
    pub entries: Vec<(K, Entry<V>)>,
    /// The watermarks.
    pub watermarks: Vec<(NodeId, Version)>,
    /// The floors.
    pub floors: Vec<(NodeId, Version)>,
    /// The node's version (clock).
    pub clock: Version,
}

impl<K, V> Default for Snapshot<K, V> {
    fn default() -> Self {
        Snapshot {
            entries: Vec::new(),
            watermarks: Vec::new(),
            floors: Vec::new(),
            clock: 0,
        }
    }
}

impl<K, V> Snapshot<K, V> {
    /// Whether the store held nothing (a new node).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.watermarks.iter().all(|(_, v)| *v == 0) && self.clock == 0
    }
}

/// A node's durable storage. Implementations: `scuttle-store`'s `RedbStore` (one crash-safe
/// file) and [`MemoryStore`] (tests and simulations: survives a simulated crash, not a real
/// one).
pub trait Store<K, V> {
    /// Everything the store holds. Called once, when a node opens it.
    fn load(&mut self) -> Result<Snapshot<K, V>, StoreError>;

    /// Persists `batch` atomically: all of it or nothing. When it returns `Ok`, the batch is
    /// as durable as the store promises (see the implementation's docs).
    fn commit(&mut self, batch: &Batch<'_, K, V>) -> Result<(), StoreError>;

    /// Makes every committed batch durable, for stores that group commits. Default: nothing
    /// to do.
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A store failed: the change it was asked to persist was not made, in memory either.
/// Cloning shares the error; two `StoreError`s are equal only if they are the same failure.
#[derive(Debug, Clone)]
pub struct StoreError(std::sync::Arc<dyn StdError + Send + Sync>);

impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for StoreError {}

impl StoreError {
    /// Wraps the store's own error.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StoreError(std::sync::Arc::from(error.into()))
    }

    /// The store's own error.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store failed: {}", self.0)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// A store in memory: it survives a simulated crash (drop the node, keep the store, open a
/// new node on it) but not a real one. Cloning shares the same data, so a test can keep a
/// handle while a node owns another.
#[derive(Debug)]
pub struct MemoryStore<K, V> {
    inner: std::sync::Arc<std::sync::Mutex<Snapshot<K, V>>>,
    /// Commits left before every later commit fails (tests of store failures).
    fail_after: Option<usize>,
}

impl<K, V> Clone for MemoryStore<K, V> {
    fn clone(&self) -> Self {
        MemoryStore {
            inner: self.inner.clone(),
            fail_after: self.fail_after,
        }
    }
}

impl<K, V> Default for MemoryStore<K, V> {
    fn default() -> Self {
        MemoryStore {
            inner: Default::default(),
            fail_after: None,
        }
    }
}

impl<K, V> MemoryStore<K, V> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A handle whose commits fail once `commits` more have succeeded (for tests).
    pub fn failing_after(&self, commits: usize) -> Self {
        MemoryStore {
            inner: self.inner.clone(),
            fail_after: Some(commits),
        }
    }
}

/// The error of a [`MemoryStore`] told to fail.
#[derive(Debug, thiserror::Error)]
#[error("memory store told to fail")]
pub struct InjectedFailure;

impl<K: Clone + Eq + std::hash::Hash, V: Clone> Store<K, V> for MemoryStore<K, V> {
    fn load(&mut self) -> Result<Snapshot<K, V>, StoreError> {
        let data = self.inner.lock().map_err(|_| StoreError::new("poisoned"))?;
        Ok(data.clone())
    }

    fn commit(&mut self, batch: &Batch<'_, K, V>) -> Result<(), StoreError> {
        if let Some(left) = self.fail_after.as_mut() {
            if *left == 0 {
                return Err(StoreError::new(InjectedFailure));
            }
            *left -= 1;
        }
        let mut data = self.inner.lock().map_err(|_| StoreError::new("poisoned"))?;
        let snap = &mut *data;
        // Index the entries by key for this batch (small batches, simple code).
        let mut index: std::collections::HashMap<K, usize> = snap
            .entries
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        for u in &batch.puts {
            let entry = u.to_entry();
            match index.get(&u.key) {
                Some(&i) => snap.entries[i].1 = entry,
                None => {
                    index.insert(u.key.clone(), snap.entries.len());
                    snap.entries.push((u.key.clone(), entry));
                }
            }
        }
        if !batch.removes.is_empty() {
            let gone: std::collections::HashSet<&K> = batch.removes.iter().copied().collect();
            snap.entries.retain(|(k, _)| !gone.contains(k));
        }
        raise_all(&mut snap.watermarks, &batch.watermarks);
        raise_all(&mut snap.floors, &batch.floors);
        snap.clock = snap.clock.max(batch.clock);
        Ok(())
    }
}

fn raise_all(held: &mut Vec<(NodeId, Version)>, raises: &[(&NodeId, Version)]) {
    for (source, version) in raises {
        match held.iter_mut().find(|(s, _)| s == *source) {
            Some((_, v)) => *v = (*v).max(*version),
            None => held.push(((*source).clone(), *version)),
        }
    }
}
