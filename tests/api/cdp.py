"""Headless Chromium driven over the DevTools protocol on a pipe: no extra packages, no debug port.

Enough to open a page, run JavaScript in it (fill and submit a form) and collect what the page
logged, threw and requested.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import tempfile
import time
from typing import Any

from tests.report.browser import chromium


class Browser:
    """One headless Chromium with one tab; ``events`` holds every protocol event received."""

    def __init__(self, *extra_args: str) -> None:
        """``extra_args`` go to chromium, e.g. ``--host-resolver-rules=MAP attacker.example 127.0.0.1``."""
        binary = chromium()
        assert binary, "chromium is not installed"
        self._profile = tempfile.TemporaryDirectory(prefix="cibwatch-cdp-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # --remote-debugging-pipe reads fd 3 and writes fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe", *extra_args, "about:blank"],
            preexec_fn=pipes_on_3_and_4, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=self.session)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = self._read_until(lambda m: m.get("id") == self._next_id)
        assert "error" not in reply, reply
        return reply["result"]

    def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        """The next event named ``method`` (after those already seen)."""
        seen = len(self.events)
        return self._read_until(lambda m: m.get("method") == method, timeout, start=seen)

    def _read_until(self, match: Any, timeout: float = 20, start: int | None = None) -> dict[str, Any]:
        if start is not None:
            for event in self.events[start:]:
                if match(event):
                    return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if match(message):
                    return message
            ready, _, _ = select.select([self._from_browser], [], [], 0.2)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ConnectionError("chromium closed its end of the pipe")
                self._buffer += chunk
        raise TimeoutError("no answer from chromium")

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, self.session)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def poll(self, expression: str, timeout: float = 20) -> Any:
        """Evaluate ``expression`` until it is truthy; return that value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := self.js(expression):
                return value
            time.sleep(0.1)
        raise TimeoutError(f"never true: {expression}")

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, ConnectionError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
