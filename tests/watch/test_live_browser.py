"""The /live page in headless Chromium, served while `watch` feeds the case: it redraws itself
from GET /api/live without a reload, and nothing is logged or blocked."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from cibwatch.review import users
from cibwatch.store.case import open_case
from cibwatch.watch import WatchParams, live_state, watch
from tests.api.cdp import Browser
from tests.api.test_serve import sign_in
from tests.report.browser import chromium
from tests.review.people import PASSWORD, quick_hashing
from tests.watch.conftest import write

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)
PARAMS = WatchParams(window=30 * 86400, batch_seconds=0, stop_when_idle=0)


def window_posts(case_dir) -> int:
    with open_case(case_dir) as case:
        return int(live_state(case)["window"]["posts"])


def test_the_live_page_follows_the_watch_without_a_reload(stream, tmp_path):
    source, case_dir = tmp_path / "in" / "s.jsonl", tmp_path / "case"
    half = len(stream) // 2
    write(source, stream[:half])
    watch([source], case_dir, PARAMS, alert=lambda _: None)
    with open_case(case_dir) as case, quick_hashing():
        users.add_user(case, "boss", "admin", password=PASSWORD)
    before = window_posts(case_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "cibwatch.cli.main", "serve", "--case", str(case_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with Browser() as browser:
            sign_in(browser, base, "boss", "/live")
            status = "document.getElementById('live-status').textContent"
            assert f"{before} posts" in browser.js(status)
            assert browser.js("document.querySelectorAll('#live-activity rect').length") > 0
            browser.js("window.notReloaded = true")
            write(source, stream[half:])
            watch([source], case_dir, PARAMS, alert=lambda _: None)  # while the server reads the case
            after = window_posts(case_dir)
            assert after > before
            redrawn = f"{status}.includes('{after} posts') && window.notReloaded === true"
            assert browser.poll(redrawn, timeout=30)
            rows = browser.js("document.querySelectorAll('#live-alerts tbody tr').length")
            events = list(browser.events)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert rows > 0
    kinds = ("Runtime.exceptionThrown", "Runtime.consoleAPICalled", "Log.entryAdded", "Network.loadingFailed")
    assert [e for e in events if e["method"] in kinds] == []
