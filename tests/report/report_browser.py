"""A tiny headless-Chromium driver over the DevTools pipe (no playwright, no sockets).

In: an HTML file. Out: a `PageCheck` with the console errors and exceptions the page
raised, every non-file network request it attempted, the value of
<html data-rendered>, each chart's data-drawn count, and PNG screenshots (light, dark).
Chromium is started with `--remote-debugging-pipe`: commands go to its fd 3, replies and
events come from its fd 4, each a JSON message ended by a NUL byte.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
    "--hide-scrollbars",
)


@dataclass
class PageCheck:
    """What the browser saw."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    rendered: str | None = None
    render_error: str | None = None
    title: str | None = None
    drawn: dict[str, int] = field(default_factory=dict)
    screenshots: dict[str, bytes] = field(default_factory=dict)
    pdf: bytes = b""
    synced_range: list[float] | None = None  # run 2's x range after zooming run 1 to 10-20 s


def _high(fd: int) -> int:
    """Return a duplicate of `fd` numbered 10 or above (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Chromium:
    """One headless browser process driven over the DevTools pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        # high descriptor numbers, so that remapping onto 3 and 4 cannot clobber one another
        to_chrome_r, self._to_chrome = (_high(fd) for fd in os.pipe())
        self._from_chrome, from_chrome_w = (_high(fd) for fd in os.pipe())
        args = [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        # bash (dash takes one-digit fds only) puts our pipe ends on fds 3 and 4,
        # where chromium expects them
        script = f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        self.proc = subprocess.Popen(
            ["bash", "-c", script, "bash", *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """Send one command; return its result (raises on a protocol error)."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for reply in self._read(deadline):
                if reply.get("id") == self._next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self.events.append(reply)
        raise TimeoutError(f"no reply to {method}")

    def _read(self, deadline: float) -> list[dict[str, Any]]:
        """Return the complete messages available before `deadline`."""
        ready, _, _ = select.select(
            [self._from_chrome], [], [], max(0.0, deadline - time.monotonic())
        )
        if not ready:
            return []
        chunk = os.read(self._from_chrome, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed the pipe")
        self._buf += chunk
        *whole, self._buf = self._buf.split(b"\0")
        return [json.loads(m) for m in whole if m]

    def close(self) -> None:
        """Ask the browser to quit, then make sure it is gone."""
        try:
            os.write(
                self._to_chrome, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0"
            )
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)
        finally:
            os.close(self._to_chrome)
            os.close(self._from_chrome)


def check_page(binary: str, page: Path, profile: Path, timeout_s: float = 90.0) -> PageCheck:
    """Open `page`, wait for its charts, collect errors, requests and screenshots."""
    browser = Chromium(binary, profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.send(f"{domain}.enable", session=sid)
        metrics = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser.send("Emulation.setDeviceMetricsOverride", metrics, session=sid)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
        out = PageCheck()
        out.rendered = _wait_rendered(browser, sid, timeout_s)
        out.title = _eval(browser, sid, "document.title")
        out.render_error = _eval(
            browser, sid, "document.documentElement.getAttribute('data-render-error')"
        )
        drawn = _eval(
            browser,
            sid,
            "JSON.stringify(Array.from(document.querySelectorAll('[data-chart]'))"
            ".map(e => [e.id, Number(e.getAttribute('data-drawn') || 0)]))",
        )
        out.drawn = dict(json.loads(drawn or "[]"))
        out.screenshots["light"] = _shot(browser, sid)
        pdf = browser.send("Page.printToPDF", {"printBackground": True}, session=sid)["data"]
        out.pdf = base64.b64decode(pdf)
        dark = {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        browser.send("Emulation.setEmulatedMedia", dark, session=sid)
        time.sleep(1.0)  # the page redraws its charts on the colour-scheme change
        out.screenshots["dark"] = _shot(browser, sid)
        out.synced_range = _zoom_probe(browser, sid)
        _collect(browser.events, out)
        return out
    finally:
        browser.close()


def _zoom_probe(browser: Chromium, sid: str) -> list[float] | None:
    """Zoom the first run's timeline to 10-20 s; return the second run's x range after."""
    expression = """
      (() => {
        const a = document.getElementById('chart-run-0');
        const b = document.getElementById('chart-run-1');
        if (!a || !b) return Promise.resolve(null);
        return Plotly.relayout(a, {'xaxis.range': [10, 20]})
          .then(() => new Promise(r => setTimeout(r, 500)))
          .then(() => JSON.stringify(b.layout.xaxis.range));
      })()"""
    params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
    value = browser.send("Runtime.evaluate", params, session=sid).get("result", {}).get("value")
    return json.loads(value) if value else None


def _eval(browser: Chromium, sid: str, expression: str) -> Any:
    """Evaluate a JS expression in the page; return its value."""
    result = browser.send(
        "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=sid
    )
    return result.get("result", {}).get("value")


def _wait_rendered(browser: Chromium, sid: str, timeout_s: float) -> str | None:
    """Poll until the page set data-rendered (or an error), bounded by `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    expr = (
        "document.documentElement.getAttribute('data-rendered') || "
        "(document.documentElement.getAttribute('data-render-error') ? 'error' : null)"
    )
    while time.monotonic() < deadline:
        value = _eval(browser, sid, expr)
        if value:
            return str(value)
        time.sleep(0.25)
    return None


def _shot(browser: Chromium, sid: str) -> bytes:
    """A PNG of the first screen."""
    return base64.b64decode(
        browser.send("Page.captureScreenshot", {"format": "png"}, session=sid)["data"]
    )


def _collect(events: list[dict[str, Any]], out: PageCheck) -> None:
    """Sort the events into console errors and outgoing requests."""
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.errors.append(str(params.get("exceptionDetails", {}).get("text", "exception")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.errors.append(json.dumps(params.get("args", []))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            out.errors.append(str(params["entry"].get("text", "")))
        elif method == "Network.requestWillBeSent":
            out.requests.append(str(params.get("request", {}).get("url", "")))
