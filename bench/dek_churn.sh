#!/usr/bin/env bash
# bench/dek_churn.sh — encrypted reads while new patients arrive.
#
# Why: every new patient commits a new data key to keys/keys.db. The DEK
# cache (src/core/dek.c) must forget keys that were shredded, and it learns
# about other connections' commits through keys.db's data_version; if it
# emptied itself on every such commit, a clinic registering patients would
# make every server thread throw away its unwrapped keys and pay an unwrap
# per read until the cache refilled.
#
# What it measures, per round, with wrk at BENCH_CONNS connections:
#   - read:       GET /fhir/Observation/{id} over the seeded records;
#   - read-churn: the same, while a second client (python3, one keep-alive
#                 connection) creates BENCH_CHURN_RATE new Patients per
#                 second (each gets a new DEK), for the whole run.
# Ratio read-churn/read, medians over rounds; the DEK-unwrap counter
# (phivault_dek_unwraps_total) over each run is reported as well.
#
# Usage
#   bench/dek_churn.sh
#   BENCH_CHURN_PATIENTS=2000 BENCH_CHURN_RATE=50 bench/dek_churn.sh
# Parameters: those of lib.sh, plus BENCH_CHURN_PATIENTS=1000 (seeded
#   patients), BENCH_CHURN_OBS=4 (Observations each), BENCH_CHURN_RATE=20
#   (new patients per second during read-churn).
# Result: bench/results/dek_churn-<UTC>.json. Needs: scripts/deps bench.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=featlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/featlib.sh"

NPAT=${BENCH_CHURN_PATIENTS:-1000}
NOBS=${BENCH_CHURN_OBS:-4}
RATE=${BENCH_CHURN_RATE:-20}
bench_init dek_churn
bench_int BENCH_CHURN_PATIENTS "$NPAT" 1
bench_int BENCH_CHURN_OBS "$NOBS" 1
bench_int BENCH_CHURN_RATE "$RATE" 1
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"

feat_build
bench_vault_create ""
bench_phivault_start
feat_user bench-doc clinician
TOKEN=$(feat_mfa_login bench-doc)
[ -n "$TOKEN" ] || bench_die "the clinician cannot log in"
bench_log "seeding $NPAT patients x $NOBS Observations"
feat_seed_records "$TOKEN" "$NPAT" "$NOBS"
SEED=$BENCH_TMP/seed

feat_read_lua "$BENCH_TMP/read.lua" "$SEED/observations.txt" "$TOKEN"

# churn SECONDS — creates RATE Patients per second for SECONDS seconds
# (bounded: RATE x SECONDS requests, 10 s timeout each); prints how many
# were created.
cat >"$BENCH_TMP/churn.py" <<'EOF'
import http.client, ssl, sys, time, urllib.parse
base, cafile, token, rate, secs = sys.argv[1:6]
rate, secs = int(rate), int(secs)
u = urllib.parse.urlsplit(base)
ctx = ssl.create_default_context(cafile=cafile)
c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
body = '{"resourceType":"Patient","gender":"male","birthDate":"1970"}'
hdr = {"Authorization": "Bearer " + token,
       "Content-Type": "application/fhir+json"}
made, t0 = 0, time.monotonic()
for n in range(rate * secs):
    delay = t0 + n / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    c.request("POST", "/fhir/Patient", body, hdr)
    r = c.getresponse()
    r.read()
    made += r.status == 201
print(made)
EOF

run() { # run LABEL OUT [DURATION]
  local dur=${3:-$BENCH_DURATION} churn_pid="" u0 u1
  u0=$(feat_metric phivault_dek_unwraps_total)
  if [ "$1" = read-churn ]; then
    timeout $((dur + 30)) python3 "$BENCH_TMP/churn.py" "$PV_URL_BASE" \
      "$BENCH_CERT" "$TOKEN" "$RATE" "$dur" >"${2%.json}.made" &
    churn_pid=$!
  fi
  BENCH_CPU_PIDS=$PV_PID feat_wrk "$1" "$2" "$dur" "$BENCH_THREADS" \
    "$BENCH_CONNS" 10s "$PV_URL_BASE/" -s "$BENCH_TMP/read.lua"
  if [ -n "$churn_pid" ]; then
    wait "$churn_pid" || bench_die "the patient-creating client failed"
  fi
  u1=$(feat_metric phivault_dek_unwraps_total)
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
r["dek_unwraps"] = int(float(sys.argv[2])) - int(float(sys.argv[3]))
json.dump(r, open(sys.argv[1], "w"))' "$2" "$u1" "$u0"
  : >"$BENCH_TMP/phivault.log"
}

labels=(read read-churn)
if [ "$BENCH_WARMUP" -gt 0 ]; then
  bench_log "warm-up: ${BENCH_WARMUP}s each"
  for l in "${labels[@]}"; do run "$l" "$RUNS/warmup-$l.json" "$BENCH_WARMUP"; done
fi
declare -A series
for r in $(seq 1 "$BENCH_ROUNDS"); do
  for l in "${labels[@]}"; do
    bench_log "round $r/$BENCH_ROUNDS: $l (${BENCH_DURATION}s)"
    run "$l" "$RUNS/$l-$r.json"
    series[$l]="${series[$l]:+${series[$l]},}$RUNS/$l-$r.json"
  done
done
kill -0 "$PV_PID" 2>/dev/null || bench_die "phivault died during the benchmark"

out=$(bench_result_file dek_churn)
feat_meta "$out" \
  "encrypted reads with and without new patients (new DEKs) being created" \
  "wrk --latency, keep-alive; per round read, then read while a second client creates BENCH_CHURN_RATE Patients/s; medians over rounds; wrk shares the CPUs with the server" \
  "{'dek_churn': {'patients': $NPAT, 'observations_per_patient': $NOBS, 'new_patients_per_second': $RATE}}"
python3 - "$RUNS" "$BENCH_ROUNDS" "$RATE" >"$BENCH_TMP/fig.json" <<'EOF'
import json, statistics, sys
d, n, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def runs(l):
    return [json.load(open("%s/%s-%d.json" % (d, l, r))) for r in range(1, n + 1)]
rps = {l: statistics.median(x["rps"] for x in runs(l)) for l in ("read", "read-churn")}
unw = {l: statistics.median(x["dek_unwraps"] / x["requests"] for x in runs(l))
       for l in ("read", "read-churn")}
made = [int(open("%s/read-churn-%d.made" % (d, r)).read() or 0) for r in range(1, n + 1)]
print(json.dumps({"_summary": [
    "reads/s %.0f quiet, %.0f while %d patients/s are created = %.3f x; "
    "DEK unwraps per read %.4f quiet, %.4f under churn; patients created per round %s"
    % (rps["read"], rps["read-churn"], rate,
       rps["read-churn"] / rps["read"], unw["read"], unw["read-churn"], made)]}))
EOF
python3 "$BENCH_DIR/featsum.py" "$BENCH_TMP/meta.json" "$out" \
  --ratio read-churn/read --figures "$BENCH_TMP/fig.json" \
  "read:${series[read]}" "read-churn:${series[read-churn]}"
