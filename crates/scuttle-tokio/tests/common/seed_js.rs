//! The seed's JavaScript implementation (simple-scuttle 3.0.2) as a test peer: where its code
//! is, its one npm dependency, and why a test is skipped when either (or `node`) is missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Where the seed's code is kept, relative to a folder above the repository.
const SEED_BESIDE: &str = "shared/seed/simple-scuttle-js";

/// The seed's code: `SCUTTLE_SEED_JS`, else `shared/seed/simple-scuttle-js` in the nearest
/// folder above the crate that has one (`../shared/...` beside the repository, or beside a
/// folder of worktrees).
pub fn seed_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCUTTLE_SEED_JS") {
        return PathBuf::from(dir);
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .map(|dir| dir.join(SEED_BESIDE))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| crate_dir.join("../../..").join(SEED_BESIDE))
}

/// A script of `tests/seed/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/seed")
        .join(name)
}

/// A `node_modules` holding the seed's one dependency, `vector-clock-class` ~1.1.1:
/// `SCUTTLE_SEED_NODE_MODULES`, else one installed with npm under the target directory.
async fn seed_modules() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("SCUTTLE_SEED_NODE_MODULES") {
        return Ok(PathBuf::from(dir));
    }
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seed-js");
    let modules = prefix.join("node_modules");
    if modules.join("vector-clock-class").is_dir() {
        return Ok(modules);
    }
    let install = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&prefix)
        .arg("vector-clock-class@~1.1.1")
        .stdin(Stdio::null())
        .output();
    match tokio::time::timeout(Duration::from_secs(300), install).await {
        Ok(Ok(out)) if out.status.success() => Ok(modules),
        Ok(Ok(out)) => Err(format!(
            "`npm install vector-clock-class@~1.1.1` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(Err(e)) => Err(format!("npm could not be run: {e}")),
        Err(_) => Err("`npm install vector-clock-class@~1.1.1` timed out".into()),
    }
}

/// The seed's code and its `node_modules`, or why the test is skipped.
pub async fn seed_peer() -> Result<(PathBuf, PathBuf), String> {
    let node = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await;
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("`node` (Node.js) is not installed".into());
    }
    let seed = seed_dir();
    if !seed.join("lib/gossip.js").is_file() {
        return Err(format!(
            "the seed is not at {} (set SCUTTLE_SEED_JS)",
            seed.display()
        ));
    }
    Ok((seed, seed_modules().await?))
}
