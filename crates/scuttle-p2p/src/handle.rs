//! A cloneable handle to a [`Behaviour`](crate::Behaviour) whose swarm runs on another task.

use futures::channel::{mpsc, oneshot};
use futures::SinkExt;
use scuttle_core::{Entry, SetError, Version};

/// Commands from a [`Handle`] to its behaviour.
pub(crate) enum Command<K, V> {
    Set(K, V, oneshot::Sender<Result<Version, SetError>>),
    Delete(K, oneshot::Sender<Result<Version, SetError>>),
    Get(K, oneshot::Sender<Option<Entry<V>>>),
    Entries(oneshot::Sender<Vec<(K, Entry<V>)>>),
    Gossip,
}

/// Both ends of the command channel, kept by the behaviour (the sender to make handles).
pub(crate) type Commands<K, V> = (mpsc::Sender<Command<K, V>>, mpsc::Receiver<Command<K, V>>);

/// Commands waiting in the channel before the behaviour's swarm is polled again.
pub(crate) const HANDLE_QUEUE: usize = 64;

/// A [`Handle`] command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The behaviour was dropped (its swarm stopped).
    #[error("the scuttle behaviour is gone")]
    Closed,
    /// The write was refused.
    #[error(transparent)]
    Set(#[from] SetError),
}

/// Talks to a [`Behaviour`](crate::Behaviour) from any task while its swarm runs elsewhere;
/// made by [`Behaviour::handle`](crate::Behaviour::handle), cheap to clone. Commands are
/// carried out the next time the swarm is polled (the swarm must be driven for answers to come).
///
/// ```no_run
/// # async fn demo(handle: scuttle_p2p::Handle<String, String>) -> Result<(), scuttle_p2p::HandleError> {
/// handle.set("greeting".into(), "hello".into()).await?;
/// let entry = handle.get("greeting".into()).await?;
/// assert_eq!(entry.and_then(|e| e.value).as_deref(), Some("hello"));
/// # Ok(()) }
/// ```
pub struct Handle<K, V> {
    tx: mpsc::Sender<Command<K, V>>,
}

impl<K, V> Clone for Handle<K, V> {
    fn clone(&self) -> Self {
        Handle {
            tx: self.tx.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for Handle<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl<K, V> Handle<K, V> {
    pub(crate) fn new(tx: mpsc::Sender<Command<K, V>>) -> Self {
        Handle { tx }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command<K, V>,
    ) -> Result<T, HandleError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .clone()
            .send(make(reply))
            .await
            .map_err(|_| HandleError::Closed)?;
        answer.await.map_err(|_| HandleError::Closed)
    }

    /// Writes `key = value` on the node; returns the write's version.
    pub async fn set(&self, key: K, value: V) -> Result<Version, HandleError> {
        Ok(self.ask(|r| Command::Set(key, value, r)).await??)
    }

    /// Deletes `key` on the node; returns the tombstone's version.
    pub async fn delete(&self, key: K) -> Result<Version, HandleError> {
        Ok(self.ask(|r| Command::Delete(key, r)).await??)
    }

    /// The entry of `key` (tombstones included), cloned.
    pub async fn get(&self, key: K) -> Result<Option<Entry<V>>, HandleError> {
        self.ask(|r| Command::Get(key, r)).await
    }

    /// Every entry (tombstones included), cloned, in no particular order.
    pub async fn entries(&self) -> Result<Vec<(K, Entry<V>)>, HandleError> {
        self.ask(Command::Entries).await
    }

    /// Runs a gossip round as soon as the swarm is polled.
    pub async fn gossip(&self) -> Result<(), HandleError> {
        self.tx
            .clone()
            .send(Command::Gossip)
            .await
            .map_err(|_| HandleError::Closed)
    }
}
