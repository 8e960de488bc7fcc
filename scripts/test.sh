#!/usr/bin/env bash
# Runs every test of the project: Rust (fmt, clippy, tests, docs), then C and Python bindings.
# Each part lives in its own script so it can also be run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
for part in rust c python; do
  script="scripts/test-$part.sh"
  if [ -x "$script" ]; then
    echo "==> $script"
    "$script"
  fi
done
echo "==> all tests passed"
