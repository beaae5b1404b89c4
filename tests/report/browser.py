"""Headless Chromium for the report tests, with no extra packages.

``load`` opens a page from disk and dumps the DOM after scripts ran (the page's own hook writes
script errors, failed loads and blocked requests into ``#cibwatch-page-errors``), optionally with a
screenshot. Chromium's stderr log gives the console messages, and its NetLog every network request
the page made (the browser's own background requests are told apart by their initiator).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]
CONSOLE_LINE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)$")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Loaded:
    dom: str
    page_errors: list[str]  # what the page's hook recorded
    console: list[str]  # console messages Chromium logged
    requests: list[str]  # network URLs the page asked for
    screenshot: Path | None


def _run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def page_requests(netlog: Path) -> list[str]:
    """URLs the page requested over the network; Chromium's own requests have no origin."""
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip()
    if not text.endswith("}"):  # a log cut short still holds complete events
        text = text.rstrip(",") + "]}"
    log = json.loads(text)
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls: dict[int, set[str]] = defaultdict(set)
    browser_own: set[int] = set()
    for event in log["events"]:
        params = event.get("params") or {}
        kind, source = names.get(event["type"]), event["source"]["id"]
        if kind == "REQUEST_ALIVE" and "url" in params:
            urls[source].add(params["url"])
        if kind == "URL_REQUEST_START_JOB" and params.get("initiator") == "not an origin":
            browser_own.add(source)
    return sorted(u for source, found in urls.items() if source not in browser_own for u in found)


def load(html_path: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2400) -> Loaded:
    """Open ``html_path`` from disk once: DOM after scripts ran, console, network, optional screenshot."""
    binary = chromium()
    assert binary, "chromium is not installed"
    with tempfile.TemporaryDirectory(prefix="cibwatch-chromium-") as tmp:
        netlog = Path(tmp) / "netlog.json"
        shot = [f"--window-size={width},{height}", f"--screenshot={screenshot}"] if screenshot else []
        run = _run(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={tmp}/profile",
                "--enable-logging=stderr",
                "--v=0",
                f"--log-net-log={netlog}",
                *shot,
                "--dump-dom",
                html_path.resolve().as_uri(),
            ]
        )
        failed = "Page load failed" in run.stderr
        assert run.returncode == 0 and not failed, f"chromium failed: {run.stderr[-2000:]}"
        requests = page_requests(netlog)
    if screenshot is not None:
        assert screenshot.exists(), f"no screenshot: {run.stderr[-2000:]}"
    console = [m.group(1) for line in run.stderr.splitlines() if (m := CONSOLE_LINE.search(line))]
    box = re.search(r'<pre id="cibwatch-page-errors"[^>]*>(.*?)</pre>', run.stdout, re.S)
    errors = [line for line in (box.group(1) if box else "").splitlines() if line.strip()]
    return Loaded(
        dom=run.stdout, page_errors=errors, console=console, requests=requests, screenshot=screenshot
    )
