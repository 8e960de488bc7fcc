//! `scuttle.Gossip`: one node of the replicated map, and its `History` view.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use ciborium::Value;
use pyo3::exceptions::{PyKeyError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;
use scuttle_core::{Config, Entry, Event, FrameCodec, Message, NodeId, SetError};

use crate::errors;
use crate::policy::{call_resolver, lock, CallState, PyResolver, PySorter, SortState};
use crate::types::{PyEntry, PyManualClock};
use crate::value;
use crate::wire;

type Core = scuttle_core::Gossip<String, Value, PyResolver, PySorter>;

/// The peer name used when none is given, so that one node can be piped to another with
/// `for m in a.read(): b.write(m)`.
pub const DEFAULT_PEER: &str = "peer";

/// An event converted for the Python callbacks.
enum Fired {
    Update(String, Py<PyEntry>, Option<String>),
    Compaction(usize, usize),
}

/// A node of the replicated map (see the package docs).
#[pyclass(module = "scuttle", name = "Gossip", weakref)]
pub struct PyGossip {
    core: Core,
    codec: FrameCodec,
    resolve_state: Option<Arc<Mutex<CallState>>>,
    sort_state: Option<Arc<Mutex<SortState>>>,
    on_update: Vec<Py<PyAny>>,
    on_compaction: Vec<Py<PyAny>>,
}

fn key_of(key: &Bound<'_, PyAny>) -> PyResult<String> {
    match key.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "keys must be str, not {}",
            key.get_type().name()?
        ))),
    }
}

fn parse_resolver(py: Python<'_>, resolve: Option<&Bound<'_, PyAny>>) -> PyResult<PyResolver> {
    let Some(resolve) = resolve else {
        return Ok(PyResolver::Lww);
    };
    if let Ok(name) = resolve.cast::<PyString>() {
        return match name.to_cow()?.as_ref() {
            "lww" => Ok(PyResolver::Lww),
            "lww_clock" => Ok(PyResolver::LwwClock),
            "strict" => Ok(PyResolver::Strict),
            other => Err(errors::config(
                py,
                format!("unknown resolver {other:?}: use \"lww\", \"strict\", \"lww_clock\" or a callable"),
            )),
        };
    }
    if resolve.is_callable() {
        return Ok(PyResolver::Callable {
            state: Arc::new(Mutex::new(CallState {
                func: Some(resolve.clone().unbind()),
                ..CallState::default()
            })),
        });
    }
    Err(PyTypeError::new_err(
        "resolve must be \"lww\", \"strict\", \"lww_clock\" or a callable",
    ))
}

fn parse_sorter(py: Python<'_>, sort: Option<&Bound<'_, PyAny>>) -> PyResult<PySorter> {
    let Some(sort) = sort else {
        return Ok(PySorter::Breadth);
    };
    if let Ok(name) = sort.cast::<PyString>() {
        return match name.to_cow()?.as_ref() {
            "breadth" => Ok(PySorter::Breadth),
            "depth" => Ok(PySorter::Depth),
            other => Err(errors::config(
                py,
                format!("unknown sort {other:?}: use \"breadth\", \"depth\" or a key callable"),
            )),
        };
    }
    if sort.is_callable() {
        return Ok(PySorter::Key {
            state: Arc::new(Mutex::new(SortState {
                func: Some(sort.clone().unbind()),
                error: None,
            })),
        });
    }
    Err(PyTypeError::new_err(
        "sort must be \"breadth\", \"depth\" or a key callable",
    ))
}

impl PyGossip {
    /// Runs `f` on the node, then calls the callbacks for the events it caused, after the
    /// node is released (so callbacks may use it). The first exception wins; every callback
    /// runs even when an earlier one raised.
    fn run<T>(
        slf: &Bound<'_, Self>,
        f: impl FnOnce(&mut Self, Python<'_>) -> PyResult<T>,
    ) -> PyResult<T> {
        let py = slf.py();
        let (result, fired, update_cbs, compaction_cbs) = {
            let mut this = slf.try_borrow_mut()?;
            let result = f(&mut this, py);
            let fired = this.drain_events(py);
            let update_cbs: Vec<Py<PyAny>> =
                this.on_update.iter().map(|c| c.clone_ref(py)).collect();
            let compaction_cbs: Vec<Py<PyAny>> =
                this.on_compaction.iter().map(|c| c.clone_ref(py)).collect();
            (result, fired, update_cbs, compaction_cbs)
        };
        let mut first_err: Option<PyErr> = None;
        for event in fired? {
            let outcomes: Vec<PyResult<Bound<'_, PyAny>>> = match &event {
                Fired::Update(key, entry, from) => update_cbs
                    .iter()
                    .map(|cb| {
                        cb.bind(py)
                            .call1((key.as_str(), entry.clone_ref(py), from.as_deref()))
                    })
                    .collect(),
                Fired::Compaction(dropped, len) => compaction_cbs
                    .iter()
                    .map(|cb| cb.bind(py).call1((*dropped, *len)))
                    .collect(),
            };
            for outcome in outcomes {
                if let Err(e) = outcome {
                    first_err.get_or_insert(e);
                }
            }
        }
        let value = result?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }

    fn drain_events(&mut self, py: Python<'_>) -> PyResult<Vec<Fired>> {
        let wanted_update = !self.on_update.is_empty();
        let wanted_compaction = !self.on_compaction.is_empty();
        let mut out = Vec::new();
        while let Some(event) = self.core.poll_event() {
            match event {
                Event::Update { key, entry, from } if wanted_update => out.push(Fired::Update(
                    key,
                    PyEntry::from_entry(py, &entry)?,
                    from.map(|p| p.to_string()),
                )),
                Event::Compaction {
                    dropped,
                    history_len,
                } if wanted_compaction => out.push(Fired::Compaction(dropped, history_len)),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The resolver's answers for the updates `msg` will submit to it, computed before the
    /// core sees the message, so a raising Python resolver leaves everything untouched.
    fn preflight(&self, py: Python<'_>, msg: &Message<String, Value>) -> PyResult<VecDeque<bool>> {
        let mut decisions = VecDeque::new();
        let func = self
            .resolve_state
            .as_ref()
            .and_then(|s| lock(s).func.as_ref().map(|f| f.clone_ref(py)));
        let Some(func) = &func else {
            return Ok(decisions);
        };
        match msg {
            Message::Update { update, prev } => {
                // The same tests as the core's, in the same order.
                let watermark = self.core.watermark(update.source_id.as_str());
                if prev.is_some_and(|p| p > watermark) || update.version <= watermark {
                    return Ok(decisions);
                }
                decisions.push_back(call_resolver(
                    py,
                    func,
                    self.core.get(update.key.as_str()),
                    update,
                )?);
            }
            Message::Reset(reset) => {
                let mut sim: HashMap<&str, Entry<Value>> = HashMap::new();
                for u in &reset.entries {
                    let current = sim
                        .get(u.key.as_str())
                        .or_else(|| self.core.get(u.key.as_str()));
                    let accept = call_resolver(py, func, current, u)?;
                    if accept {
                        sim.insert(u.key.as_str(), u.to_entry());
                    }
                    decisions.push_back(accept);
                }
            }
            _ => {}
        }
        Ok(decisions)
    }

    fn take_resolver_error(&self) -> Option<PyErr> {
        self.resolve_state.as_ref().and_then(|s| {
            let mut s = lock(s);
            s.preset.clear();
            s.error.take()
        })
    }

    fn take_sort_error(&self) -> Option<PyErr> {
        self.sort_state.as_ref().and_then(|s| lock(s).error.take())
    }

    /// Hands one parsed message to the core, with the resolver's decisions computed first.
    fn receive(
        &mut self,
        py: Python<'_>,
        peer: &NodeId,
        msg: Message<String, Value>,
    ) -> PyResult<()> {
        let decisions = self.preflight(py, &msg)?;
        if let Some(state) = &self.resolve_state {
            lock(state).preset = decisions;
        }
        let result = self.core.receive(peer, msg);
        if let Some(e) = self.take_resolver_error() {
            return Err(e);
        }
        if let Some(e) = self.take_sort_error() {
            return Err(e);
        }
        result.map_err(|e| errors::invalid(py, e.to_string()))
    }

    /// Refuses a write whose update could never be sent: its frame, with the largest version,
    /// timestamp and `prev`, would exceed `max_frame_size`.
    fn check_frame_size(&self, key: &str, value: Option<&Value>) -> PyResult<()> {
        let probe: Message<&str, &Value> = Message::Update {
            update: scuttle_core::Update {
                key,
                value,
                source_id: self.core.id().clone(),
                version: u64::MAX,
                timestamp: u64::MAX,
            },
            prev: Some(u64::MAX - 1),
        };
        let mut out = Vec::new();
        self.codec.encode(&probe, &mut out).map_err(|e| {
            PyValueError::new_err(format!("the update of {key:?} cannot be sent: {e}"))
        })
    }

    fn write_local(&mut self, key: String, value: Option<Value>) -> PyResult<bool> {
        self.check_frame_size(&key, value.as_ref())?;
        let result = match value {
            Some(v) => self.core.set(key, v),
            None => self.core.delete(key),
        };
        if let Some(e) = self.take_resolver_error() {
            return Err(e);
        }
        match result {
            Ok(_) => Ok(true),
            Err(SetError::Rejected) => Ok(false),
            Err(e) => Err(PyOverflowError::new_err(e.to_string())),
        }
    }

    fn live_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.core.iter().map(|(k, _)| k.clone()).collect();
        keys.sort_unstable();
        keys
    }

    fn poll(&mut self, peer: &str, n: Option<usize>) -> Vec<Message<String, Value>> {
        let peer = NodeId::from(peer);
        let limit = n.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        while out.len() < limit {
            match self.core.poll_message(&peer) {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }
}

#[pymethods]
impl PyGossip {
    #[new]
    #[pyo3(signature = (
        id, *, mtu = 10, max_history = 10, resolve = None, sort = None,
        tombstone_grace = Some(3600.0), clock = None, max_frame_size = 4 * 1024 * 1024,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        id: String,
        mtu: usize,
        max_history: usize,
        resolve: Option<&Bound<'_, PyAny>>,
        sort: Option<&Bound<'_, PyAny>>,
        tombstone_grace: Option<f64>,
        clock: Option<PyRef<'_, PyManualClock>>,
        max_frame_size: usize,
    ) -> PyResult<Self> {
        let grace = match tombstone_grace {
            None => None,
            Some(s) if s.is_finite() && s >= 0.0 => Some(
                Duration::try_from_secs_f64(s)
                    .map_err(|e| errors::config(py, format!("tombstone_grace: {e}")))?,
            ),
            Some(s) => {
                return Err(errors::config(
                    py,
                    format!(
                        "tombstone_grace must be None or a finite number of seconds >= 0, got {s}"
                    ),
                ))
            }
        };
        let resolver = parse_resolver(py, resolve)?;
        let resolve_state = resolver.state().cloned();
        let sorter = parse_sorter(py, sort)?;
        let sort_state = match &sorter {
            PySorter::Key { state } => Some(state.clone()),
            _ => None,
        };
        let config = Config::default()
            .with_mtu(mtu)
            .with_max_history(max_history)
            .with_tombstone_grace(grace)
            .with_max_frame_size(max_frame_size);
        let mut core = Core::new(id, config, resolver, sorter)
            .map_err(|e| errors::config(py, e.to_string()))?;
        if let Some(clock) = clock {
            core = core.with_clock(clock.inner.clone());
        }
        Ok(PyGossip {
            core,
            codec: FrameCodec::new(max_frame_size),
            resolve_state,
            sort_state,
            on_update: Vec::new(),
            on_compaction: Vec::new(),
        })
    }

    /// This node's id (its source id).
    #[getter]
    fn id(&self) -> String {
        self.core.id().to_string()
    }

    /// The highest version this node has seen from anyone (0 for a fresh node).
    #[getter]
    fn version(&self) -> u64 {
        self.core.version()
    }

    /// Maximum updates sent per exchange.
    #[getter]
    fn mtu(&self) -> usize {
        self.core.config().mtu
    }

    /// Superseded updates kept for replay.
    #[getter]
    fn max_history(&self) -> usize {
        self.core.config().max_history
    }

    /// A snapshot of the live state: `{key: Entry}`.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, e) in self.core.entries() {
            if e.value.is_some() {
                d.set_item(k.as_str(), PyEntry::from_entry(py, e)?)?;
            }
        }
        Ok(d)
    }

    /// A view of the updates this node can still replay as news.
    #[getter]
    fn history(slf: Bound<'_, Self>) -> PyHistory {
        PyHistory { node: slf.unbind() }
    }

    /// Every known source with this node's watermark for it (its digest).
    #[getter]
    fn watermarks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (s, v) in self.core.watermarks() {
            d.set_item(s.as_str(), v)?;
        }
        Ok(d)
    }

    /// Counters of what this node did.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.core.stats();
        let d = PyDict::new(py);
        d.set_item("updates_sent", s.updates_sent)?;
        d.set_item("updates_applied", s.updates_applied)?;
        d.set_item("updates_rejected", s.updates_rejected)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("gaps", s.gaps)?;
        d.set_item("resets_sent", s.resets_sent)?;
        d.set_item("digests_answered", s.digests_answered)?;
        Ok(d)
    }

    /// Writes `key = value`; False when the resolver rejects it (nothing changes then).
    fn set(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let key = key_of(key)?;
        let value = value::from_py(value)?;
        Self::run(slf, |this, _| this.write_local(key, Some(value)))
    }

    /// Deletes `key` (writes a tombstone); False when the resolver rejects it.
    fn delete(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = key_of(key)?;
        Self::run(slf, |this, _| this.write_local(key, None))
    }

    /// The value of `key`, or `default` when it has none.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let key = key_of(key)?;
        match self.core.value(key.as_str()) {
            Some(v) => value::to_py(py, v),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    /// The entry of `key`, or None when it has no live value (with `tombstones=True`, a
    /// deleted key gives its tombstone entry).
    #[pyo3(signature = (key, *, tombstones = false))]
    fn entry(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        tombstones: bool,
    ) -> PyResult<Option<Py<PyEntry>>> {
        let key = key_of(key)?;
        match self.core.get(key.as_str()) {
            Some(e) if tombstones || e.value.is_some() => Ok(Some(PyEntry::from_entry(py, e)?)),
            _ => Ok(None),
        }
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let k = key_of(key)?;
        match self.core.value(k.as_str()) {
            Some(v) => value::to_py(py, v),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(match key.cast::<PyString>() {
            Ok(s) => self.core.contains_key(s.to_cow()?.as_ref()),
            Err(_) => false,
        })
    }

    fn __len__(&self) -> usize {
        self.core.len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyList::new(py, self.live_keys())?.try_iter()?.into_any())
    }

    /// The live keys, sorted.
    fn keys(&self) -> Vec<String> {
        self.live_keys()
    }

    /// The live values, in key order.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.live_keys()
            .iter()
            .filter_map(|k| self.core.value(k.as_str()))
            .map(|v| value::to_py(py, v))
            .collect()
    }

    /// The live `(key, value)` pairs, in key order.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let mut out = Vec::new();
        for k in self.live_keys() {
            if let Some(v) = self.core.value(k.as_str()) {
                out.push(PyTuple::new(
                    py,
                    [k.into_pyobject(py)?.into_any(), value::to_py(py, v)?],
                )?);
            }
        }
        Ok(out)
    }

    /// Starts an exchange with `peer`: queues this node's digest for it.
    #[pyo3(signature = (peer = DEFAULT_PEER))]
    fn gossip(slf: &Bound<'_, Self>, peer: &str) -> PyResult<()> {
        let peer = NodeId::from(peer);
        Self::run(slf, |this, _| {
            this.core.gossip(&peer);
            Ok(())
        })
    }

    /// Drains up to `n` (default: all) messages queued for `peer`, as dicts.
    #[pyo3(signature = (n = None, *, peer = DEFAULT_PEER))]
    fn read<'py>(
        &mut self,
        py: Python<'py>,
        n: Option<usize>,
        peer: &str,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.poll(peer, n)
            .iter()
            .map(|m| wire::to_dict(py, m))
            .collect()
    }

    /// Takes one message dict from `peer`. An invalid message raises `InvalidMessageError`
    /// (a `ValueError`) and changes nothing.
    #[pyo3(signature = (msg, *, peer = DEFAULT_PEER))]
    fn write(slf: &Bound<'_, Self>, msg: &Bound<'_, PyAny>, peer: &str) -> PyResult<()> {
        let py = slf.py();
        let msg = wire::from_dict(msg).map_err(|e| errors::invalid(py, e))?;
        let peer = NodeId::from(peer);
        Self::run(slf, |this, py| this.receive(py, &peer, msg))
    }

    /// Drains up to `n` (default: all) messages queued for `peer` as length-prefixed CBOR
    /// frames, concatenated.
    #[pyo3(signature = (n = None, *, peer = DEFAULT_PEER))]
    fn read_bytes<'py>(
        &mut self,
        py: Python<'py>,
        n: Option<usize>,
        peer: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::new();
        for m in self.poll(peer, n) {
            self.codec
                .encode(&m, &mut out)
                .map_err(|e| PyValueError::new_err(format!("cannot encode a message: {e}")))?;
        }
        Ok(PyBytes::new(py, &out))
    }

    /// Takes one or more whole length-prefixed CBOR frames from `peer`; returns how many
    /// messages they held. Every frame is decoded and checked before any is applied.
    #[pyo3(signature = (data, *, peer = DEFAULT_PEER))]
    fn write_bytes(slf: &Bound<'_, Self>, data: &[u8], peer: &str) -> PyResult<usize> {
        let py = slf.py();
        let codec = slf.try_borrow()?.codec;
        let mut buf = BytesMut::from(data);
        let mut msgs = Vec::new();
        while !buf.is_empty() {
            match codec.decode::<String, Value>(&mut buf) {
                Ok(Some(m)) => {
                    wire::check_values(&m).map_err(|e| errors::invalid(py, e))?;
                    msgs.push(m);
                }
                Ok(None) => return Err(errors::invalid(py, "incomplete frame")),
                Err(e) => return Err(errors::invalid(py, e.to_string())),
            }
        }
        let peer = NodeId::from(peer);
        let count = msgs.len();
        Self::run(slf, |this, py| {
            msgs.into_iter()
                .try_for_each(|m| this.receive(py, &peer, m))
        })?;
        Ok(count)
    }

    /// How many messages wait for `peer`.
    #[pyo3(signature = (peer = DEFAULT_PEER))]
    fn pending(&self, peer: &str) -> usize {
        self.core.outgoing_len(&NodeId::from(peer))
    }

    /// This node's watermark for `source_id` (0 when unknown).
    fn watermark(&self, source_id: &str) -> u64 {
        self.core.watermark(source_id)
    }

    /// Forgets expired tombstones; returns how many.
    fn collect_tombstones(slf: &Bound<'_, Self>) -> PyResult<usize> {
        Self::run(slf, |this, _| Ok(this.core.collect_tombstones()))
    }

    /// Drops what is pending for `peer` (a half-received digest and unsent messages).
    fn forget_peer(&mut self, peer: &str) {
        self.core.forget_peer(&NodeId::from(peer));
    }

    /// Registers `callback(key, entry, peer)` for every update that wins (local writes
    /// included, with `peer=None`). Returns the callback, so it works as a decorator.
    fn on_update(&mut self, callback: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err("callback must be callable"));
        }
        self.on_update.push(callback.clone().unbind());
        Ok(callback.unbind())
    }

    /// Registers `callback(dropped, history_len)` for every history compaction. Returns the
    /// callback.
    fn on_compaction(&mut self, callback: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err("callback must be callable"));
        }
        self.on_compaction.push(callback.clone().unbind());
        Ok(callback.unbind())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for cb in self.on_update.iter().chain(&self.on_compaction) {
            visit.call(cb)?;
        }
        // The node is not in use while the collector runs; a busy lock is skipped.
        if let Some(Ok(s)) = self.resolve_state.as_ref().map(|s| s.try_lock()) {
            visit.call(&s.func)?;
        }
        if let Some(Ok(s)) = self.sort_state.as_ref().map(|s| s.try_lock()) {
            visit.call(&s.func)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.on_update.clear();
        self.on_compaction.clear();
        if let Some(s) = &self.resolve_state {
            lock(s).func = None;
        }
        if let Some(s) = &self.sort_state {
            lock(s).func = None;
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Gossip(id={}, version={}, keys={})",
            PyString::new(py, self.core.id().as_str()).repr()?,
            self.core.version(),
            self.core.len()
        ))
    }
}

/// The updates a node can still replay as news (`Gossip.history`).
#[pyclass(frozen, module = "scuttle", name = "History")]
pub struct PyHistory {
    node: Py<PyGossip>,
}

#[pymethods]
impl PyHistory {
    /// The updates held from `source_id` above `version`, ascending, as dicts.
    #[pyo3(signature = (source_id, version = 0))]
    fn news<'py>(
        &self,
        py: Python<'py>,
        source_id: &str,
        version: u64,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let node = self.node.bind(py).try_borrow()?;
        node.core
            .news(source_id, version)
            .map(|u| wire::update_dict(py, u))
            .collect()
    }

    /// Every source with at least one held update, sorted.
    fn sources(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let node = self.node.bind(py).try_borrow()?;
        let mut out: Vec<String> = node
            .core
            .history()
            .sources()
            .map(|s| s.to_string())
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.node.bind(py).try_borrow()?.core.history().len())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.node)
    }
}
