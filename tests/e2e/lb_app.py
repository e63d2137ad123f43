#!/usr/bin/env python3
"""The load balancer suite's application server.

    lb_app.py PORT VERSION_FILE [PIDFILE]

Serves on 127.0.0.1:PORT, each request in a thread: GET / answers the
first line of VERSION_FILE (read once at start) with an X-Version header,
GET /health "ok", GET /slow the same as / after 30 s (a session that
stays open); SIGTERM ends it. The pid file is written once the port
listens.
"""
import http.server
import os
import signal
import sys
import time

port, version_file = int(sys.argv[1]), sys.argv[2]
pidfile = sys.argv[3] if len(sys.argv) > 3 else None
with open(version_file) as f:
    version = f.readline().strip()


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            time.sleep(30)
        body = ("ok\n" if self.path == "/health" else version + "\n").encode()
        self.send_response(200)
        self.send_header("X-Version", version)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class S(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = S(("127.0.0.1", port), H)


def stop(*a):
    # drained by the load balancer before it is stopped: end at once
    if pidfile:
        try:
            os.unlink(pidfile)
        except OSError:
            pass
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
if pidfile:
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
srv.serve_forever()
