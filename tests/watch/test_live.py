"""``cibwatch serve`` on a watched case: GET /api/live and the /live page that polls it."""

from __future__ import annotations

import pytest

from cibwatch.api import create_app
from cibwatch.review import users
from cibwatch.store.case import open_case
from cibwatch.watch import WatchParams, live_state, watch
from tests.api.conftest import bearer
from tests.review.people import PASSWORD, quick_hashing
from tests.watch.conftest import write


@pytest.fixture(scope="module")
def watched(stream, tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    write(root / "in" / "s.jsonl", stream)
    params = WatchParams(window=30 * 86400, batch_seconds=0, stop_when_idle=0)
    watch([root / "in" / "s.jsonl"], root / "case", params, alert=lambda _: None)
    with open_case(root / "case") as case, quick_hashing():
        users.add_user(case, "boss", "admin", password=PASSWORD)
        token = users.new_api_token(case, "boss")
    return root / "case", token


def test_live_state_of_a_watched_case(watched):
    case_dir, _ = watched
    with open_case(case_dir) as case:
        state = live_state(case)
        n_campaigns = case.read("campaigns").height
    assert state["watched"] and state["window"]["posts"] > 1000
    assert sum(a["posts"] for a in state["activity"]) == state["window"]["posts"]
    assert len(state["campaigns"]) == n_campaigns
    last = [c["last_at"] for c in state["campaigns"]]
    assert last == sorted(last, reverse=True)  # by last activity
    assert {a["campaign_id"] for a in state["alerts"]} <= {c["campaign_id"] for c in state["campaigns"]}
    assert state["alerts"] and state["alerts"][0]["alert"] == "new"


def test_api_live_and_the_live_page(watched):
    case_dir, token = watched
    with bearer(create_app(case_dir), token) as client:
        got = client.get("/api/live")
        assert got.status_code == 200 and got.json()["watched"] is True
        page = client.get("/live")
        assert page.status_code == 200
        assert '<script src="/static/live.js" defer></script>' in page.text
        assert (
            'id="live-state"' in page.text and "script-src 'self'" in page.headers["content-security-policy"]
        )
        assert got.json()["campaigns"][0]["campaign_id"] in page.text
        js = client.get("/static/live.js")
        assert js.status_code == 200 and "textContent" in js.text and "innerHTML" not in js.text


def test_the_live_page_needs_a_signed_in_user(watched):
    case_dir, _ = watched
    with bearer(create_app(case_dir), "not-a-token") as client:
        assert client.get("/api/live").status_code == 401


def test_an_unwatched_case_says_so(tmp_path):
    from cibwatch.store.case import Case

    state = live_state(Case.create(tmp_path / "case"))
    assert state == {
        "watched": False,
        "last_batch_at": None,
        "window": {"start": None, "end": None, "posts": 0},
        "activity": [],
        "campaigns": [],
        "alerts": [],
    }
