#!/usr/bin/env bash
# bench/login.sh — issue 3: logins per second at the default Argon2id cost,
# and /healthz latency idle vs while 200 logins run concurrently.
#
# What it measures
#   - logins/s: wrk keeps BENCH_LOGIN_CONNS (default 200) connections each
#     POSTing /auth/login {"username","password"} for a researcher account
#     (a role without MFA, so every attempt is a full successful login:
#     Argon2id verification at the default cost — 19 MiB, t=2, libsodium —
#     plus a new session row and an audit entry). Hash workers, queue and
#     everything else are phivault's defaults (on 2 CPUs: one hash worker,
#     niced, queue 256).
#   - /healthz latency: a paced probe (wrk -t1 -c1 with a Lua delay() of
#     BENCH_PROBE_INTERVAL_MS between requests, so the probe itself adds
#     almost no load) measures p50/p99 once on the idle server and once
#     while the login load runs. The goal from issue 3: healthz latency
#     under load within 2x of idle. Both figures and their ratio are
#     reported.
#
# Method: per round, idle probe (BENCH_DURATION s), then the login load
#   starts, BENCH_LOGIN_LEAD s later the probe runs again for
#   BENCH_DURATION s, and the load stops BENCH_LOGIN_LEAD s after that.
#   Medians over BENCH_ROUNDS rounds. Nothing throttles the load: the
#   bench vault has the rate limiter off (lib.sh) and, for clarity, the
#   login limits and lockout thresholds raised too (no attempt fails, so
#   lockouts could not trigger anyway).
#
# Usage
#   bench/login.sh
#   BENCH_DURATION=20 BENCH_ROUNDS=5 BENCH_LOGIN_CONNS=200 bench/login.sh
# Parameters: those of lib.sh, plus BENCH_LOGIN_CONNS=200,
#   BENCH_LOGIN_LEAD=3 (s), BENCH_PROBE_INTERVAL_MS=10.
# Result: bench/results/login-<UTC>.json. Needs: scripts/deps bench.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=featlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/featlib.sh"

LOGIN_CONNS=${BENCH_LOGIN_CONNS:-200}
LEAD=${BENCH_LOGIN_LEAD:-3}
PROBE_MS=${BENCH_PROBE_INTERVAL_MS:-10}
bench_init login
bench_int BENCH_LOGIN_CONNS "$LOGIN_CONNS" 2
bench_int BENCH_LOGIN_LEAD "$LEAD" 1
bench_int BENCH_PROBE_INTERVAL_MS "$PROBE_MS" 1
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"

feat_build
# Argon2id stays at its default cost (no [auth] argon2_* keys).
bench_vault_create "[ratelimit]
login_per_minute = 10000000
login_burst = 10000000

[auth]
ip_lockout_threshold = 100000
lockout_threshold = 1000"
bench_phivault_start
feat_user bench-researcher researcher
tok=$(feat_login bench-researcher)
[ -n "$tok" ] || bench_die "the bench account cannot log in"

BODY=$(python3 -c 'import json,sys; print(json.dumps({"username":
"bench-researcher", "password": sys.argv[1]}))' "$FEAT_PW")
cat >"$BENCH_TMP/login.lua" <<EOF
-- POST /auth/login with a correct password, on every connection.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$BODY]]
EOF
cat >"$BENCH_TMP/pace.lua" <<EOF
-- A paced probe: wait ${PROBE_MS} ms between requests (not counted in
-- the latency wrk reports, which starts when a request is written).
function delay() return $PROBE_MS end
EOF

probe() { # probe LABEL OUT
  feat_wrk "$1" "$2" "$BENCH_DURATION" 1 1 5s "$PV_URL_BASE/healthz" \
    -s "$BENCH_TMP/pace.lua"
}
load_dur=$((BENCH_DURATION + 2 * LEAD))

if [ "$BENCH_WARMUP" -gt 0 ]; then
  bench_log "warm-up: ${BENCH_WARMUP}s of logins, ${BENCH_WARMUP}s of probe"
  feat_wrk login-warmup "$RUNS/warmup-login.json" "$BENCH_WARMUP" 2 8 30s \
    "$PV_URL_BASE/auth/login" -s "$BENCH_TMP/login.lua"
  feat_wrk probe-warmup "$RUNS/warmup-probe.json" "$BENCH_WARMUP" 1 1 5s \
    "$PV_URL_BASE/healthz" -s "$BENCH_TMP/pace.lua"
  feat_wait_quiet 'phivault_sessions_created_total' 60
fi

idle=() loaded=() logins=()
for r in $(seq 1 "$BENCH_ROUNDS"); do
  bench_log "round $r/$BENCH_ROUNDS: healthz probe, idle (${BENCH_DURATION}s)"
  probe healthz-idle "$RUNS/idle-$r.json"
  idle+=("$RUNS/idle-$r.json")
  bench_log "round $r/$BENCH_ROUNDS: $LOGIN_CONNS concurrent logins (${load_dur}s)" \
    "+ healthz probe"
  BENCH_CPU_PIDS=$PV_PID feat_wrk login "$RUNS/login-$r.json" "$load_dur" \
    "$BENCH_THREADS" "$LOGIN_CONNS" 60s "$PV_URL_BASE/auth/login" \
    -s "$BENCH_TMP/login.lua" &
  load_pid=$!
  sleep "$LEAD"
  probe healthz-under-logins "$RUNS/loaded-$r.json"
  wait "$load_pid" || bench_die "the login load failed"
  # Logins still queued when wrk stopped are finished by the server (their
  # connections are gone): let them drain before the next idle probe.
  feat_wait_quiet 'phivault_sessions_created_total' 60
  loaded+=("$RUNS/loaded-$r.json")
  logins+=("$RUNS/login-$r.json")
  : >"$BENCH_TMP/phivault.log"
done
kill -0 "$PV_PID" 2>/dev/null || bench_die "phivault died during the benchmark"
M_OK=$(feat_metric 'phivault_logins_total{result="ok"}')
M_FAILED=$(feat_metric 'phivault_logins_total{result="failed"}')
M_REJECTED=$(feat_metric phivault_hash_queue_rejected_total)
M_LIMITED=$(feat_metric phivault_rate_limited_total)
export M_OK M_FAILED M_REJECTED M_LIMITED

out=$(bench_result_file login)
feat_meta "$out" \
  "POST /auth/login (successful, Argon2id default cost) throughput; GET /healthz latency idle vs under login load" \
  "wrk: login load with $LOGIN_CONNS connections; healthz probe wrk -t1 -c1 paced by ${PROBE_MS} ms delay(); per round idle probe then loaded probe; medians over rounds" \
  "{'login': {'argon2id': {'memlimit_kib': 19456, 'opslimit': 2, 'source': 'phivault defaults (no [auth] argon2 keys in the bench vault)'}, 'concurrent_logins': $LOGIN_CONNS, 'hash_workers': 'default (nproc/2, niced)', 'lead_s': $LEAD, 'probe_interval_ms': $PROBE_MS}}"
join() { local IFS=,; echo "$*"; }
python3 - "${idle[@]}" -- "${loaded[@]}" -- "${logins[@]}" >"$BENCH_TMP/fig.json" <<'EOF'
import json, os, statistics, sys
groups, cur = [], []
for a in sys.argv[1:] + ["--"]:
    if a == "--":
        groups.append([json.load(open(p)) for p in cur]); cur = []
    else:
        cur.append(a)
idle, loaded, login = groups
med = lambda runs, f: statistics.median(f(r) for r in runs)
i50, i99 = med(idle, lambda r: r["latency_ms"]["p50"]), med(idle, lambda r: r["latency_ms"]["p99"])
l50, l99 = med(loaded, lambda r: r["latency_ms"]["p50"]), med(loaded, lambda r: r["latency_ms"]["p99"])
lps = med(login, lambda r: r["rps"])
fig = {"logins_per_s": round(lps, 1),
       "healthz_idle_ms": {"p50": i50, "p99": i99},
       "healthz_under_logins_ms": {"p50": l50, "p99": l99},
       "healthz_ratio_loaded_over_idle": {"p50": round(l50 / i50, 2), "p99": round(l99 / i99, 2)},
       "goal_healthz_within_2x_idle": {"p50": l50 <= 2 * i50, "p99": l99 <= 2 * i99}}
fig["server_counters_at_end"] = {
    "logins_ok": int(os.environ["M_OK"]), "logins_failed": int(os.environ["M_FAILED"]),
    "hash_queue_rejected": int(os.environ["M_REJECTED"]),
    "rate_limited": int(os.environ["M_LIMITED"])}
fig["_summary"] = [
    "logins/s (Argon2id 19 MiB t=2, %d concurrent): %.1f" % (login[0]["connections"], lps),
    "healthz p50: idle %.3f ms, under logins %.3f ms (x%.2f) -> goal (<= 2x) %s"
    % (i50, l50, l50 / i50, "MET" if l50 <= 2 * i50 else "NOT MET"),
    "healthz p99: idle %.3f ms, under logins %.3f ms (x%.2f) -> goal (<= 2x) %s"
    % (i99, l99, l99 / i99, "MET" if l99 <= 2 * i99 else "NOT MET"),
    "server counters: %(logins_ok)d logins ok, %(logins_failed)d failed, "
    "%(hash_queue_rejected)d hash-queue rejections, %(rate_limited)d rate-limited"
    % fig["server_counters_at_end"]]
json.dump(fig, sys.stdout)
EOF
python3 "$BENCH_DIR/featsum.py" "$BENCH_TMP/meta.json" "$out" \
  --ratio healthz-under-logins/healthz-idle --figures "$BENCH_TMP/fig.json" \
  "healthz-idle:$(join "${idle[@]}")" \
  "healthz-under-logins:$(join "${loaded[@]}")" \
  "login:$(join "${logins[@]}")"
