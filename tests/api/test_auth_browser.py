"""Accounts and roles in headless Chromium against `cibwatch serve`: the review flow by three people,
and the attacks a browser makes possible (a cross-site form post, DNS rebinding) refused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.cdp import Browser
from tests.api.test_serve import served, sign_in  # noqa: F401  (the fixture: `cibwatch serve` on loopback)
from tests.report.browser import chromium

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)
# Another site, resolved to this machine the way DNS rebinding would: only the browser knows the name.
ATTACKER = "attacker.example"
RESOLVE = f"--host-resolver-rules=MAP {ATTACKER} 127.0.0.1"


def submit(browser: Browser, endpoint: str, fields: dict[str, str]) -> None:
    """Fill and submit the review form posting to ``endpoint`` (app.js sends it with the CSRF header)."""
    fill = "".join(f"f.elements[{json.dumps(k)}].value = {json.dumps(v)};" for k, v in fields.items())
    form = json.dumps(f'form[data-endpoint$="{endpoint}"]')
    browser.js(f"(() => {{ const f = document.querySelector({form}); {fill} f.requestSubmit(); }})()")


def text(browser: Browser) -> str:
    return str(browser.js("document.body.innerText"))


def log_of(base: str, token: str) -> list[tuple[str, str, str | None]]:
    entries = httpx.get(base + "/api/review/op1/history", headers={"Authorization": f"Bearer {token}"}).json()
    return [(e["event"], e["actor"], e["action"]) for e in entries]


def responses(events: list[dict[str, Any]], url: str) -> list[int]:
    return [
        e["params"]["response"]["status"]
        for e in events
        if e["method"] == "Network.responseReceived" and e["params"]["response"]["url"] == url
    ]


@pytest.fixture
def attacker_site(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A plain web server for pages of "another site" (its port and folder)."""
    folder = tmp_path / "attacker"
    folder.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], folder
    finally:
        server.shutdown()
        server.server_close()


def test_review_by_three_people_in_the_browser(served: str, tokens: dict[str, str]) -> None:  # noqa: F811
    with Browser() as browser:
        # A reviewer signs in, reads the queue, opens the first account and decides.
        sign_in(browser, served, "ana")
        assert "op1" in browser.js("Array.from(document.querySelectorAll('td a')).map(a => a.textContent)")
        browser.open(served + "/accounts/op1")
        assert browser.js("document.querySelector('form[data-endpoint$=\"/appeal\"]')") is None
        submit(browser, "/decision", {"action": "suspend", "reason": "core of camp-k1"})
        browser.wait_for("Page.loadEventFired")  # app.js reloads the page after a recorded step
        assert "review status decided (in force: suspend)" in text(browser)

        # The account holder signs in, lands on its own account and appeals; nothing else is open to it.
        sign_in(browser, served, "jane", "")
        assert browser.js("location.pathname") == "/accounts/op1"
        assert browser.js("document.querySelector('form[data-endpoint$=\"/decision\"]')") is None
        submit(browser, "/appeal", {"statement": "I am a real person"})
        browser.wait_for("Page.loadEventFired")
        assert "review status appealed" in text(browser)
        browser.open(served + "/")
        assert "Error 403" in text(browser) and "may not read" in text(browser)

        # The reviewer who decided may not judge the appeal: the refusal shows under the form.
        sign_in(browser, served, "ana", "/accounts/op1")
        submit(browser, "/appeal/resolve", {"outcome": "upheld", "reason": "mine"})
        error = browser.poll("document.querySelector('.form-error').textContent")
        assert error == "ana made the decision under appeal; an appeal must be decided by another reviewer"

        # A second reviewer resolves it.
        sign_in(browser, served, "ben", "/accounts/op1")
        submit(browser, "/appeal/resolve", {"outcome": "overturned", "reason": "shares a news feed"})
        browser.wait_for("Page.loadEventFired")
        assert "review status overturned" in text(browser)

        # Signing out ends the session: the pages send back to the sign-in form.
        browser.js("document.querySelector('form.signout').submit()")
        browser.wait_for("Page.loadEventFired")
        browser.open(served + "/accounts/op1")
        assert browser.js("location.pathname") == "/login"
        events = list(browser.events)
    assert log_of(served, tokens["vic"]) == [
        ("decision", "ana", "suspend"),
        ("appeal", "jane", None),
        ("appeal_outcome", "ben", "overturned"),
    ]
    assert [e for e in events if e["method"] == "Runtime.exceptionThrown"] == []


def test_a_form_on_another_site_cannot_act_for_a_signed_in_reviewer(
    served: str,  # noqa: F811
    tokens: dict[str, str],
    attacker_site: tuple[int, Path],
) -> None:
    port, folder = attacker_site
    target = served + "/api/review/op1/decision"
    # The classic trick: a text/plain form whose body parses as JSON.
    (folder / "csrf.html").write_text(
        f'<form method="post" action="{target}" enctype="text/plain">'
        '<input name=\'{"action": "suspend", "reason": "forged", "x": "\' value=\'"}\'></form>'
        "<script>document.forms[0].submit()</script>"
    )
    (folder / "logout.html").write_text(
        f'<form method="post" action="{served}/logout"></form><script>document.forms[0].submit()</script>'
    )
    with Browser(RESOLVE) as browser:
        sign_in(browser, served, "ana")
        browser.open(f"http://{ATTACKER}:{port}/csrf.html")
        browser.poll(f"location.href === {json.dumps(target)}")
        refused = browser.js("document.body.innerText")
        browser.open(f"http://{ATTACKER}:{port}/logout.html")
        browser.poll(f"location.href === {json.dumps(served + '/login')}")
        browser.open(served + "/")  # still signed in: the other site could not sign ana out either
        still_in = browser.js("document.querySelector('header .me')?.textContent") or ""
        events = list(browser.events)
    # SameSite=Strict keeps the session cookie off the cross-site post: not signed in, nothing recorded.
    assert responses(events, target) == [401] and "sign in first" in refused
    assert still_in.startswith("ana")
    assert log_of(served, tokens["vic"]) == []


def test_a_rebound_host_name_is_refused(served: str) -> None:  # noqa: F811
    """DNS rebinding: attacker.example now resolves to this machine, and its page reads the server."""
    port = served.rsplit(":", 1)[1]
    rebound = f"http://{ATTACKER}:{port}"
    with Browser(RESOLVE) as browser:
        browser.open(rebound + "/login")
        body = browser.js("document.body.innerText")
        events = list(browser.events)
    assert responses(events, rebound + "/login") == [400]
    assert "is not served here" in body and "--allow-host" in body
    assert httpx.get(served + "/api/summary", headers={"Host": ATTACKER}).status_code == 400
