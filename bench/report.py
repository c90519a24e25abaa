#!/usr/bin/env python3
"""bench/report.py — bench/run's result document and its one table.

usage: report.py META.json FACTS.tsv MANIFEST.tsv OUT.json

META.json  everything known up front (parameters, machine, versions, TLS,
           data set, method and caveats); copied into the output.
FACTS.tsv  "key<TAB>value" lines measured along the way (import times,
           peak RSS, row counts, start-up times, load averages...).
MANIFEST.tsv "group<TAB>round<TAB>run.json" for every measured run
           (bench/wrkparse.py or bench/pgbenchparse.py output).

For each group the median over rounds of each metric is taken; ratios are
ratios of medians, and the per-round ratios (runs of the same round, which
ran back to back) are listed to show the spread. The goals of issue 9 are
evaluated on the medians. Standard library only.
"""
import json
import os
import statistics
import sys

GROUPS = {  # group -> (workload, system)
    "nginx_static": ("static ~1 KiB JSON file (upper bound)",
                     "nginx, TLS 1.3"),
    "pv_read": ("read GET /fhir/{type}/{id}", "phivault"),
    "pv_write": ("write POST /fhir/Observation", "phivault"),
    "pv_search": ("search GET /fhir/Observation?patient=&_count=10",
                  "phivault"),
    "pg_read": ("read pgp_sym_decrypt of a random row", "PG15 DIY stack"),
    "pg_write": ("write INSERT pgp_sym_encrypt", "PG15 DIY stack"),
    "scale_10k": ("read, small vault (A/B)", "phivault"),
    "scale_1m": ("read, 1M-resource vault (A/B)", "phivault"),
    "log_file": ("read, request log -> file (A/B)", "phivault"),
    "log_null": ("read, request log -> /dev/null (A/B)", "phivault"),
}
ORDER = ["nginx_static", "pv_read", "pv_write", "pv_search", "pg_read",
         "pg_write", "scale_10k", "scale_1m", "log_file", "log_null"]
METRICS = {
    "rps": lambda r: r.get("rps"),
    "p50_ms": lambda r: r["latency_ms"].get("p50"),
    "p90_ms": lambda r: r["latency_ms"].get("p90"),
    "p99_ms": lambda r: r["latency_ms"].get("p99"),
    "avg_ms": lambda r: r["latency_ms"].get("avg"),
    "max_ms": lambda r: r["latency_ms"].get("max"),
    "bytes_per_response": lambda r: r.get("bytes_per_response"),
    "server_cpu_us_per_req": lambda r: r.get("server_cpu_us_per_req"),
    "audit_entries_per_fsync": lambda r: r.get("audit_entries_per_fsync"),
}


def num(v):
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v else f


def load(meta_p, facts_p, manifest_p):
    with open(meta_p, encoding="utf-8") as f:
        doc = json.load(f)
    facts = {}
    if os.path.exists(facts_p):
        with open(facts_p, encoding="utf-8") as f:
            for line in f:
                if "\t" in line:
                    k, v = line.rstrip("\n").split("\t", 1)
                    facts[k] = num(v)
    groups = {}
    with open(manifest_p, encoding="utf-8") as f:
        for line in f:
            g, rnd, path = line.rstrip("\n").split("\t")
            with open(path, encoding="utf-8") as rf:
                run = json.load(rf)
            run["round"] = int(rnd)
            groups.setdefault(g, []).append(run)
    return doc, facts, groups


def medians(runs):
    out = {}
    for k, get in METRICS.items():
        vals = [get(r) for r in runs if get(r) is not None]
        out[k] = round(statistics.median(vals), 3) if vals else None
    return out


def ratio(groups, med, a, b, key="rps"):
    """Ratio of medians, and per-round ratios of runs in the same round."""
    if a not in med or b not in med or not med[b][key]:
        return None
    bya = {r["round"]: r for r in groups[a]}
    per = []
    for rb in groups[b]:
        ra = bya.get(rb["round"])
        if ra is not None and rb.get(key):
            per.append(round(ra[key] / rb[key], 3))
    out = {"value": round(med[a][key] / med[b][key], 3), "per_round": per}
    ca = med[a].get("server_cpu_us_per_req")
    cb = med[b].get("server_cpu_us_per_req")
    if key == "rps" and ca and cb:
        # Server CPU per request, a over b: robust when cores are shared.
        out["cpu_per_req"] = round(ca / cb, 3)
    return out


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    doc, facts, groups = load(argv[1], argv[2], argv[3])
    med = {g: medians(runs) for g, runs in groups.items()}

    warnings = []
    for g, runs in groups.items():
        for r in runs:
            errs = sum(r["errors"].values())
            if errs or r["non2xx"]:
                warnings.append("%s round %d: %d socket errors, %d non-2xx/"
                                "failed" % (g, r["round"], errs, r["non2xx"]))

    ratios = {
        "read/nginx": ratio(groups, med, "pv_read", "nginx_static"),
        "write/nginx": ratio(groups, med, "pv_write", "nginx_static"),
        "search/nginx": ratio(groups, med, "pv_search", "nginx_static"),
        "read/pg_read": ratio(groups, med, "pv_read", "pg_read"),
        "write/pg_write": ratio(groups, med, "pv_write", "pg_write"),
        "read_1m/read_10k": ratio(groups, med, "scale_1m", "scale_10k"),
        "log_null/log_file": ratio(groups, med, "log_null", "log_file"),
    }
    ratios = {k: v for k, v in ratios.items() if v is not None}

    def goal(name, key, target, higher=True):
        r = ratios.get(key)
        if r is None:
            return {"goal": name, "status": "not measured"}
        ok = r["value"] >= target if higher else r["value"] <= target
        return {"goal": name, "value": r["value"], "target": target,
                "status": "MET" if ok else "NOT MET"}

    goals = [goal("read >= 0.5 x nginx", "read/nginx", 0.5),
             goal("write >= 0.25 x nginx", "write/nginx", 0.25),
             goal("read >= 5 x PostgreSQL+pgcrypto+pgaudit read",
                  "read/pg_read", 5.0)]
    p99s = {g: med[g]["p99_ms"] for g in ("pv_read", "pv_write", "pv_search")
            if g in med}
    if p99s:
        worst = max(p99s.values())
        goals.append({"goal": "p99 <= 10 ms at %s connections (read, write, "
                              "search)" % doc["params"]["connections"],
                      "value": p99s, "target": 10.0,
                      "status": "MET" if worst <= 10.0 else "NOT MET"})
    goals.append(goal("read throughput at 1M >= 0.8 x at 10k",
                      "read_1m/read_10k", 0.8))

    doc.update({"facts": facts, "medians": med, "ratios": ratios,
                "goals": goals, "warnings": warnings,
                "valid": not warnings,
                "runs": {g: groups[g] for g in ORDER if g in groups}})
    tmp = argv[4] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, argv[4])
    print_table(doc, facts, med, ratios, goals, warnings, argv[4])


def fmt(v, spec):
    return spec % v if isinstance(v, (int, float)) else "n/a"


def print_table(doc, facts, med, ratios, goals, warnings, out):
    p, m = doc["params"], doc["machine"]
    print()
    print("phivault bench/run %s — wrk %d threads x %d connections, %d s x %d "
          "rounds, medians (TLS 1.3, loopback)" % (
              doc["timestamp"], p["threads"], p["connections"],
              p["duration_s"], p["rounds"]))
    print("machine: %d CPUs (%s), load avg start %s, end %s" % (
        m["cpus"], m["cpu_model"], m["loadavg_start"], m["loadavg_end"]))
    hdr = "%-44s %-15s %9s %8s %8s %8s %8s  %s" % (
        "workload", "system", "req/s", "p50 ms", "p99 ms", "CPUus/rq",
        "B/rsp", "ratio (goal)")
    print(hdr)
    print("-" * (len(hdr) + 18))
    notes = {
        "pv_read": [("read/nginx", "x nginx", 0.5),
                    ("read/pg_read", "x PG read", 5.0)],
        "pv_write": [("write/nginx", "x nginx", 0.25),
                     ("write/pg_write", "x PG write", None)],
        "pv_search": [("search/nginx", "x nginx", None)],
        "scale_1m": [("read_1m/read_10k", "x small vault", 0.8)],
        "log_null": [("log_null/log_file", "x log->file", None)],
    }
    for g in ORDER:
        if g not in med:
            continue
        w, s = GROUPS[g]
        if g.startswith("scale_"):
            n = facts.get("scale_resources_" + ("small" if g == "scale_10k"
                                                else "1m"))
            if isinstance(n, int):
                w = "read, vault of {:,} resources (A/B)".format(n)
        x = med[g]
        first = True
        rs = notes.get(g) or [(None, "", None)]
        for key, label, target in rs:
            r = ratios.get(key) if key else None
            txt = ""
            if r is not None:
                txt = "%.3f %s" % (r["value"], label)
                if target is not None:
                    txt += " (>= %g: %s)" % (target, "met" if r["value"] >=
                                             target else "NOT met")
                if r.get("cpu_per_req"):
                    txt += "; CPU/req %.1fx" % r["cpu_per_req"]
            if first:
                print("%-44s %-15s %9s %8s %8s %8s %8s  %s" % (
                    w[:44], s, fmt(x["rps"], "%.0f"), fmt(x["p50_ms"], "%.2f"),
                    fmt(x["p99_ms"], "%.2f"),
                    fmt(x["server_cpu_us_per_req"], "%.0f"),
                    fmt(x["bytes_per_response"], "%.0f"), txt))
                first = False
            else:
                print("%-44s %-15s %9s %8s %8s %8s %8s  %s" % (
                    "", "", "", "", "", "", "", txt))
    print("-" * (len(hdr) + 18))
    gc = ["%s %.1f" % (g[3:], med[g]["audit_entries_per_fsync"])
          for g in ("pv_read", "pv_write", "pv_search")
          if g in med and med[g].get("audit_entries_per_fsync")]
    if gc:
        print("%-44s %-15s %9s  %s" % ("audit entries per group commit "
                                       "(fdatasync)", "phivault", "",
                                       ", ".join(gc)))
    for key, label in (("import_small", "import, small vault"),
                       ("import_1m", "import, 1M vault")):
        if "%s_s" % key in facts:
            print("%-44s %-15s %9s  %s resources in %.1f s (%.0f/s)" % (
                label, "phivault", "", "{:,}".format(
                    facts["%s_resources" % key]), facts["%s_s" % key],
                facts["%s_resources" % key] / max(facts["%s_s" % key], 1e-9)))
    if "pg_seed_s" in facts:
        print("%-44s %-15s %9s  %s rows in %.1f s" % (
            "seed (COPY + pgp_sym_encrypt)", "PG15 DIY stack", "",
            "{:,}".format(facts["pg_seed_rows"]), facts["pg_seed_s"]))
    for key, label in (("rss_main_kib", "peak RSS (VmHWM) after main rounds"),
                       ("rss_1m_kib", "peak RSS (VmHWM), 1M vault server")):
        if key in facts:
            split = key.replace("rss_", "rss_anon_"), key.replace("rss_", "rss_file_")
            extra = ""
            if split[0] in facts and split[1] in facts:
                extra = " (now: %.1f MiB private, %.1f MiB mapped database file)" % (
                    facts[split[0]] / 1024.0, facts[split[1]] / 1024.0)
            print("%-44s %-15s %9s  %.1f MiB%s" % (label, "phivault", "",
                                                   facts[key] / 1024.0, extra))
    print()
    for gl in goals:
        v = gl.get("value")
        if isinstance(v, dict):
            v = ", ".join("%s %.2f ms" % (k[3:], x) for k, x in v.items())
        elif isinstance(v, float):
            v = "%.3f" % v
        print("goal %-52s %-9s %s" % (gl["goal"], gl["status"],
                                      v if v is not None else ""))
    print()
    for g in ORDER:
        if g in med:
            print("%-13s per-round req/s: %s" % (g, ", ".join(
                "%.0f" % r["rps"] for r in sorted(
                    doc["runs"][g], key=lambda r: r["round"]))))
    loads = [v for k, v in facts.items() if k.startswith("loadavg_")
             and isinstance(v, (int, float))]
    if loads:
        busy = max(loads) > 2 * m["cpus"] + 1
        print("1-min load average before the runs: %.1f-%.1f (the benchmark "
              "itself accounts for about %d)%s" % (
                  min(loads), max(loads), m["cpus"] + 1,
                  " — the machine was busy with other work: figures are "
                  "disturbed, prefer the CPU/req ratios" if busy else ""))
    for w in warnings:
        print("WARNING: " + w)
    print("results: " + out)


if __name__ == "__main__":
    main(sys.argv)
