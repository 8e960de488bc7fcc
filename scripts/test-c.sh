#!/usr/bin/env bash
# C bindings: builds libscuttle_c in release, checks that the committed header
# bindings/c/include/scuttle.h is what cbindgen generates, then builds the example and the C
# tests with `cc -Wall -Wextra -Werror` and runs them, the tests also under valgrind (zero
# leaks). Installs cbindgen, a C compiler and valgrind when they are missing. Idempotent.
# (The crate's Rust unit tests run with the workspace in scripts/test-rust.sh.)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

CBINDGEN_VERSION="0.29.4"
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in
  /*) ;;
  *) target_dir="$root/$target_dir" ;;
esac
lib_dir="$target_dir/release"
out_dir="$target_dir/c-tests"
mkdir -p "$out_dir"

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
command -v cc >/dev/null || apt_install gcc
command -v valgrind >/dev/null || apt_install valgrind
if [ "$(cbindgen --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]; then
  echo "==> installing cbindgen $CBINDGEN_VERSION"
  cargo install cbindgen --locked --version "$CBINDGEN_VERSION" --force --quiet
fi

echo "==> building libscuttle_c (release)"
cargo build --release --quiet -p scuttle-gossip-c
for lib in libscuttle_c.a libscuttle_c.so; do
  [ -f "$lib_dir/$lib" ] || { echo "missing $lib_dir/$lib"; exit 1; }
done

echo "==> checking bindings/c/include/scuttle.h against cbindgen"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cbindgen --quiet --config bindings/c/cbindgen.toml --crate scuttle-gossip-c \
  --output "$tmp/scuttle.h" bindings/c
if ! diff -u bindings/c/include/scuttle.h "$tmp/scuttle.h"; then
  echo "bindings/c/include/scuttle.h is stale: regenerate it with"
  echo "  cbindgen --config bindings/c/cbindgen.toml --crate scuttle-gossip-c --output bindings/c/include/scuttle.h bindings/c"
  exit 1
fi
# The header stands alone in strict C99 (and in C++ where a C++ compiler is present).
printf '#include "scuttle.h"\nint main(void) { return SCUTTLE_OK; }\n' >"$tmp/alone.c"
cc -std=c99 -pedantic -Wall -Wextra -Werror -Ibindings/c/include -fsyntax-only "$tmp/alone.c"
if command -v c++ >/dev/null; then
  cp "$tmp/alone.c" "$tmp/alone.cpp"
  c++ -Wall -Wextra -Werror -Ibindings/c/include -fsyntax-only "$tmp/alone.cpp"
fi

CFLAGS=(-std=c11 -Wall -Wextra -Werror -O1 -g -Ibindings/c/include)
STATIC_LIBS=(-lpthread -ldl -lm -lrt -lutil)

echo "==> example: bindings/c/examples/two_nodes.c (static link)"
cc "${CFLAGS[@]}" bindings/c/examples/two_nodes.c "$lib_dir/libscuttle_c.a" "${STATIC_LIBS[@]}" \
  -o "$out_dir/two_nodes"
"$out_dir/two_nodes"

echo "==> C tests: bindings/c/tests/test_scuttle.c (shared link)"
cc "${CFLAGS[@]}" -pthread bindings/c/tests/test_scuttle.c -L"$lib_dir" -lscuttle_c \
  -Wl,-rpath,"$lib_dir" -o "$out_dir/test_scuttle"
"$out_dir/test_scuttle"

echo "==> C tests under valgrind"
valgrind --quiet --leak-check=full --error-exitcode=1 "$out_dir/test_scuttle"
valgrind --quiet --leak-check=full --error-exitcode=1 "$out_dir/two_nodes" >/dev/null

echo "==> C bindings: all checks passed"
