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


def evaluate_sets(model: BotModel, paths: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Metrics at the model's threshold for each path (one labeled set each), keyed by the path's name.

    Accounts with labels but no profile are left out (and counted in ``unscored``).
    """
    out = {}
    for path in paths:
        labeled = load_labeled([path], with_posts=False)
        accounts = labeled.accounts
        has_profile = accounts.select(
            pl.any_horizontal(pl.col("followers").is_not_null(), pl.col("posts_count").is_not_null())
        ).to_series()
        scored_rows = accounts.filter(has_profile)
        if scored_rows.is_empty():
            raise ConfigError(f"{path} has labels but no profiles to score; pass the set's profile file too")
        scores = model.predict(profile_features(scored_rows, model.name_model))["bot_score"].to_numpy()
        y = (scored_rows["label"] == "bot").to_numpy().astype(np.float64)
        metrics = binary_metrics(scores, y, model.threshold)
        metrics["unscored"] = accounts.height - scored_rows.height
        out[Path(path).name] = metrics
    return out
