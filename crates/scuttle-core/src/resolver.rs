//! Conflict resolution: which of two updates of one key wins.
//!
//! Convergence needs the resolver to be a **total order on updates** per key (not only on
//! values): the state of every replica is then the maximum update it has seen, whatever the
//! order of delivery. Every built-in breaks ties by `(version, source_id)`, which are unique.
//! A resolver that is not a total order (for example "accept if the value is greater", which
//! leaves equal values from two sources tied) may leave replicas apart for good.

use std::cmp::Ordering;
use std::convert::Infallible;

use crate::types::{Entry, Update};

/// Decides whether an update replaces the current entry of its key.
///
/// `accept` may fail (a Python exception, a C callback error): the core then refuses the
/// whole message or write that asked, and changes nothing. Built-in resolvers never fail
/// (`Error = Infallible`).
pub trait Resolver<K, V> {
    /// Why a decision could not be made.
    type Error;

    /// Whether `update` (from a peer) replaces `current` (`None`: the key is unknown here).
    fn accept(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Self::Error>;

    /// Whether a local write replaces `current`. Defaults to [`accept`](Self::accept).
    fn accept_local(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Self::Error> {
        self.accept(current, update)
    }
}

/// Any `Fn(current, update) -> bool` is an infallible resolver.
impl<K, V, F> Resolver<K, V> for F
where
    F: Fn(Option<&Entry<V>>, &Update<K, V>) -> bool,
{
    type Error = Infallible;

    fn accept(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Infallible> {
        Ok(self(current, update))
    }
}

/// A resolver from two fallible functions: one for remote updates, one for local writes.
pub struct TryResolver<F, L> {
    remote: F,
    local: L,
}

impl<F, L> TryResolver<F, L> {
    /// `remote` decides for updates from peers, `local` for local writes.
    pub fn new(remote: F, local: L) -> Self {
        TryResolver { remote, local }
    }
}

impl<K, V, E, F, L> Resolver<K, V> for TryResolver<F, L>
where
    F: Fn(Option<&Entry<V>>, &Update<K, V>) -> Result<bool, E>,
    L: Fn(Option<&Entry<V>>, &Update<K, V>) -> Result<bool, E>,
{
    type Error = E;

    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> Result<bool, E> {
        (self.remote)(current, update)
    }

    fn accept_local(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> Result<bool, E> {
        (self.local)(current, update)
    }
}

impl<K, V, E> Resolver<K, V> for Box<dyn Resolver<K, V, Error = E> + Send> {
    type Error = E;

    fn accept(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> Result<bool, E> {
        (**self).accept(current, update)
    }

    fn accept_local(&self, current: Option<&Entry<V>>, update: &Update<K, V>) -> Result<bool, E> {
        (**self).accept_local(current, update)
    }
}

/// A boxed resolver chosen at run time (the bindings use it); `E` is its error type.
pub type DynResolver<K, V, E = Infallible> = Box<dyn Resolver<K, V, Error = E> + Send>;

/// Wraps an infallible resolver into a [`DynResolver`] with any error type.
pub fn boxed<K, V, E, R>(resolver: R) -> DynResolver<K, V, E>
where
    R: Resolver<K, V, Error = Infallible> + Send + 'static,
    K: 'static,
    V: 'static,
    E: 'static,
{
    struct Lift<R, E>(R, std::marker::PhantomData<fn() -> E>);
    impl<K, V, E, R: Resolver<K, V, Error = Infallible>> Resolver<K, V> for Lift<R, E> {
        type Error = E;
        fn accept(&self, c: Option<&Entry<V>>, u: &Update<K, V>) -> Result<bool, E> {
            let Ok(b) = self.0.accept(c, u);
            Ok(b)
        }
        fn accept_local(&self, c: Option<&Entry<V>>, u: &Update<K, V>) -> Result<bool, E> {
            let Ok(b) = self.0.accept_local(c, u);
            Ok(b)
        }
    }
    Box::new(Lift(resolver, std::marker::PhantomData))
}

fn by_version<K, V>(current: &Entry<V>, update: &Update<K, V>) -> Ordering {
    (update.version, &update.source_id).cmp(&(current.version, &current.source_id))
}

/// Last writer wins: the higher `(version, source_id)` wins (as the seed's
/// `lww_vs_current_vers` means to; that one ranks the current entry as if this node wrote it).
///
/// ```
/// use scuttle_core::{Entry, LastWriterWins, NodeId, Resolver, Update};
/// let current = Entry { value: Some(1), version: 3, source_id: NodeId::from("a"), timestamp: 0, signature: None };
/// let newer = Update { key: "k", value: Some(0), source_id: NodeId::from("b"), version: 4, timestamp: 0, signature: None };
/// assert_eq!(LastWriterWins.accept(Some(&current), &newer), Ok(true));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct LastWriterWins;

impl<K, V> Resolver<K, V> for LastWriterWins {
    type Error = Infallible;

    fn accept(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Infallible> {
        Ok(current.is_none_or(|c| by_version(c, update) == Ordering::Greater))
    }
}

/// Last writer wins by wall clock: the higher `(timestamp, version, source_id)` wins.
/// Timestamps are the `now` each writer passed to [`Gossip::set`](crate::Gossip::set), so
/// the ranking is only as good as the writers' clocks agree.
///
/// It has no counterpart in the seed: the seed's `lww_vs_clock` compares an update's
/// *version* with the highest version its vector clock holds for the update's source (no
/// wall time at all), and the seed's code never calls its resolver anyway. The seed's updates
/// carry no timestamp: read by scuttle they have timestamp 0, so under this resolver a seed
/// write loses to every timestamped one. With seed peers use [`LastWriterWins`]; the CLI and
/// the Python binding warn when seed peers meet this resolver (see `docs/interop.md`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LastWriterWinsClock;

impl<K, V> Resolver<K, V> for LastWriterWinsClock {
    type Error = Infallible;

    fn accept(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Infallible> {
        Ok(current.is_none_or(|c| {
            update
                .timestamp
                .cmp(&c.timestamp)
                .then_with(|| by_version(c, update))
                == Ordering::Greater
        }))
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
    type Error = Infallible;

    fn accept(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Infallible> {
        Ok(current.is_none_or(|c| {
            update
                .value
                .cmp(&c.value)
                .then_with(|| by_version(c, update))
                == Ordering::Greater
        }))
    }

    fn accept_local(
        &self,
        current: Option<&Entry<V>>,
        update: &Update<K, V>,
    ) -> Result<bool, Infallible> {
        Ok(match current {
            None => true,
            Some(c) => update.value > c.value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;

    fn ok(r: Result<bool, Infallible>) -> bool {
        match r {
            Ok(b) => b,
        }
    }

    fn entry(value: Option<i32>, version: u64, source: &str, ts: u64) -> Entry<i32> {
        Entry {
            value,
            version,
            source_id: NodeId::from(source),
            timestamp: ts,
            signature: None,
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
            signature: None,
        }
    }

    #[test]
    fn lww_orders_by_version_then_source() {
        let cur = entry(Some(1), 5, "b", 0);
        assert!(ok(LastWriterWins.accept(None, &update(Some(0), 1, "a", 0))));
        assert!(ok(
            LastWriterWins.accept(Some(&cur), &update(Some(0), 6, "a", 0))
        ));
        assert!(!ok(
            LastWriterWins.accept(Some(&cur), &update(Some(9), 4, "z", 0))
        ));
        assert!(ok(
            LastWriterWins.accept(Some(&cur), &update(Some(0), 5, "c", 0))
        ));
        assert!(!ok(
            LastWriterWins.accept(Some(&cur), &update(Some(0), 5, "a", 0))
        ));
        // The same update again is not "newer".
        assert!(!ok(
            LastWriterWins.accept(Some(&cur), &update(Some(1), 5, "b", 0))
        ));
        // Deletes compete like any write.
        assert!(ok(
            LastWriterWins.accept(Some(&cur), &update(None, 7, "a", 0))
        ));
    }

    #[test]
    fn lww_clock_orders_by_timestamp_first() {
        let cur = entry(Some(1), 5, "b", 100);
        assert!(ok(
            LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 1, "a", 101))
        ));
        assert!(!ok(
            LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 9, "z", 99))
        ));
        assert!(ok(
            LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 6, "a", 100))
        ));
        assert!(ok(
            LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 5, "c", 100))
        ));
        assert!(!ok(
            LastWriterWinsClock.accept(Some(&cur), &update(Some(0), 5, "a", 100))
        ));
    }

    #[test]
    fn strict_breaks_ties_between_equal_values() {
        let cur = entry(Some(7), 5, "b", 0);
        assert!(ok(
            StrictlyOrderedValues.accept(Some(&cur), &update(Some(8), 1, "a", 0))
        ));
        assert!(!ok(
            StrictlyOrderedValues.accept(Some(&cur), &update(Some(6), 9, "z", 0))
        ));
        // Equal values: the higher (version, source_id) wins, so replicas agree.
        assert!(ok(
            StrictlyOrderedValues.accept(Some(&cur), &update(Some(7), 5, "c", 0))
        ));
        assert!(!ok(
            StrictlyOrderedValues.accept(Some(&cur), &update(Some(7), 5, "a", 0))
        ));
        assert!(ok(
            StrictlyOrderedValues.accept(Some(&cur), &update(Some(7), 6, "a", 0))
        ));
        // Deletes rank below values.
        assert!(!ok(
            StrictlyOrderedValues.accept(Some(&cur), &update(None, 9, "z", 0))
        ));
    }

    #[test]
    fn strict_local_write_needs_a_greater_value() {
        let cur = entry(Some(7), 5, "b", 0);
        assert!(!ok(
            StrictlyOrderedValues.accept_local(Some(&cur), &update(Some(7), 6, "a", 0))
        ));
        assert!(ok(
            StrictlyOrderedValues.accept_local(Some(&cur), &update(Some(8), 6, "a", 0))
        ));
        assert!(ok(
            StrictlyOrderedValues.accept_local(None, &update(Some(0), 1, "a", 0))
        ));
        assert!(!ok(
            StrictlyOrderedValues.accept_local(Some(&cur), &update(None, 6, "a", 0))
        ));
    }

    #[test]
    fn closures_are_resolvers() {
        let never = |_: Option<&Entry<i32>>, _: &Update<&'static str, i32>| false;
        assert!(!ok(never.accept(None, &update(Some(1), 1, "a", 0))));
        let boxed: DynResolver<&'static str, i32> = Box::new(LastWriterWins);
        assert!(ok(boxed.accept(None, &update(Some(1), 1, "a", 0))));
    }
}
