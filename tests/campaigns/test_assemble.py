"""Campaign assembly and recommendations on the constructed corpus (tests/campaigns/corpus.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from cibwatch import schema
from cibwatch.campaigns import assemble, load_policy, parse_policy
from cibwatch.store.case import Case
from tests.campaigns.corpus import AMPLIFIERS, BURST, CORE, OPS, build, table


def tiers(case: Case) -> dict[str, str]:
    return dict(case.read("recommendations").select("account_id", "tier").iter_rows())


def details(case: Case) -> dict:
    return json.loads(case.read("campaigns")["details"][0])


def test_tables_follow_the_published_schemas(case: Case) -> None:
    for name in ("campaigns", "campaign_members", "recommendations"):
        (part,) = case.parts(name)
        assert pq.read_schema(part).remove_metadata().equals(schema.STAGE_TABLES[name])


def test_one_campaign_with_roles_from_degree_strength_and_trace_mix(case: Case) -> None:
    campaigns = case.read("campaigns")
    assert campaigns["campaign_id"].to_list() == ["camp-k1"]
    row = campaigns.row(0, named=True)
    assert (row["size"], row["n_core"], row["n_amplifier"], row["n_peripheral"]) == (7, 4, 2, 1)
    assert row["trace_families"] == "amplification,hashtag,link"
    roles = dict(case.read("campaign_members").select("account_id", "role").iter_rows())
    assert {a for a, r in roles.items() if r == "core"} == set(CORE)
    assert {a for a, r in roles.items() if r == "amplifier"} == set(AMPLIFIERS)
    assert roles["op7"] == "peripheral"


def test_narratives_timeline_and_traces(case: Case) -> None:
    d = details(case)
    tags = [h["hashtag"] for h in d["narratives"]["hashtags"]]
    assert tags[:2] == ["maga", "tcot"] and "stopthesteal" in tags  # lower-cased, most accounts first
    assert d["narratives"]["hashtags"][0]["accounts"] == 6
    assert [x["domain"] for x in d["narratives"]["domains"]] == ["fakenews.example"]
    # Posts whose urls field is [""] have no link: "" is neither a url nor a domain.
    assert all(u["url"] for u in d["narratives"]["urls"])
    assert d["narratives"]["texts"][0]["text"].startswith("RT @source: Vote them out")
    assert [(t["day"], t["posts"]) for t in d["timeline"]] == [("2016-09-01", 72), ("2016-09-02", 32)]
    traces = {t["trace"]: t for t in d["traces"]}
    assert traces["repost"]["edges"] == 6 + 4  # the core clique plus four amplifier edges
    assert traces["url"]["family"] == "link"


def test_creation_burst_is_measured_against_the_case_baseline(case: Case) -> None:
    d = details(case)
    (burst,) = d["creation_bursts"]
    assert burst["members"] == sorted(OPS)
    assert burst["ratio_to_expected"] > 3
    members = case.read("campaign_members")
    assert members.filter(pl.col("in_creation_burst"))["account_id"].sort().to_list() == sorted(OPS)


def test_burst_is_weak_when_the_whole_case_was_created_then(tmp_path: Path) -> None:
    c = build(tmp_path / "case")
    # A newer snapshot of every background account, created inside the burst window.
    rows = [
        {"account_id": f"bg{i:02d}", "platform": "twitter", "screen_name": f"person{i}x",
         "created_at": BURST + timedelta(hours=i), "probed_at": datetime(2017, 1, 1, tzinfo=UTC),
         "snapshot_id": f"s2-bg{i}"}
        for i in range(30)
    ]  # fmt: skip
    c.write_part("accounts", table(rows, schema.ACCOUNTS), "later")
    assemble(c)
    (burst,) = details(c)["creation_bursts"]
    assert burst["ratio_to_expected"] < 3
    rests = json.loads(c.read("recommendations").filter(pl.col("account_id") == "op5")["rests_on"][0])
    assert tiers(c)["op5"] == "review"  # coordination plus a burst that is not unusual here
    assert all(s["group"] != "provenance" for s in rests)


def test_profile_patterns_and_bot_distribution(case: Case) -> None:
    d = details(case)
    patterns = d["profile"]["patterns"]
    assert patterns["handle:patriot_jane+digits"] == sorted(OPS)
    assert patterns["description:proud american. god, guns, country."] == sorted(CORE)
    assert d["profile"]["default_image_share"] == 1.0
    assert d["bot_scores"]["n_scored"] == 2 and d["bot_scores"]["median"] == pytest.approx(0.725)


def test_suspicion_score_is_the_weighted_mean_of_its_shown_components(case: Case) -> None:
    row = case.read("campaigns").row(0, named=True)
    components = details(case)["suspicion"]["components"]
    used = {k: v for k, v in components.items() if v["value"] is not None}
    expected = sum(v["value"] * v["weight"] for v in used.values()) / sum(v["weight"] for v in used.values())
    assert row["suspicion_score"] == pytest.approx(expected, abs=1e-3)
    assert set(components) == set(load_policy().suspicion.weights)
    assert all(f"{k}=" in row["suspicion_components"] for k in components)


def test_recommendation_tiers(case: Case) -> None:
    t = tiers(case)
    assert {a: t[a] for a in OPS} == dict.fromkeys(OPS, "enforce-eligible")
    recs = case.read("recommendations")
    lines = dict(recs.select("account_id", "lines").iter_rows())
    # repost and hashtag evidence rest on different posts: two independent lines.
    assert lines["op3"] == "coordination:amplification,coordination:hashtag,provenance"
    assert t["op7"] == "monitor"  # one weak link edge
    assert t["b1"] == "monitor"  # a high bot score alone: watched, not queued for review
    assert t["h1"] == "monitor"
    assert t["o1"] == t["o2"] == "monitor"
    assert "bg00" not in t  # low bot score, no edges: no recommendation row means tier none
    # text and url on the SAME posts are one act seen twice: one merged line, never enforce-eligible.
    rec = case.read("recommendations").filter(pl.col("account_id") == "x1").row(0, named=True)
    assert rec["tier"] == "review"
    assert rec["lines"] == "coordination:content+link"
    assert rec["n_independent_lines"] == 1


def test_each_recommendation_lists_what_it_rests_on(case: Case) -> None:
    recs = case.read("recommendations")
    for rec in recs.iter_rows(named=True):
        rests = json.loads(rec["rests_on"])
        assert rests, rec["account_id"]
        for signal in rests:
            assert signal["sentence"] in rec["reasons"]
        if rec["tier"] == "enforce-eligible":
            strong = {s["group"] for s in rests if s["strength"] == "strong"}
            assert strong == set(rec["lines"].split(",")) and len(strong) == rec["n_independent_lines"] >= 2
    op5 = json.loads(recs.filter(pl.col("account_id") == "op5")["rests_on"][0])
    assert {s["group"] for s in op5} == {"coordination:amplification", "provenance"}
    edge = next(s for s in op5 if s["kind"] == "coordination")["detail"]["best_edge"]
    assert (edge["n_shared"], edge["expected"], edge["q_value"]) == (10, 0.3, 1e-5)


def test_missing_bot_scores_break_nothing(tmp_path: Path) -> None:
    c = build(tmp_path / "case", bots=False)
    assemble(c)
    row = c.read("campaigns").row(0, named=True)
    assert row["n_bot_scored"] == 0 and row["bot_score_median"] is None
    assert details(c)["suspicion"]["components"]["bots"]["value"] is None
    t = tiers(c)
    assert t["op1"] == "enforce-eligible"  # coordination on two families still stands
    assert "b1" not in t


def test_no_coordination_gives_no_campaigns_but_still_bot_recommendations(tmp_path: Path) -> None:
    c = build(tmp_path / "case", coord=False, posts=False)
    report = assemble(c)
    assert report.n_campaigns == 0 and c.read("campaigns").height == 0
    # Without coordination nothing reaches review: bot scores alone are monitored (op2's 0.5 is below weak).
    assert tiers(c) == {"op1": "monitor", "b1": "monitor", "h1": "monitor"}


def test_rerun_replaces_the_tables(case: Case) -> None:
    before = case.read("recommendations").sort("account_id")
    report = assemble(case)
    assert case.read("campaigns").height == 1
    assert case.read("recommendations").sort("account_id").equals(before)
    assert report.tiers["enforce-eligible"] == 6


def test_policy_thresholds_change_the_tiers(case: Case) -> None:
    text = (Path(__file__).parents[2] / "src/cibwatch/campaigns/policy.toml").read_text()
    strict = text.replace("strong_max_q = 0.01", "strong_max_q = 1e-7").replace(
        'version = "1"', 'version = "strict"'
    )
    report = assemble(case, parse_policy(strict))
    assert report.policy_version.startswith("cibwatch-default@strict+")
    t = tiers(case)
    assert t["op5"] == "review"  # its repost edges (q=1e-5) are no longer strong; the burst alone is one line
    # op1 keeps a strong bot score and burst, but without strong coordination they describe accounts,
    # not an operation.
    rec = case.read("recommendations").filter(pl.col("account_id") == "op1").row(0, named=True)
    assert (rec["tier"], rec["lines"]) == ("review", "bot,provenance")
    assert "none of them coordination" in rec["reasons"]
    assert set(case.read("recommendations")["policy_version"].unique()) == {report.policy_version}


def test_campaigns_without_posts_keep_their_structure(tmp_path: Path) -> None:
    c = build(tmp_path / "case", posts=False)
    assemble(c)
    row = c.read("campaigns").row(0, named=True)
    assert (row["size"], row["n_core"], row["n_posts"], row["top_hashtags"]) == (7, 4, 0, None)
    assert details(c)["narratives"] == {"hashtags": [], "domains": [], "urls": [], "texts": []}
    assert row["first_at"] is not None  # from the cluster's span
    assert tiers(c)["op1"] == "enforce-eligible"


def test_accounts_and_campaigns_summaries_for_csv(case: Case, tmp_path: Path) -> None:
    from cibwatch.campaigns import accounts_summary, campaigns_summary

    accounts = accounts_summary(case)
    assert accounts.columns == [
        "account_id", "screen_name", "bot_score", "bot_label", "coordination_score", "coordination_status",
        "cluster_id", "campaign_id", "recommendation", "reasons",
    ]  # fmt: skip
    assert accounts["recommendation"][0] == "enforce-eligible" and accounts["account_id"][0] == "op1"
    rows = {r["account_id"]: r for r in accounts.iter_rows(named=True)}
    assert rows["bg00"]["recommendation"] == "none" and rows["bg00"]["bot_score"] == 0.1
    assert rows["op5"]["screen_name"] == "patriot_jane05" and rows["op5"]["bot_score"] is None
    assert rows["op5"]["campaign_id"] == "camp-k1" and rows["op5"]["cluster_id"] == "k1"
    assert len(rows) == accounts.height  # one row per account
    accounts.write_csv(tmp_path / "accounts.csv")
    campaigns = campaigns_summary(case)
    assert "details" not in campaigns.columns and campaigns["campaign_id"].to_list() == ["camp-k1"]
    campaigns.write_csv(tmp_path / "campaigns.csv")


def _with_status(case: Case, status: dict[str, str], overlap: dict[str, str] | None = None) -> None:
    """Give coord_accounts the stage's account decision (and trace overlaps), as a coord run would."""
    accounts = case.read("coord_accounts").with_columns(
        status=pl.col("account_id").replace_strict(status, default="coordinated"),
        account_q=pl.lit(1e-9),
        n_tested=pl.lit(40, pl.Int64),
        reason=pl.lit("coordinated with 2 accounts on repost (2 supported of 40 tests)"),
        trace_overlap=pl.col("account_id").replace_strict(
            overlap or {}, default=None, return_dtype=pl.String
        ),
    )
    case.replace_table("coord_accounts", accounts.to_arrow().cast(schema.COORD_ACCOUNTS))


def test_only_coordinated_accounts_get_a_coordination_line(case: Case) -> None:
    # The stage calls o1 a crowd and op1 weak: their edges stay, their coordination lines go.
    _with_status(case, {"o1": "crowd", "o2": "crowd", "op1": "weak"})
    assemble(case)
    recs = case.read("recommendations")
    rests = {r["account_id"]: json.loads(r["rests_on"]) for r in recs.iter_rows(named=True)}
    t = tiers(case)
    assert "o1" not in t and "o2" not in t  # their only signal was coordination: no row at all
    assert not any(s["kind"] == "coordination" for s in rests["op1"])
    lines = dict(recs.select("account_id", "lines").iter_rows())
    assert "coordination" not in (lines["op1"] or "")
    op3 = next(s for s in rests["op3"] if s["kind"] == "coordination")
    assert op3["detail"]["account_decision"]["status"] == "coordinated"
    assert "account q=1.0e-09 over 40 tests" in op3["sentence"]
    assert op3["detail"]["n_partners"] >= 2 and "with 0 account(s)" not in op3["sentence"]
    # Two amplifiers partnered with op1 and op2: still two partners on amplification, a strong line.
    assert t["op3"] == "enforce-eligible"


def test_traces_the_stage_saw_on_the_same_posts_are_one_line(case: Case) -> None:
    # x1's text and url evidence examples name different posts; the stage's overlap says they are one act.
    evidence = case.read("coord_evidence").with_columns(
        post_id_a=pl.when(pl.col("account_a") == "x1")
        .then(pl.format("{}-{}-ex", pl.col("account_a"), pl.col("trace")))
        .otherwise(pl.col("post_id_a"))
    )
    case.replace_table("coord_evidence", evidence.to_arrow().cast(schema.COORD_EVIDENCE))
    _with_status(case, {}, overlap={"x1": "text|url=0.2"})
    assemble(case)
    lines = dict(case.read("recommendations").select("account_id", "lines").iter_rows())
    assert lines["x1"] == "coordination:content,coordination:link"  # 0.2: two separate acts
    _with_status(case, {}, overlap={"x1": "text|url=0.9"})
    assemble(case)
    lines = dict(case.read("recommendations").select("account_id", "lines").iter_rows())
    assert lines["x1"] == "coordination:content+link"
