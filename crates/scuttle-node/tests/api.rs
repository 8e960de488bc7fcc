//! The HTTP API end to end: a node on the TCP transport (no network needed beyond loopback)
//! answering every route, over a raw HTTP/1.1 connection.

#![allow(clippy::unwrap_used)]

use scuttle_node::{NodeOptions, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request; the status code and the body.
async fn http(api: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(api).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test]
async fn every_route_answers() {
    let mut options = NodeOptions::from_toml("max_message_bytes = 1024").unwrap();
    options.transport = Transport::Tcp;
    options.listen = vec!["127.0.0.1:0".into()];
    options.id = Some("me".into());
    // A data dir: writes are open at once (without one a TCP node first catches up).
    let dir = tempfile::tempdir().unwrap();
    options.data_dir = Some(dir.path().to_path_buf());
    options.api = Some("127.0.0.1:0".parse().unwrap());
    let node = scuttle_node::start(options).await.unwrap();
    let api = node.api_addr().unwrap();

    let (status, body) = http(api, "GET", "/v1/keys/greeting", "").await;
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (404, Some("key not set"))
    );
    let (status, body) = http(api, "PUT", "/v1/keys/greeting", "hello").await;
    assert_eq!(status, 200, "{body}");
    // Hybrid-clock versions: milliseconds in the high bits.
    let first = json(&body)["version"].as_u64().unwrap();
    assert!(first > 1 << 40, "{first}");
    let (status, body) = http(api, "GET", "/v1/keys/greeting", "").await;
    assert_eq!(status, 200);
    let entry = json(&body);
    assert_eq!(
        (entry["value"].as_str(), entry["source_id"].as_str()),
        (Some("hello"), Some("me"))
    );
    // Keys may hold slashes; a refused write is a 409 that says why.
    assert_eq!(http(api, "PUT", "/v1/keys/a/b", "x").await.0, 200);
    assert_eq!(
        json(&http(api, "GET", "/v1/keys/a/b", "").await.1)["value"],
        "x"
    );
    let big = "x".repeat(2000);
    let (status, body) = http(api, "PUT", "/v1/keys/big", &big).await;
    assert_eq!(
        status, 409,
        "a write that could never fit a message: {body}"
    );
    assert!(json(&body)["error"]
        .as_str()
        .unwrap()
        .starts_with("refused"));
    assert_eq!(http(api, "GET", "/v1/keys/big", "").await.0, 404);

    let (status, body) = http(api, "DELETE", "/v1/keys/greeting", "").await;
    assert_eq!(status, 200);
    let deleted = json(&body)["version"].as_u64().unwrap();
    assert!(deleted > first);
    let (status, body) = http(api, "GET", "/v1/keys/greeting", "").await;
    assert_eq!(status, 404);
    assert_eq!(json(&body)["entry"]["source_id"], "me");

    let state = json(&http(api, "GET", "/v1/state", "").await.1);
    assert_eq!(state["version"].as_u64(), Some(deleted));
    assert_eq!(
        state["entries"].as_array().unwrap().len(),
        1,
        "tombstones left out"
    );
    let status = json(&http(api, "GET", "/v1/status", "").await.1);
    assert_eq!(status["id"], "me");
    assert_eq!(status["transport"], "tcp");
    assert_eq!(status["keys"], 1);
    assert_eq!(
        json(&http(api, "GET", "/v1/members", "").await.1),
        serde_json::json!([])
    );
    let (code, metrics) = http(api, "GET", "/metrics", "").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("scuttle_bans_total 0"), "{metrics}");
    assert!(metrics.contains("# EOF"), "{metrics}");
    node.shutdown().await;
}
