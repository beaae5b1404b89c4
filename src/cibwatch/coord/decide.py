"""The account-level decision: is this account coordinated, from all of its evidence?

One significant pair says little about an account (FINDINGS): an ordinary account tested against
hundreds of others will have a lucky edge now and then. So each account is tested on its own:

- ``n_tested``: the (pair, trace) tests the account took part in;
- ``n_edges``: those with p ≤ alpha and at least ``min_shared`` co-acted items (its *supported*
  edges, significant before any correction);
- under independence each test is supported with a chance its own null model gives
  (``stats.support_chance``, at most alpha), so the count is about Poisson(sum of those chances);
  the account's p-value is that tail, and Benjamini–Hochberg runs over every tested account.

An account is ``coordinated`` when its q-value is ≤ alpha and its supported edges reach at least
two distinct partners. Two more statuses keep the flagged edges visible without calling the
account coordinated: ``crowd`` — all its support is reposts, quotes or replies of posts by one
single account (fans of a star, followers of a breaking account: a crowd around one source, not a
ring); ``weak`` — the account-level test does not pass. The policy gives a coordination line only
to ``coordinated`` accounts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from cibwatch.coord.stats import benjamini_hochberg

COORDINATED, CROWD, WEAK = "coordinated", "crowd", "weak"
MIN_PARTNERS = 2
# Per account: the distinct authors its target-trace support co-acted on, and one of them.
SOURCES = pl.Schema({"a": pl.Int32, "n_sources": pl.Int64, "source": pl.String})
DECISIONS = pl.Schema(
    {
        "a": pl.Int32,
        "status": pl.String,
        "account_p": pl.Float64,
        "account_q": pl.Float64,
        "n_tested": pl.Int64,
        "n_supported": pl.Int64,
        "n_support_partners": pl.Int64,
        "reason": pl.String,
    }
)


def account_decisions(
    supported: pl.DataFrame,
    tested: pl.DataFrame,
    sources: pl.DataFrame,
    *,
    alpha: float,
) -> pl.DataFrame:
    """One row per account with a supported edge: status, account p and q, reason.

    ``supported``: k, a, b, trace, targets_posts (bool), n_shared — the supported edges;
    ``tested``: a, n_tested, expected — per account (every account with a test, for BH) its
    tests and the number of them chance alone would support;
    ``sources`` (``SOURCES``): a, n_sources, source — per account, the distinct authors of the posts its
    supported target-trace edges co-acted on (``source``: one of them, for the sentence).

    >>> sup = pl.DataFrame({"k": [0, 0], "a": [1, 1], "b": [2, 3], "trace": ["url", "url"],
    ...                     "targets_posts": [False, False], "n_shared": [6, 4]})
    >>> tested = pl.DataFrame({"a": [1, 2, 3], "n_tested": [3, 40, 40], "expected": [0.01, 0.4, 0.4]})
    >>> out = account_decisions(sup, tested, pl.DataFrame(schema=SOURCES), alpha=0.01)
    >>> out.filter(pl.col("a") == 1)["status"].item()
    'coordinated'
    >>> out.filter(pl.col("a") == 2)["status"].item()  # one supported edge among 40 tests
    'weak'
    """
    if supported.height == 0:
        return pl.DataFrame(schema=DECISIONS)
    sides = pl.concat(
        [
            supported.select("a", partner="b", trace="trace", targets_posts="targets_posts"),
            supported.select(a="b", partner="a", trace="trace", targets_posts="targets_posts"),
        ]
    )
    per = sides.group_by("a").agg(
        n_supported=pl.len().cast(pl.Int64),
        n_support_partners=pl.col("partner").n_unique().cast(pl.Int64),
        only_targets=pl.col("targets_posts").all(),
        traces=pl.col("trace").unique().sort().str.join(", "),
    )
    tested = tested.with_columns(pl.col("a").cast(pl.Int32), pl.col("n_tested").cast(pl.Int64))
    expected = tested["expected"].to_numpy().astype(float)
    observed = (
        tested.select("a")
        .join(per.select("a", "n_supported"), on="a", how="left")["n_supported"]
        .fill_null(0)
        .to_numpy()
    )
    # P(N ≥ observed) for N ~ Poisson(expected); no support at all is p = 1.
    from scipy import stats  # here, not at import: scipy.stats costs every CLI command a second

    p = np.where(observed > 0, stats.poisson.sf(observed - 1, expected), 1.0)
    q = benjamini_hochberg(p)
    tested = tested.with_columns(account_p=pl.Series(p), account_q=pl.Series(q))
    out = (
        per.with_columns(pl.col("a").cast(pl.Int32))
        .join(tested, on="a", how="left")
        .join(sources.with_columns(pl.col("a").cast(pl.Int32)), on="a", how="left")
    )
    rows = [_decide(r, alpha) for r in out.iter_rows(named=True)]
    return pl.DataFrame(rows, schema=DECISIONS, orient="row")


def _decide(r: dict[str, Any], alpha: float) -> tuple[Any, ...]:
    q = r["account_q"] if r["account_q"] is not None else 1.0
    partners, supported, tests = r["n_support_partners"], r["n_supported"], r["n_tested"] or 0
    chance = (
        f"{supported} supported of {tests} tests, {r['expected']:.2g} expected by chance, account q={q:.1e}"
    )
    if r["only_targets"] and r["n_sources"] is not None and r["n_sources"] <= 1:
        status = CROWD
        reason = (
            f"crowd: acted with {partners} account(s) only on posts of one account ({r['source']}) "
            f"on {r['traces']}: a crowd around one source, not a ring ({chance})"
        )
    elif q <= alpha and partners >= MIN_PARTNERS:
        status = COORDINATED
        reason = f"coordinated with {partners} accounts on {r['traces']} ({chance})"
    else:
        status = WEAK
        why = f"only {partners} partner" if partners < MIN_PARTNERS else "not beyond chance for its tests"
        reason = f"weak: {why} on {r['traces']} ({chance})"
    return (r["a"], status, r["account_p"], q, tests, supported, partners, reason)
