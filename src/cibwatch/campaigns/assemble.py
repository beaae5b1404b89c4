"""Assemble coordination clusters into campaigns, and every flagged account into a recommendation.

Reads ``coord_clusters``, ``coord_accounts``, ``coord_edges``, ``coord_evidence``, ``bot_scores``,
``posts`` and ``accounts_current``; writes ``campaigns``, ``campaign_members`` and ``recommendations``
(replaced whole on every run). Missing inputs (no bot scores, no coordination) shrink the output,
they never fail it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import polars as pl

from cibwatch import schema
from cibwatch.campaigns.policy import Policy, Signal, load_policy
from cibwatch.campaigns.profiles import creation_bursts, profile_patterns
from cibwatch.campaigns.signals import provenance_signals, recommendations
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store.case import Case

AMPLIFICATION = "amplification"  # the family whose share makes a member an "amplifier"
_URL = r"https?://\S+"


@dataclass
class AssembleReport:
    """What ``assemble`` wrote."""

    policy_version: str
    n_campaigns: int = 0
    n_members: int = 0
    tiers: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "campaigns": self.n_campaigns,
            "members": self.n_members,
            "tiers": self.tiers,
        }


def assemble(case: Case, policy: Policy | None = None, progress: Progress | None = None) -> AssembleReport:
    """Build the campaign and recommendation tables of ``case`` under ``policy`` (default: shipped).

    >>> report = assemble(open_case("out/case"))          # doctest: +SKIP
    >>> report.tiers["enforce-eligible"]                  # doctest: +SKIP
    12
    """
    policy = policy or load_policy()
    step = _stepper(progress)
    step("campaigns: reading coordination", 0)
    edges = _symmetric_edges(case.read("coord_edges"), policy)
    bots = _bot_scores(case.read("bot_scores"))
    members = (
        case.read("coord_accounts")
        .filter(pl.col("cluster_id").is_not_null())
        .unique(subset="account_id", keep="first")
        .select("account_id", "screen_name", "cluster_id", "coordination_score")
    )
    sizes = members.group_by("cluster_id").len("size").filter(pl.col("size") >= 2)
    members = members.join(sizes, on="cluster_id").with_columns(
        campaign_id=pl.lit("camp-") + pl.col("cluster_id")
    )
    step("campaigns: roles and narratives", 1)
    members = _roles(members, edges, policy).join(
        bots.select("account_id", "bot_score", "bot_label"), on="account_id", how="left"
    )
    profiles = _profiles(case, members["account_id"].to_list())
    campaign_rows, member_rows = [], []
    provenance: dict[str, list[Signal]] = {}
    spans = {
        r["cluster_id"]: (r["first_at"], r["last_at"])
        for r in case.read("coord_clusters").select("cluster_id", "first_at", "last_at").iter_rows(named=True)
    }
    # Whole-case group-bys keyed by campaign: per-campaign polars calls cost ~0.5 ms each.
    posts = _member_posts(case, members)
    inside = _inside_edges(edges, members)
    narratives = _narratives_all(posts, policy)
    timelines = _timeline_all(posts)
    traces = _traces_all(inside)
    n_posts = dict(posts.group_by("campaign_id").len().iter_rows())
    sync = _synchrony(case, members, policy)
    baseline = _creation_baseline(case)
    empty_narratives: dict[str, list[dict[str, Any]]] = {
        "hashtags": [],
        "domains": [],
        "urls": [],
        "texts": [],
    }
    for group in sorted(members.partition_by("campaign_id"), key=lambda g: g["campaign_id"][0]):
        campaign_id = group["campaign_id"][0]
        row, rows, signals = _campaign(
            campaign_id,
            group,
            CampaignFacts(
                traces=traces.get(campaign_id, []),
                narratives=narratives.get(campaign_id, empty_narratives),
                timeline=timelines.get(campaign_id, []),
                n_posts=n_posts.get(campaign_id, 0),
                sync=sync.get(campaign_id),
                span=spans.get(group["cluster_id"][0], (None, None)),
            ),
            profiles,
            baseline,
            policy,
        )
        campaign_rows.append(row)
        member_rows.extend(rows)
        for account, sigs in signals.items():
            provenance.setdefault(account, []).extend(sigs)
    step("campaigns: recommendations", 2)
    recs = recommendations(case, edges, bots, members, provenance, policy)
    case.replace_table("campaigns", _table(campaign_rows, schema.CAMPAIGNS))
    case.replace_table("campaign_members", _table(member_rows, schema.CAMPAIGN_MEMBERS))
    case.replace_table("recommendations", _table(recs, schema.RECOMMENDATIONS))
    step("campaigns: done", 3)
    tiers = {t: 0 for t in schema.RECOMMENDATION_TIERS}
    for rec in recs:
        tiers[rec["tier"]] += 1
    return AssembleReport(policy.version, len(campaign_rows), len(member_rows), tiers)


def _stepper(progress: Progress | None) -> Callable[[str, int], None]:
    def step(phase: str, done: int) -> None:
        if progress is not None:
            progress(ProgressEvent("campaigns", "campaigns", done, 3, detail={"phase": phase}))

    return step


def _table(rows: list[dict[str, Any]], table_schema: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=table_schema)


# --- inputs ----------------------------------------------------------------------------


def _symmetric_edges(edges: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Each edge once per endpoint (account, partner), with its trace family."""
    families = {t: policy.family_of(t) for t in edges["trace"].unique().to_list()}
    cols = ["trace", "n_shared", "expected", "q_value", "first_at", "last_at", "median_gap_s"]
    forward = edges.select(pl.col("account_a").alias("account"), pl.col("account_b").alias("partner"), *cols)
    backward = edges.select(pl.col("account_b").alias("account"), pl.col("account_a").alias("partner"), *cols)
    both = pl.concat([forward, backward]).filter(pl.col("account") != pl.col("partner"))
    return both.with_columns(
        family=pl.col("trace").replace_strict(families, default="other", return_dtype=pl.String)
    )


def _bot_scores(bots: pl.DataFrame) -> pl.DataFrame:
    return bots.sort("bot_score", descending=True, nulls_last=True).unique(
        subset="account_id", keep="first", maintain_order=True
    )


def _roles(members: pl.DataFrame, edges: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Degree and strength inside the campaign, the amplification share, and the role they give."""
    cluster_of = members.select("account_id", "cluster_id")
    inside = (
        edges.join(cluster_of.rename({"account_id": "account"}), on="account")
        .join(cluster_of.rename({"account_id": "partner", "cluster_id": "partner_cluster"}), on="partner")
        .filter(pl.col("cluster_id") == pl.col("partner_cluster"))
        .with_columns(items=pl.col("n_shared").fill_null(1).cast(pl.Float64))
    )
    stats = inside.group_by("account").agg(
        degree=pl.col("partner").n_unique().cast(pl.Int64),
        strength=pl.col("items").sum(),
        amplified=pl.col("items").filter(pl.col("family") == AMPLIFICATION).sum(),
        traces=pl.col("trace").unique().sort().str.join(","),
    )
    out = members.join(stats.rename({"account": "account_id"}), on="account_id", how="left").with_columns(
        degree=pl.col("degree").fill_null(0),
        strength=pl.col("strength").fill_null(0.0),
        amplification_share=(pl.col("amplified") / pl.col("strength")).fill_nan(None).fill_null(0.0),
    )
    # Degree relative to the best-connected member: large sparse clusters still have a core.
    out = out.with_columns(
        degree_share=(pl.col("degree") / pl.col("degree").max().over("cluster_id")).fill_nan(0.0),
        median_strength=pl.col("strength").median().over("cluster_id"),
    )
    r = policy.roles
    role = (
        pl.when(
            (pl.col("degree_share") >= r.core_min_degree_share)
            & (pl.col("strength") >= pl.col("median_strength"))
        )
        .then(pl.lit("core"))
        .when(pl.col("degree_share") < r.peripheral_max_degree_share)
        .then(pl.lit("peripheral"))
        .when(pl.col("amplification_share") >= r.amplifier_min_share)
        .then(pl.lit("amplifier"))
        .otherwise(pl.lit("peripheral"))
    )
    return out.with_columns(role=role).drop("amplified", "median_strength", "degree_share")


def _profiles(case: Case, account_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not account_ids:
        return {}
    rows = case.con.execute(
        """SELECT account_id, screen_name, name, description, default_profile_image, created_at
           FROM accounts_current WHERE account_id IN (SELECT unnest(?))""",
        [account_ids],
    ).fetchall()
    keys = ("screen_name", "name", "description", "default_profile_image", "created_at")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def _creation_baseline(case: Case) -> Callable[[datetime, datetime], float | None]:
    """Share of all the case's dated accounts created in a span (at least one window wide)."""
    total = int(cast(int | None, case.scalar("SELECT count(created_at) FROM accounts_current")) or 0)

    def share(start: datetime, end: datetime) -> float | None:
        if total == 0:
            return None
        sql = "SELECT count(*) FROM accounts_current WHERE created_at BETWEEN ? AND ?"
        n = cast(int | None, case.scalar(sql, [start, end]))
        return int(n or 0) / total

    return share


def _inside_edges(edges: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """Edges with both ends in the same campaign, once each, tagged with the campaign."""
    camp = members.select("account_id", "campaign_id")
    return (
        edges.filter(pl.col("account") < pl.col("partner"))
        .join(camp.rename({"account_id": "account"}), on="account")
        .join(camp.rename({"account_id": "partner", "campaign_id": "partner_campaign"}), on="partner")
        .filter(pl.col("campaign_id") == pl.col("partner_campaign"))
    )


def _member_posts(case: Case, members: pl.DataFrame) -> pl.DataFrame:
    ids = members["account_id"].to_list()
    return (
        case.scan("posts")
        .filter(pl.col("account_id").is_in(ids))
        .select("account_id", "post_id", "created_at", "kind", "text", "hashtags", "urls")
        .collect()
        .join(members.select("account_id", "campaign_id"), on="account_id")
    )


def _synchrony(case: Case, members: pl.DataFrame, policy: Policy) -> dict[str, dict[str, float]]:
    """Per campaign: the share of evidence pairs inside it closer than ``synchrony_s``."""
    if members.is_empty() or not case.has_table("coord_evidence"):
        return {}
    camp = members.select("account_id", "campaign_id")
    ids = camp["account_id"].to_list()
    evidence = (
        case.scan("coord_evidence")
        .filter(pl.col("account_a").is_in(ids) & pl.col("account_b").is_in(ids))
        .select("account_a", "account_b", "gap_s")
        .collect()
        .join(camp.rename({"account_id": "account_a"}), on="account_a")
        .join(camp.rename({"account_id": "account_b", "campaign_id": "campaign_b"}), on="account_b")
        .filter((pl.col("campaign_id") == pl.col("campaign_b")) & pl.col("gap_s").is_not_null())
    )
    limit = policy.suspicion.synchrony_s
    stats = evidence.group_by("campaign_id").agg(
        n=pl.len(), synchronous=(pl.col("gap_s").abs() <= limit).sum(), median_gap_s=pl.col("gap_s").median()
    )
    return {
        r["campaign_id"]: {
            "pairs": r["n"],
            "share_synchronous": r["synchronous"] / r["n"],
            "median_gap_s": r["median_gap_s"],
        }
        for r in stats.iter_rows(named=True)
    }


# --- one campaign ----------------------------------------------------------------------


@dataclass
class CampaignFacts:
    """What the whole-case group-bys found for one campaign."""

    traces: list[dict[str, Any]]
    narratives: dict[str, list[dict[str, Any]]]
    timeline: list[dict[str, Any]]
    n_posts: int
    sync: dict[str, float] | None
    span: tuple[datetime | None, datetime | None]


def _campaign(
    campaign_id: str,
    group: pl.DataFrame,
    facts: CampaignFacts,
    profiles: dict[str, dict[str, Any]],
    baseline: Callable[[datetime, datetime], float | None],
    policy: Policy,
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[Signal]]]:
    """One campaign's record, its members' rows and their provenance signals."""
    cluster_id = group["cluster_id"][0]
    ids = group["account_id"].to_list()
    size = len(ids)
    member_profiles = {a: profiles.get(a, {}) for a in ids}

    # Bursts over the window, then which of them are dense against the case baseline.
    b = policy.creation_burst
    created = {a: member_profiles[a].get("created_at") for a in ids}

    def widened(start: datetime, end: datetime) -> float | None:
        return baseline(start, max(end, start + timedelta(days=b.window_days)))

    bursts = creation_bursts(created, b.window_days, b.weak_min_members, widened)
    patterns = profile_patterns(member_profiles, policy.profile.min_shared_members)
    traces, narratives, timeline, sync = facts.traces, facts.narratives, facts.timeline, facts.sync
    scores = [s for s in group["bot_score"].to_list() if s is not None]
    bot_stats = _bot_stats(group, scores)

    burst_of = {a: burst for burst in bursts for a in burst.members}
    signals: dict[str, list[Signal]] = {}
    member_rows = []
    for m in group.sort("account_id").iter_rows(named=True):
        account = m["account_id"]
        own_patterns = patterns.of(account)
        signals[account] = provenance_signals(campaign_id, burst_of.get(account), own_patterns, policy)
        profile = member_profiles[account]
        member_rows.append(
            {
                "campaign_id": campaign_id,
                "account_id": account,
                "screen_name": m["screen_name"] or profile.get("screen_name"),
                "role": m["role"],
                "degree": m["degree"],
                "strength": m["strength"],
                "traces": m["traces"],
                "amplification_share": round(m["amplification_share"], 4),
                "coordination_score": m["coordination_score"],
                "bot_score": m["bot_score"],
                "created_at": profile.get("created_at"),
                "in_creation_burst": account in burst_of,
                "profile_patterns": "; ".join(own_patterns) or None,
            }
        )

    in_burst = sum(1 for a in ids if a in burst_of)
    n_dated = sum(1 for t in created.values() if t is not None)
    coord_scores = [s for s in group["coordination_score"].to_list() if s is not None]
    families = sorted({t["family"] for t in traces})
    components: dict[str, float | None] = {
        "coordination": statistics.fmean(coord_scores) if coord_scores else None,
        "trace_diversity": min(1.0, len(families) / 3) if families else None,
        "synchrony": sync["share_synchronous"] if sync else None,
        "bots": statistics.fmean(scores) if scores else None,
        "creation_burst": in_burst / n_dated if n_dated else None,
        "profile_similarity": patterns.share(size)
        if member_profiles and any(member_profiles.values())
        else None,
    }
    suspicion, shown = _suspicion(components, policy)

    first_at, last_at = facts.span
    if first_at is None and timeline:
        # Without a cluster span: the days of the members' first and last posts.
        first_at = datetime.fromisoformat(timeline[0]["day"]).replace(tzinfo=UTC)
        last_at = datetime.fromisoformat(timeline[-1]["day"]).replace(tzinfo=UTC)
    roles = group["role"].value_counts()
    n_role = {r: int(n) for r, n in roles.iter_rows()}
    top_tags = [h["hashtag"] for h in narratives["hashtags"]]
    summary = (
        f"{size} accounts ({n_role.get('core', 0)} core, {n_role.get('amplifier', 0)} amplifiers) "
        f"coordinated on {', '.join(t['trace'] for t in traces) or 'no significant trace'}"
        + (f" between {first_at:%Y-%m-%d} and {last_at:%Y-%m-%d}" if first_at and last_at else "")
        + (f"; top hashtags {', '.join('#' + t for t in top_tags[:3])}" if top_tags else "")
        + (f"; {in_burst} created in bursts" if in_burst else "")
        + f"; suspicion {suspicion:.2f}."
    )
    details = {
        "narratives": narratives,
        "timeline": timeline,
        "traces": traces,
        "bot_scores": bot_stats,
        "creation_bursts": [burst.as_dict() for burst in bursts],
        "profile": patterns.as_dict(),
        "synchrony": sync,
        "suspicion": {"score": suspicion, "components": shown},
    }
    row = {
        "campaign_id": campaign_id,
        "cluster_id": cluster_id,
        "size": size,
        "n_core": n_role.get("core", 0),
        "n_amplifier": n_role.get("amplifier", 0),
        "n_peripheral": n_role.get("peripheral", 0),
        "traces": ",".join(t["trace"] for t in traces),
        "trace_families": ",".join(families),
        "first_at": first_at,
        "last_at": last_at,
        "n_posts": facts.n_posts,
        "top_hashtags": "; ".join(top_tags) or None,
        "top_domains": "; ".join(d["domain"] for d in narratives["domains"]) or None,
        "top_urls": "; ".join(u["url"] for u in narratives["urls"]) or None,
        "n_bot_scored": len(scores),
        "bot_score_median": bot_stats["median"],
        "bot_share": bot_stats["bot_share"],
        "creation_burst_members": in_burst,
        "profile_similarity": components["profile_similarity"],
        "suspicion_score": suspicion,
        "suspicion_components": "; ".join(
            f"{k}={'n/a' if v['value'] is None else format(v['value'], '.2f')}×{v['weight']:.2f}"
            for k, v in shown.items()
        ),
        "summary": summary,
        "details": json.dumps(details, default=str, sort_keys=True),
        "policy_version": policy.version,
    }
    return row, member_rows, signals


def _suspicion(components: dict[str, float | None], policy: Policy) -> tuple[float, dict[str, Any]]:
    """Weighted mean of the available components; absent ones are shown with value None."""
    weights = policy.suspicion.weights
    shown = {
        k: {"value": None if v is None else round(v, 4), "weight": weights.get(k, 0.0)}
        for k, v in components.items()
    }
    used = {k: v for k, v in components.items() if v is not None and weights.get(k, 0.0) > 0}
    total = sum(weights[k] for k in used)
    score = sum(weights[k] * v for k, v in used.items()) / total if total else 0.0
    return round(score, 4), shown


def _traces_all(inside: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    stats = (
        inside.group_by("campaign_id", "trace", "family")
        .agg(edges=pl.len(), shared_items=pl.col("n_shared").sum(), min_q=pl.col("q_value").min())
        .sort("campaign_id", "edges", "trace", descending=[False, True, False])
    )
    return _grouped_rows(stats)


def _grouped_rows(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Rows of ``frame`` per campaign_id, without the key, in frame order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(row.pop("campaign_id"), []).append(row)
    return out


def _norm_text_expr() -> pl.Expr:
    return (
        pl.col("text")
        .str.replace_all(_URL, "")
        .str.replace(r"^(?i)rt @\w+:?", "")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def _narratives_all(posts: pl.DataFrame, policy: Policy) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Top hashtags, domains, urls and representative texts of every campaign, in one pass each."""
    n = policy.narratives.top_n

    def top(frame: pl.DataFrame, key: str, limit: int = n) -> dict[str, list[dict[str, Any]]]:
        counted = frame.group_by("campaign_id", key).agg(
            posts=pl.len(), accounts=pl.col("account_id").n_unique()
        )
        ranked = (
            counted.sort(["campaign_id", "accounts", "posts", key], descending=[False, True, True, False])
            .group_by("campaign_id", maintain_order=True)
            .head(limit)
        )
        return _grouped_rows(ranked)

    tags = posts.select("campaign_id", "account_id", pl.col("hashtags").alias("hashtag")).explode("hashtag")
    tags = tags.filter(pl.col("hashtag").is_not_null() & (pl.col("hashtag") != "")).with_columns(
        pl.col("hashtag").str.to_lowercase().str.strip_chars_start("#")
    )
    # An empty urls field is no link at all (the QUT toolkit's co_link mistake).
    urls = posts.select("campaign_id", "account_id", pl.col("urls").alias("url")).explode("url")
    urls = urls.filter(pl.col("url").is_not_null() & (pl.col("url").str.strip_chars() != ""))
    domains = urls.select(
        "campaign_id",
        "account_id",
        domain=pl.col("url")
        .str.to_lowercase()
        .str.extract(r"^(?:[a-z][a-z0-9+.\-]*://)?(?:www\.)?([^/:?#]+)", 1),
    ).filter(pl.col("domain").is_not_null())
    texts = (
        posts.filter(pl.col("text").is_not_null())
        .with_columns(norm=_norm_text_expr())
        .filter(pl.col("norm").str.len_chars() >= 10)
        .group_by("campaign_id", "norm")
        .agg(
            accounts=pl.col("account_id").n_unique(),
            posts=pl.len(),
            text=pl.col("text").sort_by("created_at").first(),
            first_at=pl.col("created_at").min(),
        )
        .sort(["campaign_id", "accounts", "posts", "norm"], descending=[False, True, True, False])
        .group_by("campaign_id", maintain_order=True)
        .head(policy.narratives.representative_texts)
        .select("campaign_id", "text", "accounts", "posts", pl.col("first_at").cast(pl.String))
    )
    parts = {
        "hashtags": top(tags, "hashtag"),
        "domains": top(domains, "domain"),
        "urls": top(urls, "url"),
        "texts": _grouped_rows(texts),
    }
    campaigns = set(posts["campaign_id"].unique().to_list())
    return {c: {name: part.get(c, []) for name, part in parts.items()} for c in campaigns}


def _timeline_all(posts: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    per_day = (
        posts.filter(pl.col("created_at").is_not_null())
        .group_by("campaign_id", day=pl.col("created_at").dt.date())
        .agg(posts=pl.len(), accounts=pl.col("account_id").n_unique())
        .sort("campaign_id", "day")
        .with_columns(pl.col("day").cast(pl.String))
    )
    return _grouped_rows(per_day)


def _bot_stats(group: pl.DataFrame, scores: list[float]) -> dict[str, Any]:
    labels = [lab for lab in group["bot_label"].to_list() if lab is not None]
    histogram = [0] * 10
    for s in scores:
        histogram[min(9, max(0, int(s * 10)))] += 1
    return {
        "n_scored": len(scores),
        "n_members": group.height,
        "mean": round(statistics.fmean(scores), 4) if scores else None,
        "median": round(statistics.median(scores), 4) if scores else None,
        "max": max(scores) if scores else None,
        "bot_share": round(labels.count("bot") / len(labels), 4) if labels else None,
        "uncertain_share": round(labels.count("uncertain") / len(labels), 4) if labels else None,
        "histogram_deciles": histogram,
    }
