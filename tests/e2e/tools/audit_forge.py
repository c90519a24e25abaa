#!/usr/bin/env python3
"""audit_forge.py — the attacker for tests: rewrite phivault's audit log
from one entry on so that everything but the signatures checks out.

  audit_forge.py VAULT --entry K --set FIELD=VALUE --key FORGED.pem

Changes string field FIELD of entry K to VALUE (the line stays valid JSON
with its keys in order), recomputes "prev" for every later entry (chain_0
= 32 zero bytes, chain_{n+1} = SHA-256(0x02 || chain_n || SHA-256(0x00 ||
line_n))), recomputes the Merkle root (RFC 6962) of every checkpoint that
covers entry K, and re-signs those checkpoints with FORGED.pem (an Ed25519
key that is not the vault's) through `openssl pkeyutl -sign -rawin`.
Checkpoints before K are kept as they are. Prints the number of
checkpoints re-signed. python3 standard library + openssl only.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vault")
    ap.add_argument("--entry", type=int, required=True)
    ap.add_argument("--set", required=True)
    ap.add_argument("--key", required=True)
    a = ap.parse_args()
    field, value = a.set.split("=", 1)
    logp = os.path.join(a.vault, "audit", "log.jsonl")
    cpp = os.path.join(a.vault, "audit", "checkpoints.jsonl")
    with open(logp, "rb") as f:
        lines = f.read().split(b"\n")[:-1]
    k = a.entry
    lines[k] = set_str(lines[k], field, value)
    json.loads(lines[k])
    chain = bytes(32)
    for i, line in enumerate(lines):
        if i > k:
            lines[i] = set_str(line, "prev", base64.b64encode(chain).decode())
        chain = hashlib.sha256(b"\x02" + chain + leaf_hash(lines[i])).digest()
    leaves = [leaf_hash(x) for x in lines]
    out, n = [], 0
    with open(cpp, "rb") as f:
        for raw in f.read().split(b"\n"):
            if not raw:
                continue
            cp = json.loads(raw)
            if cp["size"] > k:
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
        f.write(b"\n".join(out) + b"\n")
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
