#!/usr/bin/env bash
# Outside review (issue 13), transport findings, against the real server:
#   3  slow clients held every connection slot (the idle timeout restarts
#      on each byte) and unauthenticated bodies were buffered whole
#   13 unauthenticated requests grew the audit trail by an entry each
# The attacks run from several loopback addresses (127.0.0.2...), bounded
# in connections and seconds (tools/slowclients.py).
source "$(dirname "$0")/lib.sh"
SLOW="$PV_SOURCE_DIR/tests/e2e/tools/slowclients.py"
pv_setup
pv_init
pv_conf server max_connections 64
pv_conf server per_ip_connections 16
pv_conf server header_timeout 3s
pv_conf server threads 2
pv_conf server body_grace 2s
pv_conf audit denial_interval 3s
pv_conf audit denial_keys 16
pv_start
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PV_PID/status"; }

# --- finding 3: tricklers from 4 addresses fill every slot ----------------
# 4 x 16 = max_connections; each sends a request head one byte a second
# (well inside the 30 s idle timeout) and reconnects when dropped.
python3 "$SLOW" "$PORT" "$VAULT/tls/cert.pem" trickle \
  127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 16 14 >"$T/trickle.out" &
SPID=$!
sleep 2
t0=$(date +%s.%N)
code=$(pcurl -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/healthz" || true)
t1=$(date +%s.%N)
expect_eq "a normal client is served while tricklers fill the slots" 200 "$code"
waited=$(python3 -c "print(int(float('$t1') - float('$t0')))")
if [ "$waited" -le 6 ]; then pass "it waited ${waited}s (<= header_timeout + pressure cut)"
else fail "it waited ${waited}s"; fi
wait "$SPID"
read -r _ cut _ held <"$T/trickle.out"
expect_ne "the server cut tricklers" 0 "$cut"
if python3 -c "import sys; sys.exit(0 if float('$held') <= 5.5 else 1)"; then
  pass "no trickler lived past the 3 s head deadline (+ sweep): ${held}s"
else
  fail "a trickler lived ${held}s"
fi
expect_contains "cuts are counted" "$(pcurl "$BASE/metrics")" "phivault_slow_clients_cut_total"

# --- red-team pass: refused requests trickling their body ---------------
# The same 64 slots, held by unauthenticated POSTs declaring 4 MB bodies:
# a refusal's drain is bounded by header_timeout (and the pressure cut),
# not by the declared length.
python3 "$SLOW" "$PORT" "$VAULT/tls/cert.pem" trickle \
  127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 16 14 body >"$T/trickle.out" &
SPID=$!
sleep 2
code=$(pcurl -o /dev/null -w '%{http_code}' --max-time 10 "$BASE/healthz" || true)
expect_eq "a normal client is served while refused bodies trickle" 200 "$code"
wait "$SPID"
read -r _ cut _ held <"$T/trickle.out"
expect_ne "the server cut the draining connections" 0 "$cut"
if python3 -c "import sys; sys.exit(0 if float('$held') <= 5.5 else 1)"; then
  pass "no drain lived past the 3 s bound (+ sweep): ${held}s"
else
  fail "a drain lived ${held}s"
fi

# --- finding 3: unauthenticated bodies are not buffered -------------------
pv_stop
pv_conf server max_connections 1024
pv_conf server per_ip_connections 256
pv_start
before=$(rss_kib)
python3 "$SLOW" "$PORT" "$VAULT/tls/cert.pem" bodies 40 1048576 921600 6 >"$T/bodies.out" &
SPID=$!
wait_for_line "$T/bodies.out" "sent" 60 || true
sleep 1
during=$(rss_kib)
wait "$SPID"
expect_eq "40 unauthenticated 900 KiB bodies sent" "sent 40" "$(cat "$T/bodies.out")"
growth=$(( (during - before) / 1024 ))
if [ "${PV_SANITIZE:-OFF}" == "ON" ]; then
  # AddressSanitizer keeps freed memory in quarantine (256 MiB), so RSS
  # tracks allocation churn, not what is held: measured in the
  # optimised build only.
  pass "memory growth not measured under ASan (${growth} MiB of quarantine churn)"
elif [ "$growth" -lt 12 ]; then pass "server memory grew ${growth} MiB (36 MiB if buffered)"
else fail "server memory grew ${growth} MiB for 40 unauthenticated bodies"; fi
# An authenticated body must keep up with min_body_rate (8 KiB/s) after
# body_grace (2 s here), measured on what arrives: a byte every half
# second is cut at about 2 s, whatever length it declared.
# (a researcher: a full session, no MFA role; the request is accepted
# from its headers and its body read.)
"$PHIVAULT" user add "$VAULT" --name res1 --role researcher <<<"Researcher-pw-12345" >/dev/null
out=$(python3 "$SLOW" "$PORT" "$VAULT/tls/cert.pem" slowbody "$(login res1 Researcher-pw-12345)" 12)
secs=${out#closed }
if [[ "$out" == closed* ]] && python3 -c "import sys; sys.exit(0 if float('$secs') <= 4.5 else 1)"; then
  pass "a trickled authenticated body is cut after the grace (${secs}s)"
else
  fail "a trickled authenticated body: $out"
fi
# --- red-team pass: bodies of callers who may never do what they send --
# A patient's PUT of a Patient is refused from the headers (no role
# could let it), so its body is drained, not buffered (+75 MiB for 64
# such before).
"$PHIVAULT" user add "$VAULT" --name pat1 --role patient --patient p-1 <<<"Patient-pw-123456" >/dev/null
ptok=$(login pat1 Patient-pw-123456)
before=$(rss_kib)
python3 "$SLOW" "$PORT" "$VAULT/tls/cert.pem" bodies 40 1048576 921600 6 "$ptok" >"$T/bodies.out" &
SPID=$!
wait_for_line "$T/bodies.out" "sent" 60 || true
sleep 1
during=$(rss_kib)
wait "$SPID"
growth=$(( (during - before) / 1024 ))
if [ "${PV_SANITIZE:-OFF}" == "ON" ]; then
  pass "memory growth not measured under ASan (${growth} MiB of churn)"
elif [ "$growth" -lt 12 ]; then pass "patient PUT bodies: memory grew ${growth} MiB"
else fail "patient PUT bodies: memory grew ${growth} MiB"; fi
head -c 20 /dev/zero >"$T/small"
expect_eq "a patient's PUT of a Patient: 403 from the headers" 403 \
  "$(http_status PUT /fhir/Patient/x -H "$(auth "$ptok")" -H 'Content-Type: application/json' \
     --data-binary @"$T/small")"
# Routes anyone may call take small bodies only.
head -c 5000 /dev/zero | tr '\0' 'a' >"$T/5k"
expect_eq "login body over 4096 bytes: 413" 413 \
  "$(http_status POST /auth/login -H 'Content-Type: application/json' --data-binary @"$T/5k")"
expect_eq "chunked login body over 4096 bytes: 413" 413 \
  "$(http_status POST /auth/login -H 'Content-Type: application/json' \
     -H 'Transfer-Encoding: chunked' --data-binary @"$T/5k")"
# An authenticated body of the same size is fine (not refused for size).
tok=$(login admin "$ADMIN_PW")
code=$(http_status POST /fhir/Patient -H "$(auth "$tok")" -H 'Content-Type: application/fhir+json' \
  --data-binary "$(jq -nc --arg t "$(head -c 4500 /dev/zero | tr '\0' 'b')" \
    '{resourceType:"Patient",name:[{text:$t}]}')")
expect_ne "an authenticated 4.5 KiB body is not refused for its size" 413 "$code"

# --- finding 13: unauthenticated refusals are aggregated -----------------
count_denials() { # count_denials SRC — "entries sum-of-counts"
  jq -sr --arg s "$1" '[.[] | select(.src == $s and .outcome == "denied" and .actor == 0
    and .action == "read")] | "\(length) \(map(.count // 1) | add // 0)"' "$(pv_audit_log_file)"
}
# many GETs on one keep-alive connection: ARGS... are paths
burst() { local a=() p; for p in "$@"; do a+=(-o /dev/null "$BASE$p"); done; pcurl -w '%{http_code}\n' "${a[@]}"; }
paths=(); for i in $(seq 1 200); do paths+=("/fhir/Patient/nope$i"); done
burst "${paths[@]}" >"$T/codes"
expect_eq "200 unauthenticated reads: all 401" 200 "$(grep -c '^401$' "$T/codes")"
expect_eq "right away: one entry (the first), for 1 refusal" "1 1" "$(count_denials 127.0.0.1)"
sleep 4.5   # the 3 s interval ends; the janitor writes the aggregate
expect_eq "after the interval: 2 entries standing for all 200" "2 200" "$(count_denials 127.0.0.1)"
expect_eq "the aggregate carries count 199" 199 \
  "$(jq -s '[.[] | select(.src == "127.0.0.1" and .count != null)][0].count' "$(pv_audit_log_file)")"
# Many addresses: at most denial_keys (16) keys, the rest in one overflow
# entry; nothing is lost.
n0=$(pv_audit_log | wc -l)
for i in $(seq 2 41); do
  pcurl --interface "127.0.0.$i" -o /dev/null "$BASE/fhir/Patient/x1" -o /dev/null \
    "$BASE/fhir/Patient/x2" -o /dev/null "$BASE/fhir/Patient/x3" || true
done
sleep 4.5
new=$(pv_audit_log | tail -n +"$((n0 + 1))")
expect_eq "40 addresses x 3 refusals: every one is counted" 120 \
  "$(jq -s '[.[] | select(.outcome == "denied" and .actor == 0) | (.count // 1)] | add' <<<"$new")"
entries=$(jq -s '[.[] | select(.outcome == "denied" and .actor == 0)] | length' <<<"$new")
if [ "$entries" -le 33 ]; then pass "in at most 2 x 16 + 1 entries ($entries)"
else fail "$entries entries for 120 refusals from 40 addresses"; fi
expect_contains "the overflow entry is there" "$new" '"src":"*"'
expect_contains "aggregation is counted" "$(pcurl "$BASE/metrics")" "phivault_audit_denials_aggregated_total"
# Refused logins (malformed, rate-limited, unknown user) are anonymous
# too: the red-team pass after the first version wrote 1,935 entries in
# 2 s with 'x' as the login body.
n0=$(pv_audit_log | wc -l)
lp=(); for i in $(seq 1 300); do lp+=(-o /dev/null "$BASE/auth/login"); done
pcurl --interface 127.0.0.50 -H 'Content-Type: application/json' -d x \
  -w '%{http_code}\n' "${lp[@]}" >"$T/codes" || true
expect_eq "300 malformed logins: all 400" 300 "$(grep -c '^400$' "$T/codes")"
expect_eq "300 malformed logins: one entry so far" 1 \
  "$(pv_audit_log | tail -n +"$((n0 + 1))" | grep -c '"src":"127.0.0.50"')"
# One source cannot crowd out others: a source keeps 4 kinds of refusal
# (the rest counted as its "other"), so another's refusal still gets its
# own entry at once.
for p in /fhir/Patient/a /fhir/Observation/b /audit/checkpoint /fhir/AuditEvent \
    /auth/sessions /deid/export /admin/careteam /fhir/Patient; do
  pcurl --interface 127.0.0.51 -o /dev/null -H 'Authorization: Bearer junk' "$BASE$p" || true
  pcurl --interface 127.0.0.51 -o /dev/null "$BASE$p" || true
done
n1=$(pv_audit_log | wc -l)
pcurl --interface 127.0.0.52 -o /dev/null -H 'Authorization: Bearer stolen' "$BASE/fhir/Patient/abc" || true
expect_eq "a new source's first refusal is written at once" 1 \
  "$(pv_audit_log | tail -n +"$((n1 + 1))" | grep -c '"src":"127.0.0.52"')"
expect_eq "the busy source left at most 4 single entries" 4 \
  "$(jq -s '[.[] | select(.src == "127.0.0.51" and .count == null)] | length' "$(pv_audit_log_file)")"
# --- red-team pass: alerts for refused signatures are rate-limited --------
# 30 stale signatures from one address: every one refused and counted,
# but at most 5 replay alerts (a flood must not push real alerts out of
# the webhook's ring).
sig=$(head -c 64 /dev/zero | base64 -w0)
a0=$(grep -c '"rule":"replay"' "$VAULT/alerts.jsonl" 2>/dev/null || true)
for i in $(seq 1 30); do
  pcurl --interface 127.0.0.70 -o /dev/null \
    -H "Signature-Input: sig1=(\"@method\" \"@target-uri\");created=1;keyid=\"k$i\";nonce=\"n$i\"" \
    -H "Signature: sig1=:$sig:" "$BASE/fhir/Patient/x" || true
done
a1=$(grep -c '"rule":"replay"' "$VAULT/alerts.jsonl" 2>/dev/null || true)
expect_eq "30 stale signatures from one address: 5 replay alerts" 5 "$(( a1 - a0 ))"
expect_contains "every refusal is counted" "$(pcurl "$BASE/metrics")" "phivault_signature_rejected_total 30"

# --- red-team pass: request bodies held at once are bounded --------------
# body_memory 2 MiB: two clinicians' 900 KiB bodies held, a third is 503.
pv_stop
pv_conf server body_memory 2097152
pv_conf auth mfa_required_roles admin
pv_start
"$PHIVAULT" user add "$VAULT" --name doc9 --role clinician <<<"Clinician-pw-12345" >/dev/null
dtok=$(login doc9 Clinician-pw-12345)
python3 "$SLOW" "$PORT" "$VAULT/tls/cert.pem" bodies 2 921600 921599 8 "$dtok" >"$T/bodies.out" &
SPID=$!
wait_for_line "$T/bodies.out" "sent" 30 || true
sleep 0.5
head -c 921600 /dev/zero | tr '\0' ' ' >"$T/900k"
expect_eq "a third 900 KiB body while two are held: 503" 503 \
  "$(http_status PUT /fhir/Patient/y -H "$(auth "$dtok")" -H 'Content-Type: application/json' \
     --data-binary @"$T/900k")"
wait "$SPID"
expect_eq "once they are gone, the same body is read (not refused for memory)" 400 \
  "$(http_status PUT /fhir/Patient/y -H "$(auth "$dtok")" -H 'Content-Type: application/json' \
     --data-binary @"$T/900k")"
# Counts still in memory are written at shutdown.
burst /fhir/Patient/y1 /fhir/Patient/y2 /fhir/Patient/y3 >/dev/null
pv_stop
expect_eq "at shutdown the pending count is written (200 + 3)" 203 \
  "$(count_denials 127.0.0.1 | awk '{print $2}')"
"$PHIVAULT" audit verify "$VAULT" >/dev/null && pass "the trail verifies" || fail "audit verify failed"
