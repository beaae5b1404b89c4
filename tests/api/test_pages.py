"""The web UI: overview, account page, escaping of untrusted text, static files and the report."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cibwatch.api import create_app
from cibwatch.api.pages import campaign_page, error_page, overview_page
from cibwatch.store.case import Case
from tests.api.conftest import EVIL
from tests.campaigns.corpus import relabel_bot


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
    page = response.text
    # The newest snapshot's description and name carry markup: they show as text, never as elements.
    assert EVIL not in page and "<b>0</b>" not in page
    assert "Proud american &lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "Jane &lt;b&gt;0&lt;/b&gt;" in page
    assert page.count("<script") == 1  # only the app's own script file
    # Recommendation with what it rests on, bot reasons, edges with evidence, the review forms.
    assert 'Recommendation: <span class="tier tier-enforce-eligible">' in page
    assert "It rests on:" in page and "calibrated bot score 0.95" in page
    assert "<li>default profile image</li>" in page
    assert 'repost with <a href="/accounts/op2">op2</a>: 12 shared items, 0.3 expected by chance' in page
    assert "<td>rt0</td>" in page
    assert 'data-endpoint="/api/review/op1/decision"' in page
    assert "/appeal" not in page  # nothing to appeal before a decision
    assert "Never reviewed." in page


def test_account_page_follows_the_review_state(client: TestClient) -> None:
    client.post(
        "/api/review/op2/decision", json={"action": "label", "reviewer": "ana", "reason": f"x {EVIL}"}
    )
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


def test_campaign_page_lists_members_by_role(client: TestClient) -> None:
    response = client.get("/campaigns/camp-k1")
    assert response.status_code == 200 and "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert "<h1>Campaign camp-k1</h1>" in page and "<h2>Members (7)</h2>" in page
    assert page.index('<a href="/accounts/op1">') < page.index('<a href="/accounts/op5">')  # core first
    assert client.get("/campaigns/camp-zz").status_code == 404


def test_account_page_says_what_an_uncertain_bot_label_means(case_dir: Path) -> None:
    with Case.open(case_dir) as case:
        relabel_bot(case, "op2", "uncertain")
    with TestClient(create_app(case_dir)) as client:
        uncertain = client.get("/accounts/op2").text
        bot = client.get("/accounts/op1").text
    assert "<h2>Bot score: 0.5 (uncertain: between the human and bot thresholds)</h2>" in uncertain
    assert "<h2>Bot score: 0.95 (bot)</h2>" in bot


def test_overview_campaign_and_error_pages_escape_every_value() -> None:
    """The fixture's markup reaches the account page only; here every text field carries some."""
    evil = "<b>x</b>"
    metrics = {"decisions": 1, "by_action": {evil: 1}, "appeals": 0, "open_appeals": 0, "overturn_rate": None}
    summary = {"case": evil, "tables": {evil: 1}, "tiers": {evil: 1}, "review": metrics}
    queue = [
        {"priority": 1.0, "account_id": evil, "screen_name": evil, "kind": evil, "tier": evil,
         "campaign_id": evil, "reasons": evil}
    ]  # fmt: skip
    campaign = {
        "campaign_id": evil, "summary": evil, "size": 1, "n_core": 1, "n_amplifier": 0, "n_peripheral": 0,
        "first_at": evil, "last_at": evil, "n_posts": 1, "traces": evil, "top_hashtags": evil,
        "top_domains": evil, "top_urls": evil, "suspicion_score": 0.5, "suspicion_components": evil,
        "policy_version": evil,
    }  # fmt: skip
    member = {
        "account_id": evil, "screen_name": evil, "role": evil, "degree": 1, "strength": 1.0, "traces": evil,
        "coordination_score": 0.5, "bot_score": 0.5, "profile_patterns": evil,
    }  # fmt: skip
    rendered = [
        overview_page(summary, queue, [campaign], {"ok": False, "problems": [evil]}),
        campaign_page({"campaign": campaign, "members": [member]}),
        error_page(404, evil),
    ]
    for html in rendered:
        assert "<b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert '<a href="/accounts/%3Cb%3Ex%3C%2Fb%3E">&lt;b&gt;x&lt;/b&gt;</a>' in rendered[0]
