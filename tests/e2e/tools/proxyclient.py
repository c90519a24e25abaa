#!/usr/bin/env python3
"""proxyclient.py — one HTTPS request, optionally behind a PROXY v2 header.

usage: proxyclient.py PORT CAFILE [options] METHOD PATH
  --from ADDR      bind the client socket to this loopback address
                   (e.g. 127.0.0.2), so the server sees it as the peer
  --proxy MODE     what to send before TLS:
                     none (default)   nothing: a direct client
                     IP               a PROXY v2 header (PROXY, TCP) whose
                                      source is IP (IPv4 or IPv6)
                     local            a LOCAL header (a health check)
                     v1               the text header of version 1
                     unspec           PROXY with family UNSPEC
                     huge             a v2 header declaring 65535 bytes
                     stall            the first 8 bytes of a header, then
                                      nothing: prints "closed after S"
                                      (seconds until the server gave up)
                                      or "open" after 10 s
  --header 'K: V'  extra request header (repeatable)
  --body TEXT      request body (sent as application/json)
Prints the status code on the first line and the body after it, or
"closed" when the server ended the connection before a response (the
TLS handshake failed, or the socket was closed). Every wait is bounded
(10 s); the socket is closed at exit.
"""
import argparse, ipaddress, socket, ssl, struct, time

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body


def header(mode, dst_port):
    if mode == "none":
        return b""
    if mode == "local":
        return v2(0, 0x00, b"")
    if mode == "v1":
        return b"PROXY TCP4 192.0.2.1 127.0.0.1 50000 %d\r\n" % dst_port
    if mode == "unspec":
        return v2(1, 0x00, b"")
    if mode == "huge":
        return SIG + b"\x21\x11\xff\xff"
    if mode == "stall":
        return SIG[:8]
    ip = ipaddress.ip_address(mode)
    if ip.version == 4:
        dst = ipaddress.ip_address("127.0.0.1")
        fam = 0x11
    else:
        dst = ipaddress.ip_address("::1")
        fam = 0x21
    body = ip.packed + dst.packed + struct.pack(">HH", 40000, dst_port)
    # a TLV the server must skip (PP2_TYPE_NOOP)
    body += b"\x04\x00\x02xx"
    return v2(1, fam, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("cafile")
    ap.add_argument("--from", dest="src", default="127.0.0.1")
    ap.add_argument("--proxy", default="none")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--body")
    ap.add_argument("method")
    ap.add_argument("path")
    a = ap.parse_args()

    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(10)
    try:
        raw.bind((a.src, 0))
        raw.connect(("127.0.0.1", a.port))
        raw.sendall(header(a.proxy, a.port))
        if a.proxy == "stall":
            t0 = time.monotonic()
            try:
                got = raw.recv(1)
            except socket.timeout:
                print("open")
                return
            print("closed after %.1f" % (time.monotonic() - t0)
                  if not got else "data")
            return
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        body = a.body.encode() if a.body is not None else b""
        req = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % (
            a.method, a.path)
        for h in a.header:
            req += h + "\r\n"
        if a.body is not None:
            req += "Content-Type: application/json\r\n"
        req += "Content-Length: %d\r\n\r\n" % len(body)
        s.sendall(req.encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
    except (OSError, ssl.SSLError):
        print("closed")
        return
    finally:
        raw.close()
    if not data:
        print("closed")
        return
    head, _, rest = data.partition(b"\r\n\r\n")
    print(head.split(b" ", 2)[1].decode())
    print(rest.decode(errors="replace"))


if __name__ == "__main__":
    main()
