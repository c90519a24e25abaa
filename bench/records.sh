#!/usr/bin/env bash
# bench/records.sh — issue 5: encrypted read and write throughput over
# HTTPS, against nginx serving the same ~1 KiB JSON statically, in the
# same run.
#
# What it measures
#   - phivault-read: GET /fhir/Observation/{id} with a clinician's bearer
#     token, cycling over BENCH_RECORDS_PATIENTS x BENCH_RECORDS_OBS
#     Observations of ~1 KiB (session check, care-team authorization,
#     SQLite row read, DEK cache, AES-256-GCM open, JSON, audit entry made
#     durable by group commit before the response, TLS 1.3).
#   - phivault-write: POST /fhir/Observation, ~1 KiB body, same clinician
#     (validation, seal under the patient's DEK, SQLite insert with
#     synchronous=full, write-ahead audit entry): every request creates a
#     new resource.
#   - nginx-static: nginx serving the bytes of one phivault read response
#     as a static application/fhir+json file with the same security
#     headers (and access log), TLS 1.3, same certificate.
#   Ratios phivault-read/nginx-static and phivault-write/nginx-static are
#   reported; the crypto alone is in bench/micro/crypto_bench.c.
#
# Method: as bench/healthz.sh: warm-up, then per round phivault-read,
#   phivault-write, nginx-static (wrk --latency, same threads/connections/
#   duration), medians over rounds. The clinician has MFA (enrolled with a
#   TOTP computed by python3), as the default policy requires.
#
# Usage
#   bench/records.sh
#   BENCH_DURATION=20 BENCH_ROUNDS=5 bench/records.sh
# Parameters: those of lib.sh, plus BENCH_RECORDS_PATIENTS=10,
#   BENCH_RECORDS_OBS=20 (Observations per patient).
# Result: bench/results/records-<UTC>.json. Needs: scripts/deps bench.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=featlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/featlib.sh"

NPAT=${BENCH_RECORDS_PATIENTS:-10}
NOBS=${BENCH_RECORDS_OBS:-20}
bench_init records
bench_int BENCH_RECORDS_PATIENTS "$NPAT" 1
bench_int BENCH_RECORDS_OBS "$NOBS" 1
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
first=$(head -n1 "$SEED/observations.txt")

# --- nginx: the bytes of one phivault read, as a static file --------------
bench_nginx_prepare
feat_api GET "/fhir/Observation/$first" "$TOKEN" >"$NGX_ROOT/obs.json"
size=$(wc -c <"$NGX_ROOT/obs.json")
[ "$size" -gt 900 ] || bench_die "unexpected read response ($size bytes)"
bench_log "one Observation read = $size bytes of JSON"
bench_nginx_start "
        location = /obs.json {
            types { }
            default_type application/fhir+json;
            alias $NGX_ROOT/obs.json;
            etag off;
$(feat_nginx_headers)
        }
        location / {
            return 404;
        }"

# --- wrk scripts ---------------------------------------------------------
feat_read_lua "$BENCH_TMP/read.lua" "$SEED/observations.txt" "$TOKEN"
cat >"$BENCH_TMP/write.lua" <<EOF
-- POST /fhir/Observation: a new ~1 KiB resource every request.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/fhir+json"
local f = assert(io.open("$SEED/obs.json", "rb"))
wrk.body = f:read("*a")
f:close()
EOF

NGX_PIDS=$(bench_proc_tree "$NGX_PID")
run() { # run LABEL OUT [DURATION]
  local url pids script=()
  case "$1" in
    phivault-read) url=$PV_URL_BASE/; pids=$PV_PID; script=(-s "$BENCH_TMP/read.lua") ;;
    phivault-write) url=$PV_URL_BASE/fhir/Observation; pids=$PV_PID
                    script=(-s "$BENCH_TMP/write.lua") ;;
    nginx-static) url=$NGX_URL_BASE/obs.json; pids=$NGX_PIDS ;;
  esac
  BENCH_CPU_PIDS=$pids feat_wrk "$1" "$2" "${3:-$BENCH_DURATION}" "$BENCH_THREADS" \
    "$BENCH_CONNS" 10s "$url" "${script[@]}"
  : >"$BENCH_TMP/phivault.log"
  [ ! -f "$NGX_DIR/access.log" ] || : >"$NGX_DIR/access.log"
}

labels=(phivault-read phivault-write nginx-static)
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
kill -0 "$NGX_PID" 2>/dev/null || bench_die "nginx died during the benchmark"
ENTRIES=$(feat_metric phivault_audit_entries_total)
FSYNCS=$(feat_metric phivault_audit_fsyncs_total)

out=$(bench_result_file records)
feat_meta "$out" \
  "encrypted FHIR read and write throughput over HTTPS vs nginx static (same ~1 KiB JSON)" \
  "wrk --latency, keep-alive; per round phivault-read, phivault-write, nginx-static after a discarded warm-up; medians over rounds; wrk shares the CPUs with the server" \
  "{'records': {'patients': $NPAT, 'observations_per_patient': $NOBS, 'read_response_bytes': $size, 'auth': 'clinician bearer token (MFA verified), care-team authorization', 'nginx': {'static_file': True, 'security_headers': $(feat_py_bool "${BENCH_NGINX_HEADERS:-1}"), 'access_log': $(feat_py_bool "${BENCH_NGINX_ACCESS_LOG:-1}")}}, 'audit_counters_at_end': {'entries': $ENTRIES, 'fsyncs': $FSYNCS}}"
python3 - "$RUNS" "$BENCH_ROUNDS" >"$BENCH_TMP/fig.json" <<'EOF'
import json, statistics, sys
d, n = sys.argv[1], int(sys.argv[2])
med = {l: statistics.median(json.load(open("%s/%s-%d.json" % (d, l, r)))["rps"]
                            for r in range(1, n + 1))
       for l in ("phivault-read", "phivault-write", "nginx-static")}
print(json.dumps({"_summary": [
    "encrypted reads/s %.0f = %.3f x nginx static (%.0f/s); encrypted writes/s %.0f = %.3f x nginx static"
    % (med["phivault-read"], med["phivault-read"] / med["nginx-static"],
       med["nginx-static"], med["phivault-write"],
       med["phivault-write"] / med["nginx-static"])]}))
EOF
python3 "$BENCH_DIR/featsum.py" "$BENCH_TMP/meta.json" "$out" \
  --ratio phivault-read/nginx-static --ratio phivault-write/nginx-static \
  --figures "$BENCH_TMP/fig.json" \
  "phivault-read:${series[phivault-read]}" \
  "phivault-write:${series[phivault-write]}" \
  "nginx-static:${series[nginx-static]}"
