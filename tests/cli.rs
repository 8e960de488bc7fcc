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
    let (ok, stdout, stderr) = scuttle(&["demo", "--nodes", "5", "--keys", "50"]);
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
    assert!(field(&stdout, "messages") >= sent);
    // No progress bar garbage when stdout is not a terminal.
    assert!(!stdout.contains('█'), "{stdout}");
}

#[test]
fn demo_is_reproducible_for_a_seed() {
    let args = [
        "demo", "--nodes", "6", "--keys", "40", "--mtu", "3", "--seed", "9", "--sorter", "depth",
    ];
    let (ok1, out1, _) = scuttle(&args);
    let (ok2, out2, _) = scuttle(&args);
    assert!(ok1 && ok2);
    for label in ["rounds", "messages", "updates sent"] {
        assert_eq!(field(&out1, label), field(&out2, label), "{label}");
    }
}

#[test]
fn demo_fails_when_the_round_bound_is_hit() {
    let (ok, stdout, stderr) = scuttle(&[
        "demo",
        "--nodes",
        "10",
        "--keys",
        "100",
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
    let (ok, _, _) = scuttle(&["demo", "--sorter", "sideways"]);
    assert!(!ok);
}
