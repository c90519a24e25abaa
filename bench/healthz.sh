#!/usr/bin/env bash
# bench/healthz.sh — throughput and latency of GET /healthz: phivault vs nginx.
#
# What it measures
#   The cost of phivault's HTTPS request path with (almost) no application
#   work: TLS 1.3 record handling (GnuTLS), libmicrohttpd parsing, the
#   router, security headers and the per-request JSON log line. /healthz
#   does not touch the store. The baseline is Debian's nginx serving the
#   same 15 bytes {"status":"ok"} as application/json from a static file
#   over TLS 1.3 with the same ECDSA P-256 certificate and key — i.e. "how
#   close are we to a well-tuned static server?".
#
# Method
#   1. Build phivault (Release) under bench/work/, create a throw-away vault
#      (rate limiter off, connection limits >= BENCH_CONNS), serve it on a
#      free 127.0.0.1 port.
#   2. Start nginx as the current user from a generated config in a temp
#      dir (no daemon, one worker per CPU, ssl_protocols TLSv1.3, large
#      keepalive_requests) on another free 127.0.0.1 port.
#   3. Check both answer byte-identical bodies with the same Content-Type,
#      and that OpenSSL (the library wrk uses) negotiates TLS 1.3 with each
#      while TLS 1.2 and 1.1 handshakes are refused.
#   4. Warm each server up (BENCH_WARMUP s of wrk, discarded), then run wrk
#      --latency alternately phivault, nginx, phivault, nginx, ... for
#      BENCH_ROUNDS rounds with identical threads/connections/duration.
#   5. Report the median over rounds of each metric (requests/s, p50, p99,
#      server CPU per request), the phivault/nginx ratios, and write it all
#      to bench/results/healthz-<UTC timestamp>.json.
#
# Fairness caveats (read before quoting numbers)
#   - wrk and the server under test share the same machine and cores (2 on
#     the reference box). wrk's own CPU use caps what either server can
#     reach, so the absolute numbers understate both servers and the ratio
#     is compressed towards 1. The "CPU us/req" column (server CPU time /
#     requests, from /proc) is less sensitive to this than requests/s.
#   - Both servers get one worker per CPU (phivault: threads = 0 -> one per
#     CPU; nginx: worker_processes = nproc), keep-alive connections (wrk
#     reuses connections, so this measures steady-state requests, not TLS
#     handshakes), and the same certificate. The TLS cipher suite may differ
#     (GnuTLS applies its own preference, nginx/OpenSSL follows the client);
#     the negotiated suites are recorded in the result.
#   - By default nginx also writes one access-log line per request and adds
#     the same security headers as phivault (HSTS, CSP, X-Request-Id...), so
#     both do comparable work per response; set BENCH_NGINX_ACCESS_LOG=0
#     and/or BENCH_NGINX_HEADERS=0 for a bare nginx. Response sizes are
#     reported (bytes/rsp) so any remaining difference is visible.
#   - A loopback benchmark on a shared VM is noisy: compare runs on the same
#     machine only, look at the per-round spread, and prefer more rounds
#     (BENCH_ROUNDS) and longer runs (BENCH_DURATION) for decisions.
#
# Usage
#   bench/healthz.sh
#   BENCH_CONNS=128 BENCH_DURATION=20 BENCH_THREADS=2 BENCH_ROUNDS=5 bench/healthz.sh
# See bench/lib.sh for every parameter. Needs: scripts/deps bench.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bench_init healthz
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"

# --- phivault -------------------------------------------------------------
bench_build_phivault
bench_vault_create ""          # no extra configuration
bench_phivault_start

# --- nginx: the same 15 bytes from a static file ------------------------------
bench_nginx_prepare
printf '%s' '{"status":"ok"}' >"$NGX_ROOT/healthz.json"
headers=""
if [ "${BENCH_NGINX_HEADERS:-1}" = 1 ]; then
  # The headers phivault puts on every response (see src/http/reply.c).
  # $request_id is nginx's own 32-hex-digit random id (quoted heredoc: it
  # is an nginx variable, not a shell one).
  IFS= read -r -d '' headers <<'EOF' || true
            add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
            add_header Cache-Control "no-store" always;
            add_header Pragma "no-cache" always;
            add_header X-Content-Type-Options "nosniff" always;
            add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;
            add_header X-Frame-Options "DENY" always;
            add_header Referrer-Policy "no-referrer" always;
            add_header X-Request-Id $request_id always;
EOF
fi
bench_nginx_start "
        location = /healthz {
            types { }
            default_type application/json;
            alias $NGX_ROOT/healthz.json;
            etag off;
$headers        }
        location / {
            return 404;
        }"

# --- sanity: same body, same type, TLS 1.3 only -------------------------------
for target in "phivault $PV_URL_BASE" "nginx $NGX_URL_BASE"; do
  read -r name base <<<"$target"
  body=$(curl -fsS --max-time 5 --cacert "$BENCH_CERT" "$base/healthz")
  ctype=$(curl -fsS --max-time 5 --cacert "$BENCH_CERT" -o /dev/null \
          -w '%{content_type}' "$base/healthz")
  [ "$body" = '{"status":"ok"}' ] || bench_die "$name: unexpected body '$body'"
  [ "$ctype" = "application/json" ] || bench_die "$name: unexpected Content-Type '$ctype'"
done
read -r pv_proto pv_cipher pv_group < <(bench_tls_check phivault "$PV_PORT")
read -r ngx_proto ngx_cipher ngx_group < <(bench_tls_check nginx "$NGX_PORT")
bench_log "TLS with OpenSSL defaults: phivault $pv_proto $pv_cipher $pv_group;" \
  "nginx $ngx_proto $ngx_cipher $ngx_group; TLS 1.2/1.1 refused by both"

# What wrk itself negotiates: phivault cannot speak anything but TLS 1.3
# (GnuTLS priority string, and the refused TLS 1.2 handshake above proves
# it); for nginx, a 1-second wrk probe is read back from the access log,
# which records $ssl_protocol/$ssl_cipher per request.
wrk_ngx_tls="not checked (BENCH_NGINX_ACCESS_LOG=0)"
if [ -f "$NGX_DIR/access.log" ]; then
  : >"$NGX_DIR/access.log"
  timeout 20 wrk -t1 -c1 -d1s "$NGX_URL_BASE/healthz" >/dev/null 2>&1 ||
    bench_die "wrk probe against nginx failed"
  wrk_ngx_tls=$(awk '{print $(NF-1), $NF}' "$NGX_DIR/access.log" | sort | uniq -c |
                awk '{printf "%s%s %s (%s requests)", sep, $2, $3, $1; sep="; "}')
  [ -n "$wrk_ngx_tls" ] || bench_die "wrk probe left no access-log lines"
  awk '$(NF-1) != "TLSv1.3" { bad = 1 } END { exit bad }' "$NGX_DIR/access.log" ||
    bench_die "wrk used something other than TLS 1.3 with nginx: $wrk_ngx_tls"
  bench_log "wrk -> nginx, per nginx's access log: $wrk_ngx_tls"
fi

# PV_PID and NGX_PID are set by lib.sh.
PV_PIDS=$PV_PID                              # one process, all threads
# shellcheck disable=SC2153
NGX_PIDS=$(bench_proc_tree "$NGX_PID")       # master + workers

# bench_one LABEL URL OUT [DURATION] — one wrk run, with the server's CPU
# time measured; the servers' request logs are truncated between runs so
# the temp dir stays small (both were opened in append mode).
bench_one() {
  local pids
  case "$1" in phivault) pids=$PV_PIDS ;; *) pids=$NGX_PIDS ;; esac
  BENCH_CPU_PIDS=$pids bench_wrk "$@"
  : >"$BENCH_TMP/phivault.log"
  [ ! -f "$NGX_DIR/access.log" ] || : >"$NGX_DIR/access.log"
}

# --- warm-up, then alternate A/B ---------------------------------------------
if [ "$BENCH_WARMUP" -gt 0 ]; then
  bench_log "warm-up: ${BENCH_WARMUP}s each"
  bench_one phivault "$PV_URL_BASE/healthz" "$RUNS/warmup-phivault.json" "$BENCH_WARMUP"
  bench_one nginx "$NGX_URL_BASE/healthz" "$RUNS/warmup-nginx.json" "$BENCH_WARMUP"
fi
pv_runs=() ngx_runs=()
for r in $(seq 1 "$BENCH_ROUNDS"); do
  bench_log "round $r/$BENCH_ROUNDS: phivault (${BENCH_DURATION}s)"
  bench_one phivault "$PV_URL_BASE/healthz" "$RUNS/phivault-$r.json"
  pv_runs+=("$RUNS/phivault-$r.json")
  bench_log "round $r/$BENCH_ROUNDS: nginx (${BENCH_DURATION}s)"
  bench_one nginx "$NGX_URL_BASE/healthz" "$RUNS/nginx-$r.json"
  ngx_runs+=("$RUNS/nginx-$r.json")
done
kill -0 "$PV_PID" 2>/dev/null || bench_die "phivault died during the benchmark"
kill -0 "$NGX_PID" 2>/dev/null || bench_die "nginx died during the benchmark"

# --- results ---------------------------------------------------------------
out=$(bench_result_file healthz)
bench_env_json >"$BENCH_TMP/env.json"
ts=$(basename "$out" .json)
TS=${ts#healthz-} \
PV_PROTO=$pv_proto PV_CIPHER=$pv_cipher PV_GROUP=$pv_group \
WRK_NGX_TLS=$wrk_ngx_tls NGX_PROTO=$ngx_proto NGX_CIPHER=$ngx_cipher NGX_GROUP=$ngx_group \
python3 - "$BENCH_TMP/env.json" >"$BENCH_TMP/meta.json" <<EOF
import json, os, sys
e = os.environ
doc = {
    "benchmark": "healthz",
    "timestamp": e["TS"],
    "request": "GET /healthz -> 200 application/json {\"status\":\"ok\"} (15 bytes)",
    "method": "wrk --latency, keep-alive, alternating phivault/nginx per round "
              "after a discarded warm-up; medians over rounds; wrk shares the "
              "machine's CPUs with the server under test",
    "params": {"threads": $BENCH_THREADS, "connections": $BENCH_CONNS,
               "duration_s": $BENCH_DURATION, "warmup_s": $BENCH_WARMUP,
               "rounds": $BENCH_ROUNDS},
    "servers_config": {
        "phivault": {"threads": "one per CPU", "ratelimit": False,
                     "request_log": True},
        "nginx": {"worker_processes": $BENCH_CPUS, "static_file": True,
                  "access_log": "${BENCH_NGINX_ACCESS_LOG:-1}" == "1",
                  "security_headers": "${BENCH_NGINX_HEADERS:-1}" == "1"},
    },
    "tls": {
        "phivault": {"protocol": e["PV_PROTO"], "cipher": e["PV_CIPHER"],
                     "group": e["PV_GROUP"], "tls1_2_refused": True},
        "nginx": {"protocol": e["NGX_PROTO"], "cipher": e["NGX_CIPHER"],
                  "group": e["NGX_GROUP"], "tls1_2_refused": True,
                  "wrk_negotiated_per_access_log": e["WRK_NGX_TLS"]},
    },
}
with open(sys.argv[1], encoding="utf-8") as f:
    doc.update(json.load(f))
json.dump(doc, sys.stdout)
EOF
join() { local IFS=,; echo "$*"; }
python3 "$BENCH_DIR/summarize.py" "$BENCH_TMP/meta.json" "$out" \
  "phivault:$(join "${pv_runs[@]}")" "nginx:$(join "${ngx_runs[@]}")"
