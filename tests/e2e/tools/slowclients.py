#!/usr/bin/env python3
"""slowclients.py — bounded slow-client attacks on the test server.

usage: slowclients.py PORT CAFILE MODE ARGS...
  trickle ADDRS PER SECONDS [body]
      From each source address in ADDRS (comma list, e.g. 127.0.0.2,...)
      hold PER connections that complete TLS and then send a request
      head one byte every second, reconnecting whenever the server drops
      one, for SECONDS. Prints "cut N max_held_s S": how many connections
      the server ended and the longest any one of them lived. With
      "body", each sends a whole unauthenticated head declaring a 4 MB
      body (refused: 401/413) and then trickles the body instead.
  bodies N LENGTH SEND SECONDS [TOKEN]
      Open N connections that POST /fhir/Patient without credentials
      (with TOKEN: PUT /fhir/Patient/x with Authorization: Bearer TOKEN),
      declaring Content-Length LENGTH, send SEND bytes of body, then hold
      the connection for SECONDS (the caller measures the server
      meanwhile). Prints "sent N".
  held METHOD PATH TOKEN BODYFILE GOFILE
      Send an authenticated request (Bearer TOKEN) with the body of
      BODYFILE except its last byte, wait (at most 30 s) until GOFILE
      exists, send the last byte and print the response's status code:
      for changes made while a request's body is on its way.
  slowbody TOKEN SECONDS
      An authenticated PUT declaring a 100000-byte body, sent one byte
      every half second for at most SECONDS; prints "closed AFTER" when
      the server ends the connection, else "open".
Every loop is bounded in count and time; all sockets are closed at exit.
"""
import selectors, socket, ssl, sys, time

port, cafile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
HEAD = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200
BODY_HEAD = (b"POST /auth/login HTTP/1.1\r\nHost: localhost\r\n"
             b"Content-Type: application/json\r\n"
             b"Content-Length: 4000000\r\n\r\n")


def connect(src):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(5)
    raw.bind((src, 0))
    raw.connect(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.setblocking(False)
    return s


def connect_trickler(src, body):
    s = connect(src)
    if body:
        s.setblocking(True)
        s.sendall(BODY_HEAD)
        s.setblocking(False)
    return s


def trickle(addrs, per, seconds, body=False):
    data = b" " * 4096 if body else HEAD
    conns = []  # [sock, src, pos, born]
    cut, max_held = 0, 0.0
    deadline = time.time() + seconds
    for src in addrs:
        for _ in range(per):
            try:
                conns.append([connect_trickler(src, body), src, 0,
                              time.time()])
            except OSError:
                pass  # no slot: retried below
    while time.time() < deadline:
        time.sleep(1)
        for c in list(conns):
            s, src, pos, born = c
            alive = True
            try:
                s.send(data[pos:pos + 1])
                c[2] = (pos + 1) % len(data)
                try:
                    if s.recv(1) == b"":
                        alive = False
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
            except (OSError, ssl.SSLError):
                alive = False
            if not alive:
                cut += 1
                max_held = max(max_held, time.time() - born)
                s.close()
                conns.remove(c)
        # Reconnect to keep the pressure on (bounded by the deadline).
        want = per * len(addrs) - len(conns)
        for src in addrs:
            if want <= 0 or time.time() >= deadline:
                break
            try:
                conns.append([connect_trickler(src, body), src, 0,
                              time.time()])
                want -= 1
            except OSError:
                pass
    for c in conns:
        max_held = max(max_held, time.time() - c[3])
        c[0].close()
    print("cut %d max_held_s %.1f" % (cut, max_held))


def bodies(n, length, send, seconds, token=None):
    socks = []
    line = ("PUT /fhir/Patient/x HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
            % token) if token else "POST /fhir/Patient HTTP/1.1\r\n"
    head = (line + "Host: localhost\r\n"
            "Content-Type: application/fhir+json\r\n"
            "Content-Length: %d\r\n\r\n" % length).encode()
    chunk = b"x" * 65536
    for _ in range(n):
        try:
            s = connect("127.0.0.1")
            s.setblocking(True)
            s.settimeout(10)
            s.sendall(head)
            left = send
            while left > 0:
                k = min(left, len(chunk))
                s.sendall(chunk[:k])
                left -= k
            socks.append(s)
        except (OSError, ssl.SSLError):
            break
    print("sent %d" % len(socks), flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def held(method, path, token, bodyfile, gofile):
    import os
    body = open(bodyfile, "rb").read()
    s = connect("127.0.0.1")
    s.setblocking(True)
    s.settimeout(30)
    s.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\n"
               "Authorization: Bearer %s\r\n"
               "Content-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (method, path, token,
                                                  len(body))).encode())
    s.sendall(body[:-1])
    print("waiting", flush=True)
    deadline = time.time() + 30
    while not os.path.exists(gofile) and time.time() < deadline:
        time.sleep(0.05)
    s.sendall(body[-1:])
    head = s.recv(4096).decode("latin-1")
    print(head.split(" ")[1] if head.startswith("HTTP/") else "none")
    s.close()


def slowbody(token, seconds):
    s = connect("127.0.0.1")
    s.setblocking(True)
    s.settimeout(1)
    s.sendall(("PUT /fhir/Patient/slowbody HTTP/1.1\r\nHost: localhost\r\n"
               "Authorization: Bearer %s\r\n"
               "Content-Type: application/json\r\n"
               "Content-Length: 100000\r\n\r\n" % token).encode())
    t0 = time.time()
    while time.time() - t0 < seconds:
        try:
            s.sendall(b" ")
            if s.recv(1) == b"":
                break
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            break
        time.sleep(0.5)
    else:
        print("open")
        return
    print("closed %.1f" % (time.time() - t0))


if mode == "trickle":
    trickle(sys.argv[4].split(","), int(sys.argv[5]), float(sys.argv[6]),
            len(sys.argv) > 7 and sys.argv[7] == "body")
elif mode == "bodies":
    bodies(int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
           float(sys.argv[7]), sys.argv[8] if len(sys.argv) > 8 else None)
elif mode == "slowbody":
    slowbody(sys.argv[4], float(sys.argv[5]))
elif mode == "held":
    held(*sys.argv[4:9])
else:
    sys.exit("unknown mode")
