//! The seed's message dicts: one Python dict per [`Line`] of the core's seed codec
//! (`scuttle_core::codec::seed`, which splits whole messages into lines and joins them back).
//!
//! * `{"digest": True, "id": "a", "source_id": "a", "version": 3}` (+ `"reply": True`; the
//!   seed's code reads `id`, its README says `source_id`: both are written, either is read)
//! * `{"digest": True, "done": True}` (+ `"reply": True`; + `"hash": h` for a digest hash)
//! * `{"key": k, "value": v, "source_id": "a", "version": 4, "timestamp": t, "prev": 3}`
//! * `{"key": k, "deleted": True, "source_id": "a", "version": 5, "timestamp": t, "prev": 4}`
//! * `{"reset": True, "watermarks": [["a", 5]], "floors": [["a", 2]], "entries": [..]}`
//!
//! This module only converts types, strictly (a bool is not a version, a version is an int in
//! `0 ..= 2**64-1`), and ignores unknown fields. A key may be an int or a float, as the
//! seed's code sends them: it becomes its JavaScript string form (`1` → `"1"`). Which fields a line needs, and what lines make
//! a message, is the core's [`Joiner`](scuttle_core::codec::seed::Joiner)'s business.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use scuttle_core::codec::seed::{js_float_string, Line};
use scuttle_core::{NodeId, UpdateRef, Version};

use crate::value::{self, Value};

/// A message dict that does not parse; becomes `InvalidMessageError` (a `ValueError`).
pub type Invalid = String;

/// The dict of a line.
pub fn line_to_dict<'py>(
    py: Python<'py>,
    line: &Line<String, Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, on) in [
        ("digest", line.digest),
        ("done", line.done),
        ("reply", line.reply),
        ("reset", line.reset),
    ] {
        if on {
            d.set_item(name, true)?;
        }
    }
    if let Some(h) = line.hash {
        d.set_item("hash", h)?;
    }
    if let Some(key) = &line.key {
        d.set_item("key", key.as_str())?;
    }
    if let Some(id) = &line.id {
        d.set_item("id", id.as_str())?;
    }
    if let Some(v) = &line.value {
        d.set_item("value", value::to_py(py, v)?)?;
    }
    if line.deleted {
        d.set_item("deleted", true)?;
    }
    if let Some(s) = &line.source_id {
        d.set_item("source_id", s.as_str())?;
    }
    for (name, field) in [
        ("version", line.version),
        ("timestamp", line.timestamp),
        ("prev", line.prev),
        ("through", line.through),
    ] {
        if let Some(n) = field {
            d.set_item(name, n)?;
        }
    }
    if let Some(w) = &line.watermarks {
        d.set_item("watermarks", pairs(py, w)?)?;
    }
    if let Some(f) = &line.floors {
        d.set_item("floors", pairs(py, f)?)?;
    }
    if let Some(entries) = &line.entries {
        let list = PyList::empty(py);
        for e in entries {
            list.append(line_to_dict(py, e)?)?;
        }
        d.set_item("entries", list)?;
    }
    Ok(d)
}

/// The dict of an update without `prev` (as in `history.news`).
pub fn update_dict<'py>(
    py: Python<'py>,
    u: UpdateRef<'_, String, Value>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key", u.key.as_str())?;
    match u.value {
        Some(v) => d.set_item("value", value::to_py(py, v)?)?,
        None => d.set_item("deleted", true)?,
    }
    d.set_item("source_id", u.source_id.as_str())?;
    d.set_item("version", u.version)?;
    d.set_item("timestamp", u.timestamp)?;
    Ok(d)
}

fn pairs<'py>(py: Python<'py>, pairs: &[(NodeId, Version)]) -> PyResult<Bound<'py, PyList>> {
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

    /// The value of an update: `Some` when the field is present (even as None).
    fn value(&self) -> Result<Option<Value>, Invalid> {
        match self.raw("value")? {
            None => Ok(None),
            Some(v) => value::from_py(&v)
                .map(Some)
                .map_err(|e| format!("bad `value`: {e}")),
        }
    }

    fn pairs(&self, name: &str) -> Result<Option<Vec<(NodeId, Version)>>, Invalid> {
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

    /// A key: a str, or a number as the seed sends it (read as its JavaScript string form).
    fn key(&self) -> Result<Option<String>, Invalid> {
        match self.raw("key")? {
            None => Ok(None),
            Some(v) if v.is_instance_of::<PyBool>() => Err("`key` must be a str".into()),
            Some(v) if v.is_instance_of::<PyInt>() => Ok(Some(v.to_string())),
            Some(v) if v.is_instance_of::<PyFloat>() => {
                let f: f64 = v.extract().map_err(|e| format!("`key`: {e}"))?;
                if !f.is_finite() {
                    return Err("`key` must be a finite number".into());
                }
                Ok(Some(js_float_string(f)))
            }
            Some(v) => str_of(&v, "key").map(Some),
        }
    }

    /// The fields of an update line (also a reset's entry).
    fn update_line(&self) -> Result<Line<String, Value>, Invalid> {
        Ok(Line {
            key: self.key()?,
            value: self.value()?,
            deleted: self.flag("deleted")?,
            source_id: self.string("source_id")?.map(NodeId::from),
            version: self.uint("version")?,
            timestamp: self.uint("timestamp")?,
            prev: self.uint("prev")?,
            through: self.uint("through")?,
            ..Line::default()
        })
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

fn dict_of<'a, 'py>(obj: &'a Bound<'py, PyAny>, what: &str) -> Result<Fields<'a, 'py>, Invalid> {
    obj.cast::<PyDict>()
        .map(|dict| Fields { dict })
        .map_err(|_| format!("{what} must be a dict"))
}

/// Parses one message dict into a line, reading the fields of its kind (digest, reset or
/// update) with their types checked.
pub fn line_from_dict(obj: &Bound<'_, PyAny>) -> Result<Line<String, Value>, Invalid> {
    let f = dict_of(obj, "a message")?;
    if f.flag("digest")? {
        return Ok(Line {
            digest: true,
            done: f.flag("done")?,
            reply: f.flag("reply")?,
            hash: f.uint("hash")?,
            id: f.string("id")?.map(NodeId::from),
            source_id: f.string("source_id")?.map(NodeId::from),
            version: f.uint("version")?,
            ..Line::default()
        });
    }
    if f.flag("reset")? {
        let entries = match f.raw("entries")? {
            None => None,
            Some(list) => {
                let list = list
                    .cast::<PyList>()
                    .map_err(|_| "`entries` must be a list of update dicts".to_string())?;
                let mut out = Vec::with_capacity(list.len());
                for item in list.iter() {
                    out.push(dict_of(&item, "a reset entry")?.update_line()?);
                }
                Some(out)
            }
        };
        return Ok(Line {
            reset: true,
            watermarks: f.pairs("watermarks")?,
            floors: f.pairs("floors")?,
            entries,
            ..Line::default()
        });
    }
    f.update_line()
}
