#!/usr/bin/env bash
# Multi-host test: NODES scuttle nodes (default 10), one per Linux network namespace, joined
# by veth pairs to a bridge that lives in its own namespace (so the host gets no address and
# no interface). Each node knows only node 1's address (--bootstrap); membership does the rest.
#
# Phases, each checked:
#   join       every node sees every other alive
#   writes     keys written on several nodes reach every node
#   partition  half the veth ports move to a second bridge (a silent partition: no RST, no
#              FIN); both sides write; time until each side sees the other down
#   heal       ports move back; time until every node holds every key and sees every member
#   loss       LOSS % of packets dropped on every node's input (nftables); LOSS_KEYS keys
#              written; time to converge, false "down"/"suspect" transitions, bans
#   kill -9    a node is killed; time until it is seen down; restarted from its data dir
#              (same identity); it catches up, and writes made after it caught up reach all
# At the end: no acknowledged write is lost on any node, and no node banned anybody.
#
# Needs root, `ip netns` and nftables (installed with apt-get when missing); otherwise it
# says why and skips (exit 0). Every name it creates starts with sc<pid>; all are removed on
# exit. Addresses are 10.199.0.0/24, inside the namespaces only.
#
# Environment: NODES (10), INTERVAL_MS (500), LOSS (30), LOSS_KEYS (1000), PARTITION_S (5),
# SCUTTLE_BIN (default: target/release/scuttle, built when missing),
# SCUTTLE_NETNS_STRICT_RESTART (1): also check that writes made right after a kill -9 restart,
# before the node caught up, are kept (durable versions and the store in --data-dir).
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-10}
INTERVAL_MS=${INTERVAL_MS:-500}
LOSS=${LOSS:-30}
LOSS_KEYS=${LOSS_KEYS:-1000}
PARTITION_S=${PARTITION_S:-5}
STRICT_RESTART=${SCUTTLE_NETNS_STRICT_RESTART:-1}
GUARD_S=${GUARD_S:-240}

[ "$NODES" -ge 4 ] || { echo "NODES must be at least 4"; exit 1; }

skip() {
  echo "netns test SKIPPED: $*"
  exit 0
}

[ "$(uname -s)" = Linux ] || skip "needs Linux network namespaces"
[ "$(id -u)" = 0 ] || skip "needs root (ip netns, veth, bridges, nftables)"
command -v ip >/dev/null || skip "needs iproute2 (ip)"
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
command -v nft >/dev/null || missing+=(nftables)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
    >/dev/null 2>&1 || true
fi
command -v curl >/dev/null || skip "needs curl"
command -v jq >/dev/null || skip "needs jq"
command -v nft >/dev/null || skip "needs nftables (nft) for packet loss"
TAG="sc$$"
ip netns add "$TAG-probe" 2>/dev/null || skip "cannot create network namespaces here"
probe_ok=1
ip -n "$TAG-probe" link add p0 type veth peer name p1 2>/dev/null || probe_ok=0
ip -n "$TAG-probe" link add pbr type bridge 2>/dev/null || probe_ok=0
ip netns exec "$TAG-probe" nft add table inet probe 2>/dev/null || probe_ok=0
ip netns del "$TAG-probe"
[ "$probe_ok" = 1 ] || skip "veth pairs, bridges or nftables are not available in namespaces here"

BIN=${SCUTTLE_BIN:-target/release/scuttle}
if [ ! -x "$BIN" ]; then
  echo "building $BIN"
  cargo build --release -p scuttle-gossip-cli --quiet
fi
BIN=$(realpath "$BIN")

DIR=$(mktemp -d -t scuttle-netns.XXXXXX)
HUB="$TAG-hub"
declare -a PIDS
RESULTS="$DIR/results.txt"
: >"$RESULTS"

# kill -9, then wait until the process is gone (nodes are disowned: `wait` cannot).
kill_node() {
  kill -9 "$1" 2>/dev/null || return 0
  while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
}

cleanup() {
  local code=$?
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill_node "$pid"
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$TAG-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ "$code" != 0 ]; then
    echo "netns test FAILED (logs in $DIR)"
    for i in $(seq 1 "$NODES"); do
      [ -f "$DIR/n$i.err" ] && { echo "--- node $i stderr (tail)"; tail -5 "$DIR/n$i.err"; }
    done
  elif [ -z "${KEEP_LOGS:-}" ]; then
    rm -rf "$DIR"
  else
    echo "logs in $DIR"
  fi
  exit "$code"
}
trap cleanup EXIT INT TERM

ns() { echo "$TAG-n$1"; }
ipof() { echo "10.199.0.$((10 + $1))"; }
nx() { local i=$1; shift; ip netns exec "$(ns "$i")" "$@"; }
api() { nx "$1" curl -s --max-time 5 "http://$(ipof "$1"):7480$2"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "$*" | tee -a "$RESULTS"; }

# Polls `check` (a shell function/command) every 0.1 s until it succeeds; fails after GUARD_S
# (a guard against hangs, not a threshold: the times are measured and reported).
wait_until() {
  local what=$1; shift
  local start; start=$(now)
  until "$@"; do
    if awk -v s="$start" -v n="$(now)" -v g="$GUARD_S" 'BEGIN { exit !(n - s > g) }'; then
      echo "gave up waiting for: $what"
      return 1
    fi
    sleep 0.1
  done
}

# ------------------------------------------------------------------ network
ip netns add "$HUB"
ip -n "$HUB" link set lo up
for br in br0 br1; do
  ip -n "$HUB" link add "$br" type bridge
  ip -n "$HUB" link set "$br" up
done
for i in $(seq 1 "$NODES"); do
  ip netns add "$(ns "$i")"
  ip link add "v$i" netns "$HUB" type veth peer name eth0 netns "$(ns "$i")"
  ip -n "$HUB" link set "v$i" master br0 up
  ip -n "$(ns "$i")" link set lo up
  ip -n "$(ns "$i")" addr add "$(ipof "$i")/24" dev eth0
  ip -n "$(ns "$i")" link set eth0 up
done

# ------------------------------------------------------------------ nodes
start_node() {
  local i=$1
  local fifo="$DIR/n$i.in"
  [ -p "$fifo" ] || mkfifo "$fifo"
  local boot=()
  [ "$i" != 1 ] && boot=(--bootstrap "$(ipof 1):7400")
  # `<>` keeps the REPL's stdin open with no writer; `ip netns exec` execs the node, so $!
  # is the node's own pid.
  ip netns exec "$(ns "$i")" "$BIN" node --listen "$(ipof "$i"):7400" \
    --api "$(ipof "$i"):7480" --data-dir "$DIR/d$i" --interval-ms "$INTERVAL_MS" \
    --log-level "info,libp2p=warn" "${boot[@]}" \
    <>"$fifo" >>"$DIR/n$i.out" 2>>"$DIR/n$i.err" &
  PIDS[$i]=$!
  disown "$!" # no "Killed" report when the test kills it
}

api_up() { api "$1" /v1/status >/dev/null; }
alive_count() { api "$1" /v1/members | jq '[.[] | select(.state == "alive")] | length'; }
all_see_all() {
  local i
  for i in $(seq 1 "$NODES"); do
    [ "$(alive_count "$i" 2>/dev/null || echo 0)" = $((NODES - 1)) ] || return 1
  done
}
node_id() { api "$1" /v1/status | jq -r .id; }
state_of() { api "$1" /v1/members | jq -r --arg id "$2" '.[] | select(.id == $id) | .state'; }

# Writes `count` keys `prefix-k` on node i through its REPL and waits for every "ok".
ACKED="$DIR/acked"
: >"$ACKED"
write_keys() {
  local i=$1 prefix=$2 count=$3
  local before; before=$(grep -c '^ok (version' "$DIR/n$i.out" || true)
  local k
  for k in $(seq 1 "$count"); do
    echo "set $prefix-$k v$k"
  done >"$DIR/n$i.in"
  wait_until "acks on node $i" acked_on "$i" $((before + count))
  for k in $(seq 1 "$count"); do echo "$prefix-$k v$k"; done >>"$ACKED"
}
acked_on() { [ "$(grep -c '^ok (version' "$DIR/n$1.out" || true)" -ge "$2" ]; }

keys_on() { api "$1" /v1/status | jq .keys; }
converged() {
  local want; want=$(wc -l <"$ACKED")
  local i
  for i in "$@"; do
    [ "$(keys_on "$i" 2>/dev/null || echo -1)" = "$want" ] || return 1
  done
}
all_nodes() { seq 1 "$NODES"; }

metric_sum() { # metric_sum NAME: the sum over nodes of a metric line's value
  local total=0 i v
  for i in $(all_nodes); do
    v=$(api "$i" /metrics | awk -v m="$1" '$1 == m { print $2 }')
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

say "netns test: $NODES nodes, interval ${INTERVAL_MS} ms, libp2p (TCP+QUIC, noise, yamux)"
T0=$(now)
for i in $(all_nodes); do start_node "$i"; done
for i in $(all_nodes); do wait_until "API of node $i" api_up "$i"; done
wait_until "every node sees every other alive" all_see_all
say "join: every node sees $((NODES - 1)) alive members after $(since "$T0") s (one bootstrap address)"

# ------------------------------------------------------------------ writes
T=$(now)
for i in 1 $(((NODES + 1) / 2)) "$NODES"; do write_keys "$i" "w$i" 50; done
wait_until "writes converge" converged $(all_nodes)
say "writes: 150 keys from 3 nodes on all $NODES nodes after $(since "$T") s"

# ------------------------------------------------------------------ partition and heal
HALF=$((NODES / 2))
A=$(seq 1 "$HALF")
B=$(seq $((HALF + 1)) "$NODES")
ID1=$(node_id 1)
IDB=$(node_id "$NODES")
move_ports() { local br=$1; shift; for i in "$@"; do ip -n "$HUB" link set "v$i" master "$br"; done; }
T=$(now)
move_ports br1 $B
seen_down() { [ "$(state_of "$1" "$2")" = down ]; }
seen_not_alive() { [ "$(state_of "$1" "$2")" != alive ]; }
wait_until "node 1 suspects node $NODES" seen_not_alive 1 "$IDB"
SUSPECT_A=$(since "$T")
wait_until "node 1 sees node $NODES down" seen_down 1 "$IDB"
DETECT_A=$(since "$T")
wait_until "node $NODES sees node 1 down" seen_down "$NODES" "$ID1"
DETECT_B=$(since "$T")
say "partition: node 1 suspected node $NODES after $SUSPECT_A s and saw it down after $DETECT_A s; node $NODES saw node 1 down after $DETECT_B s"
write_keys 2 "pa" 30
write_keys $((NODES - 1)) "pb" 30
sleep "$PARTITION_S"
move_ports br0 $B
T=$(now)
wait_until "convergence after heal" converged $(all_nodes)
HEAL_DATA=$(since "$T")
wait_until "every member alive after heal" all_see_all
say "heal: all $NODES nodes hold all $(wc -l <"$ACKED") keys after $HEAL_DATA s; all members alive after $(since "$T") s"

# ------------------------------------------------------------------ loss
REJOIN0=$(metric_sum scuttle_rejoins_total)
DOWN0=$(metric_sum 'scuttle_member_transitions_total{state="down"}')
SUSP0=$(metric_sum 'scuttle_member_transitions_total{state="suspect"}')
for i in $(all_nodes); do
  nx "$i" nft add table inet "$TAG"
  nx "$i" nft add chain inet "$TAG" input '{ type filter hook input priority 0; }'
  nx "$i" nft add rule inet "$TAG" input iifname eth0 numgen random mod 100 '<' "$LOSS" drop
done
T=$(now)
PER=$((LOSS_KEYS / NODES))
for i in $(all_nodes); do write_keys "$i" "l$i" "$PER"; done
wait_until "convergence under loss" converged $(all_nodes)
LOSS_CONV=$(since "$T")
REJOIN1=$(metric_sum scuttle_rejoins_total)
DOWN1=$(metric_sum 'scuttle_member_transitions_total{state="down"}')
SUSP1=$(metric_sum 'scuttle_member_transitions_total{state="suspect"}')
for i in $(all_nodes); do nx "$i" nft delete table inet "$TAG"; done
say "loss ${LOSS} %: $((PER * NODES)) keys on all $NODES nodes after $LOSS_CONV s (writes included)"
say "loss ${LOSS} %: false positives: live members seen 'down' $((DOWN1 - DOWN0)) times, 'suspect' (then refuted) $((SUSP1 - SUSP0)) times, over all $NODES views; identities renewed (SWIM rejoins) $((REJOIN1 - REJOIN0))"
wait_until "every member alive after loss" all_see_all

# ------------------------------------------------------------------ kill -9 and restart
K=3
IDK=$(node_id "$K")
kill_node "${PIDS[$K]}"
T=$(now)
wait_until "node 1 suspects node $K" seen_not_alive 1 "$IDK"
SUSPECT_K=$(since "$T")
wait_until "node 1 sees node $K down" seen_down 1 "$IDK"
say "kill -9: node 1 suspected node $K after $SUSPECT_K s and saw it down after $(since "$T") s"
start_node "$K"
wait_until "API of node $K" api_up "$K"
[ "$(node_id "$K")" = "$IDK" ] || { echo "node $K came back with another identity"; exit 1; }
T=$(now)
if [ "$STRICT_RESTART" = 1 ]; then
  # Durable versions: writes right after the restart, before catching up, must be kept.
  write_keys "$K" "early" 20
fi
wait_until "node $K caught up" converged "$K"
say "restart: node $K (same identity) holds all $(wc -l <"$ACKED") keys after $(since "$T") s"
write_keys "$K" "after" 20
T=$(now)
wait_until "writes after the restart converge" converged $(all_nodes)
say "restart: 20 writes on node $K reached all nodes after $(since "$T") s"

# ------------------------------------------------------------------ the TCP transport
# The same partition with `--transport tcp` (no membership: every node dials every other):
# a silent link must be noticed by the idle timeout, and the cluster heal, within a few rounds.
final_checks() {
  sort -u "$ACKED" >"$DIR/acked.sorted"
  for i in $(all_nodes); do
    api "$i" /v1/state | jq -r '.entries[] | "\(.key) \(.value)"' | sort -u >"$DIR/state$i"
    missing=$(comm -23 "$DIR/acked.sorted" "$DIR/state$i" | wc -l)
    if [ "$missing" != 0 ]; then
      echo "node $i lost $missing acknowledged writes, e.g.:"
      comm -23 "$DIR/acked.sorted" "$DIR/state$i" | head -5
      exit 1
    fi
  done
  BANS=$(metric_sum scuttle_bans_total)
  [ "$BANS" = 0 ] || { echo "$BANS bans: an honest peer was banned"; exit 1; }
  say "checked ($1): no acknowledged write lost ($(wc -l <"$DIR/acked.sorted") keys on each of $NODES nodes), 0 bans"
}
final_checks libp2p
[ "$STRICT_RESTART" = 1 ] || say "(writes right after a kill -9 restart not checked: SCUTTLE_NETNS_STRICT_RESTART=0)"

for i in $(all_nodes); do kill_node "${PIDS[$i]}"; done
start_tcp_node() {
  local i=$1 j peers=()
  for j in $(all_nodes); do [ "$j" != "$i" ] && peers+=("$(ipof "$j"):7401"); done
  ip netns exec "$(ns "$i")" "$BIN" node --transport tcp --id "n$i" --data-dir "$DIR/tcp-data$i" \
    --listen "$(ipof "$i"):7401" --api "$(ipof "$i"):7480" --interval-ms "$INTERVAL_MS" \
    --log-level "info" --peer "${peers[@]}" \
    <>"$DIR/n$i.in" >>"$DIR/n$i.out" 2>>"$DIR/n$i.err" &
  PIDS[$i]=$!
  disown "$!" # no "Killed" report when the test kills it
}
linked() { api "$1" /v1/members | jq -e --arg id "$2" 'any(.[]; .id == $id)' >/dev/null; }
not_linked() { ! linked "$@"; }
ACKED="$DIR/acked-tcp"
: >"$ACKED"
T=$(now)
for i in $(all_nodes); do start_tcp_node "$i"; done
for i in $(all_nodes); do wait_until "API of tcp node $i" api_up "$i"; done
wait_until "tcp node 1 linked to node $NODES" linked 1 "n$NODES"
write_keys 1 "t1" 50
wait_until "tcp writes converge" converged $(all_nodes)
say "tcp: $NODES nodes linked and 50 keys everywhere after $(since "$T") s"
T=$(now)
move_ports br1 $B
wait_until "tcp node 1 drops its link to node $NODES" not_linked 1 "n$NODES"
say "tcp partition: node 1 closed its silent link to node $NODES after $(since "$T") s (idle timeout)"
write_keys 2 "tpa" 30
write_keys $((NODES - 1)) "tpb" 30
sleep "$PARTITION_S"
move_ports br0 $B
T=$(now)
wait_until "tcp convergence after heal" converged $(all_nodes)
say "tcp heal: all $NODES nodes hold all $(wc -l <"$ACKED") keys after $(since "$T") s"
final_checks tcp

# ------------------------------------------------------------------ end
say "netns test passed in $(since "$T0") s"
[ -n "${RESULTS_OUT:-}" ] && cp "$RESULTS" "$RESULTS_OUT"
exit 0
