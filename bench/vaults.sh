# shellcheck shell=bash
# shellcheck disable=SC2034  # PV_LOG, TOKEN...: read by the sourcing scripts
# bench/vaults.sh — phivault instances for benchmarks (source after
# bench/lib.sh and bench_init; used by bench/run and bench/profile).
#
#   pv_create NAME            fresh vault $BENCH_TMP/vault-NAME (rate limiter
#                             off, [auth] mfa_required_roles = admin) with the
#                             clinician $CLIN / $CLIN_PW
#   pv_import NAME FILE       `phivault import --careteam $CLIN`, timed
#   pv_lists NAME             read targets and patient lists (before serving)
#   pv_start NAME LOGFILE     serve on a free 127.0.0.1 port (PV_WRAPPER, an
#                             array, may prefix the command, e.g. valgrind)
#   pv_stop PID, pv_login NAME, pv_url NAME, pv_curl NAME ARGS, pv_count NAME,
#   pv_hwm_kib NAME, pv_rss_kib NAME RssAnon|RssFile, fact KEY VALUE (-> $FACTS), tree_ticks PID
#
# Per-instance state lives in associative arrays keyed by NAME: PV_PID,
# PV_PORT, PV_CERT, PV_DIR, PV_LOG, TOKEN. Needs PHIVAULT (bench/lib.sh),
# CLIN, CLIN_PW, FACTS, and BENCH_IMPORT_TIMEOUT, BENCH_ID_SAMPLE.

fact() { printf '%s\t%s\n' "$1" "$2" >>"$FACTS"; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$1" "$2"; }

# ticks_of PID — utime+stime+cutime+cstime (clock ticks) of one process.
ticks_of() {
  local stat f
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  read -r -a f <<<"${stat##*) }"
  echo $((f[11] + f[12] + f[13] + f[14]))
}
# tree_ticks PID — the process and its direct children (nginx workers,
# PostgreSQL backends; backends that exited are in the postmaster's
# cutime/cstime once reaped).
tree_ticks() {
  local sum c
  sum=$(ticks_of "$1")
  for c in $(pgrep -P "$1" 2>/dev/null); do sum=$((sum + $(ticks_of "$c"))); done
  echo "$sum"
}

# --- phivault instances ------------------------------------------------------
declare -A PV_PID PV_PORT PV_CERT PV_DIR PV_LOG TOKEN
PV_WRAPPER=()    # e.g. (valgrind --tool=callgrind ...): execs phivault

# pv_create NAME — a vault with the benchmark account, not yet loaded.
pv_create() {
  local name=$1
  BENCH_VAULT_DIR=$BENCH_TMP/vault-$name bench_vault_create "
# --- appended by bench/run ---
[auth]
mfa_required_roles = admin"
  PV_DIR[$name]=$VAULT
  PV_CERT[$name]=$VAULT/tls/cert.pem
  printf '%s\n' "$CLIN_PW" | timeout 60 "$PHIVAULT" user add "$VAULT" \
    --name "$CLIN" --role clinician >/dev/null ||
    bench_die "cannot add $CLIN to vault $name"
}

# pv_import NAME NDJSON — bulk load, timed; facts import_NAME_{s,resources}.
pv_import() {
  local name=$1 file=$2 t0 t1 out
  bench_log "importing $(wc -l <"$file") resources into vault $name"
  t0=$(now)
  out=$(timeout "$BENCH_IMPORT_TIMEOUT" "$PHIVAULT" import "${PV_DIR[$name]}" \
        "$file" --careteam "$CLIN" 2>&1) ||
    { echo "$out" >&2; bench_die "import into vault $name failed or timed out"; }
  t1=$(now)
  [[ "$out" =~ imported\ ([0-9]+)\ resources,\ refused\ 0 ]] ||
    bench_die "import into $name: unexpected output: $out"
  fact "import_${name}_s" "$(elapsed "$t0" "$t1")"
  fact "import_${name}_resources" "${BASH_REMATCH[1]}"
  bench_log "vault $name: ${BASH_REMATCH[1]} resources in $(elapsed "$t0" "$t1") s"
}

# pv_lists NAME — random read targets ("Type/id", at most BENCH_ID_SAMPLE)
# and the patients, split in two halves: searched ones and written ones
# (so writes never change what the search returns). Run before serving.
pv_lists() {
  local name=$1 db=${PV_DIR[$1]}/phivault.db
  timeout 300 sqlite3 -readonly -separator / "$db" \
    "SELECT type, id FROM resources WHERE is_current = 1 AND deleted = 0
     ORDER BY random() LIMIT $BENCH_ID_SAMPLE" >"$BENCH_TMP/ids-$name.txt"
  timeout 300 sqlite3 -readonly "$db" \
    "SELECT id FROM resources WHERE type = 'Patient' AND is_current = 1
     ORDER BY id" >"$BENCH_TMP/patients-$name.txt"
  awk 'NR % 2 == 1' "$BENCH_TMP/patients-$name.txt" >"$BENCH_TMP/search-$name.txt"
  awk 'NR % 2 == 0' "$BENCH_TMP/patients-$name.txt" >"$BENCH_TMP/write-$name.txt"
  if [ ! -s "$BENCH_TMP/ids-$name.txt" ] || [ ! -s "$BENCH_TMP/write-$name.txt" ]; then
    bench_die "vault $name: empty id lists"
  fi
}

# pv_count NAME — current resources in the vault (also while it serves).
pv_count() {
  timeout 120 sqlite3 -readonly "${PV_DIR[$1]}/phivault.db" \
    "SELECT count(*) FROM resources WHERE is_current = 1 AND deleted = 0"
}

# pv_start NAME LOGFILE — serve vault NAME on a free loopback port; its
# request log (stderr) goes to LOGFILE (a file, or /dev/null). Records the
# start-up time (it grows with the audit log, which is replayed).
pv_start() {
  local name=$1 log=$2 port pid i t0 _
  for _ in 1 2 3; do
    port=$(bench_free_port)
    t0=$(now)
    "${PV_WRAPPER[@]}" "$PHIVAULT" serve "${PV_DIR[$name]}" \
      --listen "127.0.0.1:$port" 2>>"$log" &
    pid=$!
    bench_track "$pid"
    for i in $(seq 1 "${PV_START_TRIES:-1200}"); do  # 0.1 s each: start-up replays the audit log
      kill -0 "$pid" 2>/dev/null || break
      if curl -fsS --max-time 2 --cacert "${PV_CERT[$name]}" -o /dev/null \
          "https://127.0.0.1:$port/healthz" 2>/dev/null; then
        PV_PID[$name]=$pid PV_PORT[$name]=$port PV_LOG[$name]=$log
        fact "startup_s_${name}_$(date +%s)" "$(elapsed "$t0" "$(now)")"
        bench_log "phivault ($name vault, log -> $log) pid $pid on 127.0.0.1:$port"
        return 0
      fi
      sleep 0.1
    done
    pv_stop "$pid"
  done
  bench_die "phivault ($name) did not start"
}

# pv_stop PID [GRACE_S] — stop one server (it drains and flushes the audit
# log). GRACE_S (default 5) before SIGKILL: valgrind needs longer.
pv_stop() {
  local i keep=() grace=${2:-0}
  if [ "$grace" -gt 0 ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    for i in $(seq 1 $((grace * 10))); do
      kill -0 "$1" 2>/dev/null || break
      sleep 0.1
    done
  fi
  bench_stop "$1"
  for i in "${BENCH_PIDS[@]}"; do [ "$i" = "$1" ] || keep+=("$i"); done
  BENCH_PIDS=("${keep[@]}")
}

pv_url() { echo "https://127.0.0.1:${PV_PORT[$1]}"; }

pv_curl() { # pv_curl NAME curl-args... (bounded)
  local name=$1; shift
  curl -sS --max-time 30 --cacert "${PV_CERT[$name]}" "$@"
}

pv_login() {
  local name=$1 tok
  tok=$(pv_curl "$name" -X POST -H 'Content-Type: application/json' \
        -d "{\"username\":\"$CLIN\",\"password\":\"$CLIN_PW\"}" \
        "$(pv_url "$name")/auth/login" | jq -r '.token // empty')
  [ -n "$tok" ] || bench_die "cannot log in to vault $name"
  TOKEN[$name]=$tok
}

pv_hwm_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/${PV_PID[$1]}/status"; }
# pv_rss_kib NAME FIELD — current RssAnon (private heap, stacks, keys) or
# RssFile (pages of the SQLite file mapped by PRAGMA mmap_size: shared
# with the page cache, reclaimable by the kernel) in KiB.
pv_rss_kib() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/${PV_PID[$1]}/status"; }
