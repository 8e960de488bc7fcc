//! `scuttle._scuttle._NativeNode`: the networked node (`scuttle_node::EmbeddedNode`, libp2p
//! or TCP) behind `scuttle.Node` (asyncio) and `scuttle.BlockingNode` (`python/scuttle/_node.py`).
//!
//! The node runs on its own two-thread tokio runtime: no Python thread per connection. Each
//! call has two forms:
//!
//! * **async**: `set(key, value, done)` spawns the request on the node's runtime and returns
//!   at once; when it ends, `done(result, error)` is called once, from a runtime thread.
//!   The Python side passes a `done` that hands the outcome to its event loop with
//!   `loop.call_soon_threadsafe` (so this module needs no asyncio and no extra crate).
//! * **blocking**: `set_wait(key, value)` waits with the GIL released.
//!
//! A request still pending when the node stops is dropped with the runtime; its `done` is
//! then called with `ClosedError` (or, for an event stream, with `(None, None)`: the end),
//! so no awaiting coroutine is left hanging.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use scuttle_node::{EmbeddedNode, EntryView, NodeError, Notice};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::AbortHandle;

use crate::errors;
use crate::net_options::node_options;
use crate::net_types::{PyMember, PyNodeEvent};
use crate::types::PyEntry;

/// Prints the node's logs to stderr at `level` (a `RUST_LOG`-style filter), as
/// `scuttle node --log-level` does. The first node's level stays for the process (one log
/// subscriber per process).
fn init_logs(py: Python<'_>, level: &str) -> PyResult<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| errors::config(py, format!("log_level={level:?}: {e}")))?;
    // Another subscriber already set (an earlier node): that one stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    Ok(())
}

/// How often a blocking wait for events wakes to let Python handle signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The running node, shared with the event streams; `None` once closed. Streams and async
/// requests never hold the node itself, so `close()` really stops it.
type Slot = Arc<Mutex<Option<Arc<EmbeddedNode>>>>;

fn live(slot: &Slot) -> Option<Arc<EmbeddedNode>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// What `done` is told when its request is dropped unfinished (the node stopped).
#[derive(Clone, Copy)]
enum Unfinished {
    /// `done(None, ClosedError())`.
    Closed,
    /// `done(None, None)`: an event stream that ended.
    End,
}

/// The `done(result, error)` callback of one async request: called exactly once, with the
/// outcome or, when the request is dropped unfinished, as [`Unfinished`] says.
struct Reply {
    done: Option<Py<PyAny>>,
    unfinished: Unfinished,
}

impl Reply {
    fn new(done: Py<PyAny>, unfinished: Unfinished) -> Self {
        Reply {
            done: Some(done),
            unfinished,
        }
    }

    fn send(mut self, py: Python<'_>, outcome: PyResult<Py<PyAny>>) {
        if let Some(done) = self.done.take() {
            call(py, done, outcome);
        }
    }
}

fn call(py: Python<'_>, done: Py<PyAny>, outcome: PyResult<Py<PyAny>>) {
    let args = match outcome {
        Ok(value) => (value, py.None()),
        Err(e) => (py.None(), e.into_value(py).into_any()),
    };
    if let Err(e) = done.call1(py, args) {
        // `done` only schedules on the loop; if even that failed, say so, do not panic.
        e.write_unraisable(py, None);
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let Some(done) = self.done.take() else {
            return;
        };
        let unfinished = self.unfinished;
        // Not while the interpreter is shutting down: then there is no one left to tell.
        Python::try_attach(|py| {
            let outcome = match unfinished {
                Unfinished::Closed => Err(errors::closed(py)),
                Unfinished::End => Ok(py.None()),
            };
            call(py, done, outcome);
        });
    }
}

/// Spawns `request` on `node`'s runtime; `done` gets `convert` of its result.
fn spawn<T, F, C>(
    node: &EmbeddedNode,
    done: Py<PyAny>,
    unfinished: Unfinished,
    request: F,
    convert: C,
) -> PyResult<PyTask>
where
    T: Send + 'static,
    F: Future<Output = Result<T, NodeError>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let runtime = node
        .runtime()
        .map_err(|e| Python::attach(|py| errors::from_node(py, e)))?;
    // Made once the request is sure to be spawned: from here `done` is called exactly once.
    let reply = Reply::new(done, unfinished);
    let task = runtime.spawn(async move {
        let result = request.await;
        Python::attach(|py| {
            let outcome = result
                .map_err(|e| errors::from_node(py, e))
                .and_then(|v| convert(py, v));
            reply.send(py, outcome);
        });
    });
    Ok(PyTask::new(task.abort_handle()))
}

/// A request spawned on the node's runtime, for `cancel()` (an event wait whose coroutine
/// was cancelled: the wait ends, no event is consumed).
#[pyclass(frozen, module = "scuttle._scuttle", name = "_Task")]
pub struct PyTask {
    /// Taken by `cancel()`: a task handle keeps its runtime's I/O driver (an epoll and an
    /// eventfd) alive, so it must not outlive the wait in a traceback's frame.
    abort: Mutex<Option<AbortHandle>>,
}

impl PyTask {
    fn new(abort: AbortHandle) -> Self {
        PyTask {
            abort: Mutex::new(Some(abort)),
        }
    }
}

#[pymethods]
impl PyTask {
    /// Stops the request if it has not finished (its `done` is then called as unfinished).
    fn cancel(&self) {
        let abort = self.abort.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(abort) = abort {
            abort.abort();
        }
    }
}

/// The networked node behind `scuttle.Node` and `scuttle.BlockingNode` (see the module docs).
#[pyclass(frozen, module = "scuttle._scuttle", name = "_NativeNode")]
pub struct PyNetNode {
    slot: Slot,
    id: String,
    listen: Vec<String>,
    api: Option<String>,
}

impl PyNetNode {
    fn node(&self, py: Python<'_>) -> PyResult<Arc<EmbeddedNode>> {
        live(&self.slot).ok_or_else(|| errors::closed(py))
    }

    /// Runs `request` on the node and waits for it, with the GIL released.
    fn wait<T: Send, F>(
        &self,
        py: Python<'_>,
        request: impl FnOnce(&EmbeddedNode) -> F + Send,
    ) -> PyResult<T>
    where
        F: Future<Output = Result<T, NodeError>> + Send,
    {
        let node = self.node(py)?;
        let result = py.detach(|| {
            let result = node.block_on(request(&node)).and_then(|r| r);
            drop(node); // the last reference when close() ran meanwhile: stops it here
            result
        });
        result.map_err(|e| errors::from_node(py, e))
    }
}

fn int(py: Python<'_>, v: u64) -> PyResult<Py<PyAny>> {
    Ok(v.into_pyobject(py)?.into_any().unbind())
}

fn value_or_none(py: Python<'_>, entry: Option<EntryView>) -> PyResult<Py<PyAny>> {
    Ok(match entry.and_then(|e| e.value) {
        Some(v) => PyString::new(py, &v).into_any().unbind(),
        None => py.None(),
    })
}

fn entry(py: Python<'_>, e: EntryView) -> PyResult<Py<PyEntry>> {
    let deleted = e.value.is_none();
    let value = match e.value {
        Some(v) => PyString::new(py, &v).into_any().unbind(),
        None => py.None(),
    };
    Py::new(
        py,
        PyEntry {
            value,
            version: e.version,
            source_id: e.source_id,
            timestamp: e.timestamp,
            deleted,
        },
    )
}

#[pymethods]
impl PyNetNode {
    /// Starts a node as the keywords say (see `scuttle.Node.start`); blocks, with the GIL
    /// released, until it listens.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options = node_options(py, options)?;
        if let Some(level) = &options.log_level {
            init_logs(py, level)?;
        }
        let node = py
            .detach(|| EmbeddedNode::start(options))
            .map_err(|e| errors::from_node(py, e))?;
        Ok(PyNetNode {
            id: node.id().to_string(),
            listen: node.listen_addrs().to_vec(),
            api: node.api_addr().map(|a| a.to_string()),
            slot: Arc::new(Mutex::new(Some(Arc::new(node)))),
        })
    }

    /// The node's id (libp2p: the peer id of its identity key).
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// The addresses it listens on (libp2p: multiaddrs; tcp: `HOST:PORT`).
    #[getter]
    fn listen_addrs(&self) -> Vec<String> {
        self.listen.clone()
    }

    /// The HTTP API's bound address (`HOST:PORT`), or None without `api=`.
    #[getter]
    fn api_addr(&self) -> Option<String> {
        self.api.clone()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        live(&self.slot).is_none()
    }

    /// Writes `key = value` in the background; `done(version, error)`.
    fn set(&self, py: Python<'_>, key: String, value: String, done: Py<PyAny>) -> PyResult<()> {
        let node = self.node(py)?;
        let handle = node.handle();
        spawn(
            &node,
            done,
            Unfinished::Closed,
            async move { handle.set(key, value).await },
            int,
        )
        .map(drop)
    }

    /// Deletes `key` in the background; `done(version, error)`.
    fn delete(&self, py: Python<'_>, key: String, done: Py<PyAny>) -> PyResult<()> {
        let node = self.node(py)?;
        let handle = node.handle();
        spawn(
            &node,
            done,
            Unfinished::Closed,
            async move { handle.delete(key).await },
            int,
        )
        .map(drop)
    }

    /// Writes `key = value` and returns the write's version.
    fn set_wait(&self, py: Python<'_>, key: String, value: String) -> PyResult<u64> {
        self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.set(key, value).await }
        })
    }

    /// Deletes `key` and returns the tombstone's version.
    fn delete_wait(&self, py: Python<'_>, key: String) -> PyResult<u64> {
        self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.delete(key).await }
        })
    }

    /// The value of `key`, or None when it is missing or deleted.
    fn get(&self, py: Python<'_>, key: String) -> PyResult<Py<PyAny>> {
        let e = self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.get(key).await }
        })?;
        value_or_none(py, e)
    }

    /// The entry of `key` (tombstones included), or None.
    fn entry(&self, py: Python<'_>, key: String) -> PyResult<Option<Py<PyEntry>>> {
        let e = self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.get(key).await }
        })?;
        e.map(|e| entry(py, e)).transpose()
    }

    /// The live entries: `{key: Entry}`.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let entries = self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.state().await }
        })?;
        let d = PyDict::new(py);
        for e in entries.into_iter().filter(|e| e.value.is_some()) {
            d.set_item(e.key.clone(), entry(py, e)?)?;
        }
        Ok(d)
    }

    /// The members this node knows of (not itself), sorted by id.
    fn members(&self, py: Python<'_>) -> PyResult<Vec<PyMember>> {
        let members = self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.members().await }
        })?;
        Ok(members.into_iter().map(PyMember::from).collect())
    }

    /// The ids of connected peers, sorted.
    fn peers(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.peers().await }
        })
    }

    /// The node's status, as `GET /v1/status` gives it.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.wait(py, |n| {
            let handle = n.handle();
            async move { handle.status().await }
        })?;
        let d = PyDict::new(py);
        d.set_item("id", s.id)?;
        d.set_item("transport", s.transport)?;
        d.set_item("cluster", s.cluster)?;
        d.set_item("listen", PyList::new(py, s.listen)?)?;
        d.set_item("version", s.version)?;
        d.set_item("keys", s.keys)?;
        d.set_item("peers", s.peers)?;
        let members = PyDict::new(py);
        members.set_item("alive", s.members.alive)?;
        members.set_item("suspect", s.members.suspect)?;
        members.set_item("down", s.members.down)?;
        d.set_item("members", members)?;
        d.set_item("uptime_seconds", s.uptime_seconds)?;
        d.set_item("rejoining", s.rejoining)?;
        Ok(d)
    }

    /// A new stream of this node's events, from now on.
    fn subscribe(&self, py: Python<'_>) -> PyResult<PyEventStream> {
        let rx = self
            .node(py)?
            .subscribe()
            .map_err(|e| errors::from_node(py, e))?;
        Ok(PyEventStream {
            slot: self.slot.clone(),
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
        })
    }

    /// Stops the node (a libp2p node tells the cluster it leaves) and its runtime, with the
    /// GIL released: no task, thread or socket is left. Closing again does nothing.
    fn close(&self, py: Python<'_>) {
        let node = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        py.detach(|| drop(node));
    }
}

impl Drop for PyNetNode {
    fn drop(&mut self) {
        let node = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if node.is_some() {
            // Stopping waits for the runtime, whose pending requests may need the GIL.
            Python::attach(|py| py.detach(|| drop(node)));
        }
    }
}

/// One listener's events (`Node.events()`, `BlockingNode.events()`): every event from its
/// creation on, in order; it ends when the node closes.
#[pyclass(frozen, module = "scuttle._scuttle", name = "_EventStream")]
pub struct PyEventStream {
    slot: Slot,
    /// A tokio mutex: a wait holds it while it waits.
    rx: Arc<tokio::sync::Mutex<broadcast::Receiver<Notice>>>,
}

/// The event of one receive, `None` for the end.
fn event_of(received: Result<Notice, RecvError>) -> Option<PyNodeEvent> {
    match received {
        Ok(notice) => Some(PyNodeEvent::from_notice(notice)),
        Err(RecvError::Lagged(missed)) => Some(PyNodeEvent::from_notice(Notice::Lagged(missed))),
        Err(RecvError::Closed) => None,
    }
}

fn event_or_none(py: Python<'_>, event: Option<PyNodeEvent>) -> PyResult<Py<PyAny>> {
    Ok(match event {
        Some(e) => Py::new(py, e)?.into_any(),
        None => py.None(),
    })
}

#[pymethods]
impl PyEventStream {
    /// Waits for the next event in the background: `done(event, None)`, or `done(None, None)`
    /// at the end. Returns the wait, to `cancel()` it. `ClosedError` if the node is closed.
    fn next(&self, py: Python<'_>, done: Py<PyAny>) -> PyResult<PyTask> {
        let node = live(&self.slot).ok_or_else(|| errors::closed(py))?;
        let runtime = node.runtime().map_err(|e| errors::from_node(py, e))?;
        let rx = self.rx.clone();
        let reply = Reply::new(done, Unfinished::End);
        let task = runtime.spawn(async move {
            let mut rx = rx.lock_owned().await;
            let event = event_of(rx.recv().await);
            // `done` is called before the next wait can receive: the loop gets the events
            // in order even when a cancelled wait's event comes late.
            Python::attach(|py| reply.send(py, event_or_none(py, event)));
            drop(rx);
        });
        Ok(PyTask::new(task.abort_handle()))
    }

    /// The next event, waiting at most `timeout` seconds (None: until the node closes), with
    /// the GIL released. None when none came in time or the node closed.
    #[pyo3(signature = (timeout = None))]
    fn next_wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyNodeEvent>> {
        let deadline = match timeout {
            Some(t) if !(t >= 0.0 && t.is_finite()) => {
                return Err(errors::config(py, format!("timeout must be >= 0, got {t}")))
            }
            Some(t) => Some(Instant::now() + Duration::from_secs_f64(t)),
            None => None,
        };
        loop {
            let Some(node) = live(&self.slot) else {
                return Ok(None);
            };
            let slice = deadline.map_or(SIGNAL_CHECK, |d| {
                d.saturating_duration_since(Instant::now())
                    .min(SIGNAL_CHECK)
            });
            let rx = self.rx.clone();
            let got = py.detach(|| {
                let got = node.block_on(async move {
                    let mut rx = rx.lock().await;
                    tokio::time::timeout(slice, rx.recv()).await.ok()
                });
                drop(node);
                got
            });
            match got {
                Ok(Some(received)) => return Ok(event_of(received)),
                Ok(None) => {}
                Err(_stopped) => return Ok(None),
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }
}
