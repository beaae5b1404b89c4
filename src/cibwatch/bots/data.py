"""Labeled training and test sets: read through the ingest readers, deduplicated, labels apart.

Any path a reader understands works (a Bot Repository pair, cresci CSVs, TwiBot JSON, …), so
``cibwatch bots train`` and ``cibwatch eval bots`` run on sets the project has never seen.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from cibwatch.bots.features import PROFILE_INPUTS
from cibwatch.errors import ConfigError
from cibwatch.progress import Progress

BOT_TYPES = ("spam", "fake_follower", "self_declared", "political", "other")

# Bot kind by the set's name or raw label (Botometer v4's specialized classes).
_TYPE_WORDS = [
    ("political", "political"),
    ("astroturf", "political"),
    ("botwiki", "self_declared"),
    ("fake_follower", "fake_follower"),
    ("vendor", "fake_follower"),
    ("spambot", "spam"),
    ("fakeusers", "spam"),
    ("pronbot", "spam"),
    ("polluter", "spam"),
]


def bot_type_of(dataset: str | None, label_detail: str | None) -> str:
    """The bot kind a labeled set stands for: 'spam', 'fake_follower', … or 'other'.

    >>> bot_type_of("vendor-purchased-2019", "bot")
    'fake_follower'
    """
    text = f"{dataset or ''} {label_detail or ''}".lower()
    return next((kind for word, kind in _TYPE_WORDS if word in text), "other")


# Files that are parts of one published set: held out together in leave-one-dataset-out.
_FAMILIES = [
    (("geniune", "genuine_accounts", "realusers", "spambots", "fakeusers", "fake_followers"), "cresci-2017"),
    (("content_polluters", "legitimate_users"), "caverlee-2011"),
    (("bots_data", "nonbots_data"), "kaggle-2017"),
]


def family_of(dataset: str) -> str:
    """The published set a dataset name belongs to ('social_spambots_1' -> 'cresci-2017')."""
    low = dataset.lower()
    return next((fam for words, fam in _FAMILIES if any(w in low for w in words)), dataset)


# The OSoMe Bot Repository's 2019 archives are one collection (one team, one year, one way of
# collecting). astroturf and varol-2017 are archives of the same repository with labels only.
BOT_REPOSITORY_2019 = "bot-repository-2019"
BOT_REPOSITORY_SETS = frozenset({"astroturf", "varol-2017"})


def collection_of(dataset: str) -> str:
    """The collection a labeled set belongs to: the unit that is weighted and held out as one.

    >>> collection_of("social_spambots_2"), collection_of("pronbots-2019"), collection_of("bots_data")
    ('cresci-2017', 'bot-repository-2019', 'kaggle-2017')
    """
    family = family_of(dataset)
    if family in BOT_REPOSITORY_SETS or (family.endswith("-2019") and family == dataset):
        return BOT_REPOSITORY_2019
    return family


@dataclass
class LabeledSet:
    """Accounts with one label each (profile inputs, posts if any) and where they came from."""

    accounts: pl.DataFrame  # PROFILE_INPUTS columns + dataset, label, label_detail, bot_type
    posts: pl.DataFrame  # posts of labeled accounts (may be empty)
    files: list[dict[str, Any]] = field(default_factory=list)  # path, sha256
    dropped_conflicts: int = 0

    @property
    def datasets(self) -> list[str]:
        return sorted(self.accounts["dataset"].unique().to_list())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_labeled(
    paths: Sequence[str | Path],
    *,
    with_posts: bool = True,
    progress: Progress | None = None,
) -> LabeledSet:
    """Read labeled sets from ``paths`` (files or folders in any supported labeled format).

    Accounts labeled both bot and human (in one set or across sets) are dropped; an account
    in several sets with the same label is kept once, under the first set that has its profile.
    """
    from cibwatch.ingest import AUTHOR_STUB_READER, expand_inputs, ingest
    from cibwatch.store import sql
    from cibwatch.store.case import open_case

    files = expand_inputs(list(paths))
    with tempfile.TemporaryDirectory(prefix="cibwatch-labeled-") as tmp:
        ingest(list(paths), Path(tmp) / "case", progress=progress)
        case = open_case(Path(tmp) / "case")
        try:
            labels = case.read("account_labels")
            if labels.is_empty():
                raise ConfigError(
                    f"No labels found in {', '.join(map(str, paths))}; pass labeled sets "
                    "(e.g. a Bot Repository <name>.tsv with its _tweets.json, cresci users.csv, TwiBot JSON)"
                )
            accounts = case.sql(
                "SELECT * EXCLUDE (raw) FROM accounts "
                f"WHERE probed_at IS NOT NULL OR reader <> {sql.literal(AUTHOR_STUB_READER)}"
            ).pl()
            posts = pl.DataFrame()
            if with_posts and case.has_table("posts"):
                posts = case.read("posts").select(
                    "account_id",
                    "created_at",
                    "kind",
                    "text",
                    "lang",
                    "source_app",
                    "urls",
                    "hashtags",
                    "mentions",
                )
        finally:
            case.close()
    table, conflicts = _join(labels, accounts)
    if not posts.is_empty():
        posts = posts.join(table.select("account_id"), on="account_id", how="semi")
    return LabeledSet(
        accounts=table,
        posts=posts,
        files=[{"path": str(p), "sha256": sha256_of(p)} for p in files],
        dropped_conflicts=conflicts,
    )


def _join(labels: pl.DataFrame, accounts: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    # The case's row order is not fixed (parallel ingest and scans); every "keep first" below
    # works on a total order, or the snapshot kept, and so the model trained, would vary by run.
    labels = (
        labels.select("account_id", "dataset", "label", "label_detail")
        .sort("account_id", "dataset", "label", "label_detail", nulls_last=True)
        .unique(["account_id", "dataset", "label"], keep="first", maintain_order=True)
    )
    per_account = labels.group_by("account_id").agg(pl.col("label").n_unique().alias("n_labels"))
    conflicting = per_account.filter(pl.col("n_labels") > 1)["account_id"]
    labels = labels.filter(~pl.col("account_id").is_in(conflicting.implode()))
    accounts = accounts.with_columns(
        pl.col("created_at").dt.epoch("ms"), pl.col("probed_at").dt.epoch("ms")
    ).sort(
        ["probed_at", "account_id", "dataset", "snapshot_id"],
        descending=[True, False, False, False],
        nulls_last=True,
    )
    profile_cols = [c for c in PROFILE_INPUTS if c != "account_id"]
    # The set's own snapshot first; a snapshot from another set of the same account otherwise.
    own = accounts.unique(["account_id", "dataset"], keep="first", maintain_order=True)
    joined = labels.join(
        own.select("account_id", "dataset", *profile_cols), on=["account_id", "dataset"], how="left"
    )
    any_snapshot = accounts.unique(["account_id"], keep="first", maintain_order=True).select(
        "account_id", *[pl.col(c).alias(f"{c}__any") for c in profile_cols]
    )
    joined = joined.join(any_snapshot, on="account_id", how="left").with_columns(
        [pl.coalesce(c, f"{c}__any").alias(c) for c in profile_cols]
    )
    joined = joined.drop([f"{c}__any" for c in profile_cols])
    has_profile = pl.any_horizontal(
        [pl.col(c).is_not_null() for c in ("followers", "posts_count", "created_at")]
    )
    joined = (
        joined.with_columns(has_profile.alias("_has_profile"))
        .sort(["account_id", "_has_profile", "dataset"], descending=[False, True, False])
        .unique("account_id", keep="first", maintain_order=True)
        .drop("_has_profile")
        .with_columns(
            pl.struct("dataset", "label_detail")
            .map_elements(lambda r: bot_type_of(r["dataset"], r["label_detail"]), return_dtype=pl.String)
            .alias("bot_type")
        )
        .sort("dataset", "account_id")
    )
    return joined, conflicting.len()
