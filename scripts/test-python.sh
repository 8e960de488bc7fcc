#!/usr/bin/env bash
# Python bindings: build `scuttle` into a virtual environment with maturin, then run pytest
# (and mypy on the package and tests). Idempotent; safe on a fresh machine.
#   PYTHON            interpreter to build the venv from (default: python3, >= 3.9)
#   SCUTTLE_VENV      venv path (default: bindings/python/.venv)
#   CARGO_TARGET_DIR  respected by maturin like by cargo
#   SKIP_MYPY=1       skip the type check
set -euo pipefail
cd "$(dirname "$0")/../bindings/python"
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
