#!/usr/bin/env python3
"""bench/callgrind_summary.py — where phivault's read path spends its
instructions, from one callgrind output file.

usage: callgrind_summary.py CALLGRIND.OUT [REQUEST_FUNCTION]

Parses the callgrind format (name compression, relative positions, call
costs) and prints:
  - total instructions (Ir) and the number of requests, counted as calls
    of REQUEST_FUNCTION (default route_fhir_read), and Ir per request;
  - the candidate costs named in issue 9 (request log line, SQLite
    statements, sessions, authorisation, DEKs, AEAD, JSON, audit group
    commit, TLS, sodium_malloc...): inclusive share of all instructions and
    calls per request;
  - the top functions by inclusive and by exclusive (self) cost.
Inclusive cost = own cost + cost of the calls it makes (recursion counts
twice, as in callgrind_annotate). Standard library only.
"""
import collections
import re
import sys

# (label, functions whose inclusive cost is the figure, call-count function)
CANDIDATES = [
    ("request handler (route_fhir_read, all of it)", ["route_fhir_read"], None),
    ("  session check (token hash, session+user rows)",
     ["pv_session_validate"], None),
    ("  authorisation (care team, policy)", ["pv_http_authorize",
                                            "pv_authz_decide"], None),
    ("  record row lookup (pv_record_meta)", ["pv_record_meta"], None),
    ("  record open (row + DEK + AEAD + JSON parse)", ["pv_record_open"],
     None),
    ("    DEK get (cache, keys.db, unwrap)", ["pv_dek_get"], "pv_dek_get"),
    ("    AEAD open (AES-256-GCM)", ["pv_aead_open"], "pv_aead_open"),
    ("  reply: JSON serialise (pv_reply_json)", ["pv_reply_json"], None),
    ("per-request JSON log line (pv_log)", ["pv_log"], "pv_log_json"),
    ("metrics (pv_metric_request)", ["pv_metric_request"], None),
    ("snooping detector (pv_detect_patient_access)",
     ["pv_detect_patient_access"], None),
    ("audit submit (request thread)", ["pv_audit_submit"], None),
    ("audit writer thread (group commit)", ["writer_main"], None),
    ("  batch format + hash + write + fdatasync", ["write_batch"],
     "write_batch"),
    ("  signed checkpoint per batch (Ed25519)", ["write_checkpoint"], None),
    ("  state file rewrite per batch", ["state_write"], None),
    ("  catch-up (other writers) per batch", ["catch_up"], None),
    ("TLS record receive (gnutls_record_recv)", ["gnutls_record_recv"],
     "gnutls_record_recv"),
    ("TLS record send (gnutls_record_send)", ["gnutls_record_send"],
     "gnutls_record_send"),
    ("SQLite sqlite3_step (all statements)", ["sqlite3_step"],
     "sqlite3_step"),
    ("SQLite statement preparation", ["sqlite3_prepare_v2",
                                      "sqlite3_prepare_v3"],
     "sqlite3_prepare_v2"),
    ("JSON parse (json_loadb/json_loads)", ["json_loadb", "json_loads"],
     "json_loadb"),
    ("JSON dump (json_dumps)", ["json_dumps"], "json_dumps"),
    ("sodium_malloc (guarded allocation)", ["sodium_malloc"],
     "sodium_malloc"),
    ("sodium_free", ["sodium_free"], "sodium_free"),
    ("wiping free for jansson (wipe_free)", ["wipe_free"], "wipe_free"),
    ("sodium_memzero", ["sodium_memzero"], "sodium_memzero"),
    ("malloc", ["malloc"], "malloc"),
    ("free", ["free"], "free"),
]
EXTRA_COUNTS = ["sqlite3_step", "sqlite3_reset", "sqlite3_prepare_v3",
                "write", "fdatasync", "pv_log_json", "gnutls_record_recv",
                "gnutls_record_send", "sodium_malloc", "mprotect", "mmap",
                "munmap", "madvise", "json_loadb", "json_dumps",
                "crypto_aead_aes256gcm_decrypt",
                "pv_dek_get", "pv_audit_submit", "write_batch"]

CALLERS_OF = ["sqlite3_step", "sqlite3_prepare_v2", "sqlite3_prepare_v3",
              "pv_sha256", "json_dumps", "json_loadb", "sodium_malloc",
              "write", "fdatasync", "mprotect", "pv_log", "pv_sign_detached"]

NAME_RE = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse(path):
    names = {}          # compression tables, per kind
    excl = collections.Counter()
    callcost = collections.Counter()       # caller -> cost of its calls
    calls = collections.Counter()          # callee -> number of calls
    edges = collections.Counter()          # (caller, callee) -> calls
    ecost = collections.Counter()          # (caller, callee) -> Ir
    total = None
    fn = cfn = None
    ob = cob = ""
    pending_call = False

    def name(kind, text, obj=""):
        """Resolves name compression; a function without a symbol (a
        stripped library's internal one, shown as an address) is named
        after its object too, e.g. "0x1b5f0 [libsodium.so.23.3.0]"."""
        m = NAME_RE.match(text)
        if not m:
            key, new = None, text
        else:
            key, new = (kind, m.group(1)), m.group(2)
        if new is None:
            return names.get(key, text)
        if kind == "fn" and new.startswith("0x") and obj:
            new = "%s [%s]" % (new, obj.rsplit("/", 1)[-1])
        if key is not None:
            names[key] = new
        return new

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call:
                    callcost[fn] += cost
                    ecost[(fn, cfn)] += cost
                    pending_call = False
                else:
                    excl[fn] += cost
                continue
            key, _, val = line.partition("=")
            if key == "fn":
                fn = name("fn", val, ob)
            elif key == "cfn":
                cfn = name("fn", val, cob or ob)
            elif key == "calls":
                n = int(val.split()[0])
                calls[cfn] += n
                edges[(fn, cfn)] += n
                pending_call = True
                cob = ""
            elif key == "ob":
                ob = name("ob", val)
            elif key == "cob":
                cob = name("ob", val)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", val)
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    incl = collections.Counter()
    for f_ in set(excl) | set(callcost):
        incl[f_] = excl[f_] + callcost[f_]
    if total is None:
        total = sum(excl.values())
    return total, excl, incl, calls, edges, ecost


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__.split("\n\n")[1])
    reqfn = argv[2] if len(argv) == 3 else "route_fhir_read"
    total, excl, incl, calls, edges, ecost = parse(argv[1])
    nreq = calls.get(reqfn, 0)
    pct = lambda v: 100.0 * v / total if total else 0.0
    print("instructions (Ir): %d; requests (calls of %s): %d; Ir/request: %s"
          % (total, reqfn, nreq, "%.0f" % (total / nreq) if nreq else "n/a"))
    print()
    print("%-52s %8s %12s %10s" % ("candidate cost (inclusive)", "% of Ir",
                                   "Ir/request", "calls/req"))
    for label, fns, countfn in CANDIDATES:
        have = [f for f in fns if f in incl]
        if not have:
            continue
        v = max(incl[f] for f in have)
        cnt = calls.get(countfn, 0) if countfn else calls.get(have[0], 0)
        print("%-52s %7.1f%% %12s %10s" % (
            label, pct(v), "%.0f" % (v / nreq) if nreq else "n/a",
            "%.2f" % (cnt / nreq) if nreq else "n/a"))
    print()
    print("calls per request: " + ", ".join(
        "%s %.2f" % (f, calls[f] / nreq) for f in EXTRA_COUNTS
        if nreq and calls.get(f)))
    print()
    print("who calls them (calls per request, Ir per request of those calls)")
    for callee in CALLERS_OF:
        rows = sorted(((n, caller) for (caller, c), n in edges.items()
                       if c == callee), reverse=True)[:8]
        if not rows or not nreq:
            continue
        print("  %s:" % callee)
        for n, caller in rows:
            print("    %8.2f  %10.0f  %s" % (n / nreq, ecost[(caller, callee)]
                                           / nreq, caller))
    print()
    print("top 35 functions by inclusive cost")
    for f_, v in incl.most_common(35):
        print("  %6.1f%%  %s" % (pct(v), f_))
    print()
    print("top 35 functions by self cost")
    for f_, v in excl.most_common(35):
        print("  %6.1f%%  %s  (%d calls)" % (pct(v), f_, calls.get(f_, 0)))


if __name__ == "__main__":
    main(sys.argv)
