//! What a node tells its operator: entries, members, status (the API's JSON shapes).

use serde::Serialize;

/// One key's entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryView {
    /// The key.
    pub key: String,
    /// The value; `None` for a deleted key (a tombstone).
    pub value: Option<String>,
    /// The version of the write.
    pub version: u64,
    /// The node that wrote it.
    pub source_id: String,
    /// The writer's clock at the write, ms since the Unix epoch.
    pub timestamp: u64,
}

impl EntryView {
    /// The view of `key`'s entry.
    pub fn new(key: String, entry: scuttle_core::Entry<String>) -> Self {
        EntryView {
            key,
            value: entry.value,
            version: entry.version,
            source_id: entry.source_id.to_string(),
            timestamp: entry.timestamp,
        }
    }
}

/// A member's liveness, as this node's failure detector sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// Answers probes.
    Alive,
    /// Missed a probe; declared down unless it refutes the suspicion in time.
    Suspect,
    /// Declared down by the cluster: its connections are closed.
    Down,
}

impl Liveness {
    /// Every state, in order.
    pub const ALL: [Liveness; 3] = [Liveness::Alive, Liveness::Suspect, Liveness::Down];

    /// The state's name: `alive`, `suspect`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Alive => "alive",
            Liveness::Suspect => "suspect",
            Liveness::Down => "down",
        }
    }
}

/// One member of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// Its node id (libp2p: the peer id; tcp: the id from its hello).
    pub id: String,
    /// Where it can be reached.
    pub addrs: Vec<String>,
    /// Its liveness.
    pub state: Liveness,
    /// Whether this node has a connection to it now.
    pub connected: bool,
}

/// Counts of members by liveness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemberCounts {
    /// Alive members.
    pub alive: usize,
    /// Suspect members.
    pub suspect: usize,
    /// Down members.
    pub down: usize,
}

/// What `GET /v1/status` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// This node's id.
    pub id: String,
    /// `libp2p` or `tcp`.
    pub transport: String,
    /// The cluster's name.
    pub cluster: String,
    /// Addresses this node listens on.
    pub listen: Vec<String>,
    /// The core's clock: the highest version seen.
    pub version: u64,
    /// Live keys (tombstones not counted).
    pub keys: usize,
    /// Connected peers.
    pub peers: usize,
    /// Members by liveness (other nodes only).
    pub members: MemberCounts,
    /// Seconds since the node started.
    pub uptime_seconds: u64,
    /// Catching up again after being away longer than the member grace: entries held from
    /// before are still being heard again or forgotten (see `member_grace_secs`).
    pub rejoining: bool,
}

/// Something a node reports as it happens (the REPL prints these; logs carry more).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A peer's message changed a key.
    Update {
        /// The key.
        key: String,
        /// The new value; `None` for a delete.
        value: Option<String>,
        /// The peer that delivered it.
        from: String,
    },
    /// A key's tombstone was collected on a peer's word.
    Forgotten {
        /// The key.
        key: String,
        /// The peer.
        from: String,
    },
    /// A peer connected.
    PeerConnected(String),
    /// A peer's connection ended.
    PeerDisconnected {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A connection failed before its peer was known.
    ConnectionFailed(String),
    /// A peer's message was refused by the resolver or sorter.
    Refused {
        /// The peer.
        peer: String,
        /// Why.
        error: String,
    },
    /// A listener of notices fell behind and missed some.
    Lagged(u64),
}
