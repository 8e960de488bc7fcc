//! The node's composed libp2p behaviour and its swarm: scuttle gossip, SWIM membership,
//! identify (which carries the cluster name) and optional mDNS, over TCP and QUIC with noise
//! and yamux.

use std::num::NonZeroU8;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    connection_limits, identify, mdns, noise, request_response, tcp, yamux, StreamProtocol, Swarm,
};
use prometheus_client::registry::Registry;
use scuttle_core::{DynResolver, DynSorter};

use super::swim::SwimCodec;
use crate::error::NodeError;
use crate::gossip::Core;
use crate::options::NodeOptions;

/// The scuttle behaviour of a node.
pub type Scuttle =
    scuttle_p2p::Behaviour<String, String, DynResolver<String, String>, DynSorter<String, String>>;

/// Everything a node's swarm runs.
#[derive(NetworkBehaviour)]
pub struct NodeBehaviour {
    /// Replication.
    pub scuttle: Scuttle,
    /// Membership datagrams (foca).
    pub swim: request_response::Behaviour<SwimCodec>,
    /// Peer info, including the cluster name (as its protocol version).
    pub identify: identify::Behaviour,
    /// Local-network discovery, with `--mdns`.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Bounds on connections (`max_connections`), so a peer cannot open them without end.
    pub limits: connection_limits::Behaviour,
}

/// The identify protocol version that names a cluster.
pub fn cluster_tag(cluster: &str) -> String {
    format!("/scuttle-cluster/{cluster}")
}

/// The cluster named by an identify protocol version, if it is a scuttle node's.
pub fn cluster_of(tag: &str) -> Option<&str> {
    tag.strip_prefix("/scuttle-cluster/")
}

/// How long a request may take: a few rounds, within 2–10 s.
pub fn request_timeout(options: &NodeOptions) -> Duration {
    (options.interval() * 4).clamp(Duration::from_secs(2), Duration::from_secs(10))
}

/// Builds the swarm around `core` (whose id is the key's peer id). libp2p's bandwidth
/// counters go into `registry`.
pub fn build_swarm(
    key: Keypair,
    options: &NodeOptions,
    core: Core,
    registry: &mut Registry,
) -> Result<Swarm<NodeBehaviour>, NodeError> {
    let cluster = options.cluster.clone();
    let protocol = StreamProtocol::try_from_owned(format!("/scuttle/2.0.0/{cluster}"))
        .map_err(|e| NodeError::Options(format!("bad cluster name `{cluster}`: {e}")))?;
    let swim_protocol = StreamProtocol::try_from_owned(format!("/scuttle/members/1/{cluster}"))
        .map_err(|e| NodeError::Options(format!("bad cluster name `{cluster}`: {e}")))?;
    let local = key.public().to_peer_id();
    let config = scuttle_p2p::Config::new(local)
        .with_interval(options.interval())
        .with_fanout(options.fanout)
        .with_compression(options.compression)
        .with_protocol(protocol)
        .with_request_timeout(request_timeout(options));
    let scuttle = Scuttle::from_gossip(config, core)?;
    let mdns_on = options.mdns;
    let timeout = request_timeout(options);
    let limits = connection_limits(options);
    let lib = |e: &dyn std::fmt::Display| NodeError::Libp2p(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| lib(&e))?
        .with_quic()
        .with_bandwidth_metrics(registry)
        .with_behaviour(|key| {
            let peer = key.public().to_peer_id();
            let mdns = if mdns_on {
                Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer)?)
            } else {
                None
            };
            Ok(NodeBehaviour {
                limits: connection_limits::Behaviour::new(limits),
                scuttle,
                swim: request_response::Behaviour::with_codec(
                    SwimCodec,
                    [(swim_protocol, request_response::ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(timeout)
                        .with_max_concurrent_streams(64),
                ),
                identify: identify::Behaviour::new(
                    identify::Config::new(cluster_tag(&cluster), key.public())
                        .with_agent_version(format!("scuttle/{}", env!("CARGO_PKG_VERSION"))),
                ),
                mdns: Toggle::from(mdns),
            })
        })
        .map_err(|e| lib(&e))?
        .with_swarm_config(|c| {
            c.with_idle_connection_timeout(Duration::from_secs(60))
                // A member's QUIC and TCP addresses at once: the first to connect wins.
                .with_dial_concurrency_factor(NonZeroU8::new(2).unwrap_or(NonZeroU8::MIN))
        })
        .build();
    Ok(swarm)
}

/// The connection bounds of `options`: `max_connections` established and half-open inbound,
/// and at most 4 to one peer (TCP and QUIC, both ways).
pub fn connection_limits(options: &NodeOptions) -> connection_limits::ConnectionLimits {
    let max = u32::try_from(options.max_connections).unwrap_or(u32::MAX);
    connection_limits::ConnectionLimits::default()
        .with_max_established(Some(max))
        .with_max_pending_incoming(Some(max))
        .with_max_established_per_peer(Some(4))
}
