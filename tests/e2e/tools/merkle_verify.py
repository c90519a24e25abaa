#!/usr/bin/env python3
"""merkle_verify.py — an independent checker for phivault's audit trail.

Written from the RFCs, not from phivault's sources: python3 standard
library only (hashlib), plus the openssl command line for Ed25519, which
the standard library lacks. It never runs phivault code.

Hashing (RFC 6962 2.1 / RFC 9162 2.1.1, SHA-256):
  leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
  empty tree = SHA-256("").
A leaf's data is one line of DIR/audit/log.jsonl without its newline.

Subcommands (exit 0 = verified, 1 = verification failed, 2 = bad usage):
  leaf LOG INDEX                  print the base64 leaf hash of line INDEX
  root LOG SIZE                   print the base64 MTH of the first SIZE lines
  inclusion --log LOG --index N --size M --root B64 [--line L]
                                  read {"proof":[...]} on stdin and check it
                                  with RFC 9162 2.1.3.2; the leaf is line L
                                  (default N) of LOG — pass another L to
                                  show a wrong leaf is refused
  consistency --from A --to B --root-a B64 --root-b B64
                                  read {"proof":[...]} on stdin and check it
                                  with RFC 9162 2.1.4.2
  chain LOG                       check every entry's "prev" against the
                                  chain chain_0 = 0^32,
                                  chain_{n+1} = SHA-256(0x02||chain_n||leaf_n)
  checkpoint --pub RAWFILE        read a checkpoint JSON on stdin and verify
                                  its Ed25519 signature with openssl over
                                  "phivault-audit-checkpoint-v1\\n<size>\\n
                                  <root>\\n<time>\\n"; RAWFILE holds the raw
                                  32-byte public key (or pass --pub-b64 B64)
  bsig LOG --pub RAWFILE [--line N]
                                  verify the batch signature of line N
                                  (default: the last line that has one):
                                  the line ends with ,"bsig":"<base64>"}
                                  and the Ed25519 signature is over
                                  "phivault-audit-batch-v1\\n" followed by
                                  the line without that field
  selftest                        cross-check the verifiers against a naive
                                  RFC 6962 2.1.1/2.1.2 proof generator for
                                  every size up to 70, and check that every
                                  single-bit change of a proof is refused
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

ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(data):
    return sha256(b"\x00" + data)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def read_lines(path):
    """The log's lines as bytes, without newlines; a torn tail is dropped."""
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.split(b"\n")
    # A complete log ends with "\n": the last split element is b"".
    return lines[:-1]


# ---- reference tree (RFC 6962 2.1, 2.1.1, 2.1.2), for roots and selftest --

def split_point(n):
    """Largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = split_point(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def mth_fast(leaves):
    """MTH by levels (same result as mth, no deep recursion)."""
    if not leaves:
        return sha256(b"")
    level = list(leaves)
    # Combine the perfect subtrees of the size's binary decomposition.
    stack = []  # (height, hash)
    for h in level:
        node, height = h, 0
        while stack and stack[-1][0] == height:
            _, left = stack.pop()
            node = node_hash(left, node)
            height += 1
        stack.append((height, node))
    node = stack.pop()[1]
    while stack:
        node = node_hash(stack.pop()[1], node)
    return node


def ref_path(m, leaves):
    n = len(leaves)
    if n <= 1:
        return []
    k = split_point(n)
    if m < k:
        return ref_path(m, leaves[:k]) + [mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def ref_subproof(m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = split_point(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def ref_consistency(m, leaves):
    return ref_subproof(m, leaves, True)


# ---- RFC 9162 verification algorithms ---------------------------------

def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 2.1.3.2."""
    if index < 0 or size <= 0 or index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if len(p) != 32:
            return False
        if sn == 0:
            return False
        if (fn & 1) == 1 or fn == sn:
            r = node_hash(p, r)
            if (fn & 1) == 0:
                while (fn & 1) == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2 (first == second: empty proof, equal roots)."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return len(proof) == 0 and first_hash == second_hash
    if len(proof) == 0:
        return False
    if any(len(c) != 32 for c in proof):
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # exact power of two
        path = [first_hash] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if (fn & 1) == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if (fn & 1) == 0:
                while (fn & 1) == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ---- helpers -------------------------------------------------------------

def b64d(s, what):
    try:
        v = base64.b64decode(s, validate=True)
    except Exception:
        raise SystemExit(f"{what} is not base64")
    return v


def read_proof_stdin():
    doc = json.load(sys.stdin)
    if not isinstance(doc, dict) or not isinstance(doc.get("proof"), list):
        print("no proof array in the input", file=sys.stderr)
        sys.exit(1)
    return [b64d(p, "a proof hash") for p in doc["proof"]]


def chain_check(lines):
    chain = bytes(32)
    for i, line in enumerate(lines):
        try:
            e = json.loads(line)
        except ValueError:
            return i, "not JSON"
        if e.get("seq") != i:
            return i, f"seq {e.get('seq')} at position {i}"
        if e.get("prev") != base64.b64encode(chain).decode():
            return i, "prev does not match the chain"
        chain = sha256(b"\x02" + chain + leaf_hash(line))
    return None, None


def ed25519_verify(pub_raw, msg, sig):
    if len(pub_raw) != 32 or len(sig) != 64:
        return False
    pem = ("-----BEGIN PUBLIC KEY-----\n" +
           base64.b64encode(ED25519_SPKI_PREFIX + pub_raw).decode() +
           "\n-----END PUBLIC KEY-----\n")
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, data in (("pub.pem", pem.encode()), ("msg", msg),
                           ("sig", sig)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "wb") as f:
                f.write(data)
        r = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
             paths["pub.pem"], "-rawin", "-in", paths["msg"], "-sigfile",
             paths["sig"]], capture_output=True)
        return r.returncode == 0 and b"Signature Verified Successfully" in \
            r.stdout


BSIG_SUFFIX = re.compile(rb',"bsig":"([A-Za-z0-9+/=]{88})"}$')


def bsig_message(line):
    """(message, signature) of a line ending with a bsig field, or None."""
    m = BSIG_SUFFIX.search(line)
    if m is None:
        return None
    return (b"phivault-audit-batch-v1\n" + line[:m.start()] + b"}",
            base64.b64decode(m.group(1)))


def checkpoint_message(cp):
    return ("phivault-audit-checkpoint-v1\n%d\n%s\n%s\n" %
            (cp["size"], cp["root"], cp["time"])).encode()


# ---- selftest --------------------------------------------------------------

def selftest():
    leaves = [leaf_hash(b"entry %d" % i) for i in range(70)]
    checked = 0
    for n in range(1, len(leaves) + 1):
        tree = leaves[:n]
        root = mth(tree)
        assert root == mth_fast(tree), f"mth_fast differs at {n}"
        for m in range(n):
            proof = ref_path(m, tree)
            assert verify_inclusion(tree[m], m, n, proof, root), (m, n)
            # Wrong index, wrong leaf, wrong size, flipped bits: refused.
            if n > 1:
                assert not verify_inclusion(tree[m], (m + 1) % n, n, proof,
                                            root), ("index", m, n)
                assert not verify_inclusion(tree[(m + 1) % n], m, n, proof,
                                            root), ("leaf", m, n)
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                assert not verify_inclusion(tree[m], m, n, bad, root)
            assert not verify_inclusion(tree[m], m, n, proof + [root], root)
            if proof:
                assert not verify_inclusion(tree[m], m, n, proof[:-1], root)
            checked += 1
        for m in range(1, n + 1):
            proof = ref_consistency(m, tree)
            rm = mth(leaves[:m])
            assert verify_consistency(m, n, rm, root, proof), (m, n)
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                assert not verify_consistency(m, n, rm, root, bad), (m, n, j)
            if m < n:
                wrong = mth([leaf_hash(b"x")] + leaves[1:m])
                assert not verify_consistency(m, n, wrong, root, proof)
                flipped = bytes([root[0] ^ 1]) + root[1:]
                assert not verify_consistency(m, n, rm, flipped, proof)
            checked += 1
    # The empty tree's hash, RFC 6962: SHA-256 of the empty string.
    assert mth([]).hex() == ("e3b0c44298fc1c149afbf4c8996fb924"
                             "27ae41e4649b934ca495991b7852b855")
    print(f"selftest OK: {checked} proofs")
    return 0


# ---- main -----------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("leaf")
    p.add_argument("log")
    p.add_argument("index", type=int)
    p = sub.add_parser("root")
    p.add_argument("log")
    p.add_argument("size", type=int)
    p = sub.add_parser("inclusion")
    p.add_argument("--log", required=True)
    p.add_argument("--index", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--line", type=int)
    p = sub.add_parser("consistency")
    p.add_argument("--from", dest="first", type=int, required=True)
    p.add_argument("--to", dest="second", type=int, required=True)
    p.add_argument("--root-a", required=True)
    p.add_argument("--root-b", required=True)
    p = sub.add_parser("chain")
    p.add_argument("log")
    p = sub.add_parser("checkpoint")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pub")
    g.add_argument("--pub-b64")
    p = sub.add_parser("bsig")
    p.add_argument("log")
    p.add_argument("--line", type=int)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pub")
    g.add_argument("--pub-b64")
    sub.add_parser("selftest")
    a = ap.parse_args()

    if a.cmd == "selftest":
        return selftest()
    if a.cmd == "leaf":
        lines = read_lines(a.log)
        if a.index < 0 or a.index >= len(lines):
            print("no such line", file=sys.stderr)
            return 1
        print(base64.b64encode(leaf_hash(lines[a.index])).decode())
        return 0
    if a.cmd == "root":
        lines = read_lines(a.log)
        if a.size > len(lines):
            print("the log is shorter than that", file=sys.stderr)
            return 1
        print(base64.b64encode(
            mth_fast([leaf_hash(x) for x in lines[:a.size]])).decode())
        return 0
    if a.cmd == "inclusion":
        lines = read_lines(a.log)
        line = a.index if a.line is None else a.line
        if line < 0 or line >= len(lines):
            print("no such line", file=sys.stderr)
            return 1
        ok = verify_inclusion(leaf_hash(lines[line]), a.index, a.size,
                              read_proof_stdin(), b64d(a.root, "root"))
        print("inclusion " + ("OK" if ok else "FAILED"))
        return 0 if ok else 1
    if a.cmd == "consistency":
        ok = verify_consistency(a.first, a.second, b64d(a.root_a, "root-a"),
                                b64d(a.root_b, "root-b"), read_proof_stdin())
        print("consistency " + ("OK" if ok else "FAILED"))
        return 0 if ok else 1
    if a.cmd == "chain":
        bad, why = chain_check(read_lines(a.log))
        if bad is None:
            print("chain OK")
            return 0
        print(f"chain FAILED at entry {bad}: {why}")
        return 1
    if a.cmd in ("checkpoint", "bsig"):
        if a.pub is not None:
            with open(a.pub, "rb") as f:
                pub = f.read()
        else:
            pub = b64d(a.pub_b64, "public key")
    if a.cmd == "bsig":
        lines = read_lines(a.log)
        idx = a.line
        if idx is None:
            idx = next((i for i in range(len(lines) - 1, -1, -1)
                        if BSIG_SUFFIX.search(lines[i])), None)
        if idx is None or idx < 0 or idx >= len(lines) or \
                bsig_message(lines[idx]) is None:
            print("no bsig")
            return 1
        msg, sig = bsig_message(lines[idx])
        ok = ed25519_verify(pub, msg, sig)
        print(("bsig OK" if ok else "bsig FAILED") + f" at entry {idx}")
        return 0 if ok else 1
    if a.cmd == "checkpoint":
        cp = json.load(sys.stdin)
        try:
            msg = checkpoint_message(cp)
            sig = b64d(cp["signature"], "signature")
        except (KeyError, TypeError):
            print("not a checkpoint", file=sys.stderr)
            return 1
        ok = ed25519_verify(pub, msg, sig)
        print("signature " + ("OK" if ok else "FAILED"))
        return 0 if ok else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
