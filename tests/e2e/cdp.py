#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol (on a pipe, no
network port, no library) through a list of steps, for the dashboard's
end-to-end tests:

    cdp.py [--header 'Name: value']... STEP...

    open URL         navigate and wait for the load event
    wait EXPR        wait (up to 30 s) until the JavaScript EXPR is true
    eval EXPR        print the value of EXPR (a string, or JSON)
    submit SELECTOR  click the element and wait for the next page's load
    shot FILE        a 1280x900 screenshot of the page, as PNG
    run FILE         run the shell command in FILE (a step of the test,
                     between two of the browser's)

The page's console errors, CSP violations and uncaught exceptions are
printed on stderr as "console: ..." and make the exit status 1. Waiting is
on events or on a condition checked in the page, never a fixed delay.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

DEADLINE = 30.0


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="cdp-profile.")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            # above 4 first, so that neither dup2 clobbers the other
            a = os.dup(to_chrome_r) if to_chrome_r < 5 else to_chrome_r
            while a < 5:
                a = os.dup(a)
            b = os.dup(from_chrome_w)
            while b < 5:
                b = os.dup(b)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
             "--no-first-run", "--disable-extensions", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.errors = []
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        while True:
            m = self.read()
            if m.get("id") == want:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_chrome, 65536)
            if not chunk:
                raise RuntimeError("chromium went away")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        m = json.loads(raw)
        if "method" in m:
            self.note(m)
            self.events.append(m)
        return m

    def note(self, m):
        p = m.get("params", {})
        if m["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: %s" % (
                d.get("exception", {}).get("description") or d.get("text")))
        elif m["method"] == "Runtime.consoleAPICalled" and \
                p.get("type") in ("error", "assert"):
            self.errors.append("console.error: %s" % json.dumps(
                [a.get("value") for a in p.get("args", [])]))
        elif m["method"] == "Log.entryAdded" and \
                p.get("entry", {}).get("level") == "error":
            text = p["entry"].get("text", "")
            # a stream the server ends is no error of the page's
            if "EventSource" in text or "net::ERR_INCOMPLETE" in text:
                return
            self.errors.append("log: %s" % text)

    def wait_event(self, method):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            for i, m in enumerate(self.events):
                if m["method"] == method:
                    del self.events[: i + 1]
                    return m
            self.read()
        raise RuntimeError("no %s within %ds" % (method, DEADLINE))

    def attach(self, headers):
        targets = self.send("Target.getTargets", session=False)
        page = [t for t in targets["targetInfos"] if t["type"] == "page"]
        if page:
            tid = page[0]["targetId"]
        else:
            tid = self.send("Target.createTarget", {"url": "about:blank"},
                            session=False)["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": tid, "flatten": True},
                                 session=False)["sessionId"]
        for d in ("Page", "Runtime", "Log", "Network"):
            self.send(d + ".enable")
        if headers:
            self.send("Network.setExtraHTTPHeaders", {"headers": headers})

    def evaluate(self, expr, await_promise=False):
        r = self.send("Runtime.evaluate", {
            "expression": expr, "returnByValue": True,
            "awaitPromise": await_promise})
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_true(self, expr):
        """Whether expr became true within the deadline, checked in the
        page at each frame; a page that navigates meanwhile (a reload)
        is asked again."""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            ms = int((end - time.monotonic()) * 1000)
            try:
                return bool(self.evaluate(
                    "new Promise(function(ok){var t0=Date.now();"
                    "(function f(){var v=false;try{v=(%s);}catch(e){}"
                    "if(v)return ok(true);if(Date.now()-t0>%d)return ok("
                    "false);requestAnimationFrame(f);})();})" % (expr, ms),
                    await_promise=True))
            except RuntimeError as e:
                if "navigated" not in str(e) and "context" not in str(e):
                    raise
        return False

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile])


def main(argv):
    headers = {}
    while argv and argv[0] == "--header":
        name, value = argv[1].split(":", 1)
        headers[name.strip()] = value.strip()
        argv = argv[2:]
    b = Browser()
    status = 0
    try:
        b.attach(headers)
        while argv:
            step, arg, argv = argv[0], argv[1], argv[2:]
            if step == "open":
                b.events.clear()
                b.send("Page.navigate", {"url": arg})
                b.wait_event("Page.loadEventFired")
            elif step == "wait":
                ok = b.wait_true(arg)
                if not ok:
                    raise RuntimeError("not true within %ds: %s"
                                       % (DEADLINE, arg))
            elif step == "eval":
                v = b.evaluate(arg)
                print(v if isinstance(v, str) else json.dumps(v))
                sys.stdout.flush()
            elif step == "submit":
                b.events.clear()
                b.evaluate("document.querySelector(%s).click()"
                           % json.dumps(arg))
                b.wait_event("Page.loadEventFired")
            elif step == "shot":
                b.send("Emulation.setDeviceMetricsOverride", {
                    "width": 1280, "height": 900, "deviceScaleFactor": 1,
                    "mobile": False})
                png = b.send("Page.captureScreenshot", {"format": "png"})
                with open(arg, "wb") as f:
                    f.write(base64.b64decode(png["data"]))
            elif step == "run":
                subprocess.run(["sh", arg], check=True)
            else:
                raise RuntimeError("unknown step " + step)
    except Exception as e:
        print("cdp: %s" % e, file=sys.stderr)
        status = 2
    finally:
        b.close()
    for err in b.errors:
        print("console: " + err, file=sys.stderr)
        status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
