//! The one place a node's [`Gossip`] is built from its options (both transports).
//!
//! Networked nodes number their writes with a hybrid logical clock, so a restarted node never
//! reissues a version its peers hold. With `--data-dir` the core opens its store there
//! (`data.redb`, a `scuttle-store` `RedbStore`): every write is fsynced before it is
//! acknowledged, and a restart comes back with everything. Without one, a node that starts
//! empty waits to catch up with a peer (or a few rounds) before it takes writes, so its own
//! old updates come back to it first.

use std::time::Duration;

use scuttle_core::signing::Signing;
use scuttle_core::{Collection, Config, DynResolver, DynSorter, Gossip, NodeId, Versions};
use scuttle_store::RedbStore;

use crate::error::NodeError;
use crate::options::NodeOptions;

/// The state machine a node runs: string keys and values, the resolver and sorter picked by
/// name.
pub type Core = Gossip<String, String, DynResolver<String, String>, DynSorter<String, String>>;

/// The data file in a data dir.
pub const DATA_FILE: &str = "data.redb";

/// The node's core, as `options` say, with node id `id` (a libp2p node's peer id). With
/// `signing` (libp2p nodes: their identity key) every write is signed and every update
/// checked against its source's key (see `scuttle_core::signing`).
pub fn build_gossip(
    options: &NodeOptions,
    id: &str,
    signing: Option<Signing>,
) -> Result<Core, NodeError> {
    let wire = options.wire_format()?;
    let seed_peers = wire == scuttle_tokio::WireFormat::SeedJson;
    // Seed peers keep versions in JavaScript doubles (exact only below 2^53, and hybrid
    // versions are about 2^57): with the JSON wires the seed's counter stays.
    let versions = if wire == scuttle_tokio::WireFormat::Cbor {
        Versions::Hybrid
    } else {
        Versions::Counter
    };
    // libp2p nodes know their members (SWIM) and who sent each message (noise): tombstones
    // are collected only once every member holds them, and no reset is trusted.
    let collection = match options.transport {
        crate::options::Transport::Libp2p => Collection::Covered,
        crate::options::Transport::Tcp => Collection::AfterGrace,
    };
    let mut config = Config::default()
        .with_collection(collection)
        .with_mtu(options.mtu)
        .with_max_message_bytes(options.max_message_bytes)
        .with_versions(versions)
        // The seed's code understands full digests only.
        .with_digest_hashes(!seed_peers);
    if options.data_dir.is_none() && options.transport == crate::options::Transport::Tcp {
        // No store, and an id that outlives the process (`--id`): wait for a peer's digest
        // (or three rounds, at least two seconds) so the node's own old updates come back
        // first. A libp2p node without a data dir has a new identity at every start, so
        // nothing of its own is out there.
        let wait = (options.interval() * 3).max(Duration::from_secs(2));
        config = config.with_catch_up(Some(wait));
    }
    let mut core = Gossip::new(
        NodeId::from(id),
        config,
        options.resolver_kind()?.boxed(),
        options.sorter_kind()?.boxed(),
    )?;
    if let Some(signing) = signing {
        core = core.with_signing(signing)?;
    }
    let Some(dir) = &options.data_dir else {
        return Ok(core);
    };
    std::fs::create_dir_all(dir)?;
    let path = dir.join(DATA_FILE);
    let store = RedbStore::open(&path, id).map_err(|e| NodeError::Store(e.to_string()))?;
    core.with_store(store)
        .map_err(|e| NodeError::Store(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_pick_the_policies_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let options = NodeOptions {
            resolver: "strict".into(),
            mtu: 7,
            // A data dir: writes are open at once (no catch-up wait).
            data_dir: Some(dir.path().to_path_buf()),
            ..NodeOptions::default()
        };
        let mut core = build_gossip(&options, "me", None).unwrap();
        assert_eq!(core.config().mtu, 7);
        core.set(1, "k".into(), "b".into()).unwrap();
        assert!(
            core.set(2, "k".into(), "a".into()).is_err(),
            "strict refuses a lower value"
        );
        let tiny = NodeOptions {
            max_message_bytes: 8,
            ..NodeOptions::default()
        };
        assert!(build_gossip(&tiny, "me", None).is_err());
    }

    #[test]
    fn a_data_dir_keeps_the_node_and_its_versions_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let options = NodeOptions {
            data_dir: Some(dir.path().to_path_buf()),
            ..NodeOptions::default()
        };
        let mut core = build_gossip(&options, "me", None).unwrap();
        let v = core.set(1_700_000_000_000, "k".into(), "v".into()).unwrap();
        drop(core); // a crash: nothing is flushed or closed
        let mut core = build_gossip(&options, "me", None).unwrap();
        assert_eq!(core.value("k").map(String::as_str), Some("v"));
        assert_eq!(core.version(), v);
        // Writable at once, and never below what it issued.
        assert!(core.set(1_600_000_000_000, "k".into(), "w".into()).unwrap() > v);
        // Another id on the same data dir is refused.
        assert!(matches!(
            build_gossip(&options, "someone-else", None),
            Err(NodeError::Store(_))
        ));
    }

    #[test]
    fn without_a_data_dir_writes_wait_to_catch_up() {
        let tcp = NodeOptions {
            transport: crate::options::Transport::Tcp,
            ..NodeOptions::default()
        };
        let mut core = build_gossip(&tcp, "me", None).unwrap();
        assert!(matches!(
            core.set(1_000, "k".into(), "v".into()),
            Err(scuttle_core::SetError::CatchingUp)
        ));
        assert!(core.set(1_000 + 60_000, "k".into(), "v".into()).is_ok());
    }
}
