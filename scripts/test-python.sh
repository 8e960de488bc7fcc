#!/usr/bin/env bash
# Python bindings: build `scuttle` (distribution `scuttle-gossip`) into a virtual environment
# with maturin, then run pytest (and mypy on the package and tests); then `maturin build --sdist`
# must give one abi3 wheel and one sdist, and the wheel must install and import in a fresh venv.
# Idempotent; safe on a fresh machine.
#   PYTHON            interpreter to build the venv from (default: python3, >= 3.9)
#   SCUTTLE_VENV      venv path (default: bindings/python/.venv)
#   CARGO_TARGET_DIR  respected by maturin like by cargo (default: the workspace's target/, also
#                     for the wheel built from the unpacked sdist, which would otherwise
#                     rebuild every dependency, libp2p included, in a temporary directory)
#   SKIP_MYPY=1       skip the type check
set -euo pipefail
cd "$(dirname "$0")/../bindings/python"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd ../.. && pwd)/target}"
PYTHON="${PYTHON:-python3}"
VENV="${SCUTTLE_VENV:-.venv}"
command -v "$PYTHON" >/dev/null || { echo "$PYTHON is required (Python >= 3.9)"; exit 1; }
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.9.4,<2" "pytest>=7" "hypothesis>=6" "mypy>=1"
# `maturin develop` needs VIRTUAL_ENV to find the venv; it installs the package editable.
VIRTUAL_ENV="$(cd "$VENV" && pwd)" PATH="$(cd "$VENV" && pwd)/bin:$PATH" \
  "$VENV/bin/maturin" develop --release --quiet
"$PY" -m pytest -q
if [ "${SKIP_MYPY:-0}" != "1" ]; then
  "$PY" -m mypy
fi

# The release artifacts: maturin builds the sdist, then the wheel from the unpacked sdist.
dist="$(mktemp -d)"
trap 'rm -rf "$dist"' EXIT
VIRTUAL_ENV="$(cd "$VENV" && pwd)" PATH="$(cd "$VENV" && pwd)/bin:$PATH" \
  "$VENV/bin/maturin" build --release --sdist --quiet --out "$dist/out"
version="$("$PY" -c 'import scuttle; print(scuttle.__version__)')"
wheels=("$dist"/out/scuttle_gossip-"$version"-cp39-abi3-*.whl)
sdists=("$dist"/out/scuttle_gossip-"$version".tar.gz)
[ -f "${wheels[0]}" ] && [ "${#wheels[@]}" = 1 ] || { echo "no single abi3 wheel:"; ls "$dist/out"; exit 1; }
[ -f "${sdists[0]}" ] || { echo "no sdist:"; ls "$dist/out"; exit 1; }
"$PYTHON" -m venv "$dist/venv"
"$dist/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "${wheels[0]}"
(cd "$dist" && "$dist/venv/bin/python" - "$version" <<'PY'
import sys
import scuttle
assert scuttle.__version__ == sys.argv[1], scuttle.__version__
a, b = scuttle.Gossip("a"), scuttle.Gossip("b")
a.set("k", "v")
scuttle.sync(a, b)
assert b["k"] == "v"
with scuttle.BlockingNode(listen="127.0.0.1:0") as node:  # the networked node links too
    node.set("k", "v")
    assert node.get("k") == "v"
PY
)
echo "==> built $(basename "${wheels[0]}") and $(basename "${sdists[0]}"); the wheel installs and imports"
