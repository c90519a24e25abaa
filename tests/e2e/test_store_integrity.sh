#!/usr/bin/env bash
# Encrypted FHIR store (issue 5), part 2: ciphertexts swapped between rows
# (same patient, different patients, versions of one resource) fail
# closed — 500 OperationOutcome without details, a decrypt_failure
# alert, a metric — and master-key rotation (twice) while readers and a
# writer run: no error, only the newest key left, every DEK re-wrapped,
# every resource intact (also after a restart).
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
PW="Clinic1an-secret-pw"
pv_user drc clinician "$PW"
pv_conf auth mfa_required_roles admin
pv_conf ratelimit enabled false
pv_start
CT='Content-Type: application/fhir+json'
TOK=$(login drc "$PW")
expect_ne "clinician logs in" "" "$TOK"

req() { local m=$1 p=$2; shift 2
  pcurl -o "$T/out" -D "$T/hdr" -w '%{http_code}' -X "$m" -H "$(auth "$TOK")" "$@" "$BASE$p"; }
send() { local m=$1 p=$2 d=$3; shift 3; req "$m" "$p" -H "$CT" --data-binary "$d" "$@"; }
hdr() { { grep -i "^$1:" "$T/hdr" || true; } | tail -n1 | cut -d' ' -f2- | tr -d '\r'; }
content() { jq -cS 'del(.meta)' <<<"$1"; }
obs() { printf '{"resourceType":"Observation","status":"final","code":{"text":"%s"},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%s}}' "$3" "$1" "$2"; }
mkpat() { # mkpat FAMILY — prints the new Patient id
  send POST /fhir/Patient "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"$1\"}]}" >/dev/null
  jq -r .id "$T/out"; }
mkobs() { # mkobs PID VALUE TEXT — prints the new Observation id
  send POST /fhir/Observation "$(obs "$1" "$2" "$3")" >/dev/null; jq -r .id "$T/out"; }
metric() { pcurl "$BASE/metrics" | { grep "^$1 " || echo "$1 0"; } | awk '{print $2}'; }
alerts() { grep -c '"decrypt_failure"' "$VAULT/alerts.jsonl" 2>/dev/null || true; }

# --- 5. swapped ciphertexts ----------------------------------------------------
PA=$(mkpat Alpha); PB=$(mkpat Bravo)
A1=$(mkobs "$PA" 11 PhiAlphaOne); A2=$(mkobs "$PA" 12 PhiAlphaTwo)
A3=$(mkobs "$PA" 13 PhiAlphaThree); A4=$(mkobs "$PA" 14 PhiAlphaFour)
B1=$(mkobs "$PB" 21 PhiBravoOne)
V=$(mkobs "$PA" 31 PhiVersionOne)
send PUT "/fhir/Observation/$V" "$(obs "$PA" 32 PhiVersionTwo | jq -c --arg id "$V" '.id = $id')" >/dev/null
expect_eq "setup: version 2 written" 'W/"2"' "$(hdr ETag)"
for id in "$A1" "$A2" "$A3" "$A4" "$B1" "$V"; do
  [ "$(req GET "/fhir/Observation/$id")" == 200 ] || fail "setup read of $id"
done
expect_eq "no decrypt failures yet" 0 "$(metric phivault_decrypt_failures_total)"
expect_eq "no decrypt_failure alert yet" 0 "$(alerts)"
pv_stop
# An insider with write access to the records store (phivault.db, or the
# PostgreSQL records database) moves sealed blobs between rows.
blobsum() { pv_sql records "select $(pv_sql_hex sealed) from resources where type='Observation' and id='$1' and version=$2" | sha256sum | cut -c1-16; }
a1=$(blobsum "$A1" 1); a3=$(blobsum "$A3" 1); v1=$(blobsum "$V" 1)
swap() { # swap ID1 VER1 ID2 VER2 — exchange the sealed blobs of two rows
  pv_sql records "BEGIN;
    CREATE TEMP TABLE s AS SELECT (SELECT sealed FROM resources WHERE type='Observation' AND id='$1' AND version=$2) AS x,
                                  (SELECT sealed FROM resources WHERE type='Observation' AND id='$3' AND version=$4) AS y;
    UPDATE resources SET sealed=(SELECT y FROM s) WHERE type='Observation' AND id='$1' AND version=$2;
    UPDATE resources SET sealed=(SELECT x FROM s) WHERE type='Observation' AND id='$3' AND version=$4;
    COMMIT;"
}
swap "$A1" 1 "$A2" 1   # same patient, same type
swap "$A3" 1 "$B1" 1   # different patients
swap "$V" 1 "$V" 2     # two versions of one resource
expect_eq "swap happened (same patient)" "$a1" "$(blobsum "$A2" 1)"
expect_eq "swap happened (other patient)" "$a3" "$(blobsum "$B1" 1)"
expect_eq "swap happened (versions)" "$v1" "$(blobsum "$V" 2)"
pv_start
TOK=$(login drc "$PW")
pii=(PhiAlpha PhiBravo PhiVersion Alpha Bravo "$PA" "$PB" "$A1" "$A2" "$A3" "$A4" "$B1" "$V"
  valueQuantity Observation sealed "phivault-res")
check_failed() { # check_failed WHAT PATH
  local code; code=$(req GET "$2")
  expect_eq "$1: 500" 500 "$code"
  expect_eq "$1: OperationOutcome" OperationOutcome "$(jq -r .resourceType "$T/out" 2>/dev/null || echo not-json)"
  local body; body=$(cat "$T/out")
  local w; for w in "${pii[@]}"; do expect_not_contains "$1: body names no '$w'" "$body" "$w"; done
}
n0=$(alerts)
check_failed "swapped row, same patient" "/fhir/Observation/$A1"
expect_eq "exactly one alert for one failed read" $((n0 + 1)) "$(alerts)"
expect_eq "metric counts that one failure" 1 "$(metric phivault_decrypt_failures_total)"
check_failed "its partner" "/fhir/Observation/$A2"
check_failed "swapped row, other patient" "/fhir/Observation/$A3"
check_failed "its partner (patient B)" "/fhir/Observation/$B1"
check_failed "current version holding version 1's ciphertext" "/fhir/Observation/$V"
check_failed "vread of version 1 holding version 2's ciphertext" "/fhir/Observation/$V/_history/1"
check_failed "history over swapped versions" "/fhir/Observation/$V/_history"
check_failed "compartment search over a swapped row" "/fhir/Observation?patient=$PA"
expect_eq "untouched row still reads" 200 "$(req GET "/fhir/Observation/$A4")"
expect_contains "… with its own content" "$(cat "$T/out")" PhiAlphaFour
expect_eq "the Patients still read" "200 200" "$(req GET "/fhir/Patient/$PA") $(req GET "/fhir/Patient/$PB")"
expect_eq "a decrypt_failure alert per failed request" $((n0 + 8)) "$(alerts)"
last=$(grep '"decrypt_failure"' "$VAULT/alerts.jsonl" | tail -n1)
expect_contains "alert is critical" "$last" '"critical"'
for w in PhiAlpha "$PA" "$A1" "$A2"; do expect_not_contains "alert names no '$w'" "$last" "$w"; done
m=$(metric phivault_decrypt_failures_total)
expect_eq "metric: one per failed request (8)" 8 "$m"
expect_contains "integrity failure logged" "$(cat "$T/serve.log")" '"integrity_failure"'
expect_not_contains "log has no PHI" "$(cat "$T/serve.log")" PhiAlpha
# Swap back: the rows open again (the tags were the only thing wrong).
pv_stop
swap "$A1" 1 "$A2" 1; swap "$A3" 1 "$B1" 1; swap "$V" 1 "$V" 2
pv_start
TOK=$(login drc "$PW")
expect_eq "swapped back: all read" "200 200 200 200 200" \
  "$(for id in "$A1" "$A2" "$A3" "$B1" "$V"; do printf '%s ' "$(req GET "/fhir/Observation/$id")"; done | sed 's/ $//')"
expect_contains "… with their own content" "$(req GET "/fhir/Observation/$B1" >/dev/null; cat "$T/out")" PhiBravoOne

# --- 6. key rotation under concurrent reads ---------------------------------
NP=12
ids=()
for i in $(seq 1 $NP); do
  p=$(mkpat "Rot$i"); o=$(mkobs "$p" "$i" "RotObs$i")
  ids+=("Patient/$p" "Observation/$o")
done
for r in "${ids[@]}" "Observation/$A4" "Observation/$B1"; do
  [ "$(req GET "/fhir/$r")" == 200 ] || fail "pre-rotation read $r"
  content "$(cat "$T/out")" >"$T/orig.${r//\//_}"
done
expect_eq "one master key before" "master-1.key" "$(cd "$VAULT/keys" && ls master-*.key | tr '\n' ' ' | sed 's/ $//')"
rm -f "$T/stop"
reader() { # reader N — up to 300 reads, until $T/stop; one status per line
  local i=0 n=${#ids[@]}
  while [ $i -lt 300 ] && [ ! -e "$T/stop" ]; do
    pcurl -o /dev/null -w '%{http_code}\n' --max-time 10 -H "$(auth "$TOK")" \
      "$BASE/fhir/${ids[$(( (i * 7 + $1) % n ))]}" >>"$T/codes.$1" || echo "curl-error" >>"$T/codes.$1"
    i=$((i + 1))
  done
}
writer() { # new patients (new DEKs) while rotating: up to 40
  local i=0
  while [ $i -lt 40 ] && [ ! -e "$T/stop" ]; do
    pcurl -o "$T/w.out" -w '%{http_code}\n' --max-time 10 -X POST -H "$(auth "$TOK")" -H "$CT" \
      --data-binary "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"W$i\"}]}" "$BASE/fhir/Patient" >>"$T/wcodes" \
      || echo "curl-error" >>"$T/wcodes"
    i=$((i + 1))
  done
}
: >"$T/codes.1"; : >"$T/codes.2"; : >"$T/codes.3"; : >"$T/wcodes"
reader 1 & R1=$!; reader 2 & R2=$!; reader 3 & R3=$!; writer & W=$!
for i in $(seq 1 100); do   # wait (≤ 10 s) until every reader is going
  [ "$(cat "$T"/codes.* | wc -l)" -ge 15 ] && break; sleep 0.1
done
nb=$(cat "$T"/codes.* | wc -l)
rc1=0; "$PHIVAULT" key rotate "$VAULT" >"$T/rot1" 2>&1 || rc1=$?
sleep 0.3   # readers between the rotations: the server holds versions 1+2
rc2=0; "$PHIVAULT" key rotate "$VAULT" >"$T/rot2" 2>&1 || rc2=$?
running=0; for p in $R1 $R2 $R3; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
na=$(cat "$T"/codes.* | wc -l)
sleep 0.5   # and some reads after, under version 3 only
touch "$T/stop"; wait $R1 $R2 $R3 $W
expect_eq "rotation 1 exit 0" 0 "$rc1"
expect_eq "rotation 2 exit 0" 0 "$rc2"
expect_contains "rotation 1 summary" "$(cat "$T/rot1")" "rotated to version 2"
expect_contains "rotation 2 summary" "$(cat "$T/rot2")" "rotated to version 3"
expect_eq "readers still running after both rotations (they overlapped)" 3 "$running"
total=$(cat "$T"/codes.* | wc -l)
[ "$na" -gt "$nb" ] && pass "$((na - nb)) reads completed during the rotations ($total in all)" \
  || fail "no read completed during the rotations ($nb before, $na after)"
expect_eq "every concurrent read returned 200" "200" "$(cat "$T"/codes.* | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "every concurrent create returned 201" "201" "$(sort -u "$T/wcodes" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "only the newest master key is left" "master-3.key" "$(cd "$VAULT/keys" && ls master-*.key | tr '\n' ' ' | sed 's/ $//')"
expect_eq "every DEK wrapped under version 3" 3 \
  "$(pv_sql keys 'select distinct kek_version from deks where wrapped is not null' | paste -sd,)"
expect_eq "a DEK per patient" "$(pv_sql records "select count(*) from resources where type='Patient' and CAST(is_current AS int)=1")" \
  "$(pv_deks)"
verify_all() { # verify_all WHEN
  local r bad=0
  for r in "${ids[@]}" "Observation/$A4" "Observation/$B1"; do
    if [ "$(req GET "/fhir/$r")" != 200 ] || [ "$(content "$(cat "$T/out")")" != "$(cat "$T/orig.${r//\//_}")" ]; then
      bad=$((bad + 1)); echo "  mismatch: $r" >&2
    fi
  done
  expect_eq "$1: all $(( ${#ids[@]} + 2 )) resources read back unchanged" 0 "$bad"
}
verify_all "after rotation"
expect_eq "a new write after rotation" 201 "$(send POST /fhir/Observation "$(obs "$PA" 5 AfterRotation)")"
expect_eq "no decrypt failure during rotation" 0 "$(metric phivault_decrypt_failures_total)"
expect_eq "no integrity failure logged during rotation" 0 "$(grep -c '"integrity_failure"' "$T/serve.log" || true)"
pv_stop
expect_eq "clean stop" 0 "$PV_RC"
pv_start
TOK=$(login drc "$PW")
verify_all "after restart"
expect_eq "created-during-rotation patients read after restart" 0 \
  "$(n=0; for id in $(pv_sql records "select id from resources where type='Patient' and CAST(is_current AS int)=1"); do
       [ "$(req GET "/fhir/Patient/$id")" == 200 ] || n=$((n + 1)); done; echo $n)"
