//! `scuttle node`: a networked node — libp2p by default, plain TCP with `--transport tcp` —
//! with a line REPL on stdin, an optional HTTP API and metrics. The runtime is the
//! `scuttle-node` crate; this module turns flags (over a TOML config file) into its options
//! and runs the REPL.
//!
//! ```text
//! terminal 1: scuttle node --listen 127.0.0.1:7401 --data-dir a --api 127.0.0.1:7481
//! terminal 2: scuttle node --listen 127.0.0.1:7402 --data-dir b --bootstrap 127.0.0.1:7401
//! b> set greeting hello          (terminal 1 prints: greeting = hello  (from <b's peer id>))
//! a> get greeting
//! ```

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use scuttle_core::{ResolverKind, SorterKind};
use scuttle_node::{NodeHandle, NodeOptions, Notice, Transport};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::broadcast;

/// Arguments of `scuttle node`. Each flag given overrides the config file's key of the same
/// name (with `_` for `-`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NodeArgs {
    /// TOML config file; flags override its keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// `libp2p` (TCP + QUIC, noise, yamux, membership; the default) or `tcp` (the plain TCP
    /// adapter, `--peer` links only).
    #[arg(long)]
    pub transport: Option<Transport>,
    /// Address to listen on (repeatable). libp2p: a multiaddr, or HOST:PORT for TCP and QUIC
    /// on it; tcp: HOST:PORT. Port 0 picks a free port. Default: 127.0.0.1:7400.
    #[arg(long)]
    pub listen: Vec<String>,
    /// libp2p: a peer to join the cluster through (repeatable; multiaddr or HOST:PORT).
    #[arg(long)]
    pub bootstrap: Vec<String>,
    /// tcp: peers to connect to (repeat the flag or list several); reconnects when a link drops.
    #[arg(long = "peer", num_args = 1..)]
    pub peers: Vec<String>,
    /// tcp: this node's id (its source id); default: `node-<port>`. libp2p nodes are named by
    /// their identity key.
    #[arg(long)]
    pub id: Option<String>,
    /// libp2p: find peers on the local network with mDNS.
    #[arg(long)]
    pub mdns: bool,
    /// Directory for the node's identity key (libp2p) and data; created if missing. Without
    /// it a libp2p node has a new identity at every start.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The cluster's name; peers of another cluster are refused. Default: `default`.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Which update of a key wins: lww, lww-clock or strict (every node of a cluster must use
    /// the same).
    #[arg(long)]
    pub resolver: Option<ResolverKind>,
    /// Which news goes first when a message is full: breadth or depth.
    #[arg(long)]
    pub sorter: Option<SorterKind>,
    /// Most updates per message.
    #[arg(long)]
    pub mtu: Option<usize>,
    /// Most encoded bytes of one message; larger writes are refused.
    #[arg(long)]
    pub max_message_bytes: Option<usize>,
    /// Milliseconds between gossip rounds (and membership probes). Default: 1000.
    #[arg(long, visible_alias = "interval")]
    pub interval_ms: Option<u64>,
    /// libp2p: peers per gossip round. Default: 3.
    #[arg(long)]
    pub fanout: Option<usize>,
    /// zstd-compress large frames with peers that agree.
    #[arg(long)]
    pub compression: bool,
    /// Most connections open at once (more are refused). Default: 256.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// libp2p: seconds a member that went down still counts for tombstone collection; a node
    /// away longer rejoins (forgets values deleted meanwhile). Default: 600.
    #[arg(long)]
    pub member_grace_secs: Option<u64>,
    /// Serve the HTTP/JSON API and /metrics on this address (e.g. 127.0.0.1:7480).
    #[arg(long)]
    pub api: Option<SocketAddr>,
    /// Log filter: error, warn, info, debug, trace, or a RUST_LOG-style filter (logs go to
    /// stderr; RUST_LOG is read when this is not given). Default: info.
    #[arg(long)]
    pub log_level: Option<String>,
    /// tcp: how messages go on the wire: `cbor` (scuttle peers), `json` (the seed's JSON
    /// objects after scuttle's hello line) or `seed-json` (the seed's JavaScript code as it
    /// is: no hello, its dialect, bad lines skipped). See docs/interop.md. Default: cbor.
    #[arg(long, value_parser = ["cbor", "json", "seed-json"])]
    pub wire: Option<String>,
}

impl NodeArgs {
    /// The node's options: the config file's, then every flag given.
    pub fn options(&self) -> Result<NodeOptions, Box<dyn std::error::Error>> {
        let mut o = match &self.config {
            Some(path) => NodeOptions::from_file(path)?,
            None => NodeOptions::default(),
        };
        if let Some(t) = self.transport {
            o.transport = t;
        }
        if !self.listen.is_empty() {
            o.listen = self.listen.clone();
        }
        if !self.bootstrap.is_empty() {
            o.bootstrap = self.bootstrap.clone();
        }
        if !self.peers.is_empty() {
            o.peers = self.peers.clone();
        }
        if self.id.is_some() {
            o.id = self.id.clone();
        }
        o.mdns |= self.mdns;
        o.compression |= self.compression;
        if self.data_dir.is_some() {
            o.data_dir = self.data_dir.clone();
        }
        if let Some(c) = &self.cluster {
            o.cluster = c.clone();
        }
        if let Some(r) = self.resolver {
            o.resolver = r.to_string();
        }
        if let Some(s) = self.sorter {
            o.sorter = s.to_string();
        }
        if let Some(m) = self.mtu {
            o.mtu = m;
        }
        if let Some(m) = self.max_message_bytes {
            o.max_message_bytes = m;
        }
        if let Some(i) = self.interval_ms {
            o.interval_ms = i;
        }
        if let Some(f) = self.fanout {
            o.fanout = f;
        }
        if let Some(m) = self.max_connections {
            o.max_connections = m;
        }
        if let Some(g) = self.member_grace_secs {
            o.member_grace_secs = g;
        }
        if self.api.is_some() {
            o.api = self.api;
        }
        if self.log_level.is_some() {
            o.log_level = self.log_level.clone();
        }
        if let Some(w) = &self.wire {
            o.wire = w.clone();
        }
        check_transport_flags(&o)?;
        // Checked here so that a bad name fails before anything starts.
        o.resolver_kind()?;
        o.sorter_kind()?;
        Ok(o)
    }
}

/// Flags of one transport given to the other are a mistake worth saying.
fn check_transport_flags(o: &NodeOptions) -> Result<(), String> {
    match o.transport {
        Transport::Libp2p if !o.peers.is_empty() => {
            Err("--peer is for --transport tcp; a libp2p node joins with --bootstrap".into())
        }
        Transport::Libp2p if o.id.is_some() => Err(
            "--id is for --transport tcp; a libp2p node's id is its identity key (in --data-dir)"
                .into(),
        ),
        Transport::Tcp if !o.bootstrap.is_empty() || o.mdns => {
            Err("--bootstrap and --mdns need the libp2p transport; tcp uses --peer".into())
        }
        Transport::Libp2p if o.wire != "cbor" => Err(
            "--wire json and seed-json are for --transport tcp (seed peers speak plain TCP)".into(),
        ),
        _ => Ok(()),
    }
}

/// Installs the log subscriber: `--log-level`, else `RUST_LOG`, else `info`; to stderr.
pub fn init_logs(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Runs the node until `quit` (or until the process is interrupted).
pub fn run(args: &NodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let options = args.options()?;
    init_logs(options.log_level.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(options))
}

async fn serve(options: NodeOptions) -> Result<(), Box<dyn std::error::Error>> {
    let node = scuttle_node::start(options).await?;
    let interactive = std::io::stdin().is_terminal();
    say(format!(
        "listening on {} as {}",
        node.listen_addrs().join(", "),
        node.id()
    ));
    if let Some(api) = node.api_addr() {
        say(format!("API on http://{api}"));
    }
    if interactive {
        say("type `help` for commands".into());
    }
    tokio::spawn(print_notices(node.notices()));
    let prompt = interactive.then(|| format!("{}> ", short(node.id())));
    repl(&node.handle(), prompt.as_deref()).await;
    node.shutdown().await;
    Ok(())
}

/// A long peer id's last 8 characters, for the prompt.
fn short(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}

/// Prints one line to stdout (flushed, so that pipes see it at once).
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn print_notices(mut notices: broadcast::Receiver<Notice>) {
    loop {
        match notices.recv().await {
            Ok(notice) => {
                if let Some(line) = describe(&notice) {
                    say(line);
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => say(format!("({n} events not shown)")),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The line printed for a notice, if any.
fn describe(notice: &Notice) -> Option<String> {
    Some(match notice {
        Notice::Update {
            key,
            value: Some(value),
            from,
        } => format!("{key} = {value}  (from {from})"),
        Notice::Update {
            key,
            value: None,
            from,
        } => format!("{key} deleted  (from {from})"),
        Notice::Forgotten { key, from } => {
            format!("{key} forgotten (its tombstone was collected)  (from {from})")
        }
        Notice::PeerConnected(peer) => format!("peer {peer} connected"),
        Notice::PeerDisconnected { peer, reason } => format!("peer {peer} disconnected: {reason}"),
        Notice::ConnectionFailed(error) => format!("connection failed: {error}"),
        Notice::Refused { peer, error } => format!("refused a message from {peer}: {error}"),
        Notice::Lagged(n) => format!("({n} events not shown)"),
        _ => return None,
    })
}

const HELP: &str = "commands:
  set KEY VALUE   write KEY (VALUE is the rest of the line)
  get KEY         read KEY
  del KEY         delete KEY
  state           every live key, sorted, with its version and writer
  peers           connected peers
  help            this text
  quit            stop the node";

/// Reads commands from stdin until `quit`. At the end of stdin the node keeps serving.
async fn repl(node: &NodeHandle, prompt: Option<&str>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        if let Some(p) = prompt {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{p}");
            let _ = out.flush();
        }
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) | Err(_) => {
                // No more commands: serve peers until the process is stopped.
                std::future::pending::<()>().await;
                return;
            }
        };
        match execute(node, &line).await {
            Reply::Quit => return,
            Reply::Text(text) if !text.is_empty() => say(text),
            Reply::Text(_) => {}
        }
    }
}

/// The answer to one REPL line.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Text(String),
    Quit,
}

/// `state`'s text: live keys, sorted, each with version and writer.
pub fn state_text(version: u64, entries: &[scuttle_node::EntryView]) -> String {
    let live: Vec<_> = entries.iter().filter(|e| e.value.is_some()).collect();
    let mut out = format!("{} keys, version {version}", live.len());
    for e in live {
        let value = e.value.as_deref().unwrap_or_default();
        out.push_str(&format!(
            "\n  {} = {value}  (v{} by {})",
            e.key, e.version, e.source_id
        ));
    }
    out
}

async fn execute(node: &NodeHandle, line: &str) -> Reply {
    let line = line.trim();
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim_start();
    let text = match command {
        "" => String::new(),
        "set" => match rest.split_once(char::is_whitespace) {
            Some((key, value)) => {
                match node
                    .set(key.to_string(), value.trim_start().to_string())
                    .await
                {
                    Ok(version) => format!("ok (version {version})"),
                    Err(e) => e.to_string(),
                }
            }
            None => "usage: set KEY VALUE".into(),
        },
        "get" if !rest.is_empty() => match node.get(rest.to_string()).await {
            Ok(Some(entry)) => match entry.value {
                Some(value) => value,
                None => format!("(deleted by {})", entry.source_id),
            },
            Ok(None) => "(not set)".into(),
            Err(e) => e.to_string(),
        },
        "del" | "delete" if !rest.is_empty() => match node.delete(rest.to_string()).await {
            Ok(version) => format!("deleted (version {version})"),
            Err(e) => e.to_string(),
        },
        "get" | "del" | "delete" => format!("usage: {command} KEY"),
        "state" => match (node.status().await, node.state().await) {
            (Ok(status), Ok(entries)) => state_text(status.version, &entries),
            (Err(e), _) | (_, Err(e)) => e.to_string(),
        },
        "peers" => match node.peers().await {
            Ok(peers) if peers.is_empty() => "no peers connected".into(),
            Ok(peers) => format!("{} connected: {}", peers.len(), peers.join(", ")),
            Err(e) => e.to_string(),
        },
        "help" | "?" => HELP.into(),
        "quit" | "exit" => return Reply::Quit,
        other => format!("unknown command `{other}` (try `help`)"),
    };
    Reply::Text(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_options(args: NodeArgs) -> NodeOptions {
        NodeArgs {
            transport: Some(Transport::Tcp),
            listen: vec!["127.0.0.1:0".into()],
            ..args
        }
        .options()
        .unwrap()
    }

    async fn text(node: &NodeHandle, line: &str) -> String {
        match execute(node, line).await {
            Reply::Text(t) => t,
            Reply::Quit => panic!("unexpected quit for {line:?}"),
        }
    }

    /// The version in a reply such as `ok (version 123)`.
    fn version_in(reply: &str) -> u64 {
        let (_, rest) = reply.split_once("(version ").expect(reply);
        rest.trim_end_matches(')').parse().expect(reply)
    }

    #[tokio::test]
    async fn repl_commands() {
        let dir = tempfile::tempdir().unwrap();
        let options = tcp_options(NodeArgs {
            id: Some("me".into()),
            data_dir: Some(dir.path().to_path_buf()),
            ..NodeArgs::default()
        });
        let running = scuttle_node::start(options).await.unwrap();
        let n = running.handle();
        assert_eq!(text(&n, "get greeting").await, "(not set)");
        let reply = text(&n, "set greeting hello  world").await;
        assert!(reply.starts_with("ok (version "), "{reply}");
        let v1 = version_in(&reply);
        assert_eq!(text(&n, "get greeting").await, "hello  world");
        let v2 = version_in(&text(&n, "set b 2").await);
        assert!(v2 > v1);
        assert_eq!(
            text(&n, "state").await,
            format!(
                "2 keys, version {v2}\n  b = 2  (v{v2} by me)\n  greeting = hello  world  (v{v1} by me)"
            )
        );
        let reply = text(&n, "del b").await;
        assert!(reply.starts_with("deleted (version "), "{reply}");
        let v3 = version_in(&reply);
        assert!(v3 > v2);
        assert_eq!(text(&n, "get b").await, "(deleted by me)");
        assert!(text(&n, "state")
            .await
            .starts_with(&format!("1 keys, version {v3}")));
        assert_eq!(text(&n, "peers").await, "no peers connected");
        assert_eq!(text(&n, "set onlykey").await, "usage: set KEY VALUE");
        assert_eq!(text(&n, "get").await, "usage: get KEY");
        assert!(text(&n, "frobnicate").await.contains("unknown command"));
        assert!(text(&n, "help").await.contains("set KEY VALUE"));
        assert_eq!(text(&n, "   ").await, "");
        assert_eq!(execute(&n, "quit").await, Reply::Quit);
        running.shutdown().await;
    }

    #[tokio::test]
    async fn without_a_data_dir_a_tcp_node_catches_up_first() {
        let options = tcp_options(NodeArgs {
            id: Some("me".into()),
            ..NodeArgs::default()
        });
        let running = scuttle_node::start(options).await.unwrap();
        let reply = text(&running.handle(), "set k v").await;
        assert!(reply.contains("catching up"), "{reply}");
        running.shutdown().await;
    }

    #[tokio::test]
    async fn policies_and_limits_come_from_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let options = tcp_options(NodeArgs {
            data_dir: Some(dir.path().to_path_buf()),
            resolver: Some("strict".parse().unwrap()),
            sorter: Some("depth".parse().unwrap()),
            max_message_bytes: Some(1024),
            ..NodeArgs::default()
        });
        let running = scuttle_node::start(options).await.unwrap();
        let n = running.handle();
        // strictly ordered values: a local write may only raise the value.
        assert!(text(&n, "set k b").await.starts_with("ok (version "));
        assert!(text(&n, "set k a").await.starts_with("refused: "));
        assert_eq!(text(&n, "get k").await, "b");
        // A write too large for one message is refused by the core.
        let reply = text(&n, &format!("set big {}", "x".repeat(2000))).await;
        assert!(reply.starts_with("refused: "), "{reply}");
        assert_eq!(text(&n, "get big").await, "(not set)");
        running.shutdown().await;
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = std::env::temp_dir().join(format!("scuttle-cli-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "cluster = \"blue\"\nfanout = 5\ninterval_ms = 200\nbootstrap = [\"10.0.0.1:7400\"]\n",
        )
        .unwrap();
        let o = NodeArgs {
            config: Some(file.clone()),
            fanout: Some(2),
            ..NodeArgs::default()
        }
        .options()
        .unwrap();
        assert_eq!(
            (o.cluster.as_str(), o.fanout, o.interval_ms),
            ("blue", 2, 200)
        );
        assert_eq!(o.bootstrap, ["10.0.0.1:7400"]);
        // A flag of the other transport is refused with a reason.
        let e = NodeArgs {
            config: Some(file),
            transport: Some(Transport::Tcp),
            ..NodeArgs::default()
        }
        .options()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--bootstrap"), "{e}");
        let e = NodeArgs {
            peers: vec!["127.0.0.1:1".into()],
            ..NodeArgs::default()
        }
        .options()
        .unwrap_err()
        .to_string();
        assert!(e.contains("--transport tcp"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn notices_are_described_with_their_peer() {
        let update = |value: Option<&str>| Notice::Update {
            key: "greeting".into(),
            value: value.map(str::to_string),
            from: "b".into(),
        };
        assert_eq!(
            describe(&update(Some("hello"))).as_deref(),
            Some("greeting = hello  (from b)")
        );
        assert_eq!(
            describe(&update(None)).as_deref(),
            Some("greeting deleted  (from b)")
        );
        assert_eq!(
            describe(&Notice::PeerConnected("b".into())).as_deref(),
            Some("peer b connected")
        );
        assert_eq!(
            describe(&Notice::Lagged(3)).as_deref(),
            Some("(3 events not shown)")
        );
    }
}
