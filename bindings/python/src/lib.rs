//! # scuttle-python
//!
//! Package `scuttle-gossip-python`, library `_scuttle`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! The native module `scuttle._scuttle` behind the Python package `scuttle` (built with
//! maturin; see `docs/python.md`). It wraps the sans-IO core as
//! `Gossip<String, value::Value, PyResolver, PySorter>`: keys are `str`, values are any of
//! None, bool, int, float, str, bytes, list and dict, stored as CBOR.
//!
//! The binding makes no protocol decision: the core builds and checks every message, fits it
//! to `max_message_bytes`, refuses oversize writes, and asks the resolver before it commits,
//! so a Python resolver's exception is simply the resolver's error. The binding converts
//! values and message dicts, reads the system clock when no `now` is given, and runs the
//! callbacks.
//!
//! The module is laid out so that more node kinds can join `Gossip` later (a mesh `Node` over
//! `scuttle-p2p`): the value conversion ([`value`]), the message dicts ([`wire`]) and the
//! policies ([`policy`]) do not depend on the node class.
#![deny(missing_docs)]

use pyo3::prelude::*;

mod errors;
pub mod net_node;
pub mod net_options;
pub mod net_types;
pub mod node;
pub mod policy;
pub mod sync;
pub mod types;
pub mod value;
pub mod wire;

/// The native module. `scuttle/__init__.py` re-exports its classes and functions.
#[pymodule]
fn _scuttle(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<node::PyGossip>()?;
    m.add_class::<node::PyHistory>()?;
    m.add_class::<types::PyEntry>()?;
    m.add_class::<types::PyUpdate>()?;
    m.add_class::<net_node::PyNetNode>()?;
    m.add_class::<net_node::PyEventStream>()?;
    m.add_class::<net_node::PyTask>()?;
    m.add_class::<net_types::PyNodeEvent>()?;
    m.add_class::<net_types::PyMember>()?;
    m.add_function(wrap_pyfunction!(sync::exchange, m)?)?;
    m.add_function(wrap_pyfunction!(sync::sync, m)?)?;
    m.add("DEFAULT_PEER", node::DEFAULT_PEER)?;
    m.add("PROTOCOL_VERSION", scuttle_core::PROTOCOL_VERSION)?;
    // The crate's version is the distribution's: maturin takes it from this Cargo.toml.
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
