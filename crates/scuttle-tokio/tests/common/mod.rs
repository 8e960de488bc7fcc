//! Helpers shared by the integration tests: nodes with fast ticks, links over duplex pipes and
//! loopback TCP, waits with an overall bound (never a timing assertion).
//!
//! Tests over `tokio::io::duplex` run under `#[tokio::test(start_paused = true)]`: time only
//! moves when every task waits, so ticks, timeouts and [`PATIENCE`] are virtual and the run
//! is the same every time. Tests over real sockets or processes run in real time.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod seed_js;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use scuttle_tokio::core::{Config, Gossip, LastWriterWins, ScuttleBreadth};
use scuttle_tokio::{ConnectionHandle, EventStream, Node, NodeConfig, NodeEvent};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Overall bound of every wait (virtual under paused time): generous, so that a loaded
/// machine only makes the real-time tests slower.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub type N = Node<String, String>;

pub fn fast() -> NodeConfig {
    NodeConfig::default()
        .with_gossip_interval(Duration::from_millis(40))
        .with_gossip_jitter(Duration::from_millis(20))
}

pub fn node(id: &str) -> N {
    Node::new(Gossip::with_defaults(id), fast())
}

pub fn node_with(id: &str, core: Config, config: NodeConfig) -> N {
    let gossip = Gossip::new(id, core, LastWriterWins, ScuttleBreadth).expect("valid config");
    Node::new(gossip, config)
}

pub fn link_duplex(a: &N, b: &N) -> (ConnectionHandle, ConnectionHandle) {
    let (x, y) = tokio::io::duplex(16 * 1024);
    (a.spawn_connection(x), b.spawn_connection(y))
}

pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.unwrap();
    let server = server.unwrap().0;
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

pub async fn link_tcp(a: &N, b: &N) -> (ConnectionHandle, ConnectionHandle) {
    let (x, y) = tcp_pair().await;
    (a.spawn_connection(x), b.spawn_connection(y))
}

/// Polls `cond` until it holds; panics with `what` after [`PATIENCE`].
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether every node holds the same entries (tombstones included) and `expected` live keys.
pub fn converged(nodes: &[N], expected: usize) -> bool {
    let first = nodes[0].entries();
    nodes[0].snapshot().len() == expected && nodes.iter().all(|n| n.entries() == first)
}

pub async fn wait_converged(nodes: &[N], expected: usize) {
    wait_for(&format!("{} nodes to converge", nodes.len()), || {
        converged(nodes, expected)
    })
    .await;
}

/// The next event matching `pred`, within [`PATIENCE`].
pub async fn next_event<T>(
    events: &mut EventStream<String, String>,
    mut pred: impl FnMut(&NodeEvent<String, String>) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.next().await.expect("event stream ended");
            if let Some(found) = pred(&event) {
                return found;
            }
        }
    })
    .await
    .expect("expected event did not come")
}

/// A stream that lets `budget` bytes be written, then fails every write: a connection cut in
/// the middle of whatever it was sending (possibly inside a frame).
pub struct CutAfter<T> {
    inner: T,
    budget: usize,
}

impl<T> CutAfter<T> {
    pub fn new(inner: T, budget: usize) -> Self {
        CutAfter { inner, budget }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CutAfter<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CutAfter<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.budget == 0 {
            return Poll::Ready(Err(io::Error::other("cut")));
        }
        let n = buf.len().min(self.budget);
        let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..n]))?;
        self.budget -= written;
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
