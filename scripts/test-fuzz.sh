#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target of fuzz/ for FUZZ_SECONDS seconds each (default 20),
# frame_codec twice (without and with the core's zstd feature), starting from the committed
# seed corpora in fuzz/corpus/<target>/. New inputs go to fuzz/target/run/<target>/ (not
# committed); a crash fails the script and leaves its input in fuzz/artifacts/<target>/.
# docs/fuzzing.md tells how to run a longer campaign and what the last one found.
#
# cargo fuzz needs nightly flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# Skips (exit 0, with a message) when cargo-fuzz cannot be installed or the machine cannot
# build libFuzzer (no C++ compiler, a target without the address sanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
skip() {
  echo "SKIP fuzz: $*"
  exit 0
}

command -v cargo >/dev/null || skip "cargo not found"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz --locked; a few minutes)"
  log="$(mktemp)"
  if ! cargo install cargo-fuzz --locked >"$log" 2>&1; then
    tail -5 "$log"
    skip "cargo-fuzz could not be installed (no network, or no crates.io?)"
  fi
fi
command -v c++ >/dev/null || command -v clang++ >/dev/null || command -v g++ >/dev/null ||
  skip "no C++ compiler to build libFuzzer (install g++ or clang)"
host="$(rustc -vV | sed -n 's/^host: //p')"
case "$host" in
  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu | x86_64-apple-darwin | aarch64-apple-darwin) ;;
  *) skip "host $host has no address sanitizer for cargo fuzz" ;;
esac

export RUSTC_BOOTSTRAP=1
cd fuzz
cargo fmt --check
cargo clippy --all-targets --features zstd,tokio -- -D warnings
# -malloc_limit_mb: one allocation above it is a finding (decoders must refuse oversize input
# before they allocate for it); -timeout: one input slower than it is a finding (a hang).
flags=(-max_total_time="$seconds" -malloc_limit_mb=256 -timeout=10 -print_final_stats=1)
run() {
  local name="$1" target="$2"
  shift 2
  mkdir -p "target/run/$name"
  echo "==> fuzz $name for ${seconds}s"
  local log="target/run/$name.log"
  if ! cargo fuzz run "$@" "$target" "target/run/$name" "corpus/$target" -- "${flags[@]}" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz $name FAILED: input in fuzz/artifacts/$target/, log in fuzz/$log"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|DONE' "$log" | tr '\n' ' '
  echo
}
run frame_codec frame_codec
# The tokio adapter turns the core's zstd feature on: its target builds with the zstd ones.
zstd=(--features zstd,tokio --target-dir target/zstd)
run frame_codec_zstd frame_codec "${zstd[@]}"
run json_lines json_lines
run core_messages core_messages
run c_frame c_frame
run tokio_codec tokio_codec "${zstd[@]}"
echo "fuzz: 6 runs of ${seconds}s, no crash"
