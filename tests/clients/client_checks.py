"""What the client scripts share: a PASS/FAIL check counter and small HTTP helpers.

The scripts run with the system python (/usr/bin/python3); this file sits beside them and is
imported from there.
"""
import json
import urllib.parse
import urllib.request


class Checks:
    """Counts checks and prints one PASS/FAIL line each; `summary()` is the closing line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, why=""):
        if ok:
            self.passed += 1
            print(f"PASS {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}: {why}", flush=True)
        return ok

    def summary(self):
        return f"{self.passed} passed, {self.failed} failed"


def http_json(url, accept="application/json", timeout=120):
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8"))


def is_absolute(href):
    u = urllib.parse.urlsplit(href or "")
    return u.scheme in ("http", "https") and bool(u.netloc)
