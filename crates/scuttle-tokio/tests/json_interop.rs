//! A peer in any language can talk to a node by hand in JSON lines with the seed's shapes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{node_with, wait_for};
use scuttle_core::Config;
use scuttle_tokio::WireFormat;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_written_json_lines_peer_gossips_with_a_node() {
    let config = common::fast().with_wire_format(WireFormat::JsonLines);
    let node = node_with("rust", Config::default(), config);
    node.set("size".into(), "large".into()).unwrap();
    let (raw, side) = tokio::io::duplex(64 * 1024);
    let conn = node.spawn_connection(side);
    let (rd, mut wr) = tokio::io::split(raw);
    let mut lines = BufReader::new(rd).lines();

    // The handshake: one hello line each way.
    let hello: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(hello, json!({"protocol_version": 1, "node_id": "rust"}));
    // Then, in the same write, a seed-shaped update (no prev, no timestamp): it is applied.
    wr.write_all(
        concat!(
            "{\"protocol_version\":1,\"node_id\":\"js\"}\n",
            "{\"key\":\"color\",\"value\":\"red\",\"source_id\":\"js\",\"version\":1}\n"
        )
        .as_bytes(),
    )
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
    // Read until both the news for us and the node's own round (a digest end that is not a
    // reply) have come, in whatever order.
    let mut update = None;
    let mut own_round = false;
    while update.is_none() || !own_round {
        let line = lines.next_line().await.unwrap().expect("stream open");
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg.get("key").is_some() {
            update = Some(msg);
            continue;
        }
        // Everything else the node sends is a digest entry or a digest end, seed shapes.
        assert_eq!(msg["digest"], json!(true), "{line}");
        if msg.get("done") == Some(&json!(true)) {
            own_round |= msg.get("reply").is_none();
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

    // A seed-shaped delete. It carries no timestamp (0), so the core may collect its
    // tombstone at the next round: the key is then gone rather than deleted.
    wr.write_all(b"{\"key\":\"color\",\"deleted\":true,\"source_id\":\"js\",\"version\":2}\n")
        .await
        .unwrap();
    wait_for("the delete from js", || node.value("color").is_none()).await;

    // Hanging up ends the connection cleanly.
    wr.shutdown().await.unwrap();
    drop(wr);
    drop(lines);
    assert_eq!(conn.join().await.unwrap().as_str(), "js");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_converge_over_json_lines() {
    let config = common::fast().with_wire_format(WireFormat::JsonLines);
    let a = node_with("a", Config::default(), config.clone());
    let b = node_with("b", Config::default(), config);
    for i in 0..20 {
        a.set(format!("a{i}"), format!("{i}")).unwrap();
        b.set(format!("b{i}"), format!("{i}")).unwrap();
    }
    common::link_duplex(&a, &b);
    common::wait_converged(&[a, b], 40).await;
}
