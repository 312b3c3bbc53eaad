"""Headless Chromium driven over the DevTools protocol: just enough to load a page, collect
console errors and network requests, evaluate an expression and take a screenshot.

Uses Debian's ``chromium`` (no browser download is possible on these machines) and the
``websocket-client`` package (a dependency of the ``kubernetes`` client).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1300,1800")


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium not found: install Debian's package (`apt-get install -y chromium`; "
                           "`./proxylab.sh test` does this as root)")
    return path


class Page:
    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._next = 0

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next += 1
        self.ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._next:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self.events.append(msg)
        raise TimeoutError(f"no answer to {method} within {timeout}s")

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for msg in self.events[seen:]:
                if msg.get("method") == event:
                    return msg
            seen = len(self.events)
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(f"{event} did not arrive within {timeout}s")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                        for a in p.get("args", [])))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", ""))
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))


@contextmanager
def open_page(url: str, timeout: float = 60) -> Iterator[Page]:
    """A fresh headless Chromium (own profile directory), with ``url`` loaded and its events recorded."""
    with tempfile.TemporaryDirectory(prefix="proxylab-chromium-") as profile, \
            tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([chromium_path(), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                 "about:blank"], stdout=subprocess.DEVNULL, stderr=log, text=True,
                                start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not port_file.exists() or not port_file.read_text().strip():
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"chromium exited with {proc.returncode}: {log.read()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium wrote no DevToolsActivePort within {timeout}s")
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                targets = json.load(resp)
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
            ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
            try:
                page = Page(ws)
                for domain in ("Runtime", "Log", "Network", "Page"):
                    page.call(f"{domain}.enable")
                page.call("Page.navigate", url=url)
                page.wait_for("Page.loadEventFired", timeout)
                yield page
            finally:
                ws.close()
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            # Chromium's helpers (zygote, renderers, crash handler) can outlive the main process
            # and still write into the profile, so removing it failed now and then with "Directory
            # not empty": stop the whole process group before the profile is removed.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
