//! In-process exchanges between nodes: `scuttle.exchange(a, b)` and `scuttle.sync(*nodes)`.
//!
//! An exchange hands the core's three whole messages from one node to the other in memory
//! (`Syn`, `SynAck`, then `Ack` when the initiator has news), as any transport would, with the
//! nodes' callbacks run after each step.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use scuttle_core::Millis;

use crate::errors;
use crate::node::{news_count, now_or_system, PyGossip};

/// One exchange started by `a` with `b`; returns how many updates it delivered.
fn exchange_once(a: &Bound<'_, PyGossip>, b: &Bound<'_, PyGossip>, now: Millis) -> PyResult<usize> {
    let a_id = a.try_borrow()?.id_string();
    let b_id = b.try_borrow()?.id_string();
    let now = Some(now);
    let syn = PyGossip::run(a, None, |this, _| this.open_exchange(now))?;
    let Some(syn_ack) = PyGossip::run(b, Some(&a_id), |this, py| this.receive_at(py, now, syn))?
    else {
        return Ok(0);
    };
    let mut delivered = news_count(&syn_ack);
    let ack = PyGossip::run(a, Some(&b_id), |this, py| this.receive_at(py, now, syn_ack))?;
    if let Some(ack) = ack {
        delivered += news_count(&ack);
        PyGossip::run(b, Some(&a_id), |this, py| this.receive_at(py, now, ack))?;
    }
    Ok(delivered)
}

/// Runs one exchange started by `a` with `b` (a's digest; b's news and digest; a's news) and
/// returns how many updates it delivered in both directions (a reset counts its entries).
/// Every message is handled at `now` (ms; default: the system clock), and the tombstones due
/// then are collected on `a` first.
#[pyfunction]
#[pyo3(signature = (a, b, *, now = None))]
pub fn exchange(
    a: &Bound<'_, PyGossip>,
    b: &Bound<'_, PyGossip>,
    now: Option<Millis>,
) -> PyResult<usize> {
    exchange_once(a, b, now_or_system(now))
}

/// Runs exchanges between every pair of `nodes`, round after round, until a whole round
/// delivers no update; returns the number of rounds that delivered some. Raises `SyncError`
/// if updates still move after `max_rounds` rounds. The same node given twice is used once.
#[pyfunction]
#[pyo3(signature = (*nodes, max_rounds = 1000, now = None))]
pub fn sync(
    py: Python<'_>,
    nodes: &Bound<'_, PyTuple>,
    max_rounds: usize,
    now: Option<Millis>,
) -> PyResult<usize> {
    let now = now_or_system(now);
    let mut unique: Vec<Bound<'_, PyGossip>> = Vec::new();
    for node in nodes.iter() {
        let node = node.cast_into::<PyGossip>()?;
        if !unique.iter().any(|seen| seen.is(&node)) {
            unique.push(node);
        }
    }
    for round in 0..max_rounds {
        let mut moved = 0;
        for (i, a) in unique.iter().enumerate() {
            for b in &unique[i + 1..] {
                moved += exchange_once(a, b, now)?;
            }
        }
        if moved == 0 {
            return Ok(round);
        }
    }
    Err(errors::sync(
        py,
        format!("updates still moving after {max_rounds} rounds"),
    ))
}
