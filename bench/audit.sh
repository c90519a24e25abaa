#!/usr/bin/env bash
# bench/audit.sh — issue 6: the audit trail's costs.
#
# What it measures
#   1. Appends/s with group commit: bench/micro/audit_bench (a real temp
#      vault) runs 1, 4, 16, 64 and 256 threads each calling
#      pv_audit_append (durable: returns after the batch's fdatasync) for
#      BENCH_AUDIT_SECONDS; appends/s, entries per fsync, p50/p99 append
#      latency. One thread = one fsync per entry; many share each fsync.
#   2. `phivault audit verify` speed: audit_bench --fill appends
#      BENCH_AUDIT_ENTRIES (default 500000) entries to a fresh vault, then
#      `phivault audit verify DIR` is timed over BENCH_ROUNDS runs
#      (hyperfine); entries/s = entries / median wall time.
#   3. The audit's cost on a read: two servers with identical data, one
#      with DIR/audit on the same disk as everything else, one with
#      DIR/audit on a tmpfs mounted over it (fdatasync ~free; everything
#      else the audit does — formatting, hash chain, Merkle leaf, signed
#      checkpoint per group commit — still happens). wrk reads
#      (GET /fhir/Observation/{id}, clinician bearer token) alternate
#      between them per round. The group-commit counters from /metrics
#      (phivault_audit_fsyncs_total vs phivault_audit_entries_total) give
#      entries per fsync during the disk runs. Without permission to mount
#      a tmpfs (needs root), part 3 reports the disk runs and counters only.
#
# Usage
#   bench/audit.sh
#   BENCH_AUDIT_ENTRIES=1000000 BENCH_ROUNDS=5 bench/audit.sh
# Parameters: those of lib.sh, plus BENCH_AUDIT_ENTRIES=500000,
#   BENCH_AUDIT_SECONDS=3 (per thread count and round, part 1),
#   BENCH_AUDIT_THREADS=1,4,16,64,256, BENCH_AUDIT_TMPFS=1 (0: skip the
#   tmpfs server), BENCH_RECORDS_PATIENTS=10, BENCH_RECORDS_OBS=20.
# Result: bench/results/audit-<UTC>.json. Needs: scripts/deps bench,
#   hyperfine (else a bash timing loop is used).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=featlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/featlib.sh"

ENTRIES=${BENCH_AUDIT_ENTRIES:-500000}
ASECS=${BENCH_AUDIT_SECONDS:-3}
ATHREADS=${BENCH_AUDIT_THREADS:-1,4,16,64,256}
USE_TMPFS=${BENCH_AUDIT_TMPFS:-1}
NPAT=${BENCH_RECORDS_PATIENTS:-10}
NOBS=${BENCH_RECORDS_OBS:-20}
# Larger than lib.sh's default bound: part 2 fills and verifies a big log.
BENCH_MAX_SECONDS=${BENCH_MAX_SECONDS:-2400}
bench_init audit
bench_int BENCH_AUDIT_ENTRIES "$ENTRIES" 1000
bench_int BENCH_AUDIT_SECONDS "$ASECS" 1
[[ "$ATHREADS" =~ ^[0-9]+(,[0-9]+)*$ ]] || bench_die "BENCH_AUDIT_THREADS: a comma list"
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"
export TMPDIR=$BENCH_TMP      # the micro-benchmark's temp vaults go here

feat_build audit_bench

# --- 1. appends/s vs threads (micro) ------------------------------------
nthreads=$(tr ',' '\n' <<<"$ATHREADS" | wc -l)
bench_log "part 1: pv_audit_append with $ATHREADS threads, ${ASECS}s x $BENCH_ROUNDS rounds"
timeout $(( (ASECS + 2) * nthreads * BENCH_ROUNDS + 120 )) \
  "$MICRO_DIR/audit_bench" --rounds "$BENCH_ROUNDS" --seconds "$ASECS" \
  --threads "$ATHREADS" --out "$BENCH_TMP/micro.json" \
  --max-seconds $(( (ASECS + 2) * nthreads * BENCH_ROUNDS + 100 )) \
  >"$BENCH_TMP/micro.txt" 2>"$BENCH_TMP/micro.err" ||
  { cat "$BENCH_TMP/micro.err" >&2; bench_die "audit_bench failed"; }
sed -n '/^audit_bench: pv_audit_append/,/^-*$/p;/^ *[0-9]/p' "$BENCH_TMP/micro.txt" >&2

# --- 2. audit verify on a large log --------------------------------------
BIG=$BENCH_TMP/big-vault
printf '%s\n' "$BENCH_ADMIN_PW" | timeout 60 "$PHIVAULT" init "$BIG" >/dev/null 2>&1 ||
  bench_die "phivault init failed"
bench_log "part 2: appending $ENTRIES entries (audit_bench --fill)"
timeout 1800 "$MICRO_DIR/audit_bench" --fill "$ENTRIES" --vault "$BIG" \
  >"$BENCH_TMP/fill.txt" 2>&1 || { cat "$BENCH_TMP/fill.txt" >&2; bench_die "fill failed"; }
cat "$BENCH_TMP/fill.txt" >&2
log_bytes=$(stat -c %s "$BIG/audit/log.jsonl")
bench_log "part 2: timing 'phivault audit verify' (${log_bytes} bytes of log), $BENCH_ROUNDS runs"
feat_time audit-verify "$RUNS/verify.json" "$BENCH_ROUNDS" "" -- \
  "$PHIVAULT" audit verify "$BIG"
verified=$(grep -o 'audit trail OK: [0-9]* entries' "$RUNS/verify.log" | grep -o '[0-9]*' | head -n1)
[ -n "$verified" ] || { cat "$RUNS/verify.log" >&2; bench_die "audit verify did not pass"; }
rm -rf "$BIG"

# --- 3. read cost: audit on disk vs on tmpfs -------------------------------
bench_vault_create ""
mv "$VAULT" "$BENCH_TMP/vault-disk"
bench_vault_create ""
mv "$VAULT" "$BENCH_TMP/vault-tmpfs"
TMPFS_NOTE="audit dir on a tmpfs mounted over DIR/audit"
if [ "$USE_TMPFS" = 1 ]; then
  A=$BENCH_TMP/vault-tmpfs/audit
  cp -a "$A" "$BENCH_TMP/audit-copy"
  if timeout 10 mount -t tmpfs -o size=1g,mode=0700 phivault-bench-audit "$A" 2>"$BENCH_TMP/mount.err"; then
    feat_hook_cleanup "bench_stop \"\${PID_TMPFS:-}\"; umount \"$A\" 2>/dev/null"
    cp -a "$BENCH_TMP/audit-copy/." "$A/"
  else
    USE_TMPFS=0
    TMPFS_NOTE="unavailable: $(head -c 200 "$BENCH_TMP/mount.err" | tr '\n"' "  ")"
    bench_log "cannot mount a tmpfs ($TMPFS_NOTE); part 3 runs on disk only"
  fi
else
  TMPFS_NOTE="skipped (BENCH_AUDIT_TMPFS=0)"
fi

targets=(disk)
[ "$USE_TMPFS" = 1 ] && targets+=(tmpfs)
declare -A URL PIDS CERT TOK
for t in "${targets[@]}"; do
  VAULT=$BENCH_TMP/vault-$t
  feat_phivault_start "$VAULT" "$BENCH_TMP/phivault-$t.log"
  URL[$t]=$PV_URL_BASE PIDS[$t]=$PV_PID CERT[$t]=$BENCH_CERT
  # shellcheck disable=SC2034  # read by the cleanup hook (eval)
  [ "$t" = tmpfs ] && PID_TMPFS=$PV_PID
  FEAT_BASE=$PV_URL_BASE
  feat_user bench-doc clinician
  TOK[$t]=$(feat_mfa_login bench-doc)
  [ -n "${TOK[$t]}" ] || bench_die "clinician login failed ($t)"
  bench_log "seeding $NPAT x $NOBS Observations ($t)"
  FEAT_SEED_DIR=$BENCH_TMP/seed-$t feat_seed_records "${TOK[$t]}" "$NPAT" "$NOBS"
  cat >"$BENCH_TMP/read-$t.lua" <<EOF
local ids = {}
for line in io.lines("$BENCH_TMP/seed-$t/observations.txt") do ids[#ids + 1] = line end
local counter = 0
function setup(thread) thread:set("offset", counter * 7) counter = counter + 1 end
local i = 0
wrk.headers["Authorization"] = "Bearer ${TOK[$t]}"
function request()
  i = i + 1
  return wrk.format("GET", "/fhir/Observation/" .. ids[((i + (offset or 0)) % #ids) + 1])
end
EOF
done

use() { FEAT_BASE=${URL[$1]} BENCH_CERT=${CERT[$1]}; }
declare -A series fsyncs entries
run() { # run TARGET OUT [DURATION]
  local e0 f0
  use "$1"
  e0=$(feat_metric phivault_audit_entries_total)
  f0=$(feat_metric phivault_audit_fsyncs_total)
  BENCH_CPU_PIDS=${PIDS[$1]} feat_wrk "read-audit-$1" "$2" "${3:-$BENCH_DURATION}" \
    "$BENCH_THREADS" "$BENCH_CONNS" 10s "${URL[$1]}/" -s "$BENCH_TMP/read-$1.lua"
  entries[$1]=$(( ${entries[$1]:-0} + $(feat_metric phivault_audit_entries_total) - e0 ))
  fsyncs[$1]=$(( ${fsyncs[$1]:-0} + $(feat_metric phivault_audit_fsyncs_total) - f0 ))
  : >"$BENCH_TMP/phivault-$1.log"
}
if [ "$BENCH_WARMUP" -gt 0 ]; then
  for t in "${targets[@]}"; do run "$t" "$RUNS/warmup-$t.json" "$BENCH_WARMUP"; done
  entries=() fsyncs=()
fi
for r in $(seq 1 "$BENCH_ROUNDS"); do
  for t in "${targets[@]}"; do
    bench_log "part 3, round $r/$BENCH_ROUNDS: reads, audit on $t (${BENCH_DURATION}s)"
    run "$t" "$RUNS/read-$t-$r.json"
    series[$t]="${series[$t]:+${series[$t]},}$RUNS/read-$t-$r.json"
  done
done
for t in "${targets[@]}"; do
  kill -0 "${PIDS[$t]}" 2>/dev/null || bench_die "phivault ($t) died during the benchmark"
done

# --- results ---------------------------------------------------------------
out=$(bench_result_file audit)
feat_meta "$out" \
  "audit trail: appends/s with group commit vs threads; 'phivault audit verify' entries/s; the audit's share of a read request" \
  "part 1 micro-benchmark (pv_audit_append threads); part 2 hyperfine over 'phivault audit verify' on a log filled by audit_bench --fill; part 3 wrk reads alternating between a server with DIR/audit on disk and one with DIR/audit on tmpfs, medians over rounds" \
  "{'audit': {'append_seconds_per_run': $ASECS, 'append_threads': '$ATHREADS', 'verify_entries': $ENTRIES, 'verify_log_bytes': $log_bytes, 'tmpfs': '$TMPFS_NOTE', 'records': {'patients': $NPAT, 'observations_per_patient': $NOBS}}}"
E_DISK=${entries[disk]:-0} F_DISK=${fsyncs[disk]:-0} \
E_TMPFS=${entries[tmpfs]:-0} F_TMPFS=${fsyncs[tmpfs]:-0} VERIFIED=$verified \
python3 - "$BENCH_TMP/micro.json" "$RUNS/verify.json" "$BENCH_TMP/fill.txt" \
  "${series[disk]}" "${series[tmpfs]:-}" >"$BENCH_TMP/fig.json" <<'EOF'
import json, os, re, statistics, sys
e = os.environ
micro = json.load(open(sys.argv[1]))
ver = json.load(open(sys.argv[2]))
fill = open(sys.argv[3]).read()
def runs(csv):
    return [json.load(open(p)) for p in csv.split(",") if p]
disk, tmpfs = runs(sys.argv[4]), runs(sys.argv[5])
n = int(e["VERIFIED"])
fig = {
    "append_concurrency": micro["figures"]["append_concurrency"],
    "append_micro_machine": micro["machine"],
    "verify": {"entries": n, "median_s": ver["median_s"], "runs_s": ver["runs_s"],
               "entries_per_s": round(n / ver["median_s"]), "tool": ver["tool"]},
    "fill": fill.strip(),
}
m = re.search(r"\(([0-9]+)/s, ([0-9]+) group commits", fill)
if m:
    fig["fill_entries_per_s_large_batches"] = int(m.group(1))
    # CPU-bound: ~1e6/rate microseconds of writer work per entry.
    fig["audit_writer_us_per_entry_large_batches"] = round(1e6 / int(m.group(1)), 2)
lines = ["pv_audit_append, appends/s by threads (entries/fsync): " + ", ".join(
    "%d: %.0f (%.1f)" % (r["threads"], r["appends_per_s"], r["entries_per_fsync"])
    for r in fig["append_concurrency"]),
    "audit verify: %d entries in %.2f s (median) = %.0f entries/s"
    % (n, ver["median_s"], n / ver["median_s"])]
def med(rs, f):
    return statistics.median(f(r) for r in rs) if rs else None
part3 = {}
for name, rs, E, F in (("disk", disk, "E_DISK", "F_DISK"), ("tmpfs", tmpfs, "E_TMPFS", "F_TMPFS")):
    if not rs:
        continue
    ent, fs = int(e[E]), int(e[F])
    part3[name] = {"rps": med(rs, lambda r: r["rps"]),
                   "p50_ms": med(rs, lambda r: r["latency_ms"]["p50"]),
                   "p99_ms": med(rs, lambda r: r["latency_ms"]["p99"]),
                   "cpu_us_per_req": med(rs, lambda r: r.get("server_cpu_us_per_req") or 0),
                   "audit_entries": ent, "audit_fsyncs": fs,
                   "entries_per_fsync": round(ent / fs, 1) if fs else None,
                   "fsyncs_per_s": round(fs / sum(r["duration_s"] for r in rs), 1)}
    lines.append("reads, audit on %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms; %d entries in %d fsyncs (%.1f per fsync)"
                 % (name, part3[name]["rps"], part3[name]["p50_ms"], part3[name]["p99_ms"],
                    ent, fs, ent / fs if fs else 0))
if "disk" in part3 and "tmpfs" in part3:
    d, t = part3["disk"], part3["tmpfs"]
    part3["fsync_cost"] = {
        "throughput_disk_over_tmpfs": round(d["rps"] / t["rps"], 3),
        "p50_ms_added_by_fsync": round(d["p50_ms"] - t["p50_ms"], 3),
        "cpu_us_per_req_disk_minus_tmpfs": round(d["cpu_us_per_req"] - t["cpu_us_per_req"], 1)}
    lines.append("fsync share: disk/tmpfs throughput %.3f, p50 +%.2f ms"
                 % (d["rps"] / t["rps"], d["p50_ms"] - t["p50_ms"]))
fig["read_cost"] = part3
fig["_summary"] = lines
json.dump(fig, sys.stdout)
EOF
join_series=("read-audit-disk:${series[disk]}")
ratio=()
if [ "$USE_TMPFS" = 1 ]; then
  join_series+=("read-audit-tmpfs:${series[tmpfs]}")
  ratio=(--ratio read-audit-disk/read-audit-tmpfs)
fi
python3 "$BENCH_DIR/featsum.py" "$BENCH_TMP/meta.json" "$out" "${ratio[@]}" \
  --figures "$BENCH_TMP/fig.json" "${join_series[@]}"
