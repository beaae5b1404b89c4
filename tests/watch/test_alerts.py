"""Alerts: new, doubled and tier-crossing campaigns, each said once; rate limit; webhook."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cibwatch.store.case import Case
from cibwatch.watch import alerts
from cibwatch.watch.alerts import Alerter, AlertState, RateLimit, decide_alerts, post_webhook


def camp(cid: str, members: list[str], tier: str = "monitor") -> dict:
    return {
        "campaign_id": cid,
        "members": sorted(members),
        "tier": tier,
        "summary": f"{cid} summary",
        "traces": "repost",
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def alerter(tmp_path, monkeypatch):
    """An Alerter over a case whose campaigns the test sets (``alerter.campaigns``)."""
    case = Case.create(tmp_path / "case")
    lines: list[str] = []
    current: list[dict] = []
    monkeypatch.setattr(alerts, "current_campaigns", lambda _case: current)
    made = Alerter(case, lines.append, serve_url="http://host:8000/", clock=Clock())
    made.lines, made.campaigns = lines, current  # type: ignore[attr-defined]
    return made


def sent(a: Alerter) -> list[tuple[str, str, int]]:
    return [(r["alert"], r["followed_id"], r["size"]) for r in map(json.loads, a.lines)]  # type: ignore[attr-defined]


def test_new_then_doubled_then_tier_each_once(alerter):
    alerter.campaigns[:] = [camp("camp-C1", ["a", "b", "c"])]
    alerter.check()
    alerter.check()  # the same campaign again: nothing
    # Renumbered by the next detection and grown, not yet doubled: nothing.
    alerter.campaigns[:] = [camp("camp-C7", ["a", "b", "c", "d", "e"])]
    alerter.check()
    alerter.campaigns[:] = [camp("camp-C2", ["a", "b", "c", "d", "e", "f"])]
    alerter.check()
    alerter.campaigns[:] = [camp("camp-C2", ["a", "b", "c", "d", "e", "f"], tier="review")]
    alerter.check()
    alerter.check()
    assert sent(alerter) == [("new", "camp-C1", 3), ("doubled", "camp-C1", 6), ("tier", "camp-C1", 6)]
    record = json.loads(alerter.lines[0])  # type: ignore[attr-defined]
    assert record["url"] == "http://host:8000/campaigns/camp-C1"
    assert record["members"] == ["a", "b", "c"] and record["evidence"]["summary"] == "camp-C1 summary"


def test_what_was_alerted_survives_a_restart(alerter):
    alerter.campaigns[:] = [camp("camp-C1", ["a", "b"])]
    alerter.check()
    again = Alerter(alerter.case, alerter.lines.append)  # type: ignore[attr-defined]
    assert again.state.followed.keys() == {"camp-C1"}
    assert again.check() == []


def test_dedup_rests_on_member_overlap(alerter, monkeypatch):
    """Broken on purpose: with no overlap counting as the same campaign, every detection's
    renumbered campaign alerts as new."""
    alerter.campaigns[:] = [camp("camp-C1", ["a", "b", "c"])]
    alerter.check()
    alerter.campaigns[:] = [camp("camp-C9", ["a", "b", "c"])]
    assert alerter.check() == []
    monkeypatch.setattr(alerts, "SAME_CAMPAIGN_OVERLAP", 2.0)
    assert [r["alert"] for r in alerter.check()] == ["new"]


def test_the_rate_limit_holds_alerts_back_and_sends_them_later(alerter):
    alerter.limit.per_minute = 2
    alerter.campaigns[:] = [camp(f"camp-C{k}", [f"x{k}", f"y{k}"]) for k in range(5)]
    assert len(alerter.check()) == 2 and alerter.held == alerter.waiting == 3
    assert alerter.check() == []  # still within the minute
    alerter.limit.clock.now = 61  # type: ignore[attr-defined]
    assert len(alerter.check()) == 2
    alerter.limit.clock.now = 122  # type: ignore[attr-defined]
    assert len(alerter.check()) == 1 and alerter.waiting == 0
    assert sorted(f for _, f, _ in sent(alerter)) == [f"camp-C{k}" for k in range(5)]


def test_rate_limit_window_slides():
    clock = Clock()
    limit = RateLimit(1, clock)
    assert limit.allow() and not limit.allow()
    clock.now = 59.9
    assert not limit.allow()
    clock.now = 60.0
    assert limit.allow()


def test_decide_alerts_prefers_tier_over_doubling():
    state = AlertState()
    state.followed["f"] = alerts.Followed("f", ["a", "b"], 2, "monitor")
    assert [k for k, _, _ in decide_alerts([camp("c", ["a", "b", "c", "d"], tier="review")], state)] == [
        "tier"
    ]


def test_webhook_posts_the_alert_and_a_dead_one_is_not_fatal(caplog):
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert post_webhook(f"http://127.0.0.1:{server.server_port}/hook", {"alert": "new"})
    finally:
        server.shutdown()
    assert got == [{"alert": "new"}]
    # The same port, now closed: refused, logged, False.
    assert not post_webhook(f"http://127.0.0.1:{server.server_port}/hook", {"alert": "new"}, timeout=1)
    assert "webhook" in caplog.text


def test_a_watch_posts_its_alerts_and_a_dead_webhook_does_not_stop_it(stream, tmp_path, caplog):
    from cibwatch.watch import WatchParams, watch
    from tests.watch.conftest import write

    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write(tmp_path / "s.jsonl", stream)
    params = WatchParams(window=30 * 86400, batch_seconds=0, stop_when_idle=0)
    lines: list[str] = []
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        report = watch([tmp_path / "s.jsonl"], tmp_path / "case", params, alert=lines.append, webhook=url)
    finally:
        server.shutdown()
        server.server_close()
    assert report.alerts == len(lines) == len(got) > 0
    assert [a["campaign_id"] for a in got] == [json.loads(line)["campaign_id"] for line in lines]
    (tmp_path / "case" / "watch" / "alerts.json").unlink()  # forget them: the restart alerts again
    dead = f"http://127.0.0.1:{server.server_port}/hook"  # shut down: refused
    again = watch([tmp_path / "s.jsonl"], tmp_path / "case", params, alert=lines.append, webhook=dead)
    assert again.alerts == report.alerts and again.detections == 1
    assert "webhook" in caplog.text and len(got) == report.alerts
