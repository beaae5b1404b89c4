"""Signals about each account and the recommendation rows the policy makes of them.

Coordination signals come from ``coord_edges`` (one per independence group of trace families, merged
when the account's evidence posts behind two families overlap), bot signals from ``bot_scores``,
provenance signals (creation burst, shared profile pattern) from the campaign assembly.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
import polars as pl

from cibwatch.campaigns.policy import Policy, Signal, Verdict, evaluate
from cibwatch.campaigns.profiles import Burst
from cibwatch.store.case import Case

# A family is a strong line for a coordinated account with supported edges to this many partners.
MIN_FAMILY_PARTNERS = 2


def provenance_signals(
    campaign_id: str, burst: Burst | None, patterns: list[str], policy: Policy
) -> list[Signal]:
    out = []
    b = policy.creation_burst
    if burst is not None:
        ratio = burst.ratio
        strong = burst.n_members >= b.strong_min_members and ratio is not None and ratio >= b.strong_min_ratio
        ratio_text = "no case baseline" if ratio is None else f"{ratio:.1f}× the case's creation rate"
        out.append(
            Signal(
                "creation_burst",
                "strong" if strong else "weak",
                "provenance",
                f"created in a burst of {burst.n_members} {campaign_id} members between "
                f"{burst.start:%Y-%m-%d} and {burst.end:%Y-%m-%d} ({ratio_text})",
                {"campaign_id": campaign_id, **burst.as_dict()},
            )
        )
    if patterns:
        out.append(
            Signal(
                "profile_pattern",
                "weak",
                "provenance",
                f"shares profile pattern(s) with other {campaign_id} members: {'; '.join(patterns)}",
                {"campaign_id": campaign_id, "patterns": patterns},
            )
        )
    return out


def _coordination_signals(case: Case, edges: pl.DataFrame, policy: Policy) -> dict[str, list[Signal]]:
    """One signal per independence group of trace families an account coordinated on."""
    c = policy.coordination
    q = pl.col("q_value")
    shared = pl.col("n_shared").fill_null(0)
    strong = q.is_not_null() & (q <= c.strong_max_q) & (shared >= c.strong_min_shared)
    weak = q.is_not_null() & (q <= c.weak_max_q) & (shared >= c.weak_min_shared)
    stage = case.read("coord_accounts") if case.has_table("coord_accounts") else None
    coordinated = _coordinated_accounts(stage)
    if coordinated is not None:
        # The stage decided per account from all its evidence: its edges are what it rests on.
        edges = edges.filter(pl.col("account").is_in(list(coordinated)))
        weak = pl.lit(True)
    flagged = edges.with_columns(strong=strong, weak=weak).filter(pl.col("weak") | pl.col("strong"))
    per_family = (
        # Ties broken by partner and trace: the strongest edge must not depend on polars' sort.
        flagged.sort(["q_value", "n_shared", "partner", "trace"], descending=[False, True, False, False])
        .group_by("account", "family")
        .agg(
            strong_partners=pl.col("partner").filter(pl.col("strong")).unique().sort(),
            weak_partners=pl.col("partner").unique().sort(),
            traces=pl.col("trace").unique().sort(),
            best_q=pl.col("q_value").first(),
            best_shared=pl.col("n_shared").first(),
            best_expected=pl.col("expected").first(),
            best_partner=pl.col("partner").first(),
            best_trace=pl.col("trace").first(),
        )
        .sort("account", "family")
    )
    rows: dict[str, list[dict[str, Any]]] = {}
    for r in per_family.iter_rows(named=True):
        rows.setdefault(r["account"], []).append(r)
    multi = [a for a, fams in rows.items() if len(fams) > 1]
    overlap_groups = _merge_overlapping_families(case, stage, multi, rows, policy)
    out: dict[str, list[Signal]] = {}
    for account, fams in rows.items():
        groups = overlap_groups.get(account, {f["family"]: f["family"] for f in fams})
        for f in fams:
            is_strong = bool(f["strong_partners"]) or (
                coordinated is not None and len(f["weak_partners"]) >= MIN_FAMILY_PARTNERS
            )
            # A coordinated account's line rests on all its partners in the family.
            partners = f["strong_partners"] if is_strong and coordinated is None else f["weak_partners"]
            expected = f["best_expected"]
            versus = "" if expected is None else f" vs {expected:.2g} expected"
            sentence = (
                f"coordinated {f['family']} ({', '.join(f['traces'])}) with {len(partners)} account(s); "
                f"strongest: {f['best_shared']} shared items{versus} with {f['best_partner']} on "
                f"{f['best_trace']}, q={f['best_q']:.1e}"
            )
            decision = (coordinated or {}).get(account)
            if decision is not None:
                sentence += f"; account q={decision['account_q']:.1e} over {decision['n_tested']} tests"
            detail = {
                "family": f["family"],
                "traces": f["traces"],
                "partners": partners[:20],
                "n_partners": len(partners),
                "best_edge": {
                    "partner": f["best_partner"],
                    "trace": f["best_trace"],
                    "n_shared": f["best_shared"],
                    "expected": expected,
                    "q_value": f["best_q"],
                },
            }
            if decision is not None:
                detail["account_decision"] = decision
            group = "coordination:" + groups[f["family"]]
            out.setdefault(account, []).append(
                Signal("coordination", "strong" if is_strong else "weak", group, sentence, detail)
            )
    return out


def _coordinated_accounts(accounts: pl.DataFrame | None) -> dict[str, dict[str, Any]] | None:
    """Coordinated accounts and their account-level decision; None for tables without a status."""
    if accounts is None or "status" not in accounts.columns or accounts["status"].is_null().all():
        return None
    chosen = accounts.filter(pl.col("status") == "coordinated").unique("account_id")
    return {
        r["account_id"]: {k: r[k] for k in ("status", "account_q", "n_tested", "reason")}
        for r in chosen.iter_rows(named=True)
    }


def _merge_overlapping_families(
    case: Case,
    stage: pl.DataFrame | None,
    accounts: list[str],
    rows: dict[str, list[dict[str, Any]]],
    policy: Policy,
) -> dict[str, dict[str, str]]:
    """Per account, family -> group name, merging families whose evidence posts overlap too much.

    Two measures, either merges: the stage's ``trace_overlap`` (over every co-acted post of the
    account, when the table has it) and the Jaccard of the evidence examples' posts.
    """
    if not accounts or not case.has_table("coord_evidence"):
        return {}
    overlaps = _trace_overlaps(stage, accounts, policy)
    evidence = (
        case.scan("coord_evidence")
        .filter(pl.col("account_a").is_in(accounts) | pl.col("account_b").is_in(accounts))
        .select("account_a", "account_b", "trace", "post_id_a", "post_id_b")
        .collect()
    )
    long = pl.concat(
        [
            evidence.select(pl.col("account_a").alias("account"), "trace", pl.col("post_id_a").alias("post")),
            evidence.select(pl.col("account_b").alias("account"), "trace", pl.col("post_id_b").alias("post")),
        ]
    ).filter(pl.col("account").is_in(accounts) & pl.col("post").is_not_null())
    families = {t: policy.family_of(t) for t in long["trace"].unique().to_list()}
    long = long.with_columns(family=pl.col("trace").replace_strict(families, default="other"))
    posts: dict[tuple[str, str], set[str]] = {}
    for account, family, post in long.select("account", "family", "post").iter_rows():
        posts.setdefault((account, family), set()).add(post)
    out = {}
    for account in accounts:
        fams = sorted(f["family"] for f in rows[account])
        parent = {f: f for f in fams}

        def root(f: str, parent: dict[str, str] = parent) -> str:
            while parent[f] != f:
                f = parent[f]
            return f

        for i, fa in enumerate(fams):
            for fb in fams[i + 1 :]:
                pa_, pb = posts.get((account, fa), set()), posts.get((account, fb), set())
                jaccard = len(pa_ & pb) / len(pa_ | pb) if pa_ and pb else 0.0
                same_act = overlaps.get((account, fa, fb), 0.0)
                if max(jaccard, same_act) > policy.coordination.max_post_overlap:
                    parent[root(fb)] = root(fa)
        members: dict[str, list[str]] = {}
        for f in fams:
            members.setdefault(root(f), []).append(f)
        out[account] = {f: "+".join(sorted(members[root(f)])) for f in fams}
    return out


def _trace_overlaps(
    table: pl.DataFrame | None, accounts: list[str], policy: Policy
) -> dict[tuple[str, str, str], float]:
    """(account, family, family) -> the largest overlap of two of its traces in those families."""
    if table is None or "trace_overlap" not in table.columns:
        return {}
    out: dict[tuple[str, str, str], float] = {}
    rows = table.filter(pl.col("account_id").is_in(accounts) & pl.col("trace_overlap").is_not_null())
    for account, text in rows.select("account_id", "trace_overlap").iter_rows():
        for entry in text.split(";"):
            pair, _, value = entry.partition("=")
            ta, _, tb = pair.partition("|")
            fa, fb = sorted((policy.family_of(ta), policy.family_of(tb)))
            key = (account, fa, fb)
            out[key] = max(out.get(key, 0.0), float(value))
    return out


def _bot_signal(row: dict[str, Any], policy: Policy) -> Signal | None:
    score = row["bot_score"]
    if score is None or score < policy.bot.weak:
        return None
    strength: Literal["strong", "weak"] = "strong" if score >= policy.bot.strong else "weak"
    reasons = f": {row['top_reasons']}" if row.get("top_reasons") else ""
    return Signal(
        "bot",
        strength,
        "bot",
        f"calibrated bot score {score:.2f} (model {row.get('model_version') or 'unknown'}){reasons}",
        {"bot_score": score, "bot_label": row.get("bot_label"), "model_version": row.get("model_version")},
    )


def recommendations(
    case: Case,
    edges: pl.DataFrame,
    bots: pl.DataFrame,
    members: pl.DataFrame,
    provenance: dict[str, list[Signal]],
    policy: Policy,
) -> list[dict[str, Any]]:
    signals: dict[str, list[Signal]] = {a: list(s) for a, s in provenance.items()}
    for account, sigs in _coordination_signals(case, edges, policy).items():
        signals.setdefault(account, []).extend(sigs)
    bot_rows = {
        r["account_id"]: r for r in bots.filter(pl.col("bot_score") >= policy.bot.weak).iter_rows(named=True)
    }
    for account, row in bot_rows.items():
        sig = _bot_signal(row, policy)
        if sig is not None:
            signals.setdefault(account, []).append(sig)
    campaign_of = dict(members.select("account_id", "campaign_id").iter_rows())
    model_of = dict(bots.select("account_id", "model_version").iter_rows())
    accounts = sorted(set(signals) | set(campaign_of))
    names = _screen_names(case, accounts, bots)
    recs = []
    for account in accounts:
        verdict: Verdict = evaluate(signals.get(account, []), policy)
        recs.append(
            {
                "account_id": account,
                "screen_name": names.get(account),
                "campaign_id": campaign_of.get(account),
                "tier": verdict.tier,
                "priority": verdict.priority,
                "n_independent_lines": len(verdict.lines),
                "lines": ",".join(verdict.lines) or None,
                "rests_on": orjson.dumps(
                    [
                        {
                            "kind": x.kind,
                            "strength": x.strength,
                            "group": x.group,
                            "sentence": x.sentence,
                            "detail": x.detail,
                        }
                        for x in verdict.rests_on
                    ],
                    option=orjson.OPT_SORT_KEYS,
                    default=str,
                ).decode(),
                "reasons": verdict.reasons,
                "policy_version": policy.version,
                "model_version": model_of.get(account),
            }
        )
    return recs


def _screen_names(case: Case, accounts: list[str], bots: pl.DataFrame) -> dict[str, str | None]:
    """The latest profile's handle, else the one the bot scores carry."""
    names = {a: n for a, n in bots.select("account_id", "screen_name").iter_rows() if n}
    if accounts:
        rows = case.con.execute(
            "SELECT account_id, screen_name FROM accounts_current WHERE account_id IN (SELECT unnest(?))",
            [accounts],
        ).fetchall()
        names.update({a: n for a, n in rows if n})
    return names
