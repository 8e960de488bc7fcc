//! `scuttle node`: a networked node over TCP (the `scuttle-tokio` adapter) with a line REPL.
//!
//! ```text
//! terminal 1: scuttle node --listen 127.0.0.1:7401 --id a
//! terminal 2: scuttle node --listen 127.0.0.1:7402 --id b --peer 127.0.0.1:7401
//! b> set greeting hello          (terminal 1 prints: greeting = hello  (from b))
//! a> get greeting
//! ```

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use scuttle_core::{
    Config, DynResolver, DynSorter, Event, Gossip, NodeId, ResolverKind, SorterKind,
};
use scuttle_tokio::{DisconnectReason, NodeConfig, NodeEvent, WireFormat};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The state machine of the CLI's node: string keys and values, the resolver and sorter
/// picked by name.
type Core = Gossip<String, String, DynResolver<String, String>, DynSorter<String, String>>;

/// The networked node around [`Core`].
type Node =
    scuttle_tokio::Node<String, String, DynResolver<String, String>, DynSorter<String, String>>;

/// Arguments of `scuttle node`.
#[derive(Clone, Debug, clap::Args)]
pub struct NodeArgs {
    /// Address to listen on for peers (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:7400")]
    pub listen: SocketAddr,
    /// Peers to connect to (repeat the flag or list several); reconnects when a link drops.
    #[arg(long = "peer", num_args = 1..)]
    pub peers: Vec<SocketAddr>,
    /// This node's id (its source id); default: `node-<port>`.
    #[arg(long)]
    pub id: Option<String>,
    /// Milliseconds between periodic gossip rounds on each connection (changes are gossiped
    /// at once as well).
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Which update of a key wins: lww, lww-clock or strict (every node of a cluster must use
    /// the same).
    #[arg(long, default_value_t = ResolverKind::LastWriterWins)]
    pub resolver: ResolverKind,
    /// Which news goes first when a message is full: breadth or depth.
    #[arg(long, default_value_t = SorterKind::Breadth)]
    pub sorter: SorterKind,
    /// Most encoded bytes of one message (the core's `max_message_bytes`); larger writes are
    /// refused.
    #[arg(long, default_value_t = Config::default().max_message_bytes)]
    pub max_message_bytes: usize,
    /// How messages go on the wire: `cbor` (scuttle peers), `json` (the seed's JSON objects
    /// after scuttle's hello line) or `seed-json` (the seed's JavaScript code as it is: no
    /// hello, its dialect, bad lines skipped; values must be JSON strings). See
    /// docs/interop.md.
    #[arg(long, value_enum, default_value_t = Wire::Cbor)]
    pub wire: Wire,
}

/// The `--wire` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    /// Length-prefixed compact CBOR.
    Cbor,
    /// The seed's JSON objects, one per line, after a hello line.
    Json,
    /// The seed's JavaScript peers as they are.
    SeedJson,
}

impl Wire {
    fn format(self) -> WireFormat {
        match self {
            Wire::Cbor => WireFormat::Cbor,
            Wire::Json => WireFormat::JsonLines,
            Wire::SeedJson => WireFormat::SeedJson,
        }
    }
}

/// Why `lww-clock` misleads beside seed peers, or `None`.
fn seed_clock_warning(args: &NodeArgs) -> Option<&'static str> {
    (args.wire == Wire::SeedJson && args.resolver == ResolverKind::LastWriterWinsClock).then_some(
        "warning: seed peers' updates carry no clock (they read as timestamp 0), so under \
         lww-clock a later seed write loses to any scuttle write; use lww with seed peers",
    )
}

/// Runs the node until `quit` (or until the process is interrupted).
pub fn run(args: &NodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args.clone()))
}

/// The state machine the node runs, as the flags say.
fn gossip(id: &str, args: &NodeArgs) -> Result<Core, Box<dyn std::error::Error>> {
    // Seed peers understand only full digests.
    let config = Config::default()
        .with_max_message_bytes(args.max_message_bytes)
        .with_digest_hashes(args.wire != Wire::SeedJson);
    Ok(Gossip::new(
        NodeId::from(id),
        config,
        args.resolver.boxed(),
        args.sorter.boxed(),
    )?)
}

async fn serve(args: NodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("node-{}", local.port()));
    let config = NodeConfig::default()
        .with_gossip_interval(Duration::from_millis(args.interval_ms.max(1)))
        .with_gossip_jitter(Duration::from_millis(args.interval_ms / 4))
        .with_wire_format(args.wire.format());
    if let Some(warning) = seed_clock_warning(&args) {
        say(warning.into());
    }
    let node = Node::new(gossip(&id, &args)?, config);
    let interactive = std::io::stdin().is_terminal();
    say(format!("listening on {local} as {id}"));
    if interactive {
        say("type `help` for commands".into());
    }

    tokio::spawn(print_events(node.clone()));
    node.listen(listener);
    for peer in args.peers.iter().copied() {
        tokio::spawn(dial(node.clone(), peer));
    }

    let prompt = interactive.then(|| format!("{id}> "));
    repl(&node, prompt.as_deref()).await;
    node.shutdown().await;
    Ok(())
}

/// Prints one line to stdout (flushed, so that pipes see it at once).
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Keeps a connection to `addr` open, redialling a second after it fails or ends.
async fn dial(node: Node, addr: SocketAddr) {
    let mut reported = false;
    while !node.is_shut_down() {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                reported = false;
                // Only a latency hint: the connection works without it.
                let _ = stream.set_nodelay(true);
                // Runs until the link ends; events report how.
                let _ = node.connect(stream).await;
            }
            Err(e) if !reported => {
                say(format!("cannot reach {addr} ({e}); retrying every second"));
                reported = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Prints what peers change and who comes and goes.
async fn print_events(node: Node) {
    let mut events = node.events();
    drop(node);
    while let Some(event) = events.next().await {
        if let Some(line) = describe(&event) {
            say(line);
        }
    }
}

/// The line printed for an event, if any (local writes are answered by the REPL itself).
fn describe(event: &NodeEvent<String, String>) -> Option<String> {
    Some(match event {
        NodeEvent::Core {
            event: Event::Update { key, entry, .. },
            from: Some(peer),
        } => match &entry.value {
            Some(value) => format!("{key} = {value}  (from {peer})"),
            None => format!("{key} deleted  (from {peer})"),
        },
        NodeEvent::Core {
            event: Event::Forgotten { key },
            from: Some(peer),
        } => format!("{key} forgotten (its tombstone was collected)  (from {peer})"),
        NodeEvent::PeerConnected { peer, .. } => format!("peer {peer} connected"),
        NodeEvent::PeerDisconnected { peer, reason, .. } => {
            let why = match reason {
                DisconnectReason::PeerClosed => "closed by peer".to_string(),
                DisconnectReason::Closed => "closed".to_string(),
                DisconnectReason::Error(e) => e.to_string(),
                other => format!("{other:?}"),
            };
            format!("peer {peer} disconnected: {why}")
        }
        NodeEvent::Error {
            peer: None, error, ..
        } => format!("connection failed: {error}"),
        NodeEvent::PolicyFailed { peer, error, .. } => {
            format!("refused a message from {peer}: {error}")
        }
        NodeEvent::LineSkipped { peer, error, .. } => {
            format!("skipped a line from {peer}: {error}")
        }
        NodeEvent::Lagged { missed } => format!("({missed} events not shown)"),
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
async fn repl(node: &Node, prompt: Option<&str>) {
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
        match execute(node, &line) {
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

fn execute(node: &Node, line: &str) -> Reply {
    let line = line.trim();
    let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim_start();
    let text = match command {
        "" => String::new(),
        "set" => match rest.split_once(char::is_whitespace) {
            Some((key, value)) => match node.set(key.to_string(), value.trim_start().to_string()) {
                Ok(version) => format!("ok (version {version})"),
                Err(e) => format!("refused: {e}"),
            },
            None => "usage: set KEY VALUE".into(),
        },
        "get" if !rest.is_empty() => match node.get(rest) {
            Some(entry) => match entry.value {
                Some(value) => value,
                None => format!("(deleted by {})", entry.source_id),
            },
            None => "(not set)".into(),
        },
        "del" | "delete" if !rest.is_empty() => match node.delete(rest.to_string()) {
            Ok(version) => format!("deleted (version {version})"),
            Err(e) => format!("refused: {e}"),
        },
        "get" | "del" | "delete" => format!("usage: {command} KEY"),
        "state" => {
            let mut entries: Vec<_> = node
                .entries()
                .into_iter()
                .filter_map(|(k, e)| e.value.map(|v| (k, v, e.version, e.source_id)))
                .collect();
            entries.sort();
            let mut out = format!("{} keys, version {}", entries.len(), node.version());
            for (k, v, version, source) in entries {
                out.push_str(&format!("\n  {k} = {v}  (v{version} by {source})"));
            }
            out
        }
        "peers" => {
            let mut peers = node.peers();
            peers.sort();
            if peers.is_empty() {
                "no peers connected".into()
            } else {
                let list: Vec<String> = peers.iter().map(ToString::to_string).collect();
                format!("{} connected: {}", peers.len(), list.join(", "))
            }
        }
        "help" | "?" => HELP.into(),
        "quit" | "exit" => return Reply::Quit,
        other => format!("unknown command `{other}` (try `help`)"),
    };
    Reply::Text(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Node {
        let args = NodeArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: Vec::new(),
            id: None,
            interval_ms: 1000,
            resolver: ResolverKind::LastWriterWins,
            sorter: SorterKind::Breadth,
            max_message_bytes: 1024,
            wire: Wire::Cbor,
        };
        Node::new(gossip("me", &args).unwrap(), NodeConfig::default())
    }

    fn text(node: &Node, line: &str) -> String {
        match execute(node, line) {
            Reply::Text(t) => t,
            Reply::Quit => panic!("unexpected quit for {line:?}"),
        }
    }

    #[test]
    fn repl_commands() {
        let n = node();
        assert_eq!(text(&n, "get greeting"), "(not set)");
        assert_eq!(text(&n, "set greeting hello  world"), "ok (version 1)");
        assert_eq!(text(&n, "get greeting"), "hello  world");
        assert_eq!(text(&n, "set b 2"), "ok (version 2)");
        assert_eq!(
            text(&n, "state"),
            "2 keys, version 2\n  b = 2  (v2 by me)\n  greeting = hello  world  (v1 by me)"
        );
        assert_eq!(text(&n, "del b"), "deleted (version 3)");
        assert_eq!(text(&n, "get b"), "(deleted by me)");
        assert!(text(&n, "state").starts_with("1 keys, version 3"));
        assert_eq!(text(&n, "peers"), "no peers connected");
        assert_eq!(text(&n, "set onlykey"), "usage: set KEY VALUE");
        assert_eq!(text(&n, "get"), "usage: get KEY");
        assert!(text(&n, "frobnicate").contains("unknown command"));
        assert!(text(&n, "help").contains("set KEY VALUE"));
        assert_eq!(text(&n, "   "), "");
        assert_eq!(execute(&n, "quit"), Reply::Quit);
    }

    #[test]
    fn a_write_too_large_for_one_message_is_refused_by_the_core() {
        let n = node(); // max_message_bytes 1024
        let line = format!("set big {}", "x".repeat(2000));
        let reply = text(&n, &line);
        assert!(reply.starts_with("refused: "), "{reply}");
        assert_eq!(text(&n, "get big"), "(not set)");
        assert_eq!(n.version(), 0);
    }

    #[test]
    fn seed_json_turns_digest_hashes_off_and_warns_about_lww_clock() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            node: NodeArgs,
        }
        let args = Cli::parse_from(["node", "--wire", "seed-json"]).node;
        assert_eq!(args.wire, Wire::SeedJson);
        assert_eq!(args.wire.format(), WireFormat::SeedJson);
        assert!(!gossip("me", &args).unwrap().config().digest_hashes);
        assert_eq!(seed_clock_warning(&args), None);
        let clock =
            Cli::parse_from(["node", "--wire", "seed-json", "--resolver", "lww-clock"]).node;
        assert!(seed_clock_warning(&clock).is_some_and(|w| w.contains("no clock")));
        let plain = Cli::parse_from(["node", "--resolver", "lww-clock"]).node;
        assert_eq!(plain.wire, Wire::Cbor);
        assert!(gossip("me", &plain).unwrap().config().digest_hashes);
        assert_eq!(seed_clock_warning(&plain), None);
    }

    #[test]
    fn policies_come_from_the_flags() {
        let mut args = NodeArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: Vec::new(),
            id: None,
            interval_ms: 1000,
            resolver: "strict".parse().unwrap(),
            sorter: "depth".parse().unwrap(),
            max_message_bytes: 1 << 20,
            wire: Wire::Cbor,
        };
        let n = Node::new(gossip("me", &args).unwrap(), NodeConfig::default());
        // strictly ordered values: a local write may only raise the value.
        assert_eq!(text(&n, "set k b"), "ok (version 1)");
        assert!(text(&n, "set k a").starts_with("refused: "));
        assert_eq!(text(&n, "get k"), "b");
        args.max_message_bytes = 8;
        assert!(gossip("me", &args).is_err(), "the core refuses the config");
    }

    #[test]
    fn events_are_described_with_their_peer() {
        let entry = |value: Option<&str>| scuttle_core::Entry {
            value: value.map(str::to_string),
            version: 7,
            source_id: NodeId::from("b"),
            timestamp: 0,
        };
        let update = |value, from: Option<&str>| NodeEvent::Core {
            event: Event::Update {
                key: "greeting".to_string(),
                entry: entry(value),
                local: from.is_none(),
            },
            from: from.map(NodeId::from),
        };
        assert_eq!(
            describe(&update(Some("hello"), Some("b"))).as_deref(),
            Some("greeting = hello  (from b)")
        );
        assert_eq!(
            describe(&update(None, Some("b"))).as_deref(),
            Some("greeting deleted  (from b)")
        );
        // Local writes are answered by the REPL, not echoed.
        assert_eq!(describe(&update(Some("hello"), None)), None);
        assert_eq!(
            describe(&NodeEvent::Lagged { missed: 3 }).as_deref(),
            Some("(3 events not shown)")
        );
    }
}
