//! The package's exception classes, defined in `scuttle/_errors.py` so that each can derive
//! from both `ScuttleError` and the matching built-in (`ValueError`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static INVALID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CONFIG: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn raise(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, msg: String) -> PyErr {
    match cell.import(py, "scuttle._errors", name) {
        Ok(ty) => PyErr::from_type(ty.clone(), msg),
        // Only when the native module is used without its package.
        Err(_) => PyValueError::new_err(msg),
    }
}

/// `scuttle.InvalidMessageError` (a `ValueError`): a message or frame that does not parse or
/// breaks the protocol. Nothing changed.
pub fn invalid(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &INVALID, "InvalidMessageError", msg.into())
}

/// `scuttle.ConfigError` (a `ValueError`): a constructor argument breaks a constraint.
pub fn config(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, &CONFIG, "ConfigError", msg.into())
}
