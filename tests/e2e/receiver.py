#!/usr/bin/env python3
"""An HTTP receiver for the notification tests, on a free loopback port.

    receiver.py PORTFILE LOG [FAILS]

Writes its port to PORTFILE once it listens; answers each POST with 500
for the first FAILS requests, then 200, and appends one line per request
to LOG: "STATUS CONTENT-TYPE BODY".
"""
import http.server
import os
import sys

port_file, log, fails = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = 500 if seen < fails else 200
        seen += 1
        with open(log, "a") as f:
            f.write("%d %s %s\n" % (status, self.headers.get("Content-Type"),
                                    body.decode().replace("\n", " ")))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
