//! The conflict resolvers and news sorters a Python user can pick: the built-in ones by name,
//! or any Python callable.
//!
//! The core's [`Resolver`] and [`Sorter`] traits cannot fail, so an exception raised by a
//! Python callable is stashed in a shared cell and raised by the binding after the core call.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ciborium::Value;
use pyo3::prelude::*;
use scuttle_core::{
    Candidate, Entry, LastWriterWins, LastWriterWinsClock, Resolver, ScuttleBreadth, ScuttleDepth,
    Sorter, Update,
};

use crate::types::{PyEntry, PyUpdate};
use crate::value;

/// Shared between a [`PyResolver::Callable`] and the node that owns it (which also reaches
/// the callable through it for the garbage collector).
#[derive(Default)]
pub struct CallState {
    /// The callable (None once the garbage collector cleared the node: then it rejects).
    pub func: Option<Py<PyAny>>,
    /// Decisions computed ahead of a core call (see [`call_resolver`]); consumed first.
    pub preset: VecDeque<bool>,
    /// The first exception raised by the callable since the node last took it.
    pub error: Option<PyErr>,
}

/// Locks a mutex, ignoring poisoning (the data is a plain queue and an optional error).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A resolver picked from Python.
pub enum PyResolver {
    /// `"lww"`: higher `(version, source_id)` wins.
    Lww,
    /// `"lww_clock"`: higher `(timestamp, version, source_id)` wins.
    LwwClock,
    /// `"strict"`: higher `(value, version, source_id)` wins; a local write needs a strictly
    /// greater value. Values are ordered by [`value::cmp`].
    Strict,
    /// A Python callable `resolve(current: Entry | None, update: Update) -> bool`.
    Callable {
        /// The callable, preset decisions and the stashed exception.
        state: Arc<Mutex<CallState>>,
    },
}

fn by_version(current: &Entry<Value>, update: &Update<String, Value>) -> Ordering {
    (update.version, &update.source_id).cmp(&(current.version, &current.source_id))
}

/// Calls a Python resolver `func(current, update)`; its exception is returned.
pub fn call_resolver(
    py: Python<'_>,
    func: &Py<PyAny>,
    current: Option<&Entry<Value>>,
    update: &Update<String, Value>,
) -> PyResult<bool> {
    let current = match current {
        Some(e) => Some(PyEntry::from_entry(py, e)?),
        None => None,
    };
    let update = PyUpdate::from_update(py, update, 0)?;
    func.bind(py).call1((current, update))?.is_truthy()
}

impl PyResolver {
    /// The shared state of a callable resolver.
    pub fn state(&self) -> Option<&Arc<Mutex<CallState>>> {
        match self {
            PyResolver::Callable { state } => Some(state),
            _ => None,
        }
    }

    fn call_stashed(
        current: Option<&Entry<Value>>,
        update: &Update<String, Value>,
        state: &Mutex<CallState>,
    ) -> bool {
        Python::attach(|py| {
            let func = {
                let mut s = lock(state);
                if let Some(decision) = s.preset.pop_front() {
                    return decision;
                }
                match &s.func {
                    Some(f) if s.error.is_none() => f.clone_ref(py),
                    _ => return false,
                }
            };
            match call_resolver(py, &func, current, update) {
                Ok(d) => d,
                Err(e) => {
                    let mut s = lock(state);
                    if s.error.is_none() {
                        s.error = Some(e);
                    }
                    false
                }
            }
        })
    }
}

impl Resolver<String, Value> for PyResolver {
    fn accept(&self, current: Option<&Entry<Value>>, update: &Update<String, Value>) -> bool {
        match self {
            PyResolver::Lww => LastWriterWins.accept(current, update),
            PyResolver::LwwClock => LastWriterWinsClock.accept(current, update),
            PyResolver::Strict => current.is_none_or(|c| {
                value::cmp_opt(update.value.as_ref(), c.value.as_ref())
                    .then_with(|| by_version(c, update))
                    == Ordering::Greater
            }),
            PyResolver::Callable { state } => Self::call_stashed(current, update, state),
        }
    }

    fn accept_local(&self, current: Option<&Entry<Value>>, update: &Update<String, Value>) -> bool {
        match (self, current) {
            (PyResolver::Strict, None) => true,
            (PyResolver::Strict, Some(c)) => {
                value::cmp_opt(update.value.as_ref(), c.value.as_ref()) == Ordering::Greater
            }
            _ => self.accept(current, update),
        }
    }
}

/// A news sorter picked from Python.
pub enum PySorter {
    /// `"breadth"`: ascending version, ties by source id.
    Breadth,
    /// `"depth"`: sources with the most outstanding news first.
    Depth,
    /// A Python key callable over [`PyUpdate`]s: smaller keys go first (like `sorted(key=)`).
    Key {
        /// The callable and its stashed exception, shared with the node.
        state: Arc<Mutex<SortState>>,
    },
}

/// Shared between a [`PySorter::Key`] and the node that owns it.
#[derive(Default)]
pub struct SortState {
    /// The key callable (None once the garbage collector cleared the node: breadth order).
    pub func: Option<Py<PyAny>>,
    /// The first exception raised by the callable (or by comparing its keys).
    pub error: Option<PyErr>,
}

impl PySorter {
    fn sort_by_key(
        py: Python<'_>,
        func: &Py<PyAny>,
        news: &mut [Candidate<'_, String, Value>],
    ) -> PyResult<()> {
        let func = func.bind(py);
        let mut keyed = Vec::with_capacity(news.len());
        for (i, c) in news.iter().enumerate() {
            let update = PyUpdate::from_update(py, c.update, c.outstanding)?;
            keyed.push((func.call1((update,))?, i));
        }
        let mut failure: Option<PyErr> = None;
        keyed.sort_by(|(a, _), (b, _)| {
            if failure.is_some() {
                return Ordering::Equal;
            }
            let less = a.lt(b).and_then(|lt| Ok((lt, !lt && b.lt(a)?)));
            match less {
                Ok((true, _)) => Ordering::Less,
                Ok((false, true)) => Ordering::Greater,
                Ok((false, false)) => Ordering::Equal,
                Err(e) => {
                    failure = Some(e);
                    Ordering::Equal
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let order: Vec<usize> = keyed.iter().map(|(_, i)| *i).collect();
        let sorted: Vec<Candidate<'_, String, Value>> = oldest_per_slot(news, &order)
            .into_iter()
            .map(|i| Candidate {
                update: news[i].update,
                outstanding: news[i].outstanding,
            })
            .collect();
        for (slot, c) in news.iter_mut().zip(sorted) {
            *slot = c;
        }
        Ok(())
    }
}

/// Keeps the sorter's choice of *which source* gets each slot, but gives a source's slots its
/// candidates in ascending version: the i-th slot of a source carries its i-th oldest update.
///
/// The core documents this rule but (as of this writing) applies it only to the candidates
/// that survive the `mtu` cut, so a sorter that puts a newer update of a source before an
/// older one could make it send that newer update with a `prev` that skips the older one, and
/// the receiver would never get the older one. Reordering here keeps every prefix of the list
/// a per-source prefix, which the core handles correctly.
fn oldest_per_slot(news: &[Candidate<'_, String, Value>], order: &[usize]) -> Vec<usize> {
    let mut per_source: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in news.iter().enumerate() {
        per_source
            .entry(c.update.source_id.as_str())
            .or_default()
            .push(i);
    }
    let mut queues: HashMap<&str, VecDeque<usize>> = per_source
        .into_iter()
        .map(|(s, mut idx)| {
            idx.sort_by_key(|&i| news[i].update.version);
            (s, idx.into())
        })
        .collect();
    order
        .iter()
        .map(|&i| {
            queues
                .get_mut(news[i].update.source_id.as_str())
                .and_then(VecDeque::pop_front)
                .unwrap_or(i)
        })
        .collect()
}

impl Sorter<String, Value> for PySorter {
    fn sort(&self, news: &mut [Candidate<'_, String, Value>]) {
        match self {
            PySorter::Breadth => ScuttleBreadth.sort(news),
            PySorter::Depth => ScuttleDepth.sort(news),
            PySorter::Key { state } => Python::attach(|py| {
                let func = lock(state).func.as_ref().map(|f| f.clone_ref(py));
                let Some(func) = func else {
                    ScuttleBreadth.sort(news);
                    return;
                };
                if let Err(e) = Self::sort_by_key(py, &func, news) {
                    let mut s = lock(state);
                    if s.error.is_none() {
                        s.error = Some(e);
                    }
                    ScuttleBreadth.sort(news);
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scuttle_core::NodeId;

    fn up(source: &str, version: u64) -> Update<String, Value> {
        Update {
            key: format!("{source}{version}"),
            value: Some(Value::Null),
            source_id: NodeId::from(source),
            version,
            timestamp: 0,
        }
    }

    #[test]
    fn slots_of_a_source_carry_its_oldest_updates() {
        let ups = [up("z", 1), up("z", 2), up("b", 1), up("z", 3)];
        let news: Vec<Candidate<'_, String, Value>> = ups
            .iter()
            .map(|u| Candidate {
                update: u,
                outstanding: 0,
            })
            .collect();
        // The key put z3, b1, z2, z1: z keeps slots 0, 2 and 3, filled oldest first.
        let got = oldest_per_slot(&news, &[3, 2, 1, 0]);
        let versions: Vec<(&str, u64)> = got
            .iter()
            .map(|&i| (news[i].update.source_id.as_str(), news[i].update.version))
            .collect();
        assert_eq!(versions, [("z", 1), ("b", 1), ("z", 2), ("z", 3)]);
    }
}
