#!/usr/bin/env python3
"""Mock of the cloud instance metadata service (IMDSv1 paths) for the SCARLETEEL sample.

Listens on 169.254.169.254:80 inside the sample's private network namespace and hands
out a role name and FAKE temporary credentials: nothing here is a real key, and the
address is only reachable inside that namespace. Started by simulate.sh before
recording, so it is not part of the capture.
"""

import http.server
import json

LISTEN = ("169.254.169.254", 80)
ROLE = "scarleteel-demo-eks-node-role"
PREFIX = "/latest/meta-data/iam/security-credentials/"

# Shaped like AWS's answer; every value is fake (ASIA... marks temporary keys).
CREDENTIALS = {
    "Code": "Success",
    "LastUpdated": "2023-02-28T10:00:00Z",
    "Type": "AWS-HMAC",
    "AccessKeyId": "ASIAFAKECASEFILE0001",
    "SecretAccessKey": "fAkEsEcReT/casefile/scarleteel/NOT+A+REAL+KEY00",
    "Token": "FAKE//session-token/casefile-sample/not-a-real-token==",
    "Expiration": "2023-02-28T16:00:00Z",
}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "EC2ws"
    sys_version = ""

    def do_GET(self):
        if self.path == PREFIX:
            body = ROLE.encode()
        elif self.path == PREFIX + ROLE:
            body = json.dumps(CREDENTIALS, indent=2).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.HTTPServer(LISTEN, Handler).serve_forever()
