//! Messages as Python dicts, in the seed's shapes (the same as `scuttle_core::codec::to_json`):
//!
//! * `{"digest": True, "source_id": "a", "version": 3}` (+ `"reply": True`)
//! * `{"digest": True, "done": True}` (+ `"reply": True`)
//! * `{"key": k, "value": v, "source_id": "a", "version": 4, "timestamp": t, "prev": 3}`
//! * `{"key": k, "deleted": True, "source_id": "a", "version": 5, "timestamp": t, "prev": 4}`
//! * `{"reset": True, "watermarks": [["a", 5]], "floors": [["a", 2]], "entries": [..]}`
//!
//! Parsing is strict about types (a bool is not a version, a version is an int in
//! `0 ..= 2**64-1`) and lenient about unknown fields, like the core's serde form.

use ciborium::Value;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};
use scuttle_core::{Message, NodeId, Reset, Update};

use crate::value;

/// A message that does not parse; becomes `InvalidMessageError` (a `ValueError`).
pub type Invalid = String;

/// The dict of a message.
pub fn to_dict<'py>(py: Python<'py>, msg: &Message<String, Value>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match msg {
        Message::Digest {
            source_id,
            version,
            reply,
        } => {
            d.set_item("digest", true)?;
            d.set_item("source_id", source_id.as_str())?;
            d.set_item("version", *version)?;
            if *reply {
                d.set_item("reply", true)?;
            }
        }
        Message::DigestDone { reply } => {
            d.set_item("digest", true)?;
            d.set_item("done", true)?;
            if *reply {
                d.set_item("reply", true)?;
            }
        }
        Message::Update { update, prev } => {
            update_fields(py, &d, update)?;
            if let Some(prev) = prev {
                d.set_item("prev", *prev)?;
            }
        }
        Message::Reset(reset) => {
            d.set_item("reset", true)?;
            d.set_item("watermarks", pairs(py, &reset.watermarks)?)?;
            d.set_item("floors", pairs(py, &reset.floors)?)?;
            let entries = PyList::empty(py);
            for u in &reset.entries {
                let e = PyDict::new(py);
                update_fields(py, &e, u)?;
                entries.append(e)?;
            }
            d.set_item("entries", entries)?;
        }
        _ => {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "message kind unknown to this binding",
            ))
        }
    }
    Ok(d)
}

/// The dict of an update without `prev` (as in `history.news`).
pub fn update_dict<'py>(
    py: Python<'py>,
    u: &Update<String, Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    update_fields(py, &d, u)?;
    Ok(d)
}

fn update_fields(py: Python<'_>, d: &Bound<'_, PyDict>, u: &Update<String, Value>) -> PyResult<()> {
    d.set_item("key", u.key.as_str())?;
    match &u.value {
        Some(v) => d.set_item("value", value::to_py(py, v)?)?,
        None => d.set_item("deleted", true)?,
    }
    d.set_item("source_id", u.source_id.as_str())?;
    d.set_item("version", u.version)?;
    d.set_item("timestamp", u.timestamp)?;
    Ok(())
}

fn pairs<'py>(py: Python<'py>, pairs: &[(NodeId, u64)]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for (s, v) in pairs {
        list.append(PyList::new(
            py,
            [
                s.as_str().into_pyobject(py)?.into_any(),
                v.into_pyobject(py)?.into_any(),
            ],
        )?)?;
    }
    Ok(list)
}

/// Typed access to the fields of a message dict.
struct Fields<'a, 'py> {
    dict: &'a Bound<'py, PyDict>,
}

impl<'py> Fields<'_, 'py> {
    fn raw(&self, name: &str) -> Result<Option<Bound<'py, PyAny>>, Invalid> {
        self.dict
            .get_item(name)
            .map_err(|e| format!("cannot read `{name}`: {e}"))
    }

    /// A boolean flag: absent is false, present must be a bool.
    fn flag(&self, name: &str) -> Result<bool, Invalid> {
        match self.raw(name)? {
            None => Ok(false),
            Some(v) => v
                .cast::<PyBool>()
                .map(|b| b.is_true())
                .map_err(|_| format!("`{name}` must be a bool")),
        }
    }

    /// An optional unsigned 64-bit int (None counts as absent).
    fn uint(&self, name: &str) -> Result<Option<u64>, Invalid> {
        match self.raw(name)? {
            None => Ok(None),
            Some(v) if v.is_none() => Ok(None),
            Some(v) => uint_of(&v, name).map(Some),
        }
    }

    fn string(&self, name: &str) -> Result<Option<String>, Invalid> {
        match self.raw(name)? {
            None => Ok(None),
            Some(v) => str_of(&v, name).map(Some),
        }
    }

    fn required<T>(
        &self,
        name: &str,
        kind: &str,
        get: impl Fn(&Self, &str) -> Result<Option<T>, Invalid>,
    ) -> Result<T, Invalid> {
        get(self, name)?.ok_or_else(|| format!("{kind} without `{name}`"))
    }

    /// The value of an update: `Some` when the field is present (even as None).
    fn value(&self) -> Result<Option<Value>, Invalid> {
        match self.raw("value")? {
            None => Ok(None),
            Some(v) => value::from_py(&v)
                .map(Some)
                .map_err(|e| format!("bad `value`: {e}")),
        }
    }

    fn update(&self, kind: &str) -> Result<Update<String, Value>, Invalid> {
        let key = self.required("key", kind, Self::string)?;
        let value = self.value()?;
        let deleted = self.flag("deleted")?;
        match (&value, deleted) {
            (None, false) => return Err(format!("{kind} without `value`")),
            (Some(_), true) => return Err(format!("{kind} is both deleted and has a value")),
            _ => {}
        }
        Ok(Update {
            key,
            value,
            source_id: NodeId::from(self.required("source_id", kind, Self::string)?),
            version: self.required("version", kind, Self::uint)?,
            timestamp: self.uint("timestamp")?.unwrap_or(0),
        })
    }

    fn pairs(&self, name: &str) -> Result<Option<Vec<(NodeId, u64)>>, Invalid> {
        let Some(list) = self.raw(name)? else {
            return Ok(None);
        };
        let list = list
            .cast::<PyList>()
            .map_err(|_| format!("`{name}` must be a list of [source_id, version] pairs"))?;
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            let pair: Vec<Bound<'_, PyAny>> = if let Ok(l) = item.cast::<PyList>() {
                l.iter().collect()
            } else if let Ok(t) = item.cast::<PyTuple>() {
                t.iter().collect()
            } else {
                return Err(format!("`{name}` must hold [source_id, version] pairs"));
            };
            let [s, v] = pair.as_slice() else {
                return Err(format!("`{name}` must hold [source_id, version] pairs"));
            };
            out.push((NodeId::from(str_of(s, name)?), uint_of(v, name)?));
        }
        Ok(Some(out))
    }
}

fn uint_of(v: &Bound<'_, PyAny>, name: &str) -> Result<u64, Invalid> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(format!("`{name}` must be an int"));
    }
    v.extract::<u64>()
        .map_err(|_| format!("`{name}` must be an int in 0 ..= 2**64-1"))
}

fn str_of(v: &Bound<'_, PyAny>, name: &str) -> Result<String, Invalid> {
    v.cast::<PyString>()
        .map_err(|_| format!("`{name}` must be a str"))?
        .to_cow()
        .map(|c| c.into_owned())
        .map_err(|e| format!("`{name}`: {e}"))
}

/// Parses one message dict, checking it as the core's decoder would.
pub fn from_dict(obj: &Bound<'_, PyAny>) -> Result<Message<String, Value>, Invalid> {
    let dict = obj
        .cast::<PyDict>()
        .map_err(|_| "a message must be a dict".to_string())?;
    let f = Fields { dict };
    let digest = f.flag("digest")?;
    let done = f.flag("done")?;
    let reply = f.flag("reply")?;
    let msg = if digest && done {
        Message::DigestDone { reply }
    } else if digest {
        Message::Digest {
            source_id: NodeId::from(f.required("source_id", "digest", Fields::string)?),
            version: f.required("version", "digest", Fields::uint)?,
            reply,
        }
    } else if f.flag("reset")? {
        let list = f
            .raw("entries")?
            .ok_or_else(|| "reset without `entries`".to_string())?;
        let list = list
            .cast::<PyList>()
            .map_err(|_| "`entries` must be a list of update dicts".to_string())?;
        let mut entries = Vec::with_capacity(list.len());
        for item in list.iter() {
            let dict = item
                .cast::<PyDict>()
                .map_err(|_| "`entries` must be a list of update dicts".to_string())?;
            entries.push(Fields { dict }.update("reset entry")?);
        }
        Message::Reset(Reset {
            watermarks: f
                .pairs("watermarks")?
                .ok_or_else(|| "reset without `watermarks`".to_string())?,
            floors: f.pairs("floors")?.unwrap_or_default(),
            entries,
        })
    } else {
        Message::Update {
            update: f.update("update")?,
            prev: f.uint("prev")?,
        }
    };
    msg.validate().map_err(|e| e.to_string())?;
    Ok(msg)
}

/// Checks that every value in a decoded message converts to Python.
pub fn check_values(msg: &Message<String, Value>) -> Result<(), Invalid> {
    let check = |u: &Update<String, Value>| match &u.value {
        Some(v) => value::check(v).map_err(|e| format!("bad `value`: {e}")),
        None => Ok(()),
    };
    match msg {
        Message::Update { update, .. } => check(update),
        Message::Reset(reset) => reset.entries.iter().try_for_each(check),
        _ => Ok(()),
    }
}
