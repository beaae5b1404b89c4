"""``cibwatch serve`` for real: a uvicorn process on loopback, and the pages in headless Chromium."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cibwatch.cli.main import main
from report.browser import CONSOLE_LINE, FLAGS, chromium, page_requests

from .conftest import EVIL


def test_serve_refuses_a_directory_that_is_not_a_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--case", str(tmp_path)])
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("Error: ") and "is not a cibwatch case (no case.json)" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(case_dir: Path) -> Iterator[str]:
    """``cibwatch serve`` in a subprocess; yields its base URL once it answers."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cibwatch.cli.main", "serve", "--case", str(case_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/api/review/metrics", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "cibwatch serve did not answer within 30 s"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_answers_on_loopback(served: str) -> None:
    assert httpx.get(served + "/api/summary").json()["campaigns"] == 1
    decided = httpx.post(
        served + "/api/review/op3/decision", json={"action": "label", "reviewer": "ana", "reason": "core"}
    )
    assert decided.status_code == 201
    assert httpx.get(served + "/api/review/verify-log").json()["entries"] == 1


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_account_page_in_chromium_runs_only_its_own_script(served: str) -> None:
    url = served + "/accounts/op1"
    with tempfile.TemporaryDirectory(prefix="cibwatch-chromium-") as tmp:
        netlog = Path(tmp) / "netlog.json"
        run = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={tmp}/profile", "--enable-logging=stderr", "--v=0",
             f"--log-net-log={netlog}", "--dump-dom", url],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        requests = page_requests(netlog)
    # No CSP violation or script error was logged, and nothing was asked of another origin.
    console = [m.group(1) for line in run.stderr.splitlines() if (m := CONSOLE_LINE.search(line))]
    assert console == []
    # (The navigation itself is the browser's own request, which page_requests leaves out.)
    assert {u.split("/", 3)[3] for u in requests} == {"static/app.css", "static/app.js"}
    assert all(u.startswith(served + "/") for u in requests)
    # The description's <script> is text in the DOM, not an element.
    assert EVIL not in run.stdout and "&lt;script&gt;alert('pwned')&lt;/script&gt;" in run.stdout
    assert 'class="api-form" data-endpoint="/api/review/op1/decision"' in run.stdout
