from __future__ import annotations

import json

import pytest

from cibwatch.cli.main import main


def test_simulate_command_writes_posts_and_truth(tmp_path, capsys):
    main(
        [
            "simulate",
            "--out",
            str(tmp_path / "sim"),
            "--seed",
            "4",
            "--accounts",
            "500",
            "--days",
            "1",
            "--json",
        ]
    )
    run = json.loads(capsys.readouterr().out)
    assert run["posts"] > 500 and run["format"] == "v2" and run["files"] == 1
    assert (tmp_path / "sim" / "truth_accounts.csv").exists()
    assert (tmp_path / "sim" / "truth_campaigns.csv").exists()
    assert json.loads((tmp_path / "sim" / "manifest.json").read_text())["seed"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope"], "Unknown scenario 'nope'"),
        (["--accounts", "10"], "--accounts must be a whole number of at least 200"),
        (["--days", "0"], "--days must be a whole number from 1 to 366"),
        (["--format", "v3"], "--format must be one of v2|v1"),
        (["--workers", "0"], "--workers must be a whole number of at least 1"),
    ],
)
def test_bad_parameters_exit_non_zero_with_a_message(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", str(tmp_path / "sim"), *args])
    assert exit_info.value.code == 1
    assert message in capsys.readouterr().err


def test_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path, capsys):
    (tmp_path / "sim" / "posts").mkdir(parents=True)
    (tmp_path / "sim" / "posts" / "mine.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--out", str(tmp_path / "sim"), "--accounts", "300", "--days", "1"])
    assert exit_info.value.code == 1
    assert "is not from `cibwatch simulate`" in capsys.readouterr().err
    assert (tmp_path / "sim" / "posts" / "mine.jsonl").exists()


def test_the_library_does_not_import_the_cli_stack():
    import subprocess
    import sys

    code = (
        "import sys, cibwatch.sim, cibwatch.sim.run; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'click', 'fastapi'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
