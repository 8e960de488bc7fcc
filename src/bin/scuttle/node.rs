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

use scuttle_core::{Config, Event, Gossip, NodeId};
use scuttle_tokio::{DisconnectReason, NodeConfig, NodeEvent};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::RecvError;

type Node = scuttle_tokio::Node<String, String>;

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
}

/// Runs the node until `quit` (or until the process is interrupted).
pub fn run(args: &NodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args.clone()))
}

async fn serve(args: NodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("node-{}", local.port()));
    let gossip = Gossip::new(
        NodeId::new(id.clone()),
        Config::default(),
        scuttle_core::LastWriterWins,
        scuttle_core::ScuttleBreadth,
    )?;
    let config = NodeConfig::default()
        .with_gossip_interval(Duration::from_millis(args.interval_ms.max(1)))
        .with_gossip_jitter(Duration::from_millis(args.interval_ms / 4));
    let node = Node::new(gossip, config);
    let interactive = std::io::stdin().is_terminal();
    say(format!("listening on {local} as {id}"));
    if interactive {
        say("type `help` for commands".into());
    }

    tokio::spawn(print_events(node.clone()));
    let acceptor = node.clone();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    acceptor.spawn_connection(stream);
                }
                Err(e) => {
                    say(format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
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
    let mut events = node.subscribe();
    drop(node);
    loop {
        match events.recv().await {
            Ok(NodeEvent::Core(Event::Update {
                key,
                entry,
                from: Some(peer),
            })) => match entry.value {
                Some(value) => say(format!("{key} = {value}  (from {peer})")),
                None => say(format!("{key} deleted  (from {peer})")),
            },
            Ok(NodeEvent::PeerConnected { peer, .. }) => say(format!("peer {peer} connected")),
            Ok(NodeEvent::PeerDisconnected { peer, reason, .. }) => {
                let why = match reason {
                    DisconnectReason::PeerClosed => "closed by peer".to_string(),
                    DisconnectReason::Closed => "closed".to_string(),
                    DisconnectReason::Error(e) => e.to_string(),
                    other => format!("{other:?}"),
                };
                say(format!("peer {peer} disconnected: {why}"));
            }
            Ok(NodeEvent::Error {
                peer: None, error, ..
            }) => say(format!("connection failed: {error}")),
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => say(format!("({n} events not shown)")),
            Err(RecvError::Closed) => return,
        }
    }
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
        Node::new(Gossip::with_defaults("me"), NodeConfig::default())
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
}
