//! The one place a node's [`Gossip`] is built from its options (both transports).
//!
//! The durable store (`--data-dir`'s data file) plugs in here: load the saved state and clock
//! into the core before the node starts.

use scuttle_core::{Config, DynResolver, DynSorter, Gossip, NodeId};

use crate::error::NodeError;
use crate::options::NodeOptions;

/// The state machine a node runs: string keys and values, the resolver and sorter picked by
/// name.
pub type Core = Gossip<String, String, DynResolver<String, String>, DynSorter<String, String>>;

/// The node's core, as `options` say, with node id `id` (a libp2p node's peer id).
pub fn build_gossip(options: &NodeOptions, id: &str) -> Result<Core, NodeError> {
    let config = Config::default()
        .with_mtu(options.mtu)
        .with_max_message_bytes(options.max_message_bytes);
    Ok(Gossip::new(
        NodeId::from(id),
        config,
        options.resolver_kind()?.boxed(),
        options.sorter_kind()?.boxed(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_pick_the_policies_and_limits() {
        let options = NodeOptions {
            resolver: "strict".into(),
            mtu: 7,
            ..NodeOptions::default()
        };
        let mut core = build_gossip(&options, "me").unwrap();
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
        assert!(build_gossip(&tiny, "me").is_err());
    }
}
