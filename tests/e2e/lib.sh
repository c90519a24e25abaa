# tests/e2e/lib.sh — shared helpers for end-to-end tests.
#
# Each test sources this file, calls pv_setup, creates a vault with
# pv_init, optionally tweaks phivault.conf with pv_conf, and starts the
# real server on a free loopback port with pv_start. Everything lives in
# a temp directory removed on exit; the server is always stopped.
#
# Two backends (tests/CMakeLists.txt runs every test under both):
#   PV_BACKEND=sqlite (default)  the vault's own phivault.db, keys/keys.db
#   PV_BACKEND=postgresql        PV_PG_DIR is a running tests/pg/pgctl.sh
#     cluster (the CTest fixture e2e-pg.cluster starts one for the run);
#     pv_init makes two fresh databases on it, records and keys, and
#     `init --store … --keys-store …`; both are dropped on exit. The
#     database password reaches phivault through libpq's PGPASSFILE, or,
#     with PV_PG_PASSWORD_FILE=1, through [store] password_file only
#     (PGPASSFILE is then unset for phivault).
# A test reads or tampers with the store only through pv_sql / pv_sql_hex
# / pv_db_snapshot / pv_db_restore, and reads the audit trail only through
# pv_audit_log and its siblings, so the same attack runs on both; a
# part that has no PostgreSQL equivalent is skipped with pv_skip (a
# printed reason, never silently).
set -euo pipefail

: "${PHIVAULT:?PHIVAULT must point at the phivault binary}"
PV_SOURCE_DIR=${PV_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ADMIN_PW=${ADMIN_PW:-"e2e-Root-Passw0rd-long-x"}
PV_FAILS=0
PV_PID=""
PV_BACKEND=${PV_BACKEND:-sqlite}
PV_PG_DBS=()

case "$PV_BACKEND" in
  sqlite) ;;
  postgresql)
    : "${PV_PG_DIR:?PV_BACKEND=postgresql needs PV_PG_DIR (a pgctl.sh cluster)}"
    [ -f "$PV_PG_DIR/env" ] || { echo "no PostgreSQL test cluster at $PV_PG_DIR" >&2; exit 1; }
    # PGHOST PGPORT PGUSER PGPASSFILE (tests/pg/pgctl.sh start)
    set -a; . "$PV_PG_DIR/env"; set +a
    PV_PGPASS=$PGPASSFILE
    if [ "${PV_PG_PASSWORD_FILE:-0}" == 1 ]; then unset PGPASSFILE; fi
    ;;
  *) echo "PV_BACKEND must be sqlite or postgresql" >&2; exit 1 ;;
esac
pv_is_pg() { [ "$PV_BACKEND" == postgresql ]; }

pv_setup() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/phivault-e2e.XXXXXX")
  VAULT=$T/vault
  trap pv_teardown EXIT
}

pv_teardown() {
  local rc=$?
  if [ -n "$PV_PID" ] && kill -0 "$PV_PID" 2>/dev/null; then
    kill -TERM "$PV_PID" 2>/dev/null || true
    local src=0
    wait "$PV_PID" 2>/dev/null || src=$?
    [ "$src" -eq 0 ] || fail "server exited with status $src"
  fi
  if [ "$rc" -ne 0 ] || [ "$PV_FAILS" -ne 0 ]; then
    echo "--- server log (tail) ---" >&2
    tail -n 40 "$T/serve.log" 2>/dev/null >&2 || true
  fi
  # A helper left running (the webhook receiver) would hold the test's
  # output open and keep CTest waiting for the timeout.
  if [ -n "${HOOK_PID:-}" ]; then kill "$HOOK_PID" 2>/dev/null || true; fi
  pv_pg_drop
  rm -rf "$T"
  if [ "$PV_FAILS" -ne 0 ]; then
    echo "FAILED: $PV_FAILS check(s)" >&2
    exit 1
  fi
  exit "$rc"
}

fail() { echo "FAIL: $*" >&2; PV_FAILS=$((PV_FAILS + 1)); }
pass() { echo "ok: $*"; }

expect_eq() { # expect_eq WHAT EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
expect_ne() {
  if [ "$2" != "$3" ]; then pass "$1"; else fail "$1: did not expect '$3'"; fi
}
expect_contains() { # expect_contains WHAT HAYSTACK NEEDLE
  if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1: '$3' not found in: ${2:0:400}"; fi
}
expect_not_contains() {
  if [[ "$2" != *"$3"* ]]; then pass "$1"; else fail "$1: '$3' unexpectedly present"; fi
}

pv_init() { # pv_init [ADMIN_NAME]
  if pv_is_pg; then
    pv_pg_newdbs
    printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$VAULT" --admin "${1:-admin}" \
      --store "$PV_DSN" --keys-store "$PV_KEYS_DSN" ${PV_PG_PWFILE:+--password-file "$PV_PG_PWFILE"} >/dev/null
  else
    printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$VAULT" --admin "${1:-admin}" >/dev/null
  fi
  # Tests log in far more often than people do; the login limiter has
  # its own test (test_abuse.sh), which sets it back.
  pv_conf ratelimit login_per_minute 6000
  pv_conf ratelimit login_burst 1000
}

# ---- PostgreSQL databases of the vault --------------------------------------

pv_psql() { # pv_psql DBNAME ARGS... — psql as the cluster's superuser
  PGPASSFILE=$PV_PGPASS psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" \
    -U "$PGUSER" -d "$@"
}

# pv_pg_newdbs — two new databases for this test's vault (records and keys;
# the name says which test made them) and PV_DSN / PV_KEYS_DSN for them. With
# PV_PG_PASSWORD_FILE=1 also $T/pgpassword (0600), the password alone.
pv_pg_newdbs() {
  local base
  base=$(basename "$0" .sh | tr -c 'a-z0-9_\n' _ | cut -c1-30)
  base=e2e_${base}_$$_$RANDOM
  PV_DB=$base
  PV_KEYS_DB=${base}_keys
  "$PV_SOURCE_DIR/tests/pg/pgctl.sh" createdb "$PV_PG_DIR" "$PV_DB"
  PV_PG_DBS+=("$PV_DB")
  "$PV_SOURCE_DIR/tests/pg/pgctl.sh" createdb "$PV_PG_DIR" "$PV_KEYS_DB"
  PV_PG_DBS+=("$PV_KEYS_DB")
  PV_DSN="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PV_DB"
  PV_KEYS_DSN="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PV_KEYS_DB"
  PV_PG_PWFILE=""
  if [ "${PV_PG_PASSWORD_FILE:-0}" == 1 ]; then
    PV_PG_PWFILE=$T/pgpassword
    (umask 077; cut -d: -f5- "$PV_PGPASS" | head -n 1 >"$PV_PG_PWFILE")
  fi
}

pv_pg_drop() { # drops the databases pv_pg_newdbs made (at exit)
  local d
  pv_is_pg || return 0
  for d in "${PV_PG_DBS[@]}"; do
    pv_psql postgres -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  PV_PG_DBS=()
}

# pv_sql records|keys SQL — runs SQL on the vault's records or keys store
# (phivault.db / keys/keys.db, or the two PostgreSQL databases) and prints
# the rows, columns separated by '|'. Write SQL both dialects read:
# CAST(flag AS int) = 1 for a flag, pv_sql_hex for a blob in hex.
pv_sql() {
  local which=$1; shift
  if pv_is_pg; then
    local db=$PV_DB
    [ "$which" == keys ] && db=$PV_KEYS_DB
    pv_psql "$db" -A -t -c "$1"
  else
    local f=$VAULT/phivault.db
    [ "$which" == keys ] && f=$VAULT/keys/keys.db
    sqlite3 -cmd ".timeout 5000" "$f" "$1"
  fi
}
pv_sql_hex() { # pv_sql_hex COLUMN — that blob column as upper-case hex, in SQL
  if pv_is_pg; then printf "upper(encode(%s, 'hex'))" "$1"; else printf 'hex(%s)' "$1"; fi
}

# The keys store's two facts the tests ask about, in either schema (SQLite
# moves a shredded key to k.shredded; PostgreSQL keeps a tombstone row in
# deks with wrapped NULL and shredded_at set).
pv_deks() { # pv_deks [KEY_ID] — usable (wrapped) data keys, or that id's
  pv_sql keys "select count(*) from deks where wrapped is not null${1:+ and key_id='$1'}"
}
pv_shredded() { # pv_shredded KEY_ID — 1 when the key was shredded, else 0
  if pv_is_pg; then
    pv_sql keys "select count(*) from deks where key_id='$1' and shredded_at is not null"
  else
    pv_sql keys "select count(*) from shredded where key_id='$1'"
  fi
}

# pv_db_snapshot FILE — a copy of the records store as it is now (a backup an
# insider could keep); pv_db_restore FILE puts it back in place of the live
# one (the server must be stopped). The keys store is never part of it. On
# PostgreSQL the audit trail's tables are in the records database, so the
# snapshot holds the trail too and a restore puts it back as well; on
# SQLite the trail is files under $VAULT/audit, outside it.
pv_db_snapshot() {
  if pv_is_pg; then
    PGPASSFILE=$PV_PGPASS pg_dump -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -Fc -f "$1" "$PV_DB"
  else
    sqlite3 "$VAULT/phivault.db" ".backup '$1'"
  fi
}
pv_db_restore() {
  if pv_is_pg; then
    PGPASSFILE=$PV_PGPASS pg_restore -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" \
      --clean --if-exists --single-transaction -d "$PV_DB" "$1"
    # The records database holds the trail: restoring it rolls the trail
    # back, and the node refuses to start until the operator removes its
    # anchor, accepting that (test_audit_published.sh shows the refusal).
    rm -f "$VAULT/audit/anchor.json"
  else
    rm -f "$VAULT/phivault.db-wal" "$VAULT/phivault.db-shm"
    cp "$1" "$VAULT/phivault.db"
    chmod 600 "$VAULT/phivault.db"
  fi
}

# ---- the audit trail, on either medium ------------------------------------
# A SQLite vault keeps its trail in files, $VAULT/audit/log.jsonl,
# checkpoints.jsonl, quarantine.jsonl and state; a PostgreSQL vault in its
# records database, tables audit_log (seq, off, line), audit_checkpoints
# (id, line), audit_quarantine (id, moved_at, bytes), audit_state (slot,
# rec) and audit_nodes (src/audit/medium_pg.c). Tests read the trail only
# through these helpers, so both backends run the same assertions. DIR is
# a vault directory other than $VAULT (a tampered copy); it matters on
# SQLite only — on PostgreSQL a copied vault directory names the same
# database, so there is one trail per test (auditlib.sh says how the
# tampering tests deal with that).

# pv_audit_log [DIR] — the trail's entry lines, in order, one a line.
pv_audit_log() {
  if pv_is_pg; then
    pv_sql records "SELECT line FROM audit_log ORDER BY seq"
  else
    cat "${1:-$VAULT}/audit/log.jsonl"
  fi
}
# pv_audit_checkpoints [DIR] — the checkpoint lines, oldest first.
pv_audit_checkpoints() {
  if pv_is_pg; then
    pv_sql records "SELECT line FROM audit_checkpoints ORDER BY id"
  else
    cat "${1:-$VAULT}/audit/checkpoints.jsonl"
  fi
}
# pv_audit_quarantine [DIR] — the quarantined bytes (whole entry lines),
# oldest first; nothing when nothing was quarantined.
pv_audit_quarantine() {
  if pv_is_pg; then
    local q
    q=$(pv_sql records "SELECT string_agg(bytes, '' ORDER BY id) FROM audit_quarantine")
    [ -z "$q" ] || printf '%s\n' "$q"
  else
    cat "${1:-$VAULT}/audit/quarantine.jsonl" 2>/dev/null || true
  fi
}
# pv_audit_log_file [DIR] — prints the path of a file holding the trail's
# entry lines as they are now: the log itself on SQLite, a fresh copy
# ($T/audit-log.jsonl, rewritten on every call) on PostgreSQL. Call it at
# every point the trail is read, never once for the whole test.
pv_audit_log_file() {
  if pv_is_pg; then
    pv_audit_log >"$T/audit-log.jsonl"
    echo "$T/audit-log.jsonl"
  else
    echo "${1:-$VAULT}/audit/log.jsonl"
  fi
}
# pv_audit_cps_file [DIR] — the same for the checkpoints
# ($T/audit-checkpoints.jsonl on PostgreSQL).
pv_audit_cps_file() {
  if pv_is_pg; then
    pv_audit_checkpoints >"$T/audit-checkpoints.jsonl"
    echo "$T/audit-checkpoints.jsonl"
  else
    echo "${1:-$VAULT}/audit/checkpoints.jsonl"
  fi
}
# pv_audit_state_file — a file holding the writers' resume state records
# as bytes (the state file itself on SQLite), for searching it.
pv_audit_state_file() {
  if pv_is_pg; then
    pv_sql records "SELECT encode(rec, 'hex') FROM audit_state ORDER BY slot" |
      xxd -r -p >"$T/audit-state.bin"
    echo "$T/audit-state.bin"
  else
    echo "$VAULT/audit/state"
  fi
}

# Tampering with the trail, the same attack on either medium. N is an
# entry's position (0 = the first line). On PostgreSQL each is one SQL
# statement on audit_log, after which the attacker also rewrites the
# byte offsets (off) of the rows, so the tables hold exactly the stream
# the same edit of the file would leave (pv_audit_reoff); a stale offset
# is a different, cruder tamper (test_audit_tamper.sh shows it too).
pv_audit_row() { # pv_audit_row N — SQL for the seq of the row at position N
  printf '(SELECT seq FROM audit_log ORDER BY seq OFFSET %d LIMIT 1)' "$1"
}
# pv_audit_reoff — PostgreSQL: every row's off recomputed from the lengths
# of the lines before it (first moved out of the way: off is UNIQUE).
pv_audit_reoff() {
  pv_sql records "UPDATE audit_log SET off = off + 1000000000000;
    UPDATE audit_log a SET off = s.o FROM (SELECT seq, coalesce(sum(octet_length(line) + 1)
      OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS o
      FROM audit_log) s WHERE a.seq = s.seq" >/dev/null
}
# pv_audit_edit DIR N SED_SCRIPT — entry N's line run through sed (e.g.
# 's/"outcome":"denied"/"outcome":"allowed"/'); PostgreSQL: UPDATE.
pv_audit_edit() {
  if pv_is_pg; then
    local new
    new=$(pv_sql records "SELECT line FROM audit_log WHERE seq = $(pv_audit_row "$2")" | sed "$3")
    printf "UPDATE audit_log SET line = :'new' WHERE seq = %s;\n" "$(pv_audit_row "$2")" |
      pv_psql "$PV_DB" -v new="$new" >/dev/null
    pv_audit_reoff
  else
    sed -i "$(($2 + 1)){$3}" "$1/audit/log.jsonl"
  fi
}
# pv_audit_cp_edit DIR N SED_SCRIPT — checkpoint line N (0 = the oldest) run
# through sed; PostgreSQL: UPDATE of that audit_checkpoints row.
pv_audit_cp_edit() {
  if pv_is_pg; then
    local new row="(SELECT id FROM audit_checkpoints ORDER BY id OFFSET $2 LIMIT 1)"
    new=$(pv_sql records "SELECT line FROM audit_checkpoints WHERE id = $row" | sed "$3")
    printf "UPDATE audit_checkpoints SET line = :'new' WHERE id = %s;\n" "$row" |
      pv_psql "$PV_DB" -v new="$new" >/dev/null
  else
    sed -i "$(($2 + 1)){$3}" "$1/audit/checkpoints.jsonl"
  fi
}
# pv_audit_delete DIR N — entry N removed; PostgreSQL: DELETE.
pv_audit_delete() {
  if pv_is_pg; then
    pv_sql records "DELETE FROM audit_log WHERE seq = $(pv_audit_row "$2")" >/dev/null
    pv_audit_reoff
  else
    sed -i "$(($2 + 1))d" "$1/audit/log.jsonl"
  fi
}
# pv_audit_swap DIR N — entries N and N+1 change places; PostgreSQL: one
# UPDATE exchanging the two rows' lines.
pv_audit_swap() {
  if pv_is_pg; then
    pv_sql records "UPDATE audit_log a SET line = b.line FROM audit_log b
      WHERE (a.seq, b.seq) IN (($(pv_audit_row "$2"), $(pv_audit_row $(($2 + 1)))),
                               ($(pv_audit_row $(($2 + 1))), $(pv_audit_row "$2")))" >/dev/null
    pv_audit_reoff
  else
    sed -i -n "$(($2 + 1)){h;n;G};p" "$1/audit/log.jsonl"
  fi
}
# pv_audit_truncate DIR KEEP — only the first KEEP entries kept (a cut at a
# line boundary); PostgreSQL: DELETE of the later rows.
pv_audit_truncate() {
  if pv_is_pg; then
    pv_sql records "DELETE FROM audit_log WHERE seq >= $(pv_audit_row "$2")" >/dev/null
  else
    head -n "$2" "$1/audit/log.jsonl" >"$1/audit/log.jsonl.cut"
    mv "$1/audit/log.jsonl.cut" "$1/audit/log.jsonl"
  fi
}

# pv_skip WHAT WHY — a check that does not apply to this backend: printed,
# so a skipped part is never silent.
pv_skip() { echo "skip ($PV_BACKEND): $1 — $2"; }

pv_conf() { # pv_conf SECTION KEY VALUE — appended; later keys win
  printf '\n[%s]\n%s = %s\n' "$1" "$2" "$3" >>"$VAULT/phivault.conf"
}

# pv_start [--valgrind] — serve on 127.0.0.1:${PV_PORT:-0} (0: any free
# port; set PV_PORT=$PORT to restart on the same one); sets PORT and BASE.
pv_start() {
  local wrapper=()
  if [ "${1:-}" == "--valgrind" ]; then
    wrapper=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
      --error-exitcode=99 --track-fds=no --log-file="$T/valgrind.log")
  fi
  : >"$T/serve.log"
  "${wrapper[@]}" "$PHIVAULT" serve "$VAULT" --listen "127.0.0.1:${PV_PORT:-0}" 2>>"$T/serve.log" &
  PV_PID=$!
  local i
  for i in $(seq 1 600); do
    PORT=$(grep -o '"event":"listening","port":"[0-9]*"' "$T/serve.log" 2>/dev/null \
      | grep -o '[0-9]*"$' | tr -d '"' | tail -n1 || true)
    if [ -n "$PORT" ]; then
      BASE=https://127.0.0.1:$PORT
      return 0
    fi
    kill -0 "$PV_PID" 2>/dev/null || { cat "$T/serve.log" >&2; return 1; }
    sleep 0.1
  done
  echo "server did not start" >&2
  return 1
}

# pv_stop — SIGTERM and wait; the exit status lands in PV_RC.
pv_stop() {
  PV_RC=0
  kill -TERM "$PV_PID"
  wait "$PV_PID" || PV_RC=$?
  PV_PID=""
  # A clean stop exits 0; under the sanitizers a leak or UB report
  # changes the status, so every test checks for them on every stop.
  [ "$PV_RC" -eq 0 ] || fail "server exited with status $PV_RC"
}

pcurl() { curl -sS --cacert "$VAULT/tls/cert.pem" "$@"; }

# http_status METHOD PATH [curl args...] — prints the status code only.
http_status() {
  local m=$1 p=$2; shift 2
  pcurl -o /dev/null -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}

# pv_user NAME ROLE PASSWORD [PATIENT] — adds an account via the CLI.
pv_user() {
  if [ -n "${4:-}" ]; then
    printf '%s\n' "$3" | "$PHIVAULT" user add "$VAULT" --name "$1" --role "$2" --patient "$4" >/dev/null
  else
    printf '%s\n' "$3" | "$PHIVAULT" user add "$VAULT" --name "$1" --role "$2" >/dev/null
  fi
}

# jpost PATH JSON [curl args] — POST JSON, print the body.
jpost() {
  local p=$1 d=$2; shift 2
  pcurl -X POST -H 'Content-Type: application/json' -d "$d" "$@" "$BASE$p"
}

# login NAME PASSWORD [OTP] — prints the token (empty on failure).
login() {
  local body
  if [ -n "${3:-}" ]; then
    body=$(jq -nc --arg u "$1" --arg p "$2" --arg o "$3" '{username:$u,password:$p,otp:$o}')
  else
    body=$(jq -nc --arg u "$1" --arg p "$2" '{username:$u,password:$p}')
  fi
  jpost /auth/login "$body" | jq -r '.token // empty'
}

# mfa_login NAME PASSWORD — logs in, enrols TOTP and confirms it; prints
# the MFA-verified token and leaves the base32 secret in $T/NAME.secret.
mfa_login() {
  local tok sec
  tok=$(login "$1" "$2")
  sec=$(pcurl -X POST -H "Authorization: Bearer $tok" "$BASE/auth/mfa/enroll" | jq -r .secret)
  printf '%s' "$sec" >"$T/$1.secret"
  jpost /auth/mfa/confirm "{\"otp\":\"$(oathtool --totp -b "$sec")\"}" \
    -H "Authorization: Bearer $tok" | jq -r '.token // empty'
}

auth() { printf 'Authorization: Bearer %s' "$1"; }

# pv_webhook_start — starts a local webhook receiver; sets HOOK_URL and
# HOOK_OUT (one received alert per line).
pv_webhook_start() {
  HOOK_OUT=$T/webhook.out
  : >"$HOOK_OUT"
  python3 "$PV_SOURCE_DIR/tests/e2e/tools/webhook_sink.py" "$HOOK_OUT" "$T/hook.port" &
  HOOK_PID=$!
  local i
  for i in $(seq 1 50); do [ -s "$T/hook.port" ] && break; sleep 0.1; done
  HOOK_URL="http://127.0.0.1:$(cat "$T/hook.port")/alerts"
}

# wait_for_line FILE PATTERN [SECONDS] — polls until grep finds PATTERN.
wait_for_line() {
  local i n=$(( ${3:-5} * 10 ))
  for i in $(seq 1 "$n"); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# node_clients — installs the third-party npm clients once per test run
# into $T/node (package-lock.json pins them); sets SIGN to the signer.
node_clients() {
  mkdir -p "$T/node"
  cp "$PV_SOURCE_DIR/tests/e2e/node/package.json" \
     "$PV_SOURCE_DIR/tests/e2e/node/package-lock.json" \
     "$PV_SOURCE_DIR/tests/e2e/node/sign.mjs" "$T/node/"
  (cd "$T/node" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1)
  SIGN=(node "$T/node/sign.mjs")
}

# new_client NAME SCOPES — makes an Ed25519 key pair; prints the key id.
# The private key is left in $T/NAME.pem.
new_client() {
  openssl genpkey -algorithm ed25519 -out "$T/$1.pem" 2>/dev/null
  openssl pkey -in "$T/$1.pem" -pubout -outform DER | tail -c 32 | base64 |
    "$PHIVAULT" client add "$VAULT" --name "$1" --scopes "$2"
}

# signed_headers METHOD PATH KEYID PEM [BODYFILE] — curl -H arguments file.
signed_headers() {
  local out=$T/sig.$RANDOM
  "${SIGN[@]}" "$1" "$BASE$2" "$3" "$4" ${5:+"$5"} >"$out"
  echo "$out"
}

# scurl HEADERFILE METHOD PATH [curl args] — sends with those headers.
scurl() {
  local hf=$1 m=$2 p=$3; shift 3
  local args=() line
  while IFS= read -r line; do args+=(-H "$line"); done <"$hf"
  pcurl -X "$m" "${args[@]}" "$@" "$BASE$p"
}

# held_request METHOD PATH TOKEN JSON COMMAND... — sends the request with
# all of its body but the last byte, runs COMMAND while it is held, then
# sends the last byte; prints the response status (the red-team pass
# after issue 13: a change made while a body is on its way must win).
held_request() {
  local m=$1 p=$2 tok=$3 body=$4 hp; shift 4
  printf '%s' "$body" >"$T/held.body"
  rm -f "$T/held.go"
  python3 "$PV_SOURCE_DIR/tests/e2e/tools/slowclients.py" "$PORT" "$VAULT/tls/cert.pem" \
    held "$m" "$p" "$tok" "$T/held.body" "$T/held.go" >"$T/held.out" &
  hp=$!
  wait_for_line "$T/held.out" waiting 10 || true
  "$@" >/dev/null
  touch "$T/held.go"
  wait "$hp" || true
  tail -n 1 "$T/held.out"
}
