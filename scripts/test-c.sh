#!/usr/bin/env bash
# C bindings: builds libscuttle_c in release, checks that the committed header
# bindings/c/include/scuttle.h is what cbindgen generates, links the examples statically from
# the build tree, then installs the library into a temporary prefix (`make -C bindings/c
# install`), checks the installed files and the SONAME, and builds the examples and the C tests
# against the installed copy with `pkg-config --cflags --libs scuttle` and `cc -Wall -Wextra
# -Werror`, runs them, and runs them under valgrind (zero leaks). The networked node's tests
# and example (tests/test_node.c, examples/node.c) run two nodes on loopback, libp2p and TCP;
# their valgrind runs use bindings/c/tests/valgrind-node.supp, which names the three blocks of
# process-wide libp2p-dependency state that valgrind calls "possibly lost" (see the file).
# Installs cbindgen, a C compiler, make, pkg-config, CMake and valgrind when they are missing.
# Idempotent.
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
command -v make >/dev/null || apt_install make
command -v pkg-config >/dev/null || apt_install pkg-config
command -v readelf >/dev/null || apt_install binutils
command -v cmake >/dev/null || apt_install cmake
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

CFLAGS=(-std=c11 -Wall -Wextra -Werror -O1 -g)
STATIC_LIBS=(-lpthread -ldl -lm -lrt -lutil)

echo "==> examples: bindings/c/examples/node.c, two_nodes.c (static link from the build tree)"
for example in node two_nodes; do
  cc "${CFLAGS[@]}" -Ibindings/c/include "bindings/c/examples/$example.c" \
    "$lib_dir/libscuttle_c.a" "${STATIC_LIBS[@]}" -o "$out_dir/${example}_static"
done
"$out_dir/node_static" >/dev/null
"$out_dir/two_nodes_static" >/dev/null

echo "==> make -C bindings/c install into a temporary prefix"
prefix="$tmp/prefix"
make -s -C bindings/c install PREFIX="$prefix" CARGO_TARGET_DIR="$target_dir" >"$tmp/make.log" 2>&1 ||
  { cat "$tmp/make.log"; exit 1; }
version="$(cargo pkgid -p scuttle-gossip-c | sed 's/.*[@#]//')"
major="${version%%.*}"
libdir="$prefix/lib"
for f in "lib/libscuttle.so.$version" lib/libscuttle.a include/scuttle.h lib/pkgconfig/scuttle.pc; do
  [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ] || { echo "not installed: $prefix/$f"; exit 1; }
done
[ "$(readlink "$libdir/libscuttle.so.$major")" = "libscuttle.so.$version" ] ||
  { echo "libscuttle.so.$major must link to libscuttle.so.$version"; exit 1; }
[ "$(readlink "$libdir/libscuttle.so")" = "libscuttle.so.$major" ] ||
  { echo "libscuttle.so must link to libscuttle.so.$major"; exit 1; }
cmp -s bindings/c/include/scuttle.h "$prefix/include/scuttle.h" || { echo "installed header differs"; exit 1; }
soname="$(readelf -d "$libdir/libscuttle.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$soname" = "libscuttle.so.$major" ] || { echo "SONAME is '$soname', expected libscuttle.so.$major"; exit 1; }
echo "    libscuttle.so.$version, SONAME $soname"

# PKG_CONFIG_PATH is set per command, never exported: a build script in the library's graph
# (aws-lc-sys, through libp2p's QUIC) reruns when it changes, so an exported temporary path
# would make the `make install` below, and the next run, rebuild it from C.
pc() { PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config "$@"; }
[ "$(pc --modversion scuttle)" = "$version" ] || { echo "scuttle.pc: wrong version"; exit 1; }
read -r -a PC_CFLAGS <<<"$(pc --cflags scuttle)"
read -r -a PC_LIBS <<<"$(pc --libs scuttle)"
echo "    pkg-config --cflags --libs scuttle: ${PC_CFLAGS[*]} ${PC_LIBS[*]}"
# -rpath only because the prefix is not in the loader's path; no -I or -L of the checkout.
RPATH=(-Wl,-rpath,"$libdir")

echo "==> examples: bindings/c/examples/node.c (libp2p, then tcp), two_nodes.c (installed, shared, pkg-config)"
for example in node two_nodes; do
  cc "${CFLAGS[@]}" "${PC_CFLAGS[@]}" "bindings/c/examples/$example.c" "${PC_LIBS[@]}" "${RPATH[@]}" \
    -o "$out_dir/$example"
  needed="$(readelf -d "$out_dir/$example" | sed -n 's/.*(NEEDED).*\[\(libscuttle[^]]*\)\]/\1/p')"
  [ "$needed" = "libscuttle.so.$major" ] || { echo "$example needs '$needed', expected libscuttle.so.$major"; exit 1; }
done
"$out_dir/node"
"$out_dir/node" tcp >/dev/null
"$out_dir/two_nodes"

echo "==> CMake: the example through pkg_check_modules(IMPORTED_TARGET scuttle), as docs/c.md shows"
mkdir -p "$tmp/cmake"
cp bindings/c/examples/two_nodes.c "$tmp/cmake/main.c"
cat >"$tmp/cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(my_app C)

find_package(PkgConfig REQUIRED)
pkg_check_modules(SCUTTLE REQUIRED IMPORTED_TARGET scuttle)

add_executable(my_app main.c)
target_link_libraries(my_app PRIVATE PkgConfig::SCUTTLE)
CMAKE
PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S "$tmp/cmake" -B "$tmp/cmake/build" \
  -DCMAKE_BUILD_RPATH="$libdir" >"$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/cmake/build" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; exit 1; }
"$tmp/cmake/build/my_app" >/dev/null

for test in test_node test_scuttle; do
  echo "==> C tests: bindings/c/tests/$test.c (installed, shared, pkg-config)"
  cc "${CFLAGS[@]}" -pthread "${PC_CFLAGS[@]}" "bindings/c/tests/$test.c" "${PC_LIBS[@]}" \
    "${RPATH[@]}" -o "$out_dir/$test"
  "$out_dir/$test"
done

echo "==> C tests and examples under valgrind"
VALGRIND=(valgrind --quiet --leak-check=full --error-exitcode=1)
NODE_SUPP=(--suppressions=bindings/c/tests/valgrind-node.supp)
"${VALGRIND[@]}" "${NODE_SUPP[@]}" "$out_dir/test_node"
"${VALGRIND[@]}" "${NODE_SUPP[@]}" "$out_dir/node" >/dev/null
"${VALGRIND[@]}" "$out_dir/test_scuttle"
"${VALGRIND[@]}" "$out_dir/two_nodes" >/dev/null

echo "==> make install DESTDIR (staged for a package) and uninstall"
stage="$tmp/stage"
make -s -C bindings/c install PREFIX=/usr/local DESTDIR="$stage" CARGO_TARGET_DIR="$target_dir" \
  >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; exit 1; }
[ -f "$stage/usr/local/lib/libscuttle.so.$version" ] || { echo "DESTDIR install missing the library"; exit 1; }
grep -qx 'prefix=/usr/local' "$stage/usr/local/lib/pkgconfig/scuttle.pc" ||
  { echo "staged scuttle.pc must name the final prefix, not DESTDIR"; exit 1; }
make -s -C bindings/c uninstall PREFIX=/usr/local DESTDIR="$stage"
[ -z "$(find "$stage" -type f -o -type l)" ] || { echo "uninstall left files:"; find "$stage"; exit 1; }

echo "==> C bindings: all checks passed"
