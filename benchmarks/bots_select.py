"""How the bot model's training choices were selected: the worst grouped hold-out, not the mean.

Every variant is trained on the selection collections but one and scored on that one (ROC AUC of
the profile head's margin; calibration is monotone and cannot change it), over three seeds.
The untouched collection (``bots_lodo.UNTOUCHED``) is never read. The rule, fixed before the
variants were run: the variant with the highest worst-group AUC wins; variants within 0.005 of
it are tied, and the tie goes to the highest mean over the groups.

    python -m benchmarks.bots_select [--data-root ../shared/data] [--set PATH ...] [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from benchmarks.bots_lodo import UNTOUCHED, _with_profile, add_labeled_set_options
from benchmarks.harness import benchmark, run_measured, shared
from cibwatch.bots.data import collection_of, load_labeled
from cibwatch.bots.features import RATIO_FEATURES, counts_without_rates, profile_features
from cibwatch.bots.train import BotClassifier, cap_groups, group_weights
from cibwatch.bots.training_sets import default_training_sets

TIE = 0.005


@dataclass(frozen=True)
class Variant:
    name: str
    params: dict[str, Any] = field(default_factory=dict)  # BotClassifier parameters
    per_bot_type: bool = False  # Botometer v4's ensemble: one head per bot type, the maximum
    leave_out: tuple[str, ...] = ()  # training-set selection: collections never trained on


DROPPED = ("verified", "age_days", "posts_count")
PREVIOUS = {
    "weight_by": "set",
    "num_leaves": 15,
    "min_child_samples": 40,
    "drop_features": (*DROPPED, *RATIO_FEATURES),
}
VARIANTS = [
    Variant("previous (0.1: per-set weights, 15 leaves ≥ 40, no ratios)", PREVIOUS),
    Variant("+ ratios", {**PREVIOUS, "drop_features": DROPPED}),
    Variant("+ ratios, per-collection weights", {"num_leaves": 15, "min_child_samples": 40}),
    Variant("+ ratios, per-collection weights, leaves ≥ 200", {"num_leaves": 15}),
    Variant("+ ratios, per-collection weights, 7 leaves ≥ 200 (shipped)", {}),
    Variant("shipped, 300 rounds", {"n_estimators": 300}),
    Variant("shipped, ordinary trees", {"extra_trees": False}),
    Variant("shipped, per-bot-type ensemble (max)", {}, per_bot_type=True),
    Variant("shipped, without caverlee-2011", {}, leave_out=("caverlee-2011",)),
    Variant("shipped, without kaggle-2017", {}, leave_out=("kaggle-2017",)),
]


def margins(variant: Variant, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> np.ndarray:
    """The profile head's margins on ``test``, trained as the variant says on ``train``."""
    clf = BotClassifier(n_jobs=2, random_state=seed, **variant.params)
    rng = np.random.default_rng(seed)
    train = cap_groups(train, clf.max_per_group, seed)
    frame, names = clf._profile_frame(train)
    x = clf._matrix(frame)
    x_test = counts_without_rates(clf._matrix(profile_features(test, names)))
    y = (train["label"] == "bot").to_numpy().astype(np.float64)
    w = group_weights(train["dataset"], train["label"], by=clf.weight_by)
    if not variant.per_bot_type:
        return clf._train_binary(x, y, w, rng).predict(x_test, raw_score=True)
    kinds = train["bot_type"].to_numpy()
    heads = []
    for kind in sorted(set(kinds[y == 1])):
        rows = (y == 0) | (kinds == kind)
        if (rows & (y == 1)).sum() < 50:
            continue
        wk = w[rows].copy()
        # Each head sees its bots and all humans at equal weight.
        wk[y[rows] == 1] *= wk[y[rows] == 0].sum() / wk[y[rows] == 1].sum()
        heads.append(clf._train_binary(x[rows], y[rows], wk, rng).predict(x_test, raw_score=True))
    return np.max(heads, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_labeled_set_options(parser)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", type=int, default=len(VARIANTS), help="Run the first N variants.")
    args = parser.parse_args()
    accounts = load_labeled(args.sets or default_training_sets(args.data_root), with_posts=False).accounts
    groups = accounts["dataset"].map_elements(collection_of, return_dtype=pl.String)
    accounts = accounts.filter(groups != UNTOUCHED)
    groups = groups.filter(groups != UNTOUCHED)
    selection = sorted(groups.unique().to_list())
    print(
        f"Profile-head ROC AUC per held-out collection, mean over seeds 0–{args.seeds - 1}; trained on the "
        f"other selection collections, never on {UNTOUCHED}. Rule: highest worst group; within {TIE} of it, "
        "highest mean.\n"
    )
    print(f"| variant | {' | '.join(selection)} | worst | mean | seconds |")
    print("|---|" + "---|" * (len(selection) + 3))
    results = {}
    for variant in VARIANTS[: args.variants]:
        started = time.perf_counter()
        per_group = {}
        for held in selection:
            train = accounts.filter(~groups.is_in([held, *variant.leave_out]))
            test = _with_profile(accounts.filter(groups == held))
            y = (test["label"] == "bot").to_numpy()
            per_group[held] = float(
                np.mean([roc_auc_score(y, margins(variant, train, test, s)) for s in range(args.seeds)])
            )
        worst, mean = min(per_group.values()), float(np.mean(list(per_group.values())))
        results[variant.name] = (worst, mean)
        cells = " | ".join(f"{per_group[g]:.3f}" for g in selection)
        print(
            f"| {variant.name} | {cells} | {worst:.3f} | {mean:.3f} | {time.perf_counter() - started:.0f} |"
        )
    best_worst = max(w for w, _ in results.values())
    tied = {n: m for n, (w, m) in results.items() if w >= best_worst - TIE}
    print(f"\nBy the rule: **{max(tied, key=lambda n: tied[n])}** (tied within {TIE}: {', '.join(tied)}).")


if __name__ == "__main__":
    main()


@benchmark("bots_select", "Account scoring: how the training choices were selected (worst grouped hold-out)")
def run(smoke: bool) -> str:
    shared("bots")
    args = ["--seeds", "1", "--variants", "2"] if smoke else []
    return run_measured([sys.executable, "-m", "benchmarks.bots_select", *args]).stdout.strip()
