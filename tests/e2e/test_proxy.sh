#!/usr/bin/env bash
# test_proxy.sh — behind a load balancer (issue 15): the PROXY protocol v2
# from [proxy] trusted peers only, through a real HAProxy (TCP mode, TLS
# passes through, send-proxy-v2), and the [network] allow-lists.
#
# Loopback addresses stand for machines: 127.0.0.1 is HAProxy's (the only
# trusted peer); clients are 127.0.0.5 / .6 (curl --interface through
# HAProxy), 127.0.0.2 (a direct, untrusted client), and any address a
# PROXY header from the trusted peer names (tools/proxyclient.py).
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
command -v haproxy >/dev/null || { echo "haproxy missing (scripts/deps test)" >&2; exit 1; }

PC=(python3 "$PV_SOURCE_DIR/tests/e2e/tools/proxyclient.py")
pv_conf proxy trusted "127.0.0.1/32"
pv_conf proxy header_timeout 1s
pv_conf auth ip_lockout_threshold 3
# rita (a researcher: no MFA needed) may only act from 127.0.0.64/26;
# every admin only from 127.0.0.128/25.
pv_conf network "user.rita" "127.0.0.64/26"
pv_conf network "role.admin" "127.0.0.128/25"
pv_user rita researcher "Research-secret-passw0rd"
RITA='{"username":"rita","password":"Research-secret-passw0rd"}'
# a service client (RFC 9421) only from 127.0.0.64/26 as well
node_clients
kid=$(new_client feed "system/Patient.rs")
pv_conf network "client.feed" "127.0.0.64/26"
pv_start

# --- HAProxy in front, on its own port: TCP, send-proxy-v2 -----------------
HPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/haproxy.cfg" <<EOF
global
  maxconn 200
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:$HPORT
  default_backend be
backend be
  server pv 127.0.0.1:$PORT send-proxy-v2 source 127.0.0.1
EOF
haproxy -f "$T/haproxy.cfg" -db >"$T/haproxy.log" 2>&1 &
HA_PID=$!
stop_haproxy() { kill -TERM "$HA_PID" 2>/dev/null; wait "$HA_PID" 2>/dev/null || true; }
# HAProxy first, then lib.sh's teardown with the script's own status.
on_exit() {
  local rc=$?
  set +e
  stop_haproxy
  (exit "$rc")
  pv_teardown
}
trap on_exit EXIT
for i in $(seq 1 50); do
  curl -s -o /dev/null --max-time 2 --cacert "$VAULT/tls/cert.pem" \
    "https://localhost:$HPORT/healthz" --resolve "localhost:$HPORT:127.0.0.1" && break
  sleep 0.1
done

# hcurl FROM ARGS... — through HAProxy, from loopback address FROM.
hcurl() {
  local from=$1; shift
  curl -sS --max-time 10 --cacert "$VAULT/tls/cert.pem" --interface "$from" \
    --resolve "localhost:$HPORT:127.0.0.1" "$@"
}
hlogin_status() { # hlogin_status FROM JSON
  hcurl "$1" -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "$2" "https://localhost:$HPORT/auth/login"
}
# last_entry ACTION — the newest audit entry of that action.
last_entry() { pv_audit_log | grep "\"action\":\"$1\"" | tail -n 1 || true; }

# --- through HAProxy: the audit trail and the log see the client ----------
expect_eq "healthz through haproxy" 200 \
  "$(hcurl 127.0.0.5 -o /dev/null -w '%{http_code}' "https://localhost:$HPORT/healthz")"
expect_eq "bad password through haproxy" 401 \
  "$(hlogin_status 127.0.0.5 '{"username":"rita","password":"Wrong-passw0rd-xx"}')"
e=$(last_entry login)
expect_contains "audit src is the client, not haproxy" "$e" '"src":"127.0.0.5"'
expect_contains "access log peer is the client" "$(cat "$T/serve.log")" '"peer":"127.0.0.5"'

# --- lockout by address sees the client ------------------------------------
for i in 1 2; do hlogin_status 127.0.0.5 '{"username":"nobody","password":"Wrong-passw0rd-xx"}' >/dev/null; done
expect_eq "client .5 locked out by address after 3 failures" 429 \
  "$(hlogin_status 127.0.0.5 '{"username":"nobody","password":"Wrong-passw0rd-xx"}')"
expect_eq "client .6 behind the same haproxy is not" 401 \
  "$(hlogin_status 127.0.0.6 '{"username":"nobody","password":"Wrong-passw0rd-xx"}')"

# --- a trusted peer must send a header --------------------------------------
rc=0
curl -sS --max-time 5 -o /dev/null --cacert "$VAULT/tls/cert.pem" \
  --resolve "localhost:$PORT:127.0.0.1" --interface 127.0.0.1 \
  "https://localhost:$PORT/healthz" 2>/dev/null || rc=$?
expect_ne "direct TLS from the trusted address refused" 0 "$rc"
expect_contains "refusal logged with its rule" "$(cat "$T/serve.log")" \
  '"event":"proxy_header_refused","peer":"127.0.0.1","rule":"not a PROXY protocol v2 signature"'
for m in v1 unspec huge; do
  expect_eq "trusted peer, $m header: closed" closed \
    "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy "$m" GET /healthz | head -n 1)"
done
expect_eq "LOCAL header (health check) served" 200 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy local GET /healthz | head -n 1)"
expect_eq "IPv6 client in the header" 200 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 2001:db8::7 GET /healthz | head -n 1)"
expect_contains "IPv6 client logged" "$(cat "$T/serve.log")" '"peer":"2001:db8::7"'

# A stalling trusted peer is cut after [proxy] header_timeout, and direct
# clients are served meanwhile (the accept loop never waits on it).
"${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy stall GET /healthz >"$T/stall.out" &
SP=$!
sleep 0.3
expect_eq "direct client served while a proxy stalls" 200 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --from 127.0.0.2 GET /healthz | head -n 1)"
wait "$SP" || true
st=$(cat "$T/stall.out")
expect_contains "stalling proxy cut" "$st" "closed after"
secs=${st#closed after }
if [ "${secs%.*}" -le 2 ] 2>/dev/null; then pass "cut within header_timeout ($secs s)"
else fail "stall cut after '$st'"; fi
expect_contains "stall logged" "$(cat "$T/serve.log")" '"rule":"no complete PROXY header in time"'

# --- an untrusted peer's header is not honoured -----------------------------
expect_eq "PROXY header from an untrusted address: not honoured" closed \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --from 127.0.0.2 --proxy 127.0.0.70 POST /auth/login --body "$RITA" | head -n 1)"
expect_eq "untrusted address served directly, as itself" 401 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --from 127.0.0.2 POST /auth/login \
     --body '{"username":"rita","password":"Wrong-passw0rd-xx"}' | head -n 1)"
expect_contains "audited with its own address" "$(last_entry login)" '"src":"127.0.0.2"'

m=$(pcurl "$BASE/metrics" --interface 127.0.0.2 2>/dev/null || true)
expect_contains "refusals counted in /metrics" "$m" "phivault_proxy_refused_total"

# --- [network] allow-lists --------------------------------------------------
# rita from outside 127.0.0.64/26: the same 401 as a wrong password (no
# password oracle), audited as denied with reason "network".
out=$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 127.0.0.9 POST /auth/login --body "$RITA")
expect_eq "login from outside the allow-list: 401" 401 "$(head -n 1 <<<"$out")"
expect_contains "same reply as a bad password" "$out" '"invalid_credentials"'
e=$(last_entry login)
expect_contains "refused login audited: denied" "$e" '"outcome":"denied"'
expect_contains "refused login audited: reason network" "$e" '"reason":"network"'
expect_contains "refused login audited: client address" "$e" '"src":"127.0.0.9"'

# from inside, through the real HAProxy (curl from 127.0.0.66)
tok=$(hcurl 127.0.0.66 -X POST -H 'Content-Type: application/json' -d "$RITA" \
  "https://localhost:$HPORT/auth/login" | jq -r '.token // empty')
expect_ne "login from inside the allow-list" "" "$tok"
expect_eq "session used from inside" 200 \
  "$(hcurl 127.0.0.66 -o /dev/null -w '%{http_code}' -H "$(auth "$tok")" "https://localhost:$HPORT/auth/sessions")"
# the same session from outside: 403 network, audited
out=$(hcurl 127.0.0.5 -w '\n%{http_code}' -H "$(auth "$tok")" "https://localhost:$HPORT/auth/sessions")
expect_eq "session used from outside: 403" 403 "$(tail -n 1 <<<"$out")"
expect_contains "403 says network" "$out" '"code":"network"'
expect_not_contains "403 names no internals" "$out" "127.0.0"
e=$(last_entry session.list)
expect_contains "403 audited: reason network" "$e" '"reason":"network"'
expect_contains "403 audited: denied" "$e" '"outcome":"denied"'
expect_contains "403 audited: client address" "$e" '"src":"127.0.0.5"'
# on a route that is not otherwise audited, too (action "request")
expect_eq "unaudited route from outside: 403" 403 \
  "$(hcurl 127.0.0.5 -o /dev/null -w '%{http_code}' -H "$(auth "$tok")" "https://localhost:$HPORT/audit/checkpoint")"
e=$(last_entry request)
expect_contains "audited as action request, reason network" "$e" '"reason":"network"'
# a PROXY header naming an inside address, from the trusted peer
expect_eq "PROXY source inside the list" 200 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 127.0.0.100 GET /auth/sessions \
     --header "$(auth "$tok")" | head -n 1)"
expect_eq "PROXY source outside the list" 403 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 127.0.0.128 GET /auth/sessions \
     --header "$(auth "$tok")" | head -n 1)"

# a signed request: direct (untrusted peers are served as themselves)
# from inside and from outside the client's list
h=$(signed_headers GET /audit/checkpoint "$kid" "$T/feed.pem")
expect_eq "signed request from inside the client's list" 200 \
  "$(scurl "$h" GET /audit/checkpoint --interface 127.0.0.70 -o /dev/null -w '%{http_code}')"
h=$(signed_headers GET /audit/checkpoint "$kid" "$T/feed.pem")
out=$(scurl "$h" GET /audit/checkpoint --interface 127.0.0.2 -w '\n%{http_code}')
expect_eq "signed request from outside: 403" 403 "$(tail -n 1 <<<"$out")"
expect_contains "signed refusal says network" "$out" '"code":"network"'
e=$(last_entry signed-request)
expect_contains "signed refusal audited" "$e" '"reason":"network"'
expect_contains "signed refusal audited with the client's address" "$e" '"src":"127.0.0.2"'

# role.admin: the admin only from 127.0.0.128/25
ADMIN="{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}"
expect_eq "admin login from outside the role's list" 401 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 127.0.0.66 POST /auth/login --body "$ADMIN" | head -n 1)"
expect_eq "admin login from inside the role's list" 200 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 127.0.0.200 POST /auth/login --body "$ADMIN" | head -n 1)"
# an outsider's refused logins never lock the account out
for i in 1 2 3 4 5 6; do
  "${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy "192.0.2.$i" POST /auth/login \
    --body "{\"username\":\"admin\",\"password\":\"Wrong-passw0rd-$i\"}" >/dev/null
done
expect_eq "admin not locked out by outsiders" 200 \
  "$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy 127.0.0.201 POST /auth/login --body "$ADMIN" | head -n 1)"
m=$("${PC[@]}" "$PORT" "$VAULT/tls/cert.pem" --proxy local GET /metrics)
expect_contains "network refusals counted" "$m" "phivault_network_denied_total"

stop_haproxy
pv_stop
expect_eq "audit trail verifies" 0 "$("$PHIVAULT" audit verify "$VAULT" >/dev/null 2>&1; echo $?)"
