#!/usr/bin/env bash
# Fault injection (non-Release builds): a failing store write, a store
# transaction lost midway (full disk), a failing audit fsync. Each request
# is refused and nothing is half-written: no
# record without its audit entry, no audit entry claiming a change that
# did not happen.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
pv_conf auth mfa_required_roles admin
pv_user doc clinician "Clinician-pass-1234"
mkdir -p "$T/faults"
export PHIVAULT_FAULT_DIR=$T/faults
pv_start
tok=$(login doc "Clinician-pass-1234")
pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"male"}' -H "$(auth "$tok")" | jq -r .id)
obs() { printf '{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/%s"}}' "$pid"; }
count() { pv_sql records "select count(*) from resources"; }

# --- the store write fails ---------------------------------------------------
before=$(count); lines=$(pv_audit_log | wc -l)
touch "$T/faults/store_write"
out=$(jpost /fhir/Observation "$(obs)" -H "$(auth "$tok")" -D "$T/h")
rm "$T/faults/store_write"
expect_contains "failed write answers 500" "$(head -n1 "$T/h")" " 500"
expect_eq "500 is an OperationOutcome" OperationOutcome "$(jq -r .resourceType <<<"$out")"
expect_eq "nothing stored" "$before" "$(count)"
new=$(pv_audit_log | tail -n +"$((lines + 1))")
expect_eq "two entries: the intent, then the failure" 2 "$(wc -l <<<"$new")"
expect_eq "first entry: allowed create (write-ahead)" "allowed create" \
  "$(head -n1 <<<"$new" | jq -r '.outcome + " " + .action')"
expect_eq "second entry: error for the same request" "error" "$(tail -n1 <<<"$new" | jq -r .outcome)"
expect_eq "same request id" "$(head -n1 <<<"$new" | jq -r .rid)" "$(tail -n1 <<<"$new" | jq -r .rid)"
expect_eq "the store recovers" 201 "$(http_status POST /fhir/Observation -H "$(auth "$tok")" -H 'Content-Type: application/fhir+json' -d "$(obs)")"

# --- the store loses the batch's whole transaction (a full disk: SQLite rolls
# it back by itself). Every change of the batch is answered 503 not_stored,
# none of them is stored, none leaks out through an autocommit -------------
before=$(count); lines=$(pv_audit_log | wc -l)
touch "$T/faults/store_tx_lost"
jobs_=()
for i in 1 2 3 4 5 6; do
  jpost /fhir/Observation "$(obs)" -H "$(auth "$tok")" -D "$T/h$i" >"$T/o$i" &
  jobs_+=($!)
done
wait "${jobs_[@]}"
rm "$T/faults/store_tx_lost"
codes=""
for i in 1 2 3 4 5 6; do
  codes+="$(head -n1 "$T/h$i" | awk '{print $2}') $(jq -r '.issue[0].details.coding[0].code' <"$T/o$i");"
done
expect_eq "every change of the lost batch answered 503 not_stored" \
  "503 not_stored;503 not_stored;503 not_stored;503 not_stored;503 not_stored;503 not_stored;" "$codes"
expect_eq "nothing of the lost batch stored" "$before" "$(count)"
new=$(pv_audit_log | tail -n +"$((lines + 1))")
expect_eq "each change: the intent, then its failure" "6 6" \
  "$(grep -c '"outcome":"allowed"' <<<"$new") $(grep -c '"outcome":"error"' <<<"$new")"
expect_eq "the store recovers after the lost transaction" 201 "$(http_status POST /fhir/Observation -H "$(auth "$tok")" -H 'Content-Type: application/fhir+json' -d "$(obs)")"

# --- import: the chunk's transaction is lost at its 3rd row. The whole chunk
# is rolled back: no line after the loss may autocommit on its own ---------
{
  echo '{"resourceType":"Patient","id":"old1","gender":"female"}'
  for i in 1 2; do echo '{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/old1"}}'; done
  echo '{"resourceType":"Patient","id":"old2","gender":"male"}'
  for i in 1 2 3; do echo '{"resourceType":"Observation","status":"final","code":{"text":"hr"},"subject":{"reference":"Patient/old2"}}'; done
} >"$T/imp.ndjson"
before=$(count)
echo 3 >"$T/faults/store_tx_lost"
"$PHIVAULT" import "$VAULT" "$T/imp.ndjson" >"$T/imp.out" 2>"$T/imp.err" && irc=0 || irc=$?
rm "$T/faults/store_tx_lost"
expect_eq "import whose transaction is lost fails" 1 "$irc"
expect_contains "and says so" "$(cat "$T/imp.err")" "import failed"
expect_eq "nothing of the lost chunk stored" "$before" "$(count)"
expect_contains "the same file imports once the disk is back" \
  "$("$PHIVAULT" import "$VAULT" "$T/imp.ndjson")" "imported 7 resources, refused 0"
expect_eq "all of it" "$((before + 7))" "$(count)"

# --- the audit fsync fails: writes and reads refused, nothing changes --------
before=$(count); lines=$(pv_audit_log | wc -l)
expect_eq "ready before the outage" "200 ready ok ok ok" \
  "$(pcurl -w '%{http_code}' -o "$T/ready" "$BASE/readyz") $(jq -r '"\(.status) \(.store) \(.audit) \(.keys)"' "$T/ready")"
touch "$T/faults/audit_fsync"
expect_eq "write refused while the audit cannot sync" 503 \
  "$(http_status POST /fhir/Observation -H "$(auth "$tok")" -H 'Content-Type: application/fhir+json' -d "$(obs)")"
expect_eq "not ready while the audit cannot sync (audit named)" "503 not_ready failed" \
  "$(pcurl -w '%{http_code}' -o "$T/ready" "$BASE/readyz") $(jq -r '"\(.status) \(.audit)"' "$T/ready")"
body=$(pcurl -H "$(auth "$tok")" "$BASE/fhir/Patient/$pid")
expect_eq "read refused too" audit_unavailable "$(jq -r '.issue[0].details.coding[0].code' <<<"$body")"
expect_not_contains "no PHI in the refusal" "$body" '"gender"'
rm "$T/faults/audit_fsync"
expect_eq "no record written during the outage" "$before" "$(count)"
expect_eq "no partial entry left behind" "$lines" "$(pv_audit_log | wc -l)"
for i in 1 2 3; do
  [ "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$tok")")" == 200 ] && break
done
expect_eq "service resumes once the disk is back" 200 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$tok")")"
expect_eq "ready again" 200 "$(http_status GET /readyz)"
pv_stop
"$PHIVAULT" audit verify "$VAULT" >/dev/null && pass "trail verifies after the faults" || fail "trail broken"

# --- a full work queue: 503 busy with Retry-After, audited as "busy" -------
# One hash worker and one waiting slot: of 12 logins sent at once, most
# find the queue full.
pv_conf auth hash_workers 1
pv_conf auth hash_queue 1
pv_start
lines=$(pv_audit_log | wc -l)
jobs_=()
for i in $(seq 1 12); do
  pcurl -o "$T/busy.$i" -D "$T/busyh.$i" -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
    -d '{"username":"doc","password":"Clinician-pass-1234"}' "$BASE/auth/login" >"$T/busyc.$i" &
  jobs_+=("$!")
done
wait "${jobs_[@]}"
n503=$(cat "$T"/busyc.* | grep -c '^503$' || true)
n200=$(cat "$T"/busyc.* | grep -c '^200$' || true)
if [ "$n503" -ge 1 ]; then pass "a full hash queue answers 503 ($n503 of 12)"
else fail "no 503 from 12 logins on a one-slot queue"; fi
expect_eq "every login answered 200 or 503" 12 "$((n200 + n503))"
f=$(grep -l '^503$' "$T"/busyc.* | head -n1); f=${f/busyc/busy}
expect_eq "503 says busy" busy "$(jq -r '.issue[0].details.coding[0].code' "$f")"
expect_contains "503 carries Retry-After" "$(cat "${f/busy./busyh.}")" "Retry-After: 2"
new=$(pv_audit_log | tail -n +"$((lines + 1))")
expect_eq "each refusal is audited with reason busy" "$n503" \
  "$(jq -s '[.[] | select(.action == "login" and .reason == "busy" and .outcome == "error")] | length' <<<"$new")"
expect_eq "each answered login is audited" "$n200" \
  "$(jq -s '[.[] | select(.action == "login" and .outcome == "allowed")] | length' <<<"$new")"
pv_stop
"$PHIVAULT" audit verify "$VAULT" >/dev/null && pass "trail verifies after the busy refusals" || fail "trail broken"
