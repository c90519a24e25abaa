# tests/e2e/lib.sh — shared helpers for end-to-end tests.
#
# Each test sources this file, calls pv_setup, creates a vault with
# pv_init, optionally tweaks phivault.conf with pv_conf, and starts the
# real server on a free loopback port with pv_start. Everything lives in
# a temp directory removed on exit; the server is always stopped.
set -euo pipefail

: "${PHIVAULT:?PHIVAULT must point at the phivault binary}"
PV_SOURCE_DIR=${PV_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ADMIN_PW=${ADMIN_PW:-"e2e-Root-Passw0rd-long-x"}
PV_FAILS=0
PV_PID=""

pv_setup() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/phivault-e2e.XXXXXX")
  VAULT=$T/vault
  trap pv_teardown EXIT
}

pv_teardown() {
  local rc=$?
  if [ -n "$PV_PID" ] && kill -0 "$PV_PID" 2>/dev/null; then
    kill -TERM "$PV_PID" 2>/dev/null || true
    local src=0
    wait "$PV_PID" 2>/dev/null || src=$?
    [ "$src" -eq 0 ] || fail "server exited with status $src"
  fi
  if [ "$rc" -ne 0 ] || [ "$PV_FAILS" -ne 0 ]; then
    echo "--- server log (tail) ---" >&2
    tail -n 40 "$T/serve.log" 2>/dev/null >&2 || true
  fi
  rm -rf "$T"
  if [ "$PV_FAILS" -ne 0 ]; then
    echo "FAILED: $PV_FAILS check(s)" >&2
    exit 1
  fi
  exit "$rc"
}

fail() { echo "FAIL: $*" >&2; PV_FAILS=$((PV_FAILS + 1)); }
pass() { echo "ok: $*"; }

expect_eq() { # expect_eq WHAT EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
expect_ne() {
  if [ "$2" != "$3" ]; then pass "$1"; else fail "$1: did not expect '$3'"; fi
}
expect_contains() { # expect_contains WHAT HAYSTACK NEEDLE
  if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1: '$3' not found in: ${2:0:400}"; fi
}
expect_not_contains() {
  if [[ "$2" != *"$3"* ]]; then pass "$1"; else fail "$1: '$3' unexpectedly present"; fi
}

pv_init() { # pv_init [ADMIN_NAME]
  printf '%s\n' "$ADMIN_PW" | "$PHIVAULT" init "$VAULT" --admin "${1:-admin}" >/dev/null
  # Tests log in far more often than people do; the login limiter has
  # its own test (test_abuse.sh), which sets it back.
  pv_conf ratelimit login_per_minute 6000
  pv_conf ratelimit login_burst 1000
}

pv_conf() { # pv_conf SECTION KEY VALUE — appended; later keys win
  printf '\n[%s]\n%s = %s\n' "$1" "$2" "$3" >>"$VAULT/phivault.conf"
}

# pv_start [--valgrind] — serve on 127.0.0.1:${PV_PORT:-0} (0: any free
# port; set PV_PORT=$PORT to restart on the same one); sets PORT and BASE.
pv_start() {
  local wrapper=()
  if [ "${1:-}" == "--valgrind" ]; then
    wrapper=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite
      --error-exitcode=99 --track-fds=no --log-file="$T/valgrind.log")
  fi
  : >"$T/serve.log"
  "${wrapper[@]}" "$PHIVAULT" serve "$VAULT" --listen "127.0.0.1:${PV_PORT:-0}" 2>>"$T/serve.log" &
  PV_PID=$!
  local i
  for i in $(seq 1 600); do
    PORT=$(grep -o '"event":"listening","port":"[0-9]*"' "$T/serve.log" 2>/dev/null \
      | grep -o '[0-9]*"$' | tr -d '"' | tail -n1 || true)
    if [ -n "$PORT" ]; then
      BASE=https://127.0.0.1:$PORT
      return 0
    fi
    kill -0 "$PV_PID" 2>/dev/null || { cat "$T/serve.log" >&2; return 1; }
    sleep 0.1
  done
  echo "server did not start" >&2
  return 1
}

# pv_stop — SIGTERM and wait; the exit status lands in PV_RC.
pv_stop() {
  PV_RC=0
  kill -TERM "$PV_PID"
  wait "$PV_PID" || PV_RC=$?
  PV_PID=""
  # A clean stop exits 0; under the sanitizers a leak or UB report
  # changes the status, so every test checks for them on every stop.
  [ "$PV_RC" -eq 0 ] || fail "server exited with status $PV_RC"
}

pcurl() { curl -sS --cacert "$VAULT/tls/cert.pem" "$@"; }

# http_status METHOD PATH [curl args...] — prints the status code only.
http_status() {
  local m=$1 p=$2; shift 2
  pcurl -o /dev/null -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}

# pv_user NAME ROLE PASSWORD [PATIENT] — adds an account via the CLI.
pv_user() {
  if [ -n "${4:-}" ]; then
    printf '%s\n' "$3" | "$PHIVAULT" user add "$VAULT" --name "$1" --role "$2" --patient "$4" >/dev/null
  else
    printf '%s\n' "$3" | "$PHIVAULT" user add "$VAULT" --name "$1" --role "$2" >/dev/null
  fi
}

# jpost PATH JSON [curl args] — POST JSON, print the body.
jpost() {
  local p=$1 d=$2; shift 2
  pcurl -X POST -H 'Content-Type: application/json' -d "$d" "$@" "$BASE$p"
}

# login NAME PASSWORD [OTP] — prints the token (empty on failure).
login() {
  local body
  if [ -n "${3:-}" ]; then
    body=$(jq -nc --arg u "$1" --arg p "$2" --arg o "$3" '{username:$u,password:$p,otp:$o}')
  else
    body=$(jq -nc --arg u "$1" --arg p "$2" '{username:$u,password:$p}')
  fi
  jpost /auth/login "$body" | jq -r '.token // empty'
}

# mfa_login NAME PASSWORD — logs in, enrols TOTP and confirms it; prints
# the MFA-verified token and leaves the base32 secret in $T/NAME.secret.
mfa_login() {
  local tok sec
  tok=$(login "$1" "$2")
  sec=$(pcurl -X POST -H "Authorization: Bearer $tok" "$BASE/auth/mfa/enroll" | jq -r .secret)
  printf '%s' "$sec" >"$T/$1.secret"
  jpost /auth/mfa/confirm "{\"otp\":\"$(oathtool --totp -b "$sec")\"}" \
    -H "Authorization: Bearer $tok" | jq -r '.token // empty'
}

auth() { printf 'Authorization: Bearer %s' "$1"; }

# pv_webhook_start — starts a local webhook receiver; sets HOOK_URL and
# HOOK_OUT (one received alert per line).
pv_webhook_start() {
  HOOK_OUT=$T/webhook.out
  : >"$HOOK_OUT"
  python3 "$PV_SOURCE_DIR/tests/e2e/tools/webhook_sink.py" "$HOOK_OUT" "$T/hook.port" &
  HOOK_PID=$!
  local i
  for i in $(seq 1 50); do [ -s "$T/hook.port" ] && break; sleep 0.1; done
  HOOK_URL="http://127.0.0.1:$(cat "$T/hook.port")/alerts"
}

# wait_for_line FILE PATTERN [SECONDS] — polls until grep finds PATTERN.
wait_for_line() {
  local i n=$(( ${3:-5} * 10 ))
  for i in $(seq 1 "$n"); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# node_clients — installs the third-party npm clients once per test run
# into $T/node (package-lock.json pins them); sets SIGN to the signer.
node_clients() {
  mkdir -p "$T/node"
  cp "$PV_SOURCE_DIR/tests/e2e/node/package.json" \
     "$PV_SOURCE_DIR/tests/e2e/node/package-lock.json" \
     "$PV_SOURCE_DIR/tests/e2e/node/sign.mjs" "$T/node/"
  (cd "$T/node" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1)
  SIGN=(node "$T/node/sign.mjs")
}

# new_client NAME SCOPES — makes an Ed25519 key pair; prints the key id.
# The private key is left in $T/NAME.pem.
new_client() {
  openssl genpkey -algorithm ed25519 -out "$T/$1.pem" 2>/dev/null
  openssl pkey -in "$T/$1.pem" -pubout -outform DER | tail -c 32 | base64 |
    "$PHIVAULT" client add "$VAULT" --name "$1" --scopes "$2"
}

# signed_headers METHOD PATH KEYID PEM [BODYFILE] — curl -H arguments file.
signed_headers() {
  local out=$T/sig.$RANDOM
  "${SIGN[@]}" "$1" "$BASE$2" "$3" "$4" ${5:+"$5"} >"$out"
  echo "$out"
}

# scurl HEADERFILE METHOD PATH [curl args] — sends with those headers.
scurl() {
  local hf=$1 m=$2 p=$3; shift 3
  local args=() line
  while IFS= read -r line; do args+=(-H "$line"); done <"$hf"
  pcurl -X "$m" "${args[@]}" "$@" "$BASE$p"
}

# held_request METHOD PATH TOKEN JSON COMMAND... — sends the request with
# all of its body but the last byte, runs COMMAND while it is held, then
# sends the last byte; prints the response status (the red-team pass
# after issue 13: a change made while a body is on its way must win).
held_request() {
  local m=$1 p=$2 tok=$3 body=$4 hp; shift 4
  printf '%s' "$body" >"$T/held.body"
  rm -f "$T/held.go"
  python3 "$PV_SOURCE_DIR/tests/e2e/tools/slowclients.py" "$PORT" "$VAULT/tls/cert.pem" \
    held "$m" "$p" "$tok" "$T/held.body" "$T/held.go" >"$T/held.out" &
  hp=$!
  wait_for_line "$T/held.out" waiting 10 || true
  "$@" >/dev/null
  touch "$T/held.go"
  wait "$hp" || true
  tail -n 1 "$T/held.out"
}
