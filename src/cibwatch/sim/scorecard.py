"""Score a set of flagged accounts against a simulation's ground truth.

>>> card = scorecard("sim/demo", {"1764440674597346594", "386969601"})   # doctest: +SKIP
>>> print(render_scorecard(card))                                       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from cibwatch.errors import ConfigError

ORGANIC_ROLES = ("organic", "organic-trap")


@dataclass
class Scorecard:
    """``summary``: the headline numbers; ``table``: one row per tactic, per trap, and the rest of organic.

    In ``table``, ``share_flagged`` is recall for an operation's tactic and the false-positive
    rate for a trap or for organic accounts.
    """

    summary: dict[str, Any]
    table: pl.DataFrame

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "rows": self.table.to_dicts()}


def _ids(flagged: Iterable[Any] | pl.Series) -> set[str]:
    if isinstance(flagged, pl.Series):
        return set(flagged.cast(pl.String).drop_nulls().to_list())
    if hasattr(flagged, "astype") and hasattr(flagged, "tolist"):  # pandas / numpy
        return {str(x) for x in flagged.tolist()}
    return {str(x) for x in flagged}


def scorecard(truth_dir: str | Path, flagged_accounts: Iterable[Any] | pl.Series) -> Scorecard:
    """Precision, recall and organic accounts flagged, overall, per tactic and per trap.

    ``truth_dir`` holds ``truth_accounts.csv`` as ``cibwatch simulate`` writes it;
    ``flagged_accounts`` is any collection of account ids (str or int).
    """
    path = Path(truth_dir) / "truth_accounts.csv"
    if not path.exists():
        raise ConfigError(f"No ground truth at {path}; pass the --out folder of `cibwatch simulate`")
    truth = pl.read_csv(
        path, schema_overrides={"account_id": pl.String, "campaign_id": pl.String}
    ).with_columns(pl.col("campaign_id").fill_null(""), pl.col("tactic").fill_null(""))
    flagged = _ids(flagged_accounts)
    truth = truth.with_columns(
        flagged=pl.col("account_id").is_in(pl.Series(sorted(flagged), dtype=pl.String).implode()),
        positive=~pl.col("role").is_in(ORGANIC_ROLES),
    )
    positives = truth.filter(pl.col("positive"))
    organic = truth.filter(~pl.col("positive"))
    tp = int(positives["flagged"].sum())
    fp = int(organic["flagged"].sum())
    flagged_known = tp + fp
    precision = tp / flagged_known if flagged_known else None
    recall = tp / positives.height if positives.height else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    summary = {
        "operation_accounts": positives.height,
        "organic_accounts": organic.height,
        "flagged": len(flagged),
        "flagged_unknown": len(flagged) - flagged_known,
        "true_positives": tp,
        "organic_flagged": fp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "organic_flagged_rate": fp / organic.height if organic.height else None,
    }
    groups = (
        truth.with_columns(
            group=pl.when(pl.col("positive"))
            .then(pl.lit("operation"))
            .when(pl.col("role") == "organic-trap")
            .then(pl.lit("trap"))
            .otherwise(pl.lit("organic")),
            name=pl.when(pl.col("tactic") == "").then(pl.lit("(no trap)")).otherwise(pl.col("tactic")),
        )
        .group_by("group", "name")
        .agg(pl.len().alias("accounts"), pl.col("flagged").sum().cast(pl.Int64).alias("flagged"))
        .with_columns(share_flagged=pl.col("flagged") / pl.col("accounts"))
        .with_columns(order=pl.col("group").replace_strict({"operation": 0, "trap": 1, "organic": 2}))
        .sort("order", "name")
        .drop("order")
    )
    return Scorecard(summary=summary, table=groups)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def render_scorecard(card: Scorecard, style: str = "markdown") -> str:
    """The scorecard as a Markdown table (``style="markdown"``) or aligned plain text (``"text"``)."""
    if style not in ("markdown", "text"):
        raise ConfigError(f"style must be 'markdown' or 'text'. Got {style!r} instead.")
    s = card.summary
    head = (
        f"precision {_pct(s['precision'])}, recall {_pct(s['recall'])}, F1 {_pct(s['f1'])}; "
        f"{s['true_positives']}/{s['operation_accounts']} operation accounts flagged, "
        f"{s['organic_flagged']}/{s['organic_accounts']} organic accounts flagged "
        f"({_pct(s['organic_flagged_rate'])})"
    )
    if s["flagged_unknown"]:
        head += f"; {s['flagged_unknown']} flagged ids are not in the truth"
    rows = [
        (
            r["group"],
            r["name"],
            str(r["accounts"]),
            str(r["flagged"]),
            ("recall " if r["group"] == "operation" else "false pos. ") + _pct(r["share_flagged"]),
        )
        for r in card.table.iter_rows(named=True)
    ]
    header = ("group", "tactic / trap", "accounts", "flagged", "share flagged")
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|---|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return head + "\n\n" + "\n".join(lines) + "\n"
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return head + "\n\n" + "\n".join(fmt.format(*row) for row in [header, *rows]) + "\n"
