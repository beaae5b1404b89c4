"""A tiny model trained on synthetic labeled accounts: fast, and its behaviour is known."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cibwatch.bots.data import LabeledSet
from cibwatch.bots.train import BotClassifier

DAY = 86_400_000
PROBE = 1_560_000_000_000  # 2019-06-08


def synthetic_accounts(n: int, seed: int) -> pl.DataFrame:
    """Humans: old, balanced following, readable handles. Bots: young, follow many, digit handles."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        bot = i % 2 == 1
        # Overlapping classes, so calibration has something to calibrate.
        noisy = rng.random() < 0.15
        looks_bot = bot != noisy
        age = rng.integers(5, 400) if looks_bot else rng.integers(300, 4000)
        following = int(rng.integers(500, 4000) if looks_bot else rng.integers(50, 600))
        handle = (
            "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), 12))
            if looks_bot
            else rng.choice(["anna", "marco", "julia", "peter", "lena", "tom"])
            + "_"
            + rng.choice(["smith", "rossi", "meyer"])
        )
        rows.append(
            {
                "account_id": f"{seed}-{i}",
                "screen_name": str(handle),
                "name": str(handle).title(),
                "description": "" if looks_bot else "I like running and books",
                "created_at": PROBE - int(age) * DAY,
                "probed_at": PROBE,
                "followers": int(rng.integers(0, 50) if looks_bot else rng.integers(50, 2000)),
                "following": following,
                "posts_count": int(rng.integers(0, 20_000)),
                "likes_count": int(rng.integers(0, 100) if looks_bot else rng.integers(100, 9000)),
                "listed_count": int(rng.integers(0, 3)),
                "verified": False,
                "default_profile": bool(looks_bot and rng.random() < 0.7),
                "default_profile_image": bool(looks_bot and rng.random() < 0.3),
                "profile_use_background_image": True,
                "dataset": f"synthetic-{'bots' if bot else 'humans'}-{i % 3}",
                "label": "bot" if bot else "human",
                "label_detail": "spambot" if bot and i % 4 == 1 else ("bot" if bot else "human"),
            }
        )
    frame = pl.DataFrame(rows)
    from cibwatch.bots.data import bot_type_of

    return frame.with_columns(
        pl.struct("dataset", "label_detail")
        .map_elements(lambda r: bot_type_of(r["dataset"], r["label_detail"]), return_dtype=pl.String)
        .alias("bot_type")
    )


def synthetic_posts(accounts: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Bots post the same text every 60 s; humans post varied texts at irregular times."""
    rng = np.random.default_rng(seed)
    rows = []
    for account_id, label in accounts.select("account_id", "label").iter_rows():
        t = PROBE - 30 * DAY
        for k in range(24):  # above MIN_POSTS_FOR_BEHAVIOUR
            if label == "bot":
                t += 60_000
                text = "Buy followers now http://spam.example"
            else:
                t += int(rng.integers(600_000, 2 * DAY))
                text = f"thinking about {rng.choice(['rain', 'books', 'football', 'dinner'])} number {k}"
            rows.append(
                {
                    "account_id": account_id,
                    "created_at": t,
                    "kind": "original",
                    "text": text,
                    "lang": "en",
                    "source_app": "Web",
                    "urls": ["http://spam.example"] if label == "bot" else [],
                    "hashtags": [],
                    "mentions": [],
                }
            )
    return pl.DataFrame(rows)


@pytest.fixture(scope="session")
def tiny_model():
    accounts = synthetic_accounts(600, seed=1)
    behaviour = synthetic_accounts(200, seed=2)
    labeled = LabeledSet(accounts=accounts, posts=pl.DataFrame())
    behaviour_set = LabeledSet(accounts=behaviour, posts=synthetic_posts(behaviour, seed=2))
    # The shipped number of rounds: with far fewer, extra trees are under-fit, the fold models that
    # calibration is fitted on differ from the final one, and the probabilities drift.
    clf = BotClassifier(calibration_folds=3, n_jobs=1, random_state=0, min_child_samples=10)
    return clf.fit(labeled, behaviour_set).model_
