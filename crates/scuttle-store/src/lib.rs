//! # scuttle-store
//!
//! Package `scuttle-gossip-store`, library `scuttle_store`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! Durable storage for [`scuttle_core::Gossip`] nodes: [`RedbStore`] implements the core's
//! [`Store`](scuttle_core::Store) trait on [redb](https://docs.rs/redb), an embedded,
//! pure-Rust, ACID key/value database kept in one file. Why redb: crash safety (copy-on-write
//! B-trees with checksummed commit slots: a torn write rolls back to the last commit, never
//! to a half state), no C dependency and no background threads, so the store adds nothing
//! to a node's runtime but its file.
//!
//! ```
//! use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth, Versions};
//! use scuttle_store::RedbStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("node.redb");
//! let config = Config::default().with_versions(Versions::Hybrid);
//! let open = |path: &std::path::Path| -> Gossip<String, String> {
//!     let store = RedbStore::open(path, "a").unwrap();
//!     Gossip::new("a", config.clone(), LastWriterWins, ScuttleBreadth)
//!         .unwrap()
//!         .with_store(store)
//!         .unwrap()
//! };
//! let mut a = open(&path);
//! let v = a.set(1_700_000_000_000, "k".into(), "v".into()).unwrap(); // durable when it returns
//! drop(a);
//! let a = open(&path); // a restart
//! assert_eq!(a.value("k").map(String::as_str), Some("v"));
//! assert_eq!(a.version(), v);
//! ```
//!
//! Every [`commit`](scuttle_core::Store::commit) is one redb write transaction, fsynced
//! before it returns ([`Durability::Every`], the default), so a `set` that returned survives
//! `kill -9` and power loss. [`Durability::Group`] trades that for throughput: only every
//! n-th commit (and [`flush`](scuttle_core::Gossip::flush)) is fsynced; a crash loses at most
//! the n − 1 commits since the last fsync, never a part of one.
//!
//! On open the file is checked: a file that is not a redb database, a truncated or corrupt
//! one, a scuttle store of another format version, or one that belongs to another node id
//! each give a typed [`OpenError`], never an empty node.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod codec;
mod error;
mod redb_store;

pub use error::{OpenError, StoreFailure};
pub use redb_store::{Durability, RedbStore, FORMAT_VERSION};
