#!/usr/bin/env bash
# RFC 9421 signed requests from service clients, signed by the npm package
# http-message-signatures: acceptance, replay (also across a restart),
# stale/future created, changed body, changed path, unknown/disabled key,
# SMART scopes narrowing access.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
pv_conf auth mfa_required_roles admin
pv_user doc clinician "Clinician-pass-1234"
pv_webhook_start
pv_conf alerts webhook "$HOOK_URL"
node_clients
pv_start

# --- data to read: a patient with an observation, made by a clinician ----
tok=$(login doc "Clinician-pass-1234")
pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"other"}' -H "$(auth "$tok")" | jq -r .id)
obs=$(jpost /fhir/Observation "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/$pid\"}}" -H "$(auth "$tok")" | jq -r .id)
other=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"male"}' -H "$(auth "$tok")" | jq -r .id)
expect_ne "fixtures created" "" "$obs"

# --- registration ------------------------------------------------------------
kid=$(new_client labsys "system/Observation.crs system/Patient.rs")
expect_eq "client add prints a key id alone" 32 "${#kid}"
rc=0; printf 'not-base64!\n' | "$PHIVAULT" client add "$VAULT" --name bad --scopes "system/*.r" 2>/dev/null || rc=$?
expect_eq "bad public key is a usage error" 2 "$rc"
rc=0; openssl pkey -in "$T/labsys.pem" -pubout -outform DER | tail -c 32 | base64 |
  "$PHIVAULT" client add "$VAULT" --name bad2 --scopes "system/Observation.rsx" >/dev/null 2>&1 || rc=$?
expect_eq "malformed scope refused" 2 "$rc"

# --- a signed request succeeds; the identical bytes again are refused -----
h=$(signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
out=$(scurl "$h" GET "/fhir/Observation/$obs" -w '\n%{http_code}')
expect_eq "npm-signed read accepted" 200 "$(tail -n1 <<<"$out")"
expect_eq "right resource" "$obs" "$(head -n1 <<<"$out" | jq -r .id)"
out=$(scurl "$h" GET "/fhir/Observation/$obs" -w '\n%{http_code}')
expect_eq "byte-identical replay refused" 401 "$(tail -n1 <<<"$out")"
expect_eq "replay named" replayed_nonce "$(head -n1 <<<"$out" | jq -r '.issue[0].details.coding[0].code')"

# --- signed write with a body (content-digest) ---------------------------
printf '{"resourceType":"Observation","status":"final","code":{"text":"lab"},"subject":{"reference":"Patient/%s"}}' "$pid" >"$T/body.json"
h=$(signed_headers POST /fhir/Observation "$kid" "$T/labsys.pem" "$T/body.json")
expect_eq "signed create accepted" 201 "$(scurl "$h" POST /fhir/Observation --data-binary @"$T/body.json" -o /dev/null -w '%{http_code}')"
h=$(signed_headers POST /fhir/Observation "$kid" "$T/labsys.pem" "$T/body.json")
sed 's/"lab"/"LAB"/' "$T/body.json" >"$T/body2.json"
out=$(scurl "$h" POST /fhir/Observation --data-binary @"$T/body2.json" -w '\n%{http_code}')
expect_eq "changed body refused" 401 "$(tail -n1 <<<"$out")"
expect_eq "digest mismatch named" digest_mismatch "$(head -n1 <<<"$out" | jq -r '.issue[0].details.coding[0].code')"
# Its nonce was spent, so its entry is written on its own with the
# nonce (never folded into an aggregate): a restart must remember it.
h=$(signed_headers POST /fhir/Observation "$kid" "$T/labsys.pem" "$T/body.json")
scurl "$h" POST /fhir/Observation --data-binary @"$T/body2.json" -o /dev/null
expect_eq "two digest mismatches, each audited singly with its nonce" 2 \
  "$(jq -s '[.[] | select(.reason == "digest_mismatch" and .nonce != "" and .count == null)] | length' \
     "$(pv_audit_log_file)")"

# --- stale, future, changed path, unknown key ------------------------------
now=$(date +%s)
h=$(SIG_CREATED=$((now - 1000)) signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
out=$(scurl "$h" GET "/fhir/Observation/$obs" -w '\n%{http_code}')
expect_eq "old created refused" 401 "$(tail -n1 <<<"$out")"
expect_eq "old created named" signature_too_old "$(head -n1 <<<"$out" | jq -r '.issue[0].details.coding[0].code')"
h=$(SIG_CREATED=$((now + 1000)) signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
expect_eq "future created refused" 401 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
h=$(signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
out=$(scurl "$h" GET "/fhir/Patient/$pid" -w '\n%{http_code}')
expect_eq "changed path refused" 401 "$(tail -n1 <<<"$out")"
expect_eq "changed path: bad signature" bad_signature "$(head -n1 <<<"$out" | jq -r '.issue[0].details.coding[0].code')"
h=$(signed_headers GET "/fhir/Observation/$obs" "0123456789abcdef0123456789abcdef" "$T/labsys.pem")
expect_eq "unknown key refused" 401 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
h=$(signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
expect_eq "signature plus bearer is ambiguous" 401 "$(scurl "$h" GET "/fhir/Observation/$obs" -H "$(auth "$tok")" -o /dev/null -w '%{http_code}')"

# --- scopes narrow the role -------------------------------------------------
h=$(signed_headers DELETE "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
expect_eq "no d in scopes: delete refused" 403 "$(scurl "$h" DELETE "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
h=$(signed_headers GET "/fhir/Encounter?patient=$pid" "$kid" "$T/labsys.pem")
expect_eq "type not in scopes refused" 403 "$(scurl "$h" GET "/fhir/Encounter?patient=$pid" -o /dev/null -w '%{http_code}')"
pkid=$(new_client ward "patient/Observation.rs")
h=$(signed_headers GET "/fhir/Observation/$obs" "$pkid" "$T/ward.pem")
expect_eq "patient/ scope: not on care team refused" 403 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
"$PHIVAULT" careteam add "$VAULT" --user ward --patient "$pid" >/dev/null
h=$(signed_headers GET "/fhir/Observation/$obs" "$pkid" "$T/ward.pem")
expect_eq "patient/ scope: on care team allowed" 200 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
h=$(signed_headers GET "/fhir/Observation?patient=$other" "$pkid" "$T/ward.pem")
expect_eq "patient/ scope: other patient refused" 403 "$(scurl "$h" GET "/fhir/Observation?patient=$other" -o /dev/null -w '%{http_code}')"

# --- disabled client ----------------------------------------------------------
"$PHIVAULT" user disable "$VAULT" --name ward >/dev/null
h=$(signed_headers GET "/fhir/Observation/$obs" "$pkid" "$T/ward.pem")
expect_eq "disabled client refused" 401 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"

# --- replay after a restart is still refused --------------------------------
# Same port after the restart: @target-uri must still match, so the
# refusal can only come from the nonce (a new port fails the signature).
detail() { jq -r '.issue[0].details.coding[0].code' "$T/body"; }
h=$(signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
expect_eq "fresh request accepted" 200 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
PV_PORT=$PORT
pv_stop
pv_start
expect_eq "replay after restart refused" 401 "$(scurl "$h" GET "/fhir/Observation/$obs" -o "$T/body" -w '%{http_code}')"
expect_eq "refused as a replayed nonce" replayed_nonce "$(detail)"
expect_contains "nonces reloaded from the audit trail" "$(cat "$T/serve.log")" '"event":"nonces_reloaded"'

# --- outside review, finding 2: future skew and the reload bound ----------
# created far ahead of the clock used to be accepted and outlive the
# reload (kept for the entry's time + window only): now a few seconds of
# future skew are all that is accepted.
h=$(SIG_CREATED=$(( $(date +%s) + 290 )) signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
expect_eq "created now+290 s: refused" 401 "$(scurl "$h" GET "/fhir/Observation/$obs" -o "$T/body" -w '%{http_code}')"
expect_eq "created now+290 s: signature_in_future" signature_in_future "$(detail)"
# With a 10 s window, a request created 4 s ahead (inside the 5 s skew) is
# valid until created + 10; a restart must remember its nonce that long,
# not just until the entry's time + 10.
pv_stop
pv_conf signature replay_window 10s
pv_start
t0=$(date +%s)
h=$(SIG_CREATED=$(( t0 + 4 )) signed_headers GET "/fhir/Observation/$obs" "$kid" "$T/labsys.pem")
expect_eq "created now+4 s: accepted" 200 "$(scurl "$h" GET "/fhir/Observation/$obs" -o /dev/null -w '%{http_code}')"
pv_stop
pv_start
while [ "$(date +%s)" -le $(( t0 + 11 )) ]; do sleep 0.2; done
expect_eq "replay after restart, past entry time + window: refused" 401 \
  "$(scurl "$h" GET "/fhir/Observation/$obs" -o "$T/body" -w '%{http_code}')"
expect_eq "still refused as a replayed nonce" replayed_nonce "$(detail)"
unset PV_PORT

# --- alerts: replay and forgery reach the file and the webhook -------------
wait_for_line "$HOOK_OUT" '"rule":"replay"' 10 && pass "replay alert reached the webhook" || fail "no replay alert at the webhook"
expect_contains "replay alert in the file sink" "$(cat "$VAULT/alerts.jsonl")" '"rule":"replay"'
expect_contains "forgery alert in the file sink" "$(cat "$VAULT/alerts.jsonl")" '"rule":"forged_signature"'
m=$(pcurl "$BASE/metrics")
expect_contains "rejections counted" "$m" "phivault_signature_rejected_total"
kill "$HOOK_PID" 2>/dev/null || true
