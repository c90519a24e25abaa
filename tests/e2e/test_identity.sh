#!/usr/bin/env bash
# Identity: passwords, enumeration safety, TOTP (oathtool), replay,
# recovery codes, lockout, sessions (idle expiry, logout, revoke,
# password change, disable, role change), cookies, fixation.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
PW="Clinic1an-secret-pw"
pv_user drwho clinician "$PW"
pv_user nurse1 nurse "Nurse-secret-pw-01"
pv_user pat1 patient "Patient-secret-pw-1" pat-001
pv_conf auth lockout_base_delay 5s
pv_conf auth session_idle_timeout 3s
pv_conf auth ip_lockout_threshold 1000
pv_start

# --- CLI policy checks ----------------------------------------------------
rc=0; printf 'password1234\n' | "$PHIVAULT" user add "$VAULT" --name weak --role nurse 2>"$T/err" || rc=$?
expect_eq "common password refused" 1 "$rc"
expect_contains "reason names the list" "$(cat "$T/err")" "commonly used"
rc=0; printf 'xx-drwho2-secret-pw\n' | "$PHIVAULT" user add "$VAULT" --name drwho2 --role nurse 2>"$T/err" || rc=$?
expect_contains "password containing the name refused" "$(cat "$T/err")" "must not contain the username"
rc=0; printf 'Short-pw-1\n' | "$PHIVAULT" user add "$VAULT" --name shorty --role nurse 2>/dev/null || rc=$?
expect_eq "short password refused" 1 "$rc"
rc=0; "$PHIVAULT" user add "$VAULT" --name x --role wizard </dev/null 2>/dev/null || rc=$?
expect_eq "unknown role is a usage error" 2 "$rc"
expect_contains "user list shows accounts" "$("$PHIVAULT" user list "$VAULT")" "drwho"

# --- user add on a terminal (outside review, issue 13, finding 15) --------
# A real pseudo-terminal drives the binary: the typed password must never
# be shown, echo must be off at the prompt and back on after, including
# when Ctrl-C (SIGINT from the tty) or SIGTERM arrives at the prompt.
PTY=(python3 "$PV_SOURCE_DIR/tests/e2e/tools/pty_prompt.py")
TTYPW="Typed-at-a-tty-9431"
out=$("${PTY[@]}" twice "$TTYPW" -- "$PHIVAULT" user add "$VAULT" --name ttyuser --role clinician)
expect_eq "tty: user add succeeds" 0 "$(jq .exit <<<"$out")"
expect_eq "tty: the typed password is not echoed" false "$(jq .echoed <<<"$out")"
expect_eq "tty: echo is off at the prompt" true "$(jq .echo_off <<<"$out")"
expect_eq "tty: asked twice" 2 "$(jq .prompts <<<"$out")"
expect_eq "tty: echo is on again after" true "$(jq .echo_after <<<"$out")"
[ "$(jq .echoed <<<"$out")" == false ] || echo "terminal showed: $(jq -r .transcript <<<"$out")" >&2
expect_ne "tty: the account logs in over HTTPS" "" "$(login ttyuser "$TTYPW")"
out=$("${PTY[@]}" mismatch "$TTYPW" -- "$PHIVAULT" user add "$VAULT" --name ttyuser2 --role clinician)
expect_eq "tty: two different passwords are refused" 1 "$(jq .exit <<<"$out")"
expect_contains "tty: … saying why" "$(jq -r .transcript <<<"$out")" "do not match"
expect_eq "tty: … and no account is made" "" "$(login ttyuser2 "$TTYPW")"
for sig in sigint sigterm; do
  out=$("${PTY[@]}" "$sig" "$TTYPW" -- "$PHIVAULT" user add "$VAULT" --name "tty$sig" --role clinician)
  expect_eq "tty: $sig at the prompt ends the process by that signal" \
    "$([ $sig == sigint ] && echo -2 || echo -15)" "$(jq .exit <<<"$out")"
  expect_eq "tty: $sig at the prompt restores echo" true "$(jq .echo_after <<<"$out")"
  expect_eq "tty: $sig: nothing typed was shown" false "$(jq .echoed <<<"$out")"
done
expect_not_contains "tty: no account from an interrupted prompt" \
  "$("$PHIVAULT" user list "$VAULT")" "ttysig"
# piped stdin is unchanged: no prompt, one line
out=$(printf '%s\n' "From-a-pipe-pw-2024" | "$PHIVAULT" user add "$VAULT" --name piped --role nurse 2>&1 || true)
expect_eq "piped stdin: no prompt, account created" "user piped created (role nurse)" "$out"

# --- password login, patient (no MFA required) ---------------------------
tok=$(login pat1 "Patient-secret-pw-1")
expect_ne "patient logs in with password" "" "$tok"
expect_eq "token is 256-bit base64url" 43 "${#tok}"
out=$(pcurl -H "$(auth "$tok")" "$BASE/auth/sessions")
expect_eq "session listed" 1 "$(jq '.sessions | length' <<<"$out")"

# --- enumeration safety: unknown user == wrong password ------------------
strip() { grep -viE '^(x-request-id|date):' | tr -d '\r'; }
a=$(pcurl -i -X POST -H 'Content-Type: application/json' \
  -d '{"username":"nosuchuser","password":"Whatever-pass-123"}' "$BASE/auth/login" | strip)
b=$(pcurl -i -X POST -H 'Content-Type: application/json' \
  -d '{"username":"drwho","password":"Whatever-pass-123"}' "$BASE/auth/login" | strip)
expect_eq "unknown user and wrong password: identical response" "$a" "$b"
expect_contains "both are 401" "$a" "HTTP/1.1 401"
"$PHIVAULT" user disable "$VAULT" --name nurse1 >/dev/null
c=$(pcurl -i -X POST -H 'Content-Type: application/json' \
  -d '{"username":"nurse1","password":"Nurse-secret-pw-01"}' "$BASE/auth/login" | strip)
expect_eq "disabled account: same response" "$a" "$c"
t_of() { pcurl -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' -d "$1" "$BASE/auth/login"; }
ua=(); ub=()
for i in 1 2 3 4 5; do
  ua+=("$(t_of '{"username":"ghost","password":"Whatever-pass-123"}')")
  ub+=("$(t_of '{"username":"pat1","password":"Whatever-pass-123"}')")
done
ma=$(printf '%s\n' "${ua[@]}" | sort -n | sed -n 3p)
mb=$(printf '%s\n' "${ub[@]}" | sort -n | sed -n 3p)
within=$(python3 -c "a,b=$ma,$mb; print(1 if abs(a-b) <= 0.35*max(a,b) else 0)")
expect_eq "unknown vs wrong-password timing within noise (median ${ma}s vs ${mb}s)" 1 "$within"
# (pat1 had 5 failures now: reset for later checks)
"$PHIVAULT" user unlock "$VAULT" --name pat1 >/dev/null

# --- MFA required for clinicians ----------------------------------------
tok=$(login drwho "$PW")
expect_ne "clinician password login" "" "$tok"
out=$(pcurl -X POST -H "$(auth "$tok")" "$BASE/auth/mfa/enroll")
sec=$(jq -r .secret <<<"$out")
expect_contains "otpauth URI" "$(jq -r .otpauth_uri <<<"$out")" "otpauth://totp/phivault:drwho?secret=$sec"
expect_eq "wrong code refused at confirm" 401 "$(http_status POST /auth/mfa/confirm \
  -H "$(auth "$tok")" -H 'Content-Type: application/json' -d '{"otp":"000000"}')"
code0=$(oathtool --totp -b "$sec")
conf=$(jpost /auth/mfa/confirm "{\"otp\":\"$code0\"}" -H "$(auth "$tok")")
tok2=$(jq -r .token <<<"$conf")
expect_eq "10 recovery codes" 10 "$(jq '.recovery_codes | length' <<<"$conf")"
expect_ne "confirm issues a new token" "$tok" "$tok2"
expect_eq "pre-MFA token is dead" 401 "$(http_status GET /auth/sessions -H "$(auth "$tok")")"
expect_eq "new token works" 200 "$(http_status GET /auth/sessions -H "$(auth "$tok2")")"
out=$(jpost /auth/login "{\"username\":\"drwho\",\"password\":\"$PW\"}")
expect_eq "password alone now asks for MFA" mfa_required "$(jq -r '.issue[0].details.coding[0].code' <<<"$out")"
expect_eq "same code refused a second time (replay)" "" "$(login drwho "$PW" "$code0")"
next=$(oathtool --totp -b "$sec" -N "now + 30 seconds")
t3=$(login drwho "$PW" "$next")
expect_ne "login with an oathtool code" "" "$t3"
expect_eq "that code is refused the second time" "" "$(login drwho "$PW" "$next")"
expect_eq "wrong code refused" "" "$(login drwho "$PW" 123456)"
rec=$(jq -r '.recovery_codes[0]' <<<"$conf")
t4=$(login drwho "$PW" "$rec")
expect_ne "recovery code works" "" "$t4"
expect_eq "recovery code works only once" "" "$(login drwho "$PW" "$rec")"
"$PHIVAULT" user unlock "$VAULT" --name drwho >/dev/null

# --- lockout: 5 failures, the 6th attempt (even correct) refused --------
for i in 1 2 3 4 5; do login pat1 "Wrong-password-$i" >/dev/null; done
expect_eq "6th attempt refused even with the right password" "" "$(login pat1 "Patient-secret-pw-1")"
m=$(pcurl "$BASE/metrics")
expect_contains "lockouts counted in /metrics" "$m" "phivault_lockouts_total"
expect_contains "failures counted in /metrics" "$m" 'phivault_logins_total{result="failed"}'
expect_contains "lockout logged" "$(cat "$T/serve.log")" '"event":"account_lockout"'
expect_not_contains "no password in logs" "$(cat "$T/serve.log")" "Wrong-password"
sleep 5.5
expect_ne "lockout lifts after its delay" "" "$(login pat1 "Patient-secret-pw-1")"

# --- per-address lockout across many accounts ----------------------------
pv_stop
pv_conf auth ip_lockout_threshold 8
pv_start
for i in $(seq 1 8); do login "someone$i" "Wrong-password-$i" >/dev/null; done
expect_eq "address locked after failures across accounts" 429 \
  "$(http_status POST /auth/login -H 'Content-Type: application/json' \
     -d '{"username":"pat1","password":"Patient-secret-pw-1"}')"
sleep 5.5
expect_eq "address lockout lifts" 200 "$(http_status POST /auth/login -H 'Content-Type: application/json' \
     -d '{"username":"pat1","password":"Patient-secret-pw-1"}')"

# --- sessions: idle timeout, logout, revoke, password change ------------
tok=$(login pat1 "Patient-secret-pw-1")
expect_eq "session valid" 200 "$(http_status GET /auth/sessions -H "$(auth "$tok")")"
sleep 3.5
expect_eq "session expired after idle timeout" 401 "$(http_status GET /auth/sessions -H "$(auth "$tok")")"
tok=$(login pat1 "Patient-secret-pw-1")
expect_eq "logout" 200 "$(http_status POST /auth/logout -H "$(auth "$tok")")"
expect_eq "logged-out token refused" 401 "$(http_status GET /auth/sessions -H "$(auth "$tok")")"
a1=$(login pat1 "Patient-secret-pw-1"); a2=$(login pat1 "Patient-secret-pw-1")
sid=$(pcurl -H "$(auth "$a2")" "$BASE/auth/sessions" | jq -r '.sessions[] | select(.current) | .id')
expect_eq "revoke another own session" 200 "$(http_status DELETE "/auth/sessions/$sid" -H "$(auth "$a1")")"
expect_eq "revoked session dead" 401 "$(http_status GET /auth/sessions -H "$(auth "$a2")")"
expect_eq "unknown session id 404" 404 "$(http_status DELETE /auth/sessions/0123456789abcdef0123456789abcdef -H "$(auth "$a1")")"
b1=$(login pat1 "Patient-secret-pw-1")
expect_eq "weak new password refused" 422 "$(http_status POST /auth/password -H "$(auth "$a1")" \
  -H 'Content-Type: application/json' -d '{"old":"Patient-secret-pw-1","new":"password1234"}')"
expect_eq "wrong old password refused" 403 "$(http_status POST /auth/password -H "$(auth "$a1")" \
  -H 'Content-Type: application/json' -d '{"old":"nope-nope-nope-1","new":"Brand-new-secret-99"}')"
expect_eq "password change" 200 "$(http_status POST /auth/password -H "$(auth "$a1")" \
  -H 'Content-Type: application/json' -d '{"old":"Patient-secret-pw-1","new":"Brand-new-secret-99"}')"
expect_eq "other sessions revoked by password change" 401 "$(http_status GET /auth/sessions -H "$(auth "$b1")")"
expect_eq "current session kept" 200 "$(http_status GET /auth/sessions -H "$(auth "$a1")")"
expect_eq "old password no longer works" "" "$(login pat1 "Patient-secret-pw-1")"
expect_ne "new password works" "" "$(login pat1 "Brand-new-secret-99")"

# --- cookie sessions and fixation ----------------------------------------
hdr=$(pcurl -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
  -H 'Cookie: phivault_session=AttackerChosenTokenAttackerChosenTokenAAAAA' \
  -d '{"username":"pat1","password":"Brand-new-secret-99"}' "$BASE/auth/login" | tr -d '\r')
cookie=$(grep -i '^set-cookie:' <<<"$hdr")
expect_contains "cookie is Secure" "$cookie" "Secure"
expect_contains "cookie is HttpOnly" "$cookie" "HttpOnly"
expect_contains "cookie is SameSite=Strict" "$cookie" "SameSite=Strict"
ctok=$(sed -E 's/.*phivault_session=([^;]*);.*/\1/' <<<"$cookie")
expect_ne "server never adopts a presented token" "AttackerChosenTokenAttackerChosenTokenAAAAA" "$ctok"
expect_eq "cookie authenticates" 200 "$(http_status GET /auth/sessions -H "Cookie: phivault_session=$ctok")"
expect_eq "attacker-chosen token stays invalid" 401 \
  "$(http_status GET /auth/sessions -H 'Cookie: phivault_session=AttackerChosenTokenAttackerChosenTokenAAAAA')"

# --- admin changes take effect on the next request -----------------------
pv_user nurse2 nurse "Nurse-secret-pw-02"
pv_conf auth mfa_required_roles admin
pv_stop; pv_start
n=$(login nurse2 "Nurse-secret-pw-02")
expect_eq "nurse session works" 200 "$(http_status GET /auth/sessions -H "$(auth "$n")")"
"$PHIVAULT" user role "$VAULT" --name nurse2 --role clinician >/dev/null
expect_eq "role change ends sessions at once" 401 "$(http_status GET /auth/sessions -H "$(auth "$n")")"
n=$(login nurse2 "Nurse-secret-pw-02")
"$PHIVAULT" user disable "$VAULT" --name nurse2 >/dev/null
expect_eq "disabled account's session dies at once" 401 "$(http_status GET /auth/sessions -H "$(auth "$n")")"
expect_eq "disabled account cannot log in" "" "$(login nurse2 "Nurse-secret-pw-02")"

# --- input validation -----------------------------------------------------
expect_eq "login without JSON 400" 400 "$(http_status POST /auth/login -H 'Content-Type: application/json' -d 'nope')"
expect_eq "login with wrong type 415" 415 "$(http_status POST /auth/login -H 'Content-Type: text/plain' -d '{}')"
expect_eq "login missing password 400" 400 "$(http_status POST /auth/login -H 'Content-Type: application/json' -d '{"username":"a"}')"
expect_eq "duplicate keys refused" 400 "$(http_status POST /auth/login -H 'Content-Type: application/json' \
  -d '{"username":"pat1","username":"x","password":"Brand-new-secret-99"}')"
