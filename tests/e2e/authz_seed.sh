# tests/e2e/authz_seed.sh — shared seed for test_authz*.sh (sourced after
# lib.sh; not a test itself: the test glob is test_*.sh).
#
# One vault, one server, and the people and records the authorization
# tests talk about:
#
#   doc1  clinician  creates PA and PB, so is on both care teams
#   doc2  clinician  creates PC ("other patient": nobody else's team)
#   doc3  clinician  on no care team at all (break-glass tests)
#   psy   clinician  on PA's team, account permission "restricted"
#                    (phivault user grant --permission restricted)
#   wiz   clinician  on PA's and PB's teams; later role='wizard' in the db
#   nurse1 nurse     on PA's and PB's teams
#   nurse2 nurse     on no team (the admin careteam-add target)
#   pat   patient    linked to PA
#   ghost patient    linked to a Patient id that matches nothing
#   admin admin, aud auditor, res researcher
#
#   PA  Patient: OBS_A, plus OBS_PSY (meta.security PSY, created by psy)
#   PB  Patient with a US SSN identifier: OBS_B
#   PC  Patient: OBS_C
#
# MFA is required for admin only (admin logs in with mfa_login), so the
# tests are about authorization; break-glass grants last 3 s.

UPW="Authz-e2e-Secret-pw-77"
SSN_SYS="urn:oid:2.16.840.1.113883.4.1"
SSN="123-45-6789"
PSY_SEC='[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]'
declare -A TOK

db() { pv_sql records "$1"; } # lib.sh: SQLite or PostgreSQL

# obs_json PID [psy] [ID] — an Observation about PID.
obs_json() {
  jq -nc --arg p "$1" --arg id "${3:-}" --argjson sec "$PSY_SEC" --arg psy "${2:-}" \
    '{resourceType:"Observation",status:"final",code:{text:"heart rate"},
      subject:{reference:("Patient/"+$p)},valueQuantity:{value:72,unit:"/min"}}
     + (if $id != "" then {id:$id} else {} end)
     + (if $psy != "" then {meta:{security:$sec}} else {} end)'
}
# comm_json PID [psy] — a Communication about PID.
comm_json() {
  jq -nc --arg p "$1" --argjson sec "$PSY_SEC" --arg psy "${2:-}" \
    '{resourceType:"Communication",status:"completed",
      subject:{reference:("Patient/"+$p)},payload:[{contentString:"hello"}]}
     + (if $psy != "" then {meta:{security:$sec}} else {} end)'
}
# mk TOKEN TYPE JSON — creates a resource, prints its id (empty on failure).
mk() { jpost "/fhir/$2" "$3" -H "$(auth "$1")" | jq -r '.id // empty'; }
must() { # must WHAT VALUE — aborts the test when seeding failed
  if [ -z "$2" ] || [ "$2" == null ]; then echo "seed failed: $1" >&2; exit 1; fi
}

seed_authz() {
  pv_setup
  pv_init admin
  pv_conf auth mfa_required_roles admin
  pv_conf authz break_glass_duration "${BG_DURATION:-3s}"
  local u
  for u in doc1 doc2 doc3 psy wiz; do pv_user "$u" clinician "$UPW"; done
  pv_user nurse1 nurse "$UPW"
  pv_user nurse2 nurse "$UPW"
  pv_user aud auditor "$UPW"
  pv_user res researcher "$UPW"
  "$PHIVAULT" user grant "$VAULT" --name psy --permission restricted >/dev/null
  pv_start

  for u in doc1 doc2 doc3 psy wiz nurse1 aud res; do
    TOK[$u]=$(login "$u" "$UPW"); must "login $u" "${TOK[$u]}"
  done
  TOK[admin]=$(mfa_login admin "$ADMIN_PW"); must "login admin" "${TOK[admin]}"

  PA=$(mk "${TOK[doc1]}" Patient '{"resourceType":"Patient","name":[{"family":"Alpha","given":["Ann"]}],"gender":"female","birthDate":"1970-01-01"}')
  PB=$(mk "${TOK[doc1]}" Patient "$(jq -nc --arg s "$SSN_SYS" --arg v "$SSN" \
    '{resourceType:"Patient",name:[{family:"Bravo",given:["Bob"]}],identifier:[{system:$s,value:$v}]}')")
  PC=$(mk "${TOK[doc2]}" Patient '{"resourceType":"Patient","name":[{"family":"Charlie","given":["Cy"]}]}')
  must PA "$PA"; must PB "$PB"; must PC "$PC"

  pv_user pat patient "$UPW" "$PA"
  pv_user ghost patient "$UPW" "no-such-patient-0"
  for u in "nurse1 $PA" "nurse1 $PB" "psy $PA" "wiz $PA" "wiz $PB"; do
    set -- $u
    "$PHIVAULT" careteam add "$VAULT" --user "$1" --patient "$2" >/dev/null
  done
  for u in pat ghost; do
    TOK[$u]=$(login "$u" "$UPW"); must "login $u" "${TOK[$u]}"
  done

  OBS_A=$(mk "${TOK[doc1]}" Observation "$(obs_json "$PA")")
  OBS_B=$(mk "${TOK[doc1]}" Observation "$(obs_json "$PB")")
  OBS_C=$(mk "${TOK[doc2]}" Observation "$(obs_json "$PC")")
  OBS_PSY=$(mk "${TOK[psy]}" Observation "$(obs_json "$PA" psy)")
  must OBS_A "$OBS_A"; must OBS_B "$OBS_B"; must OBS_C "$OBS_C"; must OBS_PSY "$OBS_PSY"
}

# st TOKEN METHOD PATH [JSON] — prints the status; the body is in $T/body.
st() {
  local tok=$1 m=$2 p=$3
  if [ -n "${4:-}" ]; then
    pcurl -g -o "$T/body" -w '%{http_code}' -X "$m" -H "$(auth "$tok")" \
      -H 'Content-Type: application/json' -d "$4" "$BASE$p"
  else
    pcurl -g -o "$T/body" -w '%{http_code}' -X "$m" -H "$(auth "$tok")" "$BASE$p"
  fi
}
# ids_in FILE — the ids of a Bundle's entry resources, one a line.
ids_in() { jq -r '.entry[]?.resource.id // empty' "$1" 2>/dev/null; }
