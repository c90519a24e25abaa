#!/usr/bin/env python3
"""rawtls.py — speak raw bytes over TLS to the test server.

usage: rawtls.py PORT CAFILE MODE [ARGS]
  send FILE           send FILE's bytes, print the response head
  slow SECONDS        send a partial request, then wait up to SECONDS for
                      the server to close; prints "closed AFTER" or "open"
  pipeline N          send N GET /healthz requests on one connection and
                      count the responses (keep-alive reuse)
"""
import socket, ssl, sys, time

port, cafile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
raw = socket.create_connection(("127.0.0.1", port), timeout=30)
s = ctx.wrap_socket(raw, server_hostname="localhost")

def read_all(limit=1 << 20):
    data = b""
    try:
        while len(data) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ssl.SSLError, ConnectionResetError):
        pass
    return data

if mode == "send":
    s.sendall(open(sys.argv[4], "rb").read())
    s.settimeout(5)
    out = read_all()
    sys.stdout.write(out.decode("latin-1"))
elif mode == "slow":
    limit = float(sys.argv[4])
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    t0 = time.time()
    s.settimeout(limit)
    try:
        data = s.recv(1)
        print("closed %.1f" % (time.time() - t0) if not data else "data")
    except socket.timeout:
        print("open")
    except (ssl.SSLError, ConnectionResetError, OSError):
        print("closed %.1f" % (time.time() - t0))
elif mode == "pipeline":
    n = int(sys.argv[4])
    got = 0
    s.settimeout(5)
    for _ in range(n):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf or not buf.endswith(b'{"status":"ok"}'):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        if buf.startswith(b"HTTP/1.1 200"):
            got += 1
    print(got)
