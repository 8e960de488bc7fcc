//! The scuttle side: [`scuttle_sim::workload`] on the case's workload.

use std::time::Instant;

use scuttle_sim::workload;

use crate::cpu::{cpu_ms, thread_cpu_time};
use crate::{Case, Row, Side};

/// Runs `case` on scuttle ([`scuttle_sim::workload::run`]) and returns its row.
///
/// CPU and wall time run from the call (the writes come first) to the end of the last
/// gossip round before convergence, read in the workload's per-round callback, so the idle
/// rounds are not included.
///
/// # Panics
///
/// If the workload is invalid (see [`scuttle_sim::workload::Workload::validate`]); the
/// fixed message cap and value length of this crate are valid.
pub fn run_scuttle(case: &Case) -> Row {
    let w = case.workload();
    let cpu0 = thread_cpu_time();
    let wall0 = Instant::now();
    // Before the first round (a case with nothing to gossip has no round at all).
    let mut end = (thread_cpu_time(), Instant::now());
    let report = workload::run_with_progress(&w, |_, _| end = (thread_cpu_time(), Instant::now()));
    Row {
        side: Side::Scuttle,
        nodes: case.nodes,
        keys: case.keys,
        converged: report.converged,
        rounds: report.rounds,
        messages: report.messages,
        bytes: report.bytes,
        payload_lower_bound: report.payload_lower_bound,
        updates_sent: Some(report.updates_sent),
        duplicates: Some(report.duplicates),
        idle_bytes_per_node_round: report.idle_bytes_per_node_round,
        cpu_ms: cpu_ms(cpu0, end.0),
        wall_ms: end.1.duration_since(wall0).as_secs_f64() * 1_000.0,
    }
}
