#!/usr/bin/env bash
# Encrypted FHIR store (issue 5), part 3: crypto-shredding. A legal hold
# stops erasure; erasure makes the patient's resources gone (410) while
# other patients are untouched; restoring a copy of the records database
# taken before the erasure does not bring the patient back (the data key
# lived in the keys database and is destroyed), and no new key is minted
# for them. On SQLite the copy is phivault.db (.backup); on PostgreSQL a
# pg_dump of the records database, restored over it (lib.sh).
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
PW="Clinic1an-secret-pw"
pv_user drc clinician "$PW"
pv_conf auth mfa_required_roles admin
pv_start
CT='Content-Type: application/fhir+json'
TOK=$(login drc "$PW")
expect_ne "clinician logs in" "" "$TOK"

req() { local m=$1 p=$2; shift 2
  pcurl -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X "$m" -H "$(auth "$TOK")" "$@" "$BASE$p"; }
send() { local m=$1 p=$2 d=$3; shift 3; req "$m" "$p" -H "$CT" --data-binary "$d" "$@"; }
obs() { printf '{"resourceType":"Observation","status":"final","code":{"text":"%s"},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%s}}' "$3" "$1" "$2"; }
SECRET="Shred$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"

send POST /fhir/Patient "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Fam$SECRET\"}],\"identifier\":[{\"system\":\"urn:mrn\",\"value\":\"MRN$SECRET\"}]}" >/dev/null
P=$(jq -r .id "$T/out")
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Keeper"}]}' >/dev/null
Q=$(jq -r .id "$T/out")
send POST /fhir/Observation "$(obs "$P" 1 "Obs$SECRET")" >/dev/null; PO=$(jq -r .id "$T/out")
send PUT "/fhir/Observation/$PO" "$(obs "$P" 2 "Obs2$SECRET" | jq -c --arg id "$PO" '.id = $id')" >/dev/null
send POST /fhir/Condition "{\"resourceType\":\"Condition\",\"subject\":{\"reference\":\"Patient/$P\"},\"code\":{\"text\":\"Dx$SECRET\"}}" >/dev/null
PC=$(jq -r .id "$T/out")
send POST /fhir/Observation "$(obs "$Q" 7 KeeperObs)" >/dev/null; QO=$(jq -r .id "$T/out")
PREADS=("Patient/$P" "Observation/$PO" "Condition/$PC")
expect_in() { # expect_in WHAT "CODE CODE…" ACTUAL
  if [[ " $2 " == *" $3 "* ]]; then pass "$1 ($3)"; else fail "$1: expected one of $2, got '$3'"; fi; }
codes() { local r; for r in "$@"; do printf '%s ' "$(req GET "/fhir/$r")"; done | sed 's/ $//'; }
expect_eq "setup: the patient's resources read" "200 200 200" "$(codes "${PREADS[@]}")"
expect_eq "setup: the other patient's read" "200 200" "$(codes "Patient/$Q" "Observation/$QO")"
expect_eq "setup: a DEK for each patient" 2 "$(pv_deks)"

# Legal hold: erasure refused (exit 1), nothing changes.
rc=0; "$PHIVAULT" hold add "$VAULT" --patient "$P" >/dev/null || rc=$?
expect_eq "hold add: exit 0" 0 "$rc"
rc=0; "$PHIVAULT" erase "$VAULT" --patient "$P" >/dev/null 2>"$T/err" || rc=$?
expect_eq "erase under legal hold: exit 1" 1 "$rc"
expect_contains "erase says why" "$(cat "$T/err")" "legal hold"
expect_eq "under hold: still readable" "200 200 200" "$(codes "${PREADS[@]}")"
expect_eq "under hold: DEK kept" 1 "$(pv_deks "$P")"
rc=0; "$PHIVAULT" hold remove "$VAULT" --patient "$P" >/dev/null || rc=$?
expect_eq "hold remove: exit 0" 0 "$rc"
rc=0; "$PHIVAULT" erase "$VAULT" --patient nosuchpatient >/dev/null 2>&1 || rc=$?
expect_eq "erase of an unknown patient: exit 1" 1 "$rc"
rc=0; "$PHIVAULT" erase "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "erase without --patient: exit 2" 2 "$rc"

# A copy of the records database from before the erasure (online backup).
expect_eq "before the copy: the patient's sealed rows" 4 \
  "$(pv_sql records "select count(*) from resources where patient_id='$P' and sealed is not null")"
pv_db_snapshot "$T/before.db"
if ! pv_is_pg; then
  expect_eq "the copy holds the patient's sealed rows" 4 \
    "$(sqlite3 "$T/before.db" "select count(*) from resources where patient_id='$P' and sealed is not null")"
fi # (PostgreSQL: a pg_dump archive; restored and counted below)

rc=0; "$PHIVAULT" erase "$VAULT" --patient "$P" >"$T/erase.out" 2>&1 || rc=$?
expect_eq "erase: exit 0" 0 "$rc"
expect_contains "erase summary" "$(cat "$T/erase.out")" "erased"
expect_eq "DEK gone from the keys store" 0 "$(pv_deks "$P")"
expect_eq "other patient's DEK kept" 1 "$(pv_deks "$Q")"
expect_eq "no sealed version of the patient left" 0 \
  "$(pv_sql records "select count(*) from resources where patient_id='$P' and sealed is not null")"
expect_eq "erased: reads report gone" "410 410 410" "$(codes "${PREADS[@]}")"
expect_eq "erased: 410 is an OperationOutcome" OperationOutcome "$(jq -r .resourceType "$T/out")"
expect_in "erased: vread of an old version (rows deleted)" "404 410" "$(req GET "/fhir/Observation/$PO/_history/1")"
expect_eq "erased: history is gone" 410 "$(req GET "/fhir/Observation/$PO/_history")"
expect_not_contains "erased: no PHI in the history answer" "$(cat "$T/out")" "$SECRET"
s=$(req GET "/fhir/Observation?patient=$P")
expect_eq "erased: compartment search is empty or refused" 1 \
  "$( { [ "$s" == 200 ] && [ "$(jq '.entry | length' "$T/out")" == 0 ]; } || [ "${s:0:1}" == 4 ] && echo 1 || echo 0)"
expect_eq "erased: identifier search finds nothing" 0 \
  "$([ "$(req GET "/fhir/Patient?identifier=urn:mrn|MRN$SECRET")" == 200 ] && jq '.entry | length' "$T/out")"
expect_in "erased: a new Observation for the patient is refused" "403 410 422" "$(send POST /fhir/Observation "$(obs "$P" 3 late)")"
expect_in "erased: an update is refused" "403 410" "$(send PUT "/fhir/Condition/$PC" \
  "{\"resourceType\":\"Condition\",\"id\":\"$PC\",\"subject\":{\"reference\":\"Patient/$P\"}}")"
expect_eq "erased: no new DEK minted" 0 "$(pv_deks "$P")"
expect_eq "other patient unaffected" "200 200" "$(codes "Patient/$Q" "Observation/$QO")"
expect_contains "… with its content" "$(cat "$T/out")" KeeperObs
rc=0; "$PHIVAULT" erase "$VAULT" --patient "$P" >/dev/null 2>&1 || rc=$?
expect_eq "erase again: idempotent exit 0" 0 "$rc"

# Restore the old database in place (server stopped, WAL removed).
pv_stop
expect_eq "clean stop" 0 "$PV_RC"
expect_eq "the live database no longer has the secret" "" \
  "$(grep -rlaF -e "$SECRET" "$VAULT" "$T/serve.log" 2>/dev/null || true)"
pv_db_restore "$T/before.db"
expect_eq "restored database has the sealed rows again" 4 \
  "$(pv_sql records "select count(*) from resources where patient_id='$P' and sealed is not null")"
pv_start
TOK=$(login drc "$PW")
expect_ne "login after restore" "" "$TOK"
for r in "${PREADS[@]}" "Observation/$PO/_history/1" "Observation/$PO/_history"; do
  c=$(req GET "/fhir/$r")
  if [ "$c" == 410 ] || [ "${c:0:1}" == 5 ]; then pass "restored backup: $r is $c"
  else fail "restored backup: $r answered $c"; fi
  expect_not_contains "restored backup: no PHI in $r" "$(cat "$T/out")" "$SECRET"
done
c=$(req GET "/fhir/Observation?patient=$P")
expect_in "restored backup: compartment search refused" "410 500" "$c"
expect_not_contains "restored backup: no PHI in search" "$(cat "$T/out")" "$SECRET"
c=$(req GET "/fhir/Patient?identifier=urn:mrn|MRN$SECRET")
expect_not_contains "restored backup: no PHI from identifier search" "$(cat "$T/out")" "$SECRET"
expect_eq "restored backup: cannot write for the patient (no new key)" 410 \
  "$(send POST /fhir/Observation "$(obs "$P" 4 again)")"
expect_eq "restored backup: cannot update the patient" 410 "$(send PUT "/fhir/Patient/$P" \
  "{\"resourceType\":\"Patient\",\"id\":\"$P\",\"name\":[{\"family\":\"New\"}]}")"
expect_eq "restored backup: still no DEK for the patient" 0 \
  "$(pv_deks "$P")"
expect_eq "restored backup: other patient reads fine" "200 200" "$(codes "Patient/$Q" "Observation/$QO")"
expect_contains "… with its content" "$(cat "$T/out")" KeeperObs
expect_not_contains "restored backup: log has no PHI" "$(cat "$T/serve.log")" "$SECRET"

# The server's key cache: a new patient's key (committed by another
# connection) leaves it warm; an erasure by another process empties it.
metric() { pcurl "$BASE/metrics" | { grep "^$1 " || echo "$1 0"; } | awk '{print $2}'; }
expect_eq "cache warm: other patient reads" "200 200" "$(codes "Patient/$Q" "Observation/$QO")"
f0=$(metric phivault_dek_cache_flushes_total); u0=$(metric phivault_dek_unwraps_total)
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Newcomer"}]}' >/dev/null
R=$(jq -r .id "$T/out")
send POST /fhir/Observation "$(obs "$R" 5 NewObs)" >/dev/null; RO=$(jq -r .id "$T/out")
for _ in 1 2 3 4; do codes "Patient/$Q" "Observation/$QO" "Observation/$RO" >/dev/null; done
expect_eq "a new patient's key does not empty the cache" "$f0" "$(metric phivault_dek_cache_flushes_total)"
expect_eq "… and cached keys are not unwrapped again" "$u0" "$(metric phivault_dek_unwraps_total)"
rc=0; "$PHIVAULT" erase "$VAULT" --patient "$R" >/dev/null 2>&1 || rc=$?
expect_eq "erase the newcomer (another process): exit 0" 0 "$rc"
expect_eq "the server refuses the erased patient's data at once" "410 410" \
  "$(codes "Patient/$R" "Observation/$RO")"
expect_eq "other patient still reads" "200 200" "$(codes "Patient/$Q" "Observation/$QO")"
# (The 410s above come from the purged rows; the next key lookup syncs.)
f1=$(metric phivault_dek_cache_flushes_total)
if [ "$f1" -gt "$f0" ]; then pass "the erasure emptied the key cache"
else fail "the erasure did not empty the key cache ($f0 -> $f1)"; fi
