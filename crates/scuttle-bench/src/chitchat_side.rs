//! The chitchat side: `N` chitchat servers on chitchat's in-memory transport, under a paused
//! tokio clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chitchat::transport::ChannelTransport;
use chitchat::{
    spawn_chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig,
    ProtocolVersion,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::cpu::{cpu_ms, thread_cpu_time};
use crate::{Case, Row, Side, MAX_MESSAGE_BYTES, VALUE_LEN};

/// chitchat's gossip interval: one round. The clock is paused, so its length only matters
/// to chitchat's failure detector (which is told the same interval).
pub const GOSSIP_INTERVAL: Duration = Duration::from_secs(1);

/// First logical port of the in-memory transport (node `i` listens on `BASE_PORT + i`).
const BASE_PORT: u16 = 10_000;

/// Why the chitchat side could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChitchatError {
    /// The case cannot be run (fewer than two nodes, or more nodes than logical ports).
    #[error("invalid case: {0}")]
    InvalidCase(String),
    /// The tokio runtime could not be built.
    #[error("could not build the tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// `spawn_chitchat` failed for a node.
    #[error("chitchat node {node} could not start: {message}")]
    Spawn {
        /// Index of the node.
        node: usize,
        /// chitchat's error.
        message: String,
    },
    /// Not every node saw every node as live within `max_rounds` gossip intervals, so the
    /// keys were never written.
    #[error("membership incomplete after {rounds} gossip intervals")]
    Membership {
        /// Gossip intervals waited.
        rounds: usize,
    },
}

/// Runs `case` on chitchat 0.13 with digests in `protocol`'s format and returns its row.
///
/// Every node is seeded with every address; the run waits (at most `max_rounds` gossip
/// intervals) until every node sees all `N` nodes as live, then every node writes its `K`
/// keys in the middle of a gossip interval. From there each gossip interval is one round;
/// after each the nodes are checked. Messages and bytes are the differences of
/// [`ChannelTransport::statistics`] over those rounds (chitchat's header, digests, deltas
/// and heartbeats included). CPU and wall time run from the first write to the end of the
/// last round (the checks between rounds included; they only compare one version per node
/// state).
pub fn run_chitchat(case: &Case, protocol: ProtocolVersion) -> Result<Row, ChitchatError> {
    if case.nodes < 2 {
        return Err(ChitchatError::InvalidCase(format!(
            "{} node(s): chitchat needs at least 2",
            case.nodes
        )));
    }
    if case.nodes > usize::from(u16::MAX - BASE_PORT) {
        return Err(ChitchatError::InvalidCase(format!(
            "{} nodes: more than the transport's logical ports",
            case.nodes
        )));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    runtime.block_on(run(case, protocol))
}

fn addr(i: usize) -> SocketAddr {
    // `run_chitchat` checked that every index fits.
    let port = BASE_PORT.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn config(i: usize, seeds: &[String], protocol: ProtocolVersion) -> ChitchatConfig {
    let listen_addr = addr(i);
    ChitchatConfig {
        chitchat_id: ChitchatId::new(scuttle_sim::node_id(i).as_str(), 0, listen_addr),
        cluster_id: "bench".to_string(),
        gossip_interval: GOSSIP_INTERVAL,
        listen_addr,
        seed_nodes: seeds.to_vec(),
        failure_detector_config: FailureDetectorConfig {
            initial_interval: GOSSIP_INTERVAL,
            ..FailureDetectorConfig::default()
        },
        marked_for_deletion_grace_period: Duration::from_secs(3_600),
        catchup_callback: None,
        extra_liveness_predicate: None,
        protocol_version: protocol,
    }
}

/// Whether every node sees all `n` nodes as live.
async fn membership_complete(handles: &[ChitchatHandle], n: usize) -> bool {
    for h in handles {
        let ok = h
            .with_chitchat(|c| c.node_states().len() == n && c.live_nodes().count() == n)
            .await;
        if !ok {
            return false;
        }
    }
    true
}

/// Whether every node holds every node's `k` keys: a node state's `max_version` is the
/// version of the last key applied, and chitchat applies a node's keys in version order, so
/// `max_version == k` means all `k` (each key is written once, versions `1..=k`).
async fn all_hold(handles: &[ChitchatHandle], n: usize, k: u64) -> bool {
    for h in handles {
        let ok = h
            .with_chitchat(|c| {
                c.node_states().len() == n && c.node_states().values().all(|s| s.max_version() >= k)
            })
            .await;
        if !ok {
            return false;
        }
    }
    true
}

/// The exact check: every node holds exactly the keys and values every node wrote.
async fn replicas_identical(handles: &[ChitchatHandle], written: &[Vec<(String, String)>]) -> bool {
    for h in handles {
        let ok = h
            .with_chitchat(|c| {
                (0..written.len()).all(|j| {
                    let id = ChitchatId::new(scuttle_sim::node_id(j).as_str(), 0, addr(j));
                    c.node_state(&id).is_some_and(|s| {
                        s.num_key_values() == written[j].len()
                            && written[j].iter().all(|(k, v)| s.get(k) == Some(v.as_str()))
                    })
                })
            })
            .await;
        if !ok {
            return false;
        }
    }
    true
}

async fn run(case: &Case, protocol: ProtocolVersion) -> Result<Row, ChitchatError> {
    let n = case.nodes;
    let transport = ChannelTransport::with_mtu(MAX_MESSAGE_BYTES);
    let seeds: Vec<String> = (0..n).map(|i| addr(i).to_string()).collect();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let handle = spawn_chitchat(config(i, &seeds, protocol), Vec::new(), &transport)
            .await
            .map_err(|e| ChitchatError::Spawn {
                node: i,
                message: e.to_string(),
            })?;
        handles.push(handle);
    }

    // Every server ticked at t = 0 (an interval's first tick is immediate); check in the
    // middle of each interval, when the exchanges of its tick are over.
    tokio::time::sleep(GOSSIP_INTERVAL / 2).await;
    let mut waited = 0;
    while !membership_complete(&handles, n).await {
        if waited >= case.max_rounds {
            return Err(ChitchatError::Membership { rounds: waited });
        }
        tokio::time::sleep(GOSSIP_INTERVAL).await;
        waited += 1;
    }

    let before = transport.statistics();
    let cpu0 = thread_cpu_time();
    let wall0 = Instant::now();
    let mut rng = SmallRng::seed_from_u64(case.seed);
    let mut written = Vec::with_capacity(n);
    for (i, h) in handles.iter().enumerate() {
        let kvs: Vec<(String, String)> = (0..case.keys)
            .map(|j| {
                let value: String = (0..VALUE_LEN)
                    .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
                    .collect();
                (case.key(i, j), value)
            })
            .collect();
        h.with_chitchat(|c| {
            let state = c.self_node_state();
            for (k, v) in &kvs {
                state.set(k.as_str(), v.as_str());
            }
        })
        .await;
        written.push(kvs);
    }

    let k = case.keys as u64;
    let mut rounds = 0;
    while rounds < case.max_rounds && !all_hold(&handles, n, k).await {
        tokio::time::sleep(GOSSIP_INTERVAL).await;
        rounds += 1;
    }
    let cpu1 = thread_cpu_time();
    let wall_ms = wall0.elapsed().as_secs_f64() * 1_000.0;
    let after = transport.statistics();
    let converged = all_hold(&handles, n, k).await && replicas_identical(&handles, &written).await;

    let mut idle_bytes_per_node_round = None;
    if converged && case.idle_rounds > 0 {
        let idle0 = transport.statistics();
        for _ in 0..case.idle_rounds {
            tokio::time::sleep(GOSSIP_INTERVAL).await;
        }
        let idle = transport.statistics().num_bytes_total - idle0.num_bytes_total;
        idle_bytes_per_node_round = Some(idle as f64 / (n * case.idle_rounds) as f64);
    }
    for h in handles {
        // The runtime is dropped next, which ends the servers anyway.
        let _ = h.shutdown().await;
    }

    Ok(Row {
        side: Side::Chitchat(protocol),
        nodes: n,
        keys: case.keys,
        converged,
        rounds,
        messages: after.num_messages_total - before.num_messages_total,
        bytes: after.num_bytes_total - before.num_bytes_total,
        payload_lower_bound: case.payload_lower_bound(),
        updates_sent: None,
        duplicates: None,
        idle_bytes_per_node_round,
        cpu_ms: cpu_ms(cpu0, cpu1),
        wall_ms,
    })
}
