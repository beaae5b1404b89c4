"""``cibwatch watch`` through the real CLI: alerts to a file, summary, and refusals."""

from __future__ import annotations

import json

from tests.cli.runner import run_cli
from tests.watch.conftest import write


def test_watch_writes_alerts_to_a_file_and_stops_when_idle(capsys, tmp_path, stream):
    write(tmp_path / "in" / "s.jsonl", stream)
    code, out, err = run_cli(
        capsys, "watch", tmp_path / "in", "--case", tmp_path / "case", "--window", "30d",
        "--batch-seconds", "0", "--stop-when-idle", "0", "--alerts", tmp_path / "alerts.jsonl",
        "--serve-url", "http://review.example:8000",
    )  # fmt: skip
    assert code == 0, err
    assert out == ""  # alerts went to the file
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert alerts and {a["alert"] for a in alerts} == {"new"}
    assert alerts[0]["url"].startswith("http://review.example:8000/campaigns/camp-")
    assert f"{len(stream):,} lines read" in err and "alerts" in err


def test_watch_refuses_bad_options(capsys, tmp_path):
    code, _, err = run_cli(capsys, "watch", tmp_path, "--case", tmp_path / "c", "--window", "soon")
    assert code == 1 and "--window must be a positive duration" in err
    code, _, err = run_cli(capsys, "watch", "-", "-", "--case", tmp_path / "c")
    assert code == 1 and "- (standard input) can be given once" in err
    code, _, err = run_cli(
        capsys, "watch", tmp_path, "--case", tmp_path / "c", "--alerts", tmp_path / "a.jsonl"
    )
    assert code == 1 and "inside a folder being followed" in err
    code, _, err = run_cli(capsys, "watch", tmp_path, "--case", tmp_path / "c", "--webhook", "ftp://x")
    assert code == 1 and "--webhook must be an http" in err
    (tmp_path / "x.jsonl.gz").write_bytes(b"\x1f\x8b")
    code, _, err = run_cli(capsys, "watch", tmp_path / "x.jsonl.gz", "--case", tmp_path / "c")
    assert code == 1 and "compressed" in err
