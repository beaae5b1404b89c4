"""Measuring a bot model on labeled sets it may never have seen."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cibwatch.bots.data import load_labeled
from cibwatch.bots.features import profile_features
from cibwatch.bots.model import BotModel
from cibwatch.bots.train import binary_metrics
from cibwatch.errors import ConfigError


def grouped_test_paths(paths: Sequence[str | Path]) -> dict[str, list[Path]]:
    """Test paths by group name: ``NAME=PATH`` puts PATH in group NAME (repeat NAME to join sets);
    a plain path (one that exists, even with '=' in its name) is a group of its own, named after it.

    >>> groups = grouped_test_paths(["cresci=a/genuine.csv", "cresci=a/spambots.csv", "pronbots-2019"])
    >>> {name: [str(p) for p in members] for name, members in groups.items()}
    {'cresci': ['a/genuine.csv', 'a/spambots.csv'], 'pronbots-2019': ['pronbots-2019']}
    """
    groups: dict[str, list[Path]] = {}
    for entry in paths:
        text = str(entry)
        name, sep, rest = text.partition("=")
        if sep and name and rest and "/" not in name and not Path(text).exists():
            groups.setdefault(name, []).append(Path(rest))
        else:
            groups[Path(text).name] = [Path(text)]
    return groups


def evaluate_sets(model: BotModel, paths: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Metrics at the model's threshold for each test group (see ``grouped_test_paths``), keyed by its name.

    A group is measured as one set: the paths of ``NAME=PATH`` entries with the same NAME
    together (e.g. every file of one collection). Accounts with labels but no profile are left
    out (and counted in ``unscored``).
    """
    out = {}
    for name, members in grouped_test_paths(paths).items():
        labeled = load_labeled(members, with_posts=False)
        accounts = labeled.accounts
        has_profile = accounts.select(
            pl.any_horizontal(pl.col("followers").is_not_null(), pl.col("posts_count").is_not_null())
        ).to_series()
        scored_rows = accounts.filter(has_profile)
        if scored_rows.is_empty():
            shown = ", ".join(map(str, members))
            raise ConfigError(f"{shown} has labels but no profiles to score; pass the set's profile file too")
        scores = model.predict(profile_features(scored_rows, model.name_model))["bot_score"].to_numpy()
        y = (scored_rows["label"] == "bot").to_numpy().astype(np.float64)
        metrics = binary_metrics(scores, y, model.threshold)
        metrics["unscored"] = accounts.height - scored_rows.height
        out[name] = metrics
    return out
