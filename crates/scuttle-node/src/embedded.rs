//! [`EmbeddedNode`]: a node that brings its own tokio runtime, for callers that have none —
//! the C library and the Python extension. Their calls come from foreign threads; each either
//! blocks on the runtime ([`EmbeddedNode::block_on`]) or spawns onto it
//! ([`EmbeddedNode::runtime`]) and is told the result later (Python's asyncio futures).
//!
//! The runtime has two worker threads whatever the node count of the process, so a process
//! with a node costs two threads, not one per connection. [`EmbeddedNode::stop`] (or drop)
//! stops the node, then the runtime: no task, thread or socket is left behind.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::{start, NodeError, NodeHandle, NodeOptions, Notice, RunningNode};

/// Worker threads of an embedded node's runtime.
const WORKER_THREADS: usize = 2;

/// How long stopping waits for tasks that do not end on their own (a half-open dial).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running node and the tokio runtime it runs on (see the module docs). All methods take
/// `&self` and are safe to call from any thread that is not a worker of this runtime.
#[derive(Debug)]
pub struct EmbeddedNode {
    runtime: Option<tokio::runtime::Runtime>,
    node: Option<RunningNode>,
    handle: NodeHandle,
    id: String,
    listen: Vec<String>,
    api: Option<SocketAddr>,
    notices: Mutex<broadcast::Receiver<Notice>>,
}

impl EmbeddedNode {
    /// Builds a runtime and starts a node on it as `options` say. Blocks until the node
    /// listens (or failed to); must not be called from inside a tokio runtime.
    pub fn start(options: NodeOptions) -> Result<Self, NodeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("scuttle-node")
            .enable_all()
            .build()?;
        let node = runtime.block_on(start(options))?;
        Ok(EmbeddedNode {
            handle: node.handle(),
            id: node.id().to_string(),
            listen: node.listen_addrs().to_vec(),
            api: node.api_addr(),
            notices: Mutex::new(node.notices()),
            node: Some(node),
            runtime: Some(runtime),
        })
    }

    /// A handle for reads and writes (its calls are futures: run them with
    /// [`block_on`](Self::block_on) or spawn them on [`runtime`](Self::runtime)).
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
    }

    /// The runtime the node runs on, to spawn work on it.
    pub fn runtime(&self) -> Result<&tokio::runtime::Handle, NodeError> {
        self.runtime
            .as_ref()
            .map(|r| r.handle())
            .ok_or(NodeError::Stopped)
    }

    /// Runs `future` on the node's runtime and waits for it. Must not be called from inside
    /// a tokio runtime.
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, NodeError> {
        Ok(self.runtime()?.block_on(future))
    }

    /// The node's id (libp2p: its peer id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The addresses it listens on.
    pub fn listen_addrs(&self) -> &[String] {
        &self.listen
    }

    /// The API's bound address, if it serves one.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api
    }

    /// Another receiver of notices, from now on (the node's own queue is read by
    /// [`try_notice`](Self::try_notice) and [`next_notice`](Self::next_notice)).
    pub fn subscribe(&self) -> Result<broadcast::Receiver<Notice>, NodeError> {
        let node = self.node.as_ref().ok_or(NodeError::Stopped)?;
        Ok(node.notices())
    }

    /// The next notice if one is queued, without waiting; every notice since the node
    /// started, in order. `Ok(None)`: none queued. A listener that fell behind gets
    /// [`Notice::Lagged`] with the number it missed.
    pub fn try_notice(&self) -> Result<Option<Notice>, NodeError> {
        let mut notices = self.notices.lock().unwrap_or_else(|e| e.into_inner());
        match notices.try_recv() {
            Ok(notice) => Ok(Some(notice)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Lagged(missed)) => Ok(Some(Notice::Lagged(missed))),
            Err(TryRecvError::Closed) => Err(NodeError::Stopped),
        }
    }

    /// The next notice, waiting at most `timeout`; `Ok(None)` when none came in time.
    pub fn next_notice(&self, timeout: Duration) -> Result<Option<Notice>, NodeError> {
        let runtime = self.runtime()?;
        let mut notices = self.notices.lock().unwrap_or_else(|e| e.into_inner());
        runtime.block_on(async {
            match tokio::time::timeout(timeout, notices.recv()).await {
                Err(_elapsed) => Ok(None),
                Ok(Ok(notice)) => Ok(Some(notice)),
                Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    Ok(Some(Notice::Lagged(missed)))
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => Err(NodeError::Stopped),
            }
        })
    }

    /// Stops the node (a libp2p node tells the cluster it leaves), then its runtime. Must
    /// not be called from inside a tokio runtime. Dropping the node does the same.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if let Some(node) = self.node.take() {
            runtime.block_on(node.shutdown());
        }
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
    }
}

impl Drop for EmbeddedNode {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Transport;

    fn tcp_options(id: &str, dir: &std::path::Path, peers: Vec<String>) -> NodeOptions {
        let mut options = NodeOptions::from_toml("interval_ms = 50").unwrap();
        options.transport = Transport::Tcp;
        options.listen = vec!["127.0.0.1:0".into()];
        options.id = Some(id.into());
        options.data_dir = Some(dir.to_path_buf());
        options.peers = peers;
        options
    }

    /// Two embedded nodes on loopback, driven from a plain thread: a write on one reaches
    /// the other, which reports it as a notice; stopping ends both.
    #[test]
    fn two_nodes_converge_from_a_plain_thread() {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let a = EmbeddedNode::start(tcp_options("a", dirs[0].path(), vec![])).unwrap();
        let b = EmbeddedNode::start(tcp_options("b", dirs[1].path(), a.listen_addrs().to_vec()))
            .unwrap();
        a.block_on(a.handle().set("k".into(), "v".into()))
            .unwrap()
            .unwrap();
        let mut seen = None;
        for _ in 0..200 {
            match b.next_notice(Duration::from_millis(100)).unwrap() {
                Some(Notice::Update { key, value, from }) => {
                    seen = Some((key, value, from));
                    break;
                }
                _ => continue,
            }
        }
        assert_eq!(seen, Some(("k".into(), Some("v".into()), "a".into())));
        let entry = b.block_on(b.handle().get("k".into())).unwrap().unwrap();
        assert_eq!(entry.map(|e| e.value), Some(Some("v".into())));
        b.stop();
        drop(a);
    }

    #[test]
    fn calls_after_stop_say_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = EmbeddedNode::start(tcp_options("a", dir.path(), vec![])).unwrap();
        node.shut_down();
        assert!(matches!(node.try_notice(), Err(NodeError::Stopped)));
        assert!(matches!(node.block_on(async {}), Err(NodeError::Stopped)));
    }
}
