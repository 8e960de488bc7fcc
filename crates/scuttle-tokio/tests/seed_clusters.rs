//! Mixed clusters of the seed's own JavaScript nodes (simple-scuttle 3.0.2, unchanged) and
//! scuttle nodes, in the seed's own topologies, with every mix of the two kinds and `mtu` 1, 3
//! and 10: every mix must converge wherever the all-JavaScript cluster converges.
//!
//! Run by `scripts/test-interop.sh` (it is `#[ignore]`d in the plain `cargo test`, being a
//! couple of minutes of real time): `cargo test -p scuttle-tokio --release --test
//! seed_clusters -- --ignored --nocapture`. Skipped, with the reason, without `node`/`npm`.
//!
//! One run: the JavaScript nodes live in one `node` process (`tests/seed/cluster.js`), linked
//! to each other by the seed's own `A.pipe(B).pipe(A)` and to scuttle nodes by TCP in
//! [`WireFormat::SeedJson`]; scuttle nodes link to each other with the full protocol (CBOR).
//! Every round (`ROUND` of real time) one node writes (the seed's `can_pipe` workload: keys
//! `1..=10`, JavaScript ones as numbers, values `a..=j`, writers taking turns so both kinds
//! write) and the JavaScript nodes gossip; scuttle nodes gossip on their own ticks of the same
//! length. After the writes, a run converges when every node holds the same ten keys within
//! `QUIET_ROUNDS` rounds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use scuttle_tokio::core::Config;
use scuttle_tokio::{NodeConfig, WireFormat};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout, Command};

/// One gossip round of real time.
const ROUND: Duration = Duration::from_millis(40);
/// Runs of a mix that failed where the all-JS cluster converged (see the test's docs).
const TRIES: usize = 3;
/// Rounds after the last write within which a run must converge.
const QUIET_ROUNDS: usize = 60;
/// The seed's default `max_history`.
const MAX_HISTORY: usize = 10;
const IDS: [&str; 4] = ["A", "B", "C", "D"];
const VALUES: &str = "abcdefghij";

/// The seed's topologies: `can_pipe`'s line (A–B, B–C, A–D) and a ring of four.
const TOPOLOGIES: [(&str, &[(usize, usize)]); 2] = [
    ("line", &[(0, 1), (1, 2), (0, 3)]),
    ("ring", &[(0, 1), (1, 2), (2, 3), (3, 0)]),
];
const MTUS: [usize; 3] = [1, 3, 10];

type State = BTreeMap<String, String>;

/// One cluster: which nodes are scuttle nodes (bit `i` for `IDS[i]`), topology, `mtu`.
#[derive(Clone, Copy, Debug)]
struct Run {
    topology: usize,
    mtu: usize,
    scuttle: u8,
}

impl Run {
    fn is_scuttle(&self, i: usize) -> bool {
        self.scuttle & (1 << i) != 0
    }

    fn mix(&self) -> String {
        (0..IDS.len())
            .map(|i| if self.is_scuttle(i) { 'S' } else { 'J' })
            .collect()
    }
}

/// The JavaScript side of a run: the `node` process and its pipes.
struct JsNodes {
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _child: tokio::process::Child,
}

impl JsNodes {
    async fn send(&mut self, cmd: Value) {
        let line = format!("{cmd}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    /// Reads stdout until a line with `field`.
    async fn expect(&mut self, field: &str) -> Value {
        loop {
            let line = self
                .stdout
                .next_line()
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("cluster.js ended before `{field}`"));
            let msg: Value = serde_json::from_str(&line).unwrap();
            if let Some(v) = msg.get(field) {
                return v.clone();
            }
        }
    }

    async fn dump(&mut self) -> BTreeMap<String, State> {
        self.send(json!({"op": "dump"})).await;
        let dump = self.expect("dump").await;
        serde_json::from_value(dump).unwrap()
    }
}

/// Runs one cluster; whether it converged.
async fn run_cluster(run: Run, seed: &Path, modules: &Path) -> bool {
    let (_, edges) = TOPOLOGIES[run.topology];
    let core = Config::default()
        .with_mtu(run.mtu)
        .with_digest_hashes(false);
    let config = NodeConfig::default()
        .with_wire_format(WireFormat::SeedJson)
        .with_gossip_interval(ROUND)
        .with_gossip_jitter(ROUND / 4)
        .with_seed_digest_idle(ROUND / 2);
    // Scuttle nodes, each listening for the JavaScript nodes' links.
    let mut nodes = BTreeMap::new();
    let mut ports = serde_json::Map::new();
    for (i, id) in IDS.iter().enumerate().filter(|(i, _)| run.is_scuttle(*i)) {
        let node = common::node_with(id, core.clone(), config.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.insert((*id).into(), listener.local_addr().unwrap().port().into());
        node.listen(listener);
        nodes.insert(i, node);
    }
    for &(a, b) in edges {
        if let (Some(x), Some(y)) = (nodes.get(&a), nodes.get(&b)) {
            let (l, r) = tokio::io::duplex(64 * 1024);
            x.spawn_connection_with(l, WireFormat::Cbor);
            y.spawn_connection_with(r, WireFormat::Cbor);
        }
    }
    let js: Vec<&str> = (0..IDS.len())
        .filter(|i| !run.is_scuttle(*i))
        .map(|i| IDS[i])
        .collect();
    let spec = json!({
        "mtu": run.mtu,
        "max_history": MAX_HISTORY,
        "js": js,
        "scuttle": ports,
        "edges": edges.iter().map(|&(a, b)| [IDS[a], IDS[b]]).collect::<Vec<_>>(),
    });
    let mut child = Command::new("node")
        .arg(common::seed_js::script("cluster.js"))
        .arg(seed)
        .arg(spec.to_string())
        .env("NODE_PATH", modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut js_nodes = JsNodes {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
        _child: child,
    };
    js_nodes.expect("ready").await;

    let mut ticks = tokio::time::interval(ROUND);
    let mut converged = false;
    let mut last = Vec::new();
    for round in 0..VALUES.len() + QUIET_ROUNDS {
        ticks.tick().await;
        if let Some(value) = VALUES.get(round..=round) {
            let writer = round % IDS.len();
            let key = round + 1;
            match nodes.get(&writer) {
                Some(node) => {
                    node.set(key.to_string(), value.into()).unwrap();
                }
                None => {
                    let cmd = json!({"op": "set", "node": IDS[writer], "key": key, "value": value});
                    js_nodes.send(cmd).await;
                }
            }
        }
        js_nodes.send(json!({"op": "gossip"})).await;
        if round + 1 < VALUES.len() {
            continue;
        }
        let mut states: Vec<(String, State)> = js_nodes.dump().await.into_iter().collect();
        states.extend(
            nodes
                .iter()
                .map(|(i, n)| (IDS[*i].to_string(), n.snapshot().into_iter().collect())),
        );
        let first = &states[0].1;
        if first.len() == VALUES.len() && states.iter().all(|(_, s)| s == first) {
            converged = true;
            break;
        }
        last = states;
    }
    if !converged && std::env::var_os("SEED_CLUSTER_VERBOSE").is_some() {
        let marks: Vec<_> = nodes
            .values()
            .map(|n| {
                n.with_gossip(|g| {
                    g.watermarks()
                        .map(|(s, v)| (s.clone(), v))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        eprintln!("{run:?} {}: {last:?} watermarks {marks:?}", run.mix());
    }
    for node in nodes.values() {
        node.shutdown().await;
    }
    converged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a few minutes of real time with node: run by scripts/test-interop.sh"]
async fn every_mix_converges_where_the_seed_cluster_does() {
    let (seed, modules): (PathBuf, PathBuf) = match common::seed_js::seed_peer().await {
        Ok(found) => found,
        Err(why) => {
            eprintln!("SKIPPED every_mix_converges_where_the_seed_cluster_does: {why}");
            return;
        }
    };
    let runs: Vec<Run> = (0..TOPOLOGIES.len())
        .flat_map(|topology| {
            MTUS.iter().flat_map(move |&mtu| {
                (0..1u8 << IDS.len()).map(move |scuttle| Run {
                    topology,
                    mtu,
                    scuttle,
                })
            })
        })
        .filter(|r| {
            // SEED_CLUSTER_ONLY="line,10,SJJJ" runs one cluster (for debugging).
            std::env::var("SEED_CLUSTER_ONLY").map_or(true, |only| {
                only == format!("{},{},{}", TOPOLOGIES[r.topology].0, r.mtu, r.mix())
            })
        })
        .collect();
    let results: Vec<(Run, bool)> = futures::stream::iter(runs)
        .map(|run| {
            let (seed, modules) = (seed.clone(), modules.clone());
            async move { (run, run_cluster(run, &seed, &modules).await) }
        })
        .buffer_unordered(1)
        .collect()
        .await;

    let mut failures = Vec::new();
    let mut retried = Vec::new();
    let (mut mixed, mut mixed_converged) = (0, 0);
    for (topology, (name, _)) in TOPOLOGIES.iter().enumerate() {
        for mtu in MTUS {
            let group: BTreeMap<String, (Run, bool)> = results
                .iter()
                .filter(|(r, _)| r.topology == topology && r.mtu == mtu)
                .map(|(r, ok)| (r.mix(), (*r, *ok)))
                .collect();
            let baseline = group["JJJJ"].1;
            let line: Vec<String> = group
                .iter()
                .map(|(mix, (_, ok))| format!("{mix}:{}", if *ok { "ok" } else { "--" }))
                .collect();
            eprintln!("{name:4} mtu {mtu:2}: {}", line.join(" "));
            for (mix, (run, ok)) in &group {
                if mix.contains('S') && mix.contains('J') {
                    mixed += 1;
                    mixed_converged += usize::from(*ok);
                }
                if baseline && !ok {
                    let mut again = false;
                    for _ in 1..TRIES {
                        if run_cluster(*run, &seed, &modules).await {
                            again = true;
                            break;
                        }
                    }
                    let what = format!("{name} mtu {mtu} {mix}");
                    if again {
                        retried.push(what);
                    } else {
                        failures.push(what);
                    }
                }
            }
        }
    }
    if !retried.is_empty() {
        eprintln!("converged when run again: {retried:?}");
    }
    eprintln!(
        "mixed clusters converged: {mixed_converged} of {mixed}; \
         all-JS baselines converged: {} of {}",
        results
            .iter()
            .filter(|(r, ok)| r.scuttle == 0 && *ok)
            .count(),
        TOPOLOGIES.len() * MTUS.len()
    );
    assert!(
        failures.is_empty(),
        "mixes that did not converge where the all-JS cluster did: {failures:?}"
    );
}
