from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from cibwatch.bots import score
from cibwatch.bots.data import LabeledSet, bot_type_of
from cibwatch.bots.features import profile_features
from cibwatch.bots.model import BotModel
from cibwatch.bots.train import BotClassifier
from cibwatch.errors import ConfigError, ModelError
from tests.bots.conftest import synthetic_accounts, synthetic_posts


def test_calibration_is_reliable_on_held_out_data(tiny_model):
    held_out = synthetic_accounts(2000, seed=7)
    p = tiny_model.predict(profile_features(held_out, tiny_model.name_model))["bot_score"].to_numpy()
    y = (held_out["label"] == "bot").to_numpy()
    # Reliability: within each band of predicted probability, the share of bots matches it.
    for lo, hi in ((0.0, 0.2), (0.2, 0.8), (0.8, 1.0)):
        band = (p >= lo) & (p < hi)
        if band.sum() >= 50:
            assert abs(y[band].mean() - p[band].mean()) < 0.1, (lo, hi, y[band].mean(), p[band].mean())
    assert ((p >= 0) & (p <= 1)).all()
    assert abs(y.mean() - p.mean()) < 0.08


def test_model_round_trip(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "m")
    loaded = BotModel.load(tmp_path / "m")
    frame = profile_features(synthetic_accounts(50, seed=3), tiny_model.name_model)
    a, b = tiny_model.predict(frame), loaded.predict(frame)
    assert a["bot_score"].to_list() == b["bot_score"].to_list()
    assert a["bot_type"].to_list() == b["bot_type"].to_list()
    assert loaded.card["threshold"] == tiny_model.threshold
    # No pickle: text boosters and one JSON file.
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "behaviour.txt",
        "model.json",
        "profile.txt",
        "type.txt",
    ]
    assert json.loads((tmp_path / "m" / "model.json").read_text())["card"]["heads"] == [
        "behaviour",
        "profile",
        "type",
    ]


def test_damaged_model_is_a_clear_error(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "m")
    (tmp_path / "m" / "profile.txt").write_text("not a model")
    with pytest.raises(ModelError, match="profile booster is damaged"):
        BotModel.load(tmp_path / "m")
    with pytest.raises(ModelError, match="train one with `cibwatch bots train`"):
        BotModel.load(tmp_path / "nothing")


def test_training_is_deterministic():
    accounts = synthetic_accounts(200, seed=5)
    labeled = LabeledSet(accounts=accounts, posts=pl.DataFrame())

    def fit():
        return (
            BotClassifier(n_estimators=10, n_jobs=1, random_state=3, min_child_samples=5).fit(labeled).model_
        )

    a, b = fit(), fit()
    assert a.boosters["profile"].model_to_string() == b.boosters["profile"].model_to_string()
    frame = profile_features(accounts, a.name_model)
    assert a.predict(frame)["bot_score"].to_list() == b.predict(frame)["bot_score"].to_list()


def test_retraining_writes_the_same_bytes(tmp_path):
    labeled = LabeledSet(accounts=synthetic_accounts(200, seed=5), posts=pl.DataFrame())
    for name in ("a", "b"):
        clf = BotClassifier(n_estimators=10, n_jobs=1, random_state=3, min_child_samples=5)
        clf.fit(labeled).model_.save(tmp_path / name)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir()) and "model.json" in files
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    # Other settings are another model, with another name.
    other = BotClassifier(n_estimators=11, n_jobs=1, random_state=3, min_child_samples=5).fit(labeled).model_
    assert other.version != BotModel.load(tmp_path / "a").version


def test_estimator_validates_parameters():
    labeled = LabeledSet(accounts=synthetic_accounts(20, seed=1), posts=pl.DataFrame())
    with pytest.raises(ConfigError, match="mask_probability must be in"):
        BotClassifier(mask_probability=2).fit(labeled)
    with pytest.raises(ConfigError, match="unknown features"):
        BotClassifier(drop_features=("shoe_size",)).fit(labeled)
    only_bots = LabeledSet(
        accounts=synthetic_accounts(20, seed=1).filter(pl.col("label") == "bot"), posts=pl.DataFrame()
    )
    with pytest.raises(ConfigError, match="both bots and humans"):
        BotClassifier(n_estimators=2).fit(only_bots)


def test_score_records_with_bad_values(tiny_model):
    out = score(
        [
            {
                "id_str": "1",
                "screen_name": "xk29384756",
                "followers_count": -3,
                "friends_count": 3000,
                "created_at": "not a date",
                "probed_at": "2019-06-08T00:00:00Z",
            },
            {
                "account_id": "2",
                "screen_name": "anna_rossi",
                "followers": 900,
                "following": 200,
                "likes_count": 4000,
                "created_at": "Tue Mar 17 08:51:12 +0000 2009",
                "probed_at": 1_560_000_000_000,
            },
            {
                "account_id": "3",
                "screen_name": "v2_user",
                "public_metrics": {"followers_count": 5, "following_count": "many"},
            },
        ],
        model=tiny_model,
    )
    rows = {r["account_id"]: r for r in out.iter_rows(named=True)}
    assert "followers is negative (-3)" in rows["1"]["input_flags"]
    assert "created_at is not a date ('not a date')" in rows["1"]["input_flags"]
    assert "following is not a number ('many')" in rows["3"]["input_flags"]
    assert rows["2"]["input_flags"] is None
    assert all(0 <= r["bot_score"] <= 1 for r in rows.values())
    assert rows["1"]["bot_score"] > rows["2"]["bot_score"]
    assert rows["2"]["bot_label"] == "human" and rows["2"]["bot_type"] is None
    assert out.columns[:7] == [
        "account_id",
        "platform",
        "screen_name",
        "dataset",
        "bot_score",
        "bot_label",
        "bot_type",
    ]


def test_score_dataframe_same_as_records(tiny_model):
    accounts = synthetic_accounts(30, seed=9)
    a = score(accounts.drop("label", "label_detail", "bot_type"), model=tiny_model)
    b = score(accounts.drop("label", "label_detail", "bot_type").to_dicts(), model=tiny_model)
    assert a["bot_score"].to_list() == b["bot_score"].to_list()


def test_behaviour_head_used_when_posts_exist(tiny_model):
    accounts = synthetic_accounts(40, seed=11)
    posts = synthetic_posts(accounts, seed=11)
    with_posts = score(accounts, posts=posts, model=tiny_model)
    without = score(accounts, model=tiny_model)
    assert set(with_posts["head"]) == {"profile+behaviour"} and set(without["head"]) == {"profile"}
    y = (accounts["label"] == "bot").to_numpy()
    # The synthetic bots repeat one text every minute: behaviour separates them cleanly.
    p = with_posts["bot_score"].to_numpy()
    assert p[y].min() > p[~y].max()


def test_explanations_name_the_pushing_features(tiny_model):
    accounts = synthetic_accounts(200, seed=13).drop("label", "label_detail", "bot_type")
    out = score(accounts, model=tiny_model).sort("bot_score", descending=True)
    top, bottom = out.row(0, named=True), out.row(-1, named=True)
    # The top account is past the uncertain threshold at least; its reasons push toward bot.
    assert top["bot_label"] in ("bot", "uncertain") and bottom["bot_label"] == "human"
    for row in (top, bottom):
        reasons = row["top_reasons"].split("; ")
        assert 1 <= len(reasons) <= 3
        assert all(("human accounts in training" in r) for r in reasons), reasons
    # The reasons are the features the model leaned on, phrased from the account's own values.
    from cibwatch.bots.features import profile_features

    frame = profile_features(
        accounts.filter(pl.col("account_id") == top["account_id"]), tiny_model.name_model
    )
    contrib = tiny_model.contributions(frame)[0][:-1]
    from cibwatch.bots.explain import sentence
    from cibwatch.bots.features import PROFILE_FEATURES

    strongest = PROFILE_FEATURES[int(np.argmax(contrib))]
    assert sentence(tiny_model, strongest, frame[strongest][0]) in top["top_reasons"]


def test_sentence_wording(tiny_model):
    from cibwatch.bots.explain import sentence

    assert sentence(tiny_model, "following", 1e9).startswith(
        "follows 1,000,000,000 accounts — more than 99.9% of human accounts in training"
    )
    assert sentence(tiny_model, "default_profile", 1.0).startswith("keeps the default profile theme — as do ")
    assert sentence(tiny_model, "following", 1.0).startswith("follows 1 account — ")
    assert sentence(tiny_model, "following", 11.0).startswith("follows 11 accounts — ")


def test_self_declared_sentence(tiny_model):
    from cibwatch.bots.explain import sentence

    assert sentence(tiny_model, "self_declared_bot", 1.0).startswith(
        "calls itself a bot in its handle, name or bio"
    )
    assert sentence(tiny_model, "self_declared_bot", 0.0).startswith("does not call itself a bot")


def test_model_reads_a_count_only_without_its_rate(tiny_model):
    from cibwatch.bots.features import PROFILE_FEATURES, RATE_OF_COUNT

    accounts = synthetic_accounts(200, seed=17)
    ten_times = [(pl.col(c) * 10).alias(c) for c in RATE_OF_COUNT]

    def scores(frame: pl.DataFrame) -> list[float]:
        return tiny_model.predict(frame)["bot_score"].to_list()

    # With a probe time the rates are known: the totals alone can change and nothing moves.
    probed = profile_features(accounts, tiny_model.name_model)
    assert scores(probed.with_columns(ten_times)) == scores(probed)
    # Without one there are no rates, and the totals are what the model goes by.
    unprobed = profile_features(
        accounts.with_columns(pl.lit(None, dtype=pl.Int64).alias("probed_at")), tiny_model.name_model
    )
    assert scores(unprobed.with_columns(ten_times)) != scores(unprobed)
    assert tiny_model.card["counts_without_rates"] is True
    # A card written before the rule: the model is fed every count, as it was trained.
    older = BotModel(
        tiny_model.boosters,
        {k: v for k, v in tiny_model.card.items() if k != "counts_without_rates"},
        tiny_model.name_model,
        tiny_model.calibration,
        tiny_model.percentiles,
    )
    x = probed.select(PROFILE_FEATURES).to_numpy()
    assert np.array_equal(older.profile_inputs(x), x, equal_nan=True)
    assert not np.array_equal(tiny_model.profile_inputs(x), x, equal_nan=True)


def test_reasons_never_quote_a_hidden_count(tiny_model):
    from cibwatch.bots.features import RATE_OF_COUNT

    out = score(synthetic_accounts(200, seed=19).drop("label", "label_detail", "bot_type"), model=tiny_model)
    # The sentences of the five totals (explain._PHRASES), which end at the number's noun; a
    # rate's sentence goes on "a day", a ratio's "per follower" or "per post".
    total = re.compile(
        r"^(has posted [\d,]+ times? —|has [\d,]+ followers? —|follows [\d,]+ accounts? —"
        r"|has liked [\d,]+ posts? —|is on [\d,]+ lists? —)"
    )
    reasons = [r for text in out["top_reasons"].drop_nulls() for r in text.split("; ")]
    assert len(reasons) > 100 and len(RATE_OF_COUNT) == total.pattern.count("|") + 1
    assert not [r for r in reasons if total.match(r)]


def test_a_bot_that_calls_itself_one_is_typed_self_declared():
    def declare(frame: pl.DataFrame, every: int) -> pl.DataFrame:
        is_declared = (pl.col("label") == "bot") & (pl.int_range(pl.len()) % every == every - 1)
        handle = pl.when(is_declared).then(pl.col("screen_name") + "_bot").otherwise(pl.col("screen_name"))
        return frame.with_columns(handle.alias("screen_name"))

    # No training set says "self-declared": a quarter of the bots say it of themselves.
    training = declare(synthetic_accounts(600, seed=1), every=4)
    assert "self_declared" not in set(training["bot_type"])
    model = (
        BotClassifier(n_jobs=1, random_state=0, min_child_samples=10)
        .fit(LabeledSet(accounts=training, posts=pl.DataFrame()))
        .model_
    )
    test = synthetic_accounts(200, seed=9)
    for frame, expected in ((declare(test, every=1), True), (test, False)):
        types = model.predict(profile_features(frame, model.name_model)).filter(pl.col("bot_label") == "bot")
        share = (types["bot_type"] == "self_declared").mean()
        assert share > 0.9 if expected else share < 0.1, (expected, share)


def test_bot_types_from_set_names():
    assert bot_type_of("social_spambots_2", "social_spambots_2") == "spam"
    assert bot_type_of("astroturf", "political_Bot") == "political"
    assert bot_type_of("botwiki-2019", "bot") == "self_declared"
    assert bot_type_of("fake_followers", None) == "fake_follower"
    assert bot_type_of("gilani-2017", "bot") == "other"


def test_unscorable_account_is_flagged(tiny_model):
    row = score([{"account_id": "stub"}], model=tiny_model).row(0, named=True)
    assert row["bot_score"] is None and row["bot_label"] is None
    assert "no profile, and too few posts" in row["input_flags"]
    assert np.isnan(
        tiny_model.predict(profile_features(pl.DataFrame({"account_id": ["x"]})))["margin_behaviour"][0]
    )


def test_reasons_do_not_depend_on_the_other_accounts_scored(tiny_model):
    # Contributions are computed only for rows whose reasons are shown; mixing in accounts with no
    # profile and timelines for some must not change anyone's reasons.
    accounts = synthetic_accounts(40, seed=17).drop("label", "label_detail", "bot_type")
    posts = synthetic_posts(synthetic_accounts(40, seed=17).slice(10, 20), seed=17)
    stubs = [{"account_id": f"stub{k}"} for k in range(5)]
    mixed = score([*stubs, *accounts.to_dicts()], posts=posts, model=tiny_model)
    assert mixed.filter(pl.col("account_id").str.starts_with("stub"))["top_reasons"].null_count() == 5
    assert set(mixed["head"].drop_nulls()) == {"profile", "profile+behaviour"}
    for k in (0, 15, 39):  # with a timeline (15) and without
        alone = score(accounts.slice(k, 1), posts=posts, model=tiny_model).row(0, named=True)
        row = mixed.filter(pl.col("account_id") == alone["account_id"]).row(0, named=True)
        assert row["top_reasons"] == alone["top_reasons"] and row["head"] == alone["head"]
