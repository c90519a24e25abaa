#!/usr/bin/env bash
# Authorization matrix (issue 4): every role x every FHIR/admin endpoint x
# (own patient, care-team patient, other patient, restricted resource on
# a care-team patient) -> expected status, from SPEC.md's role table and
# src/authz/policy.c. Then the fail-closed cases: an account whose role
# was changed to an unknown value in the database, a patient account
# linked to nothing (both rows of the matrix), a policy file with a
# syntax error (the server refuses to start), and a policy file that
# grants a role nothing (that role is denied).
# Break-glass, field filtering and restricted data in detail:
# test_authz_features.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/authz_seed.sh"
seed_authz

# The unknown role: wiz is a clinician on PA's and PB's teams with a live
# session; its role becomes 'wizard' behind the server's back.
db "UPDATE users SET role='wizard' WHERE username='wiz';"
expect_eq "wizard role is in the db" wizard "$(db "SELECT role FROM users WHERE username='wiz';")"
TOK[wizard]=${TOK[wiz]}
TOK[patient]=${TOK[pat]} TOK[clinician]=${TOK[doc1]} TOK[nurse]=${TOK[nurse1]}
TOK[auditor]=${TOK[aud]} TOK[researcher]=${TOK[res]}

# Targets:  own   PA  (pat's own record; doc1's and nurse1's care team)
#           team  PB  (doc1's and nurse1's care team; no patient account)
#           other PC  (doc2's patient only)
#           psy   OBS_PSY, a PSY-labelled Observation on PA
# Expected: a status; 200+ = 200 and the target Observation is in the
# Bundle; 200- = 200 and it is not; DENY = 401 or 403. "create" posts an
# Observation (PSY-labelled for psy), create_comm a Communication, pread
# reads the Patient, read/vread/history the target Observation, update and
# delete a fresh Observation of the same patient (and label) per cell.
# Every row of SPEC.md: patient reads own compartment and own access log,
# writes only Communication; clinician cruds its care team, break-glass
# for anyone; nurse reads its care team, writes Observation; admin only
# care teams (and users, keys); auditor only audit events; researcher only
# de-identified export; restricted data needs more than the care team.
MATRIX=$(cat <<'EOF'
# role      endpoint       own   team  other psy
patient     create         403   403   403   403
patient     create_comm    201   403   403   201
patient     pread          200   403   403   200
patient     read           200   403   403   200
patient     vread          200   403   403   200
patient     update         403   403   403   403
patient     delete         403   403   403   403
patient     history        200+  403   403   200+
patient     search         200+  403   403   200+
patient     compartment    200+  403   403   200+
patient     auditevent     200   403   403   200
patient     careteam_add   403   403   403   403
patient     breakglass     403   403   403   403
clinician   create         201   201   403   403
clinician   create_comm    201   201   403   403
clinician   pread          200   200   403   200
clinician   read           200   200   403   403
clinician   vread          200   200   403   403
clinician   update         200   200   403   403
clinician   delete         204   204   403   403
clinician   history        200+  200+  403   403
clinician   search         200+  200+  403   200-
clinician   compartment    200+  200+  403   200-
clinician   auditevent     403   403   403   403
clinician   careteam_add   403   403   403   403
clinician   breakglass     201   201   201   201
nurse       create         201   201   403   403
nurse       create_comm    403   403   403   403
nurse       pread          200   200   403   200
nurse       read           200   200   403   403
nurse       vread          200   200   403   403
nurse       update         403   403   403   403
nurse       delete         403   403   403   403
nurse       history        200+  200+  403   403
nurse       search         200+  200+  403   200-
nurse       compartment    200+  200+  403   200-
nurse       auditevent     403   403   403   403
nurse       careteam_add   403   403   403   403
nurse       breakglass     403   403   403   403
admin       create         403   403   403   403
admin       create_comm    403   403   403   403
admin       pread          403   403   403   403
admin       read           403   403   403   403
admin       vread          403   403   403   403
admin       update         403   403   403   403
admin       delete         403   403   403   403
admin       history        403   403   403   403
admin       search         403   403   403   403
admin       compartment    403   403   403   403
admin       auditevent     403   403   403   403
admin       careteam_add   200   200   200   200
admin       breakglass     403   403   403   403
auditor     create         403   403   403   403
auditor     create_comm    403   403   403   403
auditor     pread          403   403   403   403
auditor     read           403   403   403   403
auditor     vread          403   403   403   403
auditor     update         403   403   403   403
auditor     delete         403   403   403   403
auditor     history        403   403   403   403
auditor     search         403   403   403   403
auditor     compartment    403   403   403   403
auditor     auditevent     200   200   200   200
auditor     careteam_add   403   403   403   403
auditor     breakglass     403   403   403   403
researcher  create         403   403   403   403
researcher  create_comm    403   403   403   403
researcher  pread          403   403   403   403
researcher  read           403   403   403   403
researcher  vread          403   403   403   403
researcher  update         403   403   403   403
researcher  delete         403   403   403   403
researcher  history        403   403   403   403
researcher  search         403   403   403   403
researcher  compartment    403   403   403   403
researcher  auditevent     403   403   403   403
researcher  careteam_add   403   403   403   403
researcher  breakglass     403   403   403   403
wizard      create         DENY  DENY  DENY  DENY
wizard      create_comm    DENY  DENY  DENY  DENY
wizard      pread          DENY  DENY  DENY  DENY
wizard      read           DENY  DENY  DENY  DENY
wizard      vread          DENY  DENY  DENY  DENY
wizard      update         DENY  DENY  DENY  DENY
wizard      delete         DENY  DENY  DENY  DENY
wizard      history        DENY  DENY  DENY  DENY
wizard      search         DENY  DENY  DENY  DENY
wizard      compartment    DENY  DENY  DENY  DENY
wizard      auditevent     DENY  DENY  DENY  DENY
wizard      careteam_add   DENY  DENY  DENY  DENY
wizard      breakglass     DENY  DENY  DENY  DENY
ghost       create         403   403   403   403
ghost       create_comm    403   403   403   403
ghost       pread          403   403   403   403
ghost       read           403   403   403   403
ghost       vread          403   403   403   403
ghost       update         403   403   403   403
ghost       delete         403   403   403   403
ghost       history        403   403   403   403
ghost       search         403   403   403   403
ghost       compartment    403   403   403   403
ghost       auditevent     403   403   403   403
ghost       careteam_add   403   403   403   403
ghost       breakglass     403   403   403   403
EOF
)
# Creating a Patient has no target patient.
CREATE_PATIENT=$(cat <<'EOF'
patient 403
clinician 201
nurse 403
admin 403
auditor 403
researcher 403
wizard DENY
ghost 403
EOF
)
TARGETS=(own team other psy)

# A fresh Observation per update/delete cell, so that one cell's write
# cannot change another cell's outcome. Created by someone who may (doc1
# on PA/PB, doc2 on PC, psy for the PSY label).
declare -A VICTIM
victim_for() { # victim_for TARGET
  case $1 in
    own) mk "${TOK[doc1]}" Observation "$(obs_json "$PA")" ;;
    team) mk "${TOK[doc1]}" Observation "$(obs_json "$PB")" ;;
    other) mk "${TOK[doc2]}" Observation "$(obs_json "$PC")" ;;
    psy) mk "${TOK[psy]}" Observation "$(obs_json "$PA" psy)" ;;
  esac
}
for role in patient clinician nurse admin auditor researcher wizard ghost; do
  for tg in "${TARGETS[@]}"; do
    for op in update delete; do
      VICTIM[$op.$role.$tg]=$(victim_for "$tg")
      must "victim $op.$role.$tg" "${VICTIM[$op.$role.$tg]}"
    done
  done
done

# target TARGET — sets PID (the patient), OID (the Observation to read or
# look for) and PSY (non-empty: use the restricted label).
target() {
  case $1 in
    own) PID=$PA OID=$OBS_A PSY="" ;;
    team) PID=$PB OID=$OBS_B PSY="" ;;
    other) PID=$PC OID=$OBS_C PSY="" ;;
    psy) PID=$PA OID=$OBS_PSY PSY=1 ;;
    -) PID="" OID="" PSY="" ;;
  esac
}

# cell ROLE ENDPOINT TARGET — does the request (after target), prints the
# status; the body is in $T/body.
cell() {
  local tok=${TOK[$1]} ep=$2 tg=$3 pid=$PID psy=$PSY v
  case $ep in
    create) st "$tok" POST /fhir/Observation "$(obs_json "$pid" "$psy")" ;;
    create_comm) st "$tok" POST /fhir/Communication "$(comm_json "$pid" "$psy")" ;;
    create_patient) st "$tok" POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Matrix"}]}' ;;
    pread) st "$tok" GET "/fhir/Patient/$pid" ;;
    read) st "$tok" GET "/fhir/Observation/$OID" ;;
    vread) st "$tok" GET "/fhir/Observation/$OID/_history/1" ;;
    update) v=${VICTIM[update.$1.$tg]}
      st "$tok" PUT "/fhir/Observation/$v" "$(obs_json "$pid" "$psy" "$v")" ;;
    delete) st "$tok" DELETE "/fhir/Observation/${VICTIM[delete.$1.$tg]}" ;;
    history) st "$tok" GET "/fhir/Observation/$OID/_history" ;;
    search) st "$tok" GET "/fhir/Observation?patient=$pid&_count=200" ;;
    compartment) st "$tok" GET "/fhir/Patient/$pid/Observation?_count=200" ;;
    auditevent) st "$tok" GET "/fhir/AuditEvent?patient=$pid" ;;
    careteam_add) st "$tok" POST /admin/careteam "{\"user\":\"nurse2\",\"patient\":\"$pid\"}" ;;
    breakglass) st "$tok" POST "/fhir/Patient/$pid/\$break-glass" '{"reason":"matrix check"}' ;;
    *) echo "unknown endpoint $ep" >&2; return 1 ;;
  esac
}

CELLS=0 CELL_FAILS=0
check_cell() { # check_cell ROLE ENDPOINT TARGET EXPECTED
  local got ok=0 seen="" shown
  target "$3"
  got=$(cell "$1" "$2" "$3")
  # A Bundle: is the target Observation in it? (shown for every 200)
  if [ "$got" == 200 ] && [ -n "$OID" ] && [[ $2 == history || $2 == search || $2 == compartment ]]; then
    ids_in "$T/body" | grep -qxF "$OID" && seen=+ || seen=-
  fi
  case $4 in
    DENY) [[ $got == 401 || $got == 403 ]] && ok=1 ;;
    200+|200-)
      [ "$got$seen" == "$4" ] && ok=1 ;;
    *) [ "$got" == "$4" ] && ok=1 ;;
  esac
  CELLS=$((CELLS + 1))
  shown=$got$seen
  printf '%-10s %-14s %-5s %-5s %s\n' "$1" "$2" "$3" "$4" "$shown" >>"$T/matrix.out"
  if [ $ok -ne 1 ]; then
    CELL_FAILS=$((CELL_FAILS + 1))
    fail "matrix: role=$1 endpoint=$2 target=$3: expected $4, got $shown ($(jq -c '.issue[0].details.coding[0].code? // empty' "$T/body" 2>/dev/null | head -c 80))"
  fi
}

# Break-glass last: a grant (even an expiring one) would change the
# clinician's later cells.
for pass_ in main breakglass; do
  while read -r role ep e_own e_team e_other e_psy; do
    [[ -z $role || $role == \#* ]] && continue
    if [ "$pass_" == main ] && [ "$ep" == breakglass ]; then continue; fi
    if [ "$pass_" == breakglass ] && [ "$ep" != breakglass ]; then continue; fi
    check_cell "$role" "$ep" own "$e_own"
    check_cell "$role" "$ep" team "$e_team"
    check_cell "$role" "$ep" other "$e_other"
    check_cell "$role" "$ep" psy "$e_psy"
  done <<<"$MATRIX"
  if [ "$pass_" == main ]; then
    while read -r role exp; do
      check_cell "$role" create_patient - "$exp"
    done <<<"$CREATE_PATIENT"
  fi
done
expect_eq "matrix: all $CELLS cells as expected" 0 "$CELL_FAILS"
[ "$CELLS" -ge 400 ] && pass "matrix has $CELLS cells" || fail "matrix has only $CELLS cells"
[ -n "${PV_MATRIX_OUT:-}" ] && cp "$T/matrix.out" "$PV_MATRIX_OUT"

# --- fail closed: unknown role, dangling patient link --------------------
expect_eq "unknown-role account cannot log in" "" "$(login wiz "$UPW")"
# The ghost's rows of the matrix are all 403; its own (dangling) id may be
# searched, but must find nothing.
code=$(st "${TOK[ghost]}" GET "/fhir/Observation?patient=no-such-patient-0")
if [ "$code" == 200 ]; then
  expect_eq "dangling-link patient: own (empty) compartment has no entries" 0 "$(jq '.entry | length' "$T/body")"
else
  expect_eq "dangling-link patient: own compartment search denied" 403 "$code"
fi

# --- fail closed: a policy file with a syntax error stops start-up ---------
pv_stop
expect_eq "server stopped cleanly" 0 "$PV_RC"
cat >"$T/bad.policy" <<'EOF'
allow clinician * cruds careteam
allow nurse Observation rs
EOF
pv_conf authz policy_file "$T/bad.policy"
rc=0; timeout 20 "$PHIVAULT" serve "$VAULT" --listen 127.0.0.1:0 2>"$T/bad.err" || rc=$?
expect_ne "serve refuses a broken policy file (exit $rc)" 0 "$rc"
expect_ne "...and did not just hang until the timeout" 124 "$rc"
expect_contains "the error names the policy line" "$(cat "$T/bad.err")" "line 2"
cat >"$T/bad2.policy" <<'EOF'
allow wizard * rs any
EOF
pv_conf authz policy_file "$T/bad2.policy"
rc=0; timeout 20 "$PHIVAULT" serve "$VAULT" --listen 127.0.0.1:0 2>/dev/null || rc=$?
expect_ne "serve refuses a policy naming an unknown role (exit $rc)" 0 "$rc"
expect_ne "...without hanging" 124 "$rc"

# --- a policy that grants a role nothing denies that role ---------------
cat >"$T/clinicians-only.policy" <<'EOF'
# only clinicians: nurses and patients get nothing
allow clinician * cruds careteam
allow clinician Patient c none
EOF
pv_conf authz policy_file "$T/clinicians-only.policy"
pv_start
expect_eq "policy file: clinician still reads its care team" 200 \
  "$(st "${TOK[doc1]}" GET "/fhir/Observation/$OBS_B")"
expect_eq "policy file: nurse (no rows) denied read" 403 \
  "$(st "${TOK[nurse1]}" GET "/fhir/Observation/$OBS_B")"
expect_eq "policy file: nurse (no rows) denied search" 403 \
  "$(st "${TOK[nurse1]}" GET "/fhir/Observation?patient=$PB")"
expect_eq "policy file: nurse (no rows) denied create" 403 \
  "$(st "${TOK[nurse1]}" POST /fhir/Observation "$(obs_json "$PB")")"
expect_eq "policy file: patient (no rows) denied its own record" 403 \
  "$(st "${TOK[pat]}" GET "/fhir/Observation/$OBS_A")"
expect_eq "policy file: auditor (no rows) denied audit events" 403 \
  "$(st "${TOK[aud]}" GET "/fhir/AuditEvent?patient=$PA")"
expect_eq "policy file: no break-glass row, so none" 403 \
  "$(st "${TOK[doc3]}" POST "/fhir/Patient/$PC/\$break-glass" '{"reason":"policy check"}')"
