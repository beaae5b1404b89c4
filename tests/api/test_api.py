"""Every JSON endpoint on the constructed case, and the status and message of each user mistake."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from cibwatch.api import create_app
from cibwatch.campaigns.summary import ACCOUNT_COLUMNS
from cibwatch.errors import CaseError
from tests.api.conftest import bearer
from tests.campaigns.corpus import build
from tests.review.people import add_people


def test_summary_counts_tables_tiers_and_campaigns(client: TestClient) -> None:
    body = client.get("/api/summary").json()
    assert body["tables"]["accounts"] == 44  # 43 accounts + op1's second snapshot
    assert body["tables"]["accounts_current"] == 43
    assert body["tables"]["coord_edges"] == 20
    assert body["tables"]["campaign_members"] == 7
    assert body["campaigns"] == 1
    assert list(body["tiers"]) == ["none", "monitor", "review", "enforce-eligible"]
    assert sum(body["tiers"].values()) == body["tables"]["recommendations"]
    assert body["review_queue"] == len(client.get("/api/review/queue").json())
    assert body["review"]["decisions"] == 0


def test_accounts_page_filters_by_tier_and_pages(client: TestClient) -> None:
    everyone = client.get("/api/accounts").json()
    assert everyone["total"] == len(everyone["accounts"]) == 14
    assert list(everyone["accounts"][0]) == list(ACCOUNT_COLUMNS)
    assert everyone["accounts"][0]["account_id"] == "op1"
    page = client.get("/api/accounts", params={"limit": 2, "offset": 1}).json()
    assert [a["account_id"] for a in page["accounts"]] == [a["account_id"] for a in everyone["accounts"][1:3]]
    enforce = client.get("/api/accounts", params={"tier": "enforce-eligible"}).json()
    assert enforce["total"] >= 1
    assert {a["recommendation"] for a in enforce["accounts"]} == {"enforce-eligible"}


def test_account_is_the_case_file(client: TestClient) -> None:
    cf = client.get("/api/accounts/op1").json()
    assert cf["account_id"] == "op1" and cf["case_file_version"] == 1
    assert cf["recommendation"]["tier"] == "enforce-eligible"
    assert cf["recommendation"]["rests_on"][0]["sentence"]
    assert {e["partner"] for e in cf["edges"]} >= {"op2", "op3", "op4", "op5", "op6", "op7"}
    assert cf["edges"][0]["evidence"][0]["item"]
    assert cf["campaigns"][0]["member"]["role"] == "core"
    assert cf["decisions"] == []


def test_campaigns_and_one_campaign_with_members(client: TestClient) -> None:
    campaigns = client.get("/api/campaigns").json()
    assert [c["campaign_id"] for c in campaigns] == ["camp-k1"]
    assert "details" not in campaigns[0]
    one = client.get("/api/campaigns/camp-k1").json()
    assert one["campaign"] == campaigns[0]
    assert isinstance(one["details"], dict) and one["details"]
    roles = [m["role"] for m in one["members"]]
    assert roles == sorted(roles, key=["core", "amplifier", "peripheral"].index)
    assert len(one["members"]) == 7 and roles.count("core") == 4


def test_review_reads_on_a_fresh_case(client: TestClient) -> None:
    queue = client.get("/api/review/queue").json()
    assert queue[0]["account_id"] == "op1" and queue[0]["kind"] == "new"
    assert [q["priority"] for q in queue] == sorted((q["priority"] for q in queue), reverse=True)
    assert len(client.get("/api/review/queue", params={"limit": 2}).json()) == 2
    assert client.get("/api/review/op1/history").json() == []
    assert client.get("/api/review/verify-log").json() == {
        "ok": True,
        "entries": 0,
        "head": "0" * 64,
        "problems": [],
        "checked": 0,
        "checkpoint": None,
    }
    assert client.get("/api/review/metrics").json()["overturn_rate"] is None


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_network_export_is_the_coordination_graph(client: TestClient, fmt: str) -> None:
    response = client.get(f"/api/export/network.{fmt}")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="network.{fmt}"'
    read = nx.read_graphml if fmt == "graphml" else nx.read_gexf
    graph = read(io.BytesIO(response.content))
    assert graph.number_of_nodes() == 11  # the coord_accounts rows
    assert graph.number_of_edges() == 13  # 20 edge rows: pairs seen on two traces are one edge
    assert graph.edges["x1", "x2"]["traces"] == "text,url"


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/accounts/nobody", 404, "account 'nobody' is not in case"),
        ("/api/campaigns/camp-zz", 404, "campaign 'camp-zz' is not in case"),
        ("/api/nothing-here", 404, "Not Found"),
        ("/api/accounts?tier=maybe", 422, "query.tier: Input should be 'none', 'monitor'"),
        ("/api/accounts?limit=0", 422, "query.limit: Input should be greater than or equal to 1"),
        ("/api/export/network.csv", 422, "path.fmt: Input should be 'graphml' or 'gexf'"),
    ],
)
def test_read_errors_are_4xx_with_a_message(client: TestClient, url: str, status: int, message: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert list(response.json()) == ["error"]
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("op1/decision", {"action": "ban", "reason": "x"}, 422, "body.action: Input should"),
        ("op1/decision", {"action": "label"}, 422, "body.reason: Field required"),
        ("op1/decision", {"action": "label", "reason": "  "}, 422, "body.reason: String"),
        ("op1/decision", {"action": "label", "reason": "x", "reson": "b"}, 422, "reson"),
        # The actor is the signed-in user: a request naming one is refused, not obeyed.
        (
            "op1/decision",
            {"action": "label", "reviewer": "the-chief-reviewer", "reason": "x"},
            422,
            "body.reviewer: Extra inputs are not permitted",
        ),
        (
            "op1/appeal",
            {"statement": "I am real", "appellant": "someone"},
            422,
            "body.appellant: Extra inputs are not permitted",
        ),
        ("nobody/decision", {"action": "label", "reason": "x"}, 404, "is not in case"),
        ("op1/appeal", {"statement": "I am real"}, 409, "has no decision to appeal"),
        (
            "op1/appeal/resolve",
            {"outcome": "upheld", "reason": "x"},
            409,
            "no open appeal",
        ),
        ("op1/appeal/resolve", {"outcome": "maybe", "reason": "x"}, 422, "body.outcome"),
    ],
)
def test_review_mistakes_are_4xx_with_a_message(
    client: TestClient, path: str, body: dict, status: int, message: str
) -> None:
    response = client.post(f"/api/review/{path}", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_form_post_is_refused_json_only(client: TestClient) -> None:
    response = client.post("/api/review/op1/decision", data={"action": "label", "reason": "y"})
    assert response.status_code == 422
    assert client.get("/api/review/op1/history").json() == []


def test_a_case_before_campaigns_and_coord(tmp_path: Path) -> None:
    with build(tmp_path / "case", coord=False) as case:
        token = add_people(case)["vic"]
    with bearer(tmp_path / "case", token) as client:
        summary = client.get("/api/summary").json()
        assert summary["review_queue"] is None and summary["campaigns"] == 0
        queue = client.get("/api/review/queue")
        assert queue.status_code == 404 and "run `cibwatch campaigns" in queue.json()["error"]
        network = client.get("/api/export/network.graphml")
        assert network.status_code == 404 and "run `cibwatch coord" in network.json()["error"]
        assert client.get("/api/campaigns").json() == []
        assert client.get("/api/accounts").json()["total"] == 5  # bot-scored only


def test_not_a_case_fails_at_startup(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="is not a cibwatch case"):
        create_app(tmp_path)


def test_case_database_held_by_another_process_is_a_503(client: TestClient, case_dir: Path) -> None:
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(case_dir / "case.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        response = client.get("/api/review/verify-log")
        assert response.status_code == 503
        assert "in use by another process; retry" in response.json()["error"]
    finally:
        holder.communicate("", timeout=30)
    assert client.get("/api/review/verify-log").status_code == 200
