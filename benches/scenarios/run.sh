#!/usr/bin/env bash
# Load-test scenarios: the performance targets of the pool and the translator, measured with
# sv2-loadgen against the real binaries, in a few minutes. Prints every run's report and the
# targets table at the end (benches/scenarios/README.md explains each scenario).
#
#   benches/scenarios/run.sh                 # small scale (~5 minutes on 2 cores)
#   SCALE=full benches/scenarios/run.sh      # the target scale, as far as this machine allows
#   OUT=/tmp/lg benches/scenarios/run.sh     # where the JSON reports go
#
# With two or more CPUs the pool (or translator) is pinned to CPU 0 and the load generator
# to CPU 1 (override with SERVER_CPUS / LOADGEN_CPUS); the pool gets one core as the
# targets require.
set -euo pipefail
cd "$(dirname "$0")/../.."

SCALE=${SCALE:-small}
OUT=${OUT:-target/loadgen}
mkdir -p "$OUT"

case "$SCALE" in
    small)
        THROUGHPUT_CONNS=64; THROUGHPUT_SECS=15
        MIX_CONNS=500; MIX_RATE=20000; MIX_SECS=15
        SCALE_CONNS=5000; FANOUT_BLOCKS=5
        SV1_CONNS=2000; SV1_SHARE_CONNS=500; SV1_RATE=100000; SV1_SECS=15
        ;;
    full)
        THROUGHPUT_CONNS=128; THROUGHPUT_SECS=30
        MIX_CONNS=2000; MIX_RATE=50000; MIX_SECS=30
        # 50 000 connections and 20 000 miners are the targets. Every connection is a file
        # descriptor in the load generator and in the server it starts (they inherit this
        # shell's limits): stay below the hard RLIMIT_NOFILE, which only root with
        # CAP_SYS_RESOURCE can raise (`ulimit -Hn`).
        FD_ROOM=$(( $(ulimit -Hn) - 500 ))
        SCALE_CONNS=${SCALE_CONNS:-$(( FD_ROOM < 50000 ? FD_ROOM : 50000 ))}; FANOUT_BLOCKS=10
        SV1_CONNS=${SV1_CONNS:-$(( FD_ROOM < 20000 ? FD_ROOM : 20000 ))}; SV1_SHARE_CONNS=1000
        SV1_RATE=150000; SV1_SECS=30
        ;;
    *)
        echo "SCALE must be small or full" >&2
        exit 2
        ;;
esac

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "== scale $SCALE: open-file limit $(ulimit -n)"
echo "== building release binaries"
cargo build --release --locked -p pool -p translator -p test-utils --bins
LG=target/release/sv2-loadgen

echo "== in-process validation bench (standard share)"
cargo bench --locked -p benches --bench share_validation -- \
    --warm-up-time 1 --measurement-time 3 c_standard_cache_hit >"$OUT/bench.txt" 2>&1 || {
    cat "$OUT/bench.txt" >&2
    exit 1
}
grep -A2 "c_standard_cache_hit" "$OUT/bench.txt" | head -3
ESTIMATES=target/criterion/share_validation/c_standard_cache_hit/new/estimates.json

# Pinning: server on one core, load generator on another.
PIN_LG=()
SERVER_PIN=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPUS=${SERVER_CPUS:-0}
    LOADGEN_CPUS=${LOADGEN_CPUS:-1}
    PIN_LG=(taskset -c "$LOADGEN_CPUS")
    SERVER_PIN=(--pool-cpus "$SERVER_CPUS")
    echo "== server pinned to CPU $SERVER_CPUS, load generator to CPU $LOADGEN_CPUS"
fi

run() {
    local name=$1
    shift
    echo
    echo "== $name: sv2-loadgen $*"
    "${PIN_LG[@]}" "$LG" "$@" --json "$OUT/$name.json"
}

# 1. Throughput: standard channels, unpaced (each connection keeps up to --window shares in
#    flight), only valid shares, no blocks: the most acknowledged shares/s one pool core gives.
run throughput sv2 "${SERVER_PIN[@]}" -n "$THROUGHPUT_CONNS" --rate 0 --window 256 \
    --duration "$THROUGHPUT_SECS" --invalid 0 --stale 0 --duplicate 0 \
    --idle-blocks 0 --block-interval 0 --validation-estimates "$ESTIMATES"

# 2. Share mix at a fixed rate: latency, verdicts by kind (1 % bad nonces, 1 % stale after
#    blocks every 3 s, 1 % duplicates).
run mix sv2 "${SERVER_PIN[@]}" -n "$MIX_CONNS" --rate "$MIX_RATE" --duration "$MIX_SECS" \
    --invalid 0.01 --stale 0.01 --duplicate 0.01 --block-interval 3 --idle-blocks 0

# 2b. The same with one SubmitShares.Success per share: the pool's own answer time.
run latency sv2 "${SERVER_PIN[@]}" -n "$MIX_CONNS" --rate "$MIX_RATE" --duration 10 --ack-batch 1 \
    --invalid 0.01 --stale 0.01 --duplicate 0.01 --block-interval 3 --idle-blocks 0

# 3. Extended channels (what translators open), unpaced.
run extended sv2 "${SERVER_PIN[@]}" --mode extended -n "$THROUGHPUT_CONNS" --rate 0 --window 256 \
    --duration 10 --invalid 0 --stale 0 --duplicate 0 --idle-blocks 0 --block-interval 0 \
    --validation-estimates "$ESTIMATES"

# 4. Connections: idle channels, RSS per connection, new-block fan-out to all of them.
run connections sv2 "${SERVER_PIN[@]}" -n "$SCALE_CONNS" --connect-rate 3000 --duration 0 \
    --idle-blocks "$FANOUT_BLOCKS" --settle 5

# 5. Translator: SV1 miners (idle RSS), then shares validated by the translator.
TR_PIN=()
if [ ${#SERVER_PIN[@]} -gt 0 ]; then TR_PIN=(--translator-cpus "$SERVER_CPUS" --pool-cpus "$LOADGEN_CPUS"); fi
run translator sv1 "${TR_PIN[@]}" -n "$SV1_CONNS" --share-connections "$SV1_SHARE_CONNS" \
    --rate "$SV1_RATE" --duration "$SV1_SECS" --connect-rate 3000

echo
echo "== targets (scale: $SCALE; reports in $OUT)"
"$LG" summary "$OUT"/throughput.json "$OUT"/mix.json "$OUT"/latency.json "$OUT"/extended.json \
    "$OUT"/connections.json "$OUT"/translator.json
