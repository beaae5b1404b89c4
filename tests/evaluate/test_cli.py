"""``cibwatch eval build-corpus`` and ``cibwatch eval coord`` through the real CLI."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli.runner import run_cli

START = int(datetime(2016, 6, 6, 12, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    return lambda *args: run_cli(capsys, *args)


def _write(path: Path, rows: list[tuple[str, str, str, float]]) -> Path:
    """QUT toolkit CSV rows of (message_id, user_id, repost_id, epoch seconds)."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"]
        )
        for message_id, user_id, repost_id, ts in rows:
            writer.writerow([message_id, user_id, user_id, repost_id, "", f"text of {message_id}", ts, ""])
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    # Three operation accounts repost the same twelve posts within the same minute, hours apart.
    op = [
        (f"{who}-{k}", who, f"target{k}", START + k * 7200 + j * 5)
        for k in range(12)
        for j, who in enumerate(("op_a", "op_b", "op_c"))
    ]
    op += [(f"solo-{k}", "op_d", "", START + k * 3600) for k in range(6)]  # active, never coordinated
    # Organic accounts on the same days two years earlier (second resolution), each reposting its own items.
    organic = [
        (f"o{u}-{k}", f"user{u}", f"item{u}-{k}", START - 730 * 86_400 + u * 977 + k * 5400 + 0.5)
        for u in range(30)
        for k in range(8)
    ]
    labels = tmp_path / "authors.csv"
    labels.write_text("author_id,account_category\nop_a,RightTroll\nop_b,RightTroll\nop_c,LeftTroll\n")
    return {
        "io": _write(tmp_path / "op.csv", op),
        "organic": _write(tmp_path / "org.csv", organic),
        "labels": labels,
    }


def test_build_corpus_then_evaluate(run, tmp_path: Path, inputs: dict[str, Path]) -> None:
    corpus = tmp_path / "corpus"
    code, out, err = run(
        "eval",
        "build-corpus",
        "--out",
        corpus,
        "--io",
        f"qut:{inputs['io']}",
        "--organic",
        f"qut:{inputs['organic']}",
        "--labels",
        f"ira-538-authors:{inputs['labels']}",
        "--period",
        "2016-06-01..2016-07-01",
        "--shift",
        "org=730",
        "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["counts"]["io_accounts"] == 4 and summary["counts"]["organic_accounts"] == 30
    org = next(s for s in summary["sources"] if s["dataset"] == "org")
    assert org["shift_days"] == 730 and org["shift_source"] == "given" and org["posts_kept"] == 240

    code, out, err = run(
        "eval", "coord", "--corpus", corpus, "--out", tmp_path / "eval", "--no-qut", "--json"
    )
    assert code == 0, err
    (cibwatch,) = json.loads(out)
    metrics = cibwatch["metrics"]
    assert cibwatch["detector"] == "cibwatch"
    assert metrics["io_eligible"] == 4 and metrics["io_eligible_flagged"] == 3  # op_d never co-acts
    assert metrics["organic_flagged"] == 0 and metrics["precision"] == 1.0
    flagged = (tmp_path / "eval" / cibwatch["flagged_file"]).read_text()
    assert "op_a" in flagged and "op_d" not in flagged


def test_evaluate_posts_files_with_a_labels_file(run, tmp_path: Path, inputs: dict[str, Path]) -> None:
    code, out, err = run(
        "eval",
        "coord",
        "--inputs",
        f"qut:{inputs['io']}",
        "--inputs",
        f"qut:{inputs['organic']}",
        "--labels",
        f"ira-538-authors:{inputs['labels']}",
        "--out",
        tmp_path / "eval",
        "--no-qut",
        "--json",
    )
    assert code == 0, err
    (cibwatch,) = json.loads(out)
    # Only labelled accounts are positives here: op_d is unlabelled, so organic.
    assert cibwatch["metrics"]["io_eligible"] == 3
    assert cibwatch["metrics"]["organic_active"] == 31
    assert (tmp_path / "eval" / "corpus" / "truth.csv").exists()


def test_eval_coord_needs_one_kind_of_input(run, tmp_path: Path) -> None:
    code, _, err = run("eval", "coord", "--out", tmp_path / "eval", "--no-qut")
    assert code != 0 and "Pass exactly one of" in err


def test_bad_period_says_how_to_write_it(run, tmp_path: Path, inputs: dict[str, Path]) -> None:
    code, _, err = run(
        "eval", "build-corpus", "--out", tmp_path / "c", "--io", inputs["io"], "--period", "June"
    )
    assert code != 0 and "START..END" in err
