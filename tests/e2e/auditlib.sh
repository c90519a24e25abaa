# tests/e2e/auditlib.sh — helpers the audit-tampering tests share
# (test_audit_tamper.sh, test_audit_rewrite.sh). Source after lib.sh.

# copy_vault NAME — a copy of $VAULT in $T/NAME to tamper with.
copy_vault() { rm -rf "$T/$1"; cp -a "$VAULT" "$T/$1"; }

# verify_case NAME DIR EXPECTED_ENTRY EXPECTED_PROBLEM [verify args...]
# — `audit verify` must exit 1 naming that entry and problem.
verify_case() {
  local rc=0 out
  out=$("$PHIVAULT" audit verify "$2" "${@:5}" 2>&1) || rc=$?
  expect_eq "$1: verify exit 1" 1 "$rc"
  expect_eq "$1: verify names entry $3" "$3" \
    "$(sed -nE 's/.*FAILED at entry ([0-9]+).*/\1/p' <<<"$out")"
  expect_contains "$1: verify says $4" "$out" "($4)"
}

# serve_refuses NAME DIR [LOG_TEXT] — the server must exit non-zero
# without listening, its log naming LOG_TEXT (default: audit).
serve_refuses() {
  local pid i rc=0 log="$T/refuse.log"
  : >"$log"
  "$PHIVAULT" serve "$2" --listen 127.0.0.1:0 2>"$log" &
  pid=$!
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    grep -q '"event":"listening"' "$log" && break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    fail "$1: server started on a tampered trail"
    return
  fi
  wait "$pid" || rc=$?
  expect_ne "$1: server refuses to start" 0 "$rc"
  expect_contains "$1: start-up error names ${3:-the audit log}" "$(cat "$log")" "${3:-audit}"
}

# audit_fixture — a vault whose trail mixes allowed and denied reads of
# one patient, one group commit each (the requests are sequential, so one
# batch signature and one signed checkpoint per entry); the server is
# stopped afterwards. Sets CPW, pid, LOG, CPS and L (entries).
audit_fixture() {
  local c n i
  pv_init
  pv_conf auth mfa_required_roles admin
  CPW="Clinic1an-secret-pw"
  pv_user drwho clinician "$CPW"
  pv_user nurse1 nurse "Nurse-secret-pw-01"
  pv_start
  c=$(login drwho "$CPW")
  n=$(login nurse1 "Nurse-secret-pw-01")
  pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"female"}' -H "$(auth "$c")" | jq -r '.id // empty')
  expect_ne "patient created" "" "$pid"
  for i in 1 2 3 4 5 6; do
    http_status GET "/fhir/Patient/$pid" -H "$(auth "$c")" >/dev/null
    http_status GET "/fhir/Patient/$pid" -H "$(auth "$n")" >/dev/null
  done
  pv_stop
  LOG=$VAULT/audit/log.jsonl
  CPS=$VAULT/audit/checkpoints.jsonl
  L=$(wc -l <"$LOG")
}
