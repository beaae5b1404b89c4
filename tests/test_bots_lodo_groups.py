"""The grouped hold-outs of benchmarks/bots_lodo.py: whole collections, disjoint, one kept untouched."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from benchmarks.bots_lodo import BOT_REPOSITORY_2019, UNTOUCHED, collection_of, fold_plan, run_fold

# Every dataset name the training mix yields today (load_labeled on default_training_sets).
VISIBLE = {
    "astroturf": BOT_REPOSITORY_2019,
    "bots_data": "kaggle-2017",
    "botwiki-2019": BOT_REPOSITORY_2019,
    "content_polluters": "caverlee-2011",
    "fakeusers": "cresci-2017",
    "geniune_accounts": "cresci-2017",
    "gilani-2017": "gilani-2017",
    "legitimate_users": "caverlee-2011",
    "nonbots_data": "kaggle-2017",
    "political-bots-2019": BOT_REPOSITORY_2019,
    "pronbots-2019": BOT_REPOSITORY_2019,
    "social_spambots_1": "cresci-2017",
    "social_spambots_2": "cresci-2017",
    "social_spambots_3": "cresci-2017",
    "varol-2017": BOT_REPOSITORY_2019,
    "vendor-purchased-2019": BOT_REPOSITORY_2019,
    "verified-2019": BOT_REPOSITORY_2019,
}


def test_every_visible_set_lands_in_the_collection_the_issue_names():
    assert {d: collection_of(d) for d in VISIBLE} == VISIBLE
    assert set(VISIBLE.values()) == {
        "cresci-2017",
        "caverlee-2011",
        "kaggle-2017",
        "gilani-2017",
        BOT_REPOSITORY_2019,
    }


def test_a_set_from_elsewhere_is_a_group_of_its_own():
    assert collection_of("twibot-20") == "twibot-20"
    assert collection_of("fake_followers") == "cresci-2017"


def test_folds_hold_out_each_group_once_and_never_train_on_the_untouched_one():
    collections = sorted(set(VISIBLE.values()))
    plan = fold_plan(collections)
    held = [h for h, _ in plan]
    assert sorted(held) == collections  # every group held out exactly once
    assert held[-1] == UNTOUCHED  # reported last
    for h, trained_on in plan:
        assert h not in trained_on  # disjoint: a fold never trains on what it measures
        assert UNTOUCHED not in trained_on  # no fold, not even its own, trains on the untouched group
        assert set(trained_on) | {h, UNTOUCHED} == set(collections)  # and uses every other group
    assert plan[-1][1] == [c for c in collections if c != UNTOUCHED]


def test_without_the_untouched_group_in_the_data_every_group_is_a_selection_fold():
    plan = fold_plan(["b", "a"], untouched="z")
    assert plan == [("a", ["b"]), ("b", ["a"])]


def test_run_fold_refuses_to_train_on_what_it_holds_out():
    accounts = pl.DataFrame({"dataset": ["gilani-2017"], "label": ["bot"]})
    with pytest.raises(ValueError, match="both held out and trained on"):
        run_fold(accounts, pl.Series(["gilani-2017"]), "gilani-2017", ["gilani-2017"], 5, 0, 0.5)


def test_the_untouched_group_is_not_seen_by_a_selection_fold(monkeypatch):
    """The rows a selection fold trains on come only from the groups the plan names."""
    import benchmarks.bots_lodo as lodo

    seen: dict[str, set[str]] = {}

    class Stop(Exception):
        pass

    class Spy:
        def __init__(self, **_):
            pass

        def fit(self, labeled):
            seen["train"] = set(labeled.accounts["group"].to_list())
            raise Stop

    monkeypatch.setattr(lodo, "BotClassifier", Spy)
    groups = ["cresci-2017", "gilani-2017", UNTOUCHED, "kaggle-2017"]
    accounts = pl.DataFrame(
        {
            "group": groups * 2,
            "label": ["bot"] * 4 + ["human"] * 4,
            "followers": np.arange(8),
            "posts_count": np.arange(8),
        }
    )
    for held, trained_on in fold_plan(groups):
        with pytest.raises(Stop):
            run_fold(accounts, accounts["group"], held, trained_on, 5, 0, 0.5)
        assert seen["train"] == set(trained_on)
        if held != UNTOUCHED:
            assert UNTOUCHED not in seen["train"]


def test_the_selection_benchmark_scores_every_variant_kind_on_held_out_accounts():
    from benchmarks.bots_select import VARIANTS, margins
    from tests.bots.conftest import synthetic_accounts

    train, test = synthetic_accounts(300, seed=3), synthetic_accounts(100, seed=4)
    y = (test["label"] == "bot").to_numpy()
    plain = next(v for v in VARIANTS if not v.per_bot_type)
    ensemble = next(v for v in VARIANTS if v.per_bot_type)
    for variant in (plain, ensemble):
        m = margins(variant, train, test, seed=0)
        assert m.shape == (test.height,) and np.isfinite(m).all()
        # The synthetic classes differ plainly: any variant ranks held-out bots above humans.
        assert m[y].mean() > m[~y].mean()


def test_the_selection_benchmark_never_reads_the_untouched_group(monkeypatch, capsys):
    import benchmarks.bots_select as select
    from cibwatch.bots.data import LabeledSet
    from tests.bots.conftest import synthetic_accounts

    names = ["gilani-2017", "pronbots-2019", "kaggle_bots_data", "caverlee_content_polluters"]
    accounts = synthetic_accounts(80, seed=1).with_columns(
        pl.Series("dataset", [names[i // 2 % 4] for i in range(80)])
    )
    monkeypatch.setattr(select, "load_labeled", lambda *a, **k: LabeledSet(accounts, pl.DataFrame()))
    monkeypatch.setattr(select, "default_training_sets", lambda root: [])
    read: set[str] = set()

    def spy(variant, train, test, seed):
        read.update(train["dataset"].to_list() + test["dataset"].to_list())
        return np.random.default_rng(seed).random(test.height)

    monkeypatch.setattr(select, "margins", spy)
    monkeypatch.setattr("sys.argv", ["bots_select", "--seeds", "1", "--variants", "2"])
    select.main()
    assert read == {"gilani-2017", "kaggle_bots_data", "caverlee_content_polluters"}
    assert "By the rule:" in capsys.readouterr().out
