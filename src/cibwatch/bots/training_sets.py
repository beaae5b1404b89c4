"""The training mix of the shipped model, and training from paths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cibwatch.bots.data import load_labeled
from cibwatch.bots.model import BotModel
from cibwatch.bots.train import BotClassifier
from cibwatch.errors import ConfigError
from cibwatch.progress import Progress, ProgressEvent

# Profiles with labels, under ``<data root>/bots``. Humans of many kinds matter most: verified
# (verified-2019), celebrity-like and ordinary (gilani-2017), ordinary Italian and US users
# (cresci-2017 genuine, caverlee-2011 legitimate, kaggle nonbots). astroturf and varol-2017
# have labels only: they count where another set holds the profile.
TRAINING_SETS = (
    "botwiki-2019",
    "gilani-2017",
    "political-bots-2019",
    "pronbots-2019",
    "vendor-purchased-2019",
    "verified-2019",
    "astroturf",
    "varol-2017",
    "caverlee-2011",
    "kaggle-twitter-bot-prediction-2017",
    "cresci-2017/warproxxx_Twitter-Bot-or-Not",
    "cresci-2017/sammac22_Social-Sensing-Project/fakeusers.txt",
)
BEHAVIOUR_SETS = ("cresci-2015",)


def _existing(root: Path, names: Sequence[str]) -> list[Path]:
    paths = [root / n for n in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ConfigError(f"Training sets not found: {', '.join(missing)}; pass --data-root or the set paths")
    return paths


def default_training_sets(data_root: Path) -> list[Path]:
    return _existing(Path(data_root) / "bots", TRAINING_SETS)


def default_behaviour_sets(data_root: Path) -> list[Path]:
    return _existing(Path(data_root) / "io", BEHAVIOUR_SETS)


def train_from_paths(
    sets: Sequence[str | Path],
    behaviour: Sequence[str | Path] | None,
    *,
    random_state: int = 0,
    n_jobs: int = 2,
    progress: Progress | None = None,
    **params: Any,
) -> BotModel:
    """Read the labeled sets, train all heads, return the model (save it with ``model.save``)."""
    if progress:
        progress(ProgressEvent("bots", "read labeled sets", 0, 1))
    labeled = load_labeled(sets, with_posts=False)
    behaviour_set = load_labeled(behaviour) if behaviour else None
    if progress:
        progress(ProgressEvent("bots", "read labeled sets", 1, 1))
    clf = BotClassifier(random_state=random_state, n_jobs=n_jobs, **params)
    return clf.fit(labeled, behaviour_set, progress=progress).model_
