#!/usr/bin/env python3
"""Time a command N times, with the CPU of what it leaves running.

    reap.py MODE N [--pre SHELL] -- COMMAND...

MODE is "spaced" (before each run, whatever earlier runs left running
has finished, the page cache is synced and a second passes) or "b2b"
(back to back: each run starts as soon as the last one exits). This
process is a child subreaper, so the detached processes a run starts in
the background (slipway's tree preparation and trash deletion) become its
children when their parents exit, and their CPU time is counted here.
--pre runs a shell command before each run, outside the timing (may be
given more than once).

Prints one line per run, "wall_ms fg_cpu_ms", then "bg_cpu_ms TOTAL":
the CPU time of everything but the runs themselves, all runs together.
"""
import ctypes
import os
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def cpu_ms(ru):
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def main():
    args = sys.argv[1:]
    mode, n = args[0], int(args[1])
    args = args[2:]
    pre = []
    while args and args[0] == "--pre":
        pre.append(args[1])
        args = args[2:]
    if args and args[0] == "--":
        args = args[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("reap.py: cannot become a child subreaper")
    bg = 0.0
    runs = set()

    def reap(block):
        nonlocal bg
        while True:
            try:
                pid, _, ru = os.wait4(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid not in runs:
                bg += cpu_ms(ru)

    for _ in range(n):
        if mode == "spaced":
            reap(True)
            os.sync()
            time.sleep(1)
        else:
            reap(False)
        for cmd in pre:
            subprocess.run(["sh", "-c", cmd], check=True)
        reap(False)
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        runs.add(p.pid)
        _, status, ru = os.wait4(p.pid, 0)
        wall = (time.monotonic() - t0) * 1000.0
        if status != 0:
            sys.exit("reap.py: %s failed (%d)" % (args[0], status))
        print("%d %d" % (wall, cpu_ms(ru)), flush=True)
    reap(True)
    print("bg_cpu_ms %d" % bg, flush=True)


main()
