#!/usr/bin/env bash
# Runs every test of the project: Rust (fmt, clippy, tests, docs), then C and Python bindings,
# then the multi-host test (10 nodes in network namespaces; it says so and skips without root).
# Each part lives in its own script so it can also be run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
for part in rust c python netns; do
  script="scripts/test-$part.sh"
  if [ -x "$script" ]; then
    echo "==> $script"
    "$script"
  fi
done
echo "==> all tests passed"
