#!/usr/bin/env bash
# bench/signed.sh — issue 7: the cost of RFC 9421 request signatures.
#
# What it measures
#   1. Per request, without TLS/HTTP: bench/micro/sig_bench (parse of
#      Signature-Input/Signature, signature base, Ed25519 verify, nonce
#      digest and replay-cache insert) of a realistic signed GET, in ns.
#   2. Over HTTPS: reads (GET /fhir/Observation/{id}, ~1 KiB) by a service
#      client signing each request (Ed25519, @method + @target-uri,
#      created/keyid/nonce/alg; scope system/Observation.rs) vs the same
#      reads by a clinician with a bearer token. Nonces are single-use, so
#      every signed request is pre-generated with its own nonce by
#      bench/signgen.mjs (node:crypto, byte-identical to what the npm
#      package http-message-signatures produces) right before each run,
#      and a wrk Lua script sends each line once. The pool holds
#      1.5 x (bearer warm-up requests/s) x duration requests; a thread that
#      runs out stops early and the run is flagged (wrk would then
#      under-report requests/s).
#   Both Lua scripts build every request in request() the same way, so the
#   client-side cost is alike. Authorization differs slightly: the
#   service's system/ scope needs no care-team lookup, the clinician's
#   read one (~5 us, see bench/micro/authz_bench.c).
#
# Usage
#   bench/signed.sh
#   BENCH_DURATION=20 BENCH_ROUNDS=5 bench/signed.sh
# Parameters: those of lib.sh, plus BENCH_RECORDS_PATIENTS=10,
#   BENCH_RECORDS_OBS=20, BENCH_SIGNED_POOL (fixed pool size instead of
#   the estimate).
# Result: bench/results/signed-<UTC>.json. Needs: scripts/deps bench, node.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=featlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/featlib.sh"

NPAT=${BENCH_RECORDS_PATIENTS:-10}
NOBS=${BENCH_RECORDS_OBS:-20}
BENCH_MAX_SECONDS=${BENCH_MAX_SECONDS:-1800}
bench_init signed
command -v node >/dev/null 2>&1 || bench_die "node is required (scripts/deps bench)"
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"
export TMPDIR=$BENCH_TMP

feat_build sig_bench

# --- 1. micro ----------------------------------------------------------------
bench_log "part 1: sig_bench (RFC 9421 verification without HTTP)"
# Ed25519 at ~60-100 us is sensitive to a busy machine: more, longer rounds.
timeout 300 "$MICRO_DIR/sig_bench" --rounds "$((BENCH_ROUNDS < 9 ? 9 : BENCH_ROUNDS))" \
  --round-ms 300 --out "$BENCH_TMP/micro.json" --max-seconds 250 >"$BENCH_TMP/micro.txt" 2>&1 ||
  { cat "$BENCH_TMP/micro.txt" >&2; bench_die "sig_bench failed"; }
grep -E '^(case|pv_|Ed25519|signed GET)' "$BENCH_TMP/micro.txt" >&2 || true

# --- 2. HTTPS: signed vs bearer reads ------------------------------------------
bench_vault_create ""
bench_phivault_start
feat_user bench-doc clinician
TOKEN=$(feat_mfa_login bench-doc)
[ -n "$TOKEN" ] || bench_die "the clinician cannot log in"
bench_log "seeding $NPAT patients x $NOBS Observations"
feat_seed_records "$TOKEN" "$NPAT" "$NOBS"
IDS=$BENCH_TMP/seed/observations.txt

timeout 30 openssl genpkey -algorithm ed25519 -out "$BENCH_TMP/svc.pem" 2>/dev/null ||
  bench_die "openssl genpkey failed"
KEYID=$(openssl pkey -in "$BENCH_TMP/svc.pem" -pubout -outform DER | tail -c 32 | base64 |
  timeout 60 "$PHIVAULT" client add "$VAULT" --name bench-svc --scopes "system/Observation.rs")
[[ "$KEYID" =~ ^[A-Za-z0-9._-]+$ ]] || bench_die "client add printed '$KEYID'"

gen() { # gen COUNT OUT — a fresh pool of signed requests
  timeout 600 node "$BENCH_DIR/signgen.mjs" "$BENCH_TMP/svc.pem" "$KEYID" \
    "$PV_URL_BASE" "$IDS" "$1" "$2" || bench_die "signgen failed"
}
# Sanity: phivault accepts a generated request once, and refuses a replay.
gen 1 "$BENCH_TMP/one.txt"
IFS=$'\t' read -r p si sg <"$BENCH_TMP/one.txt"
st1=$(fcurl -o /dev/null -w '%{http_code}' -H "Signature-Input: $si" -H "Signature: $sg" "$PV_URL_BASE$p")
st2=$(fcurl -o /dev/null -w '%{http_code}' -H "Signature-Input: $si" -H "Signature: $sg" "$PV_URL_BASE$p")
if [ "$st1" != 200 ] || [ "$st2" != 401 ]; then
  bench_die "signed request check: first $st1 (want 200), replay $st2 (want 401)"
fi
bench_log "signed request accepted once, replay refused (keyid $KEYID)"

cat >"$BENCH_TMP/bearer.lua" <<EOF
-- Bearer-token reads, cycling over the seeded ids; one request built per
-- call, like signed.lua.
local ids = {}
for line in io.lines("$IDS") do ids[#ids + 1] = line end
local counter = 0
function setup(thread) thread:set("tid", counter) counter = counter + 1 end
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", "/fhir/Observation/" .. ids[((i + (tid or 0) * 7) % #ids) + 1],
    { ["Authorization"] = "Bearer $TOKEN" })
end
EOF
cat >"$BENCH_TMP/signed.lua" <<EOF
-- Signed reads: each thread takes every n-th line of the pool file
-- (\$SIGNED_POOL; n = \$SIGNED_THREADS) and sends each line once (nonces
-- are single-use). Near the end of its share a thread stops and says so
-- (the run is then flagged).
local sets = {}
local counter = 0
function setup(thread) thread:set("tid", counter) counter = counter + 1 end
function init(args)
  local n, k = tonumber(os.getenv("SIGNED_THREADS")), 0
  for line in io.lines(os.getenv("SIGNED_POOL")) do
    if k % n == tid then
      local p, si, sg = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
      sets[#sets + 1] = { p, si, sg }
    end
    k = k + 1
  end
  margin = tonumber(os.getenv("SIGNED_MARGIN"))
end
local i, warned = 0, false
function request()
  i = i + 1
  local s = sets[i] or sets[#sets]
  return wrk.format("GET", s[1], { ["Signature-Input"] = s[2], ["Signature"] = s[3] })
end
function response(status, headers, body)
  if i + margin >= #sets then
    if not warned then io.write("SIGNED POOL EXHAUSTED\n") warned = true end
    wrk.thread:stop()
  end
end
EOF

per_thread_conns=$(( (BENCH_CONNS + BENCH_THREADS - 1) / BENCH_THREADS ))
run() { # run LABEL OUT [DURATION] [POOL]
  local dur=${3:-$BENCH_DURATION}
  case "$1" in
    bearer-read)
      BENCH_CPU_PIDS=$PV_PID feat_wrk "$1" "$2" "$dur" "$BENCH_THREADS" "$BENCH_CONNS" 10s \
        "$PV_URL_BASE/" -s "$BENCH_TMP/bearer.lua" ;;
    signed-read)
      gen "$4" "$BENCH_TMP/pool.txt"
      SIGNED_THREADS=$BENCH_THREADS SIGNED_POOL=$BENCH_TMP/pool.txt \
      SIGNED_MARGIN=$per_thread_conns BENCH_CPU_PIDS=$PV_PID \
        feat_wrk "$1" "$2" "$dur" "$BENCH_THREADS" "$BENCH_CONNS" 10s \
        "$PV_URL_BASE/" -s "$BENCH_TMP/signed.lua"
      if grep -q 'SIGNED POOL EXHAUSTED' "${2%.json}.txt"; then
        echo "$1 $(basename "$2" .json): the signed pool ran out (requests/s under-reported)" \
          >>"$BENCH_TMP/exhausted.txt"
      fi ;;
  esac
  : >"$BENCH_TMP/phivault.log"
}

warm=$(( BENCH_WARMUP > 0 ? BENCH_WARMUP : 2 ))
bench_log "warm-up / calibration: bearer reads ${warm}s"
run bearer-read "$RUNS/warmup-bearer.json" "$warm"
cal=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["rps"]))' "$RUNS/warmup-bearer.json")
POOL=${BENCH_SIGNED_POOL:-$(( cal * 3 * BENCH_DURATION / 2 + 2000 ))}
bench_int BENCH_SIGNED_POOL "$POOL" 100
bench_log "signed pool: $POOL requests per run (bearer warm-up: $cal requests/s)"
if [ "$BENCH_WARMUP" -gt 0 ]; then
  run signed-read "$RUNS/warmup-signed.json" "$BENCH_WARMUP" $(( cal * 3 * BENCH_WARMUP / 2 + 2000 ))
fi
rm -f "$BENCH_TMP/exhausted.txt"
declare -A series
for r in $(seq 1 "$BENCH_ROUNDS"); do
  for l in bearer-read signed-read; do
    bench_log "round $r/$BENCH_ROUNDS: $l (${BENCH_DURATION}s)"
    run "$l" "$RUNS/$l-$r.json" "$BENCH_DURATION" "$POOL"
    series[$l]="${series[$l]:+${series[$l]},}$RUNS/$l-$r.json"
  done
done
kill -0 "$PV_PID" 2>/dev/null || bench_die "phivault died during the benchmark"
REJECTED=$(feat_metric phivault_signature_rejected_total)

out=$(bench_result_file signed)
feat_meta "$out" \
  "RFC 9421 signature verification: per-request cost (micro) and signed vs bearer-token read throughput over HTTPS" \
  "part 1 sig_bench micro-benchmark; part 2 wrk --latency alternating bearer-read / signed-read per round (signed requests pre-generated with unique nonces by bench/signgen.mjs before each run), medians over rounds" \
  "{'signed': {'scopes': 'system/Observation.rs', 'covered': ['@method', '@target-uri'], 'params': ['created', 'keyid', 'nonce', 'alg'], 'pool_per_run': $POOL, 'signature_rejected_total_at_end': $REJECTED, 'records': {'patients': $NPAT, 'observations_per_patient': $NOBS}}}"
python3 - "$BENCH_TMP/micro.json" "$RUNS" "$BENCH_ROUNDS" "$BENCH_TMP/exhausted.txt" \
  >"$BENCH_TMP/fig.json" <<'EOF'
import json, os, statistics, sys
micro = json.load(open(sys.argv[1]))
d, n = sys.argv[2], int(sys.argv[3])
def med(label, f):
    return statistics.median(f(json.load(open("%s/%s-%d.json" % (d, label, r))))
                             for r in range(1, n + 1))
cases = {c["case"]: c["ns_per_op"] for c in micro["cases"]}
b_rps, s_rps = med("bearer-read", lambda r: r["rps"]), med("signed-read", lambda r: r["rps"])
b_cpu = med("bearer-read", lambda r: r.get("server_cpu_us_per_req") or 0)
s_cpu = med("signed-read", lambda r: r.get("server_cpu_us_per_req") or 0)
fig = {"micro": {"cases": micro["cases"], "figures": micro["figures"],
                 "machine": micro["machine"]},
       "signed_over_bearer": {"rps": round(s_rps / b_rps, 3),
                              "server_cpu_us_per_req_delta": round(s_cpu - b_cpu, 1)}}
warn = open(sys.argv[4]).read().splitlines() if os.path.exists(sys.argv[4]) else []
if warn:
    fig["pool_exhausted"] = warn
full = cases.get("signed GET: everything but the key lookup")
fig["_warnings"] = warn
fig["_summary"] = [
    "verification per signed GET (micro, no key lookup): %.1f us; of which Ed25519 verify %.1f us, parse %.2f us"
    % (full / 1e3, cases["Ed25519 verify of the base (libsodium)"] / 1e3,
       cases["pv_sig_parse (Signature-Input + Signature)"] / 1e3),
    "HTTPS reads: signed %.0f/s vs bearer %.0f/s (x%.3f); server CPU per request +%.1f us"
    % (s_rps, b_rps, s_rps / b_rps, s_cpu - b_cpu)]
json.dump(fig, sys.stdout)
EOF
python3 "$BENCH_DIR/featsum.py" "$BENCH_TMP/meta.json" "$out" \
  --ratio signed-read/bearer-read --figures "$BENCH_TMP/fig.json" \
  "bearer-read:${series[bearer-read]}" "signed-read:${series[signed-read]}"
