//! The small immutable classes of the networked node: `NodeEvent` (what `events()` yields)
//! and `Member` (what `members()` lists).

use pyo3::prelude::*;
use pyo3::types::PyString;
use scuttle_node::{MemberView, Notice};

/// Something a node reports as it happens. `kind` says what; the other fields are None
/// (or 0) where they do not apply:
///
/// * `"update"`: a peer's message changed `key` to `value` (None: deleted); `peer` sent it.
/// * `"forgotten"`: `key`'s tombstone was collected on `peer`'s word.
/// * `"peer_connected"` / `"peer_disconnected"`: `peer` (and, disconnected, a `reason`).
/// * `"connection_failed"`: a connection failed before its peer was known (`reason`).
/// * `"refused"`: `peer`'s message was refused by the resolver or sorter (`reason`).
/// * `"lagged"`: this listener fell behind and missed `missed` events.
#[pyclass(frozen, module = "scuttle", name = "NodeEvent")]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PyNodeEvent {
    /// What happened (see the class docs).
    #[pyo3(get)]
    pub kind: &'static str,
    /// The key, for `update` and `forgotten`.
    #[pyo3(get)]
    pub key: Option<String>,
    /// The new value, for `update` (None for a delete).
    #[pyo3(get)]
    pub value: Option<String>,
    /// The peer concerned.
    #[pyo3(get)]
    pub peer: Option<String>,
    /// Why, for `peer_disconnected`, `connection_failed` and `refused`.
    #[pyo3(get)]
    pub reason: Option<String>,
    /// Events missed, for `lagged`.
    #[pyo3(get)]
    pub missed: u64,
}

impl PyNodeEvent {
    /// The event of a node's notice.
    pub fn from_notice(notice: Notice) -> Self {
        let none = PyNodeEvent::default();
        match notice {
            Notice::Update { key, value, from } => PyNodeEvent {
                kind: "update",
                key: Some(key),
                value,
                peer: Some(from),
                ..none
            },
            Notice::Forgotten { key, from } => PyNodeEvent {
                kind: "forgotten",
                key: Some(key),
                peer: Some(from),
                ..none
            },
            Notice::PeerConnected(peer) => PyNodeEvent {
                kind: "peer_connected",
                peer: Some(peer),
                ..none
            },
            Notice::PeerDisconnected { peer, reason } => PyNodeEvent {
                kind: "peer_disconnected",
                peer: Some(peer),
                reason: Some(reason),
                ..none
            },
            Notice::ConnectionFailed(reason) => PyNodeEvent {
                kind: "connection_failed",
                reason: Some(reason),
                ..none
            },
            Notice::Refused { peer, error } => PyNodeEvent {
                kind: "refused",
                peer: Some(peer),
                reason: Some(error),
                ..none
            },
            Notice::Lagged(missed) => PyNodeEvent {
                kind: "lagged",
                missed,
                ..none
            },
            // A notice this binding does not know yet: said, not dropped.
            other => PyNodeEvent {
                kind: "other",
                reason: Some(format!("{other:?}")),
                ..none
            },
        }
    }
}

fn repr_opt(py: Python<'_>, name: &str, v: &Option<String>, out: &mut String) -> PyResult<()> {
    if let Some(v) = v {
        out.push_str(&format!(", {name}={}", PyString::new(py, v).repr()?));
    }
    Ok(())
}

#[pymethods]
impl PyNodeEvent {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = format!("NodeEvent(kind={}", PyString::new(py, self.kind).repr()?);
        repr_opt(py, "key", &self.key, &mut s)?;
        if self.kind == "update" {
            match &self.value {
                Some(v) => s.push_str(&format!(", value={}", PyString::new(py, v).repr()?)),
                None => s.push_str(", value=None"),
            }
        }
        repr_opt(py, "peer", &self.peer, &mut s)?;
        repr_opt(py, "reason", &self.reason, &mut s)?;
        if self.kind == "lagged" {
            s.push_str(&format!(", missed={}", self.missed));
        }
        s.push(')');
        Ok(s)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyNodeEvent>().is_ok_and(|o| self == o.get())
    }
}

/// One member of the cluster, as this node's failure detector sees it.
#[pyclass(frozen, module = "scuttle", name = "Member")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyMember {
    /// Its node id (libp2p: the peer id; tcp: the id from its hello).
    #[pyo3(get)]
    pub id: String,
    /// Where it can be reached.
    #[pyo3(get)]
    pub addrs: Vec<String>,
    /// `"alive"`, `"suspect"` or `"down"`.
    #[pyo3(get)]
    pub state: &'static str,
    /// Whether this node has a connection to it now.
    #[pyo3(get)]
    pub connected: bool,
}

impl From<MemberView> for PyMember {
    fn from(m: MemberView) -> Self {
        PyMember {
            id: m.id,
            addrs: m.addrs,
            state: m.state.as_str(),
            connected: m.connected,
        }
    }
}

#[pymethods]
impl PyMember {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Member(id={}, state={}, connected={}, addrs={})",
            PyString::new(py, &self.id).repr()?,
            PyString::new(py, self.state).repr()?,
            if self.connected { "True" } else { "False" },
            pyo3::types::PyList::new(py, &self.addrs)?.repr()?
        ))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyMember>().is_ok_and(|o| self == o.get())
    }
}
