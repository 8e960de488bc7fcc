//! The conflict resolvers and news sorters a Python user can pick: the core's built-ins by name
//! ([`ResolverKind`], [`SorterKind`]), or any Python callable.
//!
//! The core's policies are fallible and decide before they commit, so a Python exception is
//! simply the policy's error: the core refuses the write or message and changes nothing, and
//! the binding raises the exception.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::PyTraverseError;
use scuttle_core::{
    Candidate, Entry, LastWriterWins, LastWriterWinsClock, Resolver, ResolverKind, ScuttleBreadth,
    ScuttleDepth, SortError, Sorter, SorterKind, StrictlyOrderedValues, Update,
};

use crate::types::{PyEntry, PyUpdate};
use crate::value::Value;

/// A Python callable shared between a policy inside the core and the node that owns it, so
/// the node can show it to the garbage collector and drop it when the collector clears the
/// node.
#[derive(Clone, Default)]
pub struct Callback(Arc<Mutex<Option<Py<PyAny>>>>);

impl Callback {
    /// Wraps a callable.
    pub fn new(func: Py<PyAny>) -> Self {
        Callback(Arc::new(Mutex::new(Some(func))))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Py<PyAny>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The callable (None once the garbage collector cleared the node).
    pub fn get(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.lock().as_ref().map(|f| f.clone_ref(py))
    }

    /// Drops the callable (`__clear__`).
    pub fn clear(&self) {
        self.lock().take();
    }

    /// Visits the callable (`__traverse__`); a busy lock is skipped (the node is not in use
    /// while the collector runs).
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(f) = self.0.try_lock() {
            visit.call(&*f)?;
        }
        Ok(())
    }
}

/// A resolver picked from Python.
///
/// The built-ins are dispatched here rather than boxed with `ResolverKind::boxed`: a
/// `#[pyclass]` must be `Sync`, and the core's boxed policies are only `Send`.
pub enum PyResolver {
    /// A built-in of the core, by name.
    Builtin(ResolverKind),
    /// A Python callable `resolve(current: Entry | None, update: Update) -> bool`.
    Callable(Callback),
}

impl PyResolver {
    fn call(
        func: &Callback,
        current: Option<&Entry<Value>>,
        update: &Update<String, Value>,
    ) -> PyResult<bool> {
        Python::attach(|py| {
            // A node the garbage collector cleared accepts nothing.
            let Some(func) = func.get(py) else {
                return Ok(false);
            };
            let current = current.map(|e| PyEntry::from_entry(py, e)).transpose()?;
            let update = PyUpdate::from_ref(py, update.as_ref(), 0)?;
            func.bind(py).call1((current, update))?.is_truthy()
        })
    }
}

/// The answer of an infallible built-in, with the resolver error type of the bindings.
fn infallible(r: Result<bool, std::convert::Infallible>) -> PyResult<bool> {
    let Ok(b) = r;
    Ok(b)
}

impl Resolver<String, Value> for PyResolver {
    type Error = PyErr;

    fn accept(
        &self,
        current: Option<&Entry<Value>>,
        update: &Update<String, Value>,
    ) -> PyResult<bool> {
        match self {
            PyResolver::Builtin(ResolverKind::LastWriterWins) => {
                infallible(LastWriterWins.accept(current, update))
            }
            PyResolver::Builtin(ResolverKind::LastWriterWinsClock) => {
                infallible(LastWriterWinsClock.accept(current, update))
            }
            PyResolver::Builtin(ResolverKind::StrictlyOrderedValues) => {
                infallible(StrictlyOrderedValues.accept(current, update))
            }
            PyResolver::Callable(func) => Self::call(func, current, update),
        }
    }

    fn accept_local(
        &self,
        current: Option<&Entry<Value>>,
        update: &Update<String, Value>,
    ) -> PyResult<bool> {
        match self {
            PyResolver::Builtin(ResolverKind::StrictlyOrderedValues) => {
                infallible(StrictlyOrderedValues.accept_local(current, update))
            }
            _ => self.accept(current, update),
        }
    }
}

/// A news sorter picked from Python (built-ins dispatched here, as for [`PyResolver`]).
pub enum PySorter {
    /// A built-in of the core, by name.
    Builtin(SorterKind),
    /// A Python key callable over [`PyUpdate`]s: smaller keys go first (like `sorted(key=)`).
    Key(Callback),
}

/// Sorts `news` stably by the Python key `func` gives each candidate.
fn sort_by_key(
    py: Python<'_>,
    func: &Py<PyAny>,
    news: &mut [Candidate<'_, String, Value>],
) -> PyResult<()> {
    let func = func.bind(py);
    let mut keyed = Vec::with_capacity(news.len());
    for (i, c) in news.iter().enumerate() {
        let update = PyUpdate::from_ref(py, c.update, c.outstanding)?;
        keyed.push((func.call1((update,))?, i));
    }
    let mut failure: Option<PyErr> = None;
    keyed.sort_by(|(a, _), (b, _)| {
        if failure.is_some() {
            return Ordering::Equal;
        }
        let order = a.lt(b).and_then(|lt| Ok((lt, !lt && b.lt(a)?)));
        match order {
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
    let sorted: Vec<Candidate<'_, String, Value>> =
        keyed.iter().map(|(_, i)| news[*i].clone()).collect();
    for (slot, c) in news.iter_mut().zip(sorted) {
        *slot = c;
    }
    Ok(())
}

impl Sorter<String, Value> for PySorter {
    fn sort(&self, news: &mut [Candidate<'_, String, Value>]) -> Result<(), SortError> {
        match self {
            PySorter::Builtin(SorterKind::Breadth) => ScuttleBreadth.sort(news),
            PySorter::Builtin(SorterKind::Depth) => ScuttleDepth.sort(news),
            PySorter::Key(func) => Python::attach(|py| match func.get(py) {
                Some(f) => sort_by_key(py, &f, news).map_err(SortError::new),
                // A node the garbage collector cleared sorts breadth-first.
                None => ScuttleBreadth.sort(news),
            }),
        }
    }
}
