# shellcheck shell=bash
# bench/featlib.sh — helpers shared by the feature benchmarks (login.sh,
# records.sh, audit.sh, signed.sh, deid.sh); source, don't run. Sources
# bench/lib.sh (temp dir, cleanup trap, watchdog, Release build, vault,
# phivault/nginx start, wrk parsing) and adds:
#
#   feat_build [MICRO...]        Release build of phivault (lib.sh), plus
#                                the named micro-benchmarks (-DPV_BENCH=ON)
#                                in the same build dir -> $MICRO_DIR
#   feat_user NAME ROLE [PID]    account via `phivault user add` (password
#                                $FEAT_PW on stdin)
#   feat_login NAME              POST /auth/login -> token on stdout
#   feat_mfa_login NAME          login + TOTP enrolment + confirm (clinician,
#                                nurse... need MFA by default) -> token
#   feat_api METHOD PATH TOKEN [BODYFILE]   one request, body on stdout
#   feat_seed_records TOKEN NPAT NOBS       patients + ~1 KiB Observations
#                                (bench/seed.py)
#   feat_read_lua OUT IDS TOKEN  wrk script reading those Observations
#   feat_metric NAME             a counter from /metrics
#   feat_wait_quiet NAME [MAX]   until that counter stops moving
#   feat_wrk LABEL OUT.json DUR THREADS CONNS TIMEOUT URL [wrk args...]
#   feat_nginx_headers           nginx add_header lines = phivault's headers
#   feat_hook_cleanup CMD        run CMD (e.g. umount) before lib.sh cleanup
#   feat_phivault_start VAULT LOG  a (second) server on its own vault
#   feat_time LABEL OUT RUNS PREP -- CMD...   CLI wall time over runs
#
# Every server listens on 127.0.0.1 only; every external command is bounded
# by timeout/--max-time; the lib.sh watchdog bounds the whole script.
# Tools: those of lib.sh (wrk, nginx, curl, openssl, python3 stdlib), and
# per script hyperfine or /usr/bin/time (deid.sh, audit.sh) and node
# (signed.sh, node:crypto only: no npm package needed).

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A throw-away password for every bench account (policy: >= 12 chars, not
# common, not containing the user name).
FEAT_PW=${FEAT_PW:-"Bench-Account-passw0rd-x"}
FEAT_CLEANUP_HOOKS=()

# feat_hook_cleanup CMD — run CMD (eval'd) at exit, before lib.sh's
# cleanup stops the tracked processes and removes the temp dir. Call after
# bench_init (it re-installs the EXIT trap around lib.sh's).
feat_hook_cleanup() {
  FEAT_CLEANUP_HOOKS+=("$1")
  trap feat_cleanup EXIT
}

feat_cleanup() {
  local rc=$? h
  for h in "${FEAT_CLEANUP_HOOKS[@]}"; do eval "$h" || true; done
  (exit "$rc")
  bench_cleanup
}

# feat_build [MICRO_TARGET...] — sets PHIVAULT (and MICRO_DIR).
# shellcheck disable=SC2120  # the targets are optional
feat_build() {
  bench_build_phivault
  [ $# -gt 0 ] || return 0
  local dir
  dir=$(dirname "$PHIVAULT")
  bench_log "building micro-benchmarks: $*"
  timeout 120 cmake -S "$BENCH_SRC" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DPV_TESTS=OFF -DPV_BENCH=ON >>"$BENCH_TMP/cmake.log" 2>&1 ||
    { tail -n 30 "$BENCH_TMP/cmake.log" >&2; bench_die "cmake configure (PV_BENCH) failed"; }
  timeout 600 cmake --build "$dir" -j"$BENCH_CPUS" --target "$@" \
    >>"$BENCH_TMP/cmake.log" 2>&1 ||
    { tail -n 30 "$BENCH_TMP/cmake.log" >&2; bench_die "micro-benchmark build failed"; }
  # shellcheck disable=SC2034  # used by the calling benchmark
  MICRO_DIR=$dir/bench/micro
}

feat_user() {
  local args=(user add "$VAULT" --name "$1" --role "$2")
  [ -z "${3:-}" ] || args+=(--patient "$3")
  printf '%s\n' "$FEAT_PW" | timeout 60 "$PHIVAULT" "${args[@]}" >/dev/null ||
    bench_die "cannot add user $1"
}

# fcurl [curl args] — curl against phivault with the vault's CA, bounded.
fcurl() { curl -sS --max-time 30 --cacert "$BENCH_CERT" "$@"; }

# feat_json KEY — reads a JSON object on stdin, prints .KEY ("" if none).
feat_json() {
  python3 -c 'import json,sys
try: v = json.load(sys.stdin).get(sys.argv[1], "")
except Exception: v = ""
print(v if v is not None else "")' "$1"
}

feat_login() {
  local body
  body=$(python3 -c 'import json,sys; print(json.dumps({"username": sys.argv[1],
"password": sys.argv[2]}))' "$1" "$FEAT_PW")
  fcurl -X POST -H 'Content-Type: application/json' -d "$body" \
    "${FEAT_BASE:-$PV_URL_BASE}/auth/login" | feat_json token
}

# feat_totp BASE32 — the current RFC 6238 code (SHA-1, 6 digits, 30 s).
feat_totp() {
  python3 - "$1" <<'EOF'
import base64, hashlib, hmac, struct, sys, time
s = sys.argv[1].upper()
key = base64.b32decode(s + "=" * (-len(s) % 8))
h = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 10 ** 6))
EOF
}

# feat_mfa_login NAME — password login, TOTP enrolment and confirmation;
# prints the MFA-verified token.
feat_mfa_login() {
  local base=${FEAT_BASE:-$PV_URL_BASE} tok sec code
  tok=$(feat_login "$1")
  [ -n "$tok" ] || bench_die "login of $1 failed"
  sec=$(fcurl -X POST -H "Authorization: Bearer $tok" "$base/auth/mfa/enroll" |
        feat_json secret)
  [ -n "$sec" ] || bench_die "MFA enrolment of $1 failed"
  code=$(feat_totp "$sec")
  fcurl -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    -d "{\"otp\":\"$code\"}" "$base/auth/mfa/confirm" | feat_json token
}

# feat_api METHOD PATH TOKEN [BODYFILE] — prints the response body.
feat_api() {
  local args=(-X "$1" -H "Authorization: Bearer $3")
  [ -z "${4:-}" ] || args+=(-H 'Content-Type: application/fhir+json' --data-binary "@$4")
  fcurl "${args[@]}" "${FEAT_BASE:-$PV_URL_BASE}$2"
}

# feat_seed_records TOKEN NPAT NOBS — as a clinician (who joins each new
# patient's care team): NPAT patients, NOBS ~1 KiB Observations each, over
# one keep-alive connection (bench/seed.py). Writes
# $BENCH_TMP/seed/{patients,observations}.txt (ids, one per line) and
# $BENCH_TMP/seed/obs.json (a POST body for patient 1); FEAT_SEED_DIR
# overrides the directory.
feat_seed_records() {
  timeout 600 python3 "$BENCH_DIR/seed.py" "${FEAT_BASE:-$PV_URL_BASE}" "$BENCH_CERT" \
    "$1" "$2" "$3" "${FEAT_SEED_DIR:-$BENCH_TMP/seed}" || bench_die "seeding failed"
}

# feat_read_lua OUT IDS TOKEN — a wrk script: GET /fhir/Observation/{id}
# with bearer TOKEN, cycling over the ids in file IDS (one per line; each
# wrk thread starts at a different offset).
feat_read_lua() {
  cat >"$1" <<EOF
-- GET /fhir/Observation/{id}, cycling over the seeded ids (each thread
-- starts at a different offset).
local ids = {}
for line in io.lines("$2") do ids[#ids + 1] = line end
local counter = 0
function setup(thread) thread:set("offset", counter * 7) counter = counter + 1 end
local i = 0
wrk.headers["Authorization"] = "Bearer $3"
function request()
  i = i + 1
  return wrk.format("GET", "/fhir/Observation/" .. ids[((i + (offset or 0)) % #ids) + 1])
end
EOF
}

# feat_metric NAME — one counter from /metrics (0 when absent).
feat_metric() {
  fcurl "${FEAT_BASE:-$PV_URL_BASE}/metrics" |
    awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}

# feat_wrk LABEL OUT.json DURATION THREADS CONNS TIMEOUT URL [wrk args...]
# — one bounded wrk --latency run parsed by wrkparse.py; BENCH_CPU_PIDS
# as in bench_wrk.
feat_wrk() {
  local label=$1 out=$2 dur=$3 th=$4 cn=$5 to=$6 url=$7 cpu0 cpu1 pids
  shift 7
  read -r -a pids <<<"${BENCH_CPU_PIDS:-}"
  cpu0=$(bench_cpu_ticks "${pids[@]}")
  timeout $((dur + ${to%s} + 30)) wrk -t"$th" -c"$cn" -d"${dur}s" --timeout "$to" \
    --latency "$@" "$url" >"${out%.json}.txt" 2>&1 ||
    { cat "${out%.json}.txt" >&2; bench_die "wrk failed ($label)"; }
  cpu1=$(bench_cpu_ticks "${pids[@]}")
  local cpu_args=("$(( cpu1 - cpu0 ))" "$(getconf CLK_TCK)")
  [ ${#pids[@]} -gt 0 ] || cpu_args=()   # no server CPU figure
  python3 "$BENCH_DIR/wrkparse.py" "$label" "${out%.json}.txt" \
    "${cpu_args[@]}" >"$out.tmp" ||
    { cat "${out%.json}.txt" >&2; bench_die "cannot parse wrk output ($label)"; }
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
r.update({"threads": int(sys.argv[3]), "connections": int(sys.argv[4])})
json.dump(r, open(sys.argv[2], "w"))' "$out.tmp" "$out" "$th" "$cn"
  rm -f "$out.tmp"
}

# feat_wait_quiet METRIC [MAX_S] — waits until a /metrics counter stops
# moving for one second (e.g. queued logins of a finished load draining),
# at most MAX_S seconds (default 60).
feat_wait_quiet() {
  local prev cur i
  prev=$(feat_metric "$1")
  for i in $(seq 1 "${2:-60}"); do
    sleep 1
    cur=$(feat_metric "$1")
    [ "$cur" != "$prev" ] || return 0
    prev=$cur
  done
  bench_log "$1 still moving after ${2:-60}s"
}

# feat_nginx_headers — the headers phivault puts on every response (see
# src/http/reply.c), as nginx add_header lines (as in healthz.sh).
feat_nginx_headers() {
  [ "${BENCH_NGINX_HEADERS:-1}" = 1 ] || return 0
  cat <<'EOF'
            add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
            add_header Cache-Control "no-store" always;
            add_header Pragma "no-cache" always;
            add_header X-Content-Type-Options "nosniff" always;
            add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;
            add_header X-Frame-Options "DENY" always;
            add_header Referrer-Policy "no-referrer" always;
            add_header X-Request-Id $request_id always;
EOF
}

# feat_phivault_start VAULT LOG — like lib.sh's bench_phivault_start but
# for a second server (own vault and log); sets PV_PID, PV_PORT,
# PV_URL_BASE and BENCH_CERT (each vault has its own certificate).
feat_phivault_start() {
  local vault=$1 log=$2 i
  : >"$log"
  "$PHIVAULT" serve "$vault" --listen 127.0.0.1:0 2>>"$log" &
  PV_PID=$!
  bench_track "$PV_PID"
  PV_PORT=""
  for i in $(seq 1 100); do
    PV_PORT=$(grep -m1 -o '"event":"listening","port":"[0-9]*"' "$log" \
      | grep -o '[0-9]*"$' | tr -d '"' || true)
    [ -n "$PV_PORT" ] && break
    kill -0 "$PV_PID" 2>/dev/null ||
      { tail -n 5 "$log" >&2; bench_die "phivault exited at start-up"; }
    sleep 0.1
  done
  [ -n "$PV_PORT" ] || bench_die "phivault did not report its port within 10 s"
  PV_URL_BASE=https://127.0.0.1:$PV_PORT
  BENCH_CERT=$vault/tls/cert.pem
  bench_wait_http "$PV_URL_BASE/healthz" 100 || bench_die "phivault /healthz not answering"
  bench_log "phivault pid $PV_PID on $PV_URL_BASE ($vault)"
}

# feat_time LABEL OUT.json RUNS PREPARE -- CMD... — wall time of a CLI
# command over RUNS runs (hyperfine -N when installed, else a bash loop
# timing with date), after one untimed run whose output is kept in
# OUT.log. PREPARE ("" for none) runs before each run, untimed (a plain
# command, no shell). Each run is bounded by FEAT_TIME_LIMIT seconds
# (default 900). Writes {"label","runs_s":[...],"median_s","min_s",
# "max_s","tool"} to OUT.json.
feat_time() {
  local label=$1 out=$2 runs=$3 prep=$4 lim=${FEAT_TIME_LIMIT:-900} i t0 t1
  shift 5
  [ -z "$prep" ] || $prep
  timeout "$lim" "$@" >"${out%.json}.log" 2>&1 ||
    { tail -n 5 "${out%.json}.log" >&2; bench_die "$label failed"; }
  if command -v hyperfine >/dev/null 2>&1; then
    local hf=(hyperfine -N --runs "$runs" --warmup 0 --style basic
      --export-json "${out%.json}.hyperfine.json")
    [ -z "$prep" ] || hf+=(--prepare "$prep")
    timeout $((lim * (runs + 1))) "${hf[@]}" "$*" \
      >"${out%.json}.hyperfine.txt" 2>&1 ||
      { tail -n 20 "${out%.json}.hyperfine.txt" >&2; bench_die "hyperfine failed ($label)"; }
    python3 - "$label" "${out%.json}.hyperfine.json" >"$out" <<'EOF'
import json, statistics, sys
r = json.load(open(sys.argv[2]))["results"][0]
t = r["times"]
print(json.dumps({"label": sys.argv[1], "tool": "hyperfine -N", "runs_s": t,
                  "median_s": statistics.median(t), "min_s": min(t),
                  "max_s": max(t), "user_s_mean": r.get("user"),
                  "system_s_mean": r.get("system")}))
EOF
  else
    local times=()
    for i in $(seq 1 "$runs"); do
      [ -z "$prep" ] || $prep
      t0=$(date +%s%N)
      timeout "$lim" "$@" >/dev/null 2>&1 || bench_die "$label failed"
      t1=$(date +%s%N)
      times+=("$(( (t1 - t0) / 1000 ))")
    done
    python3 - "$label" "${times[@]}" >"$out" <<'EOF'
import json, statistics, sys
t = [int(x) / 1e6 for x in sys.argv[2:]]
print(json.dumps({"label": sys.argv[1], "tool": "bash loop (date)", "runs_s": t,
                  "median_s": statistics.median(t), "min_s": min(t),
                  "max_s": max(t)}))
EOF
  fi
}

# feat_py_bool VALUE — True when VALUE is 1, else False (Python literal).
feat_py_bool() { if [ "$1" = 1 ]; then echo True; else echo False; fi; }

# feat_meta NAME DESCRIPTION METHOD [PY_DICT_EXTRA] — the common part of a
# result document (benchmark, timestamp, params, env) into
# $BENCH_TMP/meta.json; PY_DICT_EXTRA is a Python dict literal merged in.
feat_meta() {
  local out=$1
  bench_env_json >"$BENCH_TMP/env.json"
  NAME=$BENCH_NAME TS=$(basename "$out" .json) DESC=$2 METHOD=$3 \
  python3 - "$BENCH_TMP/env.json" "${4:-{\}}" >"$BENCH_TMP/meta.json" <<EOF
import ast, json, os, sys
e = os.environ
doc = {
    "benchmark": e["NAME"],
    "timestamp": e["TS"][len(e["NAME"]) + 1:],
    "what": e["DESC"],
    "method": e["METHOD"],
    "params": {"threads": $BENCH_THREADS, "connections": $BENCH_CONNS,
               "duration_s": $BENCH_DURATION, "warmup_s": $BENCH_WARMUP,
               "rounds": $BENCH_ROUNDS},
}
with open(sys.argv[1], encoding="utf-8") as f:
    doc.update(json.load(f))
doc.update(ast.literal_eval(sys.argv[2]))
json.dump(doc, sys.stdout)
EOF
}
