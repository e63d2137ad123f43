#!/usr/bin/env python3
"""Drive a command on a pseudo-terminal, as a person at a keyboard would.

usage: ptydrive.py TRANSCRIPT -- COMMAND [ARG...]   (steps on stdin)

Steps, one a line:
  expect REGEX   wait (at most $PTY_TIMEOUT seconds, default 20) until the
                 output since the last match has REGEX
  send TEXT      type TEXT and Enter
  eof            type Ctrl-D
  intr           type Ctrl-C
  write PATH TEXT  write TEXT and a newline to PATH (e.g. a fifo the
                 command waits on)

Then it reads to the end. The whole output goes to TRANSCRIPT; the exit
status is the command's, or 124 when an expect timed out (the transcript
so far is printed on stderr).
"""
import os
import pty
import re
import select
import sys
import time


def main():
    transcript = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    steps = [l.rstrip("\n") for l in sys.stdin if l.strip()]
    limit = float(os.environ.get("PTY_TIMEOUT", "20"))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    seen = 0
    eof = False

    def pump(timeout):
        nonlocal out, eof
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            eof = True
        out += data

    def save():
        with open(transcript, "wb") as f:
            f.write(out)

    for step in steps:
        word, _, arg = step.partition(" ")
        if word == "expect":
            rx = re.compile(arg.encode())
            end = time.monotonic() + limit
            while True:
                m = rx.search(out, seen)
                if m:
                    seen = m.end()
                    break
                if eof or time.monotonic() > end:
                    save()
                    sys.stderr.write("ptydrive: no %r in:\n" % arg)
                    sys.stderr.write(out.decode(errors="replace"))
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                    sys.exit(124)
                pump(0.2)
        elif word == "send":
            os.write(fd, arg.encode() + b"\r")
        elif word == "eof":
            os.write(fd, b"\x04")
        elif word == "intr":
            os.write(fd, b"\x03")
        elif word == "write":
            path, _, text = arg.partition(" ")
            with open(path, "w") as f:
                f.write(text + "\n")
    end = time.monotonic() + limit
    while not eof and time.monotonic() < end:
        pump(0.2)
    save()
    if not eof:
        sys.stderr.write("ptydrive: the command did not end\n")
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.exit(124)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


main()
