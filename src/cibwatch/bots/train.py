"""Training the bot model for cross-dataset generalization.

What matters more than the learner (see FINDINGS): which sets are trained on and how they
are weighted, and that missing values carry no label. So:

- every (collection, label) group gets the same total weight, and inside a collection each set
  weighs the square root of its size, so one big bot set (pronbots) does not define "bot" and
  one collection with many files (cresci-2017) does not outweigh the others;
- a masked copy of every row hides the fields some sources lack (likes and profile flags in
  X API v2; account age without a probe time), so missing never means bot or human;
- totals are read only where their per-day rate is unknown (``counts_without_rates``): a total
  says when a set was collected, a rate says what the account does;
- the screen-name likelihood of a training human is computed out of fold, so it does not
  recognise itself;
- calibration and the thresholds come from out-of-collection predictions: each collection
  scored by a model trained on the others, so they describe accounts from a collection the
  model has not seen. The bot threshold holds the false-positive rate on every collection's
  humans, not on their mean (the worst case); grouped hold-outs are in benchmarks/bots_lodo.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from cibwatch import __version__
from cibwatch.bots.data import BOT_TYPES, LabeledSet, collection_of
from cibwatch.bots.features import (
    BEHAVIOUR_FEATURES,
    PROFILE_FEATURES,
    ScreenNameModel,
    behaviour_features,
    counts_without_rates,
    profile_features,
)
from cibwatch.bots.model import BotModel, Calibration, profile_present
from cibwatch.errors import ConfigError
from cibwatch.progress import Progress, ProgressEvent

# Fields that some sources never have: masked together in the augmented copy.
MASK_GROUPS = {
    "v2_absent": [
        "likes_count",
        "likes_per_day",
        "likes_per_post",
        "likes_per_follower",
        "default_profile",
        "default_profile_image",
        "profile_use_background_image",
    ],
    "no_probe_time": [
        "age_days",
        "posts_per_day",
        "followers_per_day",
        "following_per_day",
        "likes_per_day",
        "listed_per_day",
    ],
    "no_names": [
        "screen_name_length",
        "screen_name_digits",
        "name_length",
        "name_digits",
        "screen_name_likelihood",
        "self_declared_bot",
    ],
}
PERCENTILE_POINTS = 201


class BotClassifier:
    """Trains the three heads and packs them into a ``BotModel`` (``model_``).

    >>> clf = BotClassifier(random_state=0).fit(labeled)      # doctest: +SKIP
    >>> clf.model_.save("my-model")                            # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        # The profile head's trees: 7 leaves of at least 200 accounts each, rules that hold for
        # many accounts rather than one set's corner (chosen on grouped hold-outs, benchmark
        # bots_select); leaves of at most a twentieth of the rows, so a small set can still split.
        # The behaviour and type heads keep 15 leaves of 40.
        num_leaves: int = 7,
        min_child_samples: int = 200,
        # Random split points and half the features per tree: smoother, less tied to one set's
        # thresholds. Chosen leave-one-dataset-out (docs/benchmarks.md).
        extra_trees: bool = True,
        feature_fraction: float = 0.5,
        max_per_group: int = 3000,
        # "collection": every collection weighs the same (sets inside it by sqrt of size);
        # "set": every labeled set by sqrt of its size, as before version 0.2.
        weight_by: str = "collection",
        mask_copies: int = 1,
        mask_probability: float = 0.5,
        # Left out by default: they say which collection an account came from more than what it
        # is (verified-2019 is all verified; age and post totals grow with the collection year).
        drop_features: tuple[str, ...] = ("verified", "age_days", "posts_count"),
        target_human_fpr: float = 0.02,
        uncertain_human_fpr: float = 0.10,
        calibration_folds: int = 3,
        n_jobs: int = 2,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.extra_trees = extra_trees
        self.feature_fraction = feature_fraction
        self.max_per_group = max_per_group
        self.weight_by = weight_by
        self.mask_copies = mask_copies
        self.mask_probability = mask_probability
        self.drop_features = drop_features
        self.target_human_fpr = target_human_fpr
        self.uncertain_human_fpr = uncertain_human_fpr
        self.calibration_folds = calibration_folds
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- public --------------------------------------------------------------------
    def fit(
        self,
        labeled: LabeledSet,
        behaviour_set: LabeledSet | None = None,
        *,
        progress: Progress | None = None,
    ) -> BotClassifier:
        self._validate()
        rng = np.random.default_rng(self.random_state)
        accounts = cap_groups(labeled.accounts, self.max_per_group, self.random_state)
        profile, names = self._profile_frame(accounts)
        has_profile = profile_present(profile.select(PROFILE_FEATURES).to_numpy())
        train = profile.filter(pl.Series(has_profile))
        meta = accounts.filter(pl.Series(has_profile))
        y = (meta["label"] == "bot").to_numpy().astype(np.float64)
        if min((y == 0).sum(), (y == 1).sum()) < self.calibration_folds:
            raise ConfigError(
                f"Training needs both bots and humans with profiles (at least {self.calibration_folds} "
                "of each); add a labeled set of the missing class"
            )
        collections = meta["dataset"].map_elements(collection_of, return_dtype=pl.String).to_numpy()
        weight = group_weights(meta["dataset"], meta["label"], by=self.weight_by)
        x = self._matrix(train)
        _step(progress, "profile head: calibration folds", 0, 1)
        folds, fold_kind = self._folds(y, collections, rng, by_collection=True)
        oof = self._oof(x, y, weight, folds, rng)
        warnings = []
        calibration = Calibration.fit(oof, y, weight)
        if not calibration.informative and fold_kind == "collections":
            # No collection predicts another: the sets disagree on what a bot is. Say so, and
            # calibrate on mixed folds, which at least describe accounts like the training ones.
            warnings.append(
                "scored out of collection, the profile head does not rank bots above humans; "
                "calibrated on stratified folds instead"
            )
            folds, fold_kind = self._folds(y, collections, rng, by_collection=False)
            oof = self._oof(x, y, weight, folds, rng)
            calibration = Calibration.fit(oof, y, weight)
        if not calibration.informative:
            warnings.append(
                "the profile head does not rank held-out bots above humans: every score is the base rate"
            )
        calibrated = calibration(oof)
        human_groups = collections if fold_kind == "collections" else np.zeros(len(y), dtype=object)
        threshold = worst_case_threshold(calibrated, y, human_groups, self.target_human_fpr)
        loose = worst_case_threshold(calibrated, y, human_groups, self.uncertain_human_fpr)
        uncertain = min(threshold, loose)
        _step(progress, "profile head: final", 0, 1)
        profile_booster = self._train_binary(x, y, weight, rng)
        _step(progress, "type head", 0, 1)
        # A bot that calls itself one is self-declared, whichever set it came from (half the
        # Kaggle set's bots, labelled "other" by their set, say so).
        declared = train["self_declared_bot"].to_numpy() == 1
        kinds = np.where(declared, "self_declared", meta["bot_type"].to_numpy().astype(object))
        type_booster = self._train_type(x[y == 1], kinds[y == 1].tolist(), rng)
        percentiles = human_percentiles(train.filter(pl.Series(y == 0)), PROFILE_FEATURES)
        boosters = {"profile": profile_booster, "type": type_booster}
        calibrations = {"profile": calibration}
        behaviour_metrics: dict[str, Any] = {}
        if behaviour_set is not None:
            _step(progress, "behaviour head", 0, 1)
            booster, cal, pct, behaviour_metrics = self._fit_behaviour(behaviour_set, rng)
            if not cal.informative:
                warnings.append("the behaviour head does not rank held-out bots above humans")
            boosters["behaviour"] = booster
            calibrations["behaviour"] = cal
            percentiles.update(pct)
        card = {
            "name": "cibwatch-bots",
            # Named by what made it, not when: the same sets and settings give the same bytes.
            "version": f"{__version__}+{_fingerprint(labeled, behaviour_set, self.get_params())}",
            "threshold": round(float(threshold), 4),
            "uncertain_threshold": round(float(uncertain), 4),
            "threshold_rule": (
                f"the lowest calibrated score at which at most {self.target_human_fpr:.0%} of the humans of "
                f"every {fold_kind[:-1]} score as bots ({self.uncertain_human_fpr:.0%} for uncertain), "
                "each scored by a model that did not train on it"
            ),
            "features": {"profile": PROFILE_FEATURES, "behaviour": BEHAVIOUR_FEATURES},
            "dropped_features": list(self.drop_features),
            "counts_without_rates": True,
            "bot_types": list(BOT_TYPES),
            "heads": sorted(boosters),
            "params": self.get_params(),
            "training_sets": _set_summary(meta, labeled),
            "behaviour_training_sets": _set_summary(behaviour_set.accounts, behaviour_set)
            if behaviour_set
            else [],
            "dropped_conflicting_labels": labeled.dropped_conflicts,
            "metrics": {
                # Per collection, each scored by a model that did not train on it (or out of fold).
                "profile_held_out": held_out_metrics(calibrated, y, collections, threshold),
                "held_out_by": fold_kind,
                "behaviour": behaviour_metrics,
            },
            "warnings": warnings,
            "calibration": (
                "isotonic on out-of-collection predictions (each collection scored by a model trained on "
                "the others), both classes weighted equally"
                if fold_kind == "collections"
                else f"isotonic on out-of-fold predictions ({self.calibration_folds} stratified folds; "
                "fewer than two collections with both labels left out in turn)"
            ),
        }
        self.model_ = BotModel(boosters, card, names, calibrations, percentiles)
        return self

    def get_params(self) -> dict[str, Any]:
        keys = (
            "n_estimators learning_rate num_leaves min_child_samples extra_trees feature_fraction "
            "max_per_group weight_by mask_copies mask_probability drop_features target_human_fpr "
            "uncertain_human_fpr calibration_folds n_jobs random_state"
        ).split()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(self, k)) for k in keys)}

    # -- internals -----------------------------------------------------------------
    def _validate(self) -> None:
        if self.calibration_folds < 2:
            raise ConfigError(f"calibration_folds must be at least 2; got {self.calibration_folds}")
        if self.n_estimators < 1 or self.num_leaves < 2:
            raise ConfigError(
                "n_estimators must be >= 1 and num_leaves >= 2; "
                f"got {self.n_estimators} and {self.num_leaves}"
            )
        if self.weight_by not in ("collection", "set"):
            raise ConfigError(f"weight_by must be 'collection' or 'set'; got {self.weight_by!r}")
        if not 0 < self.target_human_fpr <= self.uncertain_human_fpr < 1:
            raise ConfigError(
                "need 0 < target_human_fpr <= uncertain_human_fpr < 1; "
                f"got {self.target_human_fpr} and {self.uncertain_human_fpr}"
            )
        if not 0 <= self.mask_probability <= 1:
            raise ConfigError(f"mask_probability must be in [0, 1]; got {self.mask_probability}")
        if not 0 < self.feature_fraction <= 1:
            raise ConfigError(f"feature_fraction must be in (0, 1]; got {self.feature_fraction}")
        unknown = set(self.drop_features) - set(PROFILE_FEATURES)
        if unknown:
            raise ConfigError(
                f"drop_features names unknown features {sorted(unknown)}; choose from {PROFILE_FEATURES}"
            )

    def _profile_frame(self, accounts: pl.DataFrame) -> tuple[pl.DataFrame, ScreenNameModel]:
        humans = accounts.filter(pl.col("label") == "human")
        names = ScreenNameModel().fit(humans["screen_name"].to_list())
        frame = profile_features(accounts, names)
        # Cross-fit: a human's own handle must not make its handle look human.
        fold = (np.arange(accounts.height) * 7919 + self.random_state) % 5
        is_human = (accounts["label"] == "human").to_numpy()
        likelihood = frame["screen_name_likelihood"].to_numpy().copy()
        screen_names = accounts["screen_name"].to_list()
        for k in range(5):
            part = ScreenNameModel().fit(
                n for n, f, h in zip(screen_names, fold, is_human, strict=True) if h and f != k
            )
            rows = np.flatnonzero(is_human & (fold == k))
            likelihood[rows] = part.log_likelihood([screen_names[i] for i in rows])
        frame = frame.with_columns(pl.Series("screen_name_likelihood", likelihood))
        return frame, names

    def _matrix(self, frame: pl.DataFrame) -> np.ndarray:
        x = frame.select(PROFILE_FEATURES).to_numpy().astype(np.float64)
        for name in self.drop_features:
            x[:, PROFILE_FEATURES.index(name)] = np.nan
        return x

    def _augment(
        self, x: np.ndarray, y: np.ndarray, w: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The profile rows plus masked copies, as the model reads them (``counts_without_rates``)."""
        parts_x, parts_y, parts_w = [x], [y], [w]
        for _ in range(self.mask_copies):
            copy = x.copy()
            for cols in MASK_GROUPS.values():
                idx = [PROFILE_FEATURES.index(c) for c in cols]
                hide = rng.random(len(x)) < self.mask_probability
                copy[np.ix_(hide, np.asarray(idx))] = np.nan
            parts_x.append(copy)
            parts_y.append(y)
            parts_w.append(w)
        # After masking: a copy whose rates are hidden keeps its counts, as a source without
        # probe times would show them.
        return counts_without_rates(np.vstack(parts_x)), np.concatenate(parts_y), np.concatenate(parts_w)

    def _params(self, rng: np.random.Generator, **extra: Any) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": 15,
            "min_child_samples": 40,
            "feature_fraction": self.feature_fraction,
            "extra_trees": self.extra_trees,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "num_threads": self.n_jobs,
            "seed": int(rng.integers(0, 2**31 - 1)),
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **extra,
        }

    def _train_binary(
        self, x: np.ndarray, y: np.ndarray, w: np.ndarray, rng: np.random.Generator
    ) -> lgb.Booster:
        xa, ya, wa = self._augment(x, y, w, rng)
        data = lgb.Dataset(xa, ya, weight=wa, feature_name=PROFILE_FEATURES, free_raw_data=True)
        leaf = min(self.min_child_samples, max(5, len(ya) // 20))
        params = self._params(rng, num_leaves=self.num_leaves, min_child_samples=leaf)
        return lgb.train(params, data, num_boost_round=self.n_estimators)

    def _folds(
        self, y: np.ndarray, collections: np.ndarray, rng: np.random.Generator, *, by_collection: bool
    ) -> tuple[np.ndarray, str]:
        """One fold per collection when at least two can be left out; else stratified folds.

        A collection can be left out when the others still hold both labels: then its accounts
        are scored as the model will score a collection it never saw.
        """
        names, index = np.unique(collections.astype(str), return_inverse=True)
        each_leaves_both = all(len(np.unique(y[index != k])) == 2 for k in range(len(names)))
        if by_collection and len(names) >= 2 and each_leaves_both:
            return index, "collections"
        folds = np.zeros(len(y), dtype=int)
        for cls in (0, 1):
            rows = np.flatnonzero(y == cls)
            folds[rng.permutation(rows)] = np.arange(len(rows)) % self.calibration_folds
        return folds, "folds"

    def _oof(
        self, x: np.ndarray, y: np.ndarray, w: np.ndarray, folds: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Margins of each fold's accounts from a model trained on the other folds."""
        oof = np.zeros(len(y))
        for k in range(int(folds.max()) + 1):
            held = folds == k
            if not held.any():
                continue
            booster = self._train_binary(x[~held], y[~held], w[~held], rng)
            x_held = counts_without_rates(x[held])
            oof[held] = booster.predict(x_held, raw_score=True, num_threads=self.n_jobs)
        return oof

    def _train_type(self, x: np.ndarray, kinds: list[str], rng: np.random.Generator) -> lgb.Booster:
        y = np.array([BOT_TYPES.index(k) for k in kinds], dtype=np.float64)
        counts = np.bincount(y.astype(int), minlength=len(BOT_TYPES)).astype(np.float64)
        w = 1.0 / np.maximum(counts[y.astype(int)], 1.0)
        w *= len(y) / w.sum()
        xa, ya, wa = self._augment(x, y, w, rng)
        params = self._params(rng, objective="multiclass", num_class=len(BOT_TYPES))
        data = lgb.Dataset(xa, ya, weight=wa, feature_name=PROFILE_FEATURES)
        return lgb.train(params, data, num_boost_round=max(50, self.n_estimators // 3))

    def _fit_behaviour(
        self, behaviour_set: LabeledSet | None, rng: np.random.Generator
    ) -> tuple[lgb.Booster, Calibration, dict[str, Any], dict[str, Any]]:
        if behaviour_set is None or behaviour_set.posts.is_empty():
            raise ConfigError(
                "The behaviour head needs labeled accounts with posts (e.g. the cresci-2015 timelines); "
                "pass them with --behaviour"
            )
        feats = behaviour_features(behaviour_set.posts)
        table = feats.join(behaviour_set.accounts.select("account_id", "label", "dataset"), on="account_id")
        table = table.filter(pl.col("n_posts_seen") >= 5).sort("account_id")
        y = (table["label"] == "bot").to_numpy().astype(np.float64)
        if min((y == 0).sum(), (y == 1).sum()) < 2:
            raise ConfigError(
                "The behaviour sets need at least 2 bots and 2 humans with 5 or more posts each; "
                "pass labeled timelines with --behaviour"
            )
        x = table.select(BEHAVIOUR_FEATURES).to_numpy().astype(np.float64)
        # How many posts the case happens to hold says nothing about the account.
        x[:, 0] = np.nan
        w = group_weights(table["dataset"], table["label"], by="set")
        folds = (np.arange(len(y)) * 7919 + self.random_state) % 5
        oof = np.zeros(len(y))
        # Extra trees were chosen for the profile head, across sets; this head has one source,
        # where ordinary trees measured better (out-of-fold ROC AUC 0.990 against 0.987).
        params = self._params(rng, extra_trees=False, feature_fraction=0.7)
        rounds = max(50, self.n_estimators // 2)
        for k in range(5):
            held = folds == k
            if not held.any():
                continue
            data = lgb.Dataset(x[~held], y[~held], weight=w[~held], feature_name=BEHAVIOUR_FEATURES)
            oof[held] = lgb.train(params, data, num_boost_round=rounds).predict(x[held], raw_score=True)
        calibration = Calibration.fit(oof, y, w)
        booster = lgb.train(
            params, lgb.Dataset(x, y, weight=w, feature_name=BEHAVIOUR_FEATURES), num_boost_round=rounds
        )
        metrics = binary_metrics(calibration(oof), y, 0.5)
        pct = human_percentiles(table.filter(pl.col("label") == "human"), BEHAVIOUR_FEATURES)
        return booster, calibration, pct, {"out_of_fold": metrics, "note": "in-set folds: one source only"}


def cap_groups(accounts: pl.DataFrame, cap: int, random_state: int) -> pl.DataFrame:
    """At most ``cap`` accounts per (set, label), sampled reproducibly: big sets add little past that."""
    return (
        accounts.with_columns(
            pl.col("account_id")
            .hash(seed=random_state)
            .rank("ordinal")
            .over("dataset", "label")
            .alias("_rank")
        )
        .filter(pl.col("_rank") <= cap)
        .drop("_rank")
    )


def group_weights(datasets: pl.Series, labels: pl.Series, *, by: str = "collection") -> np.ndarray:
    """Per-row weights: every (collection, label) group totals the same, and inside it each set
    weighs the square root of its size (``by="set"``: each set by the square root of its size,
    whatever its collection); both classes total the same.
    """
    frame = pl.DataFrame({"d": datasets, "l": labels}).with_columns(
        w=1.0 / pl.len().over("d", "l").cast(pl.Float64).sqrt()
    )
    if by == "collection":
        collection = pl.col("d").map_elements(collection_of, return_dtype=pl.String)
        frame = frame.with_columns(pl.col("w") / pl.col("w").sum().over(collection, "l"))
    w = frame["w"].to_numpy().copy()
    is_bot = (frame["l"] == "bot").to_numpy()
    for mask in (is_bot, ~is_bot):
        if mask.any():
            w[mask] *= 0.5 * len(w) / w[mask].sum()
    return w


def pick_threshold(human_scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold at which at most ``target_fpr`` of held-out humans score as bots (>= 0.5)."""
    if len(human_scores) == 0:
        return 0.5
    return float(max(0.5, np.quantile(human_scores, 1 - target_fpr) + 1e-9))


# A group's humans set the threshold only if there are enough of them for a tail quantile.
MIN_HUMANS_FOR_THRESHOLD = 50


def worst_case_threshold(score: np.ndarray, y: np.ndarray, groups: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold that holds ``target_fpr`` on the humans of every group (>= 0.5).

    The groups are the collections each scored out of collection: the threshold meets the
    target on the least typical of them, not on the pooled humans, where one big collection of
    easy humans would hide a small one of hard ones.
    """
    humans = y == 0
    per_group = [
        pick_threshold(score[humans & (groups == g)], target_fpr)
        for g in sorted(set(groups[humans].tolist()))
        if (humans & (groups == g)).sum() >= MIN_HUMANS_FOR_THRESHOLD
    ]
    return max(per_group) if per_group else pick_threshold(score[humans], target_fpr)


def human_percentiles(frame: pl.DataFrame, features: list[str]) -> dict[str, Any]:
    out = {}
    qs = np.linspace(0, 1, PERCENTILE_POINTS)
    for name in features:
        values = frame[name].to_numpy().astype(np.float64)
        values = values[~np.isnan(values)]
        if len(values) >= 20:
            out[name] = {
                "q": [float(round(v, 6)) for v in np.quantile(values, qs)],
                "mean": float(values.mean()),
            }
    return out


def binary_metrics(score: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float | int | None]:
    """ROC AUC, PR AUC, F1, precision, recall and human FPR at ``threshold``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    pred = score >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    both = len(np.unique(y)) == 2
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if both else None)
    humans = int((y == 0).sum())
    return {
        "n_bots": int((y == 1).sum()),
        "n_humans": humans,
        "roc_auc": float(roc_auc_score(y, score)) if both else None,
        "pr_auc": float(average_precision_score(y, score)) if both else None,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "human_fpr": fp / humans if humans else None,
    }


def held_out_metrics(
    score: np.ndarray, y: np.ndarray, groups: np.ndarray, threshold: float
) -> dict[str, Any]:
    return {
        str(g): binary_metrics(score[groups == g], y[groups == g], threshold) for g in sorted(set(groups))
    }


def _set_summary(accounts: pl.DataFrame, labeled: LabeledSet) -> list[dict[str, Any]]:
    counts = accounts.group_by("dataset", "label").len().sort("dataset", "label")
    return [{"dataset": d, "label": lab, "accounts": n} for d, lab, n in counts.iter_rows()] + [
        {"file": f["path"].split("/shared/")[-1], "sha256": f["sha256"]} for f in labeled.files
    ]


def _fingerprint(labeled: LabeledSet, behaviour_set: LabeledSet | None, params: dict[str, Any]) -> str:
    """Eight hex digits of the training files' hashes and the parameters."""
    sets = [labeled, behaviour_set] if behaviour_set else [labeled]
    files = [f["sha256"] for one in sets for f in one.files]
    payload = json.dumps({"files": files, "params": params}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def _step(progress: Progress | None, step: str, done: int, total: int) -> None:
    if progress is not None:
        progress(ProgressEvent("bots", step, done, total))
