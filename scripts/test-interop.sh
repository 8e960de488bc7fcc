#!/usr/bin/env bash
# Interop with the seed's own JavaScript code (simple-scuttle 3.0.2, kept in
# ../shared/seed/simple-scuttle-js, or SCUTTLE_SEED_JS): mixed clusters of its nodes and scuttle
# nodes in the seed's topologies, every mix, mtu 1, 3 and 10 (docs/interop.md). About a minute.
# Skips, saying why, where node/npm or the seed's code are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
if ! command -v node >/dev/null; then
  echo "SKIPPED interop with the seed's JavaScript: node (Node.js) is not installed"
  exit 0
fi
if [ -z "${SCUTTLE_SEED_NODE_MODULES:-}" ]; then
  if ! command -v npm >/dev/null; then
    echo "SKIPPED interop with the seed's JavaScript: npm is not installed"
    exit 0
  fi
  # The seed's one runtime dependency, into a temporary folder.
  modules_dir="$(mktemp -d)"
  trap 'rm -rf "$modules_dir"' EXIT
  if ! npm install --no-audit --no-fund --silent --prefix "$modules_dir" vector-clock-class@~1.1.1; then
    echo "SKIPPED interop with the seed's JavaScript: npm could not install vector-clock-class@~1.1.1"
    exit 0
  fi
  export SCUTTLE_SEED_NODE_MODULES="$modules_dir/node_modules"
fi
cargo test --release -p scuttle-gossip-tokio --test seed_clusters -- --ignored --nocapture
