#!/usr/bin/env bash
# Audit rewrite without the key (red-team finding 5). The hash chain and
# the Merkle tree are unkeyed: the reviewer deleted the checkpoints after
# entry N, edited a later entry, recomputed the chain, and `audit verify`,
# `compliance` and start-up all passed (an empty checkpoint file too).
# Every group commit now ends with a batch signature ("bsig"); entries no
# valid signature covers are a fault (`--allow-unsigned-tail` reports
# them and exits 0), and writers (the server, CLI commands) never sign
# over them: they are quarantined at start-up. The attack is done by
# tools/audit_forge.py (python3: RFC 6962 leaf hashing and the 0x02 chain
# rule of src/audit/log.c) and signatures are checked independently by
# tools/merkle_verify.py through openssl.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/auditlib.sh"
pv_setup
MV="$PV_SOURCE_DIR/tests/e2e/tools/merkle_verify.py"
FORGE="$PV_SOURCE_DIR/tests/e2e/tools/audit_forge.py"
PUB=$VAULT/keys/audit-signing.pub
audit_fixture

rc=0; out=$("$PHIVAULT" audit verify "$VAULT") || rc=$?
expect_eq "untouched trail verifies" 0 "$rc"
expect_contains "every entry is covered by a signature" "$out" "$L entries covered by a signature"
expect_eq "independent check of the last batch signature (openssl)" "bsig OK at entry $((L - 1))" \
  "$(python3 "$MV" bsig "$LOG" --pub "$PUB")"
# The denied entry to rewrite, in the middle; N: the checkpoints kept.
k=$(jq -s '[.[] | select(.outcome == "denied")] | .[2].seq' "$LOG")
N=$((k - 3))
[ "$N" -gt 2 ] && [ "$k" -lt $((L - 3)) ] && pass "entry $k is a denied entry mid-log, N = $N" \
  || fail "no denied entry mid-log (k=$k, L=$L)"
expect_eq "a batch signature ends exactly before entry $k" true \
  "$(sed -n "${k}p" "$LOG" | jq 'has("bsig")')"
expect_eq "a checkpoint covers exactly N entries" 1 \
  "$(jq -s --argjson n "$N" '[.[] | select(.size == $n)] | length' "$CPS")"

# compliance_fails NAME DIR
compliance_fails() {
  local rc=0 out
  out=$("$PHIVAULT" compliance "$2" --json 2>/dev/null) || rc=$?
  expect_eq "$1: compliance exit 1" 1 "$rc"
  expect_eq "$1: compliance audit_trail fails" fail \
    "$(jq -r '.checks[] | select(.check == "audit_trail") | .status' <<<"$out")"
}

# --- (a) the reviewer's attack: checkpoints after N deleted, entry k
#     edited (denied -> allowed), the chain recomputed, bsig left as is --
copy_vault a
dropped=$(python3 "$FORGE" "$T/a" --entry "$k" --set outcome=allowed --drop-checkpoints-after "$N")
expect_eq "(a) checkpoints after N deleted" "$((L - N))" "$dropped"
expect_eq "(a) entry $k now says allowed" allowed "$(sed -n "$((k + 1))p" "$T/a/audit/log.jsonl" | jq -r .outcome)"
expect_eq "(a) the recomputed chain is consistent" "chain OK" "$(python3 "$MV" chain "$T/a/audit/log.jsonl")"
expect_eq "(a) the latest checkpoint is N's and still verifies" "signature OK" \
  "$(tail -n1 "$T/a/audit/checkpoints.jsonl" | python3 "$MV" checkpoint --pub "$PUB")"
expect_eq "(a) independently: entry $k's batch signature fails" "bsig FAILED at entry $k" \
  "$(python3 "$MV" bsig "$T/a/audit/log.jsonl" --line "$k" --pub "$PUB" || true)"
verify_case "(a) reviewer's attack" "$T/a" "$k" forged
verify_case "(a) even with --allow-unsigned-tail" "$T/a" "$k" forged --allow-unsigned-tail
compliance_fails "(a)" "$T/a"
serve_refuses "(a)" "$T/a" audit_batch_signature_invalid

# --- (b) the same, and the now-invalid batch signatures stripped: the
#     rewritten entries look like an unsigned tail ------------------------
copy_vault b
python3 "$FORGE" "$T/b" --entry "$k" --set outcome=allowed --strip-bsig --drop-checkpoints-after "$N" >/dev/null
expect_eq "(b) no batch signature from entry $k on" 0 \
  "$(tail -n +"$((k + 1))" "$T/b/audit/log.jsonl" | jq -s '[.[] | select(has("bsig"))] | length')"
expect_eq "(b) the recomputed chain is consistent" "chain OK" "$(python3 "$MV" chain "$T/b/audit/log.jsonl")"
verify_case "(b) unsigned tail" "$T/b" "$k" unsigned
compliance_fails "(b)" "$T/b"
rc=0; out=$("$PHIVAULT" audit verify "$T/b" --allow-unsigned-tail) || rc=$?
expect_eq "(b) --allow-unsigned-tail: exit 0" 0 "$rc"
expect_contains "(b) --allow-unsigned-tail: only the signed part is claimed" "$out" "$k entries covered by a signature"
expect_contains "(b) --allow-unsigned-tail: the tail is named" "$out" \
  "entries $k to $((L - 1)) ($((L - k))) are NOT covered by any signature"
rm -rf "$T/b_cli"; cp -a "$T/b" "$T/b_cli"
cp -a "$T/b/audit/log.jsonl" "$T/b.forged.jsonl"

# The server must not sign over the unsigned tail: it quarantines it.
VAULT=$T/b pv_start
expect_contains "(b) start-up logs the quarantine" "$(cat "$T/serve.log")" '"event":"audit_unsigned_tail_quarantined"'
c=$(login drwho "$CPW")
expect_eq "(b) the server serves after the quarantine" 200 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$c")")"
pv_stop
QF=$T/b/audit/quarantine.jsonl
expect_eq "(b) quarantine file is private" 600 "$(stat -c %a "$QF")"
expect_eq "(b) the $((L - k)) unsigned entries, byte for byte, are in the quarantine file" "" \
  "$(tail -n +"$((k + 1))" "$T/b.forged.jsonl" | cmp - "$QF" 2>&1)"
expect_eq "(b) the log keeps the signed entries unchanged" "" \
  "$(head -n "$k" "$VAULT/audit/log.jsonl" | cmp - <(head -n "$k" "$T/b/audit/log.jsonl") 2>&1)"
q=$(sed -n "$((k + 1))p" "$T/b/audit/log.jsonl")
expect_eq "(b) entry $k is now the signed quarantine record" \
  "audit.quarantine error unsigned_tail $((L - k)) system true" \
  "$(jq -r '"\(.action) \(.outcome) \(.reason) \(.count) \(.role) \(has("bsig"))"' <<<"$q")"
forged_rid=$(sed -n "$((k + 1))p" "$T/b.forged.jsonl" | jq -r .rid)
expect_eq "(b) the forged entry is nowhere in the log" 0 "$(grep -c "$forged_rid" "$T/b/audit/log.jsonl" || true)"
expect_eq "(b) no checkpoint covers the forged entries' tree" 0 \
  "$(jq -s --argjson k "$k" --arg r "$(python3 "$MV" root "$T/b.forged.jsonl" "$L")" '[.[] | select(.root == $r)] | length' "$T/b/audit/checkpoints.jsonl")"
rc=0; out=$("$PHIVAULT" audit verify "$T/b") || rc=$?
expect_eq "(b) after the quarantine the trail verifies" 0 "$rc"
expect_contains "(b) verify shows the quarantine" "$out" "$((L - k)) unsigned entries were moved out of the trail"
out=$("$PHIVAULT" compliance "$T/b" --json 2>/dev/null || true)
expect_eq "(b) compliance warns about the quarantine" warn \
  "$(jq -r '.checks[] | select(.check == "audit_quarantine") | .status' <<<"$out")"
expect_eq "(b) compliance: the trail itself passes" pass \
  "$(jq -r '.checks[] | select(.check == "audit_trail") | .status' <<<"$out")"

# A CLI writer (here `audit checkpoint`) must not sign over it either.
rc=0; head_json=$("$PHIVAULT" audit checkpoint "$T/b_cli") || rc=$?
expect_eq "(b) cli: audit checkpoint runs" 0 "$rc"
expect_eq "(b) cli: its signed head covers the signed entries and the quarantine record only" \
  "$((k + 1))" "$(jq -r .size <<<"$head_json")"
expect_eq "(b) cli: the tail went to quarantine" "$((L - k))" "$(wc -l <"$T/b_cli/audit/quarantine.jsonl")"
rc=0; "$PHIVAULT" audit verify "$T/b_cli" >/dev/null || rc=$?
expect_eq "(b) cli: the trail verifies afterwards" 0 "$rc"

# --- (c) an empty checkpoint file with a log no batch signature covers:
#     every signature stripped, entry k edited ------------------------------
copy_vault c
python3 "$FORGE" "$T/c" --entry "$k" --set outcome=allowed --strip-bsig --strip-from 0 --empty-checkpoints >/dev/null
expect_eq "(c) the checkpoint file is empty" 0 "$(stat -c %s "$T/c/audit/checkpoints.jsonl")"
expect_eq "(c) the recomputed chain is consistent" "chain OK" "$(python3 "$MV" chain "$T/c/audit/log.jsonl")"
verify_case "(c) empty checkpoints, nothing signed" "$T/c" 0 unsigned
compliance_fails "(c)" "$T/c"

# An untouched log needs no checkpoint to verify: its batch signatures
# cover it (checkpoints are fsynced lazily, so a power loss may lose them).
copy_vault c2
: >"$T/c2/audit/checkpoints.jsonl"
rc=0; out=$("$PHIVAULT" audit verify "$T/c2") || rc=$?
expect_eq "(c) untouched log, empty checkpoint file: verifies" 0 "$rc"
expect_contains "(c) ...covered by its batch signatures" "$out" "$L entries covered by a signature"
# ...but not once an entry is edited, whatever the checkpoints say.
python3 "$FORGE" "$T/c2" --entry "$k" --set outcome=allowed >/dev/null
verify_case "(c) edited, empty checkpoint file" "$T/c2" "$k" forged

# --- (d) the server refuses a trail whose last batch signature fails ------
copy_vault d
sed -i "\$s/\"bsig\":\"./\"bsig\":\"A/" "$T/d/audit/log.jsonl"
[ "$(tail -n1 "$T/d/audit/log.jsonl")" != "$(tail -n1 "$LOG")" ] || sed -i "\$s/\"bsig\":\"./\"bsig\":\"B/" "$T/d/audit/log.jsonl"
verify_case "(d) last signature altered" "$T/d" "$((L - 1))" changed
serve_refuses "(d)" "$T/d" audit_batch_signature_invalid
