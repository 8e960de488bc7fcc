//! End-to-end tests of the `scuttle` binary.

use std::process::Command;

fn scuttle(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scuttle"))
        .args(args)
        .output()
        .expect("run scuttle");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number printed after `label` on its summary line.
fn field(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"));
    let rest = line.trim_start()[label.len()..].trim_start();
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("bad number in {line:?}"))
}

#[test]
fn demo_converges_and_reports() {
    let (ok, stdout, stderr) = scuttle(&["demo", "--nodes", "5", "--keys", "10"]);
    assert!(ok, "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("converged: all 5 nodes hold the same 50 keys"),
        "{stdout}"
    );
    assert!(field(&stdout, "rounds") >= 1);
    // Every key must reach the 4 other nodes at least once.
    let sent = field(&stdout, "updates sent");
    assert!(sent >= 200, "{stdout}");
    assert!(
        stdout.contains("lower bound 200 = 50 keys × 4 peers"),
        "{stdout}"
    );
    assert!(field(&stdout, "messages") >= 1);
    // No progress bar when stdout is not a terminal.
    assert!(!stderr.contains("round"), "{stderr}");
}

/// The one JSON object `scuttle demo --json` prints.
fn demo_json(args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let mut all = vec!["demo", "--json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = scuttle(&all);
    assert!(ok, "demo --json failed:\n{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "one line of JSON: {stdout}"
    );
    match serde_json::from_str(stdout.trim()) {
        Ok(serde_json::Value::Object(map)) => map,
        other => panic!("not one JSON object ({other:?}): {stdout}"),
    }
}

fn number(map: &serde_json::Map<String, serde_json::Value>, name: &str) -> u64 {
    map.get(name)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("no unsigned `{name}` in {map:?}"))
}

#[test]
fn demo_json_reports_the_contract_fields() {
    let map = demo_json(&[
        "--nodes",
        "5",
        "--keys",
        "10",
        "--fanout",
        "3",
        "--max-message-bytes",
        "65507",
    ]);
    assert_eq!(map.get("converged"), Some(&serde_json::Value::Bool(true)));
    let rounds = number(&map, "rounds");
    let messages = number(&map, "messages");
    let bytes = number(&map, "bytes");
    let lower = number(&map, "payload_lower_bound");
    assert!(rounds >= 1, "{map:?}");
    // At least a Syn and a SynAck per exchange: 5 nodes × 3 peers in the first round.
    assert!(messages >= 2 * 15, "{map:?}");
    // N·(N−1)·Σ(key + value bytes) over one node's keys: 5 · 4 · 10 · (key bytes + 16), and
    // keys are not empty.
    assert!(lower > 5 * 4 * 10 * 16, "{map:?}");
    assert!(
        bytes >= lower,
        "bytes {bytes} below the payload bound {lower}"
    );
    // The parameters come along.
    assert_eq!(number(&map, "nodes"), 5);
    assert_eq!(number(&map, "keys"), 10);
    assert_eq!(number(&map, "fanout"), 3);
    assert_eq!(number(&map, "max_message_bytes"), 65507);
}

#[test]
fn demo_is_reproducible_for_a_seed() {
    let args = [
        "--nodes", "6", "--keys", "8", "--mtu", "3", "--seed", "9", "--sorter", "depth",
    ];
    let (a, b) = (demo_json(&args), demo_json(&args));
    for name in ["rounds", "messages", "bytes", "updates_sent", "duplicates"] {
        assert_eq!(number(&a, name), number(&b, name), "{name}");
    }
    assert_eq!(a.get("sorter"), Some(&serde_json::Value::from("depth")));
}

#[test]
fn demo_fails_when_the_round_bound_is_hit() {
    let (ok, stdout, stderr) = scuttle(&[
        "demo",
        "--nodes",
        "10",
        "--keys",
        "10",
        "--mtu",
        "1",
        "--max-rounds",
        "2",
    ]);
    assert!(!ok);
    assert!(stdout.contains("NOT converged after 2 rounds"), "{stdout}");
    assert!(stderr.contains("did not converge"), "{stderr}");
}

#[test]
fn demo_rejects_bad_arguments() {
    let (ok, _, stderr) = scuttle(&["demo", "--nodes", "1"]);
    assert!(!ok);
    assert!(stderr.contains("--nodes"), "{stderr}");
    let (ok, _, stderr) = scuttle(&["demo", "--sorter", "sideways"]);
    assert!(!ok);
    assert!(stderr.contains("sideways"), "{stderr}");
    // The core's own checks: a limit on max_message_bytes, values that could never fit.
    let (ok, _, stderr) = scuttle(&["demo", "--max-message-bytes", "8"]);
    assert!(!ok);
    assert!(stderr.contains("max_message_bytes"), "{stderr}");
    let (ok, _, stderr) = scuttle(&["demo", "--max-message-bytes", "100", "--value-len", "200"]);
    assert!(!ok);
    assert!(stderr.contains("cannot run this workload"), "{stderr}");
}

/// A `scuttle node` child process with its stdout lines on a channel.
struct NodeProcess {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
}

impl NodeProcess {
    fn start(args: &[&str]) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_scuttle"))
            .arg("node")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scuttle node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        NodeProcess {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").expect("write to node");
        self.stdin.flush().expect("flush");
    }

    /// The first line (from now on) that satisfies `want`. The long deadline only turns a hang
    /// into a failure; a healthy run answers in milliseconds.
    fn expect_line(&self, want: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => seen.push(line),
                Err(e) => panic!("no matching line ({e}); got: {seen:#?}"),
            }
        }
    }

    fn quit(mut self) {
        self.send("quit");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "node exited with {status}");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // Only matters when a test failed half-way: do not leave the child running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn two_nodes_replicate_over_tcp() {
    // Data dirs: writes are open at once (without one a TCP node first catches up).
    let dir = std::env::temp_dir().join(format!("scuttle-cli-tcp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
    let mut a = NodeProcess::start(&[
        "--transport",
        "tcp",
        "--listen",
        "127.0.0.1:0",
        "--id",
        "a",
        "--data-dir",
        dir_a.to_str().unwrap(),
    ]);
    let banner = a.expect_line(|l| l.starts_with("listening on "));
    let addr = banner
        .trim_start_matches("listening on ")
        .split_whitespace()
        .next()
        .expect("address")
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{banner}");

    let mut b = NodeProcess::start(&[
        "--transport",
        "tcp",
        "--listen",
        "127.0.0.1:0",
        "--id",
        "b",
        "--peer",
        &addr,
        "--data-dir",
        dir_b.to_str().unwrap(),
    ]);
    b.expect_line(|l| l.starts_with("listening on "));
    b.expect_line(|l| l == "peer a connected");
    a.expect_line(|l| l == "peer b connected");

    b.send("set greeting hello world");
    b.expect_line(|l| l.starts_with("ok (version "));
    // a prints the update when it arrives, then answers reads with it.
    a.expect_line(|l| l == "greeting = hello world  (from b)");
    a.send("get greeting");
    a.expect_line(|l| l == "hello world");

    // And back: a deletes, b sees the tombstone.
    a.send("del greeting");
    a.expect_line(|l| l.starts_with("deleted (version "));
    b.expect_line(|l| l == "greeting deleted  (from a)");
    b.send("get greeting");
    b.expect_line(|l| l == "(deleted by a)");
    b.send("peers");
    b.expect_line(|l| l == "1 connected: a");

    b.quit();
    a.quit();
}

#[test]
fn simulate_subcommand_writes_its_outputs() {
    let out = std::env::temp_dir().join(format!("scuttle-cli-sim-{}", std::process::id()));
    let out_str = out.to_str().expect("utf-8 temp path");
    let (ok, stdout, stderr) = scuttle(&[
        "simulate", "--out", out_str, "--nodes", "8", "--rounds", "20",
    ]);
    assert!(ok, "simulate failed:\n{stdout}\n{stderr}");
    assert!(out.join("simulation.csv").is_file(), "{stdout}");
    assert!(out.join("simulation.svg").is_file(), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

/// A libp2p node started with `--listen 127.0.0.1:0 --api 127.0.0.1:0`: its TCP multiaddr,
/// peer id and API address, read from its banner.
struct P2pNode {
    process: NodeProcess,
    tcp: String,
    id: String,
    api: String,
}

impl P2pNode {
    fn start(data_dir: &std::path::Path, extra: &[&str]) -> Self {
        let dir = data_dir.to_str().expect("utf-8 path");
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
            "--data-dir",
            dir,
            "--interval-ms",
            "200",
        ];
        args.extend_from_slice(extra);
        let process = NodeProcess::start(&args);
        let banner = process.expect_line(|l| l.starts_with("listening on "));
        let (addrs, id) = banner
            .trim_start_matches("listening on ")
            .split_once(" as ")
            .expect("`as` in the banner");
        let tcp = addrs
            .split(", ")
            .find(|a| a.contains("/tcp/"))
            .expect("a TCP address")
            .to_string();
        let api = process.expect_line(|l| l.starts_with("API on http://"));
        P2pNode {
            process,
            tcp,
            id: id.to_string(),
            api: api.trim_start_matches("API on http://").to_string(),
        }
    }

    /// `scuttle ARGS --api <this node>`: success and stdout.
    fn client(&self, args: &[&str]) -> (bool, String) {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--api", &self.api]);
        let (ok, stdout, _) = scuttle(&all);
        (ok, stdout.trim().to_string())
    }

    /// Asks until `done` holds for the answer; the long guard only turns a hang into a
    /// failure.
    fn client_until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (_, out) = self.client(args);
            if done(&out) {
                return out;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "gave up on {args:?}: {out}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// `GET /metrics` from the node's API.
    fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.api).expect("connect to the API");
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.api
        )
        .expect("request");
        let mut out = String::new();
        stream.read_to_string(&mut out).expect("response");
        out
    }
}

#[test]
fn libp2p_nodes_join_through_one_bootstrap_and_serve_the_api() {
    let dir = std::env::temp_dir().join(format!("scuttle-cli-p2p-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let a = P2pNode::start(&dir.join("a"), &[]);
    let mut b = P2pNode::start(&dir.join("b"), &["--bootstrap", &a.tcp]);
    let c = P2pNode::start(&dir.join("c"), &["--bootstrap", &a.tcp]);

    // b and c only know a's address: they learn of each other through membership.
    c.client_until(&["members"], |out| {
        out.lines()
            .filter(|l| l.contains("alive, connected"))
            .count()
            == 2
    });
    let members = c.client(&["members", "--json"]).1;
    assert!(
        members.contains(&b.id) && members.contains(&a.id),
        "{members}"
    );

    // A write on b's REPL reaches a's REPL and c's API.
    b.process.send("set greeting hello world");
    b.process.expect_line(|l| l.starts_with("ok (version "));
    a.process
        .expect_line(|l| l.starts_with("greeting = hello world  (from "));
    assert_eq!(
        c.client_until(&["get", "greeting"], |out| out == "hello world"),
        "hello world"
    );
    // And the API writes: set on c, delete on a, read everywhere.
    let (ok, out) = c.client(&["set", "k", "v"]);
    assert!(ok && out.starts_with("ok (version "), "{out}");
    a.client_until(&["get", "k"], |out| out == "v");
    assert!(a.client(&["del", "k"]).1.starts_with("deleted (version "));
    b.client_until(&["get", "k"], |out| out.starts_with("(deleted by "));
    let (ok, out) = b.client(&["get", "missing"]);
    assert!(!ok, "a missing key is an error for scripts");
    assert_eq!(out, "(not set)");
    let state = b.client(&["state"]).1;
    assert!(state.starts_with("1 keys, version "), "{state}");
    assert!(state.contains("greeting = hello world"), "{state}");

    // A node of another cluster is refused; nobody bans anybody.
    let other = P2pNode::start(
        &dir.join("other"),
        &["--bootstrap", &a.tcp, "--cluster", "elsewhere"],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // At least one refusal (the other node redials its bootstrap address while it has no
    // member, and each connection is refused again). Whichever side reads the other's
    // identify first refuses, so the count may grow on either.
    let refused = |metrics: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("scuttle_foreign_refused_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    while refused(&a.metrics()) + refused(&other.metrics()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}\n{}",
            a.metrics(),
            other.metrics()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!a.client(&["members", "--json"]).1.contains(&other.id));
    assert!(!other.client(&["members", "--json"]).1.contains(&a.id));
    for node in [&a, &b, &c, &other] {
        assert!(node.metrics().contains("scuttle_bans_total 0"));
    }

    // The identity key stays in the data dir: a restarted node has the same id.
    let a_id = a.id.clone();
    a.process.quit();
    let again = P2pNode::start(&dir.join("a"), &[]);
    assert_eq!(again.id, a_id);
    for node in [again, b, c, other] {
        node.process.quit();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
