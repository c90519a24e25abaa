#!/usr/bin/env bash
# Encrypted FHIR store (issue 5), part 1: CRUD round trip, versions,
# history, compartment search and paging, delete/vread, If-Match,
# refusal of invalid input without touching the store, and the canary:
# PHI written through the API appears in no file of the vault and not
# in the server log (while running and after a graceful stop).
# Parts 2 and 3: test_store_integrity.sh, test_store_erase.sh.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
PW="Clinic1an-secret-pw"
pv_user drc clinician "$PW"
pv_conf auth mfa_required_roles admin
pv_conf server max_body 65536
pv_start
CT='Content-Type: application/fhir+json'
TOK=$(login drc "$PW")
expect_ne "clinician logs in with a password" "" "$TOK"

# req METHOD PATH [curl args] — body in $T/out, headers in $T/hdr; prints the status.
req() { local m=$1 p=$2; shift 2
  pcurl -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X "$m" -H "$(auth "$TOK")" "$@" "$BASE$p"; }
# send METHOD PATH DATA [curl args] — DATA is JSON text or @file.
send() { local m=$1 p=$2 d=$3; shift 3; req "$m" "$p" -H "$CT" --data-binary "$d" "$@"; }
hdr() { { grep -i "^$1:" "$T/hdr" || true; } | tail -n1 | cut -d' ' -f2- | tr -d '\r'; }
out() { cat "$T/out"; }
# content JSON — the resource without server-assigned id/meta, keys sorted.
content() { jq -cS 'del(.id, .meta)' <<<"$1"; }
obs() { # obs PID VALUE [extra json members]
  printf '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Heart rate"},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%s,"unit":"/min"}%s}' \
    "$1" "$2" "${3:-}"
}

# --- 1. round trip ------------------------------------------------------
PAT='{"resourceType":"Patient","name":[{"family":"Roundtrip","given":["Rita"]}],"gender":"female","birthDate":"1970-04-01"}'
expect_eq "create Patient: 201" 201 "$(send POST /fhir/Patient "$PAT")"
PID=$(jq -r .id "$T/out")
[[ "$PID" =~ ^[A-Za-z0-9.-]{1,64}$ ]] && pass "Patient got an id" || fail "Patient id: '$PID'"
expect_eq "Patient Location" "/fhir/Patient/$PID/_history/1" "$(hdr Location)"
expect_eq "Patient ETag" 'W/"1"' "$(hdr ETag)"
expect_eq "Patient body echoes content" "$(content "$PAT")" "$(content "$(out)")"

O1=$(obs "$PID" 72)
expect_eq "create Observation: 201" 201 "$(send POST /fhir/Observation "$O1")"
OID=$(jq -r .id "$T/out")
expect_eq "Observation Location" "/fhir/Observation/$OID/_history/1" "$(hdr Location)"
expect_eq "Observation ETag" 'W/"1"' "$(hdr ETag)"
expect_eq "Observation versionId 1" 1 "$(jq -r .meta.versionId "$T/out")"
expect_eq "body says application/fhir+json" "application/fhir+json" \
  "$(hdr Content-Type | cut -d';' -f1)"
COND=$(printf '{"resourceType":"Condition","subject":{"reference":"Patient/%s"},"code":{"text":"Hypertension"},"clinicalStatus":{"coding":[{"code":"active"}]}}' "$PID")
expect_eq "create Condition: 201" 201 "$(send POST /fhir/Condition "$COND")"
CID=$(jq -r .id "$T/out")
ALG=$(printf '{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/%s"},"code":{"text":"Penicillin"}}' "$PID")
expect_eq "create AllergyIntolerance (patient ref): 201" 201 "$(send POST /fhir/AllergyIntolerance "$ALG")"
AID=$(jq -r .id "$T/out")

expect_eq "read Observation: 200" 200 "$(req GET "/fhir/Observation/$OID")"
expect_eq "read: same content" "$(content "$O1")" "$(content "$(out)")"
expect_eq "read: id" "$OID" "$(jq -r .id "$T/out")"
expect_eq "read: meta.versionId" 1 "$(jq -r .meta.versionId "$T/out")"
expect_ne "read: meta.lastUpdated" null "$(jq -r .meta.lastUpdated "$T/out")"
expect_eq "read: ETag" 'W/"1"' "$(hdr ETag)"
expect_eq "read Condition" "$(content "$COND")" "$([ "$(req GET "/fhir/Condition/$CID")" == 200 ] && content "$(out)")"
expect_eq "read AllergyIntolerance" "$(content "$ALG")" "$([ "$(req GET "/fhir/AllergyIntolerance/$AID")" == 200 ] && content "$(out)")"
expect_eq "read Patient" "$(content "$PAT")" "$([ "$(req GET "/fhir/Patient/$PID")" == 200 ] && content "$(out)")"

O1B=$(jq -c --arg id "$OID" '.id = $id | .valueQuantity.value = 88' <<<"$O1")
expect_eq "update: 200" 200 "$(send PUT "/fhir/Observation/$OID" "$O1B")"
expect_eq "update: ETag W/\"2\"" 'W/"2"' "$(hdr ETag)"
expect_eq "update: versionId 2" 2 "$(jq -r .meta.versionId "$T/out")"
expect_eq "read after update: 200" 200 "$(req GET "/fhir/Observation/$OID")"
expect_eq "read after update: new content" 88 "$(jq .valueQuantity.value "$T/out")"
expect_eq "read after update: ETag" 'W/"2"' "$(hdr ETag)"

expect_eq "history: 200" 200 "$(req GET "/fhir/Observation/$OID/_history")"
expect_eq "history: Bundle" Bundle "$(jq -r .resourceType "$T/out")"
expect_eq "history: type history" history "$(jq -r .type "$T/out")"
expect_eq "history: 2 entries" 2 "$(jq '.entry | length' "$T/out")"
expect_eq "history: versions newest first" "2 1" "$(jq -r '[.entry[].resource.meta.versionId] | join(" ")' "$T/out")"
expect_eq "history: both contents" "88 72" "$(jq -r '[.entry[].resource.valueQuantity.value] | join(" ")' "$T/out")"
expect_eq "history: etags" 'W/"2" W/"1"' "$(jq -r '[.entry[].response.etag] | join(" ")' "$T/out")"
expect_eq "vread version 1: 200" 200 "$(req GET "/fhir/Observation/$OID/_history/1")"
expect_eq "vread version 1: old content" "$(content "$O1")" "$(content "$(out)")"
expect_eq "vread version 1: ETag" 'W/"1"' "$(hdr ETag)"
expect_eq "vread version 3 (none): 404" 404 "$(req GET "/fhir/Observation/$OID/_history/3")"
expect_eq "vread version 'x': 400" 400 "$(req GET "/fhir/Observation/$OID/_history/x")"

# Four more Observations: 5 in the compartment, plus one of another patient.
OIDS=("$OID")
for v in 60 61 62 63; do
  [ "$(send POST /fhir/Observation "$(obs "$PID" $v)")" == 201 ] || fail "create Observation $v"
  OIDS+=("$(jq -r .id "$T/out")")
done
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Other"}]}' >/dev/null
PID2=$(jq -r .id "$T/out")
expect_eq "other patient's Observation: 201" 201 "$(send POST /fhir/Observation "$(obs "$PID2" 99)")"
OTHER_OID=$(jq -r .id "$T/out")
want=$(printf '%s\n' "${OIDS[@]}" | sort | tr '\n' ' ')

expect_eq "search ?patient=: 200" 200 "$(req GET "/fhir/Observation?patient=$PID")"
expect_eq "search: Bundle searchset" "Bundle searchset" "$(jq -r '.resourceType + " " + .type' "$T/out")"
expect_eq "search: exactly the 5 Observations" "$want" "$(jq -r '.entry[].resource.id' "$T/out" | sort | tr '\n' ' ')"
expect_eq "search: mode match" match "$(jq -r '[.entry[].search.mode] | unique | join(",")' "$T/out")"
expect_eq "search ?patient=Patient/{id} as well" 5 "$([ "$(req GET "/fhir/Observation?patient=Patient/$PID")" == 200 ] && jq '.entry | length' "$T/out")"
expect_eq "compartment path: 200" 200 "$(req GET "/fhir/Patient/$PID/Observation")"
expect_eq "compartment path: searchset" searchset "$(jq -r .type "$T/out")"
expect_eq "compartment path: the same 5" "$want" "$(jq -r '.entry[].resource.id' "$T/out" | sort | tr '\n' ' ')"
expect_not_contains "no other patient's data in the compartment" "$(out)" "$OTHER_OID"
expect_eq "Condition compartment: 1" "$CID" "$([ "$(req GET "/fhir/Condition?patient=$PID")" == 200 ] && jq -r '[.entry[].resource.id] | join(",")' "$T/out")"
expect_eq "search without patient: 400" 400 "$(req GET /fhir/Observation)"

# Paging: _count=2 over 5 → 2 + 2 + 1 following "next".
seen=(); url="$BASE/fhir/Observation?patient=$PID&_count=2"; pages=0; nexts=0
while [ -n "$url" ] && [ $pages -lt 6 ]; do
  pages=$((pages + 1))
  code=$(pcurl -o "$T/page" -w '%{http_code}' -H "$(auth "$TOK")" "$url")
  [ "$code" == 200 ] || { fail "page $pages: $code"; break; }
  n=$(jq '.entry | length' "$T/page")
  [ "$n" -le 2 ] || fail "page $pages has $n entries (> _count)"
  mapfile -t -O "${#seen[@]}" seen < <(jq -r '.entry[].resource.id' "$T/page")
  url=$(jq -r '.link[] | select(.relation == "next") | .url' "$T/page")
  [ -n "$url" ] && nexts=$((nexts + 1))
done
expect_eq "paging: 3 pages" 3 "$pages"
expect_eq "paging: 2 next links" 2 "$nexts"
expect_eq "paging: 5 entries in all" 5 "${#seen[@]}"
expect_eq "paging: all 5, no duplicates" "$want" "$(printf '%s\n' "${seen[@]}" | sort -u | tr '\n' ' ')"
expect_eq "_count=0 refused" 400 "$(req GET "/fhir/Observation?patient=$PID&_count=0")"
expect_eq "_count=1000 refused" 400 "$(req GET "/fhir/Observation?patient=$PID&_count=1000")"

# Delete: 204, then 410; older versions stay readable by vread (history kept).
expect_eq "delete: 204" 204 "$(req DELETE "/fhir/Observation/$OID")"
expect_eq "delete: empty body" 0 "$(stat -c %s "$T/out")"
expect_eq "read deleted: 410" 410 "$(req GET "/fhir/Observation/$OID")"
expect_eq "410 is an OperationOutcome" OperationOutcome "$(jq -r .resourceType "$T/out")"
expect_eq "delete again: idempotent 204" 204 "$(req DELETE "/fhir/Observation/$OID")"
expect_eq "vread v1 after delete: 200" 200 "$(req GET "/fhir/Observation/$OID/_history/1")"
expect_eq "vread v1 after delete: content" "$(content "$O1")" "$(content "$(out)")"
expect_eq "vread v3 (the delete): 410" 410 "$(req GET "/fhir/Observation/$OID/_history/3")"
expect_eq "history after delete: 3 entries" "DELETE PUT POST" \
  "$([ "$(req GET "/fhir/Observation/$OID/_history")" == 200 ] && jq -r '[.entry[].request.method] | join(" ")' "$T/out")"
expect_eq "deleted resource leaves the search" 4 "$([ "$(req GET "/fhir/Observation?patient=$PID")" == 200 ] && jq '.entry | length' "$T/out")"
# FHIR lets a server undelete by update; phivault does: a new version 4.
expect_eq "update of a deleted resource: 200 (undelete)" 200 "$(send PUT "/fhir/Observation/$OID" "$O1B")"
expect_eq "… as version 4" 'W/"4"' "$(hdr ETag)"
expect_eq "undeleted resource reads again" 88 "$([ "$(req GET "/fhir/Observation/$OID")" == 200 ] && jq .valueQuantity.value "$T/out")"
expect_eq "delete it again: 204" 204 "$(req DELETE "/fhir/Observation/$OID")"
expect_eq "and it is gone again" 410 "$(req GET "/fhir/Observation/$OID")"
expect_eq "delete unknown id: 404" 404 "$(req DELETE /fhir/Observation/nosuchid)"

# --- 2. If-Match ------------------------------------------------------------
X=${OIDS[1]}
XB=$(obs "$PID" 61 ",\"id\":\"$X\"")
expect_eq "PUT (no If-Match, like fhir-kit-client): 200" 200 "$(send PUT "/fhir/Observation/$X" "$XB")"
expect_eq "now version 2" 'W/"2"' "$(hdr ETag)"
stale=$(jq -c '.valueQuantity.value = 1' <<<"$XB")
expect_eq "PUT If-Match W/\"1\" on version 2: 412" 412 \
  "$(send PUT "/fhir/Observation/$X" "$stale" -H 'If-Match: W/"1"')"
expect_eq "412 is an OperationOutcome" OperationOutcome "$(jq -r .resourceType "$T/out")"
req GET "/fhir/Observation/$X" >/dev/null
expect_eq "after 412: still version 2" 'W/"2"' "$(hdr ETag)"
expect_eq "after 412: content unchanged" 61 "$(jq .valueQuantity.value "$T/out")"
expect_eq "DELETE If-Match W/\"1\": 412" 412 "$(req DELETE "/fhir/Observation/$X" -H 'If-Match: W/"1"')"
expect_eq "malformed If-Match: 400" 400 "$(send PUT "/fhir/Observation/$X" "$stale" -H 'If-Match: banana')"
expect_eq "PUT If-Match W/\"2\": 200" 200 "$(send PUT "/fhir/Observation/$X" "$(jq -c '.valueQuantity.value = 65' <<<"$XB")" -H 'If-Match: W/"2"')"
expect_eq "… version 3" 'W/"3"' "$(hdr ETag)"
expect_eq "PUT If-Match \"3\" (strong form): 200" 200 "$(send PUT "/fhir/Observation/$X" "$(jq -c '.valueQuantity.value = 66' <<<"$XB")" -H 'If-Match: "3"')"
expect_eq "PUT without If-Match again: 200, version 5" 'W/"5"' \
  "$(send PUT "/fhir/Observation/$X" "$(jq -c '.valueQuantity.value = 67' <<<"$XB")" >/dev/null; hdr ETag)"
expect_eq "final content" 67 "$([ "$(req GET "/fhir/Observation/$X")" == 200 ] && jq .valueQuantity.value "$T/out")"

# --- 2b. group commit: concurrent changes share commits, stay separate -----
# 24 creates at once: every one acknowledged is stored and audited.
mkdir -p "$T/par"
jobs_=()   # `wait` alone would wait for the server too
for i in $(seq 1 24); do
  pcurl -o "$T/par/c$i" -w '%{http_code}' -X POST -H "$(auth "$TOK")" -H "$CT" \
    --data-binary "$(obs "$PID" "$((100 + i))")" "$BASE/fhir/Observation" >"$T/par/s$i" &
  jobs_+=($!)
done
wait "${jobs_[@]}"
expect_eq "24 concurrent creates: all 201" 24 "$(cat "$T/par"/s* | grep -o 201 | wc -l)"
ok=0
alog=$(pv_audit_log_file)
for i in $(seq 1 24); do
  id=$(jq -r .id "$T/par/c$i")
  [ "$(req GET "/fhir/Observation/$id")" == 200 ] &&
    [ "$(jq .valueQuantity.value "$T/out")" == "$(jq .valueQuantity.value "$T/par/c$i")" ] &&
    grep -q "\"action\":\"create\",\"type\":\"Observation\",\"id\":\"$id\"" "$alog" &&
    ok=$((ok + 1))
done
expect_eq "each concurrent create reads back and has its audit entry" 24 "$ok"
batches=$(pcurl "$BASE/metrics" | awk '$1 == "phivault_write_batches_total" {print $2}')
[ -n "$batches" ] && [ "$batches" -ge 1 ] && pass "write batches counted ($batches so far)" ||
  fail "phivault_write_batches_total: '$batches'"
# 8 updates at once, all If-Match W/"1": one wins, the others get 412,
# and the losers leave no trace in the resource (their savepoints are
# rolled back even when they shared a commit with the winner).
Y=$(jq -r .id "$T/par/c1")
jobs_=()
for i in $(seq 1 8); do
  pcurl -o /dev/null -w '%{http_code}' -X PUT -H "$(auth "$TOK")" -H "$CT" -H 'If-Match: W/"1"' \
    --data-binary "$(obs "$PID" "$((500 + i))" ",\"id\":\"$Y\"")" "$BASE/fhir/Observation/$Y" >"$T/par/u$i" &
  jobs_+=($!)
done
wait "${jobs_[@]}"
expect_eq "8 racing If-Match updates: one 200" 1 "$(cat "$T/par"/u* | grep -o 200 | wc -l)"
expect_eq "... and seven 412" 7 "$(cat "$T/par"/u* | grep -o 412 | wc -l)"
req GET "/fhir/Observation/$Y" >/dev/null
expect_eq "racing updates: exactly version 2 exists" 'W/"2"' "$(hdr ETag)"
win=$(for i in $(seq 1 8); do [ "$(cat "$T/par/u$i")" != 200 ] || echo $((500 + i)); done)
expect_eq "racing updates: the stored value is the winner's" "$win" "$(jq .valueQuantity.value "$T/out")"
expect_eq "racing updates: history holds 2 versions" 2 \
  "$([ "$(req GET "/fhir/Observation/$Y/_history")" == 200 ] && jq '.entry | length' "$T/out")"

# --- 3. invalid input: 4xx and the store unchanged --------------------------
snap() {
  { pv_sql records "select type,id,version,is_current,deleted,$(pv_sql_hex sealed) from resources order by 1,2,3"
    pv_sql keys "select key_id,kek_version,$(pv_sql_hex wrapped) from deks order by 1"
  } | sha256sum | cut -c1-64
}
rows() { pv_sql records 'select count(*) from resources'; }
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Deleted"}]}' >/dev/null
DPID=$(jq -r .id "$T/out")
expect_eq "delete a Patient: 204" 204 "$(req DELETE "/fhir/Patient/$DPID")"
before=$(snap); nbefore=$(rows)
bad() { # bad WHAT EXPECTED-STATUS METHOD PATH DATA [curl args]
  local what=$1 want=$2; shift 2
  local got; got=$(send "$@")
  expect_eq "$what" "$want" "$got"
  expect_eq "$what: OperationOutcome" OperationOutcome "$(jq -r .resourceType "$T/out" 2>/dev/null || echo not-json)"
}
Y=${OIDS[2]}
bad "resourceType differs from URL: 400" 400 POST /fhir/Observation "$COND"
bad "resourceType differs on PUT: 400" 400 PUT "/fhir/Observation/$Y" \
  "$(jq -c --arg id "$Y" '.id = $id' <<<"$COND")"
expect_contains "… and says so (not an id mismatch)" "$(out)" "resourceType must match"
bad "bad JSON: 400" 400 POST /fhir/Observation '{"resourceType":"Observation",'
bad "trailing garbage: 400" 400 POST /fhir/Observation "$(obs "$PID" 1)xyz"
bad "duplicate key: 400" 400 POST /fhir/Observation "$(obs "$PID" 1 ',"status":"final"')"
bad "JSON array body: 400" 400 POST /fhir/Observation "[$(obs "$PID" 1)]"
bad "empty body: 400" 400 POST /fhir/Observation ''
printf '{"resourceType":"Observation","status":"final","code":{"text":"bad \xc3\x28 utf8"},"subject":{"reference":"Patient/%s"}}' "$PID" >"$T/badutf8.json"
bad "invalid UTF-8 in a string: 400" 400 POST /fhir/Observation "@$T/badutf8.json"
printf '{"resourceType":"Observation","status":"final","code":{"text":"overlong \xc0\xaf"},"subject":{"reference":"Patient/%s"}}' "$PID" >"$T/badutf8b.json"
bad "overlong UTF-8 encoding: 400" 400 POST /fhir/Observation "@$T/badutf8b.json"
python3 - "$PID" >"$T/big.json" <<'EOF'
import json, sys
print(json.dumps({"resourceType": "Observation", "status": "final",
  "subject": {"reference": "Patient/" + sys.argv[1]}, "code": {"text": "big"},
  "note": [{"text": "x" * 70000}]}))
EOF
bad "70 KB body over max_body=65536: 413" 413 POST /fhir/Observation "@$T/big.json"
bad "missing subject/patient: 400" 400 POST /fhir/Observation \
  '{"resourceType":"Observation","status":"final","code":{"text":"x"}}'
bad "subject not a Patient reference: 400" 400 POST /fhir/Observation \
  '{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Group/abc"}}'
bad "subject and patient disagree: 400" 400 POST /fhir/AllergyIntolerance \
  "$(printf '{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/%s"},"subject":{"reference":"Patient/%s"}}' "$PID" "$PID2")"
# A patient the clinician may not see: authorization comes first, so the
# answer is 403 whether or not the id exists (no existence oracle) ...
bad "subject is a nonexistent patient (not on care team): 403" 403 POST /fhir/Observation "$(obs nonexistent-patient-1 5)"
bad "subject is a random unknown id: 403" 403 POST /fhir/Condition \
  '{"resourceType":"Condition","subject":{"reference":"Patient/0123456789abcdef0123456789abcdef"}}'
# ... and for a patient on the care team that no longer exists: 422.
bad "subject is a deleted patient of the care team: 422" 422 POST /fhir/Observation "$(obs "$DPID" 5)"
deep() { python3 -c "import sys; n=int(sys.argv[1]); print('{\"resourceType\":\"Observation\",\"status\":\"final\",\"subject\":{\"reference\":\"Patient/$PID\"},\"extension\":' + '['*n + ']'*n + '}')" "$1"; }
deep 70 >"$T/deep70.json"
bad "nested 70 deep: 400" 400 POST /fhir/Observation "@$T/deep70.json"
deep 5000 >"$T/deep5000.json"
bad "nested 5000 deep: 400" 400 POST /fhir/Observation "@$T/deep5000.json"
bad "id with illegal characters (URL and body): 400" 400 PUT "/fhir/Observation/bad_id%21" \
  "$(obs "$PID" 1 ',"id":"bad_id!"')"
bad "id longer than 64: 400" 400 PUT "/fhir/Observation/$(printf 'a%.0s' {1..65})" \
  "$(obs "$PID" 1 ",\"id\":\"$(printf 'a%.0s' {1..65})\"")"
bad "illegal id in a POST body: 400" 400 POST /fhir/Observation "$(obs "$PID" 1 ',"id":"a b"')"
bad "PUT body id differs from URL: 400" 400 PUT "/fhir/Observation/$Y" "$(obs "$PID" 1 ",\"id\":\"${OIDS[3]}\"")"
expect_contains "… and says so" "$(out)" "id must equal the id in the URL"
bad "PUT body without id: 400" 400 PUT "/fhir/Observation/$Y" "$(obs "$PID" 1)"
bad "PUT moving a resource to another patient: 422" 422 PUT "/fhir/Observation/$Y" "$(obs "$PID2" 1 ",\"id\":\"$Y\"")"
bad "PUT of an id that does not exist: 404" 404 PUT /fhir/Observation/doesnotexist "$(obs "$PID" 1 ',"id":"doesnotexist"')"
bad "meta not an object: 400" 400 POST /fhir/Observation "$(obs "$PID" 1 ',"meta":"x"')"
bad "unknown resource type: 404" 404 POST /fhir/Banana '{"resourceType":"Banana"}'
expect_eq "unknown type read: 404" 404 "$(req GET /fhir/Banana/x)"
expect_eq "unknown type search: 404" 404 "$(req GET "/fhir/Banana?patient=$PID")"
expect_eq "wrong Content-Type: 415" 415 "$(req POST /fhir/Observation -H 'Content-Type: text/plain' --data-binary "$(obs "$PID" 1)")"
expect_eq "nothing stored by any refused request" "$before" "$(snap)"
expect_eq "row count unchanged" "$nbefore" "$(rows)"
# The checksum moves with a real write (so the comparison above can fail).
expect_eq "a valid create still works" 201 "$(send POST /fhir/Observation "$(obs "$PID" 70)")"
expect_ne "…and changes the checksum" "$before" "$(snap)"
deep 60 >"$T/deep60.json"
expect_eq "nested 60 deep is accepted" 201 "$(send POST /fhir/Observation "@$T/deep60.json")"

# --- 4. canary: PHI never appears in a vault file or the log ---------------
CAN="Cnry$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n')"
CPAT=$(jq -nc --arg c "$CAN" '{resourceType:"Patient",
  name:[{family:("Fam" + $c), given:["Given" + $c]}],
  identifier:[{system:"urn:oid:1.2.36.146.595.217.0.1", value:("MRN" + $c)}],
  telecom:[{system:"phone", value:("555" + $c)}], birthDate:"1961-02-03"}')
expect_eq "canary Patient: 201" 201 "$(send POST /fhir/Patient "$CPAT")"
CPID=$(jq -r .id "$T/out")
expect_eq "canary Observation: 201" 201 "$(send POST /fhir/Observation \
  "$(obs "$CPID" 101 ",\"note\":[{\"text\":\"Note$CAN\"}]")")"
COBS=$(jq -r .id "$T/out")
expect_eq "canary Condition: 201" 201 "$(send POST /fhir/Condition \
  "$(jq -nc --arg c "$CAN" --arg p "$CPID" '{resourceType:"Condition",subject:{reference:("Patient/"+$p)},code:{text:("Dx"+$c)}}')")"
expect_eq "canary Communication: 201" 201 "$(send POST /fhir/Communication \
  "$(jq -nc --arg c "$CAN" --arg p "$CPID" '{resourceType:"Communication",status:"completed",subject:{reference:("Patient/"+$p)},payload:[{contentString:("Msg"+$c)}]}')")"
expect_eq "canary Patient update: 200" 200 "$(send PUT "/fhir/Patient/$CPID" \
  "$(jq -c --arg id "$CPID" --arg c "$CAN" '.id = $id | .address = [{line:["Street" + $c]}]' <<<"$CPAT")")"
# Requests that fail must not log what they carried either.
send POST /fhir/Observation "$(obs nonexistent-patient-2 1 ",\"note\":[{\"text\":\"Refused$CAN\"}]")" >/dev/null
send POST /fhir/Observation "{\"resourceType\":\"Observation\",\"note\":\"$CAN\"" >/dev/null
sed "s/\"big\"/\"Big$CAN\"/" "$T/big.json" >"$T/bigcan.json"
expect_eq "oversized body with the canary: 413" 413 "$(send POST /fhir/Observation "@$T/bigcan.json")"
# Identifier search carries an identifier (PHI) in the query string.
expect_eq "identifier search finds the canary patient" "$CPID" \
  "$([ "$(req GET "/fhir/Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|MRN$CAN")" == 200 ] && jq -r '[.entry[].resource.id] | join(",")' "$T/out")"
expect_eq "canary reads back" "Street$CAN" \
  "$([ "$(req GET "/fhir/Patient/$CPID")" == 200 ] && jq -r '.address[0].line[0]' "$T/out")"
expect_contains "canary note reads back" "$([ "$(req GET "/fhir/Observation/$COBS")" == 200 ] && out)" "Note$CAN"

# Positive control: the same grep finds the canary in a plain copy.
jq -c . "$T/out" >"$T/control.json"
# On PostgreSQL the rows live in the cluster: its files (tables, WAL) are
# searched too, and a plain dump of both databases.
pg_places() {
  pv_is_pg || return 0
  pv_psql "$PV_DB" -c CHECKPOINT >/dev/null
  { PGPASSFILE=$PV_PGPASS pg_dump -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$PV_DB"
    PGPASSFILE=$PV_PGPASS pg_dump -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$PV_KEYS_DB"
  } >"$T/pgdump.sql"
  echo "$T/pgdump.sql" "$PV_PG_DIR/data" "$PV_PG_DIR/postgres.log"
}
leaks() { grep -rlaF -e "$CAN" "$VAULT" "$T/serve.log" $(pg_places) 2>/dev/null || true; }
expect_eq "control: grep finds the canary in a plain file" "$T/control.json" \
  "$(grep -rlaF -e "$CAN" "$T/control.json" || true)"
[ -e "$VAULT/phivault.db-wal" ] && echo "note: WAL present while running (searched)" || true
if pv_is_pg; then
  # Positive control for the database search: a plain marker (not the
  # canary, which must stay out of the cluster's files) written straight
  # into the records database is found by it.
  CTL="Ctl$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
  pv_psql "$PV_DB" -c "CREATE TABLE canary_control(x text); INSERT INTO canary_control VALUES ('$CTL')" >/dev/null
  expect_eq "control: the database search finds a plain marker" 1 \
    "$(grep -qaF -e "$CTL" $(pg_places | cut -d' ' -f1) && echo 1 || echo 0)"
  pv_psql "$PV_DB" -c "DROP TABLE canary_control" >/dev/null
fi
if pv_is_pg; then
  # The trail is the audit_* tables of the records database: its dump is
  # searched, and holds the newest entry.
  rid=$(pv_audit_log | tail -n1 | jq -r .rid)
  pg_places >/dev/null
  expect_eq "the database search includes the audit log" 1 \
    "$([ -n "$rid" ] && grep -qF -e "$rid" "$T/pgdump.sql" && echo 1 || echo 0)"
else
  expect_eq "files searched include the audit log" 1 "$([ -n "$(ls -A "$VAULT/audit")" ] && echo 1 || echo 0)"
fi
expect_eq "canary in no vault file and not in the log (running)" "" "$(leaks)"
# Case-folded and base64-free variants: the bare hex tail, lowercased.
expect_eq "canary tail in no file (running)" "" \
  "$(grep -rlai -e "${CAN#Cnry}" "$VAULT" "$T/serve.log" $(pg_places | cut -d' ' -f1) 2>/dev/null || true)"
pv_stop
expect_eq "graceful stop exits 0" 0 "$PV_RC"
if pv_is_pg; then
  pv_skip "WAL checkpointed at stop" "SQLite's WAL file; PostgreSQL's WAL is the cluster's (searched above)"
else
  wal=$(stat -c %s "$VAULT/phivault.db-wal" 2>/dev/null || echo 0)
  expect_eq "WAL checkpointed at stop" 0 "$wal"
fi
expect_eq "canary in no vault file and not in the log (stopped)" "" "$(leaks)"
expect_eq "canary tail in no file (stopped)" "" \
  "$(grep -rlai -e "${CAN#Cnry}" "$VAULT" "$T/serve.log" $(pg_places | cut -d' ' -f1) 2>/dev/null || true)"
expect_eq "records database holds the canary rows (sealed)" 1 \
  "$(pv_sql records "select count(*) from resources where type='Patient' and id='$CPID' and CAST(is_current AS int)=1 and length(sealed) > 100")"

# --- 7. SIGTERM under read and write load, with no grace period: the queues
# drain, nothing is left suspended when libmicrohttpd stops (it aborts if
# a connection is), the server exits 0 and the trail verifies -------------
pv_conf server shutdown_grace 0s
pv_start
load_() { # bounded: 30 reads and 30 writes, each failing fast once the server is gone
  local i
  for i in $(seq 1 30); do
    pcurl -o /dev/null -H "$(auth "$TOK")" "$BASE/fhir/Patient/$PID" 2>/dev/null || true
    pcurl -o /dev/null -X POST -H "$(auth "$TOK")" -H "$CT" \
      --data-binary "$(obs "$PID" "$i")" "$BASE/fhir/Observation" 2>/dev/null || true
  done
}
jobs_=()
for k in 1 2 3 4 5 6; do load_ & jobs_+=($!); done
sleep 1
pv_stop
expect_eq "SIGTERM under load, no grace: exit 0" 0 "$PV_RC"
wait "${jobs_[@]}" || true
expect_not_contains "nothing left suspended at stop" "$(cat "$T/serve.log")" shutdown_suspended_left
"$PHIVAULT" audit verify "$VAULT" >/dev/null && pass "trail verifies after a stop under load" ||
  fail "trail does not verify after a stop under load"
