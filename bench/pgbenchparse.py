#!/usr/bin/env python3
"""bench/pgbenchparse.py — one pgbench run as the JSON bench/wrkparse.py
writes for wrk, so the two report side by side.

usage: pgbenchparse.py LABEL PGBENCH_OUTPUT.txt [SERVER_CPU_TICKS CLK_TCK]
                       [TXLOG...]

PGBENCH_OUTPUT.txt is pgbench's stdout+stderr (PostgreSQL 15), e.g.
    number of transactions actually processed: 123456
    number of failed transactions: 0 (0.000%)
    latency average = 7.123 ms
    tps = 8976.123456 (without initial connection time)
TXLOG files are pgbench --log per-transaction logs ("client_id
transaction_no time_us script_no time_epoch time_us ..."); when given,
the latency percentiles are computed from them (pgbench itself prints
only the average). Standard library only.
"""
import json
import re
import sys


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def parse(text):
    out = {"latency_ms": {}, "errors": {"connect": 0, "read": 0, "write": 0,
                                        "timeout": 0}, "non2xx": 0}
    m = re.search(r"number of transactions actually processed: (\d+)", text)
    if not m:
        raise ValueError("no transaction count (did pgbench run?)")
    out["requests"] = int(m.group(1))
    m = re.search(r"number of failed transactions: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))   # failed transactions
    m = re.search(r"^duration: (\d+) s", text, re.M)
    out["duration_s"] = float(m.group(1)) if m else None
    m = re.search(r"latency average = ([0-9.]+) ms", text)
    if m:
        out["latency_ms"]["avg"] = float(m.group(1))
    m = re.search(r"^tps = ([0-9.]+)", text, re.M)
    if not m:
        raise ValueError("no tps line")
    out["rps"] = float(m.group(1))
    out["bytes_per_s"] = None
    out["bytes_per_response"] = None
    if "aborted" in text or re.search(r"^pgbench: error", text, re.M):
        out["errors"]["read"] += 1
    return out


def add_percentiles(res, logs):
    lat = []
    for path in logs:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]) / 1000.0)   # us -> ms
    lat.sort()
    if not lat:
        return
    for p in (50, 75, 90, 99):
        res["latency_ms"]["p%d" % p] = round(percentile(lat, p), 3)
    res["latency_ms"]["max"] = round(lat[-1], 3)
    res["latency_ms"].setdefault("avg", round(sum(lat) / len(lat), 3))
    res["latency_samples"] = len(lat)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    with open(argv[2], encoding="utf-8", errors="replace") as f:
        res = parse(f.read())
    res = {"label": argv[1], **res}
    logs = argv[5:] if len(argv) >= 5 else []
    if len(argv) >= 5 and int(argv[4]) > 0:
        cpu_s = int(argv[3]) / int(argv[4])
        res["server_cpu_s"] = round(cpu_s, 2)
        res["server_cpu_us_per_req"] = (round(cpu_s * 1e6 / res["requests"], 1)
                                        if res["requests"] else None)
    add_percentiles(res, logs)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
