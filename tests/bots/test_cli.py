from __future__ import annotations

import json
import re

import polars as pl
import pytest
from typer.testing import CliRunner

from cibwatch.bots import OUTPUT_COLUMNS
from cibwatch.cli.main import app
from tests.conftest import FIXTURES

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    return str(tiny_model.save(tmp_path_factory.mktemp("model") / "m"))


def test_score_files_to_csv(tmp_path, model_dir):
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        ["bots", "score", str(FIXTURES / "bot-repository"), "--out", str(out), "--model", model_dir, "-q"],
    )
    assert result.exit_code == 0, result.output
    table = pl.read_csv(out, schema_overrides={"account_id": pl.String})
    assert table.columns == OUTPUT_COLUMNS
    assert table["account_id"].to_list() == ["1001", "1002", "1003"]  # by account id, every run
    assert table["bot_score"].is_between(0, 1).all()
    assert set(table["bot_label"]) <= {"bot", "uncertain", "human"}
    assert table["top_reasons"].str.contains("human accounts in training").all()


def test_score_case_to_parquet_and_explain(tmp_path, model_dir):
    from cibwatch.ingest import ingest

    ingest([FIXTURES / "cresci", FIXTURES / "twibot"], tmp_path / "case")
    out = tmp_path / "scores.parquet"
    result = runner.invoke(
        app, ["bots", "score", str(tmp_path / "case"), "--out", str(out), "--model", model_dir, "-q"]
    )
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(out)
    assert table.columns == OUTPUT_COLUMNS
    assert table["account_id"].to_list() == sorted(table["account_id"].to_list())
    # The case keeps the full table, with the head and model version.
    from cibwatch import open_case

    stored = open_case(tmp_path / "case").read("bot_scores")
    assert stored.height == table.height and set(stored["model_version"]) != {None}
    result = runner.invoke(
        app, ["bots", "explain", "2002", "--case", str(tmp_path / "case"), "--model", model_dir, "--json"]
    )
    assert result.exit_code == 0, result.output
    explained = json.loads(result.output)
    assert explained["account_id"] == "2002" and explained["reasons"]
    assert all({"feature", "value", "push", "sentence"} <= set(r) for r in explained["reasons"])
    result = runner.invoke(
        app, ["bots", "explain", "nobody", "--case", str(tmp_path / "case"), "--model", model_dir]
    )
    assert result.exit_code != 0


@pytest.fixture(scope="module")
def uncertain_model_dir(tiny_model, tmp_path_factory):
    """The tiny model with a low uncertain threshold in its card: its human-scored accounts turn uncertain."""
    directory = tiny_model.save(tmp_path_factory.mktemp("model") / "uncertain")
    card_file = directory / "model.json"
    payload = json.loads(card_file.read_text())
    payload["card"]["uncertain_threshold"] = UNCERTAIN_THRESHOLD
    card_file.write_text(json.dumps(payload))
    return str(directory)


UNCERTAIN_THRESHOLD = 0.01
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_score_summary_counts_uncertain_accounts_apart_from_bots(tmp_path, uncertain_model_dir):
    from cibwatch.bots import load_model

    threshold = load_model(uncertain_model_dir).threshold
    out = tmp_path / "scores.csv"
    inputs = str(FIXTURES / "bot-repository")
    result = runner.invoke(app, ["bots", "score", inputs, "--out", str(out), "--model", uncertain_model_dir])
    assert result.exit_code == 0, result.output
    labels = pl.read_csv(out)["bot_label"].to_list()
    n_bots, n_uncertain = labels.count("bot"), labels.count("uncertain")
    assert n_uncertain > 0  # every account scoring 0.01 or more and below the bot threshold
    output = " ".join(ANSI.sub("", result.output).split())
    assert f"({n_bots} labelled bot, {n_uncertain} uncertain)" in output
    assert f"(bot from {threshold:.2f}, uncertain from {UNCERTAIN_THRESHOLD:.2f})" in output


def test_explain_gives_both_thresholds_for_an_uncertain_account(tmp_path, uncertain_model_dir):
    from cibwatch.bots import load_model
    from cibwatch.ingest import ingest

    threshold = load_model(uncertain_model_dir).threshold
    case = tmp_path / "case"
    ingest([FIXTURES / "bot-repository"], case)
    out = tmp_path / "scores.csv"
    args = ["--model", uncertain_model_dir]
    assert runner.invoke(app, ["bots", "score", str(case), "--out", str(out), *args, "-q"]).exit_code == 0
    scores = pl.read_csv(out, schema_overrides={"account_id": pl.String})
    account = scores.filter(pl.col("bot_label") == "uncertain")["account_id"][0]
    result = runner.invoke(app, ["bots", "explain", account, "--case", str(case), *args])
    assert result.exit_code == 0, result.output
    assert (
        f"→ uncertain between the uncertain threshold {UNCERTAIN_THRESHOLD:.2f} "
        f"and the bot threshold {threshold:.2f};"
    ) in ANSI.sub("", result.output)


def test_score_rejects_unknown_output_format(tmp_path, model_dir):
    from cibwatch.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(
            [
                "bots",
                "score",
                str(FIXTURES / "bot-repository"),
                "--out",
                str(tmp_path / "x.xlsx"),
                "--model",
                model_dir,
            ]
        )
    assert exc.value.code == 1


def test_eval_bots_on_a_set(tmp_path, model_dir):
    result = runner.invoke(
        app,
        [
            "eval",
            "bots",
            "--test",
            str(FIXTURES / "cresci" / "social_spambots_sample.csv"),
            "--model",
            model_dir,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["sets"]["social_spambots_sample.csv"]
    assert metrics["n_bots"] == 2 and metrics["n_humans"] == 0
    assert metrics["human_fpr"] is None and 0 <= metrics["recall"] <= 1


def test_eval_bots_measures_a_named_group_of_sets_as_one(tmp_path, model_dir):
    spam = FIXTURES / "caverlee-2011" / "content_polluters_sample.csv"
    genuine = FIXTURES / "caverlee-2011" / "legitimate_users_sample.csv"
    args = ["eval", "bots", "--model", model_dir, "--json"]
    grouped = runner.invoke(app, [*args, "--test", f"caverlee={spam}", "--test", f"caverlee={genuine}"])
    assert grouped.exit_code == 0, grouped.output
    sets = json.loads(grouped.output)["sets"]
    assert list(sets) == ["caverlee"]
    separate = runner.invoke(app, [*args, "--test", str(spam), "--test", str(genuine)])
    apart = json.loads(separate.output)["sets"]
    assert sets["caverlee"]["n_bots"] == apart[spam.name]["n_bots"] > 0
    assert sets["caverlee"]["n_humans"] == apart[genuine.name]["n_humans"] > 0
    assert sets["caverlee"]["roc_auc"] is not None  # both labels: measured together, not one by one


def test_shipped_model_loads_and_scores():
    from cibwatch.bots import load_model, score
    from cibwatch.bots.model import MODEL_DIR

    if not (MODEL_DIR / "model.json").exists():
        pytest.skip("no shipped model in this checkout")
    model = load_model()
    assert {"profile", "behaviour", "type"} <= set(model.boosters)
    assert 0.5 <= model.threshold < 1
    assert any(s.get("sha256") for s in model.card["training_sets"])
    out = score([{"account_id": "1", "followers": 10, "following": 20, "posts_count": 5}])
    assert 0 <= out["bot_score"][0] <= 1
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir())
    assert size < 5 * 2**20  # the model ships in the wheel: keep it small


def test_train_needs_timelines_for_the_behaviour_head(tmp_path):
    from cibwatch.cli.main import main

    args = [
        "bots",
        "train",
        str(FIXTURES / "bot-repository"),
        str(FIXTURES / "cresci" / "social_spambots_sample.csv"),
    ]
    args += [
        "--behaviour",
        str(FIXTURES / "cresci" / "fake_followers_timelines_sample.csv"),
        "--out",
        str(tmp_path / "m"),
    ]
    with pytest.raises(SystemExit) as exc:
        main([*args, "-q"])
    assert exc.value.code == 1
    assert not (tmp_path / "m").exists()


def test_train_cli_writes_a_loadable_model(tmp_path, monkeypatch):
    from cibwatch.bots.model import BotModel
    from cibwatch.bots.training_sets import train_from_paths
    from cibwatch.cli import bots as bots_cli

    # The real command on tiny inputs: fixture sets, few rounds.
    def small(sets, behaviour, **kwargs):
        return train_from_paths(
            sets, behaviour, n_estimators=3, min_child_samples=1, calibration_folds=2, **kwargs
        )

    monkeypatch.setattr("cibwatch.bots.training_sets.train_from_paths", small)
    timelines = tmp_path / "timelines"
    timelines.mkdir()
    for name, users in (("genuine_timelines", (7001, 7003)), ("fake_followers_timelines", (7002, 7004))):
        rows = ["user_id,tid,time,tweet"]
        for user in users:
            rows += [
                f"{user},{user}{k},Thu Feb 07 14:0{k}:06 +0000 2013,text {k} of {name}" for k in range(6)
            ]
        (timelines / f"{name}.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(
        app,
        [
            "bots",
            "train",
            str(FIXTURES / "bot-repository"),
            str(FIXTURES / "kaggle-bot-2017"),
            "--behaviour",
            str(timelines),
            "--out",
            str(tmp_path / "m"),
            "-q",
        ],
    )
    assert bots_cli is not None
    assert result.exit_code == 0, result.output
    model = BotModel.load(tmp_path / "m")
    assert {f["file"].rsplit("/", 1)[-1] for f in model.card["training_sets"] if "file" in f} >= {
        "sample-set.tsv"
    }
