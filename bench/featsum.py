#!/usr/bin/env python3
"""bench/featsum.py — result document and table for the feature benchmarks.

usage: featsum.py META.json OUT.json [--ratio A/B]... [--figures F.json]...
                  [--expect-non2xx LABEL]... LABEL:RUN.json,RUN.json,...

Like summarize.py (whose helpers it reuses) but for any number of labelled
series of wrk runs (from wrkparse.py): the median over rounds of every
metric per label, the ratios A/B of those medians that --ratio names, and
extra figures (--figures: JSON objects merged into doc["figures"], e.g.
micro-benchmark results or CLI timings; a "_summary" list of strings in
one is printed under the table and kept in doc["summary"]; a "_warnings"
list joins the warnings). Runs with socket errors or
non-2xx responses make "valid" false, except non-2xx on labels given with
--expect-non2xx. Standard library only.
"""
import json
import os
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summarize import load_runs, medians  # noqa: E402


def fmt(v, spec):
    return spec % v if v is not None else "n/a"


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__.split("\n\n")[1])
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    out_path = argv[2]
    ratios_wanted, figure_files, series, non2xx_ok = [], [], [], set()
    args = argv[3:]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--ratio", "--figures", "--expect-non2xx") and i + 1 < len(args):
            {"--ratio": ratios_wanted, "--figures": figure_files}.get(
                a, []).append(args[i + 1])
            if a == "--expect-non2xx":
                non2xx_ok.add(args[i + 1])
            i += 2
            continue
        series.append(a)
        i += 1

    servers, warnings, order = {}, list(doc.get("warnings", [])), []
    for spec in series:
        label, runs = load_runs(spec)
        order.append(label)
        for n, r in enumerate(runs, 1):
            errs = sum(r["errors"].values())
            if errs or (r["non2xx"] and label not in non2xx_ok):
                warnings.append("%s round %d: %d socket errors, %d non-2xx"
                                % (label, n, errs, r["non2xx"]))
        servers[label] = {"median": medians(runs), "runs": runs}
    ratios = {}
    for spec in ratios_wanted:
        a, _, b = spec.partition("/")
        if a not in servers or b not in servers:
            sys.exit("featsum: --ratio %s names an unknown label" % spec)
        r = {}
        for key in ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_req"):
            x, y = servers[a]["median"][key], servers[b]["median"][key]
            r[key] = round(x / y, 3) if x is not None and y else None
        ratios[spec] = r
    figures, summary = doc.get("figures", {}), list(doc.get("summary", []))
    for path in figure_files:
        with open(path, encoding="utf-8") as f:
            fig = json.load(f)
        summary += fig.pop("_summary", [])   # lines for the table only
        warnings += fig.pop("_warnings", [])  # problems found by the script
        figures.update(fig)
    doc["summary"] = summary
    doc.update({"series": servers, "ratios": ratios, "figures": figures,
                "warnings": warnings, "valid": not warnings})

    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, out_path)

    p = doc.get("params", {})
    print()
    if order:
        print("%s: wrk, %s s x %s rounds (medians over rounds)" % (
            doc.get("benchmark", "?"), p.get("duration_s"), p.get("rounds")))
        hdr = "%-30s %11s %9s %9s %11s %9s %6s" % (
            "series", "requests/s", "p50 ms", "p99 ms", "CPU us/req",
            "bytes/rsp", "conns")
        print(hdr)
        print("-" * len(hdr))
        for label in order:
            m = servers[label]["median"]
            conns = servers[label]["runs"][0].get("connections", "")
            print("%-30s %11s %9s %9s %11s %9s %6s" % (
                label, fmt(m["rps"], "%.1f"), fmt(m["p50_ms"], "%.2f"),
                fmt(m["p99_ms"], "%.2f"),
                fmt(m["server_cpu_us_per_req"], "%.0f"),
                fmt(m["bytes_per_response"], "%.0f"), conns))
        for name, r in ratios.items():
            print("%-30s %11s %9s %9s %11s" % (
                "ratio " + name, fmt(r["rps"], "%.3f"),
                fmt(r["p50_ms"], "%.3f"), fmt(r["p99_ms"], "%.3f"),
                fmt(r["server_cpu_us_per_req"], "%.3f")))
        print()
        for label in order:
            print("%-30s per-round requests/s: %s" % (label, ", ".join(
                "%.1f" % r["rps"] for r in servers[label]["runs"])))
    for line in doc.get("summary", []):
        print(line)
    mach = doc.get("machine", {})
    if "loadavg_start" in mach:
        print("load average at start: %s, at end: %s (%s CPUs)" % (
            mach["loadavg_start"], mach["loadavg_end"], mach.get("cpus")))
    for w in warnings:
        print("WARNING: " + w)
    print("results: " + out_path)


if __name__ == "__main__":
    main(sys.argv)
