from __future__ import annotations

import json

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
    assert sorted(table["account_id"].to_list()) == ["1001", "1002", "1003"]
    assert table["bot_score"].is_between(0, 1).all()
    assert set(table["bot_label"]) <= {"bot", "human"}
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
