"""The bot model: LightGBM heads, calibration, screen-name model, explanations; stored without pickle.

Three boosters: ``profile`` (any account with a profile), ``behaviour`` (accounts whose posts
the case holds) and ``type`` (which kind of bot). Each is LightGBM text; calibration maps,
the screen-name bigram model, the human percentiles used in explanations and the model card
are one JSON file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from cibwatch.bots.data import BOT_TYPES
from cibwatch.bots.features import (
    BEHAVIOUR_FEATURES,
    PROFILE_FEATURES,
    ScreenNameModel,
    counts_without_rates,
)
from cibwatch.errors import ModelError

MODEL_DIR = Path(__file__).resolve().parent / "model"
CARD_FILE = "model.json"
BOOSTER_FILES = {"profile": "profile.txt", "behaviour": "behaviour.txt", "type": "type.txt"}
# Behaviour features of a handful of posts (entropies, gap statistics) sit far outside the
# long timelines the head was trained on, and read as automation: below this, profile only.
MIN_POSTS_FOR_BEHAVIOUR = 20


@dataclass
class Calibration:
    """A logistic map from raw booster margin to probability (Platt scaling).

    Two parameters, strictly increasing: the score keeps every distinction the margin makes
    (a step-wise isotonic map fit on out-of-collection predictions merged most of them), and it
    cannot bend to one collection's quirks.
    """

    slope: float
    intercept: float

    @classmethod
    def fit(cls, margin: np.ndarray, label: np.ndarray, weight: np.ndarray | None = None) -> Calibration:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(np.asarray(margin, dtype=np.float64).reshape(-1, 1), label, sample_weight=weight)
        slope = float(lr.coef_[0, 0])
        if slope > 0:
            return cls(slope=slope, intercept=float(lr.intercept_[0]))
        # Margins that do not rise with the label on held-out accounts say nothing: the score
        # is then the base rate for everyone (``informative`` is False).
        w = np.ones(len(label)) if weight is None else np.asarray(weight, dtype=np.float64)
        rate = float(np.clip(np.average(label, weights=w), 1e-4, 1 - 1e-4))
        return cls(slope=0.0, intercept=float(np.log(rate / (1 - rate))))

    @property
    def informative(self) -> bool:
        return self.slope > 0

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        # Never exactly 0 or 1: a calibrated score is not a certainty.
        return np.clip(_sigmoid(self.slope * np.asarray(margin) + self.intercept), 1e-4, 1 - 1e-4)


def _booster_from_text(text: str, name: str) -> lgb.Booster:
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ModelError(f"the {name} booster is damaged ({exc}); reinstall cibwatch or retrain") from None


class BotModel:
    """A trained bot model. Load the shipped one with ``BotModel.load()``."""

    def __init__(
        self,
        boosters: dict[str, lgb.Booster],
        card: dict[str, Any],
        name_model: ScreenNameModel,
        calibration: dict[str, Calibration],
        percentiles: dict[str, Any],
    ) -> None:
        self.boosters = boosters
        self.card = card
        self.name_model = name_model
        self.calibration = calibration
        self.percentiles = percentiles

    # -- identity ------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def threshold(self) -> float:
        """Scores at or above it are labelled ``bot``."""
        return float(self.card["threshold"])

    @property
    def uncertain_threshold(self) -> float:
        """Scores from it up to ``threshold`` are labelled ``uncertain`` (models before it had none)."""
        return float(self.card.get("uncertain_threshold", self.card["threshold"]))

    # -- storage -------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for head, booster in self.boosters.items():
            (directory / BOOSTER_FILES[head]).write_text(booster.model_to_string(num_iteration=-1))
        payload = {
            "card": self.card,
            "calibration": {
                k: {"slope": c.slope, "intercept": c.intercept} for k, c in self.calibration.items()
            },
            "screen_name_model": self.name_model.to_json(),
            "percentiles": self.percentiles,
        }
        (directory / CARD_FILE).write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path | None = None) -> BotModel:
        """The model in ``directory`` (default: the one shipped inside the package)."""
        directory = Path(directory) if directory else MODEL_DIR
        card_path = directory / CARD_FILE
        if not card_path.exists():
            raise ModelError(
                f"No bot model in {directory} (missing {CARD_FILE}); train one with `cibwatch bots train`"
            )
        try:
            payload = json.loads(card_path.read_text())
            card = payload["card"]
        except (ValueError, KeyError) as exc:
            raise ModelError(f"{card_path} is damaged ({exc}); reinstall cibwatch or retrain") from None
        boosters = {}
        for head in card.get("heads", list(BOOSTER_FILES)):
            path = directory / BOOSTER_FILES[head]
            if not path.exists():
                raise ModelError(f"{path} is missing; the model in {directory} is incomplete")
            boosters[head] = _booster_from_text(path.read_text(), head)
        for head in ("profile", "behaviour"):
            if head in boosters and boosters[head].feature_name() != card["features"][head]:
                raise ModelError(f"the {head} booster's features do not match {card_path}; retrain the model")
        return cls(
            boosters=boosters,
            card=card,
            name_model=ScreenNameModel.from_json(payload["screen_name_model"]),
            calibration=_calibrations(payload["calibration"], card_path),
            percentiles=payload["percentiles"],
        )

    # -- prediction ----------------------------------------------------------------
    def predict(self, profile: pl.DataFrame, behaviour: pl.DataFrame | None = None) -> pl.DataFrame:
        """Scores for feature frames from ``cibwatch.bots.features`` (one row per account).

        Returns account_id, bot_score, bot_label, bot_type, head, plus the raw margins.
        """
        ids = profile["account_id"]
        x_profile = profile.select(PROFILE_FEATURES).to_numpy().astype(np.float64)
        has_profile = profile_present(x_profile)
        x_profile = self.profile_inputs(x_profile)
        margin_p = np.asarray(self.boosters["profile"].predict(x_profile, raw_score=True, num_threads=1))
        p_profile = self.calibration["profile"](margin_p)
        score = np.where(has_profile, p_profile, np.nan)
        head = np.where(has_profile, "profile", None).astype(object)  # type: ignore[call-overload]
        margin_b = np.full(len(ids), np.nan)
        if behaviour is not None and not behaviour.is_empty() and "behaviour" in self.boosters:
            aligned = pl.DataFrame({"account_id": ids}).join(behaviour, on="account_id", how="left")
            x_b = aligned.select(BEHAVIOUR_FEATURES).to_numpy().astype(np.float64)
            # Posts without text (cascade edges, share tables) leave the content features missing,
            # which the head never saw in training: such timelines get no behaviour opinion.
            has_text = ~np.isnan(x_b[:, BEHAVIOUR_FEATURES.index("duplicate_share")])
            enough = (np.nan_to_num(x_b[:, 0], nan=0.0) >= MIN_POSTS_FOR_BEHAVIOUR) & has_text
            if enough.any():
                margin_b[enough] = self.boosters["behaviour"].predict(
                    x_b[enough], raw_score=True, num_threads=1
                )
                p_b = self.calibration["behaviour"](margin_b)
                both = enough & has_profile
                # Two calibrated opinions: average them on the log-odds scale.
                combined = _sigmoid((_logit(p_profile) + _logit(p_b)) / 2)
                score = np.where(both, combined, np.where(enough, p_b, score))
                head = np.where(enough, "profile+behaviour", head).astype(object)
        label = bot_labels(score, self.threshold, self.uncertain_threshold)
        # The kind of bot is asked only of accounts labelled bot.
        is_bot = label == "bot"
        bot_type = np.full(len(ids), None, dtype=object)
        if is_bot.any():
            types = self.boosters["type"].predict(x_profile[is_bot], num_threads=1)
            bot_type[is_bot] = np.asarray(self.card["bot_types"], dtype=object)[np.argmax(types, axis=1)]
        return pl.DataFrame(
            {
                "account_id": ids,
                "bot_score": score,
                "bot_label": label.tolist(),
                "bot_type": bot_type.tolist(),
                "head": head.tolist(),
                "margin_profile": margin_p,
                "margin_behaviour": margin_b,
            },
            schema_overrides={"bot_label": pl.String, "bot_type": pl.String, "head": pl.String},
        ).with_columns(pl.col("bot_score").fill_nan(None))

    def profile_inputs(self, x_profile: np.ndarray) -> np.ndarray:
        """The profile matrix as this model reads it (``counts_without_rates`` if trained so)."""
        # A model trained before the rule existed read every count; its card lacks the flag.
        return counts_without_rates(x_profile) if self.card.get("counts_without_rates") else x_profile

    # -- explanation ---------------------------------------------------------------
    def contributions(self, profile: pl.DataFrame) -> np.ndarray:
        """Per-feature contributions to the profile head's margin (LightGBM ``pred_contrib``)."""
        x = self.profile_inputs(profile.select(PROFILE_FEATURES).to_numpy().astype(np.float64))
        # TreeSHAP is the costly step of scoring (about 0.3 ms an account): all cores. Rows are
        # independent, so the result does not depend on the thread count.
        return np.asarray(self.boosters["profile"].predict(x, pred_contrib=True, num_threads=0))

    def behaviour_contributions(self, behaviour: pl.DataFrame) -> np.ndarray:
        x = behaviour.select(BEHAVIOUR_FEATURES).to_numpy().astype(np.float64)
        return np.asarray(self.boosters["behaviour"].predict(x, pred_contrib=True, num_threads=0))

    def human_percentile(self, feature: str, value: float) -> float | None:
        """Share (0–100) of human training accounts with a value below ``value``."""
        grid = self.percentiles.get(feature)
        if not grid or value is None or math.isnan(value):
            return None
        values = np.asarray(grid["q"], dtype=np.float64)
        below = np.searchsorted(values, value, side="left")
        at_or_below = np.searchsorted(values, value, side="right")
        return float(100.0 * (below + at_or_below) / 2 / (len(values) - 1))

    def describe(self) -> str:
        card = self.card
        return (
            f"cibwatch bot model {card['version']} (bot from {self.threshold:.2f}, "
            f"uncertain from {self.uncertain_threshold:.2f})"
        )


def bot_labels(score: np.ndarray, threshold: float, uncertain_threshold: float) -> np.ndarray:
    """'bot', 'uncertain' or 'human' per score (None where there is no score), as an object array."""
    states = np.where(score >= threshold, "bot", np.where(score >= uncertain_threshold, "uncertain", "human"))
    # numpy's stubs refuse None as a value of np.where; it gives an object array.
    return np.where(np.isnan(score), None, states).astype(object)  # type: ignore[call-overload]


def _calibrations(stored: dict[str, Any], card_path: Path) -> dict[str, Calibration]:
    try:
        return {k: Calibration(float(v["slope"]), float(v["intercept"])) for k, v in stored.items()}
    except (KeyError, TypeError, ValueError):
        raise ModelError(
            f"{card_path} holds a calibration this cibwatch does not read (a model from an older "
            "version, or a damaged file); retrain with `cibwatch bots train`"
        ) from None


def profile_present(x_profile: np.ndarray) -> np.ndarray:
    """Rows that carry any profile count (author-only rows have none)."""
    cols = [
        PROFILE_FEATURES.index(c)
        for c in ("followers", "following", "posts_count", "likes_count", "listed_count")
    ]
    return ~np.isnan(x_profile[:, cols]).all(axis=1)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def bot_types() -> tuple[str, ...]:
    return BOT_TYPES
