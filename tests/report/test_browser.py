"""The report in headless Chromium: it renders, logs nothing, and requests nothing from the network.

The first test shows the harness itself catches errors and requests, so a clean result means something.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cibwatch.report import render
from cibwatch.report.page import static
from tests.report.browser import chromium, load
from tests.report.conftest import build_case

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)


def test_harness_sees_script_errors_console_and_network(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><head><script>"
        "window.addEventListener('error', function (e) {"
        " document.getElementById('cibwatch-page-errors').textContent += 'error: ' + e.message + '\\n'; });"
        "</script></head><body><pre id='cibwatch-page-errors' hidden></pre>"
        "<img src='http://127.0.0.1:9/tracker.png'>"
        "<script>console.error('boom'); notDefined();</script></body></html>"
    )
    loaded = load(page)
    assert any("notDefined" in e for e in loaded.page_errors)
    assert any("boom" in c for c in loaded.console)
    assert loaded.requests == ["http://127.0.0.1:9/tracker.png"]


def _assert_clean(loaded: object) -> None:
    assert loaded.page_errors == []  # type: ignore[attr-defined]
    assert loaded.console == []  # type: ignore[attr-defined]
    assert loaded.requests == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("inline_js", [False, True], ids=["plotly-beside", "plotly-inline"])
def test_report_renders_cleanly_in_chromium(tmp_path: Path, inline_js: bool) -> None:
    with build_case(tmp_path / "case") as case:
        out = render(case, tmp_path / "report.html", inline_js=inline_js)
    shot = tmp_path / "report.png"
    loaded = load(out, screenshot=shot)
    _assert_clean(loaded)
    # Every chart was drawn by plotly: two histograms, the campaign's network and timeline.
    assert 'data-charts="4"' in loaded.dom
    assert len(re.findall(r'class="[^"]*js-plotly-plot', loaded.dom)) == 4
    assert "chart chart-missing" not in loaded.dom
    # The profile's <script> stayed text: the DOM holds it escaped and no such element exists.
    assert "<script>alert(" not in loaded.dom
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in loaded.dom
    # The images loaded from the report's folder (a failed load would be in page_errors).
    assert loaded.dom.count('src="report_files/') >= 4
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_report_without_any_stage_renders_cleanly(tmp_path: Path) -> None:
    with build_case(tmp_path / "case", bots=False, coord=False, campaigns=False) as case:
        out = render(case, tmp_path / "report.html")
    loaded = load(out)
    _assert_clean(loaded)
    assert 'data-charts="0"' in loaded.dom
    assert "no bot scores in this case" in loaded.dom


def test_report_moved_without_its_folder_says_why_charts_are_missing(tmp_path: Path) -> None:
    with build_case(tmp_path / "case") as case:
        out = render(case, tmp_path / "report.html", figures=False)
    (tmp_path / "report_files" / "plotly.min.js").unlink()
    loaded = load(out)
    assert loaded.requests == []
    assert any("plotly.min.js" in e for e in loaded.page_errors)  # the failed load is seen, not hidden
    assert loaded.dom.count("chart chart-missing") == 4
    assert 'data-charts="4"' in loaded.dom


def test_clicking_a_header_sorts_the_table(tmp_path: Path) -> None:
    # The page's own report.js, driven by a click, on a small table; the result is written into the DOM.
    app = static("report.js")
    page = tmp_path / "sort.html"
    page.write_text(
        "<!doctype html><html><body><pre id='cibwatch-page-errors' hidden></pre>"
        "<table class='sortable'><thead><tr><th>name</th><th data-type='num'>score</th></tr></thead><tbody>"
        "<tr><td>b</td><td data-v='0.5'>0.50</td></tr><tr><td>a</td><td data-v='0.9'>0.90</td></tr>"
        "<tr><td>c</td><td>—</td></tr><tr><td>d</td><td data-v='0.05'>0.05</td></tr></tbody></table>"
        "<script type='application/json' id='cibwatch-charts'>{}</script>"
        f"<script>{app}</script>"
        "<script>var th = document.querySelectorAll('th');"
        "function order() { return Array.prototype.map.call(document.querySelectorAll('tbody tr'),"
        " function (r) { return r.cells[0].textContent; }).join(''); }"
        "th[1].click(); var down = order(); th[1].click(); var up = order(); th[0].click();"
        "document.body.setAttribute('data-order', down + ' ' + up + ' ' + order());</script></body></html>"
    )
    loaded = load(page)
    assert loaded.page_errors == [] and loaded.console == []
    # Highest score first, then lowest first (no score last, then first), then names descending.
    assert 'data-order="abdc cdba dcba"' in loaded.dom
