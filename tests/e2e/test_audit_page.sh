#!/usr/bin/env bash
# GET /fhir/AuditEvent?patient= paging (red-team finding 14): a page used
# to read and parse every entry about the patient up to _offset, on the
# request thread, under the audit tree lock the writer needs. Now the
# page's line positions come from the per-patient index and only the
# page's own lines are read, after the lock is released. Checked without
# timing: pages at every offset equal the same entries taken from a full
# scan of the log (jq over the trail's lines: log.jsonl, or the audit_log
# table on PostgreSQL — lib.sh pv_audit_log), `total` is the index's count, and
# phivault_audit_page_lines_total grows by the page size only, however
# deep the page (it would grow by offset + page size if the entries
# before the page were parsed).
source "$(dirname "$0")/lib.sh"
pv_setup
pv_init
pv_conf auth mfa_required_roles admin
pv_conf ratelimit enabled false      # 460 reads in a burst
CPW="Clinic1an-secret-pw"
pv_user drwho clinician "$CPW"
pv_user aud1 auditor "Auditor-secret-pw-1"
pv_start
c=$(login drwho "$CPW")
a=$(login aud1 "Auditor-secret-pw-1")
pid=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"female"}' -H "$(auth "$c")" | jq -r '.id // empty')
pid2=$(jpost /fhir/Patient '{"resourceType":"Patient","gender":"male"}' -H "$(auth "$c")" | jq -r '.id // empty')
expect_ne "patients created" "" "$pid2"
# 400 reads of the patient over 4 keep-alive connections, interleaved
# with reads of another patient, so the patient's entries are scattered.
cp=()
for w in 1 2 3 4; do
  pcurl -o /dev/null -H "$(auth "$c")" "$BASE/fhir/Patient/$pid#[1-100]" &
  cp+=($!)
done
pcurl -o /dev/null -H "$(auth "$c")" "$BASE/fhir/Patient/$pid2#[1-60]" &
cp+=($!)
wait "${cp[@]}"
# The entries about the patient, in log order, from a full scan of the
# log as it is now (each AuditEvent query adds one, after its page).
scan() { pv_audit_log | jq -c --arg p "$pid" 'select(.patient == $p) | [.seq, .action, .outcome]' >"$T/scan"; wc -l <"$T/scan"; }
S=$(scan)
[ "$S" -ge 400 ] && pass "$S entries about the patient" || fail "only $S entries about the patient"

lines_parsed() { pcurl "$BASE/metrics" | awk '$1 == "phivault_audit_page_lines_total" {print $2}'; }
# page OFFSET COUNT — the page as [seq, action, outcome] lines (an
# AuditEvent's id is the entry's seq); sets TOTAL, NEXT and PARSED (lines
# read for it).
page() {
  local before after
  before=$(lines_parsed)
  pcurl -H "$(auth "$a")" "$BASE/fhir/AuditEvent?patient=$pid&_count=$2&_offset=$1" >"$T/page.json"
  after=$(lines_parsed)
  PARSED=$((after - before))
  TOTAL=$(jq -r '.total // "none"' "$T/page.json")
  NEXT=$(jq -r '[.link[]? | select(.relation == "next") | .url][0] // ""' "$T/page.json")
  jq -c '.entry[].resource | [(.id | tonumber), .subtype[0].code,
    (if .outcome == "0" then "allowed" elif .outcome == "8" then "error" else "denied" end)]' "$T/page.json" >"$T/page"
}

for spec in "0 25" "1 7" "200 50" "373 9" "$((S - 5)) 10" "$((S - 1)) 1"; do
  set -- $spec
  now=$(scan)
  want=$(sed -n "$(($1 + 1)),$(($1 + $2))p" "$T/scan")
  n=$(printf '%s' "$want" | grep -c . || true)
  page "$1" "$2"
  expect_eq "page at offset $1 (count $2): the same entries as a full scan" "$want" "$(cat "$T/page")"
  expect_eq "page at offset $1: total is the index's count" "$now" "$TOTAL"
  expect_eq "page at offset $1: lines parsed = page size ($n), not offset + page" "$n" "$PARSED"
  if [ $(($1 + $2)) -lt "$now" ]; then
    expect_contains "page at offset $1: next link" "$NEXT" "_count=$2&_offset=$(($1 + $2))"
  else
    expect_eq "page at offset $1: no next link at the end" "" "$NEXT"
  fi
done
now=$(scan)
page "$((now + 100))" 10
expect_eq "past the end: empty page" "" "$(cat "$T/page")"
expect_eq "past the end: nothing parsed" 0 "$PARSED"
expect_eq "past the end: the total still counts" "$now" "$TOTAL"

# Walking the whole log by next links gives every entry exactly once.
url="$BASE/fhir/AuditEvent?patient=$pid&_count=97"
: >"$T/walk"
pages=0
while [ -n "$url" ] && [ "$pages" -lt 50 ]; do
  pcurl -H "$(auth "$a")" "$url" >"$T/p.json"
  jq -r '.entry[].resource.id' "$T/p.json" >>"$T/walk"
  url=$(jq -r '[.link[]? | select(.relation == "next") | .url][0] // ""' "$T/p.json")
  pages=$((pages + 1))
done
expect_eq "walking the next links: entries in log order, none twice" \
  "$(pv_audit_log | jq -r --arg p "$pid" 'select(.patient == $p) | .seq' | head -n "$(wc -l <"$T/walk")")" "$(cat "$T/walk")"
expect_eq "an unknown patient: empty, total 0" "0 0" \
  "$(pcurl -H "$(auth "$a")" "$BASE/fhir/AuditEvent?patient=0123456789abcdef0123456789abcdef" | jq -r '"\(.total) \(.entry | length)"')"
pv_stop
