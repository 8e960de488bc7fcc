//! libp2p nodes on loopback: they find each other through one bootstrap address, replicate,
//! and see a member that leaves as down (its connection closed). The waits poll until the
//! expected state, with a long guard that only turns a hang into a failure.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use scuttle_node::{Liveness, NodeOptions, RunningNode};

async fn node(bootstrap: Option<&RunningNode>) -> RunningNode {
    scuttle_node::start(options(bootstrap)).await.unwrap()
}

/// A loopback node at a 100 ms period, joining through `bootstrap`'s TCP address.
fn options(bootstrap: Option<&RunningNode>) -> NodeOptions {
    let mut options = NodeOptions::default();
    options.listen = vec!["127.0.0.1:0".into()];
    options.interval_ms = 100;
    if let Some(b) = bootstrap {
        let tcp = b
            .listen_addrs()
            .iter()
            .find(|a| a.contains("/tcp/"))
            .unwrap();
        options.bootstrap = vec![tcp.clone()];
    }
    options
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let wait = async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_through_one_address_and_a_leaver_is_seen_down() {
    let a = node(None).await;
    let b = node(Some(&a)).await;
    let c = node(Some(&a)).await;
    let (ha, hb, hc) = (a.handle(), b.handle(), c.handle());

    // b learns of c through the cluster (it was only given a's address).
    until("b to see a and c alive and connected", || {
        let hb = hb.clone();
        async move {
            let m = hb.members().await.unwrap();
            m.len() == 2 && m.iter().all(|m| m.state == Liveness::Alive && m.connected)
        }
    })
    .await;

    hc.set("k".into(), "from c".into()).await.unwrap();
    until("b to hold c's write", || {
        let hb = hb.clone();
        async move {
            hb.get("k".into())
                .await
                .unwrap()
                .and_then(|e| e.value)
                .is_some()
        }
    })
    .await;

    let c_id = c.id().to_string();
    c.shutdown().await;
    until("a to see c down with no connection", || {
        let (ha, c_id) = (ha.clone(), c_id.clone());
        async move {
            ha.members()
                .await
                .unwrap()
                .iter()
                .any(|m| m.id == c_id && m.state == Liveness::Down && !m.connected)
        }
    })
    .await;
    let status = ha.status().await.unwrap();
    assert_eq!(status.members.down, 1);
    assert_eq!(
        status.members.alive + status.members.suspect,
        1,
        "b is still a member"
    );
    assert!(a.metrics().render().contains("scuttle_bans_total 0"));
    a.shutdown().await;
    b.shutdown().await;
}

/// Connections beyond `max_connections` are refused and counted: here two raw TCP sockets
/// that never finish their handshake against a limit of one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused() {
    let mut options = NodeOptions::default();
    options.listen = vec!["127.0.0.1:0".into()];
    options.max_connections = 1;
    let a = scuttle_node::start(options).await.unwrap();
    let tcp = a
        .listen_addrs()
        .iter()
        .find(|a| a.contains("/tcp/"))
        .unwrap();
    let port: u16 = tcp.rsplit('/').next().unwrap().parse().unwrap();
    let _first = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let _second = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let metrics = std::sync::Arc::clone(a.metrics());
    until("a refused connection to be counted", || {
        let metrics = std::sync::Arc::clone(&metrics);
        async move {
            metrics
                .render()
                .contains("scuttle_connections_refused_total 1")
        }
    })
    .await;
    a.shutdown().await;
}

/// A node restarted from its data dir after longer than the member grace (here: no record of
/// a last contact) rejoins: it keeps its data, shows `rejoining`, and is done once a member
/// has sent everything it held back to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_back_after_the_member_grace_rejoins_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let in_dir = || {
        let mut o = options(None);
        o.data_dir = Some(dir.path().to_path_buf());
        o
    };
    let first = scuttle_node::start(in_dir()).await.unwrap();
    first
        .handle()
        .set("kept".into(), "yes".into())
        .await
        .unwrap();
    assert!(!first.handle().status().await.unwrap().rejoining);
    first.shutdown().await;
    // It never had a live member, so there is no record of a last contact.
    assert!(!dir.path().join("last-contact").exists());

    let again = scuttle_node::start(in_dir()).await.unwrap();
    let h = again.handle();
    assert!(
        h.status().await.unwrap().rejoining,
        "away too long: rejoins"
    );
    let kept = h.get("kept".into()).await.unwrap().and_then(|e| e.value);
    assert_eq!(kept.as_deref(), Some("yes"), "nothing is dropped up front");

    let peer = node(Some(&again)).await;
    until("the rejoin to finish", || {
        let h = h.clone();
        async move { !h.status().await.unwrap().rejoining }
    })
    .await;
    let kept = h.get("kept".into()).await.unwrap().and_then(|e| e.value);
    assert_eq!(kept.as_deref(), Some("yes"), "heard again, not forgotten");
    until("the last contact to be recorded", || {
        let path = dir.path().join("last-contact");
        async move { path.exists() }
    })
    .await;
    peer.shutdown().await;
    again.shutdown().await;
}
