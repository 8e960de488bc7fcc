//! JSON lines in the seed's shapes: a peer written by hand, two nodes, and the seed's own
//! JavaScript implementation (run with `node` when it is installed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{node_with, wait_for, PATIENCE};
use scuttle_tokio::core::{Config, PROTOCOL_VERSION};
use scuttle_tokio::{NodeEvent, WireFormat};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// A node for seed-shaped peers: JSON lines, full digests only.
fn json_node(id: &str) -> common::N {
    let config = common::fast().with_wire_format(WireFormat::JsonLines);
    node_with(id, Config::default().with_digest_hashes(false), config)
}

#[tokio::test(start_paused = true)]
async fn a_hand_written_json_lines_peer_gossips_with_a_node() {
    let node = json_node("rust");
    node.set("size".into(), "large".into()).unwrap();
    let (raw, side) = tokio::io::duplex(64 * 1024);
    let conn = node.spawn_connection(side);
    let (rd, mut wr) = tokio::io::split(raw);
    let mut lines = BufReader::new(rd).lines();

    // The handshake: one hello line each way.
    let hello: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(
        hello,
        json!({"protocol_version": PROTOCOL_VERSION, "node_id": "rust"})
    );
    // Then, in the same write, a seed-shaped update (no prev, no timestamp): it is applied.
    let ours = format!("{{\"protocol_version\":{PROTOCOL_VERSION},\"node_id\":\"js\"}}\n");
    wr.write_all(ours.as_bytes()).await.unwrap();
    wr.write_all(b"{\"key\":\"color\",\"value\":\"red\",\"source_id\":\"js\",\"version\":1}\n")
        .await
        .unwrap();
    wait_for("the update from js", || {
        node.value("color").as_deref() == Some("red")
    })
    .await;

    // A seed-shaped digest asks for news: "I hold js up to 1, nothing else".
    wr.write_all(
        b"{\"digest\":true,\"source_id\":\"js\",\"version\":1}\n{\"digest\":true,\"done\":true}\n",
    )
    .await
    .unwrap();
    // Read until both the news for us (with the node's digest, marked as a reply) and the
    // node's own exchange (a digest that is not a reply) have come, in whatever order.
    let mut update = None;
    let mut reply_digest = false;
    let mut own_exchange = false;
    while update.is_none() || !reply_digest || !own_exchange {
        let line = lines.next_line().await.unwrap().expect("stream open");
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg.get("key").is_some() {
            update = Some(msg);
            continue;
        }
        // Everything else the node sends is a digest entry or a digest end, seed shapes, and
        // always whole digests (no hash: digest hashes are off for seed peers).
        assert_eq!(msg["digest"], json!(true), "{line}");
        assert!(msg.get("hash").is_none(), "{line}");
        if msg.get("done") == Some(&json!(true)) {
            let reply = msg.get("reply") == Some(&json!(true));
            reply_digest |= reply;
            own_exchange |= !reply;
        } else {
            assert!(
                msg["source_id"].is_string() && msg["version"].is_u64(),
                "{line}"
            );
        }
    }
    let update = update.unwrap();
    assert_eq!(update["key"], json!("size"));
    assert_eq!(update["value"], json!("large"));
    assert_eq!(update["source_id"], json!("rust"));
    assert_eq!(update["version"], json!(1));
    assert_eq!(update["prev"], json!(0));

    // A seed-shaped delete. It carries no timestamp (0), so its tombstone is long past its
    // grace period: the node's timer collects it, and the key is then gone.
    wr.write_all(b"{\"key\":\"color\",\"deleted\":true,\"source_id\":\"js\",\"version\":2}\n")
        .await
        .unwrap();
    wait_for("the delete from js", || node.get("color").is_none()).await;

    // Hanging up ends the connection cleanly.
    wr.shutdown().await.unwrap();
    drop(wr);
    drop(lines);
    assert_eq!(conn.join().await.unwrap().as_str(), "js");
}

/// A node for the seed's own code: no hello, the seed's dialect, full digests only.
fn seed_json_node(id: &str) -> common::N {
    let config = common::fast().with_wire_format(WireFormat::SeedJson);
    node_with(id, Config::default().with_digest_hashes(false), config)
}

/// A peer that sends exactly what simple-scuttle 3.0.2's code sends: no hello, digest entries
/// named `id`, a number key, a relayed delete without `value`, a digest that never gets its
/// `done`, and a line of garbage, which is skipped.
#[tokio::test(start_paused = true)]
async fn a_peer_speaking_as_the_seeds_code_does_is_understood() {
    let node = seed_json_node("rust");
    node.set("size".into(), "large".into()).unwrap();
    node.set("gone".into(), "soon".into()).unwrap();
    node.set("color".into(), "red".into()).unwrap();
    let mut events = node.events();
    let (raw, side) = tokio::io::duplex(64 * 1024);
    let conn = node.spawn_connection(side);
    let (rd, mut wr) = tokio::io::split(raw);
    let mut lines = BufReader::new(rd).lines();

    // No hello: the node's first line is already its digest, in the seed's shapes.
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["digest"], json!(true), "{first}");
    assert_eq!(first["id"], json!("rust"), "{first}");
    let peer = common::next_event(&mut events, |e| match e {
        NodeEvent::PeerConnected { peer, .. } => Some(peer.clone()),
        _ => None,
    })
    .await;
    assert_eq!(peer.as_str(), format!("seed{}", conn.id()));

    // Garbage is skipped with an event; the connection stays open.
    wr.write_all(b"this is not json\n").await.unwrap();
    common::next_event(&mut events, |e| {
        matches!(e, NodeEvent::LineSkipped { .. }).then_some(())
    })
    .await;
    // A number key, and a relayed delete (no value, no `deleted`; no timestamp either, so its
    // tombstone is past its grace at once and may already be collected).
    wr.write_all(b"{\"key\":7,\"value\":\"seven\",\"source_id\":\"#J\",\"version\":1}\n")
        .await
        .unwrap();
    wr.write_all(b"{\"key\":\"gone\",\"source_id\":\"#J\",\"version\":5}\n")
        .await
        .unwrap();
    wait_for("the seed's writes", || {
        node.value("7").as_deref() == Some("seven") && node.value("gone").is_none()
    })
    .await;

    // A digest that names the node at 2 and never ends: after an idle pause it is answered
    // with the node's news above 2, and with no digest of its own (seed peers get that only
    // when the node gossips).
    wr.write_all(b"{\"id\":\"#J\",\"version\":5,\"digest\":true}\n{\"id\":\"rust\",\"version\":2,\"digest\":true}\n")
        .await
        .unwrap();
    let answer = tokio::time::timeout(common::PATIENCE, async {
        loop {
            let line: Value =
                serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
            // Anything else is the node's own digest, sent on its ticks.
            assert!(line.get("reply").is_none(), "{line}");
            if line.get("key").is_some() {
                return line;
            }
        }
    })
    .await
    .expect("the digest is answered");
    assert_eq!(answer["key"], json!("color"), "{answer}");
    assert_eq!(answer["version"], json!(3), "{answer}");
    assert!(!conn.is_finished());
    wr.shutdown().await.unwrap();
    drop(wr);
    drop(lines);
    assert_eq!(conn.join().await.unwrap(), peer);
}

#[tokio::test(start_paused = true)]
async fn two_nodes_converge_over_json_lines() {
    let config = common::fast().with_wire_format(WireFormat::JsonLines);
    let a = node_with("a", Config::default(), config.clone());
    let b = node_with("b", Config::default(), config);
    for i in 0..20 {
        a.set(format!("a{i}"), format!("{i}")).unwrap();
        b.set(format!("b{i}"), format!("{i}")).unwrap();
    }
    a.delete("a0".into()).unwrap();
    common::link_duplex(&a, &b);
    common::wait_converged(&[a, b], 39).await;
}

// ---------------------------------------------------------------- the seed's JavaScript peer

/// The seed's own JavaScript `Gossip`, unchanged, gossips with a node over JSON lines (a
/// small glue script, `tests/seed/peer.js`, carries its objects over stdin/stdout): each
/// side's write reaches the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_javascript_peer_gossips_with_a_node() {
    let (seed, modules) = match common::seed_js::seed_peer().await {
        Ok(found) => found,
        Err(why) => {
            eprintln!("SKIPPED the_seed_javascript_peer_gossips_with_a_node: {why}");
            return;
        }
    };
    // Seed peers answer a digest with news only, never with a digest of their own: give up
    // waiting for that answer at the next tick.
    let config = common::fast()
        .with_wire_format(WireFormat::JsonLines)
        .with_exchange_timeout(Duration::from_millis(40));
    let node = node_with("rust", Config::default().with_digest_hashes(false), config);
    node.set("from-rust".into(), "hello from rust".into())
        .unwrap();

    let script = common::seed_js::script("peer.js");
    let mut child = Command::new("node")
        .arg(script)
        .arg(&seed)
        .arg(PROTOCOL_VERSION.to_string())
        .args(["js", "from-js", "hello from js"])
        .args(["from-rust", "hello from rust", "50"])
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let io = tokio::io::join(child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let conn = node.spawn_connection(io);

    // The seed's write reaches the node, from the seed's id.
    wait_for("the seed's write at the node", || {
        node.value("from-js").as_deref() == Some("hello from js")
    })
    .await;
    assert_eq!(node.get("from-js").unwrap().source_id.as_str(), "js");
    // The node's write reaches the seed.
    let mut said = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line == "converged" {
                return;
            }
            said.push(line);
        }
        panic!("the seed peer ended: {said:?}");
    })
    .await
    .expect("the node's write at the seed peer");
    assert!(
        !conn.is_finished(),
        "the connection is still open: {:?}",
        conn.stats()
    );

    conn.close();
    assert_eq!(conn.join().await.unwrap().as_str(), "js");
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the seed peer exits when its stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
}
