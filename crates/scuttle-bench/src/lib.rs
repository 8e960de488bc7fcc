//! # scuttle-bench
//!
//! Package `scuttle-gossip-bench`, library `scuttle_bench`: every package of the workspace is named
//! `scuttle-gossip*`, because `scuttle` and `scuttle-core` on crates.io are another project
//! (README, "Names").
//!
//! scuttle next to [chitchat](https://crates.io/crates/chitchat) on **one workload, in one
//! process run**, so the ratios between them can be reproduced by anyone with `cargo`.
//!
//! ## Why chitchat
//!
//! chitchat (Quickwit's cluster membership library) is the most widely used Rust
//! implementation of the same protocol family: Scuttlebutt anti-entropy with a three-way
//! `Syn` / `SynAck` / `Ack` exchange, per-node versions, a digest of every node's version in
//! each exchange, news ordered "scuttle-depth" and cut to fit one UDP datagram (65,507
//! bytes), and a fanout of 3 peers per gossip round. It is published on crates.io, so this
//! crate pulls it as an ordinary dependency (version 0.13) and drives it through its public
//! API only: nothing of it is copied or patched. It is a dependency of this crate alone.
//!
//! ## The workload
//!
//! `N` nodes; each writes `K` keys of its own (`n07-k042`, the keys of
//! [`scuttle_sim::workload::Workload::key`]) with random 16-byte values (letters `a`–`z`),
//! before the first round that is counted. Then every round each node starts an exchange
//! with [`FANOUT`] = 3 random peers, and every message is at most [`MAX_MESSAGE_BYTES`] =
//! 65,507 bytes. The run ends when every node holds every other node's `K` keys.
//!
//! * **scuttle**: [`scuttle_sim::workload::run`] — the deterministic in-memory simulator; a
//!   message's size is its exact encoded CBOR body ([`scuttle_core::wire::message_len`]).
//! * **chitchat**: `N` real chitchat servers ([`chitchat::spawn_chitchat`]) on chitchat's own
//!   in-memory transport ([`chitchat::transport::ChannelTransport`] with an mtu of 65,507,
//!   which serialises and deserialises every datagram and counts its bytes), on a
//!   current-thread tokio runtime whose clock is paused: time only moves when every task is
//!   idle, so one gossip interval (1 s of virtual time) is exactly one round in which every
//!   exchange completes. Every node is seeded with every address, and the keys are written
//!   only once every node sees all `N` nodes as live (chitchat's failure detector); rounds,
//!   messages and bytes are counted from the writes. chitchat's heartbeats (one counter per
//!   node in every digest, bumped every round) are part of what it sends and are counted.
//!   chitchat picks its peers with an unseeded rng, so its figures vary a little between runs.
//!
//! The measures of a [`Row`]: whether the cluster converged, rounds, messages and bytes
//! (the sum of every message's encoded size, digests included, no transport framing), the
//! payload lower bound `N · (N − 1) · Σ (key bytes + value bytes)` over one node's `K` keys
//! (every node must receive every other node's keys and values at least once), the ratio
//! bytes / lower bound, CPU and wall time from the first write to convergence (on one
//! thread for both sides), and the idle cost: bytes per node per round on the converged
//! cluster.
//!
//! chitchat compresses its deltas (and, with [`ProtocolVersion::V1`], its digests) with zstd,
//! so its bytes can fall below the uncompressed lower bound; scuttle sends plain CBOR.
//!
//! ## Reproduce
//!
//! ```sh
//! cargo run --release -p scuttle-gossip-bench --bin compare                 # N ∈ {10,30,100} × K ∈ {10,100,1000}
//! cargo run --release -p scuttle-gossip-bench --bin compare -- --quick      # N ∈ {10,30} × K ∈ {10,100}
//! cargo run --release -p scuttle-gossip-bench --bin compare -- --nodes 10,30 --keys 100
//! cargo bench -p scuttle-gossip-bench                                       # criterion, small sizes
//! ```
//!
//! ```
//! use scuttle_bench::{run_chitchat, run_scuttle, Case, ProtocolVersion};
//!
//! let case = Case::new(3, 5);
//! let scuttle = run_scuttle(&case);
//! let chitchat = run_chitchat(&case, ProtocolVersion::V1).expect("chitchat runs");
//! assert!(scuttle.converged && chitchat.converged);
//! ```
#![deny(missing_docs)]

mod chitchat_side;
mod cpu;
mod scuttle_side;
pub mod table;

pub use chitchat::ProtocolVersion;
pub use chitchat_side::{run_chitchat, ChitchatError, GOSSIP_INTERVAL};
pub use cpu::thread_cpu_time;
pub use scuttle_core::SorterKind;
pub use scuttle_side::run_scuttle;

use scuttle_sim::workload::{Schedule, Workload};

/// Peers each node starts an exchange with per round. chitchat fixes it at 3 (its
/// `GOSSIP_COUNT`); scuttle's workload is run with the same.
pub const FANOUT: usize = 3;

/// Largest message either side may send: one UDP datagram's payload (chitchat's
/// `MAX_UDP_DATAGRAM_PAYLOAD_SIZE`, scuttle's `Config::max_message_bytes`).
pub const MAX_MESSAGE_BYTES: usize = 65_507;

/// Bytes of every value.
pub const VALUE_LEN: usize = 16;

/// One point of the comparison: the cluster size and the keys per node, plus the run
/// parameters both sides share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Nodes in the cluster (`N`).
    pub nodes: usize,
    /// Keys each node writes (`K`).
    pub keys: usize,
    /// Seed of the values (both sides) and of scuttle's peer choices (chitchat's are not
    /// seedable).
    pub seed: u64,
    /// Rounds after which a side gives up (`converged` is then false).
    pub max_rounds: usize,
    /// Rounds run on the converged cluster to measure its idle cost (0: not measured).
    pub idle_rounds: usize,
    /// scuttle's sorter (chitchat always orders its news scuttle-depth).
    pub sorter: SorterKind,
    /// How scuttle's exchanges of a round overlap (chitchat's run as its tasks are
    /// scheduled).
    pub schedule: Schedule,
    /// Whether scuttle compresses its frames with zstd (chitchat always compresses).
    pub compression: bool,
}

impl Case {
    /// `nodes` × `keys`, seed 1, at most 1,000 rounds, 10 idle rounds, scuttle's default
    /// sorter.
    pub fn new(nodes: usize, keys: usize) -> Self {
        Case {
            nodes,
            keys,
            seed: 1,
            max_rounds: 1_000,
            idle_rounds: 10,
            sorter: Workload::default().sorter,
            schedule: Workload::default().schedule,
            compression: false,
        }
    }

    /// The scuttle workload of this case.
    pub fn workload(&self) -> Workload {
        Workload {
            nodes: self.nodes,
            keys: self.keys,
            fanout: FANOUT,
            value_len: VALUE_LEN,
            max_message_bytes: MAX_MESSAGE_BYTES,
            mtu: usize::MAX,
            sorter: self.sorter,
            seed: self.seed,
            max_rounds: self.max_rounds,
            idle_rounds: self.idle_rounds,
            schedule: self.schedule,
            compression: self.compression,
        }
    }

    /// The key node `node` writes as its `index`-th key (the same on both sides).
    pub fn key(&self, node: usize, index: usize) -> String {
        self.workload().key(node, index)
    }

    /// `N · (N − 1) · Σ (key bytes + value bytes)` over one node's `K` keys.
    pub fn payload_lower_bound(&self) -> u64 {
        self.workload().payload_lower_bound()
    }
}

/// Which implementation produced a [`Row`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// scuttle, in `scuttle_sim`'s simulator.
    Scuttle,
    /// chitchat 0.13 from crates.io, with the digest format it was run with.
    Chitchat(ProtocolVersion),
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Side::Scuttle => f.write_str("scuttle"),
            Side::Chitchat(ProtocolVersion::V0) => f.write_str("chitchat (V0)"),
            Side::Chitchat(ProtocolVersion::V1) => f.write_str("chitchat (V1)"),
        }
    }
}

/// What one side cost on one [`Case`].
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The implementation.
    pub side: Side,
    /// Nodes (`N`).
    pub nodes: usize,
    /// Keys per node (`K`).
    pub keys: usize,
    /// Whether every node ended holding every other node's keys (with the written values).
    pub converged: bool,
    /// Rounds from the writes until convergence (or `max_rounds`).
    pub rounds: usize,
    /// Messages sent in those rounds.
    pub messages: u64,
    /// Encoded bytes of those messages, digests included.
    pub bytes: u64,
    /// [`Case::payload_lower_bound`].
    pub payload_lower_bound: u64,
    /// Updates sent as news, summed over nodes (scuttle only: chitchat does not count them).
    pub updates_sent: Option<u64>,
    /// Updates that arrived already held, summed over nodes (scuttle only).
    pub duplicates: Option<u64>,
    /// Bytes per node per round on the converged cluster (`None` when not measured or not
    /// converged).
    pub idle_bytes_per_node_round: Option<f64>,
    /// CPU time of the calling thread from the first write to convergence, in milliseconds
    /// (`None` where the platform has no per-thread CPU clock).
    pub cpu_ms: Option<f64>,
    /// Wall time from the first write to convergence, in milliseconds.
    pub wall_ms: f64,
}

impl Row {
    /// `bytes / payload_lower_bound` (0 when the lower bound is 0).
    pub fn ratio(&self) -> f64 {
        if self.payload_lower_bound == 0 {
            0.0
        } else {
            self.bytes as f64 / self.payload_lower_bound as f64
        }
    }
}
