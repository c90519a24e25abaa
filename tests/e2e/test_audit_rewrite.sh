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
# tools/merkle_verify.py through openssl. On PostgreSQL the forged trail
# is loaded into the audit_log and audit_checkpoints tables (auditlib.sh
# tamper_files / tamper_push) and the quarantine is the audit_quarantine
# table.
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
tamper_files a
dropped=$(python3 "$FORGE" "$FDIR" --entry "$k" --set outcome=allowed --drop-checkpoints-after "$N")
tamper_push
expect_eq "(a) checkpoints after N deleted" "$((L - N))" "$dropped"
expect_eq "(a) entry $k now says allowed" allowed "$(pv_audit_log "$TDIR" | sed -n "$((k + 1))p" | jq -r .outcome)"
expect_eq "(a) the recomputed chain is consistent" "chain OK" "$(python3 "$MV" chain "$(pv_audit_log_file "$TDIR")")"
expect_eq "(a) the latest checkpoint is N's and still verifies" "signature OK" \
  "$(pv_audit_checkpoints "$TDIR" | tail -n1 | python3 "$MV" checkpoint --pub "$PUB")"
expect_eq "(a) independently: entry $k's batch signature fails" "bsig FAILED at entry $k" \
  "$(python3 "$MV" bsig "$(pv_audit_log_file "$TDIR")" --line "$k" --pub "$PUB" || true)"
verify_case "(a) reviewer's attack" "$TDIR" "$k" forged
verify_case "(a) even with --allow-unsigned-tail" "$TDIR" "$k" forged --allow-unsigned-tail
compliance_fails "(a)" "$TDIR"
serve_refuses "(a)" "$TDIR" audit_batch_signature_invalid

# --- (b) the same, and the now-invalid batch signatures stripped: the
#     rewritten entries look like an unsigned tail ------------------------
tamper_files b
python3 "$FORGE" "$FDIR" --entry "$k" --set outcome=allowed --strip-bsig --drop-checkpoints-after "$N" >/dev/null
tamper_push
expect_eq "(b) no batch signature from entry $k on" 0 \
  "$(pv_audit_log "$TDIR" | tail -n +"$((k + 1))" | jq -s '[.[] | select(has("bsig"))] | length')"
expect_eq "(b) the recomputed chain is consistent" "chain OK" "$(python3 "$MV" chain "$(pv_audit_log_file "$TDIR")")"
verify_case "(b) unsigned tail" "$TDIR" "$k" unsigned
compliance_fails "(b)" "$TDIR"
rc=0; out=$("$PHIVAULT" audit verify "$TDIR" --allow-unsigned-tail) || rc=$?
expect_eq "(b) --allow-unsigned-tail: exit 0" 0 "$rc"
expect_contains "(b) --allow-unsigned-tail: only the signed part is claimed" "$out" "$k entries covered by a signature"
expect_contains "(b) --allow-unsigned-tail: the tail is named" "$out" \
  "entries $k to $((L - 1)) ($((L - k))) are NOT covered by any signature"
# b_cli: the same forged trail, for a CLI writer below (PostgreSQL: a
# snapshot of the database, put back before the CLI runs).
if pv_is_pg; then
  pv_db_snapshot "$T/b_cli.db"
else
  rm -rf "$T/b_cli"; cp -a "$T/b" "$T/b_cli"
fi
pv_audit_log "$TDIR" >"$T/b.forged.jsonl"

# The server must not sign over the unsigned tail: it quarantines it.
VAULT=$TDIR pv_start
expect_contains "(b) start-up logs the quarantine" "$(cat "$T/serve.log")" '"event":"audit_unsigned_tail_quarantined"'
c=$(login drwho "$CPW")
expect_eq "(b) the server serves after the quarantine" 200 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$c")")"
pv_stop
if pv_is_pg; then
  pv_skip "(b) quarantine file is private (0600)" "the quarantine is the audit_quarantine table; database privileges guard it"
else
  expect_eq "(b) quarantine file is private" 600 "$(stat -c %a "$TDIR/audit/quarantine.jsonl")"
fi
pv_audit_quarantine "$TDIR" >"$T/b.quarantine"
expect_eq "(b) the $((L - k)) unsigned entries, byte for byte, are in the quarantine" "" \
  "$(tail -n +"$((k + 1))" "$T/b.forged.jsonl" | cmp - "$T/b.quarantine" 2>&1)"
expect_eq "(b) the log keeps the signed entries unchanged" "" \
  "$(head -n "$k" "$LOG" | cmp - <(pv_audit_log "$TDIR" | head -n "$k") 2>&1)"
q=$(pv_audit_log "$TDIR" | sed -n "$((k + 1))p")
expect_eq "(b) entry $k is now the signed quarantine record" \
  "audit.quarantine error unsigned_tail $((L - k)) system true" \
  "$(jq -r '"\(.action) \(.outcome) \(.reason) \(.count) \(.role) \(has("bsig"))"' <<<"$q")"
forged_rid=$(sed -n "$((k + 1))p" "$T/b.forged.jsonl" | jq -r .rid)
expect_eq "(b) the forged entry is nowhere in the log" 0 "$(pv_audit_log "$TDIR" | grep -c "$forged_rid" || true)"
expect_eq "(b) no checkpoint covers the forged entries' tree" 0 \
  "$(pv_audit_checkpoints "$TDIR" | jq -s --argjson k "$k" --arg r "$(python3 "$MV" root "$T/b.forged.jsonl" "$L")" '[.[] | select(.root == $r)] | length')"
rc=0; out=$("$PHIVAULT" audit verify "$TDIR") || rc=$?
expect_eq "(b) after the quarantine the trail verifies" 0 "$rc"
expect_contains "(b) verify shows the quarantine" "$out" "$((L - k)) unsigned entries were moved out of the trail"
out=$("$PHIVAULT" compliance "$TDIR" --json 2>/dev/null || true)
expect_eq "(b) compliance warns about the quarantine" warn \
  "$(jq -r '.checks[] | select(.check == "audit_quarantine") | .status' <<<"$out")"
expect_eq "(b) compliance: the trail itself passes" pass \
  "$(jq -r '.checks[] | select(.check == "audit_trail") | .status' <<<"$out")"

# A CLI writer (here `audit checkpoint`) must not sign over it either.
BCLI=$T/b_cli
if pv_is_pg; then pv_db_restore "$T/b_cli.db"; BCLI=$VAULT; fi
rc=0; head_json=$("$PHIVAULT" audit checkpoint "$BCLI") || rc=$?
expect_eq "(b) cli: audit checkpoint runs" 0 "$rc"
expect_eq "(b) cli: its signed head covers the signed entries and the quarantine record only" \
  "$((k + 1))" "$(jq -r .size <<<"$head_json")"
expect_eq "(b) cli: the tail went to quarantine" "$((L - k))" "$(pv_audit_quarantine "$BCLI" | wc -l)"
rc=0; "$PHIVAULT" audit verify "$BCLI" >/dev/null || rc=$?
expect_eq "(b) cli: the trail verifies afterwards" 0 "$rc"

# --- (c) an empty checkpoint file with a log no batch signature covers:
#     every signature stripped, entry k edited ------------------------------
tamper_files c
python3 "$FORGE" "$FDIR" --entry "$k" --set outcome=allowed --strip-bsig --strip-from 0 --empty-checkpoints >/dev/null
tamper_push
expect_eq "(c) no checkpoint left" 0 "$(pv_audit_checkpoints "$TDIR" | wc -c)"
expect_eq "(c) the recomputed chain is consistent" "chain OK" "$(python3 "$MV" chain "$(pv_audit_log_file "$TDIR")")"
verify_case "(c) empty checkpoints, nothing signed" "$TDIR" 0 unsigned
compliance_fails "(c)" "$TDIR"

# An untouched log needs no checkpoint to verify: its batch signatures
# cover it (checkpoints are fsynced lazily, so a power loss may lose them).
tamper_files c2
if pv_is_pg; then
  pv_sql records "DELETE FROM audit_checkpoints" >/dev/null
fi
: >"$FDIR/audit/checkpoints.jsonl"
rc=0; out=$("$PHIVAULT" audit verify "$TDIR") || rc=$?
expect_eq "(c) untouched log, empty checkpoint file: verifies" 0 "$rc"
expect_contains "(c) ...covered by its batch signatures" "$out" "$L entries covered by a signature"
# ...but not once an entry is edited, whatever the checkpoints say.
python3 "$FORGE" "$FDIR" --entry "$k" --set outcome=allowed >/dev/null
tamper_push
verify_case "(c) edited, empty checkpoint file" "$TDIR" "$k" forged

# --- (d) the server refuses a trail whose last batch signature fails ------
tamper_copy d
pv_audit_edit "$TDIR" "$((L - 1))" 's/"bsig":"./"bsig":"A/'
[ "$(pv_audit_log "$TDIR" | tail -n1)" != "$(tail -n1 "$LOG")" ] ||
  pv_audit_edit "$TDIR" "$((L - 1))" 's/"bsig":"./"bsig":"B/'
expect_ne "(d) the last line was altered" "$(tail -n1 "$LOG")" "$(pv_audit_log "$TDIR" | tail -n1)"
verify_case "(d) last signature altered" "$TDIR" "$((L - 1))" changed
serve_refuses "(d)" "$TDIR" audit_batch_signature_invalid
tamper_end
