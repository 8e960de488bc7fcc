//! `scuttle node` (being written).

/// Arguments of `scuttle node`.
#[derive(Clone, Debug, clap::Args)]
pub struct NodeArgs {}

/// Runs a node.
pub fn run(_args: &NodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("not yet".into())
}
