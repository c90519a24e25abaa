#!/usr/bin/env python3
"""bench/wrkparse.py — turn the text of one `wrk --latency` run into JSON.

usage: wrkparse.py LABEL WRK_OUTPUT.txt [SERVER_CPU_TICKS CLK_TCK]

wrk 4.x prints durations with a unit (us, ms, s, m, h), sizes with a binary
suffix (B, KB, MB, GB) and the latency distribution only with --latency:

      2 threads and 64 connections
      Thread Stats   Avg      Stdev     Max   +/- Stdev
        Latency     2.67ms    2.05ms  66.12ms   83.25%
      Latency Distribution
         50%    2.54ms
         ...
         99%    7.06ms
      115297 requests in 5.01s, 47.62MB read
      Socket errors: connect 0, read 0, write 0, timeout 0     (only if any)
      Non-2xx or 3xx responses: 5                              (only if any)
    Requests/sec:  23004.99
    Transfer/sec:      9.50MB

Latencies are reported in milliseconds. Only the standard library is used.
"""
import json
import re
import sys

TIME_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
SIZE_B = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError("bad duration %r" % text)
    return float(m.group(1)) * TIME_MS[m.group(2)]


def size(text):
    m = re.fullmatch(r"([0-9.]+)(B|KB|MB|GB|TB)", text)
    if not m:
        raise ValueError("bad size %r" % text)
    return float(m.group(1)) * SIZE_B[m.group(2)]


def parse(text):
    out = {"latency_ms": {}, "errors": {"connect": 0, "read": 0, "write": 0,
                                        "timeout": 0}, "non2xx": 0}
    m = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if not m:
        raise ValueError("no latency line (did wrk run at all?)")
    out["latency_ms"]["avg"] = ms(m.group(1))
    out["latency_ms"]["stdev"] = ms(m.group(2))
    out["latency_ms"]["max"] = ms(m.group(3))
    for pct, val in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", text, re.M):
        out["latency_ms"]["p" + pct] = ms(val)
    if "p50" not in out["latency_ms"] or "p99" not in out["latency_ms"]:
        raise ValueError("no latency distribution (wrk run without --latency?)")
    m = re.search(r"^\s*(\d+) requests in (\S+), (\S+) read", text, re.M)
    if not m:
        raise ValueError("no request count line")
    out["requests"] = int(m.group(1))
    out["duration_s"] = ms(m.group(2)) / 1e3
    out["bytes_read"] = size(m.group(3))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", text)
    if m:
        out["errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                 map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not m:
        raise ValueError("no Requests/sec line")
    out["rps"] = float(m.group(1))
    m = re.search(r"^Transfer/sec:\s+(\S+)", text, re.M)
    out["bytes_per_s"] = size(m.group(1)) if m else None
    # Average bytes on the wire per response (headers + body, before TLS).
    out["bytes_per_response"] = (round(out["bytes_read"] / out["requests"], 1)
                                 if out["requests"] else None)
    return out


def main(argv):
    if len(argv) not in (3, 5):
        sys.exit(__doc__.split("\n\n")[1])
    with open(argv[2], encoding="utf-8", errors="replace") as f:
        res = parse(f.read())
    res = {"label": argv[1], **res}
    if len(argv) == 5 and int(argv[4]) > 0:
        cpu_s = int(argv[3]) / int(argv[4])
        res["server_cpu_s"] = round(cpu_s, 2)
        # CPU-microseconds the server spent per request: an efficiency
        # figure that is less sensitive than requests/s to how the cores
        # were shared with wrk.
        res["server_cpu_us_per_req"] = (round(cpu_s * 1e6 / res["requests"], 1)
                                        if res["requests"] else None)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv)
