#!/usr/bin/env python3
"""A deliberately vulnerable web service: the SCARLETEEL sample's way into the container.

GET /api/lookup?host=NAME answers with `getent hosts NAME`, built by string
concatenation and run through `sh -c` (subprocess shell=True): `host=x; id` runs `id`.
This is the command injection the attacker drives; do not reuse this code.

Runs inside the sample's sandbox (simulate.sh), at 192.0.2.10:8080 in a private network
namespace. It prints one line on stdout once it listens (driver.sh waits for it), logs
requests to /var/log/access.log and commands to /var/log/app.log (the files the attacker
empties at the end), and exits on SIGTERM.
"""

import http.server
import os
import signal
import socketserver
import subprocess
import sys
import time
import urllib.parse

LISTEN = ("192.0.2.10", 8080)

# Line-buffered appends: every request leaves a trace at once, as a real service's logs do.
ACCESS_LOG = open("/var/log/access.log", "a", buffering=1)
APP_LOG = open("/var/log/app.log", "a", buffering=1)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "lookup-svc/1.4"
    sys_version = ""

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/api/lookup":
            self.reply(404, b"not found\n")
            return
        host = urllib.parse.parse_qs(url.query).get("host", [""])[0]
        # The vulnerability: user input pasted into a shell command line.
        result = subprocess.run(
            "getent hosts " + host, shell=True, capture_output=True, timeout=60
        )
        self.reply(200, result.stdout + result.stderr)
        APP_LOG.write(
            "%s lookup host=%r rc=%d\n"
            % (time.strftime("%Y-%m-%dT%H:%M:%S"), host, result.returncode)
        )

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        ACCESS_LOG.write(
            '%s - - [%s] %s\n' % (self.client_address[0], self.log_date_time_string(), fmt % args)
        )


class Server(http.server.HTTPServer):
    def server_bind(self):
        # HTTPServer's own server_bind asks DNS for the address's name (getfqdn); the
        # sandbox has no DNS, and the lookup would only leave noise in the capture.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    server = Server(LISTEN, Handler)
    # PID 1 of a pid namespace only gets the signals it handles: handle SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("lookup-svc listening on %s:%d" % LISTEN, flush=True)
    # stdout is driver.sh's readiness pipe; nothing else goes there.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    server.serve_forever()


if __name__ == "__main__":
    main()
