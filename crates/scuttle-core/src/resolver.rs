//! Conflict resolution: which of two updates of one key wins.
//!
//! Convergence needs the resolver to be a **total order on updates** per key (not only on
//! values): the state of every replica is then the maximum update it has seen, whatever the
//! order of delivery. Every built-in breaks ties by `(version, source_id)`, which are unique.
//! A resolver that is not a total order (for example "accept if the value is greater", which
//! leaves equal values from two sources tied) may leave replicas apart for good.

use std::cmp::Ordering;

use crate::types::{Entry, Update};

/// Decides whether an update replaces the current entry of its key.
pub trait Resolver<K, V> {
    /// Whether `update` (from a peer) wins over `current` (`None` when the key is unknown).
    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool;

    /// Whether a **local** write is allowed. Defaults to [`Resolver::accept`]; a resolver may
    /// be stricter with local writes (see [`StrictlyOrderedValues`]).
    fn accept_local(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        self.accept(current, update)
    }
}

impl<K, V, F> Resolver<K, V> for F
where
    F: Fn(Option<&Entry<V>>, &Update<K, V>) -> bool,
{
    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        self(current, update)
    }
}

impl<K, V> Resolver<K, V> for Box<dyn Resolver<K, V> + Send> {
    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        (**self).accept(current, update)
    }

    fn accept_local(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        (**self).accept_local(current, update)
    }
}

/// A boxed resolver, for bindings that pick the policy at run time.
pub type DynResolver<K, V> = Box<dyn Resolver<K, V> + Send>;

/// The update's `(version, source_id)` compared with the entry's: the tie-breaker of every
/// built-in resolver.
fn by_version<K, V>(current: &Entry<V>, update: &Update<K, V>) -> Ordering {
    (update.version, &update.source_id).cmp(&(current.version, &current.source_id))
}

/// Last writer wins: the higher `(version, source_id)` wins (the seed's `lww_vs_current_vers`).
///
/// ```
/// use scuttle_core::{Entry, LastWriterWins, NodeId, Resolver, Update};
/// let current = Entry { value: Some(1), version: 3, source_id: NodeId::from("a"), timestamp: 0 };
/// let newer = Update { key: "k", value: Some(0), source_id: NodeId::from("b"), version: 4, timestamp: 0 };
/// assert!(LastWriterWins.accept(Some(&current), &newer));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LastWriterWins;

impl<K, V> Resolver<K, V> for LastWriterWins {
    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        current.is_none_or(|c| by_version(c, update) == Ordering::Greater)
    }
}

/// Last writer wins by wall clock: the higher `(timestamp, version, source_id)` wins (the
/// seed's `lww_vs_clock`). Timestamps come from each writer's [`Clock`](crate::Clock).
#[derive(Clone, Copy, Debug, Default)]
pub struct LastWriterWinsClock;

impl<K, V> Resolver<K, V> for LastWriterWinsClock {
    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        current.is_none_or(|c| {
            update
                .timestamp
                .cmp(&c.timestamp)
                .then_with(|| by_version(c, update))
                == Ordering::Greater
        })
    }
}

/// Values only grow (the seed's `strictly_order_values`).
///
/// A peer's update wins when its `(value, version, source_id)` is higher than the current
/// entry's, so equal values from two sources still have one winner. A **local** write is
/// refused unless its value is strictly greater than the current value. Deletes rank below
/// every value: deleting a key that holds a value is refused, so this policy suits
/// counters and high-water marks, not data that must be removed.
#[derive(Clone, Copy, Debug, Default)]
pub struct StrictlyOrderedValues;

impl<K, V: Ord> Resolver<K, V> for StrictlyOrderedValues {
    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        current.is_none_or(|c| {
            update
                .value
                .cmp(&c.value)
                .then_with(|| by_version(c, update))
                == Ordering::Greater
        })
    }

    fn accept_local(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> bool {
        match current {
            None => true,
            Some(c) => update.value > c.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;

    fn entry(value: Option<i32>, version: u64, source: &str, ts: u64) -> Entry<i32> {
        Entry {
            value,
            version,
            source_id: NodeId::from(source),
            timestamp: ts,
        }
    }

    fn update(
        value: Option<i32>,
        version: u64,
        source: &str,
        ts: u64,
    ) -> Update<&'static str, i32> {
        Update {
            key: "k",
            value,
            source_id: NodeId::from(source),
            version,
            timestamp: ts,
        }
    }

    #[test]
    fn lww_orders_by_version_then_source() {
        let cur = entry(Some(1), 5, "b", 0);
        assert!(LastWriterWins.accept(None, &update(Some(0), 1, "a", 0)));
        assert!(LastWriterWins.accept(Some(&cur), &update(Some(0), 6, "a", 0)));
        assert!(!LastWriterWins.accept(Some(&cur), &update(Some(9), 4, "z", 0)));
        assert!(LastWriterWins.accept(Some(&cur), &update(Some(0), 5, "c", 0)));
        assert!(!LastWriterWins.accept(Some(&cur), &update(Some(0), 5, "a", 0)));
        // The same update again is not "newer".
        assert!(!LastWriterWins.accept(Some(&cur), &update(Some(1), 5, "b", 0)));
        // Deletes compete like any write.
        assert!(LastWriterWins.accept(Some(&cur), &update(None, 7, "a", 0)));
    }

    #[test]
    fn lww_clock_orders_by_timestamp_first() {
        let cur = entry(Some(1), 5, "b", 100);
        assert!(LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 1, "a", 101)));
        assert!(!LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 9, "z", 99)));
        assert!(LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 6, "a", 100)));
        assert!(LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 5, "c", 100)));
        assert!(!LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 5, "a", 100)));
    }

    #[test]
    fn strict_breaks_ties_between_equal_values() {
        let cur = entry(Some(7), 5, "b", 0);
        assert!(StrictlyOrderedValues.accept(Some(&cur), &update(Some(8), 1, "a", 0)));
        assert!(!StrictlyOrderedValues.accept(Some(&cur), &update(Some(6), 9, "z", 0)));
        // Equal values: the higher (version, source_id) wins, so replicas agree.
        assert!(StrictlyOrderedValues.accept(Some(&cur), &update(Some(7), 5, "c", 0)));
        assert!(!StrictlyOrderedValues.accept(Some(&cur), &update(Some(7), 5, "a", 0)));
        assert!(StrictlyOrderedValues.accept(Some(&cur), &update(Some(7), 6, "a", 0)));
        // Deletes rank below values.
        assert!(!StrictlyOrderedValues.accept(Some(&cur), &update(None, 9, "z", 0)));
    }

    #[test]
    fn strict_local_write_needs_a_greater_value() {
        let cur = entry(Some(7), 5, "b", 0);
        assert!(!StrictlyOrderedValues.accept_local(Some(&cur), &update(Some(7), 6, "a", 0)));
        assert!(StrictlyOrderedValues.accept_local(Some(&cur), &update(Some(8), 6, "a", 0)));
        assert!(StrictlyOrderedValues.accept_local(None, &update(Some(0), 1, "a", 0)));
        assert!(!StrictlyOrderedValues.accept_local(Some(&cur), &update(None, 6, "a", 0)));
    }

    #[test]
    fn closures_are_resolvers() {
        let never = |_: Option<&Entry<i32>>, _: &Update<&'static str, i32>| false;
        assert!(!never.accept(None, &update(Some(1), 1, "a", 0)));
        let boxed: DynResolver<&'static str, i32> = Box::new(LastWriterWins);
        assert!(boxed.accept(None, &update(Some(1), 1, "a", 0)));
    }
}
