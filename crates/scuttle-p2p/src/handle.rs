//! A cloneable handle to a [`Behaviour`](crate::Behaviour) whose swarm runs on another task.

use std::convert::Infallible;

use futures::channel::{mpsc, oneshot};
use futures::SinkExt;
use scuttle_core::{Entry, SetError, Version};

/// Commands from a [`Handle`] to its behaviour.
pub(crate) enum Command<K, V, E> {
    Set(K, V, oneshot::Sender<Result<Version, SetError<E>>>),
    Delete(K, oneshot::Sender<Result<Version, SetError<E>>>),
    Get(K, oneshot::Sender<Option<Entry<V>>>),
    Entries(oneshot::Sender<Vec<(K, Entry<V>)>>),
    Gossip,
}

/// Both ends of the command channel, kept by the behaviour (the sender to make handles).
pub(crate) type Commands<K, V, E> = (
    mpsc::Sender<Command<K, V, E>>,
    mpsc::Receiver<Command<K, V, E>>,
);

/// Commands waiting in the channel before the behaviour's swarm is polled again.
pub(crate) const HANDLE_QUEUE: usize = 64;

/// A [`Handle`] command failed. `E` is the resolver's error type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError<E = Infallible> {
    /// The behaviour was dropped (its swarm stopped).
    #[error("the scuttle behaviour is gone")]
    Closed,
    /// The write was refused (by the resolver, or [`SetError::TooLarge`] for a write that
    /// could never fit one message).
    #[error(transparent)]
    Set(#[from] SetError<E>),
}

/// Talks to a [`Behaviour`](crate::Behaviour) from any task while its swarm runs elsewhere;
/// made by [`Behaviour::handle`](crate::Behaviour::handle), cheap to clone. Commands are
/// carried out the next time the swarm is polled (the swarm must be driven for answers to
/// come). `E` is the resolver's error type.
///
/// ```no_run
/// # async fn demo(handle: scuttle_p2p::Handle<String, String>) -> Result<(), scuttle_p2p::HandleError> {
/// handle.set("greeting".into(), "hello".into()).await?;
/// let entry = handle.get("greeting".into()).await?;
/// assert_eq!(entry.and_then(|e| e.value).as_deref(), Some("hello"));
/// # Ok(()) }
/// ```
pub struct Handle<K, V, E = Infallible> {
    tx: mpsc::Sender<Command<K, V, E>>,
}

impl<K, V, E> Clone for Handle<K, V, E> {
    fn clone(&self) -> Self {
        Handle {
            tx: self.tx.clone(),
        }
    }
}

impl<K, V, E> std::fmt::Debug for Handle<K, V, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl<K, V, E> Handle<K, V, E> {
    pub(crate) fn new(tx: mpsc::Sender<Command<K, V, E>>) -> Self {
        Handle { tx }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command<K, V, E>,
    ) -> Result<T, HandleError<E>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .clone()
            .send(make(reply))
            .await
            .map_err(|_| HandleError::Closed)?;
        answer.await.map_err(|_| HandleError::Closed)
    }

    /// Writes `key = value` on the node (at the system time); returns the write's version.
    pub async fn set(&self, key: K, value: V) -> Result<Version, HandleError<E>> {
        Ok(self.ask(|r| Command::Set(key, value, r)).await??)
    }

    /// Deletes `key` on the node; returns the tombstone's version.
    pub async fn delete(&self, key: K) -> Result<Version, HandleError<E>> {
        Ok(self.ask(|r| Command::Delete(key, r)).await??)
    }

    /// The entry of `key` (tombstones included), cloned.
    pub async fn get(&self, key: K) -> Result<Option<Entry<V>>, HandleError<E>> {
        self.ask(|r| Command::Get(key, r)).await
    }

    /// Every entry (tombstones included), cloned, in no particular order.
    pub async fn entries(&self) -> Result<Vec<(K, Entry<V>)>, HandleError<E>> {
        self.ask(Command::Entries).await
    }

    /// Runs a gossip round as soon as the swarm is polled.
    pub async fn gossip(&self) -> Result<(), HandleError<E>> {
        self.tx
            .clone()
            .send(Command::Gossip)
            .await
            .map_err(|_| HandleError::Closed)
    }
}
