#!/usr/bin/env python3
"""webhook_sink.py — a test webhook receiver on 127.0.0.1.

usage: webhook_sink.py OUTFILE PORTFILE
Appends every POSTed body as one line to OUTFILE; writes its port to
PORTFILE once listening. Answers 204. Stops on SIGTERM.
"""
import http.server, sys

out, portfile = sys.argv[1], sys.argv[2]

class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace").replace("\n", " ")
        with open(out, "a") as f:
            f.write(body + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

srv = http.server.HTTPServer(("127.0.0.1", 0), Sink)
with open(portfile, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
