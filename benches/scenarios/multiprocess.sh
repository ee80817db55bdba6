#!/usr/bin/env bash
# More SV2 connections on one host than one process may open: NODES sv2-pool processes share
# one port ([server] reuse_port = true, SO_REUSEPORT; each its own node_id), as many load
# generators open PER_LOADGEN idle connections each from their own loopback source address,
# and the script reports the connections held at once, the pools' RSS per connection, and
# the pools' own new-block fan-out (bitcoind template -> SetNewPrevHash written, per
# connection: the pool_new_block_to_prevhash_seconds histogram) while the stand-in mines a
# block every BLOCK_SECS.
#
#   benches/scenarios/multiprocess.sh                          # 3 x 17 000 = 51 000 connections
#   NODES=2 PER_LOADGEN=5000 benches/scenarios/multiprocess.sh # smaller
#   SKIP_BUILD=1 ...                                           # use the binaries already built
#
# Why: this machine's hard open-file limit (20 000, `ulimit -Hn`) caps one process below the
# 50 000-connection target; a production host raises it (systemd LimitNOFILE) and runs one pool.
set -euo pipefail
cd "$(dirname "$0")/../.."

NODES=${NODES:-3}
PER_LOADGEN=${PER_LOADGEN:-17000}
HOLD_SECS=${HOLD_SECS:-90}
BLOCK_SECS=${BLOCK_SECS:-15}
OUT=${OUT:-target/loadgen-multiprocess}
PORT=${PORT:-34290}
RPC_PORT=${RPC_PORT:-18990}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "== building release binaries"
    cargo build --release --locked -p pool -p test-utils --bins
fi
BIN=target/release

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

"$BIN/bitcoind-standin" --port "$RPC_PORT" --mine-every "$BLOCK_SECS" >"$OUT/standin.log" 2>&1 &
pids+=($!)
keys=$("$BIN/sv2-keys" authority)
pub=$(sed -n 's/^authority_public_key = "\(.*\)"/\1/p' <<<"$keys")
sec=$(sed -n 's/^authority_secret_key = "\(.*\)"/\1/p' <<<"$keys")

pool_pids=()
for id in $(seq 1 "$NODES"); do
    cat >"$OUT/pool-$id.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
authority_public_key = "$pub"
authority_secret_key = "$sec"
node_id = $id
reuse_port = true

[bitcoind]
url = "http://127.0.0.1:$RPC_PORT/"
user = "pool"
password = "poolpass"
poll_interval_ms = 200

[[payout]]
# regtest P2WPKH of a fixed test key; these runs never spend
address = "bcrt1ql3e9pgs3mmwuwrh95fecme0s0qtn2880hlwwpw"

[mining]
# fixed difficulty: no vardiff timers on idle connections
min_difficulty = 1e-8
initial_difficulty = 1e-8
max_difficulty = 1e-8

[limits]
handshake_timeout_secs = 120
setup_timeout_secs = 120
max_connections_per_ip = 1000000
max_connections = 1000000

[metrics]
listen = "127.0.0.1:$((9290 + id))"
EOF
    "$BIN/sv2-pool" --config "$OUT/pool-$id.toml" run >"$OUT/pool-$id.log" 2>&1 &
    pids+=($!)
    pool_pids+=($!)
done
sleep 3

rss_kib() {
    local total=0 p
    for p in "${pool_pids[@]}"; do
        total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status")))
    done
    echo "$total"
}
established() {
    ss -Htn state established "( sport = :$PORT )" | wc -l
}
base_rss=$(rss_kib)
echo "== $NODES pools up, RSS $base_rss KiB in total"

lg_pids=()
for i in $(seq 1 "$NODES"); do
    "$BIN/sv2-loadgen" sv2 --pool "127.0.0.1:$PORT" --authority-key "$pub" \
        -n "$PER_LOADGEN" --duration 0 --settle "$HOLD_SECS" --source "127.0.0.$((10 + i))" \
        --connect-rate 3000 --quiet --json "$OUT/loadgen-$i.json" >"$OUT/loadgen-$i.log" 2>&1 &
    pids+=($!)
    lg_pids+=($!)
done

# The pools' fan-out histogram summed over the nodes: "<le> <cumulative count>" lines.
fanout_buckets() {
    for id in $(seq 1 "$NODES"); do
        curl -s "http://127.0.0.1:$((9290 + id))/metrics" |
            sed -n 's/^pool_new_block_to_prevhash_seconds_bucket{le="\([^"]*\)"} \(.*\)$/\1 \2/p'
    done | awk '{sum[$1] += $2} END {for (le in sum) print le, sum[le]}' | sort -g
}

# Sample while the load generators hold their connections; the stand-in mines a block every
# BLOCK_SECS; fan-out is counted from the moment every connection is up.
want=$((NODES * PER_LOADGEN))
max_conns=0
rss_at_max=0
before=""
start=$(date +%s)
while kill -0 "${lg_pids[0]}" 2>/dev/null; do
    sleep 2
    n=$(established)
    if [ "$n" -gt "$max_conns" ]; then
        max_conns=$n
        rss_at_max=$(rss_kib)
    fi
    if [ -z "$before" ] && [ "$n" -ge "$want" ]; then
        before=$(fanout_buckets)
        echo "   all $n connections up: fan-out counted from here"
    fi
    echo "   t=$(($(date +%s) - start))s connections $n, pools' RSS $(rss_kib) KiB"
done
after=$(fanout_buckets)
wait "${lg_pids[@]}" || true

echo
echo "== results ($NODES pool processes on one port, $NODES load generators)"
echo "connections held at once:      $max_conns (asked for $want)"
if [ "$max_conns" -gt 0 ]; then
    echo "pools' RSS at that moment:     $rss_at_max KiB (before connecting: $base_rss KiB)"
    echo "RSS per connection:            $(( (rss_at_max - base_rss) * 1024 / max_conns )) bytes"
fi
# Fan-out while everything was connected: the histogram's growth since then.
diff=$(join -a 2 -e 0 -o 0,1.2,2.2 <(echo "$before" | sort) <(echo "$after" | sort) |
    awk '{print $1, $3 - $2}' | sort -g)
total_obs=$(awk '$1 == "+Inf" {print $2}' <<<"$diff")
echo "fan-out observations:          ${total_obs:-0} (connections x blocks, all connected)"
if [ "${total_obs:-0}" -gt 0 ]; then
    awk -v t="$total_obs" '$1 != "+Inf" {printf "  <= %-8s s: %6.2f %%\n", $1, 100 * $2 / t}' <<<"$diff"
fi
