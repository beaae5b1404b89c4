"""A small constructed case for the report: one campaign of six accounts and six ordinary accounts.

Every table follows ``cibwatch.schema`` exactly; the stages can be left out to test what the report
says when an upstream table is absent. Profile and post text carry markup to test escaping.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from cibwatch import schema
from cibwatch.store.case import Case

T0 = datetime(2016, 10, 1, 12, 0, tzinfo=UTC)
INGESTED = datetime(2026, 11, 1, tzinfo=UTC)
EVIL = "<script>alert('pwned')</script>"
CAMPAIGN = [f"c{i}" for i in range(1, 7)]
ORGANIC = [f"h{i}" for i in range(1, 7)]
PROV = {"dataset": "fixture", "reader": "test@1", "source_file": "fixture.jsonl", "ingested_at": INGESTED}


def _table(rows: list[dict], table_schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=table_schema)


def _posts() -> list[dict]:
    rows = []
    base = {
        "lang": "en",
        "source_app": "web",
        "mentions": [],
        "media_hashes": [],
        "platform": "twitter",
        **PROV,
    }
    for n, account in enumerate(CAMPAIGN):
        # Every campaign account reposts the same five posts within seconds of each other...
        for item in range(5):
            rows.append(
                {
                    **base,
                    "post_id": f"rt-{account}-{item}",
                    "account_id": account,
                    "created_at": T0 + timedelta(hours=item, seconds=3 * n),
                    "kind": "repost",
                    "ref_post_id": f"src-{item}",
                    "ref_account_id": "h1",
                    "text": f"RT @h1: source {item}",
                    "hashtags": [],
                    "urls": [],
                }
            )
        # ...and posts the same slogan, which carries markup a browser must never run.
        rows.append(
            {
                **base,
                "post_id": f"own-{account}",
                "account_id": account,
                "created_at": T0 + timedelta(hours=6, minutes=n),
                "kind": "original",
                "ref_post_id": None,
                "ref_account_id": None,
                "text": f"Vote NO {EVIL} #stopit",
                "hashtags": ["stopit"],
                "urls": ["http://evil.example/x"],
            }
        )
    for n, account in enumerate(ORGANIC):
        for k in range(3):
            rows.append(
                {
                    **base,
                    "post_id": f"org-{account}-{k}",
                    "account_id": account,
                    "created_at": T0 + timedelta(days=k, hours=n),
                    "kind": "original",
                    "ref_post_id": None,
                    "ref_account_id": None,
                    "text": f"ordinary post {k} by {account}",
                    "hashtags": [],
                    "urls": [],
                }
            )
    return rows


def _accounts() -> list[dict]:
    rows = []
    for account in CAMPAIGN + ORGANIC:
        rows.append(
            {
                "account_id": account,
                "platform": "twitter",
                "screen_name": f"{account}_{EVIL}" if account == "c1" else f"user_{account}",
                "name": account,
                "description": EVIL,
                "created_at": T0 - timedelta(days=30),
                "followers": 10,
                "following": 100,
                "posts_count": 50,
                "likes_count": 0,
                "listed_count": 0,
                "verified": False,
                "default_profile": True,
                "default_profile_image": True,
                "profile_use_background_image": True,
                "location": None,
                "url": None,
                "lang": "en",
                "probed_at": T0,
                "snapshot_id": f"snap-{account}",
                "raw": None,
                **PROV,
            }
        )
    return rows


def _bot_label(score: float) -> str:
    """The model's three labels, at a bot threshold of 0.5 and an uncertain threshold of 0.3."""
    return "bot" if score >= 0.5 else "uncertain" if score >= 0.3 else "human"


def _bot_scores() -> list[dict]:
    rows = []
    # Campaign accounts score 0.95 … 0.85 (bot); ordinary ones 0.23 … 0.38: h1-h3 human, h4-h6 uncertain.
    for n, account in enumerate(CAMPAIGN + ORGANIC):
        score = 0.95 - 0.02 * n if account in CAMPAIGN else 0.05 + 0.03 * n
        rows.append(
            {
                "account_id": account,
                "platform": "twitter",
                "screen_name": f"user_{account}",
                "dataset": "fixture",
                "bot_score": score,
                "bot_label": _bot_label(score),
                "bot_type": "political" if score >= 0.5 else None,
                "top_reasons": f"default profile image; reason with {EVIL}",
                "head": "profile+behaviour",
                "model_version": "test-1",
                "input_flags": None,
            }
        )
    return rows


def _coord() -> dict[str, list[dict]]:
    edges, evidence = [], []
    for a, b in itertools.combinations(CAMPAIGN, 2):
        ia, ib = CAMPAIGN.index(a), CAMPAIGN.index(b)
        edges.append(
            {
                "account_a": a,
                "account_b": b,
                "trace": "co_repost",
                "n_shared": 5,
                "weight": 0.9,
                "expected": 0.02,
                "p_value": 1e-9,
                "q_value": 1e-8 * (ia + 1) * (ib + 1),
                "first_at": T0,
                "last_at": T0 + timedelta(hours=4),
                "median_gap_s": 3.0 * (ib - ia),
            }
        )
        for item in range(5):
            evidence.append(
                {
                    "account_a": a,
                    "account_b": b,
                    "trace": "co_repost",
                    "item": f"src-{item}",
                    "post_id_a": f"rt-{a}-{item}",
                    "post_id_b": f"rt-{b}-{item}",
                    "time_a": T0 + timedelta(hours=item, seconds=3 * ia),
                    "time_b": T0 + timedelta(hours=item, seconds=3 * ib),
                    "gap_s": 3.0 * (ib - ia),
                }
            )
    accounts = [
        {
            "account_id": a,
            "screen_name": f"user_{a}",
            "cluster_id": "k1",
            "coordination_score": 0.9 - 0.05 * n,
            "n_partners": 5,
            "n_shared_items": 25,
            "traces": "co_repost",
            "top_evidence": "reposted src-0 within 3 s",
        }
        for n, a in enumerate(CAMPAIGN)
    ] + [
        {
            "account_id": h,
            "screen_name": f"user_{h}",
            "cluster_id": None,
            "coordination_score": 0.0,
            "n_partners": 0,
            "n_shared_items": 0,
            "traces": None,
            "top_evidence": None,
        }
        for h in ORGANIC
    ]
    clusters = [
        {
            "cluster_id": "k1",
            "size": 6,
            "traces": "co_repost",
            "n_items": 5,
            "first_at": T0,
            "last_at": T0 + timedelta(hours=4),
            "density": 1.0,
            "top_items": "src-0; src-1; src-2",
        }
    ]
    return {
        "coord_edges": edges,
        "coord_evidence": evidence,
        "coord_accounts": accounts,
        "coord_clusters": clusters,
    }


def _campaigns() -> dict[str, list[dict]]:
    campaign = {
        "campaign_id": "camp-k1",
        "cluster_id": "k1",
        "size": 6,
        "n_core": 2,
        "n_amplifier": 3,
        "n_peripheral": 1,
        "traces": "co_repost",
        "trace_families": "amplification",
        "first_at": T0,
        "last_at": T0 + timedelta(hours=6, minutes=5),
        "n_posts": 36,
        "top_hashtags": f"stopit; {EVIL}",
        "top_domains": "evil.example",
        "top_urls": "http://evil.example/x",
        "n_bot_scored": 6,
        "bot_score_median": 0.9,
        "bot_share": 1.0,
        "creation_burst_members": 6,
        "profile_similarity": 0.5,
        "suspicion_score": 0.82,
        "suspicion_components": "coordination=0.95×0.30; bots=0.90×0.20",
        "summary": f"Six accounts repost the same posts within seconds {EVIL}",
        "details": json.dumps(
            {
                "narratives": {
                    "texts": [
                        {
                            "text": f"Vote NO {EVIL} #stopit",
                            "accounts": 6,
                            "posts": 6,
                            "first_at": "2016-10-01",
                        }
                    ]
                }
            }
        ),
        "policy_version": "cibwatch-default@1",
    }
    roles = ["core", "core", "amplifier", "amplifier", "amplifier", "peripheral"]
    members = [
        {
            "campaign_id": "camp-k1",
            "account_id": a,
            "screen_name": f"{a}_{EVIL}" if a == "c1" else f"user_{a}",
            "role": role,
            "degree": 5,
            "strength": 25.0 - n,
            "traces": "co_repost",
            "amplification_share": 1.0,
            "coordination_score": 0.9 - 0.05 * n,
            "bot_score": 0.95 - 0.02 * n,
            "created_at": T0 - timedelta(days=30),
            "in_creation_burst": True,
            "profile_patterns": "description: identical",
        }
        for n, (a, role) in enumerate(zip(CAMPAIGN, roles, strict=True))
    ]
    tiers = ["enforce-eligible", "enforce-eligible", "review", "review", "review", "monitor"]
    recs = [
        {
            "account_id": a,
            "screen_name": f"user_{a}",
            "campaign_id": "camp-k1",
            "tier": tier,
            "priority": 10.0 - n,
            "n_independent_lines": 2 if tier == "enforce-eligible" else 1,
            "lines": "coordination:amplification,bot",
            "rests_on": json.dumps(["co_repost q<0.01 with 5 partners", "bot score 0.95"]),
            "reasons": f"coordinated reposting with 5 partners; bot score {0.95 - 0.02 * n:.2f}",
            "policy_version": "cibwatch-default@1",
            "model_version": "test-1",
        }
        for n, (a, tier) in enumerate(zip(CAMPAIGN, tiers, strict=True))
    ] + [
        {
            "account_id": h,
            "screen_name": f"user_{h}",
            "campaign_id": None,
            "tier": "none",
            "priority": 0.0,
            "n_independent_lines": 0,
            "lines": None,
            "rests_on": "[]",
            "reasons": "no signal",
            "policy_version": "cibwatch-default@1",
            "model_version": "test-1",
        }
        for h in ORGANIC
    ]
    return {"campaigns": [campaign], "campaign_members": members, "recommendations": recs}


def build_case(root: Path, *, bots: bool = True, coord: bool = True, campaigns: bool = True) -> Case:
    """A case at ``root`` with the normalized tables and the chosen stages' outputs."""
    case = Case.create(root)
    case.write_part("posts", _table(_posts(), schema.POSTS), "part-0")
    case.write_part("accounts", _table(_accounts(), schema.ACCOUNTS), "part-0")
    quarantined = {
        "source_file": "fixture.jsonl",
        "line": 7,
        "byte_offset": 700,
        "reader": "test@1",
        "reason": "not JSON",
        "raw": EVIL,
        "dataset": "fixture",
        "ingested_at": INGESTED,
    }
    case.write_part("quarantine", _table([quarantined], schema.QUARANTINE), "part-0")
    stages: dict[str, list[dict]] = {}
    if bots:
        stages["bot_scores"] = _bot_scores()
    if coord:
        stages.update(_coord())
    if campaigns:
        stages.update(_campaigns())
    for name, rows in stages.items():
        case.write_part(name, _table(rows, schema.STAGE_TABLES[name]), "part-0")
    return case


@pytest.fixture
def full_case(tmp_path: Path) -> Case:
    case = build_case(tmp_path / "case")
    yield case
    case.close()
