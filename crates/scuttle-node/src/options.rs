//! [`NodeOptions`]: everything `scuttle node` can be told, from flags or a TOML file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use scuttle_core::{ResolverKind, SorterKind};
use serde::Deserialize;

use crate::error::NodeError;

/// Which transport a node speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// rust-libp2p: TCP and QUIC, noise, yamux; SWIM membership; the default.
    #[default]
    Libp2p,
    /// The plain TCP adapter (`scuttle-tokio`): no encryption, no membership, `--peer`
    /// addresses only. Kept for scripts and for peers that only speak it.
    Tcp,
}

impl FromStr for Transport {
    type Err = NodeError;
    fn from_str(s: &str) -> Result<Self, NodeError> {
        match s {
            "libp2p" => Ok(Transport::Libp2p),
            "tcp" => Ok(Transport::Tcp),
            other => Err(NodeError::Options(format!(
                "unknown transport `{other}` (expected libp2p or tcp)"
            ))),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Libp2p => "libp2p",
            Transport::Tcp => "tcp",
        })
    }
}

/// The options of a node: the flags of `scuttle node`, field for field, and the keys of its
/// TOML config file (`--config`). Every field has a default, so an empty file is a valid
/// config; the CLI reads the file first, then lets each flag given override its key.
///
/// ```
/// let options = scuttle_node::NodeOptions::from_toml(r#"
///     cluster = "prod"
///     listen = ["/ip4/0.0.0.0/tcp/7400"]
///     bootstrap = ["10.0.0.1:7400"]
///     interval_ms = 500
/// "#).unwrap();
/// assert_eq!(options.cluster, "prod");
/// assert_eq!(options.fanout, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct NodeOptions {
    /// `libp2p` (default) or `tcp`.
    pub transport: Transport,
    /// Addresses to listen on. libp2p: multiaddrs, or `HOST:PORT` for TCP and QUIC on that
    /// address. tcp: one `HOST:PORT`. Default: `127.0.0.1:7400`.
    pub listen: Vec<String>,
    /// libp2p: addresses of peers to join the cluster through (multiaddr or `HOST:PORT`).
    pub bootstrap: Vec<String>,
    /// tcp: peers to keep a connection to (`HOST:PORT`).
    pub peers: Vec<String>,
    /// tcp: this node's id (libp2p: the id is the peer id of the identity key).
    pub id: Option<String>,
    /// libp2p: find peers on the local network with mDNS.
    pub mdns: bool,
    /// Where the node keeps its files: the libp2p identity key (`identity.key`) and its data.
    /// Without it a libp2p node makes a new identity at every start.
    pub data_dir: Option<PathBuf>,
    /// The cluster's name: nodes of another cluster are refused (libp2p). Default: `default`.
    pub cluster: String,
    /// Which update of a key wins: `lww`, `lww-clock` or `strict`.
    pub resolver: String,
    /// Which news goes first when a message is full: `breadth` or `depth`.
    pub sorter: String,
    /// Most updates per message (the core's `mtu`).
    pub mtu: usize,
    /// Most encoded bytes of one message (the core's `max_message_bytes`).
    pub max_message_bytes: usize,
    /// Milliseconds between gossip rounds; membership probes run at the same period.
    pub interval_ms: u64,
    /// Peers per gossip round (libp2p).
    pub fanout: usize,
    /// zstd-compress large frames with peers that agree.
    pub compression: bool,
    /// Most connections open at once; more are refused (libp2p: also at most 4 per peer and
    /// this many half-open inbound). Default 256.
    pub max_connections: usize,
    /// libp2p: seconds a member that went down still counts for tombstone collection (so
    /// that when it comes back within that time, nothing it holds or wrote meets a collected
    /// delete); a node away longer rejoins (it forgets values deleted meanwhile). Default 600.
    pub member_grace_secs: u64,
    /// Serve the HTTP/JSON API and `/metrics` on this address (e.g. `127.0.0.1:7480`).
    pub api: Option<SocketAddr>,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a `RUST_LOG`-style filter).
    pub log_level: Option<String>,
    /// tcp: how messages go on the wire: `cbor` (scuttle peers, default), `json` (the seed's
    /// JSON objects after scuttle's hello line) or `seed-json` (the seed's JavaScript code as
    /// it is: no hello, its dialect, bad lines skipped). See `docs/interop.md`.
    pub wire: String,
}

impl Default for NodeOptions {
    fn default() -> Self {
        let core = scuttle_core::Config::default();
        NodeOptions {
            transport: Transport::Libp2p,
            listen: Vec::new(),
            bootstrap: Vec::new(),
            peers: Vec::new(),
            id: None,
            mdns: false,
            data_dir: None,
            cluster: "default".into(),
            resolver: ResolverKind::default().to_string(),
            sorter: SorterKind::default().to_string(),
            mtu: core.mtu,
            max_message_bytes: core.max_message_bytes,
            interval_ms: 1000,
            fanout: 3,
            compression: false,
            max_connections: 256,
            member_grace_secs: 600,
            api: None,
            log_level: None,
            wire: "cbor".into(),
        }
    }
}

/// The listen address when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7400";

impl NodeOptions {
    /// Options read from TOML text (unknown keys are an error, so typos do not pass).
    pub fn from_toml(text: &str) -> Result<Self, NodeError> {
        toml::from_str(text).map_err(|e| NodeError::Options(format!("config: {e}")))
    }

    /// Options read from a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::Options(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| NodeError::Options(format!("{}: {e}", path.display())))
    }

    /// How long a member that went down still counts (see
    /// [`member_grace_secs`](Self::member_grace_secs)).
    pub fn member_grace(&self) -> Duration {
        Duration::from_secs(self.member_grace_secs)
    }

    /// The gossip interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.max(1))
    }

    /// The resolver named by [`resolver`](Self::resolver).
    pub fn resolver_kind(&self) -> Result<ResolverKind, NodeError> {
        self.resolver
            .parse()
            .map_err(|e| NodeError::Options(format!("{e}")))
    }

    /// The wire format named by [`wire`](Self::wire).
    pub fn wire_format(&self) -> Result<scuttle_tokio::WireFormat, NodeError> {
        match self.wire.as_str() {
            "cbor" => Ok(scuttle_tokio::WireFormat::Cbor),
            "json" => Ok(scuttle_tokio::WireFormat::JsonLines),
            "seed-json" => Ok(scuttle_tokio::WireFormat::SeedJson),
            other => Err(NodeError::Options(format!(
                "unknown wire `{other}` (cbor, json or seed-json)"
            ))),
        }
    }

    /// The sorter named by [`sorter`](Self::sorter).
    pub fn sorter_kind(&self) -> Result<SorterKind, NodeError> {
        self.sorter
            .parse()
            .map_err(|e| NodeError::Options(format!("{e}")))
    }

    /// The listen addresses, or [`DEFAULT_LISTEN`].
    pub fn listen_or_default(&self) -> Vec<String> {
        if self.listen.is_empty() {
            vec![DEFAULT_LISTEN.to_string()]
        } else {
            self.listen.clone()
        }
    }

    /// libp2p listen multiaddrs: each `HOST:PORT` becomes TCP and QUIC on it.
    pub fn listen_multiaddrs(&self) -> Result<Vec<Multiaddr>, NodeError> {
        let mut out = Vec::new();
        for text in self.listen_or_default() {
            out.extend(multiaddrs(&text, true)?);
        }
        Ok(out)
    }

    /// libp2p bootstrap addresses, one list per peer: each `HOST:PORT` becomes QUIC and
    /// TCP on it (the peer listens on both when it was started with the same `HOST:PORT`).
    pub fn bootstrap_multiaddrs(&self) -> Result<Vec<Vec<Multiaddr>>, NodeError> {
        self.bootstrap.iter().map(|t| multiaddrs(t, true)).collect()
    }
}

/// `text` as multiaddrs: a multiaddr as it is, or `HOST:PORT` as QUIC (when `quic`) and TCP.
pub fn multiaddrs(text: &str, quic: bool) -> Result<Vec<Multiaddr>, NodeError> {
    if text.starts_with('/') {
        return text
            .parse::<Multiaddr>()
            .map(|a| vec![a])
            .map_err(|e| NodeError::Options(format!("bad multiaddr `{text}`: {e}")));
    }
    let addr: SocketAddr = text.parse().map_err(|e| {
        NodeError::Options(format!(
            "bad address `{text}` (expected HOST:PORT or a multiaddr): {e}"
        ))
    })?;
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    let tcp = Multiaddr::empty()
        .with(ip.clone())
        .with(Protocol::Tcp(addr.port()));
    let mut out = vec![tcp];
    if quic {
        // QUIC first: over a lossy link its loss recovery (timers from the measured round
        // trip) is far quicker than TCP's 200 ms minimum retransmission timeout.
        out.insert(
            0,
            Multiaddr::empty()
                .with(ip)
                .with(Protocol::Udp(addr.port()))
                .with(Protocol::QuicV1),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(NodeOptions::from_toml("").unwrap(), NodeOptions::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e = NodeOptions::from_toml("fanot = 3").unwrap_err().to_string();
        assert!(e.contains("fanot"), "{e}");
        assert!(NodeOptions::from_toml("transport = \"udp\"").is_err());
        let o = NodeOptions::from_toml("resolver = \"nope\"").unwrap();
        assert!(o.resolver_kind().is_err());
    }

    #[test]
    fn host_port_is_tcp_and_quic() {
        let o = NodeOptions {
            listen: vec!["10.0.0.1:7400".into(), "/ip6/::1/tcp/0".into()],
            bootstrap: vec!["10.0.0.2:7400".into()],
            ..NodeOptions::default()
        };
        let listen: Vec<String> = o
            .listen_multiaddrs()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listen,
            [
                "/ip4/10.0.0.1/udp/7400/quic-v1",
                "/ip4/10.0.0.1/tcp/7400",
                "/ip6/::1/tcp/0"
            ]
        );
        let boot = o.bootstrap_multiaddrs().unwrap();
        assert_eq!(boot[0][1].to_string(), "/ip4/10.0.0.2/tcp/7400");
        assert!(multiaddrs("nonsense", false).is_err());
    }

    #[test]
    fn a_full_file_parses() {
        let o = NodeOptions::from_toml(
            r#"
            transport = "tcp"
            listen = ["127.0.0.1:9000"]
            peers = ["127.0.0.1:9001"]
            id = "a"
            mdns = true
            data_dir = "/var/lib/scuttle"
            cluster = "blue"
            resolver = "strict"
            sorter = "depth"
            mtu = 50
            max_message_bytes = 65536
            interval_ms = 250
            fanout = 2
            compression = true
            api = "127.0.0.1:7480"
            log_level = "debug"
            "#,
        )
        .unwrap();
        assert_eq!(o.transport, Transport::Tcp);
        assert_eq!(
            o.resolver_kind().unwrap(),
            ResolverKind::StrictlyOrderedValues
        );
        assert_eq!(o.interval(), Duration::from_millis(250));
        assert_eq!(o.api, Some("127.0.0.1:7480".parse().unwrap()));
    }
}
