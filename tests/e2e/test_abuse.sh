#!/usr/bin/env bash
# Abuse defences: rate limits (429 + Retry-After, recovery), the input
# firewall, every detection rule reaching the alert file and a webhook,
# and the incident report.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
RAW="$PV_SOURCE_DIR/tests/e2e/tools/rawtls.py"
pv_conf auth mfa_required_roles admin
pv_conf ratelimit login_per_minute 600
pv_conf ratelimit login_burst 30
pv_conf alerts stuffing_accounts 4
pv_conf alerts snoop_patients 3
pv_conf auth ip_lockout_threshold 1000
pv_user doc clinician "Clinician-pass-1234"
pv_user snoop clinician "Clinician-pass-5678"
pv_webhook_start
pv_conf alerts webhook "$HOOK_URL"
pv_start

# --- input firewall --------------------------------------------------------
fw() { # fw NAME RAWREQUEST EXPECTED-STATUS-LINE
  printf "$2" >"$T/fw.req"
  out=$(python3 "$RAW" "$PORT" "$VAULT/tls/cert.pem" send "$T/fw.req" | head -n1 | tr -d '\r')
  expect_contains "firewall: $1" "$out" "$3"
}
fw "escaped NUL" 'GET /fhir/Patient/a%%00b HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "invalid UTF-8 in path" 'GET /fhir/Patient/%%ff%%fe HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "invalid UTF-8 in query" 'GET /fhir/Observation?patient=%%c3%%28 HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "path traversal" 'GET /fhir/../healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "encoded traversal" 'GET /fhir/%%2e%%2e/healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "encoded slash" 'GET /fhir/Patient%%2fx HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "bad escape" 'GET /fhir/Patient/%%zz HTTP/1.1\r\nHost: localhost\r\n\r\n' "400"
fw "duplicate Content-Length" 'POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}' "400"
fw "Content-Length with Transfer-Encoding" 'POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}' "400"
hdrs=""; for i in $(seq 1 70); do hdrs="${hdrs}X-H$i: v\r\n"; done
fw "too many headers" "GET /healthz HTTP/1.1\r\nHost: localhost\r\n${hdrs}\r\n" "431"
fw "unknown method" 'PATCH /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' "405"
expect_eq "clean request passes" 200 "$(http_status GET /healthz)"
expect_contains "rejections counted" "$(pcurl "$BASE/metrics")" "phivault_firewall_rejected_total"

# --- detection rules ------------------------------------------------------------
# brute force: lockout of one account
for i in 1 2 3 4 5; do login doc "Wrong-password-$i" >/dev/null; done
wait_for_line "$VAULT/alerts.jsonl" '"rule":"brute_force"' 5 && pass "brute force alert" || fail "no brute force alert"
"$PHIVAULT" user unlock "$VAULT" --name doc >/dev/null
sleep 1
# credential stuffing: many accounts from one address
for i in 1 2 3 4; do login "victim$i" "Wrong-password-$i" >/dev/null; done
wait_for_line "$VAULT/alerts.jsonl" '"rule":"credential_stuffing"' 5 && pass "credential stuffing alert" || fail "no stuffing alert"
sleep 1
# snooping: one actor reaching many distinct patients
tok=$(login doc "Clinician-pass-1234")
pids=()
for i in 1 2 3 4; do
  pids+=("$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"female"}' -H "$(auth "$tok")" | jq -r .id)")
done
sleep 1
for p in "${pids[@]}"; do pcurl -o /dev/null -H "$(auth "$tok")" "$BASE/fhir/Patient/$p"; done
wait_for_line "$VAULT/alerts.jsonl" '"rule":"snooping"' 5 && pass "snooping alert" || fail "no snooping alert"
# break-glass by another clinician
s=$(login snoop "Clinician-pass-5678")
expect_eq "break-glass" 201 "$(http_status POST "/fhir/Patient/${pids[0]}/\$break-glass" -H "$(auth "$s")" \
  -H 'Content-Type: application/json' -d '{"reason":"unconscious patient in ER"}')"
wait_for_line "$VAULT/alerts.jsonl" '"rule":"break_glass"' 5 && pass "break-glass alert" || fail "no break-glass alert"
expect_not_contains "alerts carry no reason text (PHI)" "$(cat "$VAULT/alerts.jsonl")" "unconscious"
sleep 1
pcurl -o /dev/null -H "$(auth "$s")" "$BASE/fhir/Patient/${pids[0]}"

# --- incident report: whose data did 'snoop' touch? -------------------------
out=$("$PHIVAULT" incident report "$VAULT" --actor snoop --since 2000-01-01 --json)
expect_eq "incident report lists the patient reached" "${pids[0]}" \
  "$(jq -r '[.patients[] | select(.data_reached)] | .[0].patient' <<<"$out")"
expect_eq "only that one patient" 1 "$(jq '[.patients[] | select(.data_reached)] | length' <<<"$out")"
out=$("$PHIVAULT" incident report "$VAULT" --actor doc --since 2000-01-01 --json)
expect_eq "doc touched the 4 patients it created" 4 "$(jq '[.patients[] | select(.data_reached)] | length' <<<"$out")"
out=$("$PHIVAULT" incident report "$VAULT" --actor doc --since 2000-01-01 --until 2000-01-02 --json)
expect_eq "window excludes everything" 0 "$(jq '.patients | length' <<<"$out")"
rc=0; "$PHIVAULT" incident report "$VAULT" --actor doc --since yesterday >/dev/null 2>&1 || rc=$?
expect_eq "bad time is a usage error" 2 "$rc"

# --- decrypt failure: swap two sealed rows --------------------------------------
pv_stop
a=${pids[1]}; b=${pids[2]}
pv_sql records "UPDATE resources SET sealed = (SELECT sealed FROM resources WHERE id='$b' LIMIT 1) WHERE id='$a';"
pv_start
expect_eq "tampered row fails closed" 500 "$(http_status GET "/fhir/Patient/$a" -H "$(auth "$tok")")"
wait_for_line "$VAULT/alerts.jsonl" '"rule":"decrypt_failure"' 5 && pass "decrypt failure alert" || fail "no decrypt alert"

# --- rate limits: 429 with Retry-After, then recovery ---------------------
pv_stop
pv_conf ratelimit ip_rate 5
pv_conf ratelimit ip_burst 5
pv_start
hdr=""
for i in $(seq 1 30); do
  hdr=$(pcurl -D - -o "$T/rl.body" "$BASE/healthz" | tr -d '\r')
  grep -q "^HTTP/1.1 429" <<<"$hdr" && break
done
expect_contains "burst past the address limit gets 429" "$hdr" "HTTP/1.1 429"
expect_contains "429 carries Retry-After" "$hdr" "Retry-After: "
expect_eq "429 is an OperationOutcome" rate_limited \
  "$(jq -r '.issue[0].details.coding[0].code' "$T/rl.body")"
sleep 1.5
expect_eq "recovers after the wait" 200 "$(http_status GET /healthz)"

# --- audit-verify failure raises an alert from the CLI ---------------------
pv_stop
# Entry 2 edited: the file with sed, the audit_log row with UPDATE (lib.sh).
pv_audit_edit "$VAULT" 2 's/"outcome":"[a-z]*"/"outcome":"allowed"/; s/"actor":[0-9]*/"actor":999/'
expect_eq "the entry was edited" "allowed 999" \
  "$(pv_audit_log | sed -n 3p | jq -r '"\(.outcome) \(.actor)"')"
rc=0; "$PHIVAULT" audit verify "$VAULT" >/dev/null || rc=$?
expect_eq "tampered trail fails verify" 1 "$rc"
rc=0; out=$("$PHIVAULT" compliance "$VAULT" --json) || rc=$?
expect_eq "compliance check fails on a tampered trail" 1 "$rc"
expect_eq "the failing check is the audit trail" fail \
  "$(jq -r '.checks[] | select(.check=="audit_trail") | .status' <<<"$out")"
expect_contains "audit-verify failure alert" "$(cat "$VAULT/alerts.jsonl")" '"rule":"audit_verify_failed"'

# --- every rule reached the webhook as well --------------------------------------
for rule in brute_force credential_stuffing snooping break_glass decrypt_failure audit_verify_failed; do
  wait_for_line "$HOOK_OUT" "\"rule\":\"$rule\"" 10 && pass "webhook got $rule" || fail "webhook missed $rule"
done
kill "$HOOK_PID" 2>/dev/null || true
