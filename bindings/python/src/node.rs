//! `scuttle.Gossip`: one node of the replicated map, and its `History` view.
//!
//! The node wraps the core and adds only transport plumbing:
//!
//! * the seed's pipe: `gossip()`/`read()`/`write(dict)` move the seed's dicts; the core's seed
//!   codec splits each outgoing message into lines ([`split`]) and joins incoming lines into
//!   whole messages ([`Joiner`]), whose replies are queued for `read()`;
//! * frames: `start_exchange()`/`handle_frame(frame) -> reply` move whole messages as
//!   length-prefixed CBOR ([`FrameCodec`]);
//! * the system clock, read only when a caller gives no `now`;
//! * callbacks for the core's events, with the peer label of the message that caused them;
//! * with `path=`, the node's store file (`scuttle-store`'s `RedbStore`), closed by `close()`.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyKeyError, PyTypeError, PyUserWarning};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::PyTraverseError;
use scuttle_core::codec::seed::{split, Dialect, Joiner, Line};
use scuttle_core::{
    Config, Event, FrameCodec, Message, Millis, ResolverKind, SetError, SorterKind, Versions,
};
use scuttle_store::RedbStore;

use crate::errors;
use crate::policy::{Callback, PyResolver, PySorter};
use crate::types::PyEntry;
use crate::value::{self, Value};
use crate::wire;

/// The core as the bindings instantiate it.
pub type Core = scuttle_core::Gossip<String, Value, PyResolver, PySorter>;

/// The peer label `on_update` callbacks get for messages written without `peer=`.
pub const DEFAULT_PEER: &str = "peer";

/// The time to give the core: `now` when the caller gave one, else the system clock
/// (milliseconds since the Unix epoch).
pub fn now_or_system(now: Option<Millis>) -> Millis {
    now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

/// An event converted for the Python callbacks.
enum Fired {
    Update(String, Py<PyEntry>, Option<String>),
    Compaction(usize, usize),
}

/// A node of the replicated map (see the package docs).
#[pyclass(module = "scuttle", name = "Gossip", weakref)]
pub struct PyGossip {
    /// The node; `None` once closed.
    core: Option<Core>,
    /// Its id, still readable after `close()`.
    id: String,
    /// The store file, if any.
    path: Option<String>,
    codec: FrameCodec,
    /// Lines of the messages produced for the pipe, waiting for `read()`.
    outbox: VecDeque<Line<String, Value>>,
    /// Lines written to the pipe, joined into whole messages.
    joiner: Joiner<String, Value>,
    resolve_cb: Option<Callback>,
    sort_cb: Option<Callback>,
    on_update: Vec<Py<PyAny>>,
    on_compaction: Vec<Py<PyAny>>,
    /// The resolver is `lww_clock` and no update without a timestamp was seen yet: the first
    /// one (a seed peer's) raises a warning.
    warn_clock: bool,
}

/// The pipe's joiner: the seed's dialect, so the seed's own dicts read as they are.
fn seed_joiner(config: &Config) -> Joiner<String, Value> {
    Joiner::new(config.max_digest_sources).with_dialect(Dialect::Seed)
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
        return Ok(PyResolver::Builtin(ResolverKind::default()));
    };
    if let Ok(name) = resolve.cast::<PyString>() {
        // The Python spelling `lww_clock` is the core's `lww-clock`.
        return name
            .to_cow()?
            .replace('_', "-")
            .parse::<ResolverKind>()
            .map(PyResolver::Builtin)
            .map_err(|e| errors::config(py, format!("{e}, or a callable")));
    }
    if resolve.is_callable() {
        return Ok(PyResolver::Callable(Callback::new(
            resolve.clone().unbind(),
        )));
    }
    Err(PyTypeError::new_err(
        "resolve must be \"lww\", \"strict\", \"lww_clock\" or a callable",
    ))
}

fn parse_sorter(py: Python<'_>, sort: Option<&Bound<'_, PyAny>>) -> PyResult<PySorter> {
    let Some(sort) = sort else {
        return Ok(PySorter::Builtin(SorterKind::default()));
    };
    if let Ok(name) = sort.cast::<PyString>() {
        return name
            .to_cow()?
            .parse::<SorterKind>()
            .map(PySorter::Builtin)
            .map_err(|e| errors::config(py, format!("{e}, or a key callable")));
    }
    if sort.is_callable() {
        return Ok(PySorter::Key(Callback::new(sort.clone().unbind())));
    }
    Err(PyTypeError::new_err(
        "sort must be \"breadth\", \"depth\" or a key callable",
    ))
}

fn parse_grace(py: Python<'_>, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    parse_seconds(py, "tombstone_grace", seconds)
}

/// An optional period in seconds (`name` for the error message).
fn parse_seconds(py: Python<'_>, name: &str, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|e| errors::config(py, format!("{name}: {e}"))),
        Some(s) => Err(errors::config(
            py,
            format!("{name} must be None or a finite number of seconds >= 0, got {s}"),
        )),
    }
}

fn parse_versions(py: Python<'_>, versions: &str) -> PyResult<Versions> {
    match versions {
        "counter" => Ok(Versions::Counter),
        "hybrid" => Ok(Versions::Hybrid),
        other => Err(errors::config(
            py,
            format!("versions must be \"counter\" or \"hybrid\", got {other:?}"),
        )),
    }
}

/// Updates carried by a message (a reset counts its entries, and at least one).
pub fn news_count(msg: &Message<String, Value>) -> usize {
    match msg.news() {
        Some(scuttle_core::News::Reset(r)) => r.entries.len().max(1),
        Some(news) => news.len(),
        None => 0,
    }
}

impl PyGossip {
    /// The node, or `ClosedError` after `close()`.
    pub fn core(&self) -> PyResult<&Core> {
        self.core
            .as_ref()
            .ok_or_else(|| Python::attach(errors::closed))
    }

    /// The node, mutably, or `ClosedError` after `close()`.
    pub fn core_mut(&mut self) -> PyResult<&mut Core> {
        self.core
            .as_mut()
            .ok_or_else(|| Python::attach(errors::closed))
    }

    /// Runs `f` on the node, then calls the callbacks for the events it caused, after the
    /// node is released (so callbacks may use it). `peer` labels the updates that came from a
    /// message. The first exception wins; every callback runs even when an earlier one raised.
    pub fn run<T>(
        slf: &Bound<'_, Self>,
        peer: Option<&str>,
        f: impl FnOnce(&mut Self, Python<'_>) -> PyResult<T>,
    ) -> PyResult<T> {
        let py = slf.py();
        let (result, fired, update_cbs, compaction_cbs) = {
            let mut this = slf.try_borrow_mut()?;
            let result = f(&mut this, py);
            let fired = this.drain_events(py, peer);
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

    fn drain_events(&mut self, py: Python<'_>, peer: Option<&str>) -> PyResult<Vec<Fired>> {
        let wanted_update = !self.on_update.is_empty();
        let wanted_compaction = !self.on_compaction.is_empty();
        let mut out = Vec::new();
        let Some(core) = self.core.as_mut() else {
            return Ok(out);
        };
        while let Some(event) = core.poll_event() {
            match event {
                Event::Update { key, entry, local } if wanted_update => out.push(Fired::Update(
                    key,
                    PyEntry::from_entry(py, &entry)?,
                    if local { None } else { peer.map(str::to_owned) },
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

    /// Collects the tombstones whose grace has passed, if any is due at `now`.
    fn tick(&mut self, now: Option<Millis>) -> PyResult<()> {
        let now = now_or_system(now);
        let core = self.core_mut()?;
        if core.poll_timeout().is_some_and(|due| due <= now) {
            // A collection the store refuses changes nothing; it is tried again next time.
            let _ = core.handle_timeout(now);
        }
        Ok(())
    }

    /// The message that opens an exchange (after collecting due tombstones).
    pub fn open_exchange(&mut self, now: Option<Millis>) -> PyResult<Message<String, Value>> {
        self.tick(now)?;
        Ok(self.core()?.start_exchange())
    }

    /// Hands one whole message to the core at the system clock's time and returns its reply.
    /// A refused message changed nothing; a policy's exception comes back as raised.
    pub fn receive(
        &mut self,
        py: Python<'_>,
        msg: Message<String, Value>,
    ) -> PyResult<Option<Message<String, Value>>> {
        self.receive_at(py, None, msg)
    }

    /// [`receive`](Self::receive) at `now` (ms; default: the system clock), which bounds how
    /// far ahead of the clock a peer's hybrid versions may be.
    pub fn receive_at(
        &mut self,
        py: Python<'_>,
        now: Option<Millis>,
        msg: Message<String, Value>,
    ) -> PyResult<Option<Message<String, Value>>> {
        self.core_mut()?
            .handle_message(now_or_system(now), msg)
            .map_err(|e| errors::from_receive(py, e))
    }

    fn write_local(
        &mut self,
        py: Python<'_>,
        now: Option<Millis>,
        key: String,
        value: Option<Value>,
    ) -> PyResult<bool> {
        let now = now_or_system(now);
        let core = self.core_mut()?;
        let result = match value {
            Some(v) => core.set(now, key, v),
            None => core.delete(now, key),
        };
        match result {
            Ok(_) => Ok(true),
            Err(SetError::Rejected) => Ok(false),
            Err(e) => Err(errors::from_set(py, e)),
        }
    }

    fn encode(&self, py: Python<'_>, msg: &Message<String, Value>) -> PyResult<Vec<u8>> {
        let mut out = Vec::new();
        self.codec
            .encode(msg, &mut out)
            .map_err(|e| errors::scuttle(py, format!("cannot encode a message: {e}")))?;
        Ok(out)
    }

    /// This node's id.
    pub fn id_string(&self) -> String {
        self.id.clone()
    }

    fn live_keys(&self) -> PyResult<Vec<String>> {
        let mut keys: Vec<String> = self.core()?.iter().map(|(k, _)| k.clone()).collect();
        keys.sort_unstable();
        Ok(keys)
    }
}

#[pymethods]
impl PyGossip {
    #[new]
    #[pyo3(signature = (
        id, *, mtu = 10, max_history = 10, resolve = None, sort = None,
        tombstone_grace = Some(3600.0), max_message_bytes = 1 << 20, digest_hashes = false,
        versions = "counter", max_clock_skew = 60.0, catch_up = None, path = None,
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
        max_message_bytes: usize,
        digest_hashes: bool,
        versions: &str,
        max_clock_skew: f64,
        catch_up: Option<f64>,
        path: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let grace = parse_grace(py, tombstone_grace)?;
        let versions = parse_versions(py, versions)?;
        let max_clock_skew =
            parse_seconds(py, "max_clock_skew", Some(max_clock_skew))?.unwrap_or_default();
        let catch_up = parse_seconds(py, "catch_up", catch_up)?;
        let resolver = parse_resolver(py, resolve)?;
        let resolve_cb = match &resolver {
            PyResolver::Callable(cb) => Some(cb.clone()),
            PyResolver::Builtin(_) => None,
        };
        let sorter = parse_sorter(py, sort)?;
        let sort_cb = match &sorter {
            PySorter::Key(cb) => Some(cb.clone()),
            PySorter::Builtin(_) => None,
        };
        let config = Config::default()
            .with_mtu(mtu)
            .with_max_history(max_history)
            .with_tombstone_grace(grace)
            .with_max_message_bytes(max_message_bytes)
            .with_digest_hashes(digest_hashes)
            .with_versions(versions)
            .with_max_clock_skew(max_clock_skew)
            .with_catch_up(catch_up);
        let joiner = seed_joiner(&config);
        let warn_clock = matches!(
            resolver,
            PyResolver::Builtin(ResolverKind::LastWriterWinsClock)
        );
        let core = Core::new(id.clone(), config, resolver, sorter)
            .map_err(|e| errors::config(py, e.to_string()))?;
        let core = match &path {
            Some(path) => {
                let store = RedbStore::open(path, &id).map_err(|e| errors::from_open(py, e))?;
                core.with_store(store)
                    .map_err(|e| errors::from_core_open(py, e))?
            }
            None => core,
        };
        Ok(PyGossip {
            core: Some(core),
            id,
            path: path.map(|p| p.to_string_lossy().into_owned()),
            codec: FrameCodec::new(max_message_bytes),
            outbox: VecDeque::new(),
            joiner,
            resolve_cb,
            sort_cb,
            on_update: Vec::new(),
            on_compaction: Vec::new(),
            warn_clock,
        })
    }

    /// This node's id (its source id).
    #[getter]
    fn id(&self) -> String {
        self.id.clone()
    }

    /// The store file given as `path=`, or None for a node in memory.
    #[getter]
    fn path(&self) -> Option<String> {
        self.path.clone()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.core.is_none()
    }

    /// Whether local writes are open: False while a node that started empty catches up
    /// (`catch_up=`), True otherwise.
    #[getter]
    fn caught_up(&self) -> PyResult<bool> {
        Ok(self.core()?.is_caught_up())
    }

    /// The highest version this node has seen from anyone (0 for a fresh node).
    #[getter]
    fn version(&self) -> PyResult<u64> {
        Ok(self.core()?.version())
    }

    /// Maximum updates sent per message.
    #[getter]
    fn mtu(&self) -> PyResult<usize> {
        Ok(self.core()?.config().mtu)
    }

    /// Superseded updates kept for replay.
    #[getter]
    fn max_history(&self) -> PyResult<usize> {
        Ok(self.core()?.config().max_history)
    }

    /// Most encoded bytes of one message (and of one frame this node accepts).
    #[getter]
    fn max_message_bytes(&self) -> PyResult<usize> {
        Ok(self.core()?.config().max_message_bytes)
    }

    /// How local writes are numbered: "counter" or "hybrid".
    #[getter]
    fn versions(&self) -> PyResult<&'static str> {
        Ok(match self.core()?.config().versions {
            Versions::Hybrid => "hybrid",
            _ => "counter",
        })
    }

    /// Makes every change so far durable (with `path=`; a no-op in memory). Each write and
    /// each applied message is already durable when its call returns, so this is a barrier.
    fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        self.core_mut()?
            .flush()
            .map_err(|e| errors::from_store(py, &e, "not flushed"))
    }

    /// Closes the node: flushes and releases its store file (so it can be opened again), and
    /// drops its state. Later calls raise `ClosedError`; closing again does nothing.
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let Some(mut core) = self.core.take() else {
            return Ok(());
        };
        self.outbox.clear();
        self.joiner = seed_joiner(core.config());
        let flushed = core.flush();
        drop(core); // releases the file, also when the flush failed
        flushed.map_err(|e| errors::from_store(py, &e, "the node is closed"))
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.try_borrow()?.core()?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// A snapshot of the live state: `{key: Entry}`.
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, e) in self.core()?.entries() {
            if e.value.is_some() {
                d.set_item(k.as_str(), PyEntry::from_entry(py, e)?)?;
            }
        }
        Ok(d)
    }

    /// A view of the updates this node can still replay as news.
    #[getter]
    fn history(slf: Bound<'_, Self>) -> PyResult<PyHistory> {
        slf.try_borrow()?.core()?;
        Ok(PyHistory { node: slf.unbind() })
    }

    /// Every known source with this node's watermark for it (its digest).
    #[getter]
    fn watermarks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (s, v) in self.core()?.watermarks() {
            d.set_item(s.as_str(), v)?;
        }
        Ok(d)
    }

    /// Counters of what this node did.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.core()?.stats();
        let d = PyDict::new(py);
        d.set_item("updates_sent", s.updates_sent)?;
        d.set_item("updates_applied", s.updates_applied)?;
        d.set_item("updates_rejected", s.updates_rejected)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("gaps", s.gaps)?;
        d.set_item("resets_sent", s.resets_sent)?;
        d.set_item("digests_answered", s.digests_answered)?;
        d.set_item("idle_exchanges", s.idle_exchanges)?;
        d.set_item("resets_too_large", s.resets_too_large)?;
        Ok(d)
    }

    /// Writes `key = value` at `now` (ms; default: the system clock); False when the resolver
    /// rejects it (nothing changes then).
    #[pyo3(signature = (key, value, *, now = None))]
    fn set(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        now: Option<Millis>,
    ) -> PyResult<bool> {
        let key = key_of(key)?;
        let value = value::from_py(value)?;
        Self::run(slf, None, |this, py| {
            this.write_local(py, now, key, Some(value))
        })
    }

    /// Deletes `key` (writes a tombstone) at `now`; False when the resolver rejects it.
    #[pyo3(signature = (key, *, now = None))]
    fn delete(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        now: Option<Millis>,
    ) -> PyResult<bool> {
        let key = key_of(key)?;
        Self::run(slf, None, |this, py| this.write_local(py, now, key, None))
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
        match self.core()?.value(key.as_str()) {
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
        match self.core()?.get(key.as_str()) {
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
        match self.core()?.value(k.as_str()) {
            Some(v) => value::to_py(py, v),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let core = self.core()?;
        Ok(match key.cast::<PyString>() {
            Ok(s) => core.contains_key(s.to_cow()?.as_ref()),
            Err(_) => false,
        })
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.core()?.len())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyList::new(py, self.live_keys()?)?.try_iter()?.into_any())
    }

    /// The live keys, sorted.
    fn keys(&self) -> PyResult<Vec<String>> {
        self.live_keys()
    }

    /// The live values, in key order.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let core = self.core()?;
        self.live_keys()?
            .iter()
            .filter_map(|k| core.value(k.as_str()))
            .map(|v| value::to_py(py, v))
            .collect()
    }

    /// The live `(key, value)` pairs, in key order.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let core = self.core()?;
        let mut out = Vec::new();
        for k in self.live_keys()? {
            if let Some(v) = core.value(k.as_str()) {
                out.push(PyTuple::new(
                    py,
                    [k.into_pyobject(py)?.into_any(), value::to_py(py, v)?],
                )?);
            }
        }
        Ok(out)
    }

    /// Starts an exchange over the pipe: queues this node's digest for `read()` (collecting
    /// the tombstones due at `now` first).
    #[pyo3(signature = (*, now = None))]
    fn gossip(slf: &Bound<'_, Self>, now: Option<Millis>) -> PyResult<()> {
        Self::run(slf, None, |this, _| {
            let syn = this.open_exchange(now)?;
            this.outbox.extend(split(&syn));
            Ok(())
        })
    }

    /// Drains up to `n` (default: all) message dicts waiting for the pipe.
    #[pyo3(signature = (n = None))]
    fn read<'py>(
        &mut self,
        py: Python<'py>,
        n: Option<usize>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.core()?;
        let count = n.unwrap_or(usize::MAX).min(self.outbox.len());
        self.outbox
            .drain(..count)
            .map(|line| wire::line_to_dict(py, &line))
            .collect()
    }

    /// Takes one message dict from the pipe. A dict that completes a message hands it to the
    /// node, and the reply is queued for `read()`. An invalid message raises
    /// `InvalidMessageError` (a `ValueError`) and changes nothing; a resolver's or sort key's
    /// exception propagates and changes nothing. `peer` labels the updates for `on_update`.
    #[pyo3(signature = (msg, *, peer = DEFAULT_PEER))]
    fn write(slf: &Bound<'_, Self>, msg: &Bound<'_, PyAny>, peer: &str) -> PyResult<()> {
        let py = slf.py();
        let line = wire::line_from_dict(msg).map_err(|e| errors::invalid(py, e))?;
        let unclocked = !line.digest && !line.reset && line.timestamp.is_none();
        if unclocked && std::mem::take(&mut slf.borrow_mut().warn_clock) {
            PyErr::warn(
                py,
                &py.get_type::<PyUserWarning>(),
                c"an update without a timestamp (a seed peer's) reads as timestamp 0: under \
                  lww_clock it loses to every timestamped write; use lww with seed peers",
                1,
            )?;
        }
        Self::run(slf, Some(peer), |this, py| {
            let first = this
                .joiner
                .push(line)
                .map_err(|e| errors::invalid(py, e.to_string()))?;
            // Update lines join into one message until a line of another kind arrives: hand
            // them over now, so each `write` is applied when it returns.
            let mut msgs: Vec<_> = first.into_iter().collect();
            while let Some(m) = this.joiner.flush() {
                msgs.push(m);
            }
            for msg in msgs {
                if let Some(reply) = this.receive(py, msg)? {
                    this.outbox.extend(split(&reply));
                }
            }
            Ok(())
        })
    }

    /// Ends a digest the peer left without its `done` (the seed's `gossip()` stops before
    /// `done` once it knows more than about `mtu + 2` sources) and answers it; call it when
    /// the pipe has been idle. A digest naming a source twice ends by itself.
    fn finish_digest(slf: &Bound<'_, Self>) -> PyResult<()> {
        Self::run(slf, None, |this, py| {
            let mut msgs: Vec<_> = this.joiner.finish_digest().into_iter().collect();
            while let Some(m) = this.joiner.pop() {
                msgs.push(m);
            }
            for msg in msgs {
                if let Some(reply) = this.receive(py, msg)? {
                    this.outbox.extend(split(&reply));
                }
            }
            Ok(())
        })
    }

    /// How many message dicts wait for `read()`.
    fn pending(&self) -> PyResult<usize> {
        self.core()?;
        Ok(self.outbox.len())
    }

    /// Drops the dicts waiting for `read()` and a half-written message (for a pipe that
    /// broke and is opened again).
    fn reset_pipe(&mut self) -> PyResult<()> {
        let joiner = seed_joiner(self.core()?.config());
        self.outbox.clear();
        self.joiner = joiner;
        Ok(())
    }

    /// Opens an exchange with a peer: the frame to send it (this node's digest), after
    /// collecting the tombstones due at `now`.
    #[pyo3(signature = (*, now = None))]
    fn start_exchange<'py>(
        slf: &Bound<'py, Self>,
        now: Option<Millis>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let frame = Self::run(slf, None, |this, py| {
            let syn = this.open_exchange(now)?;
            this.encode(py, &syn)
        })?;
        Ok(PyBytes::new(slf.py(), &frame))
    }

    /// Handles one frame from `peer` at `now` (ms; default: the system clock) and returns the
    /// reply frame to send back to it, or None when the exchange is over. A frame that does
    /// not decode or breaks the protocol raises `InvalidMessageError` and changes nothing.
    #[pyo3(signature = (frame, *, peer = DEFAULT_PEER, now = None))]
    fn handle_frame<'py>(
        slf: &Bound<'py, Self>,
        frame: &[u8],
        peer: &str,
        now: Option<Millis>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let py = slf.py();
        let codec = {
            let this = slf.try_borrow()?;
            this.core()?;
            this.codec
        };
        let msg = codec
            .decode_frame::<String, Value>(frame)
            .map_err(|e| errors::invalid(py, e.to_string()))?;
        let reply = Self::run(slf, Some(peer), |this, py| {
            this.receive_at(py, now, msg)?
                .map(|reply| this.encode(py, &reply))
                .transpose()
        })?;
        Ok(reply.map(|r| PyBytes::new(py, &r)))
    }

    /// This node's watermark for `source_id` (0 when unknown).
    fn watermark(&self, source_id: &str) -> PyResult<u64> {
        Ok(self.core()?.watermark(source_id))
    }

    /// Collects the tombstones whose grace has passed at `now` (ms; default: the system
    /// clock); returns how many.
    #[pyo3(signature = (now = None))]
    fn handle_timeout(slf: &Bound<'_, Self>, now: Option<Millis>) -> PyResult<usize> {
        Self::run(slf, None, |this, py| {
            this.core_mut()?
                .handle_timeout(now_or_system(now))
                .map_err(|e| errors::from_store(py, &e, "nothing collected"))
        })
    }

    /// The same as `handle_timeout`.
    #[pyo3(signature = (*, now = None))]
    fn collect_tombstones(slf: &Bound<'_, Self>, now: Option<Millis>) -> PyResult<usize> {
        Self::handle_timeout(slf, now)
    }

    /// When `handle_timeout` has work next (ms since the Unix epoch), or None.
    fn poll_timeout(&self) -> PyResult<Option<Millis>> {
        Ok(self.core()?.poll_timeout())
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
        for cb in self.resolve_cb.iter().chain(&self.sort_cb) {
            cb.traverse(&visit)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.on_update.clear();
        self.on_compaction.clear();
        for cb in self.resolve_cb.iter().chain(&self.sort_cb) {
            cb.clear();
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let id = PyString::new(py, &self.id).repr()?;
        Ok(match &self.core {
            Some(core) => format!(
                "Gossip(id={id}, version={}, keys={})",
                core.version(),
                core.len()
            ),
            None => format!("Gossip(id={id}, closed)"),
        })
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
        node.core()?
            .news(source_id, version)
            .map(|u| wire::update_dict(py, u))
            .collect()
    }

    /// Every source with at least one held update, sorted.
    fn sources(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let node = self.node.bind(py).try_borrow()?;
        let core = node.core()?;
        let mut out: Vec<String> = core
            .watermarks()
            .filter(|(s, _)| core.news(s.as_str(), 0).next().is_some())
            .map(|(s, _)| s.to_string())
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.node.bind(py).try_borrow()?.core()?.history_len())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.node)
    }
}
