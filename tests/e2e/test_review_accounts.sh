#!/usr/bin/env bash
# Outside review (issue 13), account findings, against the real server
# with curl, oathtool and the CLI:
#   1  lost updates on the account row: a `user disable` made while a
#      login hashes stays; one TOTP code, four parallel logins, one
#      session; twenty parallel wrong passwords, threshold 5: five
#      verdicts; a password changed during a login stays changed
#   7  password-change hashing flood: the new password's policy first,
#      a per-account rate limit
#   9  MFA confirmation revokes the account's other sessions
# tests/unit/test_account_races.c races the same code paths in-process.
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
PW="Review-accounts-pw-1"
PW2="Review-accounts-pw-2"
# Argon2id slow enough (~0.1-0.3 s) that changes land during a login;
# four hash workers so parallel logins really run in parallel.
pv_conf auth argon2_memlimit_kib 65536
pv_conf auth argon2_opslimit 3
pv_conf auth hash_workers 4
pv_conf auth mfa_required_roles admin
pv_conf auth ip_lockout_threshold 100000
pv_conf ratelimit password_burst 3
for u in ann bob cy dee eve fay; do pv_user "$u" researcher "$PW"; done
pv_start
db() { pv_sql records "$1"; } # lib.sh: SQLite or PostgreSQL
body() { jq -nc --arg u "$1" --arg p "$2" --arg o "${3:-}" \
  '{username:$u,password:$p} + (if $o != "" then {otp:$o} else {} end)'; }
BG=()
login_bg() { # login_bg NAME PASSWORD OUTFILE [OTP] — in the background
  pcurl -o "$3" -X POST -H 'Content-Type: application/json' \
    -d "$(body "$1" "$2" "${4:-}")" "$BASE/auth/login" &
  BG+=($!)
}
# waitbg — waits for the clients started since the last call (a plain
# `wait` would wait for the server too).
waitbg() { wait "${BG[@]}"; BG=(); }

# --- finding 1: disable during a login ------------------------------------
login_bg ann "$PW" "$T/ann.json"
sleep 0.04
"$PHIVAULT" user disable "$VAULT" --name ann >/dev/null
waitbg
expect_eq "ann stays disabled after the racing login" 0 \
  "$(db "SELECT CAST(active AS int) FROM users WHERE username = 'ann'")"
tok=$(jq -r '.token // empty' "$T/ann.json")
if [ -n "$tok" ]; then
  expect_eq "a token the racing login got is dead" 401 "$(http_status GET /auth/sessions -H "$(auth "$tok")")"
else
  pass "the racing login got no token"
fi
expect_eq "ann cannot log in" "" "$(login ann "$PW")"

# --- finding 1: a permission revoked during a login -----------------------
"$PHIVAULT" user grant "$VAULT" --name bob --permission restricted >/dev/null
login_bg bob "$PW" "$T/bob.json"
sleep 0.04
"$PHIVAULT" user revoke "$VAULT" --name bob --permission restricted >/dev/null
waitbg
expect_eq "bob's permission stays revoked" "" \
  "$(db "SELECT scopes FROM users WHERE username = 'bob'")"

# --- finding 1: one TOTP code, four parallel logins -----------------------
tok=$(login cy "$PW")
sec=$(pcurl -X POST -H "$(auth "$tok")" "$BASE/auth/mfa/enroll" | jq -r .secret)
tok=$(jpost /auth/mfa/confirm "{\"otp\":\"$(oathtool --totp -b "$sec")\"}" -H "$(auth "$tok")" | jq -r '.token // empty')
expect_ne "cy enabled MFA" "" "$tok"
# The next step's code, so it was not used by the confirmation.
code=$(oathtool --totp -b -N "now + 30 seconds" "$sec")
for i in 1 2 3 4; do login_bg cy "$PW" "$T/cy.$i" "$code"; done
waitbg
n=0
for i in 1 2 3 4; do [ -n "$(jq -r '.token // empty' "$T/cy.$i")" ] && n=$((n + 1)); done
expect_eq "one TOTP code opened exactly one session" 1 "$n"

# --- finding 1: twenty parallel wrong passwords, threshold 5 ---------------
for i in $(seq 1 20); do login_bg dee "wrong-password-$i-x" "$T/dee.$i"; done
waitbg
DEE=$(db "SELECT id FROM users WHERE username = 'dee'")
reasons() { pv_audit_log | jq -r --argjson a "$DEE" 'select(.actor == $a and .action == "login") | .reason' \
  | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'; }
expect_eq "dee: exactly 5 attempts were judged, 15 refused as locked" \
  "bad_password:5 locked:15 " "$(reasons)"
expect_eq "dee: failure count stopped at the threshold" 5 \
  "$(db "SELECT failed_count FROM users WHERE username = 'dee'")"
expect_eq "dee: the right password is refused while locked" "" "$(login dee "$PW")"

# --- finding 1: a password change during a login ---------------------------
tok=$(login eve "$PW")
pcurl -o "$T/pw.json" -X POST -H 'Content-Type: application/json' -H "$(auth "$tok")" \
  -d "$(jq -nc --arg o "$PW" --arg n "$PW2" '{old:$o,new:$n}')" "$BASE/auth/password" &
BG+=($!)
sleep 0.25
login_bg eve "$PW" "$T/eve.json"
waitbg
expect_eq "eve's password change succeeded" "password changed; other sessions revoked" \
  "$(jq -r '.status // empty' "$T/pw.json")"
expect_eq "eve's old password no longer works" "" "$(login eve "$PW")"
expect_ne "eve's new password works" "" "$(login eve "$PW2")"

# --- finding 7: the new password's policy comes first -----------------------
tok=$(login fay "$PW")
weak() { pcurl -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -H "$(auth "$tok")" -d "$(jq -nc --arg o "$1" '{old:$o,new:"password1234"}')" "$BASE/auth/password"; }
expect_eq "weak new password: 422" 422 "$(weak "$PW")"
expect_eq "weak new + wrong old: 422 (the old one is not even checked)" 422 "$(weak "not-my-password-x")"
expect_eq "no failure was counted for it" 0 "$(db "SELECT failed_count FROM users WHERE username = 'fay'")"
# Per-account limit on changes that reach the hash workers (burst 3).
chg() { pcurl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -H "$(auth "$tok")" -d "$(jq -nc --arg o "$1" --arg n "$2" '{old:$o,new:$n}')" "$BASE/auth/password"; }
codes="$(chg "wrong-old-pw-1" "$PW2") $(chg "wrong-old-pw-2" "$PW2") $(chg "wrong-old-pw-3" "$PW2") $(chg "wrong-old-pw-4" "$PW2")"
expect_eq "three hashed attempts, then 429" "403 403 403 429" "$codes"

# --- finding 9: confirming MFA revokes every other session -----------------
pv_user gil researcher "$PW"
a=$(login gil "$PW"); b=$(login gil "$PW")
expect_eq "gil's second session works" 200 "$(http_status GET /auth/sessions -H "$(auth "$b")")"
sec=$(pcurl -X POST -H "$(auth "$a")" "$BASE/auth/mfa/enroll" | jq -r .secret)
c=$(jpost /auth/mfa/confirm "{\"otp\":\"$(oathtool --totp -b "$sec")\"}" -H "$(auth "$a")" | jq -r '.token // empty')
expect_ne "gil confirmed MFA" "" "$c"
expect_eq "the other session (password only) is revoked" 401 "$(http_status GET /auth/sessions -H "$(auth "$b")")"
expect_eq "the confirming session was replaced" 401 "$(http_status GET /auth/sessions -H "$(auth "$a")")"
expect_eq "the new MFA session works, and is the only one" 1 \
  "$(pcurl -H "$(auth "$c")" "$BASE/auth/sessions" | jq '.sessions | length')"

# --- red-team pass: a password change held across the switch to MFA -------
pv_user hal researcher "$PW"
atk=$(login hal "$PW"); vic=$(login hal "$PW")
mfa_on() { # the victim enrols and confirms MFA (revokes every session)
  local sec
  sec=$(pcurl -X POST -H "$(auth "$vic")" "$BASE/auth/mfa/enroll" | jq -r .secret)
  printf '%s' "$sec" >"$T/hal.secret"
  jpost /auth/mfa/confirm "{\"otp\":\"$(oathtool --totp -b "$sec")\"}" -H "$(auth "$vic")" >/dev/null
}
code=$(held_request POST /auth/password "$atk" \
  "$(jq -nc --arg o "$PW" '{old:$o,new:"Attacker-Chosen-Pass-991"}')" mfa_on)
expect_eq "password change held across the MFA switch: refused" 401 "$code"
expect_ne "the victim still logs in with her password and code" "" \
  "$(login hal "$PW" "$(oathtool --totp -b -N 'now + 30 seconds' "$(cat "$T/hal.secret")")")"
