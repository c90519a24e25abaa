#!/usr/bin/env bash
# Audit trail, online: every audited request leaves exactly one entry with
# the right fields and no PHI; patients and auditors read the access log as
# AuditEvent; checkpoints and Merkle proofs verify with an independent
# verifier (tools/merkle_verify.py: RFC 9162 2.1.3.2 / 2.1.4.2 in python,
# Ed25519 through openssl); PHI requests fail closed (503, no PHI) while
# the trail cannot be written — injected fault and a genuinely full disk;
# `audit export` and `audit checkpoint`.
# Tampering and kill -9 are in test_audit_tamper.sh.
source "$(dirname "$0")/lib.sh"
pv_setup
MV="$PV_SOURCE_DIR/tests/e2e/tools/merkle_verify.py"
CANARY="Zqcanary7731"
MNT=""
audit_teardown() {
  local rc=$?
  if [ -n "$MNT" ]; then
    if [ -n "$PV_PID" ]; then kill -TERM "$PV_PID" 2>/dev/null || true; wait "$PV_PID" 2>/dev/null || true; PV_PID=""; fi
    umount -l "$MNT" 2>/dev/null || true
  fi
  # pv_teardown reads the status from $?; errexit must not end the trap
  # here (the server would be left running, holding the output open).
  set +e
  (exit "$rc")
  pv_teardown
}
trap audit_teardown EXIT

pv_init
pv_conf auth mfa_required_roles admin   # MFA is test_identity's subject
CPW="Clinic1an-secret-pw"
pv_user drwho clinician "$CPW"
pv_user drno clinician "Clinic1an-secret-pw2"
pv_user nurse1 nurse "Nurse-secret-pw-01"
pv_user aud1 auditor "Auditor-secret-pw-1"
mkdir -m 700 "$T/faults"
export PHIVAULT_FAULT_DIR=$T/faults
pv_start
# The trail is read through pv_audit_log / pv_audit_log_file (lib.sh):
# files on SQLite, the audit_log table on PostgreSQL, fresh at each read.

# Self-test of the independent verifier (cross-checked against a naive
# RFC 6962 proof generator; every flipped bit must be refused).
expect_contains "independent verifier selftest" "$(python3 "$MV" selftest)" "selftest OK"

# req METHOD PATH [curl args] — one request; sets ST and RID, body in $T/body.
NREQ=0
req() {
  local m=$1 p=$2; shift 2
  ST=$(pcurl -D "$T/hdr" -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$BASE$p")
  RID=$(awk 'tolower($1) == "x-request-id:" {print $2}' "$T/hdr" | tr -d '\r')
  NREQ=$((NREQ + 1))
}
# want TAG JSON — the audit entry of the last request must carry these fields.
want() { jq -c --arg rid "$RID" --arg tag "$1" '. + {rid: $rid, _tag: $tag}' <<<"$2" >>"$T/want.jsonl"; }
entry_of() { pv_audit_log | jq -c --arg r "$1" 'select(.rid == $r)'; }
# login_as NAME PW — token in TOK, the account id (from its login entry) in UID_.
login_as() {
  req POST /auth/login -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg u "$1" --arg p "$2" '{username: $u, password: $p}')"
  TOK=$(jq -r '.token // empty' "$T/body")
  UID_=$(entry_of "$RID" | jq -r .actor)
}

# --- setup: accounts, sessions, patients (before counting) ---------------
login_as drwho "$CPW"; C=$TOK; ID_C=$UID_
login_as drno "Clinic1an-secret-pw2"; D=$TOK; ID_D=$UID_
login_as nurse1 "Nurse-secret-pw-01"; N=$TOK; ID_N=$UID_
login_as aud1 "Auditor-secret-pw-1"; A=$TOK; ID_A=$UID_
for v in C D N A; do expect_ne "session for $v" "" "${!v}"; done
expect_ne "account ids differ" "$ID_C" "$ID_N"
pid=$(jpost /fhir/Patient "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"$CANARY\",\"given\":[\"Ada\"]}]}" -H "$(auth "$C")" | jq -r '.id // empty')
pid2=$(jpost /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Other"}]}' -H "$(auth "$C")" | jq -r '.id // empty')
expect_ne "patient created" "" "$pid"
pv_user pat1 patient "Patient-secret-pw-1" "$pid"
pv_user pat2 patient "Patient-secret-pw-2" "$pid2"
login_as pat1 "Patient-secret-pw-1"; P=$TOK; ID_P=$UID_
login_as pat2 "Patient-secret-pw-2"; P2=$TOK

# --- 1. completeness: N mixed requests, exactly N entries ----------------
C0=$(pv_audit_log | wc -l)
NREQ=0
: >"$T/want.jsonl"
J=(-H 'Content-Type: application/json')
obs="{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"$CANARY glucose\"},\"subject\":{\"reference\":\"Patient/$pid\"}}"

req GET "/fhir/Patient/$pid" -H "$(auth "$C")"
expect_eq "care-team clinician reads" 200 "$ST"
expect_contains "the data carries the canary (positive control)" "$(cat "$T/body")" "$CANARY"
want "clinician read" "{\"action\":\"read\",\"type\":\"Patient\",\"id\":\"$pid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"reason\":\"careteam\",\"actor\":$ID_C,\"role\":\"clinician\",\"grant\":0}"

req POST /fhir/Observation "${J[@]}" -d "$obs" -H "$(auth "$C")"
expect_eq "clinician creates" 201 "$ST"
oid=$(jq -r '.id // empty' "$T/body")
want "clinician create" "{\"action\":\"create\",\"type\":\"Observation\",\"id\":\"$oid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"actor\":$ID_C,\"grant\":0}"

req PUT "/fhir/Observation/$oid" "${J[@]}" -H "$(auth "$C")" \
  -d "$(jq -c --arg id "$oid" '. + {id: $id, status: "amended"}' <<<"$obs")"
expect_eq "clinician updates" 200 "$ST"
want "clinician update" "{\"action\":\"update\",\"type\":\"Observation\",\"id\":\"$oid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"actor\":$ID_C}"

req GET "/fhir/Observation/$oid" -H "$(auth "$C")"
expect_eq "clinician reads the observation" 200 "$ST"
want "clinician read obs" "{\"action\":\"read\",\"type\":\"Observation\",\"id\":\"$oid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"actor\":$ID_C}"

req GET "/fhir/Observation?patient=$pid" -H "$(auth "$C")"
expect_eq "clinician searches" 200 "$ST"
want "clinician search" "{\"action\":\"search\",\"type\":\"Observation\",\"id\":\"\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"actor\":$ID_C}"

req GET "/fhir/Observation/$oid/_history" -H "$(auth "$C")"
expect_eq "clinician reads history" 200 "$ST"
want "clinician history" "{\"action\":\"history\",\"type\":\"Observation\",\"id\":\"$oid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"actor\":$ID_C}"

req GET "/fhir/Patient/$pid" -H "$(auth "$N")"
expect_eq "nurse off the care team denied" 403 "$ST"
expect_not_contains "denial reveals no PHI" "$(cat "$T/body")" "$CANARY"
want "nurse denied read" "{\"action\":\"read\",\"type\":\"Patient\",\"id\":\"$pid\",\"patient\":\"$pid\",\"outcome\":\"denied\",\"reason\":\"not_on_careteam\",\"actor\":$ID_N,\"role\":\"nurse\",\"grant\":0}"

req GET "/fhir/Observation/$oid" -H "$(auth "$N")"
expect_eq "nurse denied the observation" 403 "$ST"
want "nurse denied obs" "{\"action\":\"read\",\"type\":\"Observation\",\"id\":\"$oid\",\"patient\":\"$pid\",\"outcome\":\"denied\",\"reason\":\"not_on_careteam\",\"actor\":$ID_N}"

req POST /fhir/Observation "${J[@]}" -d "$obs" -H "$(auth "$N")"
expect_eq "nurse denied a create" 403 "$ST"
want "nurse denied create" "{\"action\":\"create\",\"type\":\"Observation\",\"id\":\"\",\"patient\":\"$pid\",\"outcome\":\"denied\",\"actor\":$ID_N}"

req POST /auth/login "${J[@]}" -d '{"username":"drwho","password":"Wrong-password-123"}'
expect_eq "failed login" 401 "$ST"
want "failed login" "{\"action\":\"login\",\"outcome\":\"denied\",\"reason\":\"bad_password\",\"actor\":$ID_C,\"patient\":\"\"}"

req POST /auth/login "${J[@]}" -d '{"username":"nobody-here","password":"Wrong-password-123"}'
expect_eq "unknown-user login" 401 "$ST"
want "unknown-user login" '{"action":"login","outcome":"denied","reason":"unknown_user","actor":0,"role":""}'

req GET "/fhir/Patient/$pid"
expect_eq "unauthenticated FHIR read" 401 "$ST"
want "unauthenticated read" '{"action":"read","outcome":"denied","reason":"unauthenticated","actor":0,"role":"","grant":0}'

req GET "/fhir/Patient/$pid" -H "Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_eq "invalid token" 401 "$ST"
want "invalid token" '{"action":"read","outcome":"denied","actor":0}'

# A malformed id (a quote) must be audited like any miss, and must not
# poison the group commit for everyone else.
req GET "/fhir/Patient/abc%22def" -H "$(auth "$C")"
expect_eq "malformed id is a plain 404" 404 "$ST"
want "malformed id probe" "{\"action\":\"read\",\"type\":\"Patient\",\"outcome\":\"failed\",\"actor\":$ID_C}"

req GET "/fhir/Patient/$pid" -H "$(auth "$D")"
expect_eq "other clinician denied before break-glass" 403 "$ST"
want "pre-break-glass denied" "{\"action\":\"read\",\"patient\":\"$pid\",\"outcome\":\"denied\",\"reason\":\"not_on_careteam\",\"actor\":$ID_D,\"grant\":0}"

req POST "/fhir/Patient/$pid/\$break-glass" "${J[@]}" -d '{"reason":"   "}' -H "$(auth "$D")"
expect_eq "break-glass without a reason refused" 400 "$ST"
want "break-glass no reason" "{\"action\":\"break-glass\",\"type\":\"Patient\",\"id\":\"$pid\",\"patient\":\"$pid\",\"outcome\":\"failed\",\"reason\":\"no_reason\",\"actor\":$ID_D,\"grant\":0}"

BG_REASON="Unconscious in ER, $CANARY allergy check"
req POST "/fhir/Patient/$pid/\$break-glass" "${J[@]}" -H "$(auth "$D")" \
  -d "$(jq -nc --arg r "$BG_REASON" '{reason: $r}')"
expect_eq "break-glass opened" 201 "$ST"
G=$(jq -r '.grant // 0' "$T/body")
[ "$G" -gt 0 ] && pass "grant id $G" || fail "no grant id"
want "break-glass" "{\"action\":\"break-glass\",\"type\":\"Patient\",\"id\":\"$pid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"reason\":\"break_glass_opened\",\"actor\":$ID_D,\"grant\":$G}"

req GET "/fhir/Patient/$pid" -H "$(auth "$D")"
expect_eq "read under the grant" 200 "$ST"
want "break-glass read" "{\"action\":\"read\",\"type\":\"Patient\",\"id\":\"$pid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"reason\":\"break_glass\",\"actor\":$ID_D,\"grant\":$G}"

req GET "/fhir/Observation/$oid" -H "$(auth "$D")"
expect_eq "observation under the grant" 200 "$ST"
want "break-glass read obs" "{\"action\":\"read\",\"type\":\"Observation\",\"id\":\"$oid\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"reason\":\"break_glass\",\"actor\":$ID_D,\"grant\":$G}"

req GET "/fhir/Patient/$pid/Observation" -H "$(auth "$D")"
expect_eq "compartment search under the grant" 200 "$ST"
want "break-glass search" "{\"action\":\"search\",\"type\":\"Observation\",\"patient\":\"$pid\",\"outcome\":\"allowed\",\"actor\":$ID_D,\"grant\":$G}"

req GET "/fhir/Patient/$pid2" -H "$(auth "$D")"
expect_eq "the grant covers only its patient" 403 "$ST"
want "grant is per patient" "{\"action\":\"read\",\"patient\":\"$pid2\",\"outcome\":\"denied\",\"actor\":$ID_D,\"grant\":0}"

C1=$(pv_audit_log | wc -l)
expect_eq "exactly one entry per request ($NREQ requests)" "$NREQ" "$((C1 - C0))"
pv_audit_log | tail -n +"$((C0 + 1))" >"$T/new.jsonl"
expect_eq "new entries have distinct request ids" "$NREQ" "$(jq -r .rid "$T/new.jsonl" | sort -u | wc -l)"
expect_eq "every new entry's source is 127.0.0.1" "$NREQ" "$(jq -r 'select(.src == "127.0.0.1") | .rid' "$T/new.jsonl" | wc -l)"
expect_eq "seq numbers continue the log" "$(seq "$C0" "$((C1 - 1))" | tr '\n' ' ')" "$(jq -r .seq "$T/new.jsonl" | tr '\n' ' ')"
while IFS= read -r w; do
  tag=$(jq -r ._tag <<<"$w")
  diff=$(jq -rn --argjson w "$w" --slurpfile got "$T/new.jsonl" '
    ($got | map(select(.rid == $w.rid))) as $m
    | if ($m | length) != 1 then "\($m | length) entries with this rid"
      else [$w | del(._tag) | to_entries[] | select($m[0][.key] != .value)
            | "\(.key)=\($m[0][.key] | tojson) (want \(.value | tojson))"] | join(", ") end')
  expect_eq "entry for '$tag' (rid = X-Request-Id)" "" "$diff"
done <"$T/want.jsonl"
expect_eq "no entry names a break-glass grant unless under it" 0 \
  "$(jq -r --argjson d "$ID_D" 'select(.grant != 0 and .actor != $d) | .rid' "$T/new.jsonl" | wc -l)"

# --- no PHI anywhere in the trail, checkpoints, server log, alerts, metrics --
pcurl "$BASE/metrics" >"$T/metrics"
for f in "$(pv_audit_log_file)" "$(pv_audit_cps_file)" "$(pv_audit_state_file)" "$T/serve.log" \
         "$VAULT/alerts.jsonl" "$T/metrics"; do
  if [ -e "$f" ]; then
    if grep -aq "$CANARY" "$f"; then fail "PHI canary found in $(basename "$f")"; else pass "no PHI canary in $(basename "$f")"; fi
  fi
done
# prev and bsig are base64 (a hash, a signature): any three letters turn
# up there by chance (about 1 in 260,000 per position, 130 positions a
# signed line), so only the other fields are searched.
expect_eq "no names in the trail" 0 \
  "$(jq -c 'del(.prev, .bsig)' "$(pv_audit_log_file)" | grep -ac -e Ada -e Unconscious || true)"
# bsig (the batch signature) ends the last line of each group commit;
# count appears only on aggregated entries.
expect_eq "entries carry only the documented keys" \
  '["action","actor","grant","id","nonce","outcome","patient","prev","reason","rid","role","seq","src","ts","type"]' \
  "$(jq -sc '[.[] | keys - ["bsig","count"]] | unique | if length == 1 then .[0] else . end' "$(pv_audit_log_file)")"
expect_eq "the last entry ends a batch: it carries bsig" true "$(tail -n1 "$(pv_audit_log_file)" | jq 'has("bsig")')"

# --- 2. GET /fhir/AuditEvent?patient= ------------------------------------------
nlog=$(jq -s --arg p "$pid" '[.[] | select(.patient == $p)] | length' "$(pv_audit_log_file)")
ae=$(pcurl -H "$(auth "$P")" "$BASE/fhir/AuditEvent?patient=$pid&_count=200")
expect_eq "patient reads own access log" Bundle "$(jq -r .resourceType <<<"$ae")"
expect_eq "one AuditEvent per entry about the patient" "$nlog" "$(jq '.entry | length' <<<"$ae")"
who=$(jq -r '[.entry[].resource.agent[0].who.display] | unique | join(",")' <<<"$ae")
for u in drwho drno nurse1; do expect_contains "access log names $u" "$who" "$u"; done
expect_eq "break-glass and grant reads carry the reason" 4 \
  "$(jq --arg r "$BG_REASON" '[.entry[].resource | select(.purposeOfEvent[0].text == $r)] | length' <<<"$ae")"
expect_eq "the break-glass event itself" "drno" \
  "$(jq -r '.entry[].resource | select(.subtype[0].code == "break-glass" and .outcome == "0") | .agent[0].who.display' <<<"$ae")"
expect_eq "denied reads shown as failures" 2 \
  "$(jq '[.entry[].resource | select(.agent[0].who.display == "nurse1" and .outcome == "4" and .action == "R")] | length' <<<"$ae")"
expect_eq "every event is about this patient" 0 \
  "$(jq --arg r "Patient/$pid" '[.entry[].resource | select([.entity[].what.reference] | index($r) | not)] | length' <<<"$ae")"
expect_eq "events carry no resource bodies" 0 "$(grep -c "$CANARY glucose" <<<"$ae" || true)"
ae2=$(pcurl -H "$(auth "$A")" "$BASE/fhir/AuditEvent?patient=$pid&_count=200")
expect_eq "auditor sees the same events" "$(jq -c '[.entry[].resource.id]' <<<"$ae")" \
  "$(jq -c '[.entry[].resource.id][0:'"$(jq '.entry | length' <<<"$ae")"']' <<<"$ae2")"
for who_id in "$ID_P" "$ID_A"; do
  expect_eq "access-log query by account $who_id is itself audited" 1 \
    "$(jq -s --argjson a "$who_id" --arg p "$pid" '[.[] | select(.action == "audit.query" and .actor == $a and .patient == $p and .outcome == "allowed")] | length' "$(pv_audit_log_file)")"
done
expect_eq "nurse may not read the access log" 403 "$(http_status GET "/fhir/AuditEvent?patient=$pid" -H "$(auth "$N")")"
expect_eq "clinician may not read the access log" 403 "$(http_status GET "/fhir/AuditEvent?patient=$pid" -H "$(auth "$C")")"
expect_eq "patient may not read another patient's log" 403 "$(http_status GET "/fhir/AuditEvent?patient=$pid" -H "$(auth "$P2")")"
expect_eq "patient 2 reads own log" 200 "$(http_status GET "/fhir/AuditEvent?patient=$pid2" -H "$(auth "$P2")")"
expect_eq "patient asking for another patient's log is audited as denied" 1 \
  "$(jq -s --arg p "$pid" '[.[] | select(.action == "audit.query" and .patient == $p and .outcome == "denied" and .role == "patient")] | length' "$(pv_audit_log_file)")"

# --- 4. checkpoints and proofs, checked independently ----------------------------
expect_eq "checkpoint needs authentication" 401 "$(http_status GET /audit/checkpoint)"
cp1=$(pcurl -H "$(auth "$P")" "$BASE/audit/checkpoint")
S1=$(jq -r .size <<<"$cp1"); R1=$(jq -r .root <<<"$cp1")
expect_eq "checkpoint covers every entry so far" "$(wc -l <"$(pv_audit_log_file)")" "$S1"
expect_eq "checkpoint signature verifies with openssl" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$cp1")"
expect_eq "a changed size breaks the signature" "signature FAILED" \
  "$(jq -c '.size -= 1' <<<"$cp1" | python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" || true)"
expect_eq "independent Merkle root of the log equals the signed root" "$R1" "$(python3 "$MV" root "$(pv_audit_log_file)" "$S1")"
bg_idx=$(jq -s '[.[] | select(.action == "break-glass" and .outcome == "allowed")][0].seq' "$(pv_audit_log_file)")
for idx in 0 1 "$((S1 / 2))" "$bg_idx" "$((S1 - 2))" "$((S1 - 1))"; do
  pcurl -H "$(auth "$A")" "$BASE/audit/proof/inclusion?index=$idx&size=$S1" >"$T/proof"
  rc=0; python3 "$MV" inclusion --log "$(pv_audit_log_file)" --index "$idx" --size "$S1" --root "$R1" <"$T/proof" >/dev/null || rc=$?
  expect_eq "inclusion proof of entry $idx verifies" 0 "$rc"
done
pcurl -H "$(auth "$A")" "$BASE/audit/proof/inclusion?index=$bg_idx&size=$S1" >"$T/proof"
rc=0; python3 "$MV" inclusion --log "$(pv_audit_log_file)" --index "$bg_idx" --size "$S1" --root "$R1" --line "$((bg_idx + 1))" <"$T/proof" >/dev/null || rc=$?
expect_eq "wrong leaf is refused by the verifier" 1 "$rc"
rc=0; python3 "$MV" inclusion --log "$(pv_audit_log_file)" --index "$((bg_idx + 1))" --size "$S1" --root "$R1" --line "$bg_idx" <"$T/proof" >/dev/null || rc=$?
expect_eq "wrong index is refused by the verifier" 1 "$rc"
sed "$((bg_idx + 1))s/\"outcome\":\"allowed\"/\"outcome\":\"denied\"/" "$(pv_audit_log_file)" >"$T/edited.jsonl"
rc=0; python3 "$MV" inclusion --log "$T/edited.jsonl" --index "$bg_idx" --size "$S1" --root "$R1" <"$T/proof" >/dev/null || rc=$?
expect_eq "an edited entry is refused by the verifier" 1 "$rc"
expect_eq "proof beyond the log is refused" 400 \
  "$(http_status GET "/audit/proof/inclusion?index=$S1&size=$S1" -H "$(auth "$A")")"
expect_eq "proof needs authentication" 401 "$(http_status GET "/audit/proof/inclusion?index=0&size=1")"

# More activity, a second checkpoint, and a consistency proof between them.
for i in 1 2 3 4 5; do http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")" >/dev/null; done
cp2=$(pcurl -H "$(auth "$P")" "$BASE/audit/checkpoint")
S2=$(jq -r .size <<<"$cp2"); R2=$(jq -r .root <<<"$cp2")
expect_eq "second checkpoint grew by the five reads" "$((S1 + 5))" "$S2"
expect_eq "second checkpoint signature" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$cp2")"
pcurl -H "$(auth "$A")" "$BASE/audit/proof/consistency?from=$S1&to=$S2" >"$T/cproof"
rc=0; python3 "$MV" consistency --from "$S1" --to "$S2" --root-a "$R1" --root-b "$R2" <"$T/cproof" >/dev/null || rc=$?
expect_eq "consistency proof $S1 -> $S2 verifies" 0 "$rc"
rc=0; python3 "$MV" consistency --from "$S1" --to "$S2" --root-a "$R2" --root-b "$R1" <"$T/cproof" >/dev/null || rc=$?
expect_eq "consistency with the roots swapped is refused" 1 "$rc"
rc=0; python3 "$MV" consistency --from "$S1" --to "$S2" --root-a "$(python3 "$MV" root "$T/edited.jsonl" "$S1")" \
  --root-b "$R2" <"$T/cproof" >/dev/null || rc=$?
expect_eq "consistency from a rewritten history is refused" 1 "$rc"
pcurl -H "$(auth "$A")" "$BASE/audit/proof/consistency?from=1&to=$S2" >"$T/cproof"
rc=0; python3 "$MV" consistency --from 1 --to "$S2" --root-a "$(python3 "$MV" root "$(pv_audit_log_file)" 1)" --root-b "$R2" <"$T/cproof" >/dev/null || rc=$?
expect_eq "consistency proof 1 -> $S2 verifies" 0 "$rc"

# --- 5. fail closed: audit writes fail (fault injection) --------------------------
nobs=$(pcurl -H "$(auth "$C")" "$BASE/fhir/Observation?patient=$pid" | jq '.entry | length')
before=$(pv_audit_log | wc -l)
touch "$T/faults/audit_write"
# First request under the fault: the handler runs, its entry cannot be
# written, the response is replaced by a 503.
req POST /fhir/Observation "${J[@]}" -d "$obs" -H "$(auth "$C")"
expect_eq "create while the trail is unwritable: 503" 503 "$ST"
expect_not_contains "...no Location" "$(cat "$T/hdr")" "Location:"
expect_not_contains "...no PHI echoed" "$(cat "$T/body")" "$CANARY"
for i in 1 2; do
  req GET "/fhir/Patient/$pid" -H "$(auth "$C")"
  expect_eq "read while the trail is unwritable ($i): 503" 503 "$ST"
  expect_eq "...with an OperationOutcome" OperationOutcome "$(jq -r .resourceType "$T/body")"
  expect_not_contains "...and no PHI" "$(cat "$T/body")" "$CANARY"
  expect_not_contains "...and no ETag" "$(cat "$T/hdr")" "ETag"
done
expect_eq "nothing reached the log during the fault" "$before" "$(pv_audit_log | wc -l)"
expect_contains "the failure is logged" "$(cat "$T/serve.log")" '"event":"audit_write_failed"'
rm -f "$T/faults/audit_write"
ok=0
for i in 1 2 3 4 5; do
  req GET "/fhir/Patient/$pid" -H "$(auth "$C")"
  if [ "$ST" == 200 ]; then ok=$i; break; fi
  sleep 0.2
done
[ "$ok" -ge 1 ] && pass "reads work again once the trail is writable (attempt $ok)" \
  || fail "reads still refused after the fault was removed"
expect_contains "...and serve the record" "$(cat "$T/body")" "$CANARY"
expect_eq "the served read is audited" 1 "$(entry_of "$RID" | jq -r 'select(.outcome == "allowed") | 1')"
expect_eq "a refused create stored nothing (no unaudited write)" "$nobs" \
  "$(pcurl -H "$(auth "$C")" "$BASE/fhir/Observation?patient=$pid" | jq '.entry | length')"

# --- 7. CLI: export and checkpoint ------------------------------------------------
"$PHIVAULT" audit export "$VAULT" >"$T/export.jsonl" 2>"$T/export.err"
expect_eq "export: one line per entry" "$(wc -l <"$(pv_audit_log_file)")" "$(wc -l <"$T/export.jsonl")"
expect_contains "export summary" "$(cat "$T/export.err")" "exported $(wc -l <"$(pv_audit_log_file)") entries"
expect_eq "export jsonl equals the entries" "$(jq -c . "$(pv_audit_log_file)" | sha256sum)" "$(jq -c . "$T/export.jsonl" | sha256sum)"
"$PHIVAULT" audit export "$VAULT" --format fhir >"$T/export.fhir" 2>/dev/null
expect_eq "fhir export: one AuditEvent per entry" "$(wc -l <"$(pv_audit_log_file)")" \
  "$(jq -c 'select(.resourceType == "AuditEvent" and (.agent | length) == 1 and .recorded != null and (.outcome | test("^(0|4|8)$")))' "$T/export.fhir" | wc -l)"
expect_eq "fhir export names actors" "drno" \
  "$(jq -r 'select(.subtype[0].code == "break-glass" and .outcome == "0") | .agent[0].who.display' "$T/export.fhir")"
expect_eq "fhir export keeps the break-glass reason" "$BG_REASON" \
  "$(jq -r 'select(.subtype[0].code == "break-glass" and .outcome == "0") | .purposeOfEvent[0].text' "$T/export.fhir")"
rc=0; "$PHIVAULT" audit export "$VAULT" --format xml >/dev/null 2>&1 || rc=$?
expect_eq "unknown export format is a usage error" 2 "$rc"
head_json=$("$PHIVAULT" audit checkpoint "$VAULT" | jq -c .)
expect_eq "cli checkpoint covers the log" "$(wc -l <"$(pv_audit_log_file)")" "$(jq -r .size <<<"$head_json")"
expect_eq "cli checkpoint prints the vault's public key" "$(base64 -w0 <"$VAULT/keys/audit-signing.pub")" \
  "$(jq -r .public_key <<<"$head_json")"
expect_eq "cli checkpoint signature verifies with openssl" "signature OK" \
  "$(python3 "$MV" checkpoint --pub-b64 "$(jq -r .public_key <<<"$head_json")" <<<"$head_json")"
expect_eq "cli checkpoint root matches the log" "$(jq -r .root <<<"$head_json")" \
  "$(python3 "$MV" root "$(pv_audit_log_file)" "$(jq -r .size <<<"$head_json")")"
rc=0; "$PHIVAULT" audit verify "$VAULT" >"$T/verify.out" || rc=$?
expect_eq "the whole trail verifies" 0 "$rc"

# --- 5b. a genuinely full disk (tmpfs), when the sandbox allows mounting ----------
pv_stop
expect_eq "clean stop" 0 "$PV_RC"
if pv_is_pg; then
  pv_skip "full audit disk (tmpfs under \$VAULT/audit)" \
    "the trail is in the database; a full database disk is the cluster's, not the vault directory's"
elif cp -a "$VAULT/audit" "$T/audit.bak" &&
  mount -t tmpfs -o size=256k,mode=0700 tmpfs "$VAULT/audit" 2>/dev/null; then
  LOG=$VAULT/audit/log.jsonl
  MNT=$VAULT/audit
  cp -a "$T/audit.bak/." "$VAULT/audit/"
  pv_start
  C=$(login drwho "$CPW")
  expect_eq "read works on the small audit disk" 200 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")")"
  # Steer the layout: read until the next checkpoint line no longer fits
  # in the last page of checkpoints.jsonl while the next log line still
  # fits in log.jsonl's. The full disk then tears a checkpoint write —
  # which must be cut back, not left half-written for good.
  CPS=$MNT/checkpoints.jsonl
  steered=0
  for i in $(seq 1 150); do
    lr=$(( (4096 - $(stat -c %s "$LOG") % 4096) % 4096 ))
    cr=$(( (4096 - $(stat -c %s "$CPS") % 4096) % 4096 ))
    if [ "$cr" -gt 0 ] && [ "$cr" -lt 200 ] && [ "$lr" -ge 600 ]; then steered=1; break; fi
    http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")" >/dev/null
  done
  dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null || true
  if [ "$steered" -eq 1 ]; then
    expect_eq "full disk, log page not yet full: read still served" 200 \
      "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")")"
    if jq -c . "$CPS" >/dev/null 2>&1; then pass "full disk: no half-written checkpoint left behind"
    else fail "full disk: checkpoints.jsonl holds a torn line"; fi
  else
    echo "note: could not steer the page layout; torn-checkpoint check not exercised"
  fi
  got=""
  for i in $(seq 1 40); do
    req GET "/fhir/Patient/$pid" -H "$(auth "$C")"
    if [ "$ST" == 503 ]; then got=$i; break; fi
  done
  [ -n "$got" ] && pass "full disk: PHI read refused with 503 (after $got reads filled the last page)" \
    || fail "full disk: reads never refused"
  expect_not_contains "full disk: no PHI in the refusal" "$(cat "$T/body")" "$CANARY"
  expect_eq "full disk: the next read is refused too" 503 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")")"
  rm -f "$MNT/fill"
  ok=0
  for i in 1 2 3 4 5; do
    if [ "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")")" == 200 ]; then ok=$i; break; fi
    sleep 0.2
  done
  [ "$ok" -ge 1 ] && pass "space freed: reads work again" || fail "space freed: still refused"
  pv_stop
  if jq -c . "$CPS" >/dev/null 2>&1; then pass "every checkpoint line parses after the episode"
  else fail "checkpoints.jsonl damaged by the full disk"; fi
  rc=0; "$PHIVAULT" audit verify "$VAULT" >"$T/verify.out" 2>&1 || rc=$?
  expect_eq "trail verifies after the disk-full episode" 0 "$rc"
  [ "$rc" -eq 0 ] || cat "$T/verify.out" >&2
  umount "$MNT" && MNT=""
else
  echo "skip: cannot mount a tmpfs here; the full-disk check is skipped"
fi
