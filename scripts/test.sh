#!/usr/bin/env bash
# Runs every test of the project: Rust (fmt, clippy, tests, docs), fuzz smoke runs, C and Python
# bindings, interop with the seed's JavaScript code, the multi-host test (10 nodes in network
# namespaces; it says so and skips without root), then the crates.io publish dry run (skipped
# when the crates.io index is unreachable).
# Each part lives in its own script so it can also be run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
for part in rust fuzz c python interop netns; do
  script="scripts/test-$part.sh"
  if [ -x "$script" ]; then
    echo "==> $script"
    "$script"
  fi
done
echo "==> scripts/publish-dry-run.sh"
scripts/publish-dry-run.sh
echo "==> all tests passed"
