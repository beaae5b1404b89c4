"""Account and campaign pages in headless Chromium: charts drawn; nothing logged, blocked or sent away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.cdp import Browser
from tests.api.test_serve import served, sign_in  # noqa: F401  (the fixture: `cibwatch serve` on loopback)
from tests.report.browser import chromium

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)


def _problems(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Thrown errors, console messages and logged entries (CSP violations, failed loads)."""
    kinds = ("Runtime.exceptionThrown", "Runtime.consoleAPICalled", "Log.entryAdded", "Network.loadingFailed")
    return [e for e in events if e["method"] in kinds]


def _requested(events: list[dict[str, Any]]) -> set[str]:
    return {e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"}


@pytest.mark.parametrize(
    ("path", "charts"),
    [("/accounts/op1", 1), ("/campaigns/camp-k1", 2)],
    ids=["account", "campaign"],
)
def test_page_draws_its_charts_cleanly_from_this_server_only(
    served: str,  # noqa: F811
    path: str,
    charts: int,
    tmp_path: Path,
) -> None:
    with Browser() as browser:
        sign_in(browser, served, "vic", path)
        drawn = browser.poll(f"document.querySelectorAll('.js-plotly-plot').length >= {charts}")
        assert drawn and browser.js("document.body.getAttribute('data-charts')") == str(charts)
        assert browser.js("typeof Plotly") == "object"
        # plotly's own styles came from /static/plotly.css (a drawn chart's svg is absolutely placed).
        position = "getComputedStyle(document.querySelector('.js-plotly-plot .main-svg')).position"
        assert browser.js(position) == "absolute"
        events = list(browser.events)
    assert _problems(events) == []
    requested = _requested(events)
    assert served + "/static/plotly.min.js" in requested and served + "/static/plotly.css" in requested
    assert all(url.startswith(served + "/") for url in requested)


def test_the_harness_sees_a_blocked_inline_style(served: str) -> None:  # noqa: F811
    """A clean result above means something: an inline style the CSP blocks is reported."""
    with Browser() as browser:
        sign_in(browser, served, "vic", "/accounts/op1")
        inline_style = (
            "const s = document.createElement('style'); s.textContent = 'p{}'; document.head.append(s);"
        )
        browser.js(f"(() => {{ {inline_style} }})()")
        browser.poll("true")
        events = list(browser.events)
    blocked = [e for e in _problems(events) if "Content Security Policy" in str(e["params"])]
    assert blocked, "the CSP violation was not seen"
