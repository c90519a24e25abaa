#!/usr/bin/env bash
# Foundation: vault layout and modes, TLS 1.3 only, keep-alive, limits,
# security headers, error bodies, slowloris timeout, graceful SIGTERM.
source "$(dirname "$0")/lib.sh"
pv_setup
RAW="$PV_SOURCE_DIR/tests/e2e/tools/rawtls.py"

# --- init: layout, modes, refusal to overwrite -------------------------
pv_init
expect_eq "vault dir mode" 700 "$(stat -c %a "$VAULT")"
files=(phivault.conf keys/master-1.key keys/audit-signing.key keys/audit-signing.pub
  keys/index.key tls/cert.pem tls/key.pem)
if pv_is_pg; then
  # Records and keys live in the two databases, not in the directory.
  for f in phivault.db keys/keys.db; do
    [ ! -e "$VAULT/$f" ] && pass "PostgreSQL vault: no $f" || fail "PostgreSQL vault has $f"
  done
  expect_contains "conf names the backend" "$(cat "$VAULT/phivault.conf")" "backend = postgresql"
  expect_not_contains "conf holds no password" "$(cat "$VAULT/phivault.conf")" \
    "$(cut -d: -f5- "$PV_PGPASS")"
else
  files+=(phivault.db keys/keys.db)
fi
for f in "${files[@]}"; do
  expect_eq "mode of $f" 600 "$(stat -c %a "$VAULT/$f")"
done
for d in keys tls audit; do
  expect_eq "mode of $d/" 700 "$(stat -c %a "$VAULT/$d")"
done
expect_eq "master key is 256 bits" 32 "$(stat -c %s "$VAULT/keys/master-1.key")"
before=$(sha256sum "$VAULT/keys/master-1.key")
rc=0; printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$VAULT" >/dev/null 2>&1 || rc=$?
expect_ne "init refuses an existing vault" 0 "$rc"
expect_eq "existing master key untouched" "$before" "$(sha256sum "$VAULT/keys/master-1.key")"
rc=0; printf 'short\n' | "$PHIVAULT" init "$T/weak" >/dev/null 2>&1 || rc=$?
expect_eq "init refuses a weak admin password" 1 "$rc"
[ ! -e "$T/weak" ] && pass "weak password leaves no vault" || fail "weak password left a vault"
rc=0; "$PHIVAULT" init >/dev/null 2>&1 || rc=$?
expect_eq "init without DIR is a usage error" 2 "$rc"

# --- db migrate; the store's connection settings (issue 15) ---------------
rc=0; out=$("$PHIVAULT" db migrate "$VAULT" 2>&1) || rc=$?
expect_eq "db migrate exits 0" 0 "$rc"
if pv_is_pg; then
  expect_contains "db migrate on a current schema is a no-op" "$out" "schema "
  n=$(grep -o 'schema [0-9]* -> [0-9]*' <<<"$out" | awk '{print ($2 == $4 && $2 > 0) ? "same" : "moved"}')
  expect_eq "from = to (init migrated)" same "$n"
else
  expect_contains "db migrate on SQLite says what happens" "$out" "SQLite vault"
fi
rc=0; out=$(printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$T/p1" --store "host=127.0.0.1 port=1 dbname=x" 2>&1) || rc=$?
expect_eq "init --store without --keys-store: the default keys database (unreachable here)" 1 "$rc"
expect_contains "… named: the records database's name + _keys" "$out" "dbname='x_keys'"
expect_eq "… and nothing is left on disk" no "$([ -e "$T/p1" ] && echo yes || echo no)"
rc=0; "$PHIVAULT" init "$T/p1" --store "postgresql://u:secret@127.0.0.1/x" \
  --keys-store "dbname=k" >"$T/p1.out" 2>&1 || rc=$?
expect_eq "init refuses a password in the DSN" 2 "$rc"
expect_contains "... saying where it belongs" "$(cat "$T/p1.out")" "password_file or PGPASSFILE"
expect_not_contains "... without echoing it" "$(cat "$T/p1.out")" "secret"
[ ! -e "$T/p1" ] && pass "... and leaves nothing" || fail "a refused init left $T/p1"
if pv_is_pg; then
  # The same databases a second time: they hold a vault already.
  rc=0; printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$T/p2" --store "$PV_DSN" \
    --keys-store "$PV_KEYS_DSN" ${PV_PG_PWFILE:+--password-file "$PV_PG_PWFILE"} \
    >"$T/p2.out" 2>&1 || rc=$?
  expect_eq "init refuses databases that hold a vault" 1 "$rc"
  expect_contains "... naming node add" "$(cat "$T/p2.out")" "node add"
  [ ! -e "$T/p2" ] && pass "... and leaves no directory" || fail "a refused init left $T/p2"
  rc=0; printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$T/p3" \
    --store "host=$PGHOST port=$PGPORT user=$PGUSER dbname=no_such_db" \
    --keys-store "$PV_KEYS_DSN" ${PV_PG_PWFILE:+--password-file "$PV_PG_PWFILE"} \
    >/dev/null 2>&1 || rc=$?
  expect_eq "init refuses a database it cannot reach" 1 "$rc"
  [ ! -e "$T/p3" ] && pass "... and leaves no directory" || fail "a failed init left $T/p3"
  # Migrations are explicit: a node on empty databases refuses to start
  # and names the command; db migrate creates the schema (0 -> N).
  cp -a "$VAULT" "$T/v2"
  for d in "${PV_DB}_m" "${PV_DB}_mk"; do
    "$PV_SOURCE_DIR/tests/pg/pgctl.sh" createdb "$PV_PG_DIR" "$d"; PV_PG_DBS+=("$d")
  done
  printf '\n[store]\ndsn = %s\nkeys_dsn = %s\n' "${PV_DSN}_m" "${PV_KEYS_DSN/%_keys/_mk}" >>"$T/v2/phivault.conf"
  rc=0; "$PHIVAULT" user list "$T/v2" >/dev/null 2>"$T/v2.err" || rc=$?
  expect_eq "an unmigrated database is refused" 1 "$rc"
  expect_contains "... naming db migrate" "$(cat "$T/v2.err")" "db migrate"
  rc=0; out=$("$PHIVAULT" db migrate "$T/v2" 2>&1) || rc=$?
  expect_eq "db migrate on empty databases: exit 0" 0 "$rc"
  expect_contains "... from schema 0" "$out" "schema 0 -> "
  rc=0; "$PHIVAULT" user list "$T/v2" >/dev/null 2>&1 || rc=$?
  expect_eq "after db migrate the vault opens" 0 "$rc"
  rm -rf "$T/v2"
  # A password in phivault.conf stops every command, not only init.
  cp "$VAULT/phivault.conf" "$T/conf.orig"
  pv_conf store dsn "$PV_DSN password=x"
  rc=0; "$PHIVAULT" user list "$VAULT" >/dev/null 2>"$T/pwconf.err" || rc=$?
  expect_eq "a DSN with a password in the conf is refused" 1 "$rc"
  expect_contains "... as a configuration error" "$(cat "$T/pwconf.err")" "must not carry a password"
  cp "$T/conf.orig" "$VAULT/phivault.conf"
  if [ -n "${PV_PG_PWFILE:-}" ]; then
    expect_eq "password_file is in the conf" 1 "$(grep -c '^password_file = ' "$VAULT/phivault.conf")"
    [ -z "${PGPASSFILE:-}" ] && pass "PGPASSFILE unset: the password comes from the file" \
      || fail "PGPASSFILE set in password_file mode"
    chmod 640 "$PV_PG_PWFILE"
    rc=0; timeout 10 "$PHIVAULT" serve "$VAULT" --listen 127.0.0.1:0 2>"$T/pwmode.err" || rc=$?
    expect_eq "serve refuses a group-readable password_file" 1 "$rc"
    expect_contains "... saying why" "$(cat "$T/pwmode.err")" "mode 0600 or 0400"
    chmod 400 "$PV_PG_PWFILE"
    rc=0; "$PHIVAULT" user list "$VAULT" >/dev/null 2>&1 || rc=$?
    expect_eq "a 0400 password_file works" 0 "$rc"
    chmod 600 "$PV_PG_PWFILE"
  else
    pv_skip "password_file mode checks" "this run passes the password through PGPASSFILE (CTest runs e2e-pg.test_foundation with PV_PG_PASSWORD_FILE=1)"
  fi
fi

# A vault readable by others is refused at start-up (fail closed).
chmod 755 "$VAULT"
rc=0; timeout 10 "$PHIVAULT" serve "$VAULT" --listen 127.0.0.1:0 2>/dev/null || rc=$?
expect_eq "serve refuses a group/world-readable vault" 1 "$rc"
chmod 700 "$VAULT"

pv_conf server idle_timeout 2s
pv_conf server max_body 65536
pv_user doc clinician "Clinician-pass-1234"
pv_start

# --- TLS 1.3 only --------------------------------------------------------
out=$(openssl s_client -connect 127.0.0.1:$PORT -tls1_2 </dev/null 2>&1 || true)
expect_contains "TLS 1.2 handshake refused" "$out" "Cipher is (NONE)"
out=$(openssl s_client -connect 127.0.0.1:$PORT -tls1_1 </dev/null 2>&1 || true)
expect_not_contains "TLS 1.1 handshake refused" "$out" "Cipher is TLS"
out=$(openssl s_client -connect 127.0.0.1:$PORT -tls1_3 -CAfile "$VAULT/tls/cert.pem" </dev/null 2>&1 || true)
expect_contains "TLS 1.3 handshake accepted" "$out" "TLSv1.3"
expect_contains "certificate verifies" "$out" "Verify return code: 0 (ok)"

# --- healthz and the security headers ----------------------------------
hdrs=$(pcurl -D - -o "$T/body" "$BASE/healthz")
expect_contains "healthz 200" "$hdrs" "HTTP/1.1 200"
expect_eq "healthz body" '{"status":"ok"}' "$(cat "$T/body")"
expect_contains "HSTS" "$hdrs" "Strict-Transport-Security: max-age="
expect_contains "Cache-Control no-store" "$hdrs" "Cache-Control: no-store"
expect_contains "nosniff" "$hdrs" "X-Content-Type-Options: nosniff"
expect_contains "CSP" "$hdrs" "Content-Security-Policy: default-src 'none'"
expect_contains "request id" "$hdrs" "X-Request-Id: "

# --- keep-alive: one connection serves several requests -----------------
out=$(pcurl -v -o /dev/null -o /dev/null "$BASE/healthz" "$BASE/healthz" 2>&1)
expect_contains "curl reuses the connection" "$out" "Re-using existing connection"
expect_eq "five requests on one TLS connection" 5 \
  "$(python3 "$RAW" "$PORT" "$VAULT/tls/cert.pem" pipeline 5)"

# --- errors: 404, 405, 413, 400, 431 -------------------------------------
body=$(pcurl "$BASE/no/such/path")
expect_eq "unknown path 404" 404 "$(http_status GET /no/such/path)"
expect_eq "404 is an OperationOutcome" OperationOutcome "$(jq -r .resourceType <<<"$body")"
expect_eq "wrong method 405" 405 "$(http_status DELETE /healthz)"
head -c 70000 /dev/zero | tr '\0' 'a' >"$T/big"
expect_eq "declared oversize body 413" 413 "$(http_status POST /healthz --data-binary @"$T/big")"
body=$(pcurl -X POST --data-binary @"$T/big" "$BASE/healthz")
expect_eq "413 is an OperationOutcome" OperationOutcome "$(jq -r .resourceType <<<"$body")"
# A refused body is drained, so the reply survives and the connection stays.
out=$(pcurl -v -o /dev/null -X POST --data-binary @"$T/big" "$BASE/healthz" \
  --next --cacert "$VAULT/tls/cert.pem" -o /dev/null "$BASE/healthz" 2>&1)
expect_contains "413 then GET on one connection" "$out" "Re-using existing connection"
expect_eq "… both answered (413, 200)" "413 200" \
  "$(grep -o '^< HTTP/1.1 [0-9]*' <<<"$out" | awk '{printf "%s%s", s, $3; s=" "}')"
# A client waiting for 100 Continue is refused before it sends the body.
out=$(pcurl -v -o /dev/null -H 'Expect: 100-continue' -X POST \
  --data-binary @"$T/big" "$BASE/healthz" 2>&1)
expect_contains "Expect: 100-continue gets 413 at once" "$out" "< HTTP/1.1 413"
expect_not_contains "… and no 100 Continue" "$out" "HTTP/1.1 100"
expect_eq "chunked oversize body 413" 413 \
  "$(http_status POST /auth/login -H 'Transfer-Encoding: chunked' --data-binary @"$T/big")"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nthis is not a header\r\n\r\n' >"$T/bad"
out=$(python3 "$RAW" "$PORT" "$VAULT/tls/cert.pem" send "$T/bad")
expect_contains "malformed header line 400" "$out" "HTTP/1.1 400"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12abc\r\n\r\n' >"$T/bad2"
out=$(python3 "$RAW" "$PORT" "$VAULT/tls/cert.pem" send "$T/bad2")
expect_contains "malformed Content-Length 400" "$out" "HTTP/1.1 400"
long=$(head -c 20000 /dev/zero | tr '\0' 'x')
expect_eq "oversized headers 431" 431 "$(http_status GET /healthz -H "X-Big: $long")"
expect_eq "server still healthy after bad input" 200 "$(http_status GET /healthz)"

# --- slowloris: an unfinished request is closed after the idle timeout ---
out=$(python3 "$RAW" "$PORT" "$VAULT/tls/cert.pem" slow 10)
expect_contains "trickling client disconnected" "$out" "closed"

# --- metrics -------------------------------------------------------------
m=$(pcurl "$BASE/metrics")
expect_contains "requests by route, method and status" "$m" 'phivault_http_requests_total{route="/healthz",method="GET",status="200"}'
expect_contains "latency histogram" "$m" 'phivault_http_request_duration_seconds_bucket{route="/healthz",method="GET",le="0.001"}'
expect_contains "open connections gauge" "$m" "phivault_open_connections"
# One series per route and method (outside review, issue 13, finding 17):
# GET and PUT of /fhir/{type}/{id} used to print the same label set, and
# a Prometheus server keeps one of the two samples. Parsed as a scraper
# would (tests/e2e/tools/metrics_check.py), and linted by promtool.
tok=$(mfa_login doc "Clinician-pass-1234")
pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"female"}' -H "$(auth "$tok")" | jq -r .id)
codes=""
for i in 1 2 3; do codes+=$(http_status GET "/fhir/Patient/$pid" -H "$(auth "$tok")")" "; done
for g in male other; do
  codes+=$(http_status PUT "/fhir/Patient/$pid" -H "$(auth "$tok")" -H 'Content-Type: application/json' \
    -d "{\"resourceType\":\"Patient\",\"id\":\"$pid\",\"gender\":\"$g\"}")" "
done
expect_eq "metrics: 3 GETs and 2 PUTs of one route pattern" "200 200 200 200 200 " "$codes"
pcurl -o "$T/metrics.txt" "$BASE/metrics"
R='route="/fhir/{type}/{id}"'
out=$(python3 "$PV_SOURCE_DIR/tests/e2e/tools/metrics_check.py" "$T/metrics.txt" \
  "phivault_http_requests_total{$R,method=\"GET\",status=\"200\"}=3" \
  "phivault_http_requests_total{$R,method=\"PUT\",status=\"200\"}=2" \
  "phivault_http_request_duration_seconds_count{$R,method=\"GET\"}=3" \
  "phivault_http_request_duration_seconds_count{$R,method=\"PUT\"}=2" \
  "phivault_http_requests_total{route=\"unmatched\",method=\"DELETE\",status=\"405\"}=1" \
  2>&1) || true
expect_eq "metrics: no series twice; GET and PUT counted apart, right values" "" "$out"
if command -v promtool >/dev/null; then
  out=$(promtool check metrics <"$T/metrics.txt" 2>&1) && rc=0 || rc=$?
  expect_eq "metrics: promtool check metrics passes${out:+ ($out)}" 0 "$rc"
else
  echo "skip: promtool not installed (optional; tools/metrics_check.py is the check)"
fi

# --- logs: JSON lines with request ids, no query strings -----------------
pcurl -o /dev/null "$BASE/healthz?name=CANARY-QUERY-VALUE"
sleep 0.2
if jq -e . "$T/serve.log" >/dev/null 2>&1; then pass "every log line is JSON"; else fail "log has non-JSON lines"; fi
expect_contains "log lines carry request ids" "$(cat "$T/serve.log")" '"rid":"'
expect_not_contains "query values never logged" "$(cat "$T/serve.log")" "CANARY-QUERY-VALUE"

# --- graceful SIGTERM ----------------------------------------------------
pv_stop
expect_eq "SIGTERM exits 0" 0 "$PV_RC"
expect_contains "stop logged" "$(cat "$T/serve.log")" '"event":"stopped"'

# --- no leaks under valgrind (optimised build only) ----------------------
if [ "${PV_SANITIZE:-OFF}" != "ON" ] && command -v valgrind >/dev/null; then
  pv_start --valgrind
  pcurl -o /dev/null "$BASE/healthz"
  pcurl -o /dev/null "$BASE/metrics"
  pcurl -o /dev/null -X POST --data-binary @"$T/big" "$BASE/healthz" || true
  pcurl -o /dev/null "$BASE/missing"
  pv_stop
  expect_eq "valgrind: SIGTERM exit 0, no definite leaks or errors" 0 "$PV_RC"
  [ "$PV_RC" == 0 ] || cat "$T/valgrind.log" >&2
fi
