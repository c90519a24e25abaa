#!/usr/bin/env bash
# Audit trail, offline: `phivault audit verify` names the exact entry that
# was changed, removed, reordered, truncated or rewritten-and-re-signed, or
# whose checkpoint was forged;
# the server refuses to start on a tampered trail; and after kill -9 under
# write load every acknowledged request is in the log and it verifies.
# The tampering and the cross-checks use tools/merkle_verify.py and
# tools/audit_forge.py (python3 stdlib + openssl), never phivault code.
# On PostgreSQL the same edits are made to the audit_log and
# audit_checkpoints tables with SQL (lib.sh pv_audit_*, auditlib.sh
# tamper_*); a torn final line has no PostgreSQL equivalent (rows are
# whole lines, committed or not) and is skipped there.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/auditlib.sh"
pv_setup
MV="$PV_SOURCE_DIR/tests/e2e/tools/merkle_verify.py"
FORGE="$PV_SOURCE_DIR/tests/e2e/tools/audit_forge.py"
audit_fixture
expect_eq "server stops cleanly" 0 "$PV_RC"

# --- an untouched trail verifies ------------------------------------------
rc=0; out=$("$PHIVAULT" audit verify "$VAULT") || rc=$?
expect_eq "untouched trail: verify exit 0" 0 "$rc"
expect_contains "untouched trail: summary counts every entry" "$out" "audit trail OK: $L entries"
expect_eq "independent chain check agrees" "chain OK" "$(python3 "$MV" chain "$LOG")"
last_cp=$(tail -n1 "$CPS")
expect_eq "last checkpoint covers the whole log" "$L" "$(jq .size <<<"$last_cp")"
expect_eq "independent Merkle root equals the signed root" "$(jq -r .root <<<"$last_cp")" \
  "$(python3 "$MV" root "$LOG" "$L")"
expect_eq "independent signature check of the last checkpoint" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$last_cp")"

# The denied entry to tamper with: one in the middle of the log.
k=$(jq -s '[.[] | select(.outcome == "denied")] | .[2].seq' "$LOG")
[ "$k" -gt 2 ] && [ "$k" -lt $((L - 3)) ] && pass "entry $k is a denied entry mid-log" \
  || fail "no denied entry mid-log (k=$k, L=$L)"
expect_eq "a signed checkpoint ends exactly before entry $k" 1 \
  "$(jq -s --argjson k "$k" '[.[] | select(.size == $k)] | length' "$CPS")"

# --- (a) one field of entry k changed (denied -> allowed), valid JSON ---
tamper_copy a
pv_audit_edit "$TDIR" "$k" 's/"outcome":"denied"/"outcome":"allowed"/'
expect_eq "(a) the edit happened" allowed "$(pv_audit_log "$TDIR" | sed -n "$((k + 1))p" | jq -r .outcome)"
pv_audit_log "$TDIR" | jq -e . >/dev/null && pass "(a) every line is still JSON" || fail "(a) broke JSON"
verify_case "(a) field changed" "$TDIR" "$k" changed
expect_eq "(a) independent chain check names entry $((k + 1))'s prev" \
  "chain FAILED at entry $((k + 1)): prev does not match the chain" \
  "$(python3 "$MV" chain "$(pv_audit_log_file "$TDIR")" || true)"
serve_refuses "(a)" "$TDIR"
if pv_is_pg; then
  # The cruder edit: the line changed in place, the offsets of the rows
  # after it left as they were (the stream now has a hole or an overlap).
  tamper_copy a2
  pv_sql records "UPDATE audit_log SET line = replace(line, '\"outcome\":\"denied\"',
    '\"outcome\":\"allowed\"') WHERE seq = $(pv_audit_row "$k")" >/dev/null
  verify_case "(a) edited, offsets stale" "$TDIR" "$k" changed
  serve_refuses "(a) edited, offsets stale" "$TDIR"
fi

# --- (b) entry k deleted ----------------------------------------------------
tamper_copy b
pv_audit_delete "$TDIR" "$k"
expect_eq "(b) the entry is gone" "$((L - 1))" "$(pv_audit_log "$TDIR" | wc -l)"
verify_case "(b) entry deleted" "$TDIR" "$k" removed
serve_refuses "(b)" "$TDIR"

# --- (c) entries k and k+1 swapped -------------------------------------------
tamper_copy c
pv_audit_swap "$TDIR" "$k"
expect_eq "(c) swapped lines" "$((k + 1)) $k" \
  "$(pv_audit_log "$TDIR" | sed -n "$((k + 1)),$((k + 2))p" | jq -r .seq | tr '\n' ' ' | sed 's/ $//')"
verify_case "(c) entries swapped" "$TDIR" "$k" reordered
serve_refuses "(c)" "$TDIR"

# --- (d) tail truncated (last two entries removed) ---------------------------
tamper_copy d
pv_audit_truncate "$TDIR" $((L - 2))
expect_eq "(d) independent chain check passes: truncation keeps the chain" "chain OK" \
  "$(python3 "$MV" chain "$(pv_audit_log_file "$TDIR")")"
verify_case "(d) tail truncated" "$TDIR" "$((L - 2))" truncated
serve_refuses "(d)" "$TDIR"

# --- (e) rewritten from entry k on, chain and roots recomputed, re-signed with
#     another Ed25519 key: only the signatures can tell ---------------------
tamper_files e
openssl genpkey -algorithm ed25519 -out "$T/forged.pem" 2>/dev/null
openssl pkey -in "$T/forged.pem" -pubout -outform DER 2>/dev/null | tail -c 32 >"$T/forged.pub"
nres=$(python3 "$FORGE" "$FDIR" --entry "$k" --set outcome=allowed --key "$T/forged.pem")
tamper_push
expect_eq "(e) every checkpoint after entry $k re-signed" \
  "$(jq -s --argjson k "$k" '[.[] | select(.size > $k)] | length' "$CPS")" "$nres"
expect_eq "(e) entry $k now says allowed" allowed "$(pv_audit_log "$TDIR" | sed -n "$((k + 1))p" | jq -r .outcome)"
expect_eq "(e) the forged chain is consistent" "chain OK" "$(python3 "$MV" chain "$(pv_audit_log_file "$TDIR")")"
fl=$(pv_audit_checkpoints "$TDIR" | tail -n1)
expect_eq "(e) the forged root matches the forged log" "$(jq -r .root <<<"$fl")" \
  "$(python3 "$MV" root "$(pv_audit_log_file "$TDIR")" "$L")"
expect_eq "(e) forged signature verifies under the forger's key" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$T/forged.pub" <<<"$fl")"
expect_eq "(e) ...but not under the vault's key" "signature FAILED" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$fl" || true)"
verify_case "(e) rewritten and re-signed" "$TDIR" "$k" resigned
serve_refuses "(e)" "$TDIR"

# --- (f) a checkpoint forged: its root replaced by an older checkpoint's,
#     its signature left as it was (PostgreSQL: UPDATE of the row) --------
old_root=$(sed -n 3p "$CPS" | jq -r .root)
ncp=$(wc -l <"$CPS")
tamper_copy f
pv_audit_cp_edit "$TDIR" "$((ncp - 1))" "s|\"root\":\"[^\"]*\"|\"root\":\"$old_root\"|"
expect_eq "(f) the latest checkpoint now carries an older root" "$old_root" \
  "$(pv_audit_checkpoints "$TDIR" | tail -n1 | jq -r .root)"
verify_case "(f) latest checkpoint forged" "$TDIR" "$((L - 1))" resigned
serve_refuses "(f)" "$TDIR" audit_checkpoint_mismatch
# An older checkpoint (the one over entries 0..k): `audit verify` checks
# every checkpoint; start-up checks the latest only (src/audit/log.c).
tamper_copy f2
p=$(jq -s --argjson s "$((k + 1))" 'map(.size) | index($s)' "$CPS")
pv_audit_cp_edit "$TDIR" "$p" "s|\"root\":\"[^\"]*\"|\"root\":\"$old_root\"|"
verify_case "(f) older checkpoint forged" "$TDIR" "$k" resigned

# --- a torn final line (crash mid-write) is reported, then cut at start ---
if pv_is_pg; then
  pv_skip "torn final line reported by verify, cut at start-up" \
    "a PostgreSQL trail holds whole lines, one a row, committed with their batch or not at all"
else
  copy_vault torn
  printf '{"seq":%d,"ts":"2026-01-01T00:00:00.000Z","actor":2,"ro' "$L" >>"$T/torn/audit/log.jsonl"
  verify_case "torn tail" "$T/torn" "$L" torn
fi
tamper_end

# --- kill -9 under write load ---------------------------------------------------
pv_start
c=$(login drwho "$CPW")
obs=$(jq -nc --arg p "$pid" '{resourceType:"Observation",status:"final",code:{text:"load"},subject:{reference:("Patient/"+$p)}}')
worker() { # worker N END_NS — creates until END_NS or 300 requests
  local i=0 hdr st rid
  while [ "$i" -lt 300 ] && [ "$(date +%s%N)" -lt "$2" ]; do
    i=$((i + 1))
    hdr=$(pcurl -m 5 -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
      -H "$(auth "$c")" -d "$obs" "$BASE/fhir/Observation" 2>/dev/null | tr -d '\r') || true
    st=$(head -n1 <<<"$hdr" | awk '{print $2}')
    rid=$(awk 'tolower($1) == "x-request-id:" {print $2}' <<<"$hdr")
    echo "${st:-000} ${rid:--}" >>"$T/load.$1"
  done
}
before=$(pv_audit_log | wc -l)
end=$(( $(date +%s%N) + 3000000000 ))
wpids=()
for w in 1 2 3 4; do worker "$w" "$end" & wpids+=($!); done
sleep 1.5
kill -KILL "$PV_PID"
wait "$PV_PID" 2>/dev/null || true
PV_PID=""
for p in "${wpids[@]}"; do wait "$p" || true; done
cat "$T"/load.* >"$T/load.all"
grep -E '^2[0-9][0-9] [0-9a-f]{32}$' "$T/load.all" | awk '{print $2}' | sort -u >"$T/acked"
acked=$(wc -l <"$T/acked")
[ "$acked" -ge 10 ] && pass "load: $acked creates acknowledged before the kill" \
  || fail "load: only $acked creates acknowledged"
unacked=$(grep -vcE '^2[0-9][0-9] ' "$T/load.all" || true)
[ "$unacked" -ge 1 ] && pass "load: $unacked requests failed once the server was killed" \
  || fail "load: the load did not outlast the kill (raise the load window)"
pv_start
expect_eq "restarted server answers" 200 "$(http_status GET /healthz)"
pv_stop
pv_audit_log | awk -F'"rid":"' 'NF > 1 {split($2, a, "\""); print a[1]}' | sort -u >"$T/logged"
missing=$(comm -23 "$T/acked" "$T/logged" | wc -l)
expect_eq "every acknowledged request id is in the audit log" 0 "$missing"
expect_eq "entries written during the load: at least the acknowledged ones" 1 \
  "$(( $(pv_audit_log | wc -l) - before >= acked ? 1 : 0 ))"
rc=0; out=$("$PHIVAULT" audit verify "$VAULT") || rc=$?
expect_eq "trail verifies after kill -9 and restart" 0 "$rc"
expect_contains "verify summary" "$out" "audit trail OK"
expect_eq "independent chain check after the crash" "chain OK" "$(python3 "$MV" chain "$(pv_audit_log_file)")"

# The torn copy from above: the server cuts the torn line and starts.
if ! pv_is_pg; then
  VAULT=$T/torn pv_start
  expect_contains "torn tail cut at start-up" "$(cat "$T/serve.log")" "audit_torn_tail_removed"
  pv_stop
  rc=0; "$PHIVAULT" audit verify "$T/torn" >/dev/null || rc=$?
  expect_eq "torn copy verifies after the restart cut it" 0 "$rc"
  cmp -s "$T/torn/audit/log.jsonl" <(head -n "$L" "$LOG") \
    && pass "torn copy: exactly the $L complete entries kept" || fail "torn copy: log changed beyond the cut"
fi
