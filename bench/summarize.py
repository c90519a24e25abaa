#!/usr/bin/env python3
"""bench/summarize.py — combine per-run wrk JSON (from wrkparse.py) into one
result document and print a small table.

usage: summarize.py META.json OUT.json SUBJECT:RUN.json,RUN.json,... \
                    BASELINE:RUN.json,...

META.json holds everything known before the runs (benchmark name, time,
parameters, machine, tool versions, TLS details...); it is copied into the
output. For each server the median over rounds of every metric is taken
separately (requests/s, p50, p99, ...), and the ratios SUBJECT/BASELINE of
those medians are reported. Runs with socket errors or non-2xx responses
are flagged in "warnings" and make "valid" false. Standard library only.
"""
import json
import os
import statistics
import sys

METRICS = [  # (key in output, getter)
    ("rps", lambda r: r["rps"]),
    ("p50_ms", lambda r: r["latency_ms"]["p50"]),
    ("p75_ms", lambda r: r["latency_ms"]["p75"]),
    ("p90_ms", lambda r: r["latency_ms"]["p90"]),
    ("p99_ms", lambda r: r["latency_ms"]["p99"]),
    ("avg_ms", lambda r: r["latency_ms"]["avg"]),
    ("bytes_per_response", lambda r: r["bytes_per_response"]),
    ("server_cpu_us_per_req", lambda r: r.get("server_cpu_us_per_req")),
]


def load_runs(spec):
    label, _, files = spec.partition(":")
    runs = []
    for path in files.split(","):
        with open(path, encoding="utf-8") as f:
            runs.append(json.load(f))
    return label, runs


def medians(runs):
    out = {}
    for key, get in METRICS:
        vals = [get(r) for r in runs if get(r) is not None]
        out[key] = round(statistics.median(vals), 3) if vals else None
    return out


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__.split("\n\n")[1])
    with open(argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    servers, warnings = {}, []
    order = []
    for spec in argv[3:]:
        label, runs = load_runs(spec)
        order.append(label)
        for i, r in enumerate(runs, 1):
            errs = sum(r["errors"].values())
            if errs or r["non2xx"]:
                warnings.append("%s round %d: %d socket errors, %d non-2xx"
                                % (label, i, errs, r["non2xx"]))
        servers[label] = {"median": medians(runs), "runs": runs}
    subject, baselines = order[0], order[1:]
    ratios = {}
    for b in baselines:
        r = {}
        for key in ("rps", "p50_ms", "p99_ms", "server_cpu_us_per_req"):
            a, z = servers[subject]["median"][key], servers[b]["median"][key]
            r[key] = round(a / z, 3) if a is not None and z else None
        ratios["%s/%s" % (subject, b)] = r
    doc.update({"servers": servers, "ratios": ratios,
                "warnings": warnings, "valid": not warnings})

    tmp = argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, argv[2])

    # The table (stdout).
    p = doc.get("params", {})
    print()
    print("%s: wrk %s threads, %s connections, %s s x %s rounds "
          "(medians over rounds)" % (doc.get("benchmark", "?"),
                                     p.get("threads"), p.get("connections"),
                                     p.get("duration_s"), p.get("rounds")))
    hdr = "%-22s %12s %9s %9s %12s %10s" % ("server", "requests/s", "p50 ms",
                                             "p99 ms", "CPU us/req", "bytes/rsp")
    print(hdr)
    print("-" * len(hdr))

    def fmt(v, spec):
        return spec % v if v is not None else "n/a"

    for label in order:
        m = servers[label]["median"]
        print("%-22s %12s %9s %9s %12s %10s" % (
            label, fmt(m["rps"], "%.0f"), fmt(m["p50_ms"], "%.2f"),
            fmt(m["p99_ms"], "%.2f"), fmt(m["server_cpu_us_per_req"], "%.1f"),
            fmt(m["bytes_per_response"], "%.0f")))
    for name, r in ratios.items():
        print("%-22s %12s %9s %9s %12s" % (
            "ratio " + name, fmt(r["rps"], "%.3f"), fmt(r["p50_ms"], "%.3f"),
            fmt(r["p99_ms"], "%.3f"), fmt(r["server_cpu_us_per_req"], "%.3f")))
    print()
    for label in order:
        print("%-10s per-round requests/s: %s" % (label, ", ".join(
            "%.0f" % r["rps"] for r in servers[label]["runs"])))
    mach = doc.get("machine", {})
    if "loadavg_start" in mach:
        print("load average at start: %s, at end: %s (%s CPUs)" % (
            mach["loadavg_start"], mach["loadavg_end"], mach.get("cpus")))
    for w in warnings:
        print("WARNING: " + w)
    print("results: " + argv[2])


if __name__ == "__main__":
    main(sys.argv)
