//! # scuttle-node
//!
//! A deployable scuttle node, as `scuttle node` runs it, for embedding too (the CLI is a thin
//! wrapper; the Python and C bindings can start the same node with the same
//! [`NodeOptions`]).
//!
//! * **Transports.** libp2p by default ([`p2p`]): TCP and QUIC, noise, yamux; the identity
//!   key kept in the data dir; peers of another `cluster` refused with a clear message.
//!   `--transport tcp` runs the plain `scuttle-tokio` adapter instead ([`tcp`]).
//! * **Membership** (libp2p): SWIM through [`foca`] — a well-kept sans-IO implementation, so
//!   probes, indirect probes, suspicion with refutation and rejoin after a false "down" are
//!   not hand-written here. Nodes learn of each other through the cluster, not only from
//!   bootstrap addresses; every live member is dialled; a member declared down has its
//!   connections (and with them the gossip behaviour's queues) closed.
//! * **Operator API** ([`api`]): HTTP/JSON on axum and `/metrics` in Prometheus text
//!   ([`metrics`], `prometheus-client`).
//! * **Logs** through `tracing`; the caller installs a subscriber.
//!
//! The core ([`gossip::build_gossip`]) is built in one place for both transports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scuttle_node::NodeError> {
//! let options = scuttle_node::NodeOptions::from_toml(r#"
//!     listen = ["127.0.0.1:7401"]
//!     api = "127.0.0.1:7481"
//! "#)?;
//! let node = scuttle_node::start(options).await?;
//! node.handle().set("greeting".into(), "hello".into()).await?;
//! node.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
pub mod embedded;
mod error;
pub mod gossip;
mod handle;
pub mod identity;
pub mod metrics;
pub mod options;
pub mod p2p;
pub mod tcp;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

pub use embedded::EmbeddedNode;
pub use error::NodeError;
pub use handle::NodeHandle;
pub use metrics::Metrics;
pub use options::{NodeOptions, Transport};
pub use view::{EntryView, Liveness, MemberCounts, MemberView, Notice, Status};

/// Notices kept for a slow listener before it misses some.
const NOTICE_QUEUE: usize = 1024;

/// What a transport's start-up hands back.
pub(crate) struct Started {
    pub(crate) handle: NodeHandle,
    pub(crate) id: String,
    pub(crate) listen: Vec<String>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) task: JoinHandle<()>,
}

/// A running node: its handle, its addresses, and how to stop it.
#[derive(Debug)]
pub struct RunningNode {
    handle: NodeHandle,
    id: String,
    listen: Vec<String>,
    api: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    notices: broadcast::Sender<Notice>,
    /// Subscribed before the transport started, for the first caller of `notices`.
    first_notices: std::sync::Mutex<Option<broadcast::Receiver<Notice>>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    api_task: Option<JoinHandle<()>>,
}

/// Starts a node as `options` say (its transport, then the API if `options.api` is set).
/// Must be called inside a tokio runtime.
pub async fn start(options: NodeOptions) -> Result<RunningNode, NodeError> {
    let (notices, first) = broadcast::channel(NOTICE_QUEUE);
    let api_addr = options.api;
    let started = match options.transport {
        Transport::Libp2p => p2p::start(options, notices.clone()).await?,
        Transport::Tcp => tcp::start(options, notices.clone()).await?,
    };
    let (api, api_task) = match api_addr {
        Some(addr) => {
            let (bound, task) =
                api::serve(addr, started.handle.clone(), Arc::clone(&started.metrics)).await?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    Ok(RunningNode {
        handle: started.handle,
        id: started.id,
        listen: started.listen,
        api,
        metrics: started.metrics,
        notices,
        first_notices: std::sync::Mutex::new(Some(first)),
        stop: started.stop,
        task: started.task,
        api_task,
    })
}

impl RunningNode {
    /// A handle for reads and writes.
    pub fn handle(&self) -> NodeHandle {
        self.handle.clone()
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

    /// The node's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Notices (updates from peers, peers coming and going): the first call gets every
    /// notice since the node started, later calls those from then on.
    pub fn notices(&self) -> broadcast::Receiver<Notice> {
        let first = self
            .first_notices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        first.unwrap_or_else(|| self.notices.subscribe())
    }

    /// Stops the node (a libp2p node tells the cluster it leaves) and its API.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        if let Some(api) = self.api_task {
            api.abort();
        }
    }
}

/// The system time in ms since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
