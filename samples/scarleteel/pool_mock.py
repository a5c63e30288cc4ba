#!/usr/bin/env python3
"""Mock of a mining pool for the SCARLETEEL sample: one stratum-like exchange.

Listens on 198.51.100.23:3333 (TEST-NET-2, documentation-only) inside the sample's
private network namespace. Reads one JSON line (the miner's login) and answers with a
fake job, then closes. No mining happens anywhere.
"""

import json
import socketserver

LISTEN = ("198.51.100.23", 3333)

# Short on purpose: the stand-in miner reads it with bash's read, a byte per syscall.
REPLY = {"id": 1, "jsonrpc": "2.0", "error": None, "result": {"job_id": "fake-1", "status": "OK"}}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(4096)
        if line.strip():  # an empty connection is simulate.sh checking the port
            self.wfile.write(json.dumps(REPLY).encode() + b"\n")


class Server(socketserver.TCPServer):
    allow_reuse_address = True


if __name__ == "__main__":
    Server(LISTEN, Handler).serve_forever()
