#!/usr/bin/env bash
# bench/startup.sh — how long a server takes to open a large audit trail
# and answer its first request (issue 14: the one audit line parser reads
# every line at start-up).
#
# A vault is filled with BENCH_STARTUP_ENTRIES (300,000) audit entries by
# bench/micro/audit_bench --fill, then each binary given is started on it
# BENCH_ROUNDS (3) times, alternating (A B A B ...), and timed from exec
# to the first 200 from GET /healthz. Prints each binary's median and the
# ratio to the first one (the baseline, measured in the same run).
#
# Usage: bench/startup.sh PHIVAULT_A [PHIVAULT_B ...]
#   (build audit_bench first: cmake -B build -DPV_BENCH=ON && cmake --build build)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,13p' "$0"; exit 2; }
ENTRIES=${BENCH_STARTUP_ENTRIES:-300000}
ROUNDS=${BENCH_ROUNDS:-3}
PORT=${BENCH_STARTUP_PORT:-18443}
FILL=${AUDIT_BENCH:-build/bench/micro/audit_bench}
tmp=$(mktemp -d /tmp/pv-startup-XXXXXX)
trap 'pkill -f "serve $tmp/v" 2>/dev/null || true; rm -rf "$tmp"' EXIT

printf '%s\n' "Quiet-harbour-lantern-7" | "$1" init "$tmp/v" >/dev/null
timeout 1800 "$FILL" --fill "$ENTRIES" --vault "$tmp/v" >/dev/null

start_once() {	# binary -> seconds to the first /healthz 200
  local bin=$1 t0 t1 pid
  t0=$(date +%s.%N)
  "$bin" serve "$tmp/v" --listen "127.0.0.1:$PORT" 2>"$tmp/serve.log" &
  pid=$!
  for _ in $(seq 1 6000); do
    if curl -sk -o /dev/null -m 1 "https://127.0.0.1:$PORT/healthz"; then
      break
    fi
    sleep 0.01
  done
  t1=$(date +%s.%N)
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  echo "$t1 - $t0" | bc -l
}

declare -A times
for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    times[$bin]+="$(start_once "$bin") "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${times[$1]}" | median)
echo "start-up to first /healthz 200 on a trail of $ENTRIES entries, $ROUNDS rounds (A/B alternating):"
for bin in "$@"; do
  m=$(echo "${times[$bin]}" | median)
  printf '  %-50s median %6.2f s  (%s)  ratio %.2f\n' "$bin" "$m" "${times[$bin]% }" \
    "$(echo "$m / $base" | bc -l)"
done
