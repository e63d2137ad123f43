#!/usr/bin/env python3
"""An HTTP receiver for the notification tests, on a free loopback port.

    receiver.py PORTFILE LOG [FAILS]

Writes its port to PORTFILE once it listens; answers each POST with 500
for the first FAILS requests, then 200, and appends one line per request
to LOG: "STATUS CONTENT-TYPE BODY".

With RECEIVER_FORGE=1 in the environment it stands in for a forge's
commit status API instead: each line is "STATUS PATH AUTH BODY", where
AUTH is the Authorization or PRIVATE-TOKEN header (spaces as '+'), the
answer is 201, and a POST that repeats the state the same path already
has is answered 400 "Cannot transition status" as GitLab does; the
first FAILS requests are answered 403 "API rate limit exceeded", as
GitHub does.
"""
import http.server
import json
import os
import sys

port_file, log, fails = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0
forge = os.environ.get("RECEIVER_FORGE") == "1"
seen = 0
states = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = 500 if seen < fails else 200
        seen += 1
        answer = b""
        if forge and status == 500:
            status = 403
            answer = b'{"message":"API rate limit exceeded for user ID 1."}'
            line = "%d %s - %s\n" % (status, self.path, body.decode().replace("\n", " "))
        elif forge:
            status = 201
            try:
                state = json.loads(body).get("state")
            except ValueError:
                state = None
            if state is not None and states.get(self.path) == state:
                status = 400
                answer = b'{"message":"Cannot transition status via :run from :running"}'
            states[self.path] = state
            auth = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN") or "-"
            line = "%d %s %s %s\n" % (status, self.path, auth.replace(" ", "+"),
                                      body.decode().replace("\n", " "))
        else:
            line = "%d %s %s\n" % (status, self.headers.get("Content-Type"),
                                   body.decode().replace("\n", " "))
        with open(log, "a") as f:
            f.write(line)
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
