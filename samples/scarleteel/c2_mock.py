#!/usr/bin/env python3
"""Mock of the attacker's command-and-control host for the SCARLETEEL sample.

Listens on 203.0.113.66:8080 (TEST-NET-3, documentation-only) inside the sample's
private network namespace. GET /xmrig serves miner.sh, the harmless stand-in for the
miner; GET /upload?... is the exfiltration endpoint: it logs how much arrived (to
stderr, which simulate.sh keeps in its work directory) and answers "ok".
"""

import http.server
import os
import sys
import urllib.parse

LISTEN = ("203.0.113.66", 8080)
MINER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "miner.sh")


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/xmrig":
            with open(MINER, "rb") as f:
                body = f.read()
        elif url.path == "/upload":
            fields = urllib.parse.parse_qs(url.query)
            sys.stderr.write("c2: exfiltrated %s\n" % {k: len(v[0]) for k, v in fields.items()})
            body = b"ok\n"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.HTTPServer(LISTEN, Handler).serve_forever()
