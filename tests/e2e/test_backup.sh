#!/usr/bin/env bash
# Encrypted online backup and restore (issue 16, SQLite). A records backup
# taken while the server serves a light write load, sealed to a recovery
# public key; a patient erased after the backup; restored into a new
# directory with the current keys: the erased patient stays erased, the
# other reads back, `audit verify` passes on the restored vault and the
# restore is in its trail; `backup verify` holds the backup's trail to a
# checkpoint published after the backup; a tampered, cut or extended file
# and a wrong identity are refused. A separate keys backup restores too.
source "$(dirname "$0")/lib.sh"
if pv_is_pg; then
  pv_skip "test_backup" "PostgreSQL vaults are backed up with pgBackRest (issue 16)"
  exit 0
fi
pv_setup
pv_init
PW="Clinic1an-secret-pw"
pv_user drc clinician "$PW"
pv_conf auth mfa_required_roles admin
pv_start
CT='Content-Type: application/fhir+json'
TOK=$(login drc "$PW")
expect_ne "clinician logs in" "" "$TOK"
req() { local m=$1 p=$2; shift 2
  pcurl -o "$T/out" -w '%{http_code}' -X "$m" -H "$(auth "$TOK")" "$@" "$BASE$p"; }
send() { req "$1" "$2" -H "$CT" --data-binary "$3"; }
obs() { printf '{"resourceType":"Observation","status":"final","code":{"text":"%s"},"subject":{"reference":"Patient/%s"},"valueQuantity":{"value":%s}}' "$3" "$1" "$2"; }

send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Erased"}]}' >/dev/null
P=$(jq -r .id "$T/out")
send POST /fhir/Patient '{"resourceType":"Patient","name":[{"family":"Keeper"}]}' >/dev/null
Q=$(jq -r .id "$T/out")
send POST /fhir/Observation "$(obs "$Q" 7 KeeperObs)" >/dev/null; QO=$(jq -r .id "$T/out")

# Recovery key pairs: one for records, one for keys (separate custody).
out=$("$PHIVAULT" backup keygen --out "$T/records.id")
printf '%s\n' "$out" >"$T/records.pub"
"$PHIVAULT" backup keygen --out "$T/keys.id" >"$T/keys.pub"
"$PHIVAULT" backup keygen --out "$T/other.id" >/dev/null
expect_eq "identity file is 0600" 600 "$(stat -c %a "$T/records.id")"
rc=0; "$PHIVAULT" backup keygen --out "$T/records.id" >/dev/null 2>&1 || rc=$?
expect_eq "keygen never overwrites an identity" 1 "$rc"

# A light write load while the backup runs.
( for i in $(seq 1 20); do send POST /fhir/Observation "$(obs "$Q" "$i" Load$i)" >/dev/null || true; done ) &
LOAD=$!
rc=0; "$PHIVAULT" backup "$VAULT" --out "$T/rec.pvb" --recipient "$T/records.pub" >/dev/null || rc=$?
expect_eq "backup while serving: exit 0" 0 "$rc"
rc=0; "$PHIVAULT" backup "$VAULT" --keys --out "$T/keys.pvb" --recipient "$T/keys.pub" >/dev/null || rc=$?
expect_eq "keys backup: exit 0" 0 "$rc"
wait "$LOAD" || true
expect_eq "backup file is 0600" 600 "$(stat -c %a "$T/rec.pvb")"
if grep -q -a "Keeper\|KeeperObs\|log.jsonl\|SQLite format" "$T/rec.pvb"; then
  fail "the backup file is readable without the identity"; else pass "backup file is opaque"; fi
rc=0; "$PHIVAULT" backup "$VAULT" --out "$T/rec.pvb" --recipient "$T/records.pub" >/dev/null 2>&1 || rc=$?
expect_eq "backup never overwrites a file" 1 "$rc"
rc=0; "$PHIVAULT" backup "$VAULT" --out "$T/conf.pvb" >/dev/null 2>&1 || rc=$?
expect_eq "no recipient anywhere: exit 2" 2 "$rc"
pv_conf backup recovery_public_key "$(cat "$T/records.pub")"
rc=0; "$PHIVAULT" backup "$VAULT" --out "$T/conf.pvb" >/dev/null 2>&1 || rc=$?
expect_eq "backup to [backup] recovery_public_key: exit 0" 0 "$rc"
rc=0; "$PHIVAULT" backup verify "$T/conf.pvb" --identity "$T/records.id" >/dev/null 2>&1 || rc=$?
expect_eq "it opens with the records identity" 0 "$rc"
rc=0; "$PHIVAULT" backup "$VAULT" --keys --out "$T/k2.pvb" >/dev/null 2>&1 || rc=$?
expect_eq "a keys backup needs its own --recipient: exit 2" 2 "$rc"

# After the backup: erase P, publish a checkpoint.
rc=0; "$PHIVAULT" erase "$VAULT" --patient "$P" >/dev/null 2>&1 || rc=$?
expect_eq "erase after the backup: exit 0" 0 "$rc"
# Published by the server (a write first: it takes in the CLI's entries).
send POST /fhir/Observation "$(obs "$Q" 99 After)" >/dev/null
pcurl -o "$T/published.json" -H "$(auth "$TOK")" "$BASE/audit/checkpoint"

rc=0; "$PHIVAULT" backup verify "$T/rec.pvb" --identity "$T/records.id" >"$T/bv0.out" 2>&1 || rc=$?
expect_eq "backup verify on its own: exit 0" 0 "$rc"
n=$(grep -o 'backup OK: [0-9]*' "$T/bv0.out" | grep -o '[0-9]*$' || echo 0)
N=$(jq -r .size "$T/published.json")
rc=0; "$PHIVAULT" backup verify "$T/rec.pvb" --identity "$T/records.id" \
  --checkpoint "$T/published.json" >"$T/bv1.out" 2>&1 || rc=$?
expect_eq "a later checkpoint without a consistency proof: exit 1" 1 "$rc"
expect_contains "it asks for the proof" "$(cat "$T/bv1.out")" "--proof"
pcurl -o "$T/proof.json" -H "$(auth "$TOK")" "$BASE/audit/proof/consistency?from=$n&to=$N"
rc=0; "$PHIVAULT" backup verify "$T/rec.pvb" --identity "$T/records.id" \
  --checkpoint "$T/published.json" --proof "$T/proof.json" >"$T/bv.out" 2>&1 || rc=$?
expect_eq "backup verify against a later checkpoint: exit 0" 0 "$rc"
expect_contains "backup verify says OK" "$(cat "$T/bv.out")" "backup OK"
[ "$rc" -eq 0 ] || { cat "$T/bv.out" "$T/proof.json" >&2; }
jq -c '.proof[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="' "$T/proof.json" >"$T/badproof.json"
rc=0; "$PHIVAULT" backup verify "$T/rec.pvb" --identity "$T/records.id" \
  --checkpoint "$T/published.json" --proof "$T/badproof.json" >/dev/null 2>&1 || rc=$?
expect_eq "a wrong consistency proof: exit 1" 1 "$rc"
rc=0; "$PHIVAULT" backup verify "$T/rec.pvb" --identity "$T/other.id" >/dev/null 2>&1 || rc=$?
expect_eq "backup verify with a wrong identity: exit 1" 1 "$rc"
rc=0; "$PHIVAULT" backup verify "$T/keys.pvb" --identity "$T/keys.id" >/dev/null 2>&1 || rc=$?
expect_eq "keys backup authenticates" 0 "$rc"

# Tampering: one flipped byte in the middle, a cut, an extension.
size=$(stat -c %s "$T/rec.pvb")
cp "$T/rec.pvb" "$T/flip.pvb"
off=$((size / 2))
b=$(od -An -tu1 -j "$off" -N1 "$T/flip.pvb" | tr -d ' ')
printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$T/flip.pvb" bs=1 seek="$off" conv=notrunc status=none
head -c $((size - 10)) "$T/rec.pvb" >"$T/cut.pvb"
{ cat "$T/rec.pvb"; printf 'x'; } >"$T/ext.pvb"
for f in flip cut ext; do
  rc=0; "$PHIVAULT" backup verify "$T/$f.pvb" --identity "$T/records.id" >/dev/null 2>&1 || rc=$?
  expect_eq "backup verify refuses a $f file" 1 "$rc"
  rc=0; "$PHIVAULT" restore "$T/$f.pvb" --to "$T/r-$f" --identity "$T/records.id" \
    --keys-from "$VAULT" >/dev/null 2>&1 || rc=$?
  expect_eq "restore refuses a $f file" 1 "$rc"
  [ ! -e "$T/r-$f" ] && pass "no directory left after a refused $f restore" \
    || fail "a refused $f restore left $T/r-$f"
done
rc=0; "$PHIVAULT" restore "$T/rec.pvb" --to "$T/r-wrong" --identity "$T/other.id" \
  --keys-from "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "restore with a wrong identity: exit 1" 1 "$rc"

# Restore over the current keys (the server keeps serving the old vault).
rc=0; "$PHIVAULT" restore "$T/rec.pvb" --to "$T/restored" --identity "$T/records.id" \
  --keys-from "$VAULT" >"$T/restore.out" 2>&1 || rc=$?
expect_eq "restore: exit 0" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/restore.out" >&2
pv_stop
rc=0; "$PHIVAULT" audit verify "$T/restored" >"$T/av.out" 2>&1 || rc=$?
expect_eq "audit verify on the restored vault: exit 0" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/av.out" >&2
expect_contains "the restore is audited" \
  "$("$PHIVAULT" audit export "$T/restored" | tail -n 3)" "backup.restore"
VAULT=$T/restored
pv_start
TOK=$(login drc "$PW")
expect_eq "restored: the erased patient stays erased" 410 "$(req GET "/fhir/Patient/$P")"
expect_eq "restored: the other patient reads" 200 "$(req GET "/fhir/Patient/$Q")"
expect_eq "restored: their observation reads" 200 "$(req GET "/fhir/Observation/$QO")"
pv_stop

# With the keys backup instead: the key store as of the backup.
rc=0; "$PHIVAULT" restore "$T/rec.pvb" --to "$T/restored2" --identity "$T/records.id" \
  --keys "$T/keys.pvb" --keys-identity "$T/keys.id" >/dev/null 2>&1 || rc=$?
expect_eq "restore with a keys backup: exit 0" 0 "$rc"
rc=0; "$PHIVAULT" audit verify "$T/restored2" >/dev/null 2>&1 || rc=$?
expect_eq "audit verify after a keys restore: exit 0" 0 "$rc"

