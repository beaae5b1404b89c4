"""What the report shows, read from the case's tables into plain Python values.

Only tables are read (``cibwatch.schema``; the accounts through the read model ``cibwatch.views``), never
another stage's code. Every section tolerates a missing upstream table: its value is then ``None`` and
``ReportData.absent`` says how to produce it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from cibwatch import views
from cibwatch.schema import RECOMMENDATION_TIERS, ROLE_RANK
from cibwatch.store.case import Case
from cibwatch.views import AccountRow

HIST_BINS = 20

# What to run when a table is missing ({case} is the case directory); the report says so instead of failing.
HOW_TO = {
    "posts": "no posts in this case: add some with `cibwatch ingest FILES --case {case}`",
    "bot_scores": (
        "no bot scores in this case: run `cibwatch bots score {case} --out bot_scores.csv` "
        "(or `cibwatch scan`, which runs every stage)"
    ),
    "coord": (
        "no coordination results in this case: run `cibwatch coord {case} --out coord/` "
        "(or `cibwatch scan`, which runs every stage)"
    ),
    "campaigns": (
        "no campaigns in this case: run `cibwatch campaigns --case {case}` after coordination, "
        "to assemble campaigns and give flagged accounts a recommendation tier"
    ),
}


@dataclass(frozen=True)
class Limits:
    """Caps that keep the HTML small on large cases; every capped list says what it left out."""

    accounts: int = 200
    cards: int = 25
    members_listed: int = 50
    members_drawn: int = 150
    links_drawn: int = 1500
    evidence_edges: int = 20
    card_evidence_edges: int = 3
    evidence_rows: int = 5
    texts: int = 5
    excerpt_chars: int = 280
    figure_cards: int = 10  # cards that also get PNG figures


@dataclass
class Overview:
    posts: int
    authors: int
    accounts: int
    quarantined: int
    first_post_ms: int | None
    last_post_ms: int | None
    datasets: list[tuple[str, int, int]]  # (dataset, posts, account snapshots)
    bot_scored: int | None = None  # None: the stage did not run
    bots: int | None = None  # labelled "bot": score at or above the model's threshold
    uncertain: int | None = None  # labelled "uncertain": between the human and bot thresholds
    humans: int | None = None  # labelled "human"; accounts without a profile have no label
    coordinated: int | None = None  # accounts in a coordination cluster
    clusters: int | None = None
    campaigns: int | None = None
    tiers: dict[str, int] | None = None


@dataclass
class Edge:
    account_a: str
    account_b: str
    trace: str
    n_shared: int | None
    expected: float | None
    q_value: float | None
    median_gap_s: float | None
    first_ms: int | None
    last_ms: int | None


@dataclass
class EvidenceRow:
    item: str | None
    post_id_a: str | None
    post_id_b: str | None
    time_a_ms: int | None
    time_b_ms: int | None
    gap_s: float | None
    text_a: str | None = None
    text_b: str | None = None


@dataclass
class EdgeEvidence:
    edge: Edge
    rows: list[EvidenceRow]
    n_rows: int  # all evidence rows of the edge; ``rows`` holds the closest in time


@dataclass
class Member:
    account_id: str
    screen_name: str | None
    role: str | None  # None for a cluster (roles come from the campaigns stage)
    coordination_score: float | None
    bot_score: float | None
    tier: str | None
    degree: int | None = None
    strength: float | None = None
    traces: str | None = None
    in_creation_burst: bool | None = None
    profile_patterns: str | None = None


@dataclass
class Card:
    """One campaign, or one coordination cluster when the campaigns stage has not run."""

    kind: str  # "campaign" | "cluster"
    card_id: str
    summary: str | None
    facts: list[tuple[str, str]]
    suspicion: float | None = None
    suspicion_components: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)  # a cluster's top co-acted items
    texts: list[tuple[str, int]] = field(default_factory=list)  # (text, distinct members posting it)
    members: list[Member] = field(default_factory=list)  # all members, strongest first
    edges: list[Edge] = field(default_factory=list)  # between members, one per pair and trace
    timeline: list[tuple[int, int]] = field(default_factory=list)  # (bucket start ms, posts)
    bucket: str = "day"
    evidence: list[EdgeEvidence] = field(default_factory=list)


@dataclass
class ReportData:
    case_root: str
    generated_at: datetime
    limits: Limits
    overview: Overview
    absent: dict[str, str]  # section -> what is missing and how to produce it
    bot_hist: list[int] | None = None  # HIST_BINS counts over [0, 1]
    coord_hist: list[int] | None = None
    accounts: list[AccountRow] = field(default_factory=list)
    n_accounts: int = 0  # accounts with any score, before the cap
    cards: list[Card] = field(default_factory=list)
    n_cards: int = 0
    evidence: list[EdgeEvidence] = field(default_factory=list)
    n_edges: int = 0


def collect(case: Case, limits: Limits | None = None, *, case_label: str | None = None) -> ReportData:
    """Read everything the report shows from ``case``; ``case_label`` names it instead of its folder."""
    limits = limits or Limits()
    case_root = case_label or str(case.root)
    has = {t: case.has_table(t) for t in _STAGE_NAMES}
    missing = {
        "posts": not case.has_table("posts"),
        "bot_scores": not has["bot_scores"],
        "coord": not (has["coord_accounts"] or has["coord_edges"]),
        "campaigns": not has["campaigns"],
    }
    absent = {key: HOW_TO[key].format(case=case_root) for key, gone in missing.items() if gone}

    data = ReportData(
        case_root=case_root,
        generated_at=datetime.now(UTC),
        limits=limits,
        overview=_overview(case, has),
        absent=absent,
    )
    if has["bot_scores"]:
        data.bot_hist = _histogram(case.scan("bot_scores").select("bot_score").collect()["bot_score"])
    if has["coord_accounts"]:
        scores = case.scan("coord_accounts")
        if "status" in scores.collect_schema().names():
            # Crowd and weak accounts score 0 by definition; the histogram is of coordinated ones.
            scores = scores.filter(pl.col("status").is_null() | (pl.col("status") == "coordinated"))
        data.coord_hist = _histogram(scores.select("coordination_score").collect()["coordination_score"])
    per_account = views.account_rows(case)
    data.accounts, data.n_accounts = _accounts(case, per_account, limits)
    data.cards, data.n_cards = _cards(case, has, per_account, limits)
    if has["coord_edges"]:
        data.n_edges = case.scan("coord_edges").select(pl.len()).collect().item()
        data.evidence = _top_evidence(case, has, limits)
    _attach_card_evidence(case, has, data.cards, limits)
    return data


_STAGE_NAMES = (
    "bot_scores",
    "coord_edges",
    "coord_evidence",
    "coord_accounts",
    "coord_clusters",
    "campaigns",
    "campaign_members",
    "recommendations",
)


# -- overview ------------------------------------------------------------------------
def _overview(case: Case, has: dict[str, bool]) -> Overview:
    # Parquet through polars, not the case's DuckDB file: a running web app may hold its lock.
    posts = case.scan("posts")
    n_posts, authors, first_ms, last_ms = (
        posts.select(
            pl.len().alias("posts"),
            pl.col("account_id").n_unique().alias("authors"),
            pl.col("created_at").min().dt.epoch("ms").alias("first"),
            pl.col("created_at").max().dt.epoch("ms").alias("last"),
        )
        .collect()
        .row(0)
    )
    accounts = case.scan("accounts")
    datasets = (
        posts.group_by("dataset")
        .agg(pl.len().alias("posts"))
        .join(
            accounts.group_by("dataset").agg(pl.len().alias("accounts")),
            on="dataset",
            how="full",
            coalesce=True,
        )
        .fill_null(0)
        .sort(["posts", "accounts", "dataset"], descending=[True, True, False])
        .collect()
    )
    overview = Overview(
        posts=int(n_posts),
        authors=int(authors),
        accounts=accounts.select(pl.struct("platform", "account_id").n_unique()).collect().item(),
        quarantined=case.scan("quarantine").select(pl.len()).collect().item(),
        first_post_ms=first_ms,
        last_post_ms=last_ms,
        datasets=[(str(d), int(p), int(a)) for d, p, a in datasets.iter_rows()],
    )
    if has["bot_scores"]:
        # One label per account, of its highest score (as in the accounts table).
        scores = (
            case.scan("bot_scores")
            .sort("bot_score", descending=True, nulls_last=True)
            .unique("account_id", keep="first", maintain_order=True)
            .select("bot_label")
            .collect()
        )
        labels = scores["bot_label"]
        overview.bot_scored = scores.height
        overview.bots = int((labels == "bot").sum())
        overview.uncertain = int((labels == "uncertain").sum())
        overview.humans = int((labels == "human").sum())
    if has["coord_accounts"]:
        clustered = case.scan("coord_accounts").filter(pl.col("cluster_id").is_not_null()).collect()
        overview.coordinated = clustered["account_id"].n_unique()
        overview.clusters = clustered["cluster_id"].n_unique()
    if has["campaigns"]:
        overview.campaigns = case.scan("campaigns").select(pl.len()).collect().item()
    if has["recommendations"]:
        counts = case.read("recommendations").group_by("tier").len()
        overview.tiers = {tier: 0 for tier in RECOMMENDATION_TIERS}
        for tier, n in counts.iter_rows():
            overview.tiers[str(tier)] = int(n)
    return overview


def _histogram(values: pl.Series) -> list[int]:
    finite = values.drop_nulls().drop_nans().clip(0.0, 1.0).to_numpy()
    counts, _ = np.histogram(finite, bins=HIST_BINS, range=(0.0, 1.0))
    return [int(c) for c in counts]


# -- accounts ------------------------------------------------------------------------
def _accounts(case: Case, table: pl.DataFrame, limits: Limits) -> tuple[list[AccountRow], int]:
    """The first ``limits.accounts`` rows of ``cibwatch.views.account_rows``, and how many there are."""
    top = views.accounts(table.head(limits.accounts))
    names = views.screen_names(case, [r.account_id for r in top])
    return [replace(r, screen_name=r.screen_name or names.get(r.account_id)) for r in top], table.height


# -- campaign and cluster cards -------------------------------------------------------
def _split(value: str | None, sep: str = "; ") -> list[str]:
    return [part.strip() for part in (value or "").split(sep) if part.strip()]


def _fmt_time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def campaign_card(case: Case, campaign_id: str, limits: Limits | None = None) -> Card | None:
    """The report's card of one campaign, as the report shows it; None when the case has no such campaign.

    >>> campaign_card(open_case("out/case"), "camp-k1").members[0].role   # doctest: +SKIP
    'core'
    """
    limits = limits or Limits()
    has = {t: case.has_table(t) for t in _STAGE_NAMES}
    if not has["campaigns"]:
        return None
    cards, _ = _cards(case, has, views.account_rows(case), limits, only=campaign_id)
    _attach_card_evidence(case, has, cards, limits)
    return cards[0] if cards else None


def _cards(
    case: Case, has: dict[str, bool], per_account: pl.DataFrame, limits: Limits, only: str | None = None
) -> tuple[list[Card], int]:
    """The cards of the most suspicious campaigns (or clusters), or of the campaign ``only``."""
    if has["campaigns"]:
        cards, total = _campaign_cards(case, has, per_account, limits, only)
    elif has["coord_accounts"]:
        cards, total = _cluster_cards(case, has, per_account, limits)
    else:
        return [], 0
    if not cards:
        return cards, total
    members = pl.DataFrame(
        [(c.card_id, m.account_id) for c in cards for m in c.members],
        schema={"card_id": pl.String, "account_id": pl.String},
        orient="row",
    )
    _attach_edges(case, has, cards, members)
    if case.has_table("posts"):
        _attach_timelines(case, cards, members)
        _attach_texts(case, cards, members, limits)
    return cards, total


def _best(per_account: pl.DataFrame, column: str) -> dict[str, Any]:
    """``column`` of each account's row in ``views.account_rows`` (its best tier or bot score)."""
    known = per_account.select("account_id", column).drop_nulls(column)
    return dict(known.iter_rows())


def _campaign_cards(
    case: Case, has: dict[str, bool], per_account: pl.DataFrame, limits: Limits, only: str | None = None
) -> tuple[list[Card], int]:
    campaigns = case.read("campaigns")
    if only is not None:
        campaigns = campaigns.filter(pl.col("campaign_id") == only)
    campaigns = campaigns.sort(
        ["suspicion_score", "size", "campaign_id"], descending=[True, True, False], nulls_last=True
    )
    shown = campaigns.head(limits.cards)
    ids = shown["campaign_id"].to_list()
    members = (
        case.scan("campaign_members").filter(pl.col("campaign_id").is_in(ids)).collect()
        if has["campaign_members"]
        else pl.DataFrame(schema={"campaign_id": pl.String})
    )
    tiers = _best(per_account, "tier")
    role_rank = pl.col("role").replace_strict(ROLE_RANK, default=len(ROLE_RANK), return_dtype=pl.Int64)
    cards = []
    for c in shown.iter_rows(named=True):
        first_ms, last_ms = _ms(c["first_at"]), _ms(c["last_at"])
        facts = [
            ("members", _count(c["size"])),
            (
                "core / amplifier / peripheral",
                f"{_count(c['n_core'])} / {_count(c['n_amplifier'])} / {_count(c['n_peripheral'])}",
            ),
            ("traces", c["traces"] or "—"),
            ("independent trace families", c["trace_families"] or "—"),
            ("active", f"{_fmt_time(first_ms)} → {_fmt_time(last_ms)}"),
            ("posts", _count(c["n_posts"])),
            (
                "bot scores",
                _bot_fact(
                    c["n_bot_scored"], c["bot_score_median"], c["bot_share"], _uncertain_share(c["details"])
                ),
            ),
            ("members created in a burst", _count(c["creation_burst_members"])),
            ("profile similarity", _share(c["profile_similarity"])),
            ("coordination cluster", c["cluster_id"]),
        ]
        mine = members.filter(pl.col("campaign_id") == c["campaign_id"]) if members.height else members
        card = Card(
            kind="campaign",
            card_id=c["campaign_id"],
            summary=c["summary"],
            facts=facts,
            suspicion=c["suspicion_score"],
            suspicion_components=_split(c["suspicion_components"]),
            hashtags=_split(c["top_hashtags"]),
            domains=_split(c["top_domains"]),
            urls=_split(c["top_urls"]),
        )
        if mine.height:
            mine = mine.sort(
                [role_rank, pl.col("strength"), pl.col("account_id")],
                descending=[False, True, False],
                nulls_last=True,
            )
            card.members = [
                Member(
                    account_id=m["account_id"],
                    screen_name=m["screen_name"],
                    role=m["role"],
                    coordination_score=m["coordination_score"],
                    bot_score=m["bot_score"],
                    tier=tiers.get(m["account_id"]),
                    degree=m["degree"],
                    strength=m["strength"],
                    traces=m["traces"],
                    in_creation_burst=m["in_creation_burst"],
                    profile_patterns=m["profile_patterns"],
                )
                for m in mine.iter_rows(named=True)
            ]
        card.texts = _details_texts(c["details"])
        cards.append(card)
    return cards, campaigns.height


def _details_texts(details: str | None) -> list[tuple[str, int]]:
    """Representative texts from a campaign's ``details`` JSON (``narratives.texts``), when present."""
    try:
        record = json.loads(details or "{}")
    except ValueError:
        return []
    narratives = record.get("narratives") if isinstance(record, dict) else None
    texts = narratives.get("texts") if isinstance(narratives, dict) else None
    found: list[tuple[str, int]] = []
    for t in texts if isinstance(texts, list) else []:
        if isinstance(t, dict) and isinstance(t.get("text"), str):
            n = t.get("accounts")
            found.append((t["text"], int(n) if isinstance(n, int | float) else 0))
    return found


def _cluster_cards(
    case: Case, has: dict[str, bool], per_account: pl.DataFrame, limits: Limits
) -> tuple[list[Card], int]:
    accounts = case.read("coord_accounts").filter(pl.col("cluster_id").is_not_null())
    if has["coord_clusters"]:
        clusters = case.read("coord_clusters")
    else:
        clusters = accounts.group_by("cluster_id").agg(pl.len().cast(pl.Int64).alias("size"))
    clusters = clusters.sort(["size", "cluster_id"], descending=[True, False], nulls_last=True)
    bot, tiers = _best(per_account, "bot_score"), _best(per_account, "tier")
    cards = []
    for c in clusters.head(limits.cards).iter_rows(named=True):
        facts = [("members", _count(c.get("size")))]
        if "traces" in c:
            facts += [
                ("traces", c["traces"] or "—"),
                ("co-acted items", _count(c["n_items"])),
                ("active", f"{_fmt_time(_ms(c['first_at']))} → {_fmt_time(_ms(c['last_at']))}"),
                ("density", _share(c["density"])),
            ]
        mine = accounts.filter(pl.col("cluster_id") == c["cluster_id"]).sort(
            ["coordination_score", "account_id"], descending=[True, False], nulls_last=True
        )
        card = Card(
            kind="cluster",
            card_id=str(c["cluster_id"]),
            summary=None,
            facts=facts,
            items=_split(c.get("top_items")),
        )
        card.members = [
            Member(
                account_id=m["account_id"],
                screen_name=m["screen_name"],
                role=None,
                coordination_score=m["coordination_score"],
                bot_score=bot.get(m["account_id"]),
                tier=tiers.get(m["account_id"]),
                degree=m["n_partners"],
                strength=float(m["n_shared_items"]) if m["n_shared_items"] is not None else None,
                traces=m["traces"],
            )
            for m in mine.iter_rows(named=True)
        ]
        cards.append(card)
    return cards, clusters.height


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _bot_fact(
    n_scored: int | None, median: float | None, share: float | None, uncertain: float | None = None
) -> str:
    if not n_scored:
        return "not scored (bots stage did not run)"
    fact = f"{n_scored:,} scored, median {median:.2f}, {_share(share)} labelled bot"
    # Campaigns assembled before the three-state label carry no uncertain share: nothing to add.
    return fact if uncertain is None else f"{fact}, {_share(uncertain)} uncertain"


def _uncertain_share(details: str | None) -> float | None:
    """The share of a campaign's labelled members labelled "uncertain" (``bot_scores`` in ``details``)."""
    try:
        record = json.loads(details or "{}")
    except ValueError:
        return None
    stats = record.get("bot_scores") if isinstance(record, dict) else None
    share = stats.get("uncertain_share") if isinstance(stats, dict) else None
    return float(share) if isinstance(share, int | float) and not isinstance(share, bool) else None


def _edge_rows(frame: pl.DataFrame) -> list[Edge]:
    out = frame.with_columns(
        pl.col("first_at").dt.epoch("ms").alias("first_ms"), pl.col("last_at").dt.epoch("ms").alias("last_ms")
    )
    return [
        Edge(
            account_a=r["account_a"],
            account_b=r["account_b"],
            trace=r["trace"],
            n_shared=r["n_shared"],
            expected=r["expected"],
            q_value=r["q_value"],
            median_gap_s=r["median_gap_s"],
            first_ms=r["first_ms"],
            last_ms=r["last_ms"],
        )
        for r in out.iter_rows(named=True)
    ]


# Strongest evidence first: most significant, then most co-acted items.
_EDGE_ORDER: dict[str, Any] = {
    "by": ["q_value", "n_shared", "account_a", "account_b", "trace"],
    "descending": [False, True, False, False, False],
}


def _attach_edges(case: Case, has: dict[str, bool], cards: list[Card], members: pl.DataFrame) -> None:
    if not has["coord_edges"]:
        return
    pairs = members.lazy()
    inside = (
        case.scan("coord_edges")
        .join(pairs.rename({"account_id": "account_a"}), on="account_a")
        .join(pairs.rename({"account_id": "account_b", "card_id": "card_b"}), on="account_b")
        .filter(pl.col("card_id") == pl.col("card_b"))
        .drop("card_b")
        .collect()
    )
    for card in cards:
        mine = inside.filter(pl.col("card_id") == card.card_id).sort(**_EDGE_ORDER, nulls_last=True)
        card.edges = _edge_rows(mine)


def _attach_timelines(case: Case, cards: list[Card], members: pl.DataFrame) -> None:
    hourly = (
        case.scan("posts")
        .select("account_id", "created_at")
        .join(members.lazy(), on="account_id")
        .filter(pl.col("created_at").is_not_null())
        .group_by("card_id", pl.col("created_at").dt.truncate("1h").dt.epoch("ms").alias("hour"))
        .len()
        .sort("card_id", "hour")
        .collect()
    )
    for card in cards:
        rows = hourly.filter(pl.col("card_id") == card.card_id)
        if rows.height:
            activity = views.bucketed(list(zip(rows["hour"].to_list(), rows["len"].to_list(), strict=True)))
            card.bucket, card.timeline = activity.bucket, activity.counts


def _attach_texts(case: Case, cards: list[Card], members: pl.DataFrame, limits: Limits) -> None:
    """The texts most members posted themselves (reposts excluded), for cards without them."""
    need = [c for c in cards if not c.texts]
    if not need:
        return
    wanted = members.filter(pl.col("card_id").is_in([c.card_id for c in need]))
    top = (
        case.scan("posts")
        .filter((pl.col("kind") != "repost") & pl.col("text").is_not_null() & (pl.col("text") != ""))
        .select("account_id", "text")
        .join(wanted.lazy(), on="account_id")
        .group_by("card_id", "text")
        .agg(pl.col("account_id").n_unique().alias("accounts"), pl.len().alias("posts"))
        .sort(["card_id", "accounts", "posts", "text"], descending=[False, True, True, False])
        .group_by("card_id", maintain_order=True)
        .head(limits.texts)
        .collect()
    )
    for card in need:
        rows = top.filter(pl.col("card_id") == card.card_id)
        card.texts = [(t, int(n)) for t, n in zip(rows["text"], rows["accounts"], strict=True)]


# -- evidence ----------------------------------------------------------------------------
def _top_evidence(case: Case, has: dict[str, bool], limits: Limits) -> list[EdgeEvidence]:
    top = case.scan("coord_edges").sort(**_EDGE_ORDER, nulls_last=True).head(limits.evidence_edges).collect()
    return _evidence_for(case, has, _edge_rows(top), limits)


def _attach_card_evidence(case: Case, has: dict[str, bool], cards: list[Card], limits: Limits) -> None:
    chosen = [(card, card.edges[: limits.card_evidence_edges]) for card in cards]
    flat = [edge for _, edges in chosen for edge in edges]
    if not flat:
        return
    found = {_edge_key(e.edge): e for e in _evidence_for(case, has, flat, limits)}
    for card, edges in chosen:
        card.evidence = [found[_edge_key(edge)] for edge in edges if _edge_key(edge) in found]


def _edge_key(edge: Edge) -> tuple[str, str, str]:
    return (edge.account_a, edge.account_b, edge.trace)


def _evidence_for(case: Case, has: dict[str, bool], edges: list[Edge], limits: Limits) -> list[EdgeEvidence]:
    if not edges:
        return []
    if not has["coord_evidence"]:
        return [EdgeEvidence(edge=e, rows=[], n_rows=0) for e in edges]
    keys = pl.DataFrame(
        [_edge_key(e) for e in edges],
        schema={"account_a": pl.String, "account_b": pl.String, "trace": pl.String},
        orient="row",
    ).unique()
    rows = (
        case.scan("coord_evidence")
        .join(keys.lazy(), on=["account_a", "account_b", "trace"])
        .with_columns(
            pl.col("time_a").dt.epoch("ms").alias("time_a_ms"),
            pl.col("time_b").dt.epoch("ms").alias("time_b_ms"),
        )
        .sort(["account_a", "account_b", "trace", "gap_s", "item"], nulls_last=True)
        .collect()
    )
    totals = {
        (a, b, t): int(n)
        for a, b, t, n in rows.group_by(["account_a", "account_b", "trace"]).len().iter_rows()
    }
    shown = rows.group_by(["account_a", "account_b", "trace"], maintain_order=True).head(limits.evidence_rows)
    texts = _post_texts(case, [*shown["post_id_a"].to_list(), *shown["post_id_b"].to_list()], limits)
    by_key: dict[tuple[str, str, str], list[EvidenceRow]] = {}
    for r in shown.iter_rows(named=True):
        by_key.setdefault((r["account_a"], r["account_b"], r["trace"]), []).append(
            EvidenceRow(
                item=r["item"],
                post_id_a=r["post_id_a"],
                post_id_b=r["post_id_b"],
                time_a_ms=r["time_a_ms"],
                time_b_ms=r["time_b_ms"],
                gap_s=r["gap_s"],
                text_a=texts.get(r["post_id_a"]),
                text_b=texts.get(r["post_id_b"]),
            )
        )
    return [
        EdgeEvidence(edge=e, rows=by_key.get(_edge_key(e), []), n_rows=totals.get(_edge_key(e), 0))
        for e in edges
    ]


def _post_texts(case: Case, post_ids: list[str | None], limits: Limits) -> dict[str, str]:
    ids = sorted({p for p in post_ids if p})
    if not ids or not case.has_table("posts"):
        return {}
    found = (
        case.scan("posts")
        .filter(pl.col("post_id").is_in(ids) & pl.col("text").is_not_null())
        .select("post_id", "text")
        .unique("post_id")
        .collect()
    )
    return {p: _excerpt(t, limits.excerpt_chars) for p, t in found.iter_rows()}


def _excerpt(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
