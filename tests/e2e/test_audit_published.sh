#!/usr/bin/env bash
# test_audit_published.sh — checkpoints kept outside the trail (the outside
# attack on issue 15, finding 1): someone who can write the trail's storage
# cuts the end off the log together with its checkpoints and resume state.
# The trail alone then still verifies; a checkpoint published before the cut
# (`audit verify --checkpoint FILE`) and, on PostgreSQL, the node's own anchor
# (DIR/audit/anchor.json) catch it, and the node refuses to start.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
pv_conf auth mfa_required_roles admin
pv_user drwho clinician "Clinic1an-secret-pw"
pv_start
C=$(login drwho "Clinic1an-secret-pw")
pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"male"}' -H "$(auth "$C")" | jq -r '.id // empty')
expect_ne "patient created" "" "$pid"
for i in 1 2 3; do http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")" >/dev/null; done
pv_stop
K=$(pv_audit_log | wc -l) # the entries before the publication
"$PHIVAULT" audit checkpoint "$VAULT" >"$T/published.json"
expect_eq "published checkpoint covers the trail" "$K" "$(jq -r .size "$T/published.json")"
pv_start
for i in 1 2 3 4; do http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")" >/dev/null; done
pv_stop
N=$(pv_audit_log | wc -l)

rc=0; "$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/published.json" >"$T/v.out" 2>&1 || rc=$?
expect_eq "an intact trail verifies against the published checkpoint" 0 "$rc"
rc=0; "$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/nothing.json" >/dev/null 2>&1 || rc=$?
expect_eq "a missing checkpoint file is a usage error" 2 "$rc"
echo '{"size":1}' >"$T/bad.json"
rc=0; out=$("$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/bad.json" 2>&1) || rc=$?
expect_eq "an unparsable checkpoint file fails" 1 "$rc"
expect_contains "… named as such" "$out" "checkpoint_corrupt"
jq -c '.root = "'"$(head -c 32 /dev/urandom | base64)"'"' "$T/published.json" >"$T/forged.json"
rc=0; out=$("$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/forged.json" 2>&1) || rc=$?
expect_eq "a forged published checkpoint fails" 1 "$rc"
expect_contains "… as resigned" "$out" "(resigned)"

# --- the cut: log, checkpoints and state back to the first C entries ----------
# C: the last batch-signed entry at or before K-2, so the trail alone is a
# valid, shorter trail.
# (the whole trail first: head closing the pipe early would fail psql)
pv_audit_log >"$T/trail.jsonl"
C=$(head -n $((K - 2)) "$T/trail.jsonl" | grep -n '"bsig"' | tail -n 1 | cut -d: -f1)
expect_ne "a signed line to cut back to" "" "$C"
if pv_is_pg; then
  pv_sql records "BEGIN; DELETE FROM audit_log WHERE seq >= $C;
    DELETE FROM audit_checkpoints WHERE (line::jsonb->>'size')::bigint > $C;
    DELETE FROM audit_state; COMMIT;" >/dev/null
else
  head -n "$C" "$VAULT/audit/log.jsonl" >"$T/log.cut"
  cat "$T/log.cut" >"$VAULT/audit/log.jsonl"
  jq -c "select(.size <= $C)" "$VAULT/audit/checkpoints.jsonl" >"$T/cp.cut" || true
  cat "$T/cp.cut" >"$VAULT/audit/checkpoints.jsonl"
  rm -f "$VAULT/audit/state" "$VAULT/audit/index"*
fi
expect_eq "the trail was cut to $C of $N entries" "$C" "$(pv_audit_log | wc -l)"

rc=0; out=$("$PHIVAULT" audit verify "$VAULT" --checkpoint "$T/published.json" 2>&1) || rc=$?
expect_eq "the cut trail fails against the published checkpoint" 1 "$rc"
expect_contains "… as truncated" "$out" "(truncated)"
if pv_is_pg; then
  expect_eq "the node keeps an anchor" 600 "$(stat -c %a "$VAULT/audit/anchor.json")"
  rc=0; out=$("$PHIVAULT" audit verify "$VAULT" 2>&1) || rc=$?
  expect_eq "on PostgreSQL the node's anchor alone catches the cut" 1 "$rc"
  expect_contains "… as truncated" "$out" "(truncated)"
  : >"$T/serve.log"
  rc=0; timeout 20 "$PHIVAULT" serve "$VAULT" --listen 127.0.0.1:0 2>"$T/serve.log" || rc=$?
  expect_ne "the node refuses to start on the cut trail" 0 "$rc"
  expect_eq "… and never listened" 0 "$(grep -c '"event":"listening"' "$T/serve.log" || true)"
  rc=0; printf 'Nurse-secret-pw-01\n' | "$PHIVAULT" user add "$VAULT" --name nurse1 --role nurse >/dev/null 2>&1 || rc=$?
  expect_ne "… nor does a CLI writer append to it" 0 "$rc"
else
  # Files: the anchor would sit beside the log it guards; the published
  # checkpoint is the control (SECURITY.md §13).
  rc=0; "$PHIVAULT" audit verify "$VAULT" >/dev/null 2>&1 || rc=$?
  expect_eq "on files the cut trail alone still verifies (documented limit)" 0 "$rc"
fi

# --- a cut under a running node (PostgreSQL) ---------------------------------
# The operator accepts the cut trail (removes the anchor); the node starts on
# it. Cut again while it runs: every later request fails closed (503), also
# after the writer re-reads the trail, and the trail is not re-anchored.
if pv_is_pg; then
  rm -f "$VAULT/audit/anchor.json"
  pv_start
  C=$(login drwho "Clinic1an-secret-pw")
  for i in 1 2 3; do http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")" >/dev/null; done
  expect_eq "the node serves on the accepted trail" 200 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")")"
  n1=$(pv_audit_log | wc -l)
  pv_audit_log >"$T/trail.jsonl"
  cut=$(head -n $((n1 - 3)) "$T/trail.jsonl" | grep -n '"bsig"' | tail -n 1 | cut -d: -f1)
  pv_sql records "BEGIN; DELETE FROM audit_log WHERE seq >= $cut;
    DELETE FROM audit_checkpoints WHERE (line::jsonb->>'size')::bigint > $cut;
    DELETE FROM audit_state; COMMIT;" >/dev/null
  codes=""
  for i in 1 2 3 4; do codes="$codes $(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C")")"; done
  expect_eq "after a cut under it the node refuses every request" " 503 503 503 503" "$codes"
  expect_eq "… and wrote nothing on the cut trail" "$cut" "$(pv_audit_log | wc -l)"
  grep -q '"event":"audit_trail_cut"' "$T/serve.log" && pass "… logged as audit_trail_cut" ||
    fail "no audit_trail_cut in the server log"
  pv_stop
fi
