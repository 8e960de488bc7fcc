//! Small immutable Python classes: `Entry` and `Update`.

use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use pyo3::PyTraverseError;
use scuttle_core::{Entry, UpdateRef};

use crate::value::{self, Value};

/// What a node holds for a key: `Entry(value, version, source_id)`.
///
/// `timestamp` is the writer's clock in milliseconds (0 when unknown) and `deleted` tells a
/// tombstone (its `value` is None) from a stored None.
#[pyclass(frozen, module = "scuttle", name = "Entry")]
pub struct PyEntry {
    /// The value (None for a tombstone, or a stored None).
    #[pyo3(get)]
    pub value: Py<PyAny>,
    /// The version of the winning update.
    #[pyo3(get)]
    pub version: u64,
    /// The node that wrote it.
    #[pyo3(get)]
    pub source_id: String,
    /// The writer's timestamp, milliseconds since the Unix epoch.
    #[pyo3(get)]
    pub timestamp: u64,
    /// Whether this entry is a tombstone (the key was deleted).
    #[pyo3(get)]
    pub deleted: bool,
}

impl PyEntry {
    /// Builds the Python object of a core entry.
    pub fn from_entry(py: Python<'_>, e: &Entry<Value>) -> PyResult<Py<PyEntry>> {
        Py::new(
            py,
            PyEntry {
                value: opt_to_py(py, e.value.as_ref())?,
                version: e.version,
                source_id: e.source_id.to_string(),
                timestamp: e.timestamp,
                deleted: e.value.is_none(),
            },
        )
    }

    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.value.bind(py).clone(),
                self.version.into_pyobject(py)?.into_any(),
                self.source_id.as_str().into_pyobject(py)?.into_any(),
                self.timestamp.into_pyobject(py)?.into_any(),
                pyo3::types::PyBool::new(py, self.deleted)
                    .to_owned()
                    .into_any(),
            ],
        )
    }
}

fn opt_to_py(py: Python<'_>, v: Option<&Value>) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Some(v) => value::to_py(py, v)?.unbind(),
        None => py.None(),
    })
}

#[pymethods]
impl PyEntry {
    #[new]
    #[pyo3(signature = (value, version, source_id, *, timestamp = 0, deleted = false))]
    fn new(
        value: Bound<'_, PyAny>,
        version: u64,
        source_id: String,
        timestamp: u64,
        deleted: bool,
    ) -> Self {
        PyEntry {
            value: value.unbind(),
            version,
            source_id,
            timestamp,
            deleted,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = format!(
            "Entry(value={}, version={}, source_id={}",
            self.value.bind(py).repr()?,
            self.version,
            PyString::new(py, &self.source_id).repr()?
        );
        if self.deleted {
            s.push_str(", deleted=True");
        }
        s.push(')');
        Ok(s)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        match other.cast::<PyEntry>() {
            Ok(o) => self.fields(py)?.eq(o.get().fields(py)?),
            Err(_) => Ok(false),
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.fields(py)?.hash()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.value)
    }
}

/// One write as a resolver or a sort key sees it.
///
/// `outstanding` is, in a sort key, how many updates from the same source the peer lacks in
/// all (the scuttle-depth measure); it is 0 elsewhere.
#[pyclass(frozen, module = "scuttle", name = "Update")]
pub struct PyUpdate {
    /// The key written.
    #[pyo3(get)]
    pub key: String,
    /// The value (None for a delete, or a stored None).
    #[pyo3(get)]
    pub value: Py<PyAny>,
    /// The writer.
    #[pyo3(get)]
    pub source_id: String,
    /// The writer's version for this write.
    #[pyo3(get)]
    pub version: u64,
    /// The writer's timestamp, milliseconds since the Unix epoch (0 when unknown).
    #[pyo3(get)]
    pub timestamp: u64,
    /// Whether this update deletes its key.
    #[pyo3(get)]
    pub deleted: bool,
    /// In a sort key: how many updates of this source the peer lacks; else 0.
    #[pyo3(get)]
    pub outstanding: usize,
}

impl PyUpdate {
    /// Builds the Python object of a core update.
    pub fn from_ref(
        py: Python<'_>,
        u: UpdateRef<'_, String, Value>,
        outstanding: usize,
    ) -> PyResult<Py<PyUpdate>> {
        Py::new(
            py,
            PyUpdate {
                key: u.key.clone(),
                value: opt_to_py(py, u.value)?,
                source_id: u.source_id.to_string(),
                version: u.version,
                timestamp: u.timestamp,
                deleted: u.value.is_none(),
                outstanding,
            },
        )
    }
}

#[pymethods]
impl PyUpdate {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Update(key={}, value={}, source_id={}, version={}, timestamp={}{})",
            PyString::new(py, &self.key).repr()?,
            self.value.bind(py).repr()?,
            PyString::new(py, &self.source_id).repr()?,
            self.version,
            self.timestamp,
            if self.deleted { ", deleted=True" } else { "" }
        ))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.value)
    }
}
