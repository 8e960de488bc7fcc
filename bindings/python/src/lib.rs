//! # scuttle-python
//!
//! The native module `scuttle._scuttle` behind the Python package `scuttle` (built with
//! maturin; see `docs/python.md`). It wraps the sans-IO core as
//! `Gossip<String, ciborium::Value, PyResolver, PySorter>`: keys are `str`, values are any of
//! None, bool, int, float, str, bytes, list and dict, stored as CBOR.
//!
//! The module is laid out so that more node kinds can join `Gossip` later (a mesh `Node` over
//! `scuttle-p2p`): the value conversion ([`value`]), the message dicts ([`wire`]) and the
//! policies ([`policy`]) do not depend on the node class.
#![deny(missing_docs)]

use pyo3::prelude::*;

mod errors;
pub mod node;
pub mod policy;
pub mod types;
pub mod value;
pub mod wire;

/// The native module. `scuttle/__init__.py` re-exports its classes.
#[pymodule]
fn _scuttle(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<node::PyGossip>()?;
    m.add_class::<node::PyHistory>()?;
    m.add_class::<types::PyEntry>()?;
    m.add_class::<types::PyUpdate>()?;
    m.add_class::<types::PyManualClock>()?;
    m.add("DEFAULT_PEER", node::DEFAULT_PEER)?;
    m.add("PROTOCOL_VERSION", scuttle_core::PROTOCOL_VERSION)?;
    Ok(())
}
