# shellcheck shell=bash
# bench/lib.sh — shared helpers for phivault benchmarks (source, don't run).
#
# A benchmark script sources this file and then, typically:
#
#   bench_init healthz            # temp dir, cleanup trap, watchdog, params
#   bench_build_phivault          # Release build -> $PHIVAULT
#   bench_vault_create            # throw-away vault in $BENCH_TMP/vault
#   bench_phivault_start          # -> $PV_PORT, $PV_URL_BASE
#   bench_nginx_start FILE TYPE   # -> $NGX_PORT, $NGX_URL_BASE
#   bench_wrk LABEL URL OUT.json  # one wrk run, parsed into JSON
#   ...
#
# Everything a benchmark starts is recorded with bench_track and stopped by
# the EXIT trap (SIGTERM, then SIGKILL after a grace period); the temp dir
# is removed. Every external command is bounded in time (timeout/--max-time
# or a bounded polling loop), and a watchdog stops the whole script after
# BENCH_MAX_SECONDS. Servers only ever listen on 127.0.0.1.
#
# Tools used: bash, coreutils, cmake (to build), wrk, nginx (Debian's
# nginx-light), curl, openssl (s_client, for the TLS check), python3 (stdlib
# only: bench/wrkparse.py parses one wrk run, bench/summarize.py takes
# medians, ratios, writes the result JSON and prints the table). Install
# with `scripts/deps bench`.
#
# Parameters (environment, all optional):
#   BENCH_THREADS=2  BENCH_CONNS=64  BENCH_DURATION=10 (seconds)
#   BENCH_WARMUP=3 (seconds per server)  BENCH_ROUNDS=3 (>= 2)
#   BENCH_BUILD_DIR=bench/work/build-release   BENCH_MAX_SECONDS=(computed)
#   BENCH_KEEP_TMP=1  keep the temp dir (logs, configs) for inspection
#   BENCH_NGINX_HEADERS=1     nginx adds phivault's security headers too
#   BENCH_NGINX_ACCESS_LOG=1  nginx logs every request, like phivault does

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_SRC=$(cd "$BENCH_DIR/.." && pwd)
BENCH_RESULTS=$BENCH_DIR/results
BENCH_PIDS=()
BENCH_TMP=""
BENCH_WATCHDOG=""
# A throw-away password for the throw-away vault (never used to log in).
BENCH_ADMIN_PW=${BENCH_ADMIN_PW:-"bench-Long-passw0rd-x"}

bench_log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
bench_die() { bench_log "ERROR: $*"; exit 1; }

# bench_int NAME VALUE MIN — validate a positive integer parameter.
bench_int() {
  if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ]; then
    bench_die "$1 must be an integer >= $3 (got '$2')"
  fi
}

# bench_init NAME — set up parameters, temp dir, cleanup trap and watchdog.
bench_init() {
  BENCH_NAME=$1
  BENCH_THREADS=${BENCH_THREADS:-2}
  BENCH_CONNS=${BENCH_CONNS:-64}
  BENCH_DURATION=${BENCH_DURATION:-10}
  BENCH_WARMUP=${BENCH_WARMUP:-3}
  BENCH_ROUNDS=${BENCH_ROUNDS:-3}
  BENCH_DURATION=${BENCH_DURATION%s}   # accept "10s" as well as "10"
  BENCH_WARMUP=${BENCH_WARMUP%s}
  bench_int BENCH_THREADS "$BENCH_THREADS" 1
  bench_int BENCH_CONNS "$BENCH_CONNS" 1
  bench_int BENCH_DURATION "$BENCH_DURATION" 1
  bench_int BENCH_WARMUP "$BENCH_WARMUP" 0
  bench_int BENCH_ROUNDS "$BENCH_ROUNDS" 2
  [ "$BENCH_CONNS" -ge "$BENCH_THREADS" ] ||
    bench_die "BENCH_CONNS must be >= BENCH_THREADS (wrk needs a connection per thread)"
  BENCH_CPUS=$(nproc)
  # Load average at the start: other work on the machine skews results.
  BENCH_LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

  bench_require_tools
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/phivault-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'bench_log "interrupted"; exit 130' INT
  trap 'bench_log "terminated (watchdog or signal)"; exit 143' TERM

  # Watchdog: a generous bound on the whole script (build + two servers x
  # (warm-up + rounds x duration) + slack). It signals only this script; the
  # EXIT trap then stops everything the script started.
  local budget=$((300 + 2 * (BENCH_WARMUP + BENCH_ROUNDS * (BENCH_DURATION + 15))))
  BENCH_MAX_SECONDS=${BENCH_MAX_SECONDS:-$budget}
  bench_int BENCH_MAX_SECONDS "$BENCH_MAX_SECONDS" 1
  # The sleep runs in the background of the watchdog subshell so that
  # SIGTERM from bench_cleanup interrupts `wait` at once and the subshell
  # can stop its own sleep (no stray sleep, no "Terminated" message).
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$BENCH_MAX_SECONDS" & s=$!
    wait "$s" || exit 0
    echo "[bench] watchdog: exceeded ${BENCH_MAX_SECONDS}s, stopping" >&2
    kill -TERM $$ 2>/dev/null
  ) &
  BENCH_WATCHDOG=$!
}

bench_require_tools() {
  local t missing=()
  for t in cmake wrk nginx curl openssl python3 timeout; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] ||
    bench_die "missing tools: ${missing[*]} (run scripts/deps bench)"
}

# bench_track PID — stop this process on exit.
bench_track() { BENCH_PIDS+=("$1"); }

# bench_stop PID — SIGTERM, wait up to 5 s, then SIGKILL. Only ever called
# on PIDs this script started.
bench_stop() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    bench_log "pid $pid ignored SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    bench_stop "${BENCH_PIDS[$i]}"
  done
  if [ -n "$BENCH_WATCHDOG" ]; then
    kill -TERM "$BENCH_WATCHDOG" 2>/dev/null || true
    wait "$BENCH_WATCHDOG" 2>/dev/null || true
  fi
  if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
    if [ "$rc" -ne 0 ]; then
      if [ -s "$BENCH_TMP/nginx/error.log" ]; then
        bench_log "tail of nginx error log:"
        tail -n 20 "$BENCH_TMP/nginx/error.log" >&2
      fi
      if [ -s "$BENCH_TMP/phivault.log" ]; then
        bench_log "tail of phivault log:"
        tail -n 5 "$BENCH_TMP/phivault.log" >&2
      fi
    fi
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then
      bench_log "kept temp dir $BENCH_TMP"
    else
      rm -rf "$BENCH_TMP"
    fi
  fi
  exit "$rc"
}

# bench_build_phivault — optimised (Release) build; sets PHIVAULT.
bench_build_phivault() {
  local dir=${BENCH_BUILD_DIR:-$BENCH_SRC/bench/work/build-release}
  bench_log "building phivault (Release) in $dir"
  mkdir -p "$dir"
  # BENCH_CMAKE_C_FLAGS adds C flags to the Release build (default none).
  timeout 120 cmake -S "$BENCH_SRC" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DPV_TESTS=OFF \
    "-DCMAKE_C_FLAGS=${BENCH_CMAKE_C_FLAGS:-}" \
    >"$BENCH_TMP/cmake.log" 2>&1 ||
    { tail -n 30 "$BENCH_TMP/cmake.log" >&2; bench_die "cmake configure failed"; }
  timeout 600 cmake --build "$dir" -j"$BENCH_CPUS" --target phivault \
    >>"$BENCH_TMP/cmake.log" 2>&1 ||
    { tail -n 30 "$BENCH_TMP/cmake.log" >&2; bench_die "build failed"; }
  PHIVAULT=$dir/phivault
  [ -x "$PHIVAULT" ] || bench_die "no binary at $PHIVAULT"
}

# bench_vault_create [CONF_SNIPPET] — a fresh vault in $BENCH_TMP/vault
# (or in $BENCH_VAULT_DIR when set: a benchmark may need several).
# The rate limiter is disabled (a load generator is one client hammering
# from one address) and the connection limits are raised to fit
# BENCH_CONNS. CONF_SNIPPET, if given, is appended last (later keys win).
bench_vault_create() {
  VAULT=${BENCH_VAULT_DIR:-$BENCH_TMP/vault}
  printf '%s\n' "$BENCH_ADMIN_PW" |
    timeout 60 "$PHIVAULT" init "$VAULT" >"$BENCH_TMP/init.log" 2>&1 ||
    { cat "$BENCH_TMP/init.log" >&2; bench_die "phivault init failed"; }
  local limit=$((BENCH_CONNS + 64))
  [ "$limit" -ge 1024 ] || limit=1024
  cat >>"$VAULT/phivault.conf" <<EOF

# --- appended by bench/lib.sh ---
[ratelimit]
enabled = false

[server]
max_connections = $limit
per_ip_connections = $limit
EOF
  if [ -n "${1:-}" ]; then printf '\n%s\n' "$1" >>"$VAULT/phivault.conf"; fi
  BENCH_CERT=$VAULT/tls/cert.pem
  BENCH_KEY=$VAULT/tls/key.pem
}

# bench_wait_http URL TRIES — poll until URL answers 200 (0.1 s apart).
bench_wait_http() {
  local url=$1 tries=$2 i
  for i in $(seq 1 "$tries"); do
    if curl -fsS --max-time 2 --cacert "$BENCH_CERT" -o /dev/null "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# bench_phivault_start — serve $VAULT on 127.0.0.1:<free port>; sets PV_PID,
# PV_PORT, PV_URL_BASE. phivault picks the port itself (listen on :0) and
# logs it, so there is no race for it. Its JSON log (one line per request,
# as in production) goes to $BENCH_TMP/phivault.log.
bench_phivault_start() {
  local i
  : >"$BENCH_TMP/phivault.log"
  "$PHIVAULT" serve "$VAULT" --listen 127.0.0.1:0 2>>"$BENCH_TMP/phivault.log" &
  PV_PID=$!
  bench_track "$PV_PID"
  PV_PORT=""
  for i in $(seq 1 100); do
    PV_PORT=$(grep -m1 -o '"event":"listening","port":"[0-9]*"' "$BENCH_TMP/phivault.log" \
      | grep -o '[0-9]*"$' | tr -d '"' || true)
    [ -n "$PV_PORT" ] && break
    kill -0 "$PV_PID" 2>/dev/null || bench_die "phivault exited at start-up"
    sleep 0.1
  done
  [ -n "$PV_PORT" ] || bench_die "phivault did not report its port within 10 s"
  PV_URL_BASE=https://127.0.0.1:$PV_PORT
  bench_wait_http "$PV_URL_BASE/healthz" 100 || bench_die "phivault /healthz not answering"
  bench_log "phivault pid $PV_PID on $PV_URL_BASE"
}

# bench_free_port — a currently free loopback TCP port (the kernel picks
# it). Racy by nature; bench_nginx_start retries if the bind fails.
bench_free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# bench_nginx_start LOCATION_BLOCKS — start Debian's nginx as the current
# user with a generated config in $BENCH_TMP/nginx: no daemon, pid/log/temp
# paths in the temp dir, one worker per CPU, TLS 1.3 only, the vault's
# certificate and key, long keep-alive. LOCATION_BLOCKS is nginx config
# text placed inside the server block; $NGX_ROOT (a docroot in the temp
# dir) exists before it is evaluated, so callers can put files there by
# calling bench_nginx_prepare first. Sets NGX_PID, NGX_PORT, NGX_URL_BASE.
bench_nginx_prepare() {
  NGX_DIR=$BENCH_TMP/nginx
  # shellcheck disable=SC2034  # used by the calling benchmark
  NGX_ROOT=$NGX_DIR/www
  mkdir -p "$NGX_DIR"/{www,tmp/body,tmp/proxy,tmp/fastcgi,tmp/uwsgi,tmp/scgi}
}

bench_nginx_start() {
  local locations=$1 attempt i user_line="" access_log="off" nofile
  [ -n "${NGX_DIR:-}" ] || bench_nginx_prepare
  # As root, nginx would switch its workers to "nobody", which cannot read
  # the 0700 temp dir: keep them as the invoking user. As non-root the
  # directive is not needed (and would only trigger a warning).
  if [ "$(id -u)" -eq 0 ]; then user_line="user $(id -un) $(id -gn);"; fi
  if [ "${BENCH_NGINX_ACCESS_LOG:-1}" = 1 ]; then
    access_log="$NGX_DIR/access.log bench"
  fi
  # Workers may raise their fd limit only up to the hard limit.
  nofile=$(ulimit -Hn)
  [[ "$nofile" =~ ^[0-9]+$ ]] && [ "$nofile" -le 65536 ] || nofile=65536
  for attempt in 1 2 3; do
    NGX_PORT=$(bench_free_port)
    cat >"$NGX_DIR/nginx.conf" <<EOF
# generated by bench/lib.sh — throw-away nginx for a benchmark baseline
$user_line
daemon off;
master_process on;
worker_processes $BENCH_CPUS;
worker_rlimit_nofile $nofile;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
events {
    worker_connections 8192;
}
http {
    client_body_temp_path $NGX_DIR/tmp/body;
    proxy_temp_path $NGX_DIR/tmp/proxy;
    fastcgi_temp_path $NGX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGX_DIR/tmp/uwsgi;
    scgi_temp_path $NGX_DIR/tmp/scgi;
    # Like phivault's request log line, plus the TLS protocol and suite
    # actually used by each request (proof of what wrk negotiated).
    log_format bench '\$remote_addr [\$time_iso8601] "\$request" \$status '
                     '\$body_bytes_sent \$request_time \$ssl_protocol \$ssl_cipher';
    access_log $access_log;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NGX_PORT ssl;
        ssl_certificate $BENCH_CERT;
        ssl_certificate_key $BENCH_KEY;
        ssl_protocols TLSv1.3;
$locations
    }
}
EOF
    # -e: the early error log (before the config is read) also in the temp
    # dir. nginx appends to error.log itself; we only append stderr to it.
    # shellcheck disable=SC2094
    timeout 10 nginx -t -q -c "$NGX_DIR/nginx.conf" -p "$NGX_DIR" -e "$NGX_DIR/error.log" \
      2>>"$NGX_DIR/error.log" || bench_die "nginx rejected its generated config"
    # shellcheck disable=SC2094
    nginx -c "$NGX_DIR/nginx.conf" -p "$NGX_DIR" -e "$NGX_DIR/error.log" \
      2>>"$NGX_DIR/error.log" &
    NGX_PID=$!
    bench_track "$NGX_PID"
    NGX_URL_BASE=https://127.0.0.1:$NGX_PORT
    for i in $(seq 1 100); do
      kill -0 "$NGX_PID" 2>/dev/null || break
      if curl -sS --max-time 2 --cacert "$BENCH_CERT" -o /dev/null \
          "$NGX_URL_BASE/" 2>/dev/null; then
        bench_log "nginx pid $NGX_PID ($BENCH_CPUS workers) on $NGX_URL_BASE"
        return 0
      fi
      sleep 0.1
    done
    bench_stop "$NGX_PID"
    bench_log "nginx did not come up on port $NGX_PORT (attempt $attempt)"
  done
  bench_die "nginx failed to start"
}

# bench_tls_check NAME PORT — require TLS 1.3 to succeed and TLS 1.2 to
# fail with OpenSSL (the library wrk uses); prints "PROTOCOL CIPHER GROUP"
# of the TLS 1.3 session negotiated with OpenSSL's default client settings.
bench_tls_check() {
  local name=$1 port=$2 out proto cipher group
  out=$(timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
        -brief </dev/null 2>&1) || true
  proto=$(sed -n 's/^Protocol version: *//p' <<<"$out" | head -n1)
  cipher=$(sed -n 's/^Ciphersuite: *//p' <<<"$out" | head -n1)
  group=$(sed -n 's/^\(Negotiated TLS1.3 group\|Server Temp Key\): *//p' <<<"$out" |
          head -n1 | cut -d, -f1)
  [ "$proto" = "TLSv1.3" ] ||
    { echo "$out" >&2; bench_die "$name: default OpenSSL client negotiated '$proto', not TLSv1.3"; }
  if timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
       -tls1_2 </dev/null >/dev/null 2>&1; then
    bench_die "$name: accepted a TLS 1.2 handshake"
  fi
  if timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
       -tls1_1 </dev/null >/dev/null 2>&1; then
    bench_die "$name: accepted a TLS 1.1 handshake"
  fi
  echo "$proto ${cipher:-unknown} ${group:-unknown}"
}

# bench_wrk LABEL URL OUT_JSON [DURATION] — one bounded wrk run with
# --latency; the raw text is kept next to OUT_JSON (.txt) and parsed into
# {"label","rps","requests","duration_s","latency_ms":{avg,p50,p75,p90,p99,
# max},"bytes_per_s","errors":{...},"non2xx","server_cpu_s"}.
# If BENCH_CPU_PIDS is set (space-separated), the CPU time those processes
# used during the run is recorded as server_cpu_s.
bench_wrk() {
  local label=$1 url=$2 out=$3 dur=${4:-$BENCH_DURATION} cpu0 cpu1 pids
  read -r -a pids <<<"${BENCH_CPU_PIDS:-}"
  cpu0=$(bench_cpu_ticks "${pids[@]}")
  timeout $((dur + 30)) wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"${dur}s" \
    --timeout 5s --latency "$url" >"${out%.json}.txt" 2>&1 ||
    { cat "${out%.json}.txt" >&2; bench_die "wrk failed against $label"; }
  cpu1=$(bench_cpu_ticks "${pids[@]}")
  python3 "$BENCH_DIR/wrkparse.py" "$label" "${out%.json}.txt" \
    "$(( cpu1 - cpu0 ))" "$(getconf CLK_TCK)" >"$out" ||
    { cat "${out%.json}.txt" >&2; bench_die "cannot parse wrk output for $label"; }
}

# bench_cpu_ticks PID... — user+system clock ticks used so far by these
# processes (children not yet reaped are not included; servers' workers
# must be listed explicitly, see bench_proc_tree).
bench_cpu_ticks() {
  local pid sum=0 stat f
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # Fields after "(comm) " start at field 3 (state); utime and stime are
    # fields 14 and 15, i.e. f[11] and f[12].
    read -r -a f <<<"${stat##*) }"
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}

# bench_proc_tree PID — PID and its direct children (nginx master+workers).
bench_proc_tree() {
  echo "$1" "$(pgrep -P "$1" 2>/dev/null | tr '\n' ' ')"
}

# bench_result_file [NAME] — bench/results/NAME-<UTC timestamp>.json
# (NAME defaults to the one given to bench_init).
bench_result_file() {
  mkdir -p "$BENCH_RESULTS"
  echo "$BENCH_RESULTS/${1:-$BENCH_NAME}-$(date -u +%Y%m%dT%H%M%SZ).json"
}

# bench_env_json — machine, tool versions and source revision, as JSON.
bench_env_json() {
  local commit dirty
  commit=$(git -C "$BENCH_SRC" rev-parse HEAD 2>/dev/null || echo unknown)
  dirty=false
  [ -z "$(git -C "$BENCH_SRC" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
    dirty=true
  CPU_MODEL=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n1) \
  KERNEL=$(uname -r) \
  WRK_V=$(wrk -v 2>&1 | head -n1 | awk '{print $2}') \
  NGINX_V=$(nginx -v 2>&1 | sed 's/.*nginx\///') \
  OPENSSL_V=$(openssl version | awk '{print $2}') \
  GNUTLS_V=$(dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null || echo unknown) \
  MHD_V=$(dpkg-query -W -f='${Version}' libmicrohttpd12 2>/dev/null || echo unknown) \
  LOAD0=$BENCH_LOAD0 LOAD1=$(cut -d' ' -f1-3 /proc/loadavg) \
  COMMIT=$commit DIRTY=$dirty CPUS=$BENCH_CPUS \
  python3 - <<'EOF'
import json, os
e = os.environ
print(json.dumps({
    "machine": {"cpus": int(e["CPUS"]), "cpu_model": e["CPU_MODEL"],
                "kernel": e["KERNEL"],
                # 1/5/15-min load averages when the benchmark started and
                # ended; values well above what the benchmark itself
                # causes mean something else was competing for the CPUs.
                "loadavg_start": e["LOAD0"], "loadavg_end": e["LOAD1"]},
    "tools": {"wrk": e["WRK_V"], "nginx": e["NGINX_V"],
              "openssl": e["OPENSSL_V"], "gnutls": e["GNUTLS_V"],
              "libmicrohttpd": e["MHD_V"]},
    "source": {"commit": e["COMMIT"], "dirty": e["DIRTY"] == "true"},
}))
EOF
}
