//! A bad peer (garbage, oversize or invalid frames, wrong version, silence, never reading)
//! only loses its own connection: the node, its state and its other connections go on.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use common::{link_duplex, next_event, node, node_with, wait_converged, N};
use scuttle_core::{Config, DecodeError, FrameCodec, Message, NodeId, Update, PROTOCOL_VERSION};
use scuttle_tokio::codec::HelloCodec;
use scuttle_tokio::{ConnectionError, DisconnectReason, Hello, NodeEvent, WireFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::codec::Decoder;

fn hello(id: &str, version: u32) -> Vec<u8> {
    Hello {
        protocol_version: version,
        node_id: NodeId::from(id),
    }
    .to_bytes(WireFormat::Cbor)
    .unwrap()
}

/// Reads the node's hello off a raw stream.
async fn read_hello(raw: &mut DuplexStream, format: WireFormat) -> Hello {
    let mut codec = HelloCodec::new(format);
    let mut buf = BytesMut::new();
    loop {
        if let Some(hello) = codec.decode(&mut buf).unwrap() {
            return hello;
        }
        let mut chunk = [0u8; 256];
        let n = raw.read(&mut chunk).await.unwrap();
        assert!(n > 0, "stream ended before the node's hello");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn error_of(event: &NodeEvent<String, String>, from: &str) -> Option<Arc<ConnectionError>> {
    match event {
        NodeEvent::Error { peer, error, .. } if peer.as_ref().map(NodeId::as_str) == Some(from) => {
            Some(Arc::clone(error))
        }
        _ => None,
    }
}

/// Three good nodes and two bad peers of the middle one: one sends garbage after a valid
/// hello, one sends garbage instead of a hello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_peers_are_dropped_while_the_others_converge() {
    let (a, b, c) = (node("a"), node("b"), node("c"));
    let mut events = a.events();
    link_duplex(&a, &b);
    link_duplex(&a, &c);

    let (mut mallory, side) = tokio::io::duplex(4096);
    let bad = a.spawn_connection(side);
    mallory
        .write_all(&hello("mallory", PROTOCOL_VERSION))
        .await
        .unwrap();
    mallory
        .write_all(&[0, 0, 0, 8, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8])
        .await
        .unwrap();

    let (mut noise, side) = tokio::io::duplex(4096);
    let noisy = a.spawn_connection(side);
    noise.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();

    for (i, n) in [&a, &b, &c].into_iter().enumerate() {
        n.set(format!("k{i}"), "v".into()).unwrap();
    }

    let event = next_event(&mut events, |e| error_of(e, "mallory").is_some()).await;
    let error = error_of(&event, "mallory").unwrap();
    assert!(
        matches!(*error, ConnectionError::Decode(DecodeError::Malformed(_))),
        "{error}"
    );
    let error = bad.join().await.unwrap_err();
    assert!(matches!(*error, ConnectionError::Decode(_)), "{error}");
    let error = noisy.join().await.unwrap_err();
    assert!(matches!(*error, ConnectionError::Handshake(_)), "{error}");

    wait_converged(&[a.clone(), b.clone(), c.clone()], 3).await;
    assert_eq!(a.peers().len(), 2, "the good connections stay open");
    // The node closed the bad connection: its end of the stream reads to the end.
    let mut rest = Vec::new();
    mallory.read_to_end(&mut rest).await.unwrap();
}

/// A frame longer than the core's `max_frame_size` is refused as soon as its length arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_frame_closes_the_connection() {
    let a = node_with(
        "a",
        Config::default().with_max_frame_size(1024),
        common::fast(),
    );
    a.set("kept".into(), "yes".into()).unwrap();
    let (mut raw, side) = tokio::io::duplex(4096);
    let conn = a.spawn_connection(side);
    raw.write_all(&hello("big", PROTOCOL_VERSION))
        .await
        .unwrap();
    raw.write_all(&(1u32 << 20).to_be_bytes()).await.unwrap();
    let error = conn.join().await.unwrap_err();
    assert!(
        matches!(
            *error,
            ConnectionError::Decode(DecodeError::FrameTooLarge {
                len: 1_048_576,
                max: 1024
            })
        ),
        "{error}"
    );
    // The node goes on with a good peer.
    let b = node("b");
    link_duplex(&a, &b);
    wait_converged(&[a, b], 1).await;
}

/// A well-formed frame whose message breaks the protocol (version 0) changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_message_closes_the_connection_and_leaves_state_alone() {
    let a = node("a");
    a.set("kept".into(), "yes".into()).unwrap();
    let before = a.entries();
    let version = a.version();
    let mut events = a.events();
    let (mut raw, side) = tokio::io::duplex(4096);
    let conn = a.spawn_connection(side);
    raw.write_all(&hello("eve", PROTOCOL_VERSION))
        .await
        .unwrap();
    let msg: Message<String, String> = Message::Update {
        update: Update {
            key: "kept".into(),
            value: Some("overwritten".into()),
            source_id: NodeId::from("eve"),
            version: 0,
            timestamp: 0,
        },
        prev: None,
    };
    let mut frame = Vec::new();
    FrameCodec::default().encode(&msg, &mut frame).unwrap();
    raw.write_all(&frame).await.unwrap();

    let error = conn.join().await.unwrap_err();
    assert!(
        matches!(*error, ConnectionError::Decode(DecodeError::Invalid(_))),
        "{error}"
    );
    let event = next_event(&mut events, |e| {
        matches!(
            e,
            NodeEvent::PeerDisconnected {
                reason: DisconnectReason::Error(_),
                ..
            }
        )
    })
    .await;
    assert!(matches!(event, NodeEvent::PeerDisconnected { peer, .. } if peer.as_str() == "eve"));
    assert_eq!(a.entries(), before);
    assert_eq!(a.version(), version);
}

async fn wrong_version(format: WireFormat) {
    let a = node_with(
        "a",
        Config::default(),
        common::fast().with_wire_format(format),
    );
    let mut events = a.events();
    let (mut raw, side) = tokio::io::duplex(4096);
    let conn = a.spawn_connection(side);
    let theirs = read_hello(&mut raw, format).await;
    assert_eq!(theirs, Hello::new(NodeId::from("a")));
    let bytes = Hello {
        protocol_version: PROTOCOL_VERSION + 98,
        node_id: NodeId::from("future"),
    }
    .to_bytes(format)
    .unwrap();
    raw.write_all(&bytes).await.unwrap();

    let error = conn.join().await.unwrap_err();
    assert!(
        matches!(*error, ConnectionError::VersionMismatch { ours, theirs }
            if ours == PROTOCOL_VERSION && theirs == PROTOCOL_VERSION + 98),
        "{error}"
    );
    assert!(error.to_string().contains("protocol version mismatch"));
    let event = next_event(&mut events, |e| matches!(e, NodeEvent::Error { .. })).await;
    assert!(matches!(event, NodeEvent::Error { peer: None, .. }));
    // Closed: nothing but the hello was sent.
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert!(a.peers().is_empty());
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused_over_cbor() {
    wrong_version(WireFormat::Cbor).await;
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused_over_json_lines() {
    wrong_version(WireFormat::JsonLines).await;
}

#[tokio::test]
async fn a_peer_with_our_own_id_is_refused() {
    let (a, twin) = (node("a"), node("a"));
    let (x, y) = tokio::io::duplex(4096);
    let (r1, r2) = tokio::join!(a.connect(x), twin.connect(y));
    for r in [r1, r2] {
        let error = r.unwrap_err();
        assert!(matches!(&*error, ConnectionError::SelfConnection(id) if id.as_str() == "a"));
    }
}

#[tokio::test]
async fn a_silent_peer_times_out() {
    let config = common::fast().with_handshake_timeout(Duration::from_millis(100));
    let a: N = node_with("a", Config::default(), config);
    let (_raw, side) = tokio::io::duplex(4096);
    let error = a.connect(side).await.unwrap_err();
    assert!(
        matches!(*error, ConnectionError::HandshakeTimeout(_)),
        "{error}"
    );
}

#[tokio::test]
async fn a_peer_that_closes_during_the_handshake_is_reported() {
    let a = node("a");
    let (raw, side) = tokio::io::duplex(4096);
    drop(raw);
    let error = a.connect(side).await.unwrap_err();
    assert!(
        matches!(
            *error,
            ConnectionError::ClosedDuringHandshake | ConnectionError::Io(_)
        ),
        "{error}"
    );
}

/// A peer that keeps asking (digests) but never reads is dropped once the answers queued for
/// it pass the bound, and what was queued for it is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_dropped_and_its_queue_freed() {
    let config = common::fast().with_max_outgoing(64);
    let a = node_with("a", Config::default(), config);
    for i in 0..100 {
        a.set(format!("k{i}"), "v".repeat(50)).unwrap();
    }
    let (mut raw, side) = tokio::io::duplex(256);
    let conn = a.spawn_connection(side);
    raw.write_all(&hello("sloth", PROTOCOL_VERSION))
        .await
        .unwrap();
    let mut frames = Vec::new();
    let ask: Message<String, String> = Message::DigestDone { reply: false };
    for _ in 0..200 {
        FrameCodec::default().encode(&ask, &mut frames).unwrap();
    }
    // The node may hang up before it has read them all.
    let _ = raw.write_all(&frames).await;

    let error = conn.join().await.unwrap_err();
    assert!(
        matches!(*error, ConnectionError::SlowPeer { queued, limit: 64 } if queued > 64),
        "{error}"
    );
    assert!(!a.with_gossip(|g| g.has_outgoing()), "queue freed");
    assert_eq!(a.snapshot().len(), 100);
}

/// Nodes that speak different wire formats refuse each other at the handshake, at once.
#[tokio::test]
async fn nodes_with_different_wire_formats_refuse_each_other() {
    let cbor = node("cbor");
    let json = node_with(
        "json",
        Config::default(),
        common::fast().with_wire_format(WireFormat::JsonLines),
    );
    let (x, y) = tokio::io::duplex(4096);
    let (r1, r2) = tokio::join!(cbor.connect(x), json.connect(y));
    for r in [r1, r2] {
        let error = r.unwrap_err();
        assert!(matches!(*error, ConnectionError::Handshake(_)), "{error}");
    }
}
