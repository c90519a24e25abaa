#!/usr/bin/env python3
"""bench/scale.py -- the figures of bench/scale.sh: one run, pgbench, report.

usage:
  scale.py cell --label L --wrk WRK.txt --clk-tck T --duration D
                --node-ticks N --pg-ticks N --haproxy-ticks N
                --busy0 "BUSY TOTAL" --busy1 "BUSY TOTAL" --nodes "A B"
                --audit0 "E F,E F" --audit1 "E F,E F"
                [--pg0 "C R B W S ST" --pg1 "..."] [--lock FILE]   > run.json
  scale.py pgbench --label L --out PGBENCH.txt --clients C
                --wal0 "SYNCS MS" --wal1 "SYNCS MS" --pg-ticks N --clk-tck T
                                                       >> seq.tsv
  scale.py report --env ENV.json --facts FACTS.tsv --manifest MANIFEST.tsv
                --seq SEQ.tsv --out RESULT.json --timestamp TS
                --params "k=v ..." --haproxy VERSION

`cell` turns one wrk run and the counters read around it into JSON: wrk's
figures (bench/wrkparse.py), CPU microseconds per request of the serving
node(s), of PostgreSQL and of HAProxy, the machine's busy fraction, the
audit group commits of each node (entries and batches from /metrics),
PostgreSQL's commits and WAL fsyncs, and the sequencer lock's sampled
held fraction and mean waiters; from these the lock hold time per batch
(held fraction x run time / batches). `pgbench` does the same for one
pgbench run (bench/pgbenchparse.py). `report` takes medians over rounds,
ratios against the SQLite cell of the same workload (per round, then the
median), prints the table and the capacity calculation, and writes the
result JSON. Standard library only.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgbenchparse  # noqa: E402
import wrkparse  # noqa: E402

CONFIGS = ["sqlite", "pg1", "pg1_ha", "pg2_ha"]
CONFIG_NAMES = {"sqlite": "SQLite, 1 node",
                "pg1": "PostgreSQL, 1 node, direct",
                "pg1_ha": "PostgreSQL, 1 node, HAProxy",
                "pg2_ha": "PostgreSQL, 2 nodes, HAProxy"}
WORKLOADS = ["read", "write", "search"]


def pairs(text):
    """"E F,E F" -> [(E, F), ...] (floats)."""
    out = []
    for part in text.split(","):
        if part.strip():
            e, f = part.split()
            out.append((float(e), float(f)))
    return out


def cmd_cell(a):
    with open(a.wrk, encoding="utf-8", errors="replace") as f:
        r = {"label": a.label, **wrkparse.parse(f.read())}
    n = r["requests"] or 1
    tck = float(a.clk_tck)
    dur = r["duration_s"] or float(a.duration)
    r["node_cpu_us_per_req"] = round(int(a.node_ticks) / tck * 1e6 / n, 1)
    r["pg_cpu_us_per_req"] = round(int(a.pg_ticks) / tck * 1e6 / n, 1)
    r["haproxy_cpu_us_per_req"] = round(int(a.haproxy_ticks) / tck * 1e6 / n, 1)
    r["client_cpu_us_per_req"] = round(int(a.client_ticks) / tck * 1e6 / n, 1)
    b0, t0 = map(float, a.busy0.split())
    b1, t1 = map(float, a.busy1.split())
    r["machine_busy"] = round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else None
    # CPU of everything else on the machine (other jobs, idle nodes, the
    # kernel's own threads), as a share of all CPUs: busy minus what the
    # nodes, PostgreSQL, HAProxy and wrk used.
    ours = (int(a.node_ticks) + int(a.pg_ticks) + int(a.haproxy_ticks)
            + int(a.client_ticks))
    r["other_busy"] = (round(max(b1 - b0 - ours, 0) / (t1 - t0), 3)
                       if t1 > t0 else None)
    nodes = a.nodes.split()
    au0, au1 = pairs(a.audit0), pairs(a.audit1)
    r["audit"] = {}
    ent = bat = 0
    for name, (e0, f0), (e1, f1) in zip(nodes, au0, au1):
        r["audit"][name] = {"entries": int(e1 - e0), "batches": int(f1 - f0)}
        ent += e1 - e0
        bat += f1 - f0
    r["audit_entries"], r["audit_batches"] = int(ent), int(bat)
    r["audit_entries_per_req"] = round(ent / n, 3)
    r["audit_entries_per_batch"] = round(ent / bat, 2) if bat else None
    r["audit_batches_per_s"] = round(bat / dur, 1)
    if a.pg0 and a.pg1:
        p0 = [float(x) for x in a.pg0.split()]
        p1 = [float(x) for x in a.pg1.split()]
        d = [y - x for x, y in zip(p0, p1)]
        r["pg"] = {"commits_per_req": round(d[0] / n, 3),
                   "wal_bytes_per_req": round(d[2] / n, 1),
                   "wal_syncs_per_s": round(d[4] / dur, 1),
                   "wal_sync_ms_mean": round(d[5] / d[4], 3) if d[4] else None,
                   "commits_per_s": round(d[0] / dur, 1)}
    if a.lock and os.path.exists(a.lock):
        with open(a.lock, encoding="utf-8") as f:
            parts = f.read().split()
        if len(parts) == 3 and int(parts[0]) > 0:
            s, h, w = map(int, parts)
            held = h / s
            r["lock"] = {"samples": s, "held_frac": round(held, 3),
                         "waiters_mean": round(w / s, 3)}
            if bat:
                r["lock"]["hold_ms_per_batch"] = round(held * dur * 1e3 / bat, 3)
    json.dump(r, sys.stdout)
    sys.stdout.write("\n")


def cmd_pgbench(a):
    with open(a.out, encoding="utf-8", errors="replace") as f:
        r = {"label": a.label, **pgbenchparse.parse(f.read())}
    if r["non2xx"] or r["errors"]["read"]:
        raise SystemExit("pgbench %s: failed transactions" % a.label)
    r["clients"] = int(a.clients)
    n = r["requests"] or 1
    s0, m0 = map(float, a.wal0.split())
    s1, m1 = map(float, a.wal1.split())
    r["wal_syncs_per_tx"] = round((s1 - s0) / n, 3)
    r["wal_sync_ms_mean"] = round((m1 - m0) / (s1 - s0), 3) if s1 > s0 else None
    r["pg_cpu_us_per_tx"] = round(int(a.pg_ticks) / float(a.clk_tck) * 1e6 / n, 1)
    print("%s\t%s" % (a.label, json.dumps(r)))


# ---- report ------------------------------------------------------------


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def fmt(v, nd=0, unit=""):
    if v is None:
        return "-"
    return ("{:,.%df}" % nd).format(v) + unit


def cmd_report(a):
    with open(a.env, encoding="utf-8") as f:
        env = json.load(f)
    facts = {}
    with open(a.facts, encoding="utf-8") as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            facts[k] = v
    runs = {}
    with open(a.manifest, encoding="utf-8") as f:
        for line in f:
            name, rnd, path = line.rstrip("\n").split("\t")
            with open(path, encoding="utf-8") as g:
                runs.setdefault(name, {})[int(rnd)] = json.load(g)
    seq = {}
    if os.path.exists(a.seq):
        with open(a.seq, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    label, _, js = line.rstrip("\n").partition("\t")
                    seq[label] = json.loads(js)
    params = dict(kv.split("=", 1) for kv in a.params.split())

    cells = {}
    metrics = {"rps": "rps", "p50_ms": "latency_ms.p50", "p99_ms": "latency_ms.p99",
               "node_cpu_us_per_req": "node_cpu_us_per_req",
               "pg_cpu_us_per_req": "pg_cpu_us_per_req",
               "haproxy_cpu_us_per_req": "haproxy_cpu_us_per_req",
               "machine_busy": "machine_busy", "other_busy": "other_busy",
               "client_cpu_us_per_req": "client_cpu_us_per_req",
               "audit_entries_per_req": "audit_entries_per_req",
               "audit_entries_per_batch": "audit_entries_per_batch",
               "audit_batches_per_s": "audit_batches_per_s",
               "lock_held_frac": "lock.held_frac",
               "lock_waiters_mean": "lock.waiters_mean",
               "lock_hold_ms_per_batch": "lock.hold_ms_per_batch",
               "pg_commits_per_req": "pg.commits_per_req",
               "pg_wal_syncs_per_s": "pg.wal_syncs_per_s",
               "pg_wal_sync_ms_mean": "pg.wal_sync_ms_mean",
               "errors": None}
    for w in WORKLOADS:
        for c in CONFIGS:
            name = "%s_%s" % (c, w)
            rr = runs.get(name, {})
            m = {}
            for k, path in metrics.items():
                if path is None:
                    m[k] = sum(sum(r["errors"].values()) + r["non2xx"] for r in rr.values())
                else:
                    m[k] = med([get(r, path) for r in rr.values()])
            m["rounds"] = len(rr)
            m["rps_per_round"] = [round(rr[k]["rps"], 1) for k in sorted(rr)]
            # per-node split of the audit entries (2 nodes: the balance)
            split = {}
            for r in rr.values():
                for node, v in r.get("audit", {}).items():
                    split.setdefault(node, []).append(v["entries"])
            m["audit_entries_by_node_median"] = {k: med(v) for k, v in split.items()}
            base = runs.get("sqlite_%s" % w, {})
            if c != "sqlite":
                per = [rr[k]["rps"] / base[k]["rps"] for k in rr if k in base]
                m["ratio_vs_sqlite"] = med(per)
                m["ratio_vs_sqlite_per_round"] = [round(x, 3) for x in per]
                bm = med([r["rps"] for r in base.values()])
                m["ratio_of_medians_vs_sqlite"] = (m["rps"] / bm) if bm and m["rps"] else None
            if c == "pg2_ha":
                one = runs.get("pg1_ha_%s" % w, {})
                per = [rr[k]["rps"] / one[k]["rps"] for k in rr if k in one]
                m["ratio_vs_pg1_ha"] = med(per)
                m["ratio_vs_pg1_ha_per_round"] = [round(x, 3) for x in per]
            cells[name] = m

    for name in ("probe_pg1_read", "probe_pg2_ha_read"):
        rr = runs.get(name, {})
        if rr:
            cells[name] = {k: (med([get(r, path) for r in rr.values()]) if path else None)
                           for k, path in metrics.items()}
            cells[name]["rounds"] = len(rr)
    cpus = env["machine"]["cpus"]
    out_lines = []
    p = out_lines.append
    p("")
    p("phivault scale benchmark (issue 15) — %s, commit %s%s" % (
        a.timestamp, env["source"]["commit"][:12],
        " (dirty)" if env["source"]["dirty"] else ""))
    p("machine: %d CPU(s), %s; load average at start %s, end %s" % (
        cpus, env["machine"]["cpu_model"], env["machine"]["loadavg_start"],
        env["machine"]["loadavg_end"]))
    p("wrk -t%s -c%s, %s s per run, %s rounds (alternating order) after a %s s "
      "warm-up; %s patients x %s resources" % (
          params["threads"], params["connections"], params["duration_s"],
          params["rounds"], params["warmup_s"], params["patients"],
          params["per_patient"]))
    p("NOTE: the phivault node(s), PostgreSQL %s, HAProxy %s and wrk all share these "
      "%d cores." % (facts.get("pg_version", "?"), a.haproxy, cpus))
    p("      Two nodes on %d cores measure contention and the shared audit sequencer, "
      "not scale-out;" % cpus)
    p("      CPU us per request (node / PG / HAProxy) is what carries over to other "
      "machines.")
    p("")
    hdr = ("%-7s %-30s %8s %7s %7s %7s %7s %7s %6s %5s %5s %6s %7s %6s %7s" % (
        "load", "set-up", "req/s", "p50 ms", "p99 ms", "xSQLite", "node us",
        "PG us", "HAP us", "busy", "other", "ent/b", "batch/s", "lock", "hold ms"))
    p(hdr)
    p("-" * len(hdr))
    for w in WORKLOADS:
        for c in CONFIGS:
            m = cells["%s_%s" % (c, w)]
            ratio = m.get("ratio_vs_sqlite")
            p("%-7s %-30s %8s %7s %7s %7s %7s %7s %6s %5s %5s %6s %7s %6s %7s" % (
                w if c == "sqlite" else "", CONFIG_NAMES[c], fmt(m["rps"]),
                fmt(m["p50_ms"], 2), fmt(m["p99_ms"], 1),
                "1" if c == "sqlite" else fmt(ratio, 2, "x"),
                fmt(m["node_cpu_us_per_req"]), fmt(m["pg_cpu_us_per_req"]),
                fmt(m["haproxy_cpu_us_per_req"]), fmt(m["machine_busy"], 2),
                fmt(m["other_busy"], 2), fmt(m["audit_entries_per_batch"], 1), fmt(m["audit_batches_per_s"]),
                fmt(m["lock_held_frac"], 2), fmt(m["lock_hold_ms_per_batch"], 2)))
            if m["errors"]:
                p("%-7s   !! %d socket errors / non-2xx responses" % ("", m["errors"]))
    p("")
    p("2 nodes vs 1 node, both behind HAProxy (median of per-round ratios): " + ", ".join(
        "%s %s" % (w, fmt(cells["pg2_ha_%s" % w].get("ratio_vs_pg1_ha"), 2, "x"))
        for w in WORKLOADS))
    p("columns: node/PG/HAP us = CPU microseconds per request of the serving node(s), "
      "of PostgreSQL")
    p("  (postmaster + backends) and of HAProxy; busy = share of all CPUs busy; other = "
      "share busy with")
    p("  anything but the nodes, PostgreSQL, HAProxy and wrk (other jobs); ent/b "
      "= audit entries")
    p("  per group commit; batch/s = group commits per second (all nodes); lock = "
      "share of time the")
    p("  sequencer's advisory lock was held (sampled every %s ms); hold ms = lock "
      "time per batch." % params["lock_sample_ms"])

    if "restart_startup_s" in facts:
        p("")
        p("Node restart: node C started in %s s over a trail of %s entries (it reads "
          "the signed trail before" % (facts["restart_startup_s"],
                                       fmt(float(facts["restart_trail_entries"]))))
        p("  taking the sequencer's lock); reads through node A meanwhile: worst latency %s ms "
          "(%s requests in %s s)" % (
              fmt(float(facts["restart_other_node_max_latency_ms"])),
              fmt(float(facts["restart_other_node_requests"])),
              params.get("restart_wrk_s", "?")))

    # --- sequencer, commit rate, fsync ------------------------------------
    calc = {}
    if seq:
        p("")
        p("Audit group commit on PostgreSQL: the statements of audit/medium_pg.c "
          "alone (pgbench -M extended,")
        p("real audit lines of ~%s bytes; 'catchup' adds the reads a node makes "
          "when another node appended)" % facts.get("audit_line_bytes_pg", "?"))
        hdr = "%-8s %6s %14s %12s %14s %12s %10s %9s" % (
            "shape", "ent/b", "1 cl ms/batch", "1 cl batch/s", "4 cl batch/s",
            "4 cl ent/s", "fsync/b", "fsync ms")
        p(hdr)
        p("-" * len(hdr))
        for v in ("append", "catchup"):
            for n in (1, 16, 64):
                s1 = seq.get("seq_%s_n%d_c1" % (v, n))
                s4 = seq.get("seq_%s_n%d_c4" % (v, n))
                if not s1 or not s4:
                    continue
                p("%-8s %6d %14s %12s %14s %12s %10s %9s" % (
                    v, n, fmt(s1["latency_ms"].get("avg"), 3), fmt(s1["rps"]),
                    fmt(s4["rps"]), fmt(s4["rps"] * n), fmt(s1["wal_syncs_per_tx"], 2),
                    fmt(s1["wal_sync_ms_mean"], 3)))
        c1, c16 = seq.get("commit_c1"), seq.get("commit_c16")
        if c1 and c16:
            p("commit rate (one INSERT per transaction, synchronous_commit on): "
              "1 client %s/s (%s ms each, WAL fsync %s ms), 16 clients %s/s "
              "(%s WAL fsyncs per commit)" % (
                  fmt(c1["rps"]), fmt(c1["latency_ms"].get("avg"), 3),
                  fmt(c1["wal_sync_ms_mean"], 3), fmt(c16["rps"]),
                  fmt(c16["wal_syncs_per_tx"], 2)))
        fs = [seq[k] for k in ("fsync_n1", "fsync_n16", "fsync_n64") if k in seq]
        if fs:
            p("SQLite vault's group commit (write + fdatasync of the batch, same file "
              "system): " + ", ".join(
                  "%d entries %s ms" % (x["entries_per_batch"], fmt(x["batch_ms_mean"], 3))
                  for x in fs))
        calc = capacity(cells, seq, facts, cpus, p)

    doc = {"benchmark": "scale", "timestamp": a.timestamp, "params": params,
           "configs": CONFIG_NAMES, "cells": cells, "sequencer": seq,
           "capacity": calc, "facts": facts,
           "runs": {k: v for k, v in runs.items()}}
    doc.update(env)
    doc["tools"]["haproxy"] = a.haproxy
    doc["tools"]["postgresql"] = facts.get("pg_version")
    doc["method"] = (
        "wrk --latency with bench/lua scripts against four set-ups in one run; one "
        "discarded warm-up per cell, then rounds over all cells in alternating order; "
        "medians over rounds; ratios per round against the SQLite cell of the same "
        "workload, median reported. Everything shares the machine's CPUs.")
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    p("")
    p("result: %s" % a.out)
    print("\n".join(out_lines))


def fit(seq, shape):
    """hold(n) = a + b n from the 1-client runs of one shape: least squares
    over the batch sizes, b clamped at 0 (noise must not make a batch
    cheaper for more entries)."""
    pts = sorted((n, seq["seq_%s_n%d_c1" % (shape, n)]["latency_ms"]["avg"])
                 for n in (1, 16, 64) if "seq_%s_n%d_c1" % (shape, n) in seq)
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    b = max(sum((x - mx) * (y - my) for x, y in pts) / sxx, 0.0)
    return {"fixed_ms": round(my - b * mx, 4), "per_entry_ms": round(b, 5)}


NODE_CORES = 8   # the node size the deployment example assumes
UTIL = 0.7       # the share of the sequencer's ceiling it may run at


def capacity(cells, seq, facts, cpus, p):
    """The sequencer model and the largest deployment, from this run's
    figures (docs/SCALING.md walks through it)."""
    fa, fc = fit(seq, "append"), fit(seq, "catchup")
    if not fa or not fc:
        return {}
    c = {"fit_append": fa, "fit_catchup": fc}
    p("")
    p("Sequencer model (docs/SCALING.md): the lock is held for hold(n) = statements(n) "
      "+ phivault's own work W")
    p("  statements alone, 1 client: 1 node  %.3f ms + %.4f ms x n;  with catch-up "
      "(several nodes) %.3f ms + %.4f ms x n" % (
          fa["fixed_ms"], fa["per_entry_ms"], fc["fixed_ms"], fc["per_entry_ms"]))

    def stmt(f, n):
        return f["fixed_ms"] + f["per_entry_ms"] * n

    w = {}
    for key, cell, f, what in (("1", "probe_pg1_read", fa, "1 node,  1 connection "),
                               ("2", "probe_pg2_ha_read", fc, "2 nodes, 2 connections"),
                               ("1c", "pg1_read", fa, "1 node,  64 connections"),
                               ("2c", "pg2_ha_read", fc, "2 nodes, 64 connections")):
        m = cells.get(cell)
        if not m or not m.get("lock_hold_ms_per_batch") or not m.get("audit_entries_per_batch"):
            continue
        n = m["audit_entries_per_batch"]
        s = stmt(f, n)
        w[key] = {"entries_per_batch": n, "hold_ms": m["lock_hold_ms_per_batch"],
                  "lock_held_frac": m["lock_held_frac"], "statements_ms": round(s, 3),
                  "phivault_ms": round(m["lock_hold_ms_per_batch"] - s, 3)}
        p("  live, %s: %5.1f entries/batch, lock held %.0f%% of the time, %.3f ms per "
          "batch = statements %.3f + W %.3f" % (
              what, n, 100 * m["lock_held_frac"], m["lock_hold_ms_per_batch"], s,
              m["lock_hold_ms_per_batch"] - s))
    c["live"] = w
    # Ceiling of the trail: one holder at a time, so entries/s = n / hold(n).
    rows = []
    for shape, f, wk in (("1 node", fa, "1"), ("N nodes", fc, "2")):
        wms = max(w.get(wk, {}).get("phivault_ms", 0.0), 0.0)
        for n in (16, 64, 256):
            hold = stmt(f, n) + wms
            rows.append({"shape": shape, "entries_per_batch": n, "W_ms": round(wms, 3),
                         "hold_ms": round(hold, 3), "batches_per_s": round(1e3 / hold, 1),
                         "entries_per_s": round(n * 1e3 / hold)})
    c["ceiling"] = rows
    p("  (W near or below 0: within the noise of the pgbench fit; the contended W is "
      "mostly the lock")
    p("  holder waiting for a CPU.) Ceiling of the trail = n / hold(n), W from the "
      "probes:")
    for r in rows:
        p("    %-7s n = %3d: hold %.3f ms -> %s batches/s x %d = %s audit entries/s" % (
            r["shape"], r["entries_per_batch"], r["hold_ms"], fmt(r["batches_per_s"]),
            r["entries_per_batch"], fmt(r["entries_per_s"])))
    per = {}
    for wl in WORKLOADS:
        m = cells["pg1_%s" % wl]
        if m["node_cpu_us_per_req"] and m["pg_cpu_us_per_req"]:
            per[wl] = {"node_cpu_us": m["node_cpu_us_per_req"],
                       "pg_cpu_us": m["pg_cpu_us_per_req"],
                       "entries_per_req": m["audit_entries_per_req"],
                       "pg_commits_per_req": m["pg_commits_per_req"],
                       "node_req_per_core_s": round(1e6 / m["node_cpu_us_per_req"]),
                       "db_req_per_core_s": round(1e6 / m["pg_cpu_us_per_req"])}
    c["per_request"] = per
    p("  per request (PostgreSQL, 1 node, direct, 64 connections; transactions = "
      "committed ones, read-only included):")
    for wl, v in per.items():
        p("    %-6s node %s us, PostgreSQL %s us CPU, %.2f audit entries, %.2f transactions" % (
            wl, fmt(v["node_cpu_us"]), fmt(v["pg_cpu_us"]), v["entries_per_req"] or 0,
            v["pg_commits_per_req"] or 0))
    # The per-entry cost of catching up on another node's entries (the work a
    # writer does inside the lock for other nodes' batches): node C's start-up
    # does the same reading and absorbing for the whole trail (before the lock).
    try:
        ce = ((float(facts["restart_startup_s"]) - 0.13) * 1e6
              / float(facts["restart_trail_entries"]))
    except (KeyError, ValueError, ZeroDivisionError):
        ce = None
    if ce is None or "read" not in per:
        return c
    b_us = 1e3 * max(fa["per_entry_ms"], fc["per_entry_ms"])
    node_rate = per["read"]["node_req_per_core_s"] * NODE_CORES
    c["catchup_us_per_entry"] = round(ce, 2)
    p("  catch-up per entry of another node (start-up over %s entries): c = %.1f us" % (
        fmt(float(facts["restart_trail_entries"])), ce))
    p("  deployment, reads (1 audit entry each), %d-core nodes at %s reads/s each, the "
      "sequencer at <= %d %% of" % (NODE_CORES, fmt(node_rate), int(100 * UTIL)))
    p("  its ceiling 1 / (B + (N - 1) c), B = %.1f us:" % b_us)
    dep = []
    for n_nodes in (1, 2, 3, 4):
        serial = b_us + (n_nodes - 1) * ce
        ceil = 1e6 / serial
        serves = min(UTIL * ceil, n_nodes * node_rate)
        dep.append({"nodes": n_nodes, "serial_us_per_entry": round(serial, 2),
                    "ceiling_per_s": round(ceil), "at_util_per_s": round(UTIL * ceil),
                    "node_cpu_per_s": n_nodes * node_rate, "serves_per_s": round(serves),
                    "bound": "sequencer" if UTIL * ceil < n_nodes * node_rate else "node CPU",
                    "db_cores": round(serves * per["read"]["pg_cpu_us"] / 1e6, 1)})
        d = dep[-1]
        p("    N = %d: %5.1f us/entry -> ceiling %s/s, %d %% %s/s; nodes %s/s -> serves %s "
          "reads/s (%s-bound), database %.1f cores" % (
              n_nodes, serial, fmt(ceil), int(100 * UTIL), fmt(UTIL * ceil),
              fmt(n_nodes * node_rate), fmt(serves), d["bound"], d["db_cores"]))
    c["deployment_read"] = dep
    best = max(dep, key=lambda d: d["serves_per_s"])
    p("  -> largest deployment: %d node(s), ~%s audited reads/s" % (
        best["nodes"], fmt(best["serves_per_s"])))
    return c


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cell")
    for k in ("label", "wrk", "clk-tck", "duration", "node-ticks", "pg-ticks",
              "haproxy-ticks", "client-ticks", "busy0", "busy1", "nodes", "audit0", "audit1"):
        c.add_argument("--" + k, required=True)
    c.add_argument("--pg0", default="")
    c.add_argument("--pg1", default="")
    c.add_argument("--lock", default="")
    g = sub.add_parser("pgbench")
    for k in ("label", "out", "clients", "wal0", "wal1", "pg-ticks", "clk-tck"):
        g.add_argument("--" + k, required=True)
    r = sub.add_parser("report")
    for k in ("env", "facts", "manifest", "seq", "out", "timestamp", "params",
              "haproxy"):
        r.add_argument("--" + k, required=True)
    a = ap.parse_args()
    {"cell": cmd_cell, "pgbench": cmd_pgbench, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
