"""The main job end to end: `cibwatch scan --demo` and `cibwatch scan FILES`."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from cibwatch.cli.main import main
from cibwatch.progress import ProgressEvent
from cibwatch.sim import simulate
from tests.test_stage import assert_steps_move_forward

ACCOUNT_COLUMNS = [
    "account_id",
    "screen_name",
    "bot_score",
    "bot_label",
    "coordination_score",
    "coordination_status",
    "cluster_id",
    "campaign_id",
    "recommendation",
    "reasons",
]


def _run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    try:
        main(["scan", "--demo", "--out", str(out), "-q"])
    except SystemExit as exc:
        assert not exc.code
    return out


def test_demo_writes_every_output(demo_out):
    for name in ("accounts.csv", "campaigns.csv", "report.html", "scan.json", "scorecard.md"):
        assert (demo_out / name).stat().st_size > 0, name
    for name in ("edges.csv", "clusters.csv", "network.graphml", "network.gexf", "evidence.parquet"):
        assert (demo_out / "coord" / name).exists(), name
    assert (demo_out / "case" / "case.json").exists()


def test_demo_accounts_csv_has_the_stable_columns(demo_out):
    accounts = pl.read_csv(demo_out / "accounts.csv", infer_schema_length=0)
    assert accounts.columns == ACCOUNT_COLUMNS
    tiers = set(accounts["recommendation"].unique())
    assert tiers <= {"none", "monitor", "review", "enforce-eligible"}
    flagged = accounts.filter(pl.col("recommendation") == "enforce-eligible")
    # Every enforce-eligible account says what it rests on.
    assert flagged.height > 0
    assert flagged["reasons"].str.contains("independent").all()


def test_demo_counts_reconcile_and_scorecard_is_real(demo_out):
    summary = json.loads((demo_out / "scan.json").read_text())
    ingest = summary["counts"]["ingest"]
    assert ingest["reconciles"] and ingest["quarantined"] == 0
    assert ingest["records"] == ingest["stored"] + ingest["duplicates_in_run"] + ingest["duplicates_in_case"]
    assert ingest["units_read"] > 0 and ingest["imbalances"] == []
    card = (demo_out / "scorecard.md").read_text()
    assert card.startswith("precision ")
    assert "| operation | repost_ring |" in card and "| trap | fan_community |" in card


def test_scan_on_files_and_rescan_of_the_case(tmp_path):
    simulate("demo", out=tmp_path / "sim", seed=3, accounts=600, days=2)
    inputs = sorted(str(p) for p in (tmp_path / "sim" / "posts").glob("*.jsonl"))
    assert _run(["scan", *inputs, "--out", str(tmp_path / "out"), "--no-report", "-q"]) == 0
    first = pl.read_csv(tmp_path / "out" / "accounts.csv", infer_schema_length=0)
    # Scanning the case again gives the same accounts table: stages replace, never append.
    assert (
        _run(["scan", str(tmp_path / "out" / "case"), "--out", str(tmp_path / "again"), "--no-report", "-q"])
        == 0
    )
    again = pl.read_csv(tmp_path / "again" / "accounts.csv", infer_schema_length=0)
    assert again.sort("account_id").equals(first.sort("account_id"))


def test_the_cli_progress_bars_get_progress_events(tmp_path, monkeypatch):
    import cibwatch.cli.scan
    from cibwatch.cli import console

    received: dict[str, list[ProgressEvent]] = {"file_progress": [], "step_progress": []}

    def recording(name):
        @contextmanager
        def bars(enabled=True):
            with getattr(console, name)(enabled=enabled) as draw:

                def callback(event):
                    received[name].append(event)
                    draw(event)

                yield callback

        return bars

    for name in received:
        monkeypatch.setattr(cibwatch.cli.scan, name, recording(name))
    simulate("demo", out=tmp_path / "sim", seed=3, accounts=300, days=1)
    inputs = sorted(str(p) for p in (tmp_path / "sim" / "posts").glob("*.jsonl"))
    assert _run(["scan", *inputs, "--out", str(tmp_path / "out"), "--no-report"]) == 0

    files, steps = received["file_progress"], received["step_progress"]
    assert_steps_move_forward(files + steps)
    # A bar per input file, filled to its size, with the records staged so far.
    assert {Path(e.step).name for e in files} == {Path(p).name for p in inputs}
    assert all(e.stage == "ingest" and e.unit == "bytes" for e in files)
    last = {e.step: e for e in files}
    assert all(e.done == e.total for e in last.values())
    assert any("records" in e.detail for e in files)
    scan_steps = [e for e in steps if e.stage == "scan"]
    phases = ["ingest", "bot scores", "coordination", "campaigns", "done"]
    assert [e.detail["phase"] for e in scan_steps] == phases
    assert {e.step for e in scan_steps} == {"scan"}
    # Each stage, once finished, says how long it took and, where it has one, its rate.
    summaries = [str(e.detail["summary"]) for e in scan_steps if "summary" in e.detail]
    assert [line.split(":")[0] for line in summaries] == ["ingest", "bots", "coord", "campaigns"]
    assert summaries[0].endswith("records/s)") and summaries[2].endswith("posts/s)")
    summary = json.loads((tmp_path / "out" / "scan.json").read_text())
    records = summary["counts"]["ingest"]["records"]
    assert f"{records:,} records (" in summaries[0]
    ingest_rate = summary["per_second"]["ingest (records)"]
    assert records / ingest_rate == pytest.approx(summary["seconds"]["ingest"], abs=0.006)  # seconds to 0.01
    # Each stage's own steps reach the bars too: the long ones are not one silent stretch.
    assert {e.stage for e in steps} >= {"scan", "bots", "coord", "campaigns"}


def test_scan_usage_errors(tmp_path, capsys):
    assert _run(["scan", "--out", str(tmp_path)]) == 1
    assert "Give input files or --demo" in capsys.readouterr().err
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    assert _run(["scan", str(path), "--out", str(tmp_path / "o"), "--window", "-5"]) == 1
    assert "must be a number of seconds ≥ 0 (0: the same instant) or 'auto'. Got '-5' instead." in (
        capsys.readouterr().err
    )


def test_behaviour_entropy_is_deterministic():
    from cibwatch.bots.features import behaviour_features

    hours = [13, 14, 14, 14, 14, 2, 3, 5, 6, 7, 14, 15, 19, 19, 20, 20]
    posts = pl.DataFrame({"account_id": ["a"] * len(hours), "created_at": [h * 3_600_000 for h in hours]})
    values = {behaviour_features(posts)["hour_entropy"][0] for _ in range(20)}
    assert len(values) == 1
    # 16 posts over 10 distinct hours with counts 5,2,2,1,1,1,1,1,1,1.
    import math

    counts = [5, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    expected = -sum(c / 16 * math.log(c / 16) for c in counts) / math.log(24)
    assert values.pop() == pytest.approx(expected)
