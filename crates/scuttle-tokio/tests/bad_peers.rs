//! A bad peer (garbage, oversize or invalid frames, wrong version, silence, never reading)
//! only loses its own connection: the node, its state and its other connections go on. And a
//! local write too large for any message is refused without harming any connection.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ciborium::Value as Cbor;
use common::{link_duplex, next_event, node, node_with, wait_converged, wait_for, N};
use scuttle_tokio::codec::HelloCodec;
use scuttle_tokio::core::{
    Config, DecodeError, Digest, FrameCodec, Message, NodeId, ProtocolError, SetError,
    PROTOCOL_VERSION,
};
use scuttle_tokio::{ConnectionError, DisconnectReason, Hello, NodeEvent, WireFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::codec::Decoder;

fn hello(id: &str, version: u32) -> Vec<u8> {
    Hello {
        protocol_version: version,
        node_id: NodeId::from(id),
        accepts_zstd: false,
    }
    .to_bytes(WireFormat::Cbor)
    .unwrap()
}

fn frame(msg: &Message<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    FrameCodec::default().encode(msg, &mut out).unwrap();
    out
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

fn error_from(event: &NodeEvent<String, String>, from: &str) -> Option<Arc<ConnectionError>> {
    match event {
        NodeEvent::Error { peer, error, .. } if peer.as_ref().map(NodeId::as_str) == Some(from) => {
            Some(Arc::clone(error))
        }
        _ => None,
    }
}

/// Three good nodes and two bad peers of the middle one: one sends garbage after a valid
/// hello, one sends garbage instead of a hello.
#[tokio::test(start_paused = true)]
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

    let error = next_event(&mut events, |e| error_from(e, "mallory")).await;
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

/// A frame longer than the core's `max_message_bytes` is refused as soon as its length
/// arrives.
#[tokio::test(start_paused = true)]
async fn an_oversize_frame_closes_the_connection() {
    let a = node_with(
        "a",
        Config::default().with_max_message_bytes(1024),
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

/// A well-formed frame whose message breaks the protocol (an update with version 0) is
/// refused by the core: the connection closes with a typed error, the state is untouched.
#[tokio::test(start_paused = true)]
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
    // An Ack with one run from "eve" (no prev) whose update has version delta 0: version 0.
    let ack = Cbor::Array(vec![
        Cbor::from(2),
        Cbor::Array(vec![
            Cbor::from(0),
            Cbor::Array(vec![
                Cbor::from("eve"),
                Cbor::Null,
                Cbor::Array(vec![
                    Cbor::from("kept"),
                    Cbor::from(0),
                    Cbor::from(0),
                    Cbor::from("overwritten"),
                ]),
            ]),
        ]),
    ]);
    let mut body = Vec::new();
    ciborium::into_writer(&ack, &mut body).unwrap();
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    raw.write_all(&bytes).await.unwrap();

    let error = conn.join().await.unwrap_err();
    assert!(
        matches!(
            *error,
            ConnectionError::Protocol(ProtocolError::ZeroVersion)
        ),
        "{error}"
    );
    let peer = next_event(&mut events, |e| match e {
        NodeEvent::PeerDisconnected {
            peer,
            reason: DisconnectReason::Error(_),
            ..
        } => Some(peer.clone()),
        _ => None,
    })
    .await;
    assert_eq!(peer.as_str(), "eve");
    assert_eq!(a.entries(), before);
    assert_eq!(a.version(), version);
}

/// A digest naming more sources than `max_digest_sources` is a protocol violation.
#[tokio::test(start_paused = true)]
async fn a_digest_too_large_closes_the_connection() {
    let a = node_with(
        "a",
        Config::default().with_max_digest_sources(2),
        common::fast(),
    );
    let (mut raw, side) = tokio::io::duplex(4096);
    let conn = a.spawn_connection(side);
    raw.write_all(&hello("wide", PROTOCOL_VERSION))
        .await
        .unwrap();
    let digest = ["x", "y", "z"]
        .into_iter()
        .map(|s| (NodeId::from(s), 1))
        .collect();
    let syn = Message::Syn {
        digest: Digest::Full(digest),
    };
    raw.write_all(&frame(&syn)).await.unwrap();
    let error = conn.join().await.unwrap_err();
    assert!(
        matches!(
            *error,
            ConnectionError::Protocol(ProtocolError::DigestTooLarge { max: 2 })
        ),
        "{error}"
    );
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
        accepts_zstd: false,
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
    let peer = next_event(&mut events, |e| match e {
        NodeEvent::Error { peer, .. } => Some(peer.clone()),
        _ => None,
    })
    .await;
    assert_eq!(peer, None);
    // Closed: nothing but the hello was sent.
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert!(a.peers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_wrong_protocol_version_is_refused_over_cbor() {
    wrong_version(WireFormat::Cbor).await;
}

#[tokio::test(start_paused = true)]
async fn a_wrong_protocol_version_is_refused_over_json_lines() {
    wrong_version(WireFormat::JsonLines).await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_with_our_own_id_is_refused() {
    let (a, twin) = (node("a"), node("a"));
    let (x, y) = tokio::io::duplex(4096);
    let (r1, r2) = tokio::join!(a.connect(x), twin.connect(y));
    for r in [r1, r2] {
        let error = r.unwrap_err();
        assert!(matches!(&*error, ConnectionError::SelfConnection(id) if id.as_str() == "a"));
    }
}

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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

/// A peer that keeps opening exchanges but never reads gets no unbounded queue: once a few
/// answers wait for it, the node stops reading from it. When it reads again, every exchange
/// it opened is answered, in order.
#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_is_held_back_not_buffered() {
    let a = node("a");
    for i in 0..100 {
        a.set(format!("k{i}"), "v".repeat(50)).unwrap();
    }
    let (raw, side) = tokio::io::duplex(256);
    let conn = a.spawn_connection(side);
    let asks: u64 = 200;
    let syn: Message<String, String> = Message::Syn {
        digest: Digest::Full(Vec::new()),
    };
    let mut frames = hello("sloth", PROTOCOL_VERSION);
    for _ in 0..asks {
        frames.extend_from_slice(&frame(&syn));
    }
    let (mut rd, mut wr) = tokio::io::split(raw);
    let writer = tokio::spawn(async move {
        wr.write_all(&frames).await.unwrap();
        wr
    });

    // A long (virtual) while later the node has read only a few of the 200.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let held = conn.stats().messages_received;
    assert!(held < asks, "read {held} of {asks} without writing back");
    assert!(!conn.is_finished(), "the connection is held, not dropped");
    assert!(!writer.is_finished(), "the peer's writes wait");
    // The node itself goes on.
    let b = node("b");
    link_duplex(&a, &b);
    wait_converged(&[a.clone(), b.clone()], 100).await;

    // Now the peer reads: every Syn gets its SynAck.
    let codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    let mut answers = 0;
    let mut hello_read = false;
    let mut hello_codec = HelloCodec::new(WireFormat::Cbor);
    while answers < asks {
        let mut chunk = [0u8; 4096];
        let n = rd.read(&mut chunk).await.unwrap();
        assert!(n > 0, "stream ended after {answers} answers");
        buf.extend_from_slice(&chunk[..n]);
        if !hello_read {
            match hello_codec.decode(&mut buf).unwrap() {
                Some(_) => hello_read = true,
                None => continue,
            }
        }
        while let Some(msg) = codec.decode::<String, String>(&mut buf).unwrap() {
            answers += u64::from(matches!(msg, Message::SynAck { .. }));
        }
    }
    writer.await.unwrap();
    assert!(!conn.is_finished());
}

/// Nodes that speak different wire formats refuse each other at the handshake, at once.
#[tokio::test(start_paused = true)]
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

/// A value too large for any message is refused at `set` with the core's typed error, and
/// nothing breaks: the write after it still reaches the peer over the same connection (in the
/// first protocol such a value made every connection fail, and later writes never arrived).
#[tokio::test(start_paused = true)]
async fn an_oversize_set_is_refused_and_a_later_write_still_arrives() {
    let core = Config::default().with_max_message_bytes(1024);
    let a = node_with("a", core.clone(), common::fast());
    let b = node_with("b", core, common::fast());
    let mut events = a.events();
    let (ca, cb) = link_duplex(&a, &b);
    wait_for("the handshake", || {
        ca.is_established() && cb.is_established()
    })
    .await;

    let version = a.version();
    let err = a.set("big".into(), "x".repeat(4000)).unwrap_err();
    assert!(
        matches!(err, SetError::TooLarge { len, max: 1024 } if len > 1024),
        "{err}"
    );
    assert_eq!(a.version(), version, "a refused write changes nothing");
    assert!(a.get("big").is_none());

    a.set("small".into(), "y".into()).unwrap();
    wait_for("the later write at the peer", || {
        b.value("small").as_deref() == Some("y")
    })
    .await;
    assert!(b.get("big").is_none());
    assert!(
        !ca.is_finished() && !cb.is_finished(),
        "no connection failed"
    );
    while let Ok(Some(event)) = tokio::time::timeout(
        Duration::from_millis(1),
        futures::StreamExt::next(&mut events),
    )
    .await
    {
        assert!(!matches!(event, NodeEvent::Error { .. }), "{event:?}");
    }
}

/// A link on which nothing arrives after the hello (a silent partition, a dead host whose
/// socket stays open) ends once `idle_timeout` passed; without the setting it stays open.
#[tokio::test(start_paused = true)]
async fn a_link_gone_silent_ends_after_the_idle_timeout() {
    let config = common::fast().with_idle_timeout(Some(Duration::from_secs(3)));
    let a: N = node_with("a", Config::default(), config);
    let (mut raw, side) = tokio::io::duplex(64 * 1024);
    raw.write_all(&hello("mute", PROTOCOL_VERSION))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let error = a.connect(side).await.unwrap_err();
    assert!(matches!(*error, ConnectionError::IdleTimeout(_)), "{error}");
    assert!(started.elapsed() >= Duration::from_secs(3));

    // The default keeps a quiet link open (the kernel decides when it is dead).
    let b = node("b");
    let (mut raw, side) = tokio::io::duplex(64 * 1024);
    raw.write_all(&hello("mute", PROTOCOL_VERSION))
        .await
        .unwrap();
    let link = b.spawn_connection(side);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!link.is_finished());
    drop(raw);
}

/// A peer that opens connections without end meets `max_connections`: those beyond it are
/// closed at once and reported; once one closes, a new one is taken again.
#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let a = node_with(
        "a",
        Config::default(),
        common::fast().with_max_connections(2),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut events = a.events();
    let _listening = a.listen(listener);
    let first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let max = next_event(&mut events, |e| match e {
        NodeEvent::ConnectionRefused { max_connections } => Some(*max_connections),
        _ => None,
    })
    .await;
    assert_eq!(max, 2);
    // The refused connection is closed without a byte.
    let mut buf = [0u8; 1];
    assert_eq!(third.read(&mut buf).await.unwrap(), 0);
    // One closes: a new connection is taken (the node sends it its hello).
    drop(first);
    let mut fourth;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(500), fourth.read(&mut byte)).await {
            Ok(Ok(1)) => break,
            _ => assert!(tokio::time::Instant::now() < deadline, "never taken again"),
        }
    }
}
