# tests/e2e/auditlib.sh — helpers the audit-tampering tests share
# (test_audit_tamper.sh, test_audit_rewrite.sh). Source after lib.sh.
# Both run on either backend: the trail is read through lib.sh's
# pv_audit_* helpers and tampered with through tamper_copy/tamper_files.

# copy_vault NAME — a copy of $VAULT in $T/NAME to tamper with.
copy_vault() { rm -rf "$T/$1"; cp -a "$VAULT" "$T/$1"; }

# Each tampering case starts from the fixture's trail and leaves it to the
# next. On SQLite the trail is files in the vault directory: a case copies
# the vault (copy_vault) and tampers with the copy, TDIR. On PostgreSQL a
# copied vault directory still names the same database, so a case puts the
# records database back to the fixture's snapshot (taken by audit_fixture;
# it holds the trail's tables), tampers with the tables with SQL, and TDIR
# is $VAULT itself; tamper_end puts the fixture's state back for whatever
# the test does next with $VAULT.

# tamper_copy NAME — a fresh copy of the fixture's trail; sets TDIR.
tamper_copy() {
  if pv_is_pg; then
    pv_db_restore "$T/fixture.db"
    TDIR=$VAULT
  else
    copy_vault "$1"
    TDIR=$T/$1
  fi
}

# tamper_files NAME — tamper_copy for a tamper done by a tool on the
# files (tools/audit_forge.py): FDIR/audit/log.jsonl and checkpoints.jsonl
# hold the trail (FDIR is the copy itself on SQLite; on PostgreSQL a
# directory the tables are written out to), and tamper_push writes them
# back after the tool ran.
tamper_files() {
  tamper_copy "$1"
  FDIR=$T/$1
  if pv_is_pg; then
    rm -rf "$FDIR"
    mkdir -p "$FDIR/audit"
    pv_audit_log >"$FDIR/audit/log.jsonl"
    pv_audit_checkpoints >"$FDIR/audit/checkpoints.jsonl"
  fi
}

# tamper_push — PostgreSQL: the rows of audit_log and audit_checkpoints
# replaced by the lines of FDIR's two files, in one transaction (what an
# attacker with write access to the database does): seq numbered from 0,
# off each line's byte offset in the stream (as the file medium has it),
# checkpoint ids from 1 (never more than there were: the id sequence
# stays ahead). psql reads the files itself (\set with backquotes), so
# the lines reach the server as one quoted literal whatever they hold.
tamper_push() {
  pv_is_pg || return 0
  pv_psql "$PV_DB" -1 -v logf="$FDIR/audit/log.jsonl" \
    -v cpf="$FDIR/audit/checkpoints.jsonl" >/dev/null <<'SQL'
\set log `cat :'logf'`
\set cps `cat :'cpf'`
DELETE FROM audit_log;
INSERT INTO audit_log (seq, off, line)
  SELECT t.n - 1, coalesce(sum(octet_length(t.l) + 1) OVER (ORDER BY t.n
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), t.l
  FROM string_to_table(:'log', E'\n') WITH ORDINALITY AS t(l, n) WHERE t.l <> '';
DELETE FROM audit_checkpoints;
INSERT INTO audit_checkpoints (id, line)
  SELECT t.n, t.l FROM string_to_table(:'cps', E'\n') WITH ORDINALITY AS t(l, n)
  WHERE t.l <> '';
SQL
}

# tamper_end — PostgreSQL: the fixture's trail back in the database.
tamper_end() {
  if pv_is_pg; then pv_db_restore "$T/fixture.db"; fi
}

# verify_case NAME DIR EXPECTED_ENTRY EXPECTED_PROBLEM [verify args...]
# — `audit verify` must exit 1 naming that entry and problem.
verify_case() {
  local rc=0 out
  out=$("$PHIVAULT" audit verify "$2" "${@:5}" 2>&1) || rc=$?
  expect_eq "$1: verify exit 1" 1 "$rc"
  expect_eq "$1: verify names entry $3" "$3" \
    "$(sed -nE 's/.*FAILED at entry ([0-9]+).*/\1/p' <<<"$out")"
  expect_contains "$1: verify says $4" "$out" "($4)"
}

# serve_refuses NAME DIR [LOG_TEXT] — the server must exit non-zero
# without listening, its log naming LOG_TEXT (default: audit).
serve_refuses() {
  local pid i rc=0 log="$T/refuse.log"
  : >"$log"
  "$PHIVAULT" serve "$2" --listen 127.0.0.1:0 2>"$log" &
  pid=$!
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    grep -q '"event":"listening"' "$log" && break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    fail "$1: server started on a tampered trail"
    return
  fi
  wait "$pid" || rc=$?
  expect_ne "$1: server refuses to start" 0 "$rc"
  expect_contains "$1: start-up error names ${3:-the audit log}" "$(cat "$log")" "${3:-audit}"
}

# audit_fixture — a vault whose trail mixes allowed and denied reads of
# one patient, one group commit each (the requests are sequential, so one
# batch signature and one signed checkpoint per entry); the server is
# stopped afterwards. Sets CPW, pid, LOG, CPS (files holding the fixture's
# entry and checkpoint lines: the vault's own on SQLite, copies on
# PostgreSQL) and L (entries); on PostgreSQL $T/fixture.db is the records
# database as the fixture left it (tamper_copy).
audit_fixture() {
  local c n i
  pv_init
  pv_conf auth mfa_required_roles admin
  CPW="Clinic1an-secret-pw"
  pv_user drwho clinician "$CPW"
  pv_user nurse1 nurse "Nurse-secret-pw-01"
  pv_start
  c=$(login drwho "$CPW")
  n=$(login nurse1 "Nurse-secret-pw-01")
  pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"female"}' -H "$(auth "$c")" | jq -r '.id // empty')
  expect_ne "patient created" "" "$pid"
  for i in 1 2 3 4 5 6; do
    http_status GET "/fhir/Patient/$pid" -H "$(auth "$c")" >/dev/null
    http_status GET "/fhir/Patient/$pid" -H "$(auth "$n")" >/dev/null
  done
  pv_stop
  if pv_is_pg; then
    pv_db_snapshot "$T/fixture.db"
    LOG=$T/fixture-log.jsonl
    CPS=$T/fixture-checkpoints.jsonl
    pv_audit_log >"$LOG"
    pv_audit_checkpoints >"$CPS"
  else
    LOG=$VAULT/audit/log.jsonl
    CPS=$VAULT/audit/checkpoints.jsonl
  fi
  L=$(wc -l <"$LOG")
}
