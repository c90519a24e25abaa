#!/usr/bin/env python3
"""audit_forge.py — the attacker for tests: rewrite phivault's audit log
from one entry on so that everything but the signatures checks out.

  audit_forge.py VAULT --entry K --set FIELD=VALUE
                 [--key FORGED.pem] [--strip-bsig [--strip-from J]]
                 [--drop-checkpoints-after N | --empty-checkpoints]

Changes string field FIELD of entry K to VALUE (the line stays valid JSON
with its keys in order) and recomputes "prev" for every later entry
(chain_0 = 32 zero bytes, chain_{n+1} = SHA-256(0x02 || chain_n ||
SHA-256(0x00 || line_n))) — the unkeyed chain, recomputed without the
vault's key.

Batch signatures ("bsig", the last field of the last line of each group
commit): left as they are (they then no longer verify), or with
--strip-bsig removed from every line from J (default K) on — what an
attacker who knows the format does, so the rewritten entries look like an
unsigned tail instead of carrying bad signatures.

Checkpoints: with --key, every checkpoint that covers entry K gets its
Merkle root (RFC 6962) recomputed and is re-signed with FORGED.pem (an
Ed25519 key that is not the vault's) through `openssl pkeyutl -sign
-rawin`, and the number re-signed is printed; with
--drop-checkpoints-after N, checkpoints over more than N entries are
deleted (the number deleted is printed); --empty-checkpoints leaves the
file empty (prints 0). Checkpoints before K are kept as they are.
python3 standard library + openssl only.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from merkle_verify import leaf_hash, mth_fast  # noqa: E402


def sign(key, msg):
    with tempfile.TemporaryDirectory() as d:
        mp, sp = os.path.join(d, "m"), os.path.join(d, "s")
        with open(mp, "wb") as f:
            f.write(msg)
        subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key,
                        "-rawin", "-in", mp, "-out", sp], check=True)
        with open(sp, "rb") as f:
            return f.read()


def set_str(line, field, value):
    pat = re.compile(rb'"' + re.escape(field.encode()) + rb'":"[^"]*"')
    new, n = pat.subn(b'"' + field.encode() + b'":"' + value.encode() + b'"',
                      line, count=1)
    if n != 1:
        raise SystemExit(f"entry has no string field {field}")
    return new


BSIG = re.compile(rb',"bsig":"[A-Za-z0-9+/=]{88}"}$')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vault")
    ap.add_argument("--entry", type=int, required=True)
    ap.add_argument("--set", required=True)
    ap.add_argument("--key")
    ap.add_argument("--strip-bsig", action="store_true")
    ap.add_argument("--strip-from", type=int)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--drop-checkpoints-after", type=int)
    g.add_argument("--empty-checkpoints", action="store_true")
    a = ap.parse_args()
    field, value = a.set.split("=", 1)
    logp = os.path.join(a.vault, "audit", "log.jsonl")
    cpp = os.path.join(a.vault, "audit", "checkpoints.jsonl")
    with open(logp, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    k = a.entry
    lines[k] = set_str(lines[k], field, value)
    json.loads(lines[k])
    strip_from = k if a.strip_from is None else a.strip_from
    first = min(k, strip_from) if a.strip_bsig else k
    chain = bytes(32)
    for i, line in enumerate(lines):
        if a.strip_bsig and i >= strip_from:
            line = lines[i] = BSIG.sub(b"}", line)
        if i > first:
            lines[i] = set_str(line, "prev", base64.b64encode(chain).decode())
        chain = hashlib.sha256(b"\x02" + chain + leaf_hash(lines[i])).digest()
    leaves = [leaf_hash(x) for x in lines]
    out, n = [], 0
    with open(cpp, "rb") as f:
        for raw in f.read().split(b"\n"):
            if not raw or a.empty_checkpoints:
                continue
            cp = json.loads(raw)
            if a.drop_checkpoints_after is not None:
                if cp["size"] > a.drop_checkpoints_after:
                    n += 1
                    continue
            elif a.key is not None and cp["size"] > k:
                cp["root"] = base64.b64encode(
                    mth_fast(leaves[:cp["size"]])).decode()
                msg = ("phivault-audit-checkpoint-v1\n%d\n%s\n%s\n" %
                       (cp["size"], cp["root"], cp["time"])).encode()
                cp["signature"] = base64.b64encode(sign(a.key, msg)).decode()
                n += 1
            out.append(json.dumps(cp, separators=(",", ":")).encode())
    with open(logp, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    with open(cpp, "wb") as f:
        f.write(b"\n".join(out) + b"\n" if out else b"")
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
