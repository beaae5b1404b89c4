"""The web UI: overview, account page, escaping of untrusted text, static files and the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cibwatch import schema
from cibwatch.api import charts, web
from cibwatch.api.pages import CSP, error_page, overview_page
from cibwatch.report import campaign_card, card_fragment
from cibwatch.store.case import Case
from tests.api.conftest import EVIL, bearer
from tests.campaigns.corpus import T0, _edge, relabel_bot, table


def test_overview_lists_the_queue_and_campaigns(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert '<a href="/accounts/op1">op1</a>' in page
    assert '<a href="/campaigns/camp-k1">camp-k1</a>' in page
    assert "Audit log OK: 0 entries" in page


def test_account_page_shows_the_evidence_and_escapes_profile_text(client: TestClient) -> None:
    response = client.get("/accounts/op1")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    page = response.text
    # The newest snapshot's description and name carry markup: they show as text, never as elements.
    assert EVIL not in page and "<b>0</b>" not in page
    assert "Proud american &lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "Jane &lt;b&gt;0&lt;/b&gt;" in page
    # Only the app's own script files, and the charts' JSON block (which the browser never runs).
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/app.js" defer>',
        '<script src="/static/plotly.min.js" defer>',
        '<script src="/static/report.js" defer>',
        '<script type="application/json" id="cibwatch-charts">',
    ]
    # Recommendation with what it rests on, bot reasons, edges with evidence, the review forms.
    assert 'Recommendation: <span class="tier tier-enforce-eligible">' in page
    assert "It rests on:" in page and "calibrated bot score 0.95" in page
    assert "<li>default profile image</li>" in page
    partner = '<a href="/accounts/op2">@patriot_jane02</a> <span class="muted">(op2)</span>'
    assert f"<strong>repost</strong> with {partner}: 12 shared items, 0.3 expected by chance" in page
    assert "<td><code>rt0</code></td>" in page
    assert 'data-endpoint="/api/review/op1/decision"' in page
    assert "/appeal" not in page  # nothing to appeal before a decision
    assert "Never reviewed." in page


def test_account_page_shows_both_posts_of_each_co_action_side_by_side(client: TestClient) -> None:
    page = client.get("/accounts/op1").text
    row = re.search(r"<tr><td><code>rt0</code></td>(.*?)</tr>", page, re.S)
    assert row is not None
    mine, theirs, gap = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    text = "<blockquote>RT @source: Vote them out, they lied about number 0 #maga</blockquote>"
    assert "2016-09-01 12:00:00 UTC · post op1-repost-rt0" in mine and text in mine
    assert "2016-09-01 12:00:12 UTC · post op2-repost-rt0" in theirs and text in theirs
    assert gap == "12 s"
    assert "<th>@patriot_jane02 posted</th>" in page
    # The campaign it belongs to, with the report's narratives, and its posts over time.
    assert '<a href="/campaigns/camp-k1">camp-k1</a> as <strong>core</strong>' in page
    assert "<h4>Narratives</h4>" in page and "<code>maga</code>" in page
    assert '<div class="chart" id="account-timeline"></div>' in page
    charts = json.loads(re.search(r'id="cibwatch-charts">(.*?)</script>', page, re.S).group(1))
    timeline = charts["account-timeline"]["data"]
    assert timeline[0]["name"] == "@patriot_jane01" and sum(timeline[0]["y"]) == 20
    assert timeline[1]["name"] == "campaign members" and timeline[1]["yaxis"] == "y2"


def test_a_hub_account_page_is_bounded_and_says_what_it_left_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "EDGES_SHOWN", 3)
    monkeypatch.setattr(web, "PAIRS_SHOWN", 2)
    page = client.get("/accounts/op1").text
    assert page.count('<details class="edge-posts"') == 3  # of op1's 9 edges
    assert "The 3 most significant of 9 edges" in page
    assert "+6 more edges, less significant" in page and '<a href="/api/accounts/op1">' in page
    evidence = page[page.index('<section id="evidence">') :].split("</section>")[0]
    assert evidence.count("<blockquote>") == 3 * 2 * 2  # two pairs per edge, two posts per pair
    assert page.count("+10 more co-actions on this edge (12 stored).") == 3


def test_hostile_post_text_and_links_stay_inert(case_dir: Path, tokens: dict[str, str]) -> None:
    """A post's <script>, markup and javascript: link are shown as text; nothing in them becomes live."""
    hostile = (
        '<script>alert(1)</script> <img src=x onerror=alert(2)> <a href="javascript:alert(3)">win</a> '
        "javascript:alert(4)"
    )
    with Case.open(case_dir) as case:
        edge = {**_edge("op1", "op3", "text", 1, 1e-12), "expected": 0.01}
        evidence = {
            "account_a": "op1", "account_b": "op3", "trace": "text", "item": hostile,
            "post_id_a": "op1-evil", "post_id_b": "op3-evil", "time_a": T0, "time_b": T0, "gap_s": 0.0,
        }  # fmt: skip
        posts = [
            {"post_id": f"{a}-evil", "account_id": a, "created_at": T0, "platform": "twitter",
             "kind": "original", "text": hostile}
            for a in ("op1", "op3")
        ]  # fmt: skip
        case.write_part("coord_edges", table([edge], schema.COORD_EDGES), "edges-evil")
        case.write_part("coord_evidence", table([evidence], schema.COORD_EVIDENCE), "evidence-evil")
        case.write_part("posts", table(posts, schema.POSTS), "posts-evil")
    with bearer(case_dir, tokens["vic"]) as client:
        response = client.get("/accounts/op1")
    page = response.text
    assert response.headers["content-security-policy"] == CSP
    escaped = (
        "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt; "
        "&lt;a href=&quot;javascript:alert(3)&quot;&gt;win&lt;/a&gt; javascript:alert(4)"
    )
    assert page.count(f"<blockquote>{escaped}</blockquote>") == 2  # both sides of the pair
    assert f"<code>{escaped}</code>" in page  # the co-acted item too
    assert "<script>alert" not in page and "<img src=x" not in page and 'href="javascript:' not in page
    assert "alert(1)</script>" not in page


def test_account_page_follows_the_review_state(client: TestClient) -> None:
    client.post("/api/review/op2/decision", json={"action": "label", "reason": f"x {EVIL}"})
    page = client.get("/accounts/op2").text
    assert "review status <strong>decided</strong> (in force: label)" in page
    assert f"x {EVIL}" not in page and "x &lt;script&gt;" in page  # the reason is escaped too
    assert 'data-endpoint="/api/review/op2/appeal"' in page
    assert "Changed since the decision" in page
    client.post("/api/review/op2/appeal", json={"statement": "no"})
    page = client.get("/accounts/op2").text
    assert 'data-endpoint="/api/review/op2/appeal/resolve"' in page
    assert 'data-endpoint="/api/review/op2/decision"' not in page


def test_ids_in_urls_are_encoded_and_may_hold_a_slash(client: TestClient) -> None:
    response = client.get("/accounts/a%3Cb%3E%2Fx")
    assert response.status_code == 404
    assert "account &#x27;a&lt;b&gt;/x&#x27; is not in case" in response.text
    assert client.get("/api/review/a%2Fb/history").json() == []


def test_static_files_are_served_locally(client: TestClient) -> None:
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert "api-form" in client.get("/static/app.js").text
    assert client.get("/static/secrets.txt").status_code == 404


def test_report_is_rendered_when_absent_and_served_with_its_files(client: TestClient, case_dir: Path) -> None:
    assert not (case_dir / "report.html").exists()
    response = client.get("/report")
    assert response.status_code == 200 and "<html" in response.text
    assert (case_dir / "report.html").exists()
    js = client.get("/report_files/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    escape = client.get("/report_files/..%2Fcase.json")
    assert escape.status_code == 404 and "no report file &#x27;../case.json&#x27;" in escape.text


def test_an_existing_report_is_served_as_written(client: TestClient, case_dir: Path) -> None:
    (case_dir / "report.html").write_text("<!doctype html><p>written by cibwatch report</p>")
    assert client.get("/report").text == "<!doctype html><p>written by cibwatch report</p>"


def test_campaign_page_is_the_reports_card_with_members_tiers_narratives_and_local_plots(
    client: TestClient,
) -> None:
    response = client.get("/campaigns/camp-k1")
    assert response.status_code == 200 and response.headers["content-security-policy"] == CSP
    page = response.text
    assert "<h1>Campaign camp-k1</h1>" in page and '<article class="card" id="card-01-camp-k1">' in page
    assert "<h4>Members (7)</h4>" in page and "<h4>Narratives</h4>" in page
    assert page.index('<a href="/accounts/op1">') < page.index('<a href="/accounts/op5">')  # core first
    # A member row: linked id, handle, role, scores and its tier, as the report's card shows them.
    assert '<tr><td><a href="/accounts/op1">op1</a></td><td>patriot_jane01</td><td>core</td>' in page
    assert '<td class="tier-enforce-eligible">enforce-eligible</td>' in page
    # The card's network and timeline, drawn by plotly.js from this server, never a CDN.
    charts = json.loads(re.search(r'id="cibwatch-charts">(.*?)</script>', page, re.S).group(1))
    assert sorted(charts) == ["card-01-camp-k1-network", "card-01-camp-k1-timeline"]
    assert '<script src="/static/plotly.min.js" defer>' in page and "http" not in "".join(
        re.findall(r"src=\"[^\"]*\"", page)
    )
    assert client.get("/campaigns/camp-zz").status_code == 404


def test_campaign_page_renders_the_same_card_as_the_report(client: TestClient, case_dir: Path) -> None:
    """One card macro and one data function: the page's card is the report's, members linked."""
    page = client.get("/campaigns/camp-k1").text
    with Case.open(case_dir) as case:
        card = campaign_card(case, "camp-k1", web.CARD_LIMITS)
    assert card is not None
    report_card = card_fragment(card, web.CARD_LIMITS).html  # the report's rendering: ids as text
    linked = re.sub(r'<a href="/accounts/[^"]*">([^<]*)</a>', r"\1", page)
    assert str(report_card) in linked


def test_plotly_is_served_with_its_styles_as_a_file(client: TestClient) -> None:
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert len(js.content) > 1_000_000
    css = client.get("/static/plotly.css").text
    assert ".js-plotly-plot .plotly .main-svg {position:absolute;" in css and ".maplibregl-map{" in css
    assert "function" not in css  # rules only: the table was cut at its end
    page = client.get("/campaigns/camp-k1").text
    assert 'id="plotly.js-style-global" class="no-inline-styles" href="/static/plotly.css"' in page
    assert all(f'<span hidden id="{i}"></span>' in page for i in charts.style_ids())
    assert "new Function" not in client.get("/static/report.js").text


def test_a_plotly_without_its_style_table_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    charts.plotly_css.cache_clear()
    monkeypatch.setattr(charts, "plotly_js", lambda: "/* a plotly.js that adds its styles another way */")
    try:
        with pytest.raises(RuntimeError, match="style table was not found"):
            charts.plotly_css()
    finally:
        monkeypatch.undo()
        charts.plotly_css.cache_clear()
    assert ".main-svg" in charts.plotly_css()


def test_queue_filters_narrow_the_queue_and_have_a_url(client: TestClient) -> None:
    everyone = client.get("/api/review/queue").json()
    assert {r["status"] for r in everyone} == {"pending"} and {r["kind"] for r in everyone} == {"new"}
    enforce = client.get("/api/review/queue", params={"tier": "enforce-eligible"}).json()
    assert enforce and all(r["tier"] == "enforce-eligible" for r in enforce) and len(enforce) < len(everyone)
    in_campaign = client.get("/api/review/queue", params={"campaign": "camp-k1"}).json()
    assert {r["campaign_id"] for r in in_campaign} == {"camp-k1"}
    assert "x1" not in {r["account_id"] for r in in_campaign}
    client.post("/api/review/op2/decision", json={"action": "label", "reason": "core"})
    decided = client.get("/api/review/queue", params={"status": "decided"}).json()
    assert [(r["account_id"], r["kind"], r["status"]) for r in decided] == [("op2", "reviewed", "decided")]
    assert "op2" not in {r["account_id"] for r in client.get("/api/review/queue").json()}
    client.post("/api/review/op2/appeal", json={"statement": "no"})
    appealed = client.get("/api/review/queue", params={"status": "appealed", "campaign": "camp-k1"}).json()
    assert [(r["account_id"], r["kind"]) for r in appealed] == [("op2", "appeal")]
    # The overview's GET form: the filtered queue is a URL, with the choices kept selected.
    params = {"tier": "enforce-eligible", "status": "pending"}
    pending = client.get("/api/review/queue", params=params).json()
    assert len(pending) == len(enforce) - 1  # op2 is decided now
    page = client.get("/", params=params).text
    assert '<form class="filters" method="get" action="/">' in page
    assert (
        "<option selected>enforce-eligible</option>" in page and "<option selected>pending</option>" in page
    )
    assert f"{len(pending)} account(s) with tier enforce-eligible, status pending" in page
    assert page.count("<td>pending</td>") == len(pending)
    assert '<a href="/api/review/queue?tier=enforce-eligible&amp;status=pending">' in page
    # An empty field is "any": the plain queue, open appeals first.
    plain = client.get("/", params={"tier": "", "campaign": "", "status": ""}).text
    waiting = client.get("/api/review/queue").json()
    assert plain.count("<td>new</td>") + plain.count("<td>appeal</td>") == len(waiting)
    assert "<td>appeal</td><td>appealed</td>" in plain


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tier": "urgent"}, "tier"),
        ({"status": "done"}, "status"),
        ({"campaign": "camp-zz"}, "campaign &#x27;camp-zz&#x27; is not in case"),
    ],
)
def test_queue_filters_refuse_unknown_values(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    api = client.get("/api/review/queue", params=params)
    assert api.status_code == 422 and message.replace("&#x27;", "'") in api.json()["error"]
    page = client.get("/", params=params)
    assert page.status_code == 422 and message in page.text


def test_account_page_says_what_an_uncertain_bot_label_means(case_dir: Path, tokens: dict[str, str]) -> None:
    with Case.open(case_dir) as case:
        relabel_bot(case, "op2", "uncertain")
    with bearer(case_dir, tokens["vic"]) as client:
        uncertain = client.get("/accounts/op2").text
        bot = client.get("/accounts/op1").text
    assert "<h2>Bot score: 0.5 (uncertain: between the human and bot thresholds)</h2>" in uncertain
    assert "<h2>Bot score: 0.95 (bot)</h2>" in bot


def test_overview_and_error_pages_escape_every_value() -> None:
    """The fixture's markup reaches the account page only; here every text field carries some."""
    evil = "<b>x</b>"
    metrics = {"decisions": 1, "by_action": {evil: 1}, "appeals": 0, "open_appeals": 0, "overturn_rate": None}
    summary = {"case": evil, "tables": {evil: 1}, "tiers": {evil: 1}, "review": metrics}
    queue = [
        {"priority": 1.0, "account_id": evil, "screen_name": evil, "kind": evil, "status": evil, "tier": evil,
         "campaign_id": evil, "reasons": evil}
    ]  # fmt: skip
    campaign = {
        "campaign_id": evil, "summary": evil, "size": 1, "n_core": 1, "n_amplifier": 0, "n_peripheral": 0,
        "first_at": evil, "last_at": evil, "n_posts": 1, "traces": evil, "top_hashtags": evil,
        "top_domains": evil, "top_urls": evil, "suspicion_score": 0.5, "suspicion_components": evil,
        "policy_version": evil,
    }  # fmt: skip
    rendered = [
        overview_page(summary, queue, [campaign], {"ok": False, "problems": [evil]}, filters={"tier": evil}),
        error_page(404, evil),
    ]
    for html in rendered:
        assert "<b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert '<a href="/accounts/%3Cb%3Ex%3C%2Fb%3E">&lt;b&gt;x&lt;/b&gt;</a>' in rendered[0]
