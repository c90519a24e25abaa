#!/usr/bin/env bash
# Data lifecycle: de-identified export of a synthetic population (no
# identifier survives, k-anonymity holds, pseudonyms stable per key),
# researcher endpoint, retention purge (exactly the expired set, whole
# patients crypto-shredded once however often it runs, legal hold
# respected, old backups useless), the periodic purge job, erasure by an
# admin, data minimisation.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
pv_conf auth mfa_required_roles admin
pv_conf minimization drop_fields "Patient.photo, Observation.note"
pv_user doc clinician "Clinician-pass-1234"
pv_user res researcher "Long-term-study-pass-1"
GEN="$PV_SOURCE_DIR/tests/tools/gen_population.py"

# --- a synthetic population, loaded through the record service ----------
python3 "$GEN" 3000 --per-patient 3 --seed 7 --identifiers "$T/ids.txt" >"$T/pop.ndjson"
out=$("$PHIVAULT" import "$VAULT" "$T/pop.ndjson")
expect_contains "population imported" "$out" "refused 0"
nres=$(wc -l <"$T/pop.ndjson")

# --- de-identified export -------------------------------------------------------
head -c 32 /dev/urandom >"$T/k1"; head -c 32 /dev/urandom >"$T/k2"
"$PHIVAULT" deid export "$VAULT" --key-file "$T/k1" --out "$T/e1.ndjson" 2>"$T/rep1"
expect_contains "export reports suppression" "$(cat "$T/rep1")" "suppressed (k=5)"
lines=$(wc -l <"$T/e1.ndjson")
[ "$lines" -gt 100 ] && pass "export has records ($lines of $nres)" || fail "export too small: $lines"
leaks=$(grep -c -wF -f "$T/ids.txt" "$T/e1.ndjson" || true)
expect_eq "no identifier from the input appears in the NDJSON export" 0 "$leaks"
"$PHIVAULT" deid export "$VAULT" --key-file "$T/k1" --format csv --out "$T/e1.csv" 2>/dev/null
leaks=$(grep -c -wF -f "$T/ids.txt" "$T/e1.csv" || true)
expect_eq "no identifier from the input appears in the CSV export" 0 "$leaks"
expect_eq "CSV header" "resource_type,id,patient,birth_year,sex,zip3,status,category,code,value,unit,year" \
  "$(head -n1 "$T/e1.csv" | tr -d '\r')"
# every quasi-identifier group among released patients has >= k members
small=$(python3 - "$T/e1.ndjson" <<'PY'
import json, sys, collections
groups = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["resourceType"] != "Patient":
        continue
    year = r.get("birthDate", "90+")
    zip3 = (r.get("address") or [{}])[0].get("postalCode", "")
    groups[(year, r.get("gender", ""), zip3)] += 1
print(sum(1 for n in groups.values() if n < 5), len(groups))
PY
)
expect_eq "no released group smaller than k=5" 0 "${small%% *}"
[ "${small##* }" -gt 1 ] && pass "several groups released (${small##* })" || fail "no groups"
# pseudonyms: stable per key, different across keys
"$PHIVAULT" deid export "$VAULT" --key-file "$T/k1" --out "$T/e1b.ndjson" 2>/dev/null
expect_eq "same key, same export" "$(sha256sum <"$T/e1.ndjson")" "$(sha256sum <"$T/e1b.ndjson")"
"$PHIVAULT" deid export "$VAULT" --key-file "$T/k2" --out "$T/e2.ndjson" 2>/dev/null
p1=$(jq -r 'select(.resourceType=="Patient") | .id' "$T/e1.ndjson" | sort)
p2=$(jq -r 'select(.resourceType=="Patient") | .id' "$T/e2.ndjson" | sort)
expect_eq "same number of released patients under either key" "$(wc -l <<<"$p1")" "$(wc -l <<<"$p2")"
expect_eq "no pseudonym shared across keys" "" "$(comm -12 <(echo "$p1") <(echo "$p2"))"
vault_ids=$(pv_sql records "select id from resources" | sort -u)
expect_eq "no vault id appears in the export" "" \
  "$(jq -r '.id' "$T/e1.ndjson" | sort -u | comm -12 - <(echo "$vault_ids"))"
rc=0; "$PHIVAULT" deid export "$VAULT" --out "$T/e1.ndjson" 2>/dev/null || rc=$?
expect_eq "never overwrites an existing file" 1 "$rc"

# --- researcher endpoint --------------------------------------------------------
pv_start
rt=$(login res "Long-term-study-pass-1")
code=$(pcurl -o "$T/api.ndjson" -w '%{http_code}' -H "$(auth "$rt")" "$BASE/deid/export")
expect_eq "researcher gets the export" 200 "$code"
expect_eq "API export has the same shape" "$(wc -l <"$T/e1.ndjson")" "$(wc -l <"$T/api.ndjson")"
expect_eq "API export leaks nothing" 0 "$(grep -c -wF -f "$T/ids.txt" "$T/api.ndjson" || true)"
expect_eq "CSV over the API" 200 "$(http_status GET '/deid/export?format=csv' -H "$(auth "$rt")")"
dt=$(login doc "Clinician-pass-1234")
expect_eq "a clinician is not a researcher" 403 "$(http_status GET /deid/export -H "$(auth "$dt")")"
expect_eq "researcher cannot read records" 403 \
  "$(http_status GET "/fhir/Patient/$(pv_sql records "select id from resources where type='Patient' limit 1")" -H "$(auth "$rt")")"

# --- data minimisation: configured fields are never stored ---------------------
out=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"male","photo":[{"url":"https://x.example/face.jpg"}]}' -H "$(auth "$dt")" -D "$T/h")
expect_eq "dropped field reported as a warning" warning "$(jq -r '.issue[0].severity' <<<"$out")"
expect_contains "the warning names the field" "$(jq -r '.issue[0].diagnostics' <<<"$out")" "Patient.photo"
loc=$(grep -i '^location:' "$T/h" | tr -d '\r' | awk '{print $2}')
mp=$(cut -d/ -f4 <<<"$loc")
expect_eq "Location names the new Patient" 32 "${#mp}"
expect_eq "the photo was not stored" null "$(pcurl -H "$(auth "$dt")" "$BASE/fhir/Patient/$mp" | jq -c '.photo')"
pv_stop

# --- retention: exactly the expired set (a fresh vault) ------------------------
rm -rf "$VAULT"
pv_init
pv_conf auth mfa_required_roles admin
pv_user doc clinician "Clinician-pass-1234"
pv_conf retention Observation 4s
pv_conf retention Patient 4s
pv_conf retention purge_interval 2s
pv_start
dt=$(login doc "Clinician-pass-1234")
mk_patient() { jpost /fhir/Patient '{"resourceType":"Patient","gender":"female"}' -H "$(auth "$dt")" | jq -r .id; }
mk() { jpost "/fhir/$1" "{\"resourceType\":\"$1\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/$2\"}}" -H "$(auth "$dt")" | jq -r .id; }
P1=$(mk_patient); P2=$(mk_patient); P3=$(mk_patient)
O1=$(mk Observation "$P1"); C1=$(jpost /fhir/Condition "{\"resourceType\":\"Condition\",\"subject\":{\"reference\":\"Patient/$P1\"}}" -H "$(auth "$dt")" | jq -r .id)
O2=$(mk Observation "$P2"); O3=$(mk Observation "$P3")
pv_stop      # the periodic job must not race the CLI checks below
"$PHIVAULT" hold add "$VAULT" --patient "$P3" >/dev/null
sleep 4.5
O1b=$(pv_sql records "select count(*) from resources where patient_id='$P1'")
out=$("$PHIVAULT" purge "$VAULT" --dry-run --verbose)
expect_contains "dry run: 1 Observation purged, 1 patient shredded, 2 held" "$out" \
  "1 purged, 1 patients crypto-shredded, 2 skipped under legal hold"
expect_contains "dry run names the expired Observation" "$out" "purge  Observation/$O1"
expect_contains "dry run names the wholly expired patient" "$out" "shred  Patient/$P2"
expect_eq "dry run changes nothing" "$O1b" "$(pv_sql records "select count(*) from resources where patient_id='$P1'")"
pv_db_snapshot "$T/before-purge.db"
out=$("$PHIVAULT" purge "$VAULT")
expect_contains "purge report" "$out" "1 purged, 1 patients crypto-shredded, 2 skipped"
expect_eq "expired Observation deleted (all versions)" 0 "$(pv_sql records "select count(*) from resources where id='$O1'")"
expect_eq "unexpired Condition kept" 1 "$(pv_sql records "select count(*) from resources where id='$C1'")"
expect_eq "a patient with living data keeps its Patient" 1 "$(pv_sql records "select count(*) from resources where id='$P1' and CAST(deleted AS int)=0")"
expect_eq "held patient untouched" 1 "$(pv_sql records "select count(*) from resources where id='$O3'")"
expect_eq "wholly expired patient: key destroyed" 1 "$(pv_shredded "$P2")"
expect_eq "every purge audited" 2 "$(grep -c '"action":"purge' "$(pv_audit_log_file)")"
# Outside review (issue 13), finding 16: the purge is idempotent. Erasure
# keeps P2's (empty, deleted) rows, which stay expired; a purge that
# shredded P2 again wrote a new purge.patient entry on every run.
out2=$("$PHIVAULT" purge "$VAULT"); out3=$("$PHIVAULT" purge "$VAULT")
expect_contains "second purge: nothing purged or shredded" "$out2" "0 purged, 0 patients crypto-shredded"
expect_contains "third purge: nothing purged or shredded" "$out3" "0 purged, 0 patients crypto-shredded"
expect_eq "3 purges, exactly one purge.patient entry" 1 \
  "$(jq -c "select(.action==\"purge.patient\" and .id==\"$P2\")" "$(pv_audit_log_file)" | wc -l)"
expect_eq "… and no other new purge entry" 2 "$(grep -c '"action":"purge' "$(pv_audit_log_file)")"
"$PHIVAULT" audit verify "$VAULT" >/dev/null && pass "trail verifies after purge" || fail "trail broken after purge"
# a copy of the database taken before the purge cannot bring P2 back
pv_db_snapshot "$T/after-purge.db"
pv_db_restore "$T/before-purge.db"
pv_start
dt=$(login doc "Clinician-pass-1234")
code=$(http_status GET "/fhir/Observation/$O2" -H "$(auth "$dt")")
[ "$code" == 410 ] || [ "$code" == 500 ] && pass "shredded patient unreadable from the old copy ($code)" || fail "old copy readable: $code"
expect_not_contains "no PHI from the old copy" "$(pcurl -H "$(auth "$dt")" "$BASE/fhir/Observation/$O2")" '"status":"final"'
pv_stop
pv_db_restore "$T/after-purge.db"
"$PHIVAULT" hold remove "$VAULT" --patient "$P3" >/dev/null

# --- the server's periodic purge ----------------------------------------------------
pv_start
dt=$(login doc "Clinician-pass-1234")
O4=$(mk Observation "$P1")
expect_eq "fresh Observation readable" 200 "$(http_status GET "/fhir/Observation/$O4" -H "$(auth "$dt")")"
for i in $(seq 1 40); do
  [ "$(http_status GET "/fhir/Observation/$O4" -H "$(auth "$dt")")" == 404 ] && break
  sleep 0.25
done
expect_eq "the periodic job purged it" 404 "$(http_status GET "/fhir/Observation/$O4" -H "$(auth "$dt")")"
expect_contains "purge logged" "$(cat "$T/serve.log")" '"event":"purge"'

# --- erasure on request by an admin ------------------------------------------------
at=$(mfa_login admin "$ADMIN_PW")
P5=$(mk_patient)
"$PHIVAULT" hold add "$VAULT" --patient "$P5" >/dev/null
expect_eq "erasure refused under legal hold" 409 "$(http_status POST /admin/erase -H "$(auth "$at")" -H 'Content-Type: application/json' -d "{\"patient\":\"$P5\"}")"
"$PHIVAULT" hold remove "$VAULT" --patient "$P5" >/dev/null
expect_eq "erasure" 200 "$(http_status POST /admin/erase -H "$(auth "$at")" -H 'Content-Type: application/json' -d "{\"patient\":\"$P5\"}")"
expect_eq "erased patient is gone" 410 "$(http_status GET "/fhir/Patient/$P5" -H "$(auth "$dt")")"
expect_eq "a clinician cannot erase" 403 "$(http_status POST /admin/erase -H "$(auth "$dt")" -H 'Content-Type: application/json' -d "{\"patient\":\"$P1\"}")"
# Searched in the whole trail, not in its last lines: another writer
# (the periodic purge) may append between the erasure and this check.
# The refused erasure above left an intent and a "denied" follow-up; the
# last erase entry for P5 is the one that succeeded, alone for its rid.
last=$(jq -c "select(.action==\"erase\" and .type==\"Patient\" and .id==\"$P5\")" "$(pv_audit_log_file)" | tail -n1)
expect_eq "erasure audited with the pseudonymous id only" allowed "$(jq -r .outcome <<<"$last")"
expect_eq "… one entry for the erasure request" 1 "$(grep -c "\"rid\":\"$(jq -r .rid <<<"$last")\"" "$(pv_audit_log_file)")"
# The periodic job ran every 2 s since the restore: a shredded patient
# (P2 by the CLI purge, P3 by the job once its hold was lifted) is
# shredded, and audited, once.
expect_eq "periodic purges never shred a patient twice" "" \
  "$(jq -r 'select(.action=="purge.patient") | .id' "$(pv_audit_log_file)" | sort | uniq -d)"

# --- compliance report: the controls above, checked in one pass -----------
pv_stop
pv_user second-admin admin "Another-admin-pass-2"   # not enrolled in MFA
out=$("$PHIVAULT" compliance "$VAULT" --json) && rc=0 || rc=$?
expect_eq "compliance passes on a healthy vault" 0 "$rc"
expect_eq "audit trail check passes" pass \
  "$(jq -r '.checks[] | select(.check=="audit_trail") | .status' <<<"$out")"
expect_eq "the TLS certificate is checked" pass \
  "$(jq -r '.checks[] | select(.check=="tls_certificate") | .status' <<<"$out")"
expect_eq "the unenrolled admin is reported" warn \
  "$(jq -r '.checks[] | select(.check=="mfa_coverage") | .status' <<<"$out")"
