//! [`NodeHandle`]: how the REPL, the HTTP API and embedders talk to a running node, whatever
//! its transport. Each call is a command to the node's task, answered on a oneshot channel.

use tokio::sync::{mpsc, oneshot};

use crate::error::NodeError;
use crate::view::{EntryView, MemberView, Status};

/// Commands a node's task serves.
#[derive(Debug)]
pub(crate) enum Command {
    Set(String, String, oneshot::Sender<Result<u64, NodeError>>),
    Delete(String, oneshot::Sender<Result<u64, NodeError>>),
    Get(String, oneshot::Sender<Option<EntryView>>),
    State(oneshot::Sender<Vec<EntryView>>),
    Members(oneshot::Sender<Vec<MemberView>>),
    Peers(oneshot::Sender<Vec<String>>),
    Status(oneshot::Sender<Status>),
}

/// Commands queued before the node's task takes them.
pub(crate) const COMMAND_QUEUE: usize = 256;

/// A cheap, cloneable handle to a running node (either transport).
#[derive(Clone, Debug)]
pub struct NodeHandle {
    tx: mpsc::Sender<Command>,
}

impl NodeHandle {
    pub(crate) fn new(tx: mpsc::Sender<Command>) -> Self {
        NodeHandle { tx }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }

    /// Writes `key = value`; returns the write's version.
    pub async fn set(&self, key: String, value: String) -> Result<u64, NodeError> {
        self.ask(|r| Command::Set(key, value, r)).await?
    }

    /// Deletes `key` (a tombstone); returns its version.
    pub async fn delete(&self, key: String) -> Result<u64, NodeError> {
        self.ask(|r| Command::Delete(key, r)).await?
    }

    /// The entry of `key`, tombstones included.
    pub async fn get(&self, key: String) -> Result<Option<EntryView>, NodeError> {
        self.ask(|r| Command::Get(key, r)).await
    }

    /// Every entry, tombstones included, sorted by key.
    pub async fn state(&self) -> Result<Vec<EntryView>, NodeError> {
        self.ask(Command::State).await
    }

    /// The members this node knows of (not itself), sorted by id.
    pub async fn members(&self) -> Result<Vec<MemberView>, NodeError> {
        self.ask(Command::Members).await
    }

    /// The ids of connected peers, sorted.
    pub async fn peers(&self) -> Result<Vec<String>, NodeError> {
        self.ask(Command::Peers).await
    }

    /// The node's status.
    pub async fn status(&self) -> Result<Status, NodeError> {
        self.ask(Command::Status).await
    }
}

/// Every entry of `core`, sorted by key.
pub(crate) fn sorted_state(core: &crate::gossip::Core) -> Vec<EntryView> {
    let mut out: Vec<EntryView> = core
        .entries()
        .map(|(k, e)| EntryView::new(k.clone(), e.clone()))
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}
