#!/usr/bin/env bash
# bench/deid.sh — issue 8: de-identified export throughput (records/s).
#
# What it measures
#   tests/tools/gen_population.py writes BENCH_DEID_PATIENTS patients
#   (default 10,000) x BENCH_DEID_PER_PATIENT resources each (default 10:
#   the Patient and 9 compartment resources) = 100,000 resources of
#   synthetic, identifier-laden FHIR; `phivault import` loads them into a
#   fresh vault (timed once, reported too); then
#   `phivault deid export DIR --out FILE --format ndjson|csv` is timed over
#   BENCH_ROUNDS runs each (hyperfine -N, a fresh output file per run).
#   records/s = resources in the vault / median wall time (the whole CLI
#   run: vault open, both passes — k-anonymity over the Patients, then
#   de-identification of every released resource — and the checked copy
#   to the output file). Rows written (after k-anonymity suppression) are
#   reported as well.
#
#   The bench vault releases sex and ZIP3 only ([deid] quasi_identifiers =
#   sex,zip3, BENCH_DEID_QUASI): with phivault's default (birth_year,sex,
#   zip3) and k=5 a synthetic population of this size is so sparse that
#   most patients are suppressed and the export would time mostly skipped
#   work. BENCH_DEID_QUASI=default keeps the default to measure that case.
#
# Usage
#   bench/deid.sh
#   BENCH_DEID_PATIENTS=2000 BENCH_ROUNDS=5 bench/deid.sh
# Parameters: BENCH_DEID_PATIENTS=10000, BENCH_DEID_PER_PATIENT=10,
#   BENCH_DEID_QUASI=sex,zip3 ("default": phivault's own setting),
#   BENCH_ROUNDS=3, BENCH_BUILD_DIR, BENCH_MAX_SECONDS (default 3600),
#   BENCH_KEEP_TMP.
# Result: bench/results/deid-<UTC>.json. Needs: scripts/deps bench
#   (hyperfine; else a bash timing loop is used).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=featlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/featlib.sh"

NPAT=${BENCH_DEID_PATIENTS:-10000}
QUASI=${BENCH_DEID_QUASI:-sex,zip3}
PER=${BENCH_DEID_PER_PATIENT:-10}
BENCH_MAX_SECONDS=${BENCH_MAX_SECONDS:-3600}
bench_init deid
bench_int BENCH_DEID_PATIENTS "$NPAT" 10
bench_int BENCH_DEID_PER_PATIENT "$PER" 1
RUNS=$BENCH_TMP/runs
mkdir -p "$RUNS"

feat_build
total=$((NPAT * PER))
bench_log "generating $NPAT patients x $PER resources = $total resources"
timeout 900 python3 "$BENCH_SRC/tests/tools/gen_population.py" "$NPAT" \
  --per-patient $((PER - 1)) >"$BENCH_TMP/pop.ndjson" || bench_die "gen_population failed"
lines=$(wc -l <"$BENCH_TMP/pop.ndjson")
[ "$lines" -eq "$total" ] || bench_die "generated $lines lines, expected $total"
pop_bytes=$(stat -c %s "$BENCH_TMP/pop.ndjson")

VAULT=$BENCH_TMP/vault
printf '%s\n' "$BENCH_ADMIN_PW" | timeout 60 "$PHIVAULT" init "$VAULT" >/dev/null 2>&1 ||
  bench_die "phivault init failed"
if [ "$QUASI" != default ]; then
  printf '\n# --- appended by bench/deid.sh ---\n[deid]\nquasi_identifiers = %s\n' \
    "$QUASI" >>"$VAULT/phivault.conf"
fi
bench_log "importing $total resources ($pop_bytes bytes of NDJSON)"
t0=$(date +%s%N)
timeout 3000 "$PHIVAULT" import "$VAULT" "$BENCH_TMP/pop.ndjson" >"$BENCH_TMP/import.txt" \
  2>"$BENCH_TMP/import.err" || { tail -n 5 "$BENCH_TMP/import.err" >&2; bench_die "import failed"; }
t1=$(date +%s%N)
import_s=$(python3 -c "print(round(($t1 - $t0) / 1e9, 3))")
imported=$(grep -o 'imported [0-9]*' "$BENCH_TMP/import.txt" | grep -o '[0-9]*')
[ "${imported:-0}" -gt 0 ] || bench_die "nothing imported"
import_rate=$(python3 -c "print(round($imported / $import_s))")
bench_log "imported $imported resources in ${import_s}s ($import_rate/s)"
rm -f "$BENCH_TMP/pop.ndjson"

for fmt in ndjson csv; do
  bench_log "timing 'phivault deid export --format $fmt', 1 untimed + $BENCH_ROUNDS runs"
  feat_time "deid-export-$fmt" "$RUNS/$fmt.json" "$BENCH_ROUNDS" "rm -f $BENCH_TMP/out.$fmt" -- \
    "$PHIVAULT" deid export "$VAULT" --out "$BENCH_TMP/out.$fmt" --format "$fmt"
  grep -h 'de-identified export' "$RUNS/$fmt.log" >"$RUNS/$fmt.summary" ||
    { cat "$RUNS/$fmt.log" >&2; bench_die "no export summary ($fmt)"; }
  stat -c %s "$BENCH_TMP/out.$fmt" >"$RUNS/$fmt.bytes"
done

out=$(bench_result_file deid)
feat_meta "$out" \
  "de-identified export throughput (phivault deid export), NDJSON and CSV" \
  "gen_population.py -> phivault import (timed once) -> hyperfine -N over 'phivault deid export --out FILE' (fresh file per run, one untimed run first); records/s = resources in the vault / median wall time" \
  "{'deid': {'quasi_identifiers': '$QUASI', 'k': 5, 'patients': $NPAT, 'resources_per_patient': $PER, 'resources': $total, 'population_ndjson_bytes': $pop_bytes, 'import': {'resources': $imported, 'seconds': $import_s, 'resources_per_s': $import_rate}}}"
python3 - "$RUNS" "$total" >"$BENCH_TMP/fig.json" <<'EOF'
import json, re, sys
d, total = sys.argv[1], int(sys.argv[2])
fig, lines = {}, []
for fmt in ("ndjson", "csv"):
    t = json.load(open("%s/%s.json" % (d, fmt)))
    summ = open("%s/%s.summary" % (d, fmt)).read().strip().splitlines()[-1]
    m = re.search(r"(\d+) records written", summ)
    written = int(m.group(1)) if m else None
    size = int(open("%s/%s.bytes" % (d, fmt)).read())
    fig[fmt] = {"median_s": t["median_s"], "runs_s": t["runs_s"], "tool": t["tool"],
                "records_per_s": round(total / t["median_s"]),
                "rows_written": written,
                "rows_written_per_s": round(written / t["median_s"]) if written else None,
                "output_bytes": size, "summary": summ}
    lines.append("%-6s export: %d resources in %.2f s (median of %d) = %.0f records/s; %s rows written, %d bytes"
                 % (fmt, total, t["median_s"], len(t["runs_s"]), total / t["median_s"],
                    written, size))
lines.append("k-anonymity: " + fig["ndjson"]["summary"].split(": ", 1)[1])
fig["_summary"] = lines
json.dump(fig, sys.stdout)
EOF
python3 "$BENCH_DIR/featsum.py" "$BENCH_TMP/meta.json" "$out" --figures "$BENCH_TMP/fig.json"
