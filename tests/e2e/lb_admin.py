#!/usr/bin/env python3
"""One HAProxy runtime API command: lb_admin.py SOCKET COMMAND... prints
the answer. With 'state BACKEND SERVER' prints that server's status from
'show stat' (UP, DOWN, MAINT, DRAIN ...)."""
import os
import socket
import sys


def cmd(path, line):
    c = socket.socket(socket.AF_UNIX)
    # the socket's directory may be deeper than a socket path can be
    os.chdir(os.path.dirname(path) or ".")
    c.connect(os.path.basename(path))
    c.sendall((line + "\n").encode())
    out = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        out += d
    return out.decode()


if sys.argv[2] == "state":
    rows = cmd(sys.argv[1], "show stat").splitlines()
    head = rows[0][2:].split(",")
    for r in rows[1:]:
        f = dict(zip(head, r.split(",")))
        if f.get("pxname") == sys.argv[3] and f.get("svname") == sys.argv[4]:
            print(f["status"])
else:
    sys.stdout.write(cmd(sys.argv[1], " ".join(sys.argv[2:])))
