#!/usr/bin/env bash
# crates.io release check: `cargo publish --dry-run --workspace` packages every publishable
# crate, in dependency order, and builds each from its packaged sources against a local
# overlay registry holding the others (cargo >= 1.90), so a missing file, a path dependency
# without a version or a bad manifest fails here and not at release time. Nothing is uploaded.
# Also checks that exactly the crates below are published (the rest have `publish = false`).
# Needs the crates.io index: skips with a message when it is unreachable or cargo is offline.
#   PUBLISH_NO_VERIFY=1   package only (no build from the packaged sources; a few seconds)
set -euo pipefail
cd "$(dirname "$0")/.."

# In dependency order: what `cargo publish` (without --dry-run) must upload, one by one.
PUBLISHED="scuttle-gossip-core scuttle-gossip-p2p scuttle-gossip-sim scuttle-gossip-store scuttle-gossip-tokio scuttle-gossip-node scuttle-gossip scuttle-gossip-cli"

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
if [ "${CARGO_NET_OFFLINE:-false}" = "true" ]; then
  echo "==> publish dry run skipped: cargo is offline (CARGO_NET_OFFLINE=true)"
  exit 0
fi
skip_unreachable() {
  echo "==> publish dry run skipped: the crates.io index (https://index.crates.io) is unreachable"
  exit 0
}
if command -v curl >/dev/null &&
  ! curl --silent --fail --max-time 20 --output /dev/null https://index.crates.io/config.json; then
  skip_unreachable
fi

# Cargo takes a registry package of a given version to be immutable: it reuses the copy of
# the overlay registry's packages it extracted into $CARGO_HOME/registry/src/<hash>/ and the
# libraries it compiled from them, so a second run would verify the dependents against the
# first run's sources. Drop both (ours only: every registry directory but crates.io's; cf.
# 0xMiden/miden-vm#2530, which clears the whole registry); our crates recompile, nothing else.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
for dir in "$cargo_home"/registry/src/* "$cargo_home"/registry/cache/*; do
  case "$(basename "$dir")" in
    index.crates.io-*) ;;
    *) rm -rf "$dir"/scuttle-gossip* ;;
  esac
done
target_dir="${CARGO_TARGET_DIR:-target}"
rm -rf "$target_dir"/debug/.fingerprint/scuttle-gossip-*

cargo_minor="$(cargo --version | sed -E 's/^cargo 1\.([0-9]+).*/\1/')"
verify=()
[ "${PUBLISH_NO_VERIFY:-0}" = "1" ] && verify=(--no-verify)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if [ "$cargo_minor" -ge 90 ]; then
  echo "==> cargo publish --dry-run --workspace ${verify[*]}"
  set +e
  cargo publish --dry-run --workspace --allow-dirty "${verify[@]}" 2>&1 | tee "$log" |
    grep -E '^ *(Packaging|Packaged|Verifying|warning: manifest|error)'
  status="${PIPESTATUS[0]}"
  set -e
else
  # Older cargo cannot verify a crate whose path dependencies are not on crates.io yet.
  echo "==> cargo $(cargo --version) has no multi-package publish: packaging without verification"
  status=0
  set +e
  for crate in $PUBLISHED; do
    cargo package --no-verify --allow-dirty -p "$crate" 2>&1 | tee -a "$log" |
      grep -E '^ *(Packaging|Packaged|warning: manifest|error)'
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
  done
  set -e
fi
if [ "$status" != 0 ]; then
  # Without curl the index is probed by cargo itself: a network error is a skip, not a failure.
  if grep -qiE "failed to (query|download|fetch)|download of .* failed|spurious network error|network failure|could not resolve host|could not connect" "$log"; then
    tail -n 5 "$log"
    skip_unreachable
  fi
  echo "publish dry run failed:"
  tail -n 40 "$log"
  exit 1
fi

sorted() { tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' '; }
packaged="$(sed -nE 's/^ *Packaging ([^ ]+) v.*/\1/p' "$log" | tr '\n' ' ')"
if [ "$(sorted <<<"$packaged")" != "$(sorted <<<"$PUBLISHED")" ]; then
  echo "published crates changed: expected '$PUBLISHED', cargo packaged '$packaged'"
  echo "(set 'publish = false' on internal crates, or update PUBLISHED in $0)"
  exit 1
fi
echo "==> publish dry run passed: $PUBLISHED"
