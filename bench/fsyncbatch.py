#!/usr/bin/env python3
"""bench/fsyncbatch.py -- what one audit group commit costs an SQLite vault.

usage: fsyncbatch.py --dir DIR --lines FILE --seconds S --sizes 1,16,64

The file medium of the audit trail (src/audit/medium_file.c) makes a batch
durable with one write() of its lines and one fdatasync() of
audit/log.jsonl. For each batch size N this appends the first N lines of
FILE (real audit lines) to a scratch file in DIR (the file system the
vault is on) and fdatasyncs it, for S seconds, one batch after the other,
and prints one line per size: "fsync_nN<TAB>JSON" with the batches, their
mean and median time in ms, and batches/s. The scratch file is removed.
Standard library only.
"""
import argparse
import json
import os
import statistics
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--lines", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--sizes", required=True)
    a = ap.parse_args()
    with open(a.lines, "rb") as f:
        lines = [ln for ln in f.read().split(b"\n") if ln]
    if not lines:
        raise SystemExit("fsyncbatch.py: no lines in %s" % a.lines)
    path = os.path.join(a.dir, "fsyncbatch.scratch")
    for n in [int(x) for x in a.sizes.split(",")]:
        data = b"".join(lines[i % len(lines)] + b"\n" for i in range(n))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC,
                     0o600)
        times = []
        try:
            stop = time.monotonic() + a.seconds
            while time.monotonic() < stop and len(times) < 1000000:
                t0 = time.perf_counter()
                os.write(fd, data)
                os.fdatasync(fd)
                times.append((time.perf_counter() - t0) * 1e3)
        finally:
            os.close(fd)
            os.unlink(path)
        res = {"label": "fsync_n%d" % n, "entries_per_batch": n,
               "batch_bytes": len(data), "batches": len(times),
               "batch_ms_mean": round(statistics.fmean(times), 3),
               "batch_ms_p50": round(statistics.median(times), 3),
               "batches_per_s": round(len(times) / sum(times) * 1e3, 1)}
        print("%s\t%s" % (res["label"], json.dumps(res)))


if __name__ == "__main__":
    main()
