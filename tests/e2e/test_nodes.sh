#!/usr/bin/env bash
# test_nodes.sh — several phivault nodes on one PostgreSQL vault behind a
# real HAProxy (issue 15): global sessions, lockout, replay cache and
# erasure; one audit trail with checkpoints from both nodes and proofs that
# cross them; kill -9 of a node under write load loses no acknowledged
# write. On SQLite: `node add` is refused (an SQLite vault is one node).
#
# Node A is lib.sh's server ($VAULT, $PORT); node B is $NB on $BPORT;
# HAProxy listens on $HPORT (TCP, TLS passes through, send-proxy-v2, health
# checks), the only [proxy] trusted peer (127.0.0.1).
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init

NB=$T/nodeb
if ! pv_is_pg; then
  rc=0
  out=$("$PHIVAULT" node add "$NB" --from "$VAULT" 2>&1) || rc=$?
  expect_eq "node add refuses an SQLite vault" 1 "$rc"
  expect_contains "… and says it needs PostgreSQL" "$out" "PostgreSQL"
  expect_eq "… and creates nothing" no "$([ -e "$NB" ] && echo yes || echo no)"
  pv_skip "two nodes" "an SQLite vault is one node"
  exit 0
fi
command -v haproxy >/dev/null || { echo "haproxy missing (scripts/deps test)" >&2; exit 1; }

pv_conf auth mfa_required_roles admin
pv_conf auth ip_lockout_threshold 1000 # the account lockout alone
pv_conf proxy trusted "127.0.0.1/32"
CPW="Clinic1an-secret-pw"
pv_user drwho clinician "$CPW"
pv_user rita researcher "Research-secret-passw0rd"
node_clients
kid=$(new_client feed "system/Patient.rs")

# --- node add -----------------------------------------------------------------
rc=0
out=$("$PHIVAULT" node add "$NB" --from "$VAULT" 2>&1) || rc=$?
expect_eq "node add" 0 "$rc"
expect_contains "… prints the new node's key id" "$out" "audit key "
B_KID=$(sed -nE 's/.*audit key ([0-9a-f]{16}).*/\1/p' <<<"$out")
expect_eq "B's directory is private" 700 "$(stat -c %a "$NB")"
expect_eq "B has A's root and master key" \
  "$(cat "$VAULT/keys/audit-root.pub" "$VAULT"/keys/master-*.key | sha256sum)" \
  "$(cat "$NB/keys/audit-root.pub" "$NB"/keys/master-*.key | sha256sum)"
expect_ne "B has its own signing key" "$(sha256sum <"$VAULT/keys/audit-signing.key")" \
  "$(sha256sum <"$NB/keys/audit-signing.key")"
expect_ne "B has its own TLS key" "$(sha256sum <"$VAULT/tls/key.pem")" \
  "$(sha256sum <"$NB/tls/key.pem")"
expect_eq "B's key is registered" 1 "$(pv_sql records "SELECT count(*) FROM audit_nodes WHERE key_id = '$B_KID'")"
expect_eq "node add is audited" 1 "$(pv_audit_log | grep -c '"action":"node.add"')"
rc=0; "$PHIVAULT" node add "$NB" --from "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "node add never overwrites" 1 "$rc"
mkdir -m 755 "$T/elsewhere"; ln -s "$T/elsewhere" "$T/link"
rc=0; "$PHIVAULT" node add "$T/link" --from "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "node add refuses a symbolic link" 1 "$rc"
rc=0; "$PHIVAULT" node add "$T/link/" --from "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "… also written with a trailing slash" 1 "$rc"
expect_eq "… and leaves its target alone" "755 0" \
  "$(stat -c %a "$T/elsewhere") $(find "$T/elsewhere" -mindepth 1 | wc -l)"

# Both nodes' certificates: every client below trusts both. Clients
# connect from 127.0.0.2: 127.0.0.1 is HAProxy's, a trusted peer that must
# send a PROXY header.
cat "$VAULT/tls/cert.pem" "$NB/tls/cert.pem" >"$T/ca.pem"
pcurl() { curl -sS --max-time 20 --cacert "$T/ca.pem" --interface 127.0.0.2 "$@"; }

pv_start
A_BASE=$BASE A_PORT=$PORT
: >"$T/serveb.log"
"$PHIVAULT" serve "$NB" --listen 127.0.0.1:0 2>>"$T/serveb.log" &
B_PID=$!
for i in $(seq 1 300); do
  BPORT=$(grep -o '"event":"listening","port":"[0-9]*"' "$T/serveb.log" |
    grep -o '[0-9]*"$' | tr -d '"' | tail -n1 || true)
  [ -n "$BPORT" ] && break
  kill -0 "$B_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$BPORT" ] || { cat "$T/serveb.log" >&2; exit 1; }
B_BASE=https://127.0.0.1:$BPORT

HPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/haproxy.cfg" <<EOF
global
  maxconn 200
  log stdout format raw local0
defaults
  mode tcp
  log global
  option tcplog
  retries 3
  option redispatch
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:$HPORT
  default_backend be
backend be
  balance roundrobin
  server a 127.0.0.1:$A_PORT send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 2 source 127.0.0.1
  server b 127.0.0.1:$BPORT send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 2 source 127.0.0.1
EOF
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
HA_PID=$!
on_exit() {
  local rc=$?
  set +e
  kill -TERM "$HA_PID" 2>/dev/null; wait "$HA_PID" 2>/dev/null
  if kill -0 "$B_PID" 2>/dev/null; then
    kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null
  fi
  [ "$PV_FAILS" -eq 0 ] || { echo "--- node B log (tail) ---" >&2; tail -n 30 "$T/serveb.log" >&2; }
  (exit "$rc")
  pv_teardown
}
trap on_exit EXIT
H_BASE=https://localhost:$HPORT
for i in $(seq 1 50); do
  pcurl -o /dev/null --resolve "localhost:$HPORT:127.0.0.1" "$H_BASE/healthz" 2>/dev/null && break
  sleep 0.1
done

# on NODE — the next lib.sh call goes to that node (a, b or h for HAProxy).
on() {
  case $1 in
    a) BASE=$A_BASE ;;
    b) BASE=$B_BASE ;;
    h) BASE=$H_BASE ;;
  esac
}
patient='{"resourceType":"Patient","gender":"female","birthDate":"1970-01-01"}'

# --- write on A, read on B -----------------------------------------------------
on a; C=$(login drwho "$CPW")
expect_ne "login on A" "" "$C"
pid=$(jpost /fhir/Patient "$patient" -H "$(auth "$C")" | jq -r '.id // empty')
expect_ne "patient written on A" "" "$pid"
on b
expect_eq "… read on B with A's session" "1970-01-01" \
  "$(pcurl -H "$(auth "$C")" "$BASE/fhir/Patient/$pid" | jq -r '.birthDate // empty')"

# --- logout on A, refused on B at once ---------------------------------------
on a; C2=$(login drwho "$CPW")
on b; expect_eq "second session works on B" 200 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C2")")"
on a; expect_eq "logout on A" 200 "$(http_status POST /auth/logout -H "$(auth "$C2")")"
on b; expect_eq "… the session is refused on B" 401 "$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$C2")")"

# --- a signed request replayed to the other node ------------------------------
# Signed for the balancer's authority, sent straight to each node.
"${SIGN[@]}" GET "$H_BASE/fhir/Patient/$pid" "$kid" "$T/feed.pem" >"$T/sig.h"
to_node() { # to_node PORT HEADERFILE — status (and detail) of the signed GET
  local args=() line
  while IFS= read -r line; do args+=(-H "$line"); done <"$2"
  pcurl -o "$T/sig.out" -w '%{http_code}' --connect-to "localhost:$HPORT:127.0.0.1:$1" \
    "${args[@]}" "$H_BASE/fhir/Patient/$pid"
}
expect_eq "signed request on A" 200 "$(to_node "$A_PORT" "$T/sig.h")"
expect_eq "… the same request replayed to B: refused" 401 "$(to_node "$BPORT" "$T/sig.h")"
expect_contains "… as a replay" "$(cat "$T/sig.out")" "replayed_nonce"
"${SIGN[@]}" GET "$H_BASE/fhir/Patient/$pid" "$kid" "$T/feed.pem" >"$T/sig2.h"
expect_eq "a fresh signature is accepted by B" 200 "$(to_node "$BPORT" "$T/sig2.h")"
expect_eq "… and its replay to A refused" 401 "$(to_node "$A_PORT" "$T/sig2.h")"

# --- five bad passwords spread over both nodes lock the account ---------------
RBAD='{"username":"rita","password":"wrong-password-guess"}'
RGOOD='{"username":"rita","password":"Research-secret-passw0rd"}'
for n in a b a b a; do
  on "$n"; http_status POST /auth/login -H 'Content-Type: application/json' -d "$RBAD" >/dev/null
done
on b
expect_eq "after 5 failures over A and B the right password fails on B" 401 \
  "$(http_status POST /auth/login -H 'Content-Type: application/json' -d "$RGOOD")"
on a
expect_eq "… and on A" 401 "$(http_status POST /auth/login -H 'Content-Type: application/json' -d "$RGOOD")"
expect_eq "the account is locked in the shared store" 1 \
  "$(pv_sql records "SELECT count(*) FROM users WHERE username = 'rita' AND locked_until > extract(epoch from now())")"

# --- erase on A, read on B refused ---------------------------------------------
on a; pid2=$(jpost /fhir/Patient "$patient" -H "$(auth "$C")" | jq -r '.id // empty')
on b; expect_eq "B reads the patient (its key now cached on B)" 200 \
  "$(http_status GET "/fhir/Patient/$pid2" -H "$(auth "$C")")"
on a; AT=$(mfa_login admin "$ADMIN_PW")
expect_eq "erase on A" 200 "$(http_status POST /admin/erase -H "$(auth "$AT")" \
  -H 'Content-Type: application/json' -d "{\"patient\":\"$pid2\"}")"
on b; expect_eq "… B refuses to read it at once" 410 "$(http_status GET "/fhir/Patient/$pid2" -H "$(auth "$C")")"

# --- one audit trail: checkpoints of both nodes, proofs across nodes ----------
MV="$PV_SOURCE_DIR/tests/e2e/tools/merkle_verify.py"
on a; cpa=$(pcurl -H "$(auth "$AT")" "$BASE/audit/checkpoint")
expect_eq "A's checkpoint names A's key" "$(jq -r .key_id <<<"$cpa")" \
  "$(pv_sql records "SELECT key_id FROM audit_nodes WHERE key_id <> '$B_KID'")"
expect_eq "A's checkpoint verifies with A's key" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$VAULT/keys/audit-signing.pub" <<<"$cpa")"
SA=$(jq -r .size <<<"$cpa"); RA=$(jq -r .root <<<"$cpa")
pv_audit_log >"$T/log.jsonl"
on b
pcurl -H "$(auth "$AT")" "$BASE/audit/proof/inclusion?index=$((SA - 1))&size=$SA" >"$T/proof"
rc=0; python3 "$MV" inclusion --log "$T/log.jsonl" --index "$((SA - 1))" --size "$SA" --root "$RA" <"$T/proof" >/dev/null || rc=$?
expect_eq "B's inclusion proof verifies against A's checkpoint" 0 "$rc"
cpb=$(pcurl -H "$(auth "$AT")" "$BASE/audit/checkpoint")
expect_eq "B's checkpoint names B's key" "$B_KID" "$(jq -r .key_id <<<"$cpb")"
expect_eq "B's checkpoint verifies with B's key" "signature OK" \
  "$(python3 "$MV" checkpoint --pub "$NB/keys/audit-signing.pub" <<<"$cpb")"
SB=$(jq -r .size <<<"$cpb"); RB=$(jq -r .root <<<"$cpb")
on a
pcurl -H "$(auth "$AT")" "$BASE/audit/proof/consistency?from=$SA&to=$SB" >"$T/cproof"
rc=0; python3 "$MV" consistency --from "$SA" --to "$SB" --root-a "$RA" --root-b "$RB" <"$T/cproof" >/dev/null || rc=$?
expect_eq "A's consistency proof links A's checkpoint to B's" 0 "$rc"
# pid2 was created through A and read only through B before its erasure.
expect_eq "the trail holds A's create and B's read of one patient" "create read" \
  "$(jq -r "select(.id == \"$pid2\" and .outcome == \"allowed\" and (.action == \"create\" or .action == \"read\")) | .action" "$T/log.jsonl" | sort -u | tr '\n' ' ' | sed 's/ $//')"
rc=0; out=$("$PHIVAULT" audit verify "$VAULT" 2>&1) || rc=$?
expect_eq "audit verify (through A's directory) passes" 0 "$rc"
rc=0; "$PHIVAULT" audit verify "$NB" >/dev/null 2>&1 || rc=$?
expect_eq "audit verify (through B's directory) passes" 0 "$rc"
expect_eq "both nodes signed checkpoints" 2 \
  "$(pv_sql records "SELECT count(DISTINCT line::jsonb->>'key_id') FROM audit_checkpoints")"

# --- kill -9 of a node under write load through HAProxy ------------------------
on h
# writer N OUT — N creates through HAProxy; the id of every 201 to OUT.
writer() {
  local i code f=$T/w.$BASHPID
  for i in $(seq 1 "$1"); do
    code=$(pcurl -o "$f" -w '%{http_code}' --resolve "localhost:$HPORT:127.0.0.1" \
      -X POST -H 'Content-Type: application/json' -H "$(auth "$C")" -d "$patient" \
      "$H_BASE/fhir/Patient" 2>/dev/null || true)
    if [ "$code" == 201 ]; then jq -r .id <"$f" >>"$2"; fi
  done
}
: >"$T/acked1"; : >"$T/acked2"
hb=$(grep -c ' be/b ' "$T/haproxy.log" || true)
writer 60 "$T/acked1" & W1=$!
writer 60 "$T/acked2" & W2=$!
wait_for_line "$T/acked1" . 20 || true
sleep 0.5
kill -KILL "$B_PID"; wait "$B_PID" 2>/dev/null || true
at_kill=$(cat "$T/acked1" "$T/acked2" | wc -l)
wait "$W1" "$W2"
cat "$T/acked1" "$T/acked2" >"$T/acked"
n=$(wc -l <"$T/acked")
echo "acknowledged writes: $n of 120 ($at_kill before the kill)"
[ "$(grep -c ' be/b ' "$T/haproxy.log" || true)" -gt "$hb" ] && pass "B took part of the load" ||
  fail "HAProxy sent no write to B"
[ "$at_kill" -ge 1 ] && [ "$n" -gt "$at_kill" ] && pass "writes acknowledged before and after the kill" ||
  fail "the kill did not fall inside the load ($at_kill then $n)"
lost=0
on a
while read -r id; do
  [ "$(http_status GET "/fhir/Patient/$id" -H "$(auth "$C")")" == 200 ] || lost=$((lost + 1))
done <"$T/acked"
expect_eq "no acknowledged write lost after kill -9 of node B" 0 "$lost"
expect_eq "… each one audited" "$n" \
  "$(pv_audit_log | jq -r 'select(.action == "create" and .type == "Patient") | .id' | sort -u |
     grep -cxFf "$T/acked")"
rc=0; out=$("$PHIVAULT" audit verify "$VAULT" 2>&1) || rc=$?
expect_eq "the trail verifies after the kill" 0 "$rc"
[ "$rc" -eq 0 ] || echo "$out" >&2

# B comes back and serves again.
: >"$T/serveb.log"
"$PHIVAULT" serve "$NB" --listen "127.0.0.1:$BPORT" 2>>"$T/serveb.log" &
B_PID=$!
wait_for_line "$T/serveb.log" '"event":"listening"' 20 || true
on b
expect_eq "B restarts after kill -9 and reads A's writes" 200 \
  "$(http_status GET "/fhir/Patient/$(tail -n1 "$T/acked")" -H "$(auth "$C")")"

# --- node add copies a policy file kept in the vault directory ---------------
printf 'allow clinician * cruds careteam\n' >"$VAULT/site.policy"
pv_conf authz policy_file site.policy
rc=0; "$PHIVAULT" node add "$T/nodec" --from "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "node add with a policy file in the vault" 0 "$rc"
expect_eq "… copies it" "$(sha256sum <"$VAULT/site.policy")" "$(sha256sum <"$T/nodec/site.policy" 2>/dev/null)"
pv_conf authz policy_file sub/site.policy
rc=0; "$PHIVAULT" node add "$T/noded" --from "$VAULT" >/dev/null 2>&1 || rc=$?
expect_eq "a relative policy path with directories is refused" 1 "$rc"
expect_eq "… before anything is made" no "$([ -e "$T/noded" ] && echo yes || echo no)"
