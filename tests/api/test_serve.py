"""``cibwatch serve`` for real: a uvicorn process on loopback, and the pages in headless Chromium."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cibwatch.cli.main import main
from tests.api.cdp import Browser
from tests.api.conftest import EVIL
from tests.campaigns.corpus import build
from tests.report.browser import chromium
from tests.review.people import PASSWORD


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


def sign_in(browser: Browser, base: str, name: str, path: str = "/") -> None:
    """Sign ``name`` in through the sign-in page, landing on ``path``."""
    browser.open(f"{base}/login?next={path}")
    fill = f"f.elements.name.value = {json.dumps(name)}; f.elements.password.value = {json.dumps(PASSWORD)};"
    browser.js(f"(() => {{ const f = document.querySelector('form.signin'); {fill} f.submit(); }})()")
    browser.wait_for("Page.loadEventFired")
    assert (browser.js("document.querySelector('header .me')?.textContent") or "").startswith(name), (
        browser.js("document.body.innerText")
    )


def test_serve_answers_on_loopback(served: str, tokens: dict[str, str]) -> None:
    assert httpx.get(served + "/api/summary").status_code == 401
    ana = {"Authorization": f"Bearer {tokens['ana']}"}
    assert httpx.get(served + "/api/summary", headers=ana).json()["campaigns"] == 1
    decided = httpx.post(
        served + "/api/review/op3/decision", json={"action": "label", "reason": "core"}, headers=ana
    )
    assert decided.status_code == 201 and decided.json()["actor"] == "ana"
    assert httpx.get(served + "/api/review/verify-log", headers=ana).json()["entries"] == 1


def test_serve_refuses_a_case_without_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tmp_path / "case").close()
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served a case nobody can sign in to"))
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--case", str(tmp_path / "case")])
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "has no users, so nobody could sign in; add the first admin with "
        "`cibwatch users add NAME --role admin" in err
    )


def test_serve_warns_off_loopback_without_tls(
    case_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[dict] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **k: ran.append(k))
    main(["serve", "--case", str(case_dir), "--host", "0.0.0.0", "--allow-host", "review.example"])
    err = " ".join(capsys.readouterr().err.split())
    assert "Warning: listening on 0.0.0.0 over plain http" in err and ran[0]["host"] == "0.0.0.0"
    main(["serve", "--case", str(case_dir), "--host", "0.0.0.0", "--secure-cookies"])
    main(["serve", "--case", str(case_dir)])
    assert "Warning" not in capsys.readouterr().err


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_review_in_chromium_escapes_text_and_posts_the_forms(served: str, tokens: dict[str, str]) -> None:
    with Browser() as browser:
        sign_in(browser, served, "ana", "/accounts/op1")
        # The description's <script> is text on the page, not an element; the app's own files are the
        # only scripts (and the charts' JSON block, which never runs).
        assert browser.js(f"document.body.innerText.includes({json.dumps('Proud american ' + EVIL)})")
        scripts = "Array.from(document.scripts).map(s => s.getAttribute('src') || s.type)"
        assert browser.js(scripts) == [
            "/static/app.js",
            "/static/plotly.min.js",
            "/static/report.js",
            "application/json",
        ]

        def submit(endpoint: str, fields: dict[str, str]) -> None:
            fill = "".join(f"f.elements[{json.dumps(k)}].value = {json.dumps(v)};" for k, v in fields.items())
            form = json.dumps(f'form[data-endpoint$="{endpoint}"]')
            browser.js(f"(() => {{ const f = document.querySelector({form}); {fill} f.requestSubmit(); }})()")

        submit("/decision", {"action": "suspend", "reason": "core of camp-k1"})
        browser.wait_for("Page.loadEventFired")  # app.js reloads the page after a recorded step
        assert "review status decided (in force: suspend)" in browser.js("document.body.innerText")
        appealed = httpx.post(
            served + "/api/review/op1/appeal",
            json={"statement": "I am a real person"},
            headers={"Authorization": f"Bearer {tokens['jane']}"},
        )
        assert appealed.status_code == 201
        browser.open(served + "/accounts/op1")
        # A step the review rules forbid: the API's message shows under the form, nothing is recorded.
        submit("/appeal/resolve", {"outcome": "upheld", "reason": "mine"})
        error = browser.poll("document.querySelector('.form-error').textContent")
        assert error == "ana made the decision under appeal; an appeal must be decided by another reviewer"
        events = list(browser.events)
    history = httpx.get(
        served + "/api/review/op1/history", headers={"Authorization": f"Bearer {tokens['vic']}"}
    ).json()
    assert [(e["event"], e["actor"]) for e in history] == [("decision", "ana"), ("appeal", "jane")]
    # Nothing thrown, no CSP violation or other console message; the only logged error is the 409.
    assert [e for e in events if e["method"] in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled")] == []
    logged = [e["params"]["entry"] for e in events if e["method"] == "Log.entryAdded"]
    assert [(entry["source"], "409" in entry["text"]) for entry in logged] == [("network", True)]
    requested = {e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"}
    assert requested and all(url.startswith(served + "/") for url in requested)
