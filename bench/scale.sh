#!/usr/bin/env bash
# bench/scale.sh — SQLite vs PostgreSQL, one node vs two behind HAProxy
# (issue 15): one command, one table, bench/results/scale-<UTC>.json.
#
# In ONE run, on this machine, the read/write/search workload of bench/run
# (the same wrk Lua scripts, the same bench/gen_data.py population loaded
# with `phivault import --careteam`, BENCH_PATIENTS=2000 patients x 10
# resources by default) against four set-ups:
#   sqlite   an SQLite vault, one node, clients connect to it directly
#            (the baseline every ratio is taken against);
#   pg1      a PostgreSQL vault, one node (node A, no [proxy]), direct;
#   pg1_ha   the same vault, one node (node B) behind HAProxy;
#   pg2_ha   the same vault, two nodes (B and C) behind HAProxy.
# HAProxy (one process, TCP mode, TLS passes through, send-proxy-v2) has
# one frontend per set-up; its backend connections leave from 127.0.0.3
# (`source 127.0.0.3`), and only B and C have `[proxy] trusted =
# 127.0.0.3/32`. wrk cannot bind a source address, so it connects from
# 127.0.0.1 to HAProxy or, for the direct set-ups, to A or the SQLite
# node, which have no [proxy] at all. All nodes of the PostgreSQL vault
# (`phivault node add`) share one throw-away PostgreSQL 15 cluster
# (tests/pg/pgctl.sh: fsync, synchronous_commit, full_page_writes on),
# so they share one audit trail sequenced in it (audit/medium_pg.c).
#
# Rounds: one discarded warm-up of every (workload, set-up) cell, then
# BENCH_ROUNDS rounds over all 12 cells, in one order in odd rounds and
# reversed in even rounds (slow drift of the machine cancels out of the
# medians). Every figure is the median over rounds; ratios are taken per
# round against the SQLite cell of the same workload and round, and their
# median is reported (with the ratio of the medians in the JSON).
#
# Per run it records, besides wrk's req/s and latency percentiles: CPU time
# of the serving node(s), of PostgreSQL (postmaster and backends) and of
# HAProxy per request, the machine's busy fraction (/proc/stat), the audit
# group commits of each node from /metrics (entries per batch), and on the
# PostgreSQL set-ups the sequencer's advisory lock (sampled in the server
# every BENCH_LOCK_SAMPLE_MS: the fraction of time it is held and the mean
# number of waiters, hence the lock hold time per batch = held fraction x
# run time / batches), commits and WAL fsyncs (pg_stat_database,
# pg_stat_wal with track_wal_io_timing: mean fsync time).
#
# Then (BENCH_SEQ=1), with the phivault nodes stopped:
#   - the audit sequencer's statements alone, with pgbench: the same
#     transaction medium_pg.c runs per batch (BEGIN; pg_advisory_xact_lock;
#     the size read; the INSERT of the batch's lines; the checkpoint
#     INSERT; the resume-state upsert; COMMIT), with real audit lines of
#     this run, for batches of 1, 16 and 64 entries, 1 client (= the hold
#     time of one batch) and 4 clients (= batches/s when the lock is
#     always wanted); and the same with the catch-up reads a node makes
#     when another node appended since its last batch (bench/pg/seq_*.sql);
#   - the database's commit rate: pgbench, one INSERT per transaction,
#     synchronous_commit on, 1 and 16 clients (bench/pg/commit.sql);
#   - the SQLite vault's counterpart: write + fdatasync of a batch of the
#     same lines to a file on the same file system (bench/fsyncbatch.py).
# bench/scale.py prints the table and the capacity calculation of
# docs/SCALING.md from these figures.
#
# Caveats (read before quoting a number)
#   - This machine has 2 cores (nproc is recorded). The phivault node(s),
#     PostgreSQL, HAProxy and wrk all compete for them. Two nodes on two
#     cores cannot be faster than one: the pg2_ha figure measures the cost
#     of contention and of the shared sequencer, NOT scale-out. Per-request
#     CPU times are the figures that carry over to other machines.
#   - The PostgreSQL set-ups talk to the database over loopback TCP, with
#     no network latency; a real database server adds a round trip to
#     every statement (a request makes several) and to every lock hold.
#   - The lock sampler's backend costs PostgreSQL a little CPU during the
#     PostgreSQL runs only; its cost when idle is measured and recorded
#     (sampler_cpu_ms_per_s).
#   - The write workload adds Observations (to patients never searched) and
#     every request adds an audit entry: later rounds run on slightly
#     larger stores; the PostgreSQL vault takes three set-ups' writes.
#   - PostgreSQL's statistics are flushed by backends about once a second,
#     so commits and WAL figures per run are approximate.
#
# Usage
#   bench/scale.sh                              # ~11 min on 2 cores
#   BENCH_DURATION=30 BENCH_ROUNDS=5 bench/scale.sh
#   BENCH_SEQ=0 bench/scale.sh                  # the four set-ups only
# Parameters (environment): BENCH_DURATION=10 BENCH_ROUNDS=3 BENCH_WARMUP=3
#   BENCH_THREADS=2 BENCH_CONNS=64 BENCH_PATIENTS=2000 BENCH_PER_PATIENT=10
#   BENCH_SIZE=1024 BENCH_SEQ=1 BENCH_SEQ_DURATION=5 BENCH_LOCK_SAMPLE_MS=10
#   BENCH_RESTART_WRK=20 (s of reads through node A while node C restarts)
#   BENCH_ID_SAMPLE=200000 BENCH_IMPORT_TIMEOUT=1800 BENCH_SKIP_DEPS=0
#   BENCH_KEEP_TMP=1, and the rest of bench/lib.sh's.
# Tools: bash, coreutils, cmake, wrk, haproxy, PostgreSQL 15 (initdb,
# pg_ctl, psql, pgbench), curl, jq, sqlite3, python3 (stdlib).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${BENCH_SKIP_DEPS:-0}" != 1 ]; then
  "$HERE/../scripts/deps" bench ||
    { echo "bench/scale.sh: 'scripts/deps bench' failed" >&2; exit 1; }
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

# --- parameters ------------------------------------------------------------
export BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_DURATION=${BENCH_DURATION%s}
export BENCH_ROUNDS=${BENCH_ROUNDS:-3}
export BENCH_WARMUP=${BENCH_WARMUP:-3}
BENCH_WARMUP=${BENCH_WARMUP%s}
BENCH_PATIENTS=${BENCH_PATIENTS:-2000}
BENCH_PER_PATIENT=${BENCH_PER_PATIENT:-10}
BENCH_SIZE=${BENCH_SIZE:-1024}
BENCH_SEQ=${BENCH_SEQ:-1}
BENCH_SEQ_DURATION=${BENCH_SEQ_DURATION:-5}
BENCH_LOCK_SAMPLE_MS=${BENCH_LOCK_SAMPLE_MS:-10}
BENCH_ID_SAMPLE=${BENCH_ID_SAMPLE:-200000}
BENCH_IMPORT_TIMEOUT=${BENCH_IMPORT_TIMEOUT:-1800}
BENCH_RESTART_WRK=${BENCH_RESTART_WRK:-20}
for p in BENCH_DURATION:1 BENCH_ROUNDS:2 BENCH_WARMUP:0 BENCH_PATIENTS:2 \
         BENCH_PER_PATIENT:4 BENCH_SIZE:400 BENCH_SEQ_DURATION:1 \
         BENCH_LOCK_SAMPLE_MS:1 BENCH_RESTART_WRK:5 BENCH_ID_SAMPLE:1000 BENCH_IMPORT_TIMEOUT:60; do
  name=${p%%:*}
  bench_int "$name" "${!name}" "${p##*:}"
done
[[ "$BENCH_SEQ" =~ ^[01]$ ]] || bench_die "BENCH_SEQ is 0 or 1"
CLIN=bench-clinician
CLIN_PW="Throwaway-Ward-7-passw0rd-x"   # throw-away vault, throw-away account
WORKLOADS=(read write search)
CONFIGS=(sqlite pg1 pg1_ha pg2_ha)
SEQ_SIZES=(1 16 64)
SEQ_CLIENTS=(1 4)
PROXY_SRC=127.0.0.3     # HAProxy's source address towards the nodes

per_run=$((BENCH_DURATION + 20))
budget=$((900 + 12 * (BENCH_WARMUP + 20) + BENCH_ROUNDS * 12 * per_run))
budget=$((budget + 2 * (2 * BENCH_SEQ_DURATION + 30) + BENCH_RESTART_WRK + 300))
[ "$BENCH_SEQ" = 0 ] ||
  budget=$((budget + 16 * (BENCH_SEQ_DURATION + 30) + 3 * (BENCH_SEQ_DURATION + 10)))
export BENCH_MAX_SECONDS=${BENCH_MAX_SECONDS:-$budget}

bench_init scale
for t in wrk haproxy pgbench psql sqlite3 jq setpriv; do
  command -v "$t" >/dev/null 2>&1 || bench_die "missing tool $t (scripts/deps bench)"
done
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"
MANIFEST=$BENCH_TMP/manifest.tsv
FACTS=$BENCH_TMP/facts.tsv
: >"$MANIFEST"
: >"$FACTS"
export BENCH_LUA_DIR=$BENCH_DIR/lua
CLK_TCK=$(getconf CLK_TCK)
T_START=$(date +%s)
# shellcheck source-path=SCRIPTDIR source=vaults.sh
source "$BENCH_DIR/vaults.sh"

PGCTL=$BENCH_SRC/tests/pg/pgctl.sh
PG_DIR=$BENCH_TMP/pg
PG_UP=0
HA_PID=""
# Stops what this script started (nodes and HAProxy are in BENCH_PIDS and
# go in bench_cleanup; the cluster first needs them gone), then the rest.
scale_exit() {
  local rc=$? i
  trap - EXIT
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    [ "${BENCH_PIDS[$i]}" = "$BENCH_WATCHDOG" ] || bench_stop "${BENCH_PIDS[$i]}"
  done
  BENCH_PIDS=()
  [ "$PG_UP" = 0 ] || timeout 120 "$PGCTL" stop "$PG_DIR" >/dev/null 2>&1 || true
  (exit "$rc")
  bench_cleanup
}
trap scale_exit EXIT

record() { [ "$2" = w ] || printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$MANIFEST"; }

# --- 1. build, data ----------------------------------------------------------
bench_build_phivault
export PV_SOURCE_DIR=$BENCH_SRC
bench_log "generating $BENCH_PATIENTS patients x $BENCH_PER_PATIENT resources (~$BENCH_SIZE B each)"
timeout 600 python3 "$BENCH_DIR/gen_data.py" "$BENCH_PATIENTS" \
  --per-patient "$BENCH_PER_PATIENT" --size "$BENCH_SIZE" \
  --write-template "$BENCH_TMP/write-template.json" >"$BENCH_TMP/pop.ndjson"

# --- 2. the SQLite vault ---------------------------------------------------------
pv_create sqlite
pv_import sqlite "$BENCH_TMP/pop.ndjson"
pv_lists sqlite

# --- 3. PostgreSQL 15 and the PostgreSQL vault --------------------------------------
[ -x /usr/lib/postgresql/15/bin/initdb ] ||
  bench_die "PostgreSQL 15 server binaries not found (scripts/deps bench)"
timeout 300 "$PGCTL" start "$PG_DIR" >"$BENCH_TMP/pgctl.log" 2>&1 ||
  { cat "$BENCH_TMP/pgctl.log" >&2; bench_die "pgctl.sh start failed"; }
PG_UP=1
# Room for the cache of a 2,000-patient vault, and timed WAL fsyncs
# (pg_stat_wal.wal_sync_time); durability settings stay as pgctl.sh sets
# them (fsync, synchronous_commit, full_page_writes on).
cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# --- bench/scale.sh ---
shared_buffers = 256MB
track_wal_io_timing = on
EOF
timeout 180 "$PGCTL" restart "$PG_DIR" >>"$BENCH_TMP/pgctl.log" 2>&1 ||
  { cat "$BENCH_TMP/pgctl.log" >&2; bench_die "pgctl.sh restart failed"; }
# PGHOST PGPORT PGUSER PGPASSFILE: libpq finds the password for phivault,
# psql and pgbench (the DSNs in phivault.conf carry none).
set -a
# shellcheck disable=SC1091
. "$PG_DIR/env"
set +a
for db in rec keys seqbench; do
  timeout 120 "$PGCTL" createdb "$PG_DIR" "$db" >>"$BENCH_TMP/pgctl.log" 2>&1 ||
    bench_die "createdb $db failed"
done
PG_PID=$(head -n1 "$PG_DIR/data/postmaster.pid")
[[ "$PG_PID" =~ ^[0-9]+$ ]] || bench_die "no postmaster PID"
psqlq() { timeout 120 psql -qAtX -v ON_ERROR_STOP=1 "$@"; }
PG_VERSION=$(psqlq -d rec -c "SHOW server_version")
fact pg_version "$PG_VERSION"
fact pg_settings "$(psqlq -d rec -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes',
  'shared_buffers', 'wal_sync_method', 'max_connections', 'track_wal_io_timing')")"

PV_DIR[pga]=$BENCH_TMP/vault-pga
bench_log "PostgreSQL $PG_VERSION on 127.0.0.1:$PGPORT: phivault init --store"
printf '%s\n' "$BENCH_ADMIN_PW" |
  timeout 120 "$PHIVAULT" init "${PV_DIR[pga]}" \
    --store "host=$PGHOST port=$PGPORT user=$PGUSER dbname=rec" \
    --keys-store "host=$PGHOST port=$PGPORT user=$PGUSER dbname=keys" \
    >"$BENCH_TMP/init-pg.log" 2>&1 ||
  { cat "$BENCH_TMP/init-pg.log" >&2; bench_die "phivault init --store failed"; }
limit=$((BENCH_CONNS + 64))
[ "$limit" -ge 1024 ] || limit=1024
# The same settings bench/lib.sh and vaults.sh give the SQLite vault.
cat >>"${PV_DIR[pga]}/phivault.conf" <<EOF

# --- appended by bench/scale.sh (as bench/lib.sh for SQLite) ---
[ratelimit]
enabled = false

[server]
max_connections = $limit
per_ip_connections = $limit

[auth]
mfa_required_roles = admin
EOF
PV_CERT[pga]=${PV_DIR[pga]}/tls/cert.pem
printf '%s\n' "$CLIN_PW" | timeout 60 "$PHIVAULT" user add "${PV_DIR[pga]}" \
  --name "$CLIN" --role clinician >/dev/null || bench_die "cannot add $CLIN (PostgreSQL)"
pv_import pga "$BENCH_TMP/pop.ndjson"
# Read targets and the two halves of the patients, as pv_lists does.
psqlq -d rec -F / -c "SELECT type, id FROM resources WHERE is_current AND NOT deleted
  ORDER BY random() LIMIT $BENCH_ID_SAMPLE" >"$BENCH_TMP/ids-pga.txt"
psqlq -d rec -c "SELECT id FROM resources WHERE type = 'Patient' AND is_current
  ORDER BY id" >"$BENCH_TMP/patients-pga.txt"
awk 'NR % 2 == 1' "$BENCH_TMP/patients-pga.txt" >"$BENCH_TMP/search-pga.txt"
awk 'NR % 2 == 0' "$BENCH_TMP/patients-pga.txt" >"$BENCH_TMP/write-pga.txt"
if [ ! -s "$BENCH_TMP/ids-pga.txt" ] || [ ! -s "$BENCH_TMP/write-pga.txt" ]; then
  bench_die "PostgreSQL vault: empty id lists"
fi

# Nodes B and C: `node add` (same conf and keys, own TLS and audit key),
# then PROXY protocol from HAProxy's source address only.
for n in pgb pgc; do
  PV_DIR[$n]=$BENCH_TMP/vault-$n
  PV_CERT[$n]=${PV_DIR[$n]}/tls/cert.pem
  timeout 120 "$PHIVAULT" node add "${PV_DIR[$n]}" --from "${PV_DIR[pga]}" \
    >>"$BENCH_TMP/init-pg.log" 2>&1 ||
    { cat "$BENCH_TMP/init-pg.log" >&2; bench_die "phivault node add ($n) failed"; }
  printf '\n[proxy]\ntrusted = %s/32\n' "$PROXY_SRC" >>"${PV_DIR[$n]}/phivault.conf"
done

# --- 4. servers -----------------------------------------------------------------------
pv_start sqlite "$BENCH_TMP/phivault-sqlite.log"
for n in pga pgb pgc; do pv_start "$n" "$BENCH_TMP/phivault-$n.log"; done
H1=$(bench_free_port)
H2=$(bench_free_port)
[ "$H1" != "$H2" ] || H2=$(bench_free_port)
mkdir -p "$BENCH_TMP/haproxy"
cat >"$BENCH_TMP/haproxy/haproxy.cfg" <<EOF
# generated by bench/scale.sh — TCP mode, TLS passes through to phivault
global
  maxconn $((4 * BENCH_CONNS + 100))
defaults
  mode tcp
  retries 3
  timeout connect 2s
  timeout client 120s
  timeout server 120s
frontend fe_pg1_ha
  bind 127.0.0.1:$H1
  default_backend be_pg1_ha
frontend fe_pg2_ha
  bind 127.0.0.1:$H2
  default_backend be_pg2_ha
backend be_pg1_ha
  server b 127.0.0.1:${PV_PORT[pgb]} send-proxy-v2 check check-send-proxy inter 2s source $PROXY_SRC
backend be_pg2_ha
  balance roundrobin
  server b 127.0.0.1:${PV_PORT[pgb]} send-proxy-v2 check check-send-proxy inter 2s source $PROXY_SRC
  server c 127.0.0.1:${PV_PORT[pgc]} send-proxy-v2 check check-send-proxy inter 2s source $PROXY_SRC
EOF
timeout 10 haproxy -c -q -f "$BENCH_TMP/haproxy/haproxy.cfg" ||
  bench_die "haproxy rejected its generated config"
haproxy -f "$BENCH_TMP/haproxy/haproxy.cfg" -db >"$BENCH_TMP/haproxy/haproxy.log" 2>&1 &
HA_PID=$!
bench_track "$HA_PID"
cat "${PV_CERT[pgb]}" "${PV_CERT[pgc]}" >"$BENCH_TMP/ca-bc.pem"
ha_up=0
for _ in $(seq 1 100); do
  if curl -fsS --max-time 2 --cacert "$BENCH_TMP/ca-bc.pem" -o /dev/null \
      "https://127.0.0.1:$H2/healthz" 2>/dev/null; then ha_up=1; break; fi
  kill -0 "$HA_PID" 2>/dev/null || break
  sleep 0.1
done
[ "$ha_up" = 1 ] || { cat "$BENCH_TMP/haproxy/haproxy.log" >&2; bench_die "HAProxy not answering"; }
bench_log "HAProxy pid $HA_PID: 1 node on 127.0.0.1:$H1, 2 nodes on 127.0.0.1:$H2"

pv_login sqlite
pv_login pga # sessions are global: A's token works on B and C
TOKEN[pgb]=${TOKEN[pga]} TOKEN[pgc]=${TOKEN[pga]}

# cfg_* CONFIG — endpoint URL, CA file, list suffix, node names.
cfg_url() {
  case $1 in
    sqlite) pv_url sqlite ;; pg1) pv_url pga ;;
    pg1_ha) echo "https://127.0.0.1:$H1" ;; pg2_ha) echo "https://127.0.0.1:$H2" ;;
  esac
}
cfg_ca() {
  case $1 in
    sqlite) echo "${PV_CERT[sqlite]}" ;; pg1) echo "${PV_CERT[pga]}" ;;
    *) echo "$BENCH_TMP/ca-bc.pem" ;;
  esac
}
cfg_lists() { if [ "$1" = sqlite ]; then echo sqlite; else echo pga; fi; }
cfg_nodes() {
  case $1 in
    sqlite) echo sqlite ;; pg1) echo pga ;; pg1_ha) echo pgb ;; pg2_ha) echo "pgb pgc" ;;
  esac
}

# Sanity: every workload answers as intended through every set-up (the
# two-node frontend twice, so both nodes answer).
for c in "${CONFIGS[@]}" pg2_ha; do
  url=$(cfg_url "$c") l=$(cfg_lists "$c") ca=$(cfg_ca "$c")
  auth="Authorization: Bearer ${TOKEN[$l]}"
  code=$(curl -sS --max-time 30 --cacert "$ca" -o /dev/null -w '%{http_code}' -H "$auth" \
         "$url/fhir/$(head -n1 "$BENCH_TMP/ids-$l.txt")")
  [ "$code" = 200 ] || bench_die "$c: read answered HTTP $code"
  pid=$(head -n1 "$BENCH_TMP/write-$l.txt")
  code=$(sed "s/PATIENT_ID/$pid/" "$BENCH_TMP/write-template.json" |
         curl -sS --max-time 30 --cacert "$ca" -o /dev/null -w '%{http_code}' -X POST \
           -H "$auth" -H 'Content-Type: application/fhir+json' --data-binary @- \
           "$url/fhir/Observation")
  [ "$code" = 201 ] || bench_die "$c: write answered HTTP $code"
  n=$(curl -sS --max-time 30 --cacert "$ca" -H "$auth" \
      "$url/fhir/Observation?patient=$(head -n1 "$BENCH_TMP/search-$l.txt")&_count=10" |
      jq '.entry | length')
  [ "$n" -ge 1 ] 2>/dev/null || bench_die "$c: search returned no entries"
done
# HAProxy passes the client's address: B logged 127.0.0.1 (wrk's), not
# its own source 127.0.0.3.
grep -q '"peer":"127.0.0.1"' "$BENCH_TMP/phivault-pgb.log" ||
  bench_die "node B did not see the client's address through the PROXY header"
! grep -q '"peer":"'"$PROXY_SRC"'".*"route":"/fhir' "$BENCH_TMP/phivault-pgb.log" ||
  bench_die "node B saw HAProxy's address, not the client's"

# --- 5. measurement -----------------------------------------------------------------
# audit_counters NODE — "entries fsyncs" from the node's /metrics.
audit_counters() {
  pv_curl "$1" "$(pv_url "$1")/metrics" | awk '
    $1 == "phivault_audit_entries_total" { e = $2 }
    $1 == "phivault_audit_fsyncs_total" { f = $2 }
    END { print e + 0, f + 0 }'
}
# child_ticks — CPU of this shell's reaped children (wrk, once waited for).
child_ticks() {
  local f
  read -r -a f <<<"$(sed 's/.*) //' "/proc/$$/stat")"
  echo $((f[13] + f[14]))
}
# cpu_busy — "busy total" jiffies of the whole machine (/proc/stat).
cpu_busy() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i;
  print t - $5 - $6, t; exit }' /proc/stat; }
# pg_counters — commits (records + keys databases) and WAL counters.
pg_counters() {
  psqlq -d rec -F ' ' -c "SELECT (SELECT sum(xact_commit) FROM pg_stat_database
    WHERE datname IN ('rec', 'keys')), wal_records, wal_bytes, wal_write, wal_sync,
    wal_sync_time FROM pg_stat_wal"
}
# The sequencer lock sampler: counts, every BENCH_LOCK_SAMPLE_MS inside the
# server, whether the advisory lock of audit/medium_pg.c (key 1885894241:
# classid 0, objid 1885894241, objsubid 1 for a bigint key) is held and
# how many sessions wait for it. Prints "samples held waiting".
lock_sampler() { # lock_sampler SECONDS OUTFILE
  psqlq -d rec -c "DO \$\$
DECLARE n bigint := 0; h bigint := 0; w bigint := 0; g bigint; q bigint;
  t_end timestamptz := clock_timestamp() + make_interval(secs => $1);
BEGIN
  WHILE clock_timestamp() < t_end LOOP
    SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted)
      INTO g, q FROM pg_locks WHERE locktype = 'advisory' AND classid = 0
      AND objid = 1885894241 AND objsubid = 1;
    n := n + 1; h := h + g; w := w + q;
    PERFORM pg_sleep($BENCH_LOCK_SAMPLE_MS / 1000.0);
  END LOOP;
  RAISE NOTICE 'lock_samples % % %', n, h, w;
END \$\$" 2>&1 | sed -n 's/.*lock_samples \([0-9]*\) \([0-9]*\) \([0-9]*\).*/\1 \2 \3/p' >"$2"
}

# cell CONFIG WORKLOAD ROUND DURATION — one wrk run with its counters
# (CELL_THREADS, CELL_CONNS and CELL_PREFIX change wrk's threads and
# connections and the run's name, for the probes).
cell() {
  local c=$1 w=$2 r=$3 d=$4 url l n pids=() name out args=() script nodes
  local h0 h1 n0 n1 m0 m1 k0 k1 p0="" p1="" s_pid="" a0=() a1=() b0 b1
  name=${CELL_PREFIX:-}${c}_$w
  out=$RUNS/$name-$r.json
  url=$(cfg_url "$c") l=$(cfg_lists "$c")
  read -r -a nodes <<<"$(cfg_nodes "$c")"
  for n in "${nodes[@]}"; do pids+=("${PV_PID[$n]}"); done
  case $w in
    read) script=read.lua args=("$BENCH_TMP/ids-$l.txt" "${TOKEN[$l]}") ;;
    write) script=write.lua
           args=("$BENCH_TMP/write-$l.txt" "${TOKEN[$l]}" "$BENCH_TMP/write-template.json") ;;
    search) script=search.lua args=("$BENCH_TMP/search-$l.txt" "${TOKEN[$l]}") ;;
  esac
  bench_log "round $r: $w, $c (${d}s)"
  for n in "${nodes[@]}"; do a0+=("$(audit_counters "$n")"); done
  [ "$c" = sqlite ] || p0=$(pg_counters)
  [ "$c" = sqlite ] || [ "$r" = w ] ||
    { lock_sampler "$d" "$RUNS/$name-$r.lock" & s_pid=$!; }
  n0=0; for n in "${pids[@]}"; do n0=$((n0 + $(ticks_of "$n"))); done
  m0=$(tree_ticks "$PG_PID") h0=$(tree_ticks "$HA_PID") b0=$(cpu_busy) k0=$(child_ticks)
  timeout $((d + 60)) wrk -t"${CELL_THREADS:-$BENCH_THREADS}" -c"${CELL_CONNS:-$BENCH_CONNS}" \
    -d"${d}s" --timeout 5s \
    --latency -s "$BENCH_DIR/lua/$script" "$url" -- "${args[@]}" >"$RUNS/$name-$r.txt" 2>&1 ||
    { cat "$RUNS/$name-$r.txt" >&2; bench_die "wrk failed: $name round $r"; }
  n1=0; for n in "${pids[@]}"; do n1=$((n1 + $(ticks_of "$n"))); done
  m1=$(tree_ticks "$PG_PID") h1=$(tree_ticks "$HA_PID") b1=$(cpu_busy) k1=$(child_ticks)
  [ -z "$s_pid" ] || wait "$s_pid" || true
  for n in "${nodes[@]}"; do a1+=("$(audit_counters "$n")"); done
  [ "$c" = sqlite ] || p1=$(pg_counters)
  python3 "$BENCH_DIR/scale.py" cell --label "$name" --wrk "$RUNS/$name-$r.txt" \
    --clk-tck "$CLK_TCK" --duration "$d" --node-ticks "$((n1 - n0))" \
    --pg-ticks "$((m1 - m0))" --haproxy-ticks "$((h1 - h0))" --client-ticks "$((k1 - k0))" \
    --busy0 "$b0" --busy1 "$b1" --nodes "${nodes[*]}" \
    --audit0 "$(IFS=,; echo "${a0[*]}")" --audit1 "$(IFS=,; echo "${a1[*]}")" \
    --pg0 "$p0" --pg1 "$p1" --lock "$RUNS/$name-$r.lock" >"$out" ||
    bench_die "cannot summarise $name round $r"
  record "$name" "$r" "$out"
  for n in "${nodes[@]}"; do : >"$BENCH_TMP/phivault-$n.log"; done
}

# The sampler's own cost, idle: PostgreSQL CPU while it runs alone.
m0=$(tree_ticks "$PG_PID")
lock_sampler 3 "$BENCH_TMP/sampler-idle.lock"
m1=$(tree_ticks "$PG_PID")
fact sampler_cpu_ms_per_s "$(python3 -c "print(round(($m1 - $m0) * 1000 / $CLK_TCK / 3, 1))")"

CELLS=()
for w in "${WORKLOADS[@]}"; do for c in "${CONFIGS[@]}"; do CELLS+=("$c:$w"); done; done
if [ "$BENCH_WARMUP" -gt 0 ]; then
  for x in "${CELLS[@]}"; do cell "${x%%:*}" "${x#*:}" w "$BENCH_WARMUP"; done
fi
for r in $(seq 1 "$BENCH_ROUNDS"); do
  order=("${CELLS[@]}")
  if [ $((r % 2)) -eq 0 ]; then
    order=()
    for ((i = ${#CELLS[@]} - 1; i >= 0; i--)); do order+=("${CELLS[$i]}"); done
  fi
  for x in "${order[@]}"; do cell "${x%%:*}" "${x#*:}" "$r" "$BENCH_DURATION"; done
done
for n in sqlite pga pgb pgc; do
  kill -0 "${PV_PID[$n]}" 2>/dev/null || bench_die "phivault ($n) died during the benchmark"
done
kill -0 "$HA_PID" 2>/dev/null || bench_die "HAProxy died during the benchmark"
# Probes: the sequencer without CPU contention. One connection to node A
# (batches of one entry, one writer) and two through HAProxy to B and C
# (each batch also catches up on the other node's): the lock hold time
# per batch when nobody waits for a CPU, against the statements alone
# (section 6) = phivault's own work inside the lock.
for x in pg1:1 pg2_ha:2; do
  CELL_THREADS=1 CELL_CONNS=${x#*:} CELL_PREFIX=probe_ \
    cell "${x%%:*}" read 1 "$((2 * BENCH_SEQ_DURATION))"
done
# A node's start-up reads the whole trail (every leaf, for proofs) inside
# the sequencer's section (audit/log.c, pv_audit_open): meanwhile no other
# node can commit a batch. Restart node C while wrk reads through node A
# and record C's start-up time, the trail's size and A's worst latency.
rows=$(psqlq -d rec -c 'SELECT count(*) FROM audit_log')
timeout $((BENCH_RESTART_WRK + 120)) wrk -t1 -c8 -d"${BENCH_RESTART_WRK}s" --timeout 120s --latency \
  -s "$BENCH_DIR/lua/read.lua" "$(pv_url pga)" -- "$BENCH_TMP/ids-pga.txt" "${TOKEN[pga]}" \
  >"$RUNS/restart-wrk.txt" 2>&1 &
rw=$!
sleep 2
bench_log "restarting node C (trail of $rows entries) while node A serves reads"
pv_stop "${PV_PID[pgc]}"
t0=$(now)
pv_start pgc "$BENCH_TMP/phivault-pgc.log"
t1=$(now)
wait "$rw" || { cat "$RUNS/restart-wrk.txt" >&2; bench_die "wrk during the restart failed"; }
python3 "$BENCH_DIR/wrkparse.py" restart "$RUNS/restart-wrk.txt" >"$RUNS/restart.json" ||
  bench_die "cannot parse the restart run"
fact restart_trail_entries "$rows"
fact restart_startup_s "$(elapsed "$t0" "$t1")"
fact restart_other_node_max_latency_ms "$(jq .latency_ms.max "$RUNS/restart.json")"
fact restart_other_node_requests "$(jq .requests "$RUNS/restart.json")"
fact audit_rows_pg "$(psqlq -d rec -c 'SELECT count(*) FROM audit_log')"
fact audit_checkpoints_pg "$(psqlq -d rec -c 'SELECT count(*) FROM audit_checkpoints')"
fact audit_line_bytes_pg "$(psqlq -d rec -c 'SELECT round(avg(octet_length(line))) FROM audit_log')"
fact resources_pg "$(psqlq -d rec -c 'SELECT count(*) FROM resources WHERE is_current AND NOT deleted')"
fact resources_sqlite "$(pv_count sqlite)"

# --- 6. the sequencer's statements alone, the commit rate, fdatasync -----------------
SEQ_OUT=$BENCH_TMP/seq.tsv
: >"$SEQ_OUT"
if [ "$BENCH_SEQ" = 1 ]; then
  # A quiet machine: the nodes and HAProxy are no longer needed.
  for n in sqlite pga pgb pgc; do pv_stop "${PV_PID[$n]}"; done
  bench_stop "$HA_PID"
  # Real lines of this run's trail: the 64 before the last, as one text.
  psqlq -d rec -c "SELECT line FROM audit_log ORDER BY seq DESC OFFSET 1 LIMIT 64" \
    >"$BENCH_TMP/lines64.txt"
  cp_line=$(psqlq -d rec -c 'SELECT line FROM audit_checkpoints ORDER BY id DESC LIMIT 1')
  state_hex=$(psqlq -d rec -c "SELECT encode(rec, 'hex') FROM audit_state LIMIT 1")
  psqlq -d seqbench -f "$BENCH_DIR/pg/seq_schema.sql" >/dev/null
  seq_stat() { # seq_stat — "wal_sync wal_sync_time" now
    psqlq -d seqbench -F ' ' -c 'SELECT wal_sync, wal_sync_time FROM pg_stat_wal'
  }
  pgb() { # pgb LABEL CLIENTS SCRIPT [-D ...] — one pgbench run, one TSV line
    local label=$1 cl=$2 sc=$3 o w0 w1 m0 m1
    shift 3
    o=$RUNS/pgbench-$label.txt
    w0=$(seq_stat) m0=$(tree_ticks "$PG_PID")
    (cd "$RUNS" && timeout $((BENCH_SEQ_DURATION + 60)) pgbench -n -M extended \
       -c "$cl" -j "$(( cl < 2 ? cl : 2 ))" -T "$BENCH_SEQ_DURATION" \
       -f "$BENCH_DIR/pg/$sc" "$@" seqbench) >"$o" 2>&1 ||
      { cat "$o" >&2; bench_die "pgbench $label failed"; }
    sleep 1.2 # stats are flushed once a second
    w1=$(seq_stat) m1=$(tree_ticks "$PG_PID")
    python3 "$BENCH_DIR/scale.py" pgbench --label "$label" --out "$o" --clients "$cl" \
      --wal0 "$w0" --wal1 "$w1" --pg-ticks "$((m1 - m0))" --clk-tck "$CLK_TCK" >>"$SEQ_OUT" ||
      bench_die "cannot parse pgbench $label"
  }
  # One discarded run first: the first transactions on fresh tables and
  # backends are slower than the rest.
  head -n 16 "$BENCH_TMP/lines64.txt" >"$BENCH_TMP/lines.txt"
  bytes=$(($(wc -c <"$BENCH_TMP/lines.txt")))
  (cd "$RUNS" && timeout $((BENCH_SEQ_DURATION + 60)) pgbench -n -M extended -c 2 -j 2 \
     -T "$BENCH_SEQ_DURATION" -f "$BENCH_DIR/pg/seq_catchup.sql" \
     -D "lines=$(head -c $((bytes - 1)) "$BENCH_TMP/lines.txt")" -D "bytes=$bytes" \
     -D "cp=$cp_line" -D "rec=$state_hex" -D "slot=bench" seqbench) >"$RUNS/pgbench-warmup.txt" 2>&1 ||
    { cat "$RUNS/pgbench-warmup.txt" >&2; bench_die "pgbench warm-up failed"; }
  for v in append catchup; do
    for n in "${SEQ_SIZES[@]}"; do
      head -n "$n" "$BENCH_TMP/lines64.txt" >"$BENCH_TMP/lines.txt"
      bytes=$(($(wc -c <"$BENCH_TMP/lines.txt")))
      lines=$(head -c $((bytes - 1)) "$BENCH_TMP/lines.txt") # no final newline
      for cl in "${SEQ_CLIENTS[@]}"; do
        bench_log "sequencer statements: $v, $n entries/batch, $cl client(s) (${BENCH_SEQ_DURATION}s)"
        pgb "seq_${v}_n${n}_c$cl" "$cl" "seq_$v.sql" -D "lines=$lines" -D "bytes=$bytes" \
          -D "cp=$cp_line" -D "rec=$state_hex" -D "slot=bench"
      done
    done
  done
  for cl in 1 16; do
    bench_log "commit rate: one INSERT per transaction, $cl client(s) (${BENCH_SEQ_DURATION}s)"
    pgb "commit_c$cl" "$cl" commit.sql
  done
  bench_log "SQLite vault's counterpart: write + fdatasync per batch"
  tail -n 64 "${PV_DIR[sqlite]}/audit/log.jsonl" >"$BENCH_TMP/sqlite-lines.txt"
  python3 "$BENCH_DIR/fsyncbatch.py" --dir "$BENCH_TMP" --lines "$BENCH_TMP/sqlite-lines.txt" \
    --seconds "$BENCH_SEQ_DURATION" --sizes "$(IFS=,; echo "${SEQ_SIZES[*]}")" >>"$SEQ_OUT" ||
    bench_die "fsyncbatch.py failed"
fi

# --- 7. results -----------------------------------------------------------------------
fact total_run_s "$(($(date +%s) - T_START))"
out=$(bench_result_file scale)
bench_env_json >"$BENCH_TMP/env.json"
ts=$(basename "$out" .json)
python3 "$BENCH_DIR/scale.py" report --env "$BENCH_TMP/env.json" --facts "$FACTS" \
  --manifest "$MANIFEST" --seq "$SEQ_OUT" --out "$out" --timestamp "${ts#scale-}" \
  --params "threads=$BENCH_THREADS connections=$BENCH_CONNS duration_s=$BENCH_DURATION \
warmup_s=$BENCH_WARMUP rounds=$BENCH_ROUNDS patients=$BENCH_PATIENTS \
per_patient=$BENCH_PER_PATIENT resource_bytes=$BENCH_SIZE seq=$BENCH_SEQ \
seq_duration_s=$BENCH_SEQ_DURATION lock_sample_ms=$BENCH_LOCK_SAMPLE_MS \
restart_wrk_s=$BENCH_RESTART_WRK" \
  --haproxy "$(haproxy -v | head -n1 | awk '{print $3}')"
