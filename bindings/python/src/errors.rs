//! The package's exception classes, defined in `scuttle/_errors.py` so that each can derive
//! from both `ScuttleError` and the matching built-in (`ValueError`, `RuntimeError`), and the
//! mapping of the core's errors onto them.

use pyo3::exceptions::{PyOSError, PyOverflowError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use scuttle_core::{OpenError as CoreOpenError, ReceiveError, SetError, SortError, StoreError};
use scuttle_node::NodeError;
use scuttle_store::{OpenError, StoreFailure};

static SCUTTLE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INVALID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONFIG: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TOO_LARGE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SYNC: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CORRUPT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORE_VERSION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static WRONG_NODE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static LOCKED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CATCHING_UP: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CLOSED: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NETWORK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static REFUSED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn raise(
    py: Python<'_>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    msg: String,
    fallback: fn(String) -> PyErr,
) -> PyErr {
    match cell.import(py, "scuttle._errors", name) {
        Ok(ty) => PyErr::from_type(ty.clone(), msg),
        // Only when the native module is used without its package.
        Err(_) => fallback(msg),
    }
}

/// `scuttle.ScuttleError`: an error of scuttle itself that has no more specific class.
pub fn scuttle(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &SCUTTLE, "ScuttleError", msg.into(), |m| {
        PyRuntimeError::new_err(m)
    })
}

/// `scuttle.InvalidMessageError` (a `ValueError`): a message or frame that does not parse or
/// breaks the protocol. Nothing changed.
pub fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &INVALID, "InvalidMessageError", msg.into(), |m| {
        PyValueError::new_err(m)
    })
}

/// `scuttle.ConfigError` (a `ValueError`): a constructor argument breaks a constraint.
pub fn config(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &CONFIG, "ConfigError", msg.into(), |m| {
        PyValueError::new_err(m)
    })
}

/// `scuttle.TooLargeError` (a `ValueError`): a write that could never fit one message.
pub fn too_large(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &TOO_LARGE, "TooLargeError", msg.into(), |m| {
        PyValueError::new_err(m)
    })
}

/// `scuttle.SyncError` (a `RuntimeError`): `sync` did not settle.
pub fn sync(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &SYNC, "SyncError", msg.into(), |m| {
        PyRuntimeError::new_err(m)
    })
}

/// `scuttle.ClosedError` (a `ValueError`): a call on a node after `close()`.
pub fn closed(py: Python<'_>) -> PyErr {
    raise(
        py,
        &CLOSED,
        "ClosedError",
        "the node is closed".into(),
        PyValueError::new_err,
    )
}

/// `scuttle.StoreError` (an `OSError`) or one of its subclasses: why a store file was not
/// opened. The file was not changed.
pub fn from_open(py: Python<'_>, e: OpenError) -> PyErr {
    let msg = e.to_string();
    let (cell, name) = match e {
        OpenError::Corrupt { .. } | OpenError::Foreign { .. } => (&CORRUPT, "CorruptStoreError"),
        OpenError::Version { .. } => (&STORE_VERSION, "StoreVersionError"),
        OpenError::WrongNode { .. } => (&WRONG_NODE, "WrongNodeError"),
        OpenError::Locked { .. } => (&LOCKED, "StoreLockedError"),
        _ => (&STORE, "StoreError"),
    };
    raise(py, cell, name, msg, PyOSError::new_err)
}

/// A store that failed at run time (`StoreError`, or `CorruptStoreError` when what the file
/// holds does not decode); `outcome` says what did not happen.
pub fn from_store(py: Python<'_>, e: &StoreError, outcome: &str) -> PyErr {
    let msg = format!("{e}; {outcome}");
    match e.inner().downcast_ref::<StoreFailure>() {
        Some(StoreFailure::Decode(_)) => {
            raise(py, &CORRUPT, "CorruptStoreError", msg, PyOSError::new_err)
        }
        _ => raise(py, &STORE, "StoreError", msg, PyOSError::new_err),
    }
}

/// A store that could not be loaded into a fresh node.
pub fn from_core_open(py: Python<'_>, e: CoreOpenError) -> PyErr {
    match e {
        CoreOpenError::Store(e) => from_store(py, &e, "the store could not be loaded"),
        other => scuttle(py, other.to_string()),
    }
}

/// The Python exception a sort key raised, recovered from the core's [`SortError`].
pub fn from_sort(py: Python<'_>, e: SortError) -> PyErr {
    match e.0.downcast::<PyErr>() {
        Ok(err) => *err,
        Err(other) => scuttle(py, format!("the sorter failed: {other}")),
    }
}

/// A message the core refused: the protocol violation as `InvalidMessageError`, a policy's
/// own exception as raised.
pub fn from_receive(py: Python<'_>, e: ReceiveError<PyErr>) -> PyErr {
    match e {
        ReceiveError::Protocol(p) => invalid(py, p.to_string()),
        ReceiveError::Policy(err) => err,
        ReceiveError::Sort(s) => from_sort(py, s),
        ReceiveError::Store(e) => from_store(py, &e, "the message was not applied"),
        other => scuttle(py, other.to_string()),
    }
}

/// A local write the core refused for another reason than the resolver saying no (that one is
/// `Ok(false)` for the caller).
pub fn from_set(py: Python<'_>, e: SetError<PyErr>) -> PyErr {
    match e {
        SetError::TooLarge { .. } => too_large(py, e.to_string()),
        SetError::Policy(err) => err,
        SetError::VersionOverflow => PyOverflowError::new_err(e.to_string()),
        SetError::CatchingUp => raise(py, &CATCHING_UP, "CatchingUpError", e.to_string(), |m| {
            PyRuntimeError::new_err(m)
        }),
        SetError::Store(e) => from_store(py, &e, "the write was not made"),
        other => scuttle(py, other.to_string()),
    }
}

/// The Python error of a networked node's [`NodeError`]: bad options are `ConfigError` (a
/// `ValueError`), a stopped node `ClosedError`, sockets and libp2p `NetworkError` (an
/// `OSError`), the data dir's files `StoreError`, a refused write `RefusedError`.
pub fn from_node(py: Python<'_>, e: NodeError) -> PyErr {
    let msg = e.to_string();
    match e {
        NodeError::Options(_) | NodeError::Config(_) | NodeError::P2pConfig(_) => config(py, msg),
        NodeError::Stopped => closed(py),
        NodeError::Io(_) | NodeError::Libp2p(_) => {
            raise(py, &NETWORK, "NetworkError", msg, PyOSError::new_err)
        }
        NodeError::Identity { .. } | NodeError::Store(_) => {
            raise(py, &STORE, "StoreError", msg, PyOSError::new_err)
        }
        NodeError::Refused(_) => raise(py, &REFUSED, "RefusedError", msg, PyValueError::new_err),
        NodeError::CatchingUp => raise(py, &CATCHING_UP, "CatchingUpError", msg, |m| {
            PyRuntimeError::new_err(m)
        }),
        _ => scuttle(py, msg),
    }
}
