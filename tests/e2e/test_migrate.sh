#!/usr/bin/env bash
# `phivault db migrate-from-sqlite` (issue 15): an SQLite vault with
# accounts (MFA, recovery codes, a patient, a service client), sessions,
# patients and versioned observations, a care team, a break-glass grant,
# a legal hold and an erased patient is moved to two fresh PostgreSQL
# databases. Afterwards the server runs on PostgreSQL with the same
# sessions and passwords and reads the same records; the erased patient
# stays unreadable; `audit verify` passes; a checkpoint published before
# the move is consistent with the trail after it (an RFC 6962 proof from
# the server, checked by tools/merkle_verify.py); keys/keys.db is gone.
# Refused, with DIR left as it was: while the server runs, into databases
# that hold a vault, to a database that cannot be reached; bad usage: 2.
#
# Needs PostgreSQL whatever the backend: the e2e (SQLite) registration
# skips, the e2e-pg one (the test cluster) runs it all.
source "$(dirname "$0")/lib.sh"
if ! pv_is_pg; then
  pv_skip "db migrate-from-sqlite" "needs the PostgreSQL test cluster (runs as e2e-pg.test_migrate)"
  exit 0
fi
pv_setup
MV="$PV_SOURCE_DIR/tests/e2e/tools/merkle_verify.py"
CT='Content-Type: application/fhir+json'
PW="Clinic1an-secret-pw"
PPW="Patient-secret-pw-1"

# ---- an SQLite vault (init without --store), with a bit of everything -------
printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$VAULT" >/dev/null
pv_conf ratelimit login_per_minute 6000
pv_conf ratelimit login_burst 1000
pv_conf auth mfa_required_roles admin
expect_eq "the vault starts on SQLite" 1 "$([ -f "$VAULT/phivault.db" ] && [ -f "$VAULT/keys/keys.db" ] && echo 1)"
pv_user drc clinician "$PW"
pv_user drx clinician "$PW"
pv_start
node_clients
ATOK=$(mfa_login admin "$ADMIN_PW")
expect_ne "admin enrolled MFA (sealed secret, recovery codes)" "" "$ATOK"
TOK=$(login drc "$PW")
req() { local m=$1 p=$2 t=$3; shift 3
  pcurl -o "$T/out" -w '%{http_code}' -X "$m" -H "$(auth "$t")" "$@" "$BASE$p"; }
send() { local m=$1 p=$2 d=$3; req "$m" "$p" "$TOK" -H "$CT" --data-binary "$d"; }
obs() { printf '{"resourceType":"Observation","status":"final","code":{"text":"%s"},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%s}}' "$3" "$1" "$2"; }
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Kept"}],"identifier":[{"system":"urn:mrn","value":"MRN-KEPT-1"}]}' >/dev/null
P=$(jq -r .id "$T/out")
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Other"}]}' >/dev/null
Q=$(jq -r .id "$T/out")
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Erased"}]}' >/dev/null
E=$(jq -r .id "$T/out")
send POST /fhir/Observation "$(obs "$P" 1 first)" >/dev/null; PO=$(jq -r .id "$T/out")
send PUT "/fhir/Observation/$PO" "$(obs "$P" 2 second | jq -c --arg id "$PO" '.id = $id')" >/dev/null
send POST /fhir/Observation "$(obs "$E" 9 gone)" >/dev/null; EO=$(jq -r .id "$T/out")
send POST /fhir/Observation "$(obs "$Q" 7 otherobs)" >/dev/null; QO=$(jq -r .id "$T/out")
req GET "/fhir/Observation/$PO" "$TOK" >/dev/null; cp "$T/out" "$T/po.before"
expect_eq "setup: two versions of the observation" 2 "$(jq -r .meta.versionId "$T/po.before")"
pv_user lena patient "$PPW" "$P"
PTOK=$(login lena "$PPW")
XTOK=$(login drx "$PW")
expect_eq "setup: drx is on no care team" 403 "$(req GET "/fhir/Patient/$Q" "$XTOK")"
expect_eq "setup: break-glass for drx on Q" 201 "$(req POST "/fhir/Patient/$Q/\$break-glass" "$XTOK" \
  -H 'Content-Type: application/json' -d '{"reason":"night shift emergency"}')"
"$PHIVAULT" careteam add "$VAULT" --user drx --patient "$P" >/dev/null
kid=$(new_client labsys "system/Observation.rs system/Patient.rs")
"$PHIVAULT" hold add "$VAULT" --patient "$P" >/dev/null
"$PHIVAULT" erase "$VAULT" --patient "$E" >/dev/null
expect_eq "setup: erased patient reads as gone" 410 "$(req GET "/fhir/Observation/$EO" "$TOK")"
h=$(signed_headers GET "/fhir/Observation/$PO" "$kid" "$T/labsys.pem")
expect_eq "setup: the service client reads by signature" 200 "$(scurl "$h" GET "/fhir/Observation/$PO" -o /dev/null -w '%{http_code}')"

# ---- refused while the server runs; DIR untouched -----------------------------
snap() { # what must not change when a move is refused
  (cd "$VAULT" && sha256sum phivault.conf keys/keys.db phivault.db; ls keys)
}
snap >"$T/snap0"
LOG=$VAULT/audit/log.jsonl
n0=$(wc -l <"$LOG")
pv_pg_newdbs
TO=(--to "$PV_DSN" --keys-to "$PV_KEYS_DSN" ${PV_PG_PWFILE:+--password-file "$PV_PG_PWFILE"})
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" "${TO[@]}" >"$T/o" 2>"$T/e" || rc=$?
expect_eq "refused while served: exit 1" 1 "$rc"
expect_contains "… says the vault is in use" "$(cat "$T/e")" "in use"
expect_eq "… nothing was written to the databases" 0 \
  "$(pv_psql "$PV_DB" -A -t -c "select count(*) from pg_tables where schemaname = 'public'")"
expect_eq "… nothing changed in the SQLite trail either" "$n0" "$(wc -l <"$LOG")"
expect_eq "the server still answers" 200 "$(req GET "/fhir/Observation/$PO" "$TOK")"
pv_stop

# A checkpoint published before the move (as `audit checkpoint` prints it).
"$PHIVAULT" audit checkpoint "$VAULT" >"$T/cp.old"
S_OLD=$(jq -r .size "$T/cp.old"); R_OLD=$(jq -r .root "$T/cp.old")
expect_eq "the old checkpoint verifies on its own" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <"$T/cp.old")"
users0=$(sqlite3 "$VAULT/phivault.db" "select count(*) from users")
res0=$(sqlite3 "$VAULT/phivault.db" "select count(*) from resources")
snap >"$T/snap0"
n0=$(wc -l <"$LOG")

# ---- usage and refusals: exit 2 / exit 1, DIR as it was ------------------------
rc=0; out=$("$PHIVAULT" db migrate-from-sqlite "$VAULT" --to "host=127.0.0.1 port=1 dbname=nowhere" 2>&1) || rc=$?
expect_eq "without --keys-to: the default keys database, unreachable here: exit 1" 1 "$rc"
expect_contains "… named: the records database's name + _keys" "$out" "dbname='nowhere_keys'"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" --to "$PV_DSN password=x" --keys-to "$PV_KEYS_DSN" >/dev/null 2>&1 || rc=$?
expect_eq "a password in a DSN: exit 2" 2 "$rc"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" --to "$PV_DSN" --keys-to "$PV_DSN" >/dev/null 2>&1 || rc=$?
expect_eq "one database for both: exit 2" 2 "$rc"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" --to "host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2" \
  --keys-to "host=127.0.0.1 port=1 dbname=nowhere_keys connect_timeout=2" >"$T/o" 2>"$T/e" || rc=$?
expect_eq "a database that cannot be reached: exit 1" 1 "$rc"
expect_contains "… not moved" "$(cat "$T/e")" "not moved"
# Databases that already hold a vault.
OTHER_DB=$PV_DB; OTHER_KEYS=$PV_KEYS_DB
# (init without --keys-store: its default, $PV_DB + _keys, is $PV_KEYS_DB)
printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$T/other" --store "$PV_DSN" \
  ${PV_PG_PWFILE:+--password-file "$PV_PG_PWFILE"} >/dev/null
expect_contains "init's default keys database is the records name + _keys" \
  "$(grep '^keys_dsn' "$T/other/phivault.conf")" "dbname='$PV_KEYS_DB'"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" "${TO[@]}" >"$T/o" 2>"$T/e" || rc=$?
expect_eq "into databases that hold a vault: exit 1" 1 "$rc"
expect_contains "… says so" "$(cat "$T/e")" "already holds"
expect_eq "… the other vault is untouched" 1 "$(pv_psql "$OTHER_DB" -A -t -c "select count(*) from users")"
expect_eq "DIR unchanged by the refusals (conf, databases, keys)" "$(cat "$T/snap0")" "$(snap)"
expect_eq "each audited attempt: an intent and its failure" $((n0 + 6)) "$(wc -l <"$LOG")"
expect_eq "… recorded as failed db.migrate" 2 \
  "$(tail -n 4 "$LOG" | jq -s '[.[] | select(.action == "db.migrate" and .outcome == "failed")] | length')"
rc=0; "$PHIVAULT" audit verify "$VAULT" >/dev/null || rc=$?
expect_eq "the SQLite trail still verifies" 0 "$rc"
n0=$(wc -l <"$LOG")

# While a move holds the directory (here flock(1) stands in for it), no
# command opens the vault.
rc=0; flock --exclusive --nonblock "$VAULT" "$PHIVAULT" audit verify "$VAULT" >/dev/null 2>"$T/e" || rc=$?
expect_eq "a command during a move: exit 1" 1 "$rc"
expect_contains "… says the vault is being moved" "$(cat "$T/e")" "being moved"

# A copy that fails half-way (a flag SQLite holds as 2) leaves both
# databases empty again — the keys database had committed — and DIR as it
# was; once fixed, the move runs into the same databases.
pv_pg_newdbs
TO=(--to "$PV_DSN" --keys-to "$PV_KEYS_DSN" ${PV_PG_PWFILE:+--password-file "$PV_PG_PWFILE"})
sqlite3 "$VAULT/phivault.db" "update users set active = 2 where username = 'drx'"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" "${TO[@]}" >"$T/o" 2>"$T/e" || rc=$?
expect_eq "a copy that fails: exit 1" 1 "$rc"
expect_contains "… names the table" "$(cat "$T/e")" "table users"
expect_eq "… the keys database is empty again" 0 "$(pv_sql keys "select count(*) from deks")"
expect_eq "… the records database too" "0 0" \
  "$(pv_sql records "select count(*) from users") $(pv_sql records "select count(*) from audit_log")"
expect_eq "… phivault.conf unchanged, no audit-root.pub, no anchor" "$(sed -n 1p "$T/snap0") no no" \
  "$(cd "$VAULT" && sha256sum phivault.conf) $([ -e "$VAULT/keys/audit-root.pub" ] && echo yes || echo no) $([ -e "$VAULT/audit/anchor.json" ] && echo yes || echo no)"
sqlite3 "$VAULT/phivault.db" "update users set active = 1 where username = 'drx'"
n0=$(wc -l <"$LOG")

# ---- the move ------------------------------------------------------------------
cp "$VAULT/keys/keys.db" "$T/keys.db.old"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" "${TO[@]}" >"$T/o" 2>"$T/e" || rc=$?
expect_eq "migrate-from-sqlite: exit 0" 0 "$rc"
cat "$T/e" >&2
sum=$(cat "$T/o"); echo "$sum"
expect_contains "one summary line" "$sum" "moved to PostgreSQL in"
expect_eq "… one line" 1 "$(wc -l <"$T/o")"
expect_contains "… counts the users" "$sum" "users $users0,"
expect_contains "… counts the resource versions" "$sum" "resources $res0,"
expect_contains "… counts the copied trail" "$sum" "($((n0 + 1)) copied)"
expect_eq "keys/keys.db is gone" 0 "$(ls "$VAULT/keys" | grep -c '^keys\.db')"
expect_eq "phivault.db and the file trail are gone; the node's anchor is there" "audit/anchor.json" \
  "$(cd "$VAULT" && ls -d phivault.db* audit/* 2>/dev/null || true)"
expect_eq "keys/audit-root.pub is the vault's audit key" 0 \
  "$(cmp -s "$VAULT/keys/audit-root.pub" "$VAULT/keys/audit-signing.pub"; echo $?)"
expect_eq "phivault.conf: backend = postgresql" 1 "$(grep -c '^backend = postgresql$' "$VAULT/phivault.conf")"
expect_eq "phivault.conf: other settings kept" 1 "$(grep -c '^login_per_minute = 6000$' "$VAULT/phivault.conf")"
expect_eq "phivault.conf: mode 0600" 600 "$(stat -c %a "$VAULT/phivault.conf")"
expect_eq "users copied with their ids" "$(seq -s, 1 "$users0")" \
  "$(pv_sql records "select string_agg(id::text, ',' order by id) from users")"
expect_eq "resource versions copied" "$res0" "$(pv_sql records "select count(*) from resources")"
expect_eq "the erased patient's key is a tombstone" 1 "$(pv_shredded "$E")"
expect_eq "… and no usable key" 0 "$(pv_deks "$E")"
expect_eq "the other patients' keys are there" "1 1" "$(pv_deks "$P") $(pv_deks "$Q")"
expect_eq "the trail's lines are in the database" $((n0 + 2)) "$(pv_sql records "select count(*) from audit_log")"
expect_eq "the last two entries are the move's" "db.migrate cli db.migrate moved_to_postgresql" \
  "$(pv_sql records "select line from audit_log order by seq desc limit 2" | tac | jq -r '.action + " " + .reason' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the vault's key is registered, self-endorsed" 1 \
  "$(pv_sql records "select count(*) from audit_nodes where key_id = endorser")"
rc=0; "$PHIVAULT" audit verify "$VAULT" >"$T/v" || rc=$?
expect_eq "audit verify passes on PostgreSQL" 0 "$rc"
expect_contains "… every entry" "$(cat "$T/v")" "audit trail OK: $((n0 + 2)) entries"
rc=0; "$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/cp.old" >/dev/null || rc=$?
expect_eq "… and holds to the checkpoint published before the move" 0 "$rc"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" "${TO[@]}" >/dev/null 2>"$T/e" || rc=$?
expect_eq "a second move: exit 1" 1 "$rc"
expect_contains "… on PostgreSQL already" "$(cat "$T/e")" "PostgreSQL already"
# A move interrupted after its commit point (phivault.conf switched, the
# SQLite files not yet removed): run again, it removes them.
cp "$T/keys.db.old" "$VAULT/keys/keys.db"
rc=0; "$PHIVAULT" db migrate-from-sqlite "$VAULT" "${TO[@]}" >"$T/o" 2>"$T/e" || rc=$?
expect_eq "finishing an interrupted move: exit 0" 0 "$rc"
expect_contains "… says so" "$(cat "$T/o")" "SQLite files are removed now"
expect_eq "… keys/keys.db is gone again" no "$([ -e "$VAULT/keys/keys.db" ] && echo yes || echo no)"

# ---- the server on PostgreSQL: same sessions, passwords, records ----------------
pv_start
expect_eq "the clinician's session still works" 200 "$(req GET "/fhir/Observation/$PO" "$TOK")"
expect_eq "… the same record, byte for byte" "$(cat "$T/po.before")" "$(cat "$T/out")"
expect_eq "… its history (two versions)" 2 "$([ "$(req GET "/fhir/Observation/$PO/_history" "$TOK")" == 200 ] && jq '.entry | length' "$T/out")"
expect_eq "the admin's MFA session still works" 200 "$(req GET /auth/sessions "$ATOK")"
expect_eq "the patient's session reads their record" 200 "$(req GET "/fhir/Patient/$P" "$PTOK")"
expect_eq "the break-glass grant still holds" 200 "$(req GET "/fhir/Patient/$Q" "$XTOK")"
expect_eq "the care team still holds" 200 "$(req GET "/fhir/Observation/$PO" "$XTOK")"
T2=$(login drc "$PW")
expect_ne "the clinician logs in with the same password" "" "$T2"
expect_eq "… and reads" 200 "$(req GET "/fhir/Observation/$QO" "$T2")"
expect_contains "… the other patient's observation" "$(cat "$T/out")" otherobs
A2=$(login admin "$ADMIN_PW" "$(oathtool --totp -b "$(cat "$T/admin.secret")" -N "now + 30 seconds")")
expect_ne "the admin logs in with password and TOTP (secret copied sealed)" "" "$A2"
expect_eq "the identifier search finds the patient (blind index)" 1 \
  "$([ "$(req GET "/fhir/Patient?identifier=urn:mrn|MRN-KEPT-1" "$TOK")" == 200 ] && jq '.entry | length' "$T/out")"
h=$(signed_headers GET "/fhir/Observation/$PO" "$kid" "$T/labsys.pem")
expect_eq "the service client's signature still verifies" 200 "$(scurl "$h" GET "/fhir/Observation/$PO" -o /dev/null -w '%{http_code}')"
expect_eq "the erased patient stays unreadable" "410 410" \
  "$(req GET "/fhir/Patient/$E" "$TOK") $(req GET "/fhir/Observation/$EO" "$TOK")"
rc=0; "$PHIVAULT" erase "$VAULT" --patient "$P" >/dev/null 2>"$T/e" || rc=$?
expect_eq "the legal hold still stops erasure: exit 1" 1 "$rc"
pv_user newbie nurse "Nurse-secret-pw-01"
expect_eq "a new account gets the next id" $((users0 + 1)) "$(pv_sql records "select id from users where username = 'newbie'")"
expect_eq "a new patient gets a key" 201 "$(send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"New"}]}')"
expect_eq "a new break-glass grant" 201 "$(req POST "/fhir/Patient/$(jq -r .id "$T/out")/\$break-glass" "$XTOK" \
  -H 'Content-Type: application/json' -d '{"reason":"second emergency case"}')"

# ---- the old checkpoint is consistent with the new trail -----------------------
cp_new=$(pcurl -H "$(auth "$TOK")" "$BASE/audit/checkpoint")
S_NEW=$(jq -r .size <<<"$cp_new"); R_NEW=$(jq -r .root <<<"$cp_new")
expect_eq "the new checkpoint is signed by the same key" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$cp_new")"
expect_eq "the new trail is longer" 1 "$([ "$S_NEW" -gt "$S_OLD" ] && echo 1)"
pcurl -H "$(auth "$TOK")" "$BASE/audit/proof/consistency?from=$S_OLD&to=$S_NEW" >"$T/cproof"
rc=0; python3 "$MV" consistency --from "$S_OLD" --to "$S_NEW" --root-a "$R_OLD" --root-b "$R_NEW" <"$T/cproof" >/dev/null || rc=$?
expect_eq "consistency proof old checkpoint -> new trail verifies" 0 "$rc"
rc=0; python3 "$MV" consistency --from "$S_OLD" --to "$S_NEW" --root-a "$R_NEW" --root-b "$R_OLD" <"$T/cproof" >/dev/null || rc=$?
expect_eq "… and the roots swapped do not" 1 "$rc"
pv_stop
rc=0; "$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/cp.old" >/dev/null || rc=$?
expect_eq "audit verify after serving on PostgreSQL, old checkpoint held" 0 "$rc"
