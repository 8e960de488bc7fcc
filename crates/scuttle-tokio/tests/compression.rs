//! Negotiated zstd frame compression: used only when both hellos ask for it.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use common::{fast, node_with, wait_converged, N};
use scuttle_tokio::codec::HelloCodec;
use scuttle_tokio::core::codec::LENGTH_PREFIX;
use scuttle_tokio::core::Config;
use scuttle_tokio::{ConnectionHandle, Hello, WireFormat};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Decoder;

const KEYS: usize = 40;

fn node(id: &str, compression: bool) -> N {
    node_with(id, Config::default(), fast().with_compression(compression))
}

/// Copies `from` to `to`, keeping a copy of every byte.
fn forward<R, W>(mut from: R, mut to: W) -> Arc<Mutex<Vec<u8>>>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            log.lock().unwrap().extend_from_slice(&buf[..n]);
            if to.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    seen
}

/// The handles of a link and the bytes each side wrote.
type Tapped = (
    ConnectionHandle,
    ConnectionHandle,
    Arc<Mutex<Vec<u8>>>,
    Arc<Mutex<Vec<u8>>>,
);

/// Links `a` and `b` through a tap that records both directions.
fn link_tapped(a: &N, b: &N) -> Tapped {
    let (a_io, a_tap) = tokio::io::duplex(16 * 1024);
    let (b_io, b_tap) = tokio::io::duplex(16 * 1024);
    let (a_tap_rd, a_tap_wr) = tokio::io::split(a_tap);
    let (b_tap_rd, b_tap_wr) = tokio::io::split(b_tap);
    let from_a = forward(a_tap_rd, b_tap_wr);
    let from_b = forward(b_tap_rd, a_tap_wr);
    (
        a.spawn_connection(a_io),
        b.spawn_connection(b_io),
        from_a,
        from_b,
    )
}

/// The hello and, for every frame after it, whether its prefix marks it compressed.
fn frames(stream: &[u8]) -> (Hello, Vec<bool>) {
    let mut buf = BytesMut::from(stream);
    let hello = HelloCodec::new(WireFormat::Cbor)
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    let mut marks = Vec::new();
    let mut rest = &buf[..];
    while rest.len() >= LENGTH_PREFIX {
        let prefix = u32::from_be_bytes(rest[..LENGTH_PREFIX].try_into().unwrap());
        let len = (prefix & !(1 << 31)) as usize;
        marks.push(prefix & (1 << 31) != 0);
        rest = &rest[(LENGTH_PREFIX + len).min(rest.len())..];
    }
    (hello, marks)
}

/// Writes large, compressible values on both nodes, links them and waits until they agree.
/// Returns the bytes each connection wrote and what each side put on the wire.
async fn run(a_on: bool, b_on: bool) -> ([u64; 2], [Vec<u8>; 2]) {
    let a = node("a", a_on);
    let b = node("b", b_on);
    for i in 0..KEYS {
        a.set(format!("a-{i}"), format!("value {i} from a ").repeat(40))
            .unwrap();
        b.set(format!("b-{i}"), format!("value {i} from b ").repeat(40))
            .unwrap();
    }
    let (ha, hb, from_a, from_b) = link_tapped(&a, &b);
    let nodes = [a, b];
    wait_converged(&nodes, 2 * KEYS).await;
    let bytes = [ha.stats().bytes_sent, hb.stats().bytes_sent];
    for node in &nodes {
        node.shutdown().await;
    }
    let wire = [
        from_a.lock().unwrap().clone(),
        from_b.lock().unwrap().clone(),
    ];
    (bytes, wire)
}

#[tokio::test(start_paused = true)]
async fn both_on_compress_and_send_fewer_bytes() {
    let (plain, plain_wire) = run(false, false).await;
    let (packed, packed_wire) = run(true, true).await;
    let (plain_total, packed_total) = (plain[0] + plain[1], packed[0] + packed[1]);
    println!("bytes to converge: {plain_total} plain, {packed_total} with zstd");
    assert!(
        packed_total < plain_total,
        "{packed_total} >= {plain_total}"
    );
    for (side, wire) in packed_wire.iter().enumerate() {
        let (hello, marks) = frames(wire);
        assert!(hello.accepts_zstd);
        assert!(
            marks.iter().any(|&c| c),
            "side {side} sent no compressed frame"
        );
    }
    for wire in &plain_wire {
        let (hello, marks) = frames(wire);
        assert!(!hello.accepts_zstd);
        assert!(marks.iter().all(|&c| !c));
    }
}

#[tokio::test(start_paused = true)]
async fn on_and_off_converge_without_compressed_frames() {
    for (a_on, b_on) in [(true, false), (false, true)] {
        let (_, wire) = run(a_on, b_on).await;
        for (wire, on) in wire.iter().zip([a_on, b_on]) {
            let (hello, marks) = frames(wire);
            assert_eq!(hello.accepts_zstd, on);
            assert!(!marks.is_empty());
            assert!(marks.iter().all(|&c| !c), "a compressed frame was sent");
        }
    }
}
