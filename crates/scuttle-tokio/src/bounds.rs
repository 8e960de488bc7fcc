//! The bounds on a node's type parameters, named once.
//!
//! A [`Node<K, V, R, S>`](crate::Node) moves keys and values between tasks and over the wire,
//! and reports policy failures as events. Rather than spell those bounds out on every item,
//! the crate names them here; each trait is implemented for every type that meets its bounds,
//! so there is nothing to implement by hand.

use std::error::Error;
use std::hash::Hash;

use scuttle_core::{Resolver, Sorter};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A key a [`Node`](crate::Node) can replicate: cloned, compared and hashed by the core,
/// encoded and decoded by the codecs, moved between tasks.
pub trait Key: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static {}

impl<T> Key for T where T: Clone + Eq + Hash + Serialize + DeserializeOwned + Send + 'static {}

/// A value a [`Node`](crate::Node) can replicate: cloned by the core, encoded and decoded by
/// the codecs, moved between tasks.
pub trait Value: Clone + Serialize + DeserializeOwned + Send + 'static {}

impl<T> Value for T where T: Clone + Serialize + DeserializeOwned + Send + 'static {}

/// A [`Resolver`] a [`Node`](crate::Node) can hold: it moves between tasks, and its error can
/// be reported in a [`NodeEvent::PolicyFailed`](crate::NodeEvent::PolicyFailed). Every
/// built-in resolver qualifies (their error is `Infallible`).
pub trait NodeResolver<K, V>:
    Resolver<K, V, Error: Error + Send + Sync + 'static> + Send + 'static
{
}

impl<K, V, R> NodeResolver<K, V> for R
where
    R: Resolver<K, V> + Send + 'static,
    R::Error: Error + Send + Sync + 'static,
{
}

/// A [`Sorter`] a [`Node`](crate::Node) can hold: it moves between tasks.
pub trait NodeSorter<K, V>: Sorter<K, V> + Send + 'static {}

impl<K, V, S> NodeSorter<K, V> for S where S: Sorter<K, V> + Send + 'static {}
