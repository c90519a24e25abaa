#!/usr/bin/env bash
# Audit trail, offline: `phivault audit verify` names the exact entry that
# was changed, removed, reordered, truncated or rewritten-and-re-signed;
# the server refuses to start on a tampered trail; and after kill -9 under
# write load every acknowledged request is in the log and it verifies.
# The tampering and the cross-checks use tools/merkle_verify.py and
# tools/audit_forge.py (python3 stdlib + openssl), never phivault code.
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
copy_vault a
sed -i "$((k + 1))s/\"outcome\":\"denied\"/\"outcome\":\"allowed\"/" "$T/a/audit/log.jsonl"
expect_eq "(a) the edit happened" allowed "$(sed -n "$((k + 1))p" "$T/a/audit/log.jsonl" | jq -r .outcome)"
jq -e . "$T/a/audit/log.jsonl" >/dev/null && pass "(a) every line is still JSON" || fail "(a) broke JSON"
verify_case "(a) field changed" "$T/a" "$k" changed
expect_eq "(a) independent chain check names entry $((k + 1))'s prev" \
  "chain FAILED at entry $((k + 1)): prev does not match the chain" "$(python3 "$MV" chain "$T/a/audit/log.jsonl" || true)"
serve_refuses "(a)" "$T/a"

# --- (b) entry k deleted ----------------------------------------------------
copy_vault b
sed -i "$((k + 1))d" "$T/b/audit/log.jsonl"
verify_case "(b) entry deleted" "$T/b" "$k" removed
serve_refuses "(b)" "$T/b"

# --- (c) entries k and k+1 swapped -------------------------------------------
copy_vault c
sed -i -n "$((k + 1)){h;n;G};p" "$T/c/audit/log.jsonl"
expect_eq "(c) swapped lines" "$((k + 1)) $k" \
  "$(sed -n "$((k + 1)),$((k + 2))p" "$T/c/audit/log.jsonl" | jq -r .seq | tr '\n' ' ' | sed 's/ $//')"
verify_case "(c) entries swapped" "$T/c" "$k" reordered
serve_refuses "(c)" "$T/c"

# --- (d) tail truncated (last two entries removed) ---------------------------
copy_vault d
head -n $((L - 2)) "$LOG" >"$T/d/audit/log.jsonl"
expect_eq "(d) independent chain check passes: truncation keeps the chain" "chain OK" \
  "$(python3 "$MV" chain "$T/d/audit/log.jsonl")"
verify_case "(d) tail truncated" "$T/d" "$((L - 2))" truncated
serve_refuses "(d)" "$T/d"

# --- (e) rewritten from entry k on, chain and roots recomputed, re-signed with
#     another Ed25519 key: only the signatures can tell ---------------------
copy_vault e
openssl genpkey -algorithm ed25519 -out "$T/forged.pem" 2>/dev/null
openssl pkey -in "$T/forged.pem" -pubout -outform DER 2>/dev/null | tail -c 32 >"$T/forged.pub"
nres=$(python3 "$FORGE" "$T/e" --entry "$k" --set outcome=allowed --key "$T/forged.pem")
expect_eq "(e) every checkpoint after entry $k re-signed" \
  "$(jq -s --argjson k "$k" '[.[] | select(.size > $k)] | length' "$CPS")" "$nres"
expect_eq "(e) entry $k now says allowed" allowed "$(sed -n "$((k + 1))p" "$T/e/audit/log.jsonl" | jq -r .outcome)"
expect_eq "(e) the forged chain is consistent" "chain OK" "$(python3 "$MV" chain "$T/e/audit/log.jsonl")"
fl=$(tail -n1 "$T/e/audit/checkpoints.jsonl")
expect_eq "(e) the forged root matches the forged log" "$(jq -r .root <<<"$fl")" \
  "$(python3 "$MV" root "$T/e/audit/log.jsonl" "$L")"
expect_eq "(e) forged signature verifies under the forger's key" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$T/forged.pub" <<<"$fl")"
expect_eq "(e) ...but not under the vault's key" "signature FAILED" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$fl" || true)"
verify_case "(e) rewritten and re-signed" "$T/e" "$k" resigned
serve_refuses "(e)" "$T/e"

# --- a torn final line (crash mid-write) is reported, then cut at start ---
copy_vault torn
printf '{"seq":%d,"ts":"2026-01-01T00:00:00.000Z","actor":2,"ro' "$L" >>"$T/torn/audit/log.jsonl"
verify_case "torn tail" "$T/torn" "$L" torn

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
before=$(wc -l <"$LOG")
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
awk -F'"rid":"' 'NF > 1 {split($2, a, "\""); print a[1]}' "$LOG" | sort -u >"$T/logged"
missing=$(comm -23 "$T/acked" "$T/logged" | wc -l)
expect_eq "every acknowledged request id is in the audit log" 0 "$missing"
expect_eq "entries written during the load: at least the acknowledged ones" 1 \
  "$(( $(wc -l <"$LOG") - before >= acked ? 1 : 0 ))"
rc=0; out=$("$PHIVAULT" audit verify "$VAULT") || rc=$?
expect_eq "trail verifies after kill -9 and restart" 0 "$rc"
expect_contains "verify summary" "$out" "audit trail OK"
expect_eq "independent chain check after the crash" "chain OK" "$(python3 "$MV" chain "$LOG")"

# The torn copy from above: the server cuts the torn line and starts.
VAULT=$T/torn pv_start
expect_contains "torn tail cut at start-up" "$(cat "$T/serve.log")" "audit_torn_tail_removed"
pv_stop
rc=0; "$PHIVAULT" audit verify "$T/torn" >/dev/null || rc=$?
expect_eq "torn copy verifies after the restart cut it" 0 "$rc"
cmp -s "$T/torn/audit/log.jsonl" <(head -n "$L" "$LOG") \
  && pass "torn copy: exactly the $L complete entries kept" || fail "torn copy: log changed beyond the cut"
