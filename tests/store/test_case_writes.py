"""Crash-safe writes of a case: temporary names, the commit manifest, recovery and the case lock.

Each crash is a real SIGKILL of a child process at a named step (``CIBWATCH_CRASH_AT``); the
ingest-level version (random moments and every commit step) is tests/ingest/test_crash.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cibwatch import schema
from cibwatch.errors import CaseError
from cibwatch.store.case import CRASH_ENV, MANIFEST, Case

REPLACE = """
import sys
import pyarrow as pa
from cibwatch.store.case import Case
case = Case.open(sys.argv[1])
case.replace_table("bot_scores", pa.table({"account_id": ["new-1", "new-2"]}))
"""


def _child(code: str, case_dir: Path, crash_at: str) -> int:
    env = {**os.environ, CRASH_ENV: crash_at}
    return subprocess.run([sys.executable, "-c", code, str(case_dir)], env=env, timeout=120).returncode


def _ids(case: Case, table: str) -> list[str]:
    return sorted(case.read(table)["account_id"])


def test_write_part_leaves_no_temporary_file_and_parts_ignore_them(tmp_path):
    case = Case.create(tmp_path / "case")
    case.write_part("bot_scores", pa.table({"account_id": ["a"]}), "part-0")
    folder = case.table_dir("bot_scores")
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]
    for junk in (".part-1.1234abcd.parquet.tmp", ".hidden.parquet", "notes.txt"):
        (folder / junk).write_bytes(b"not parquet")
    assert [p.name for p in case.parts("bot_scores")] == ["part-0.parquet"]
    assert _ids(case, "bot_scores") == ["a"]
    assert case.scalar("SELECT count(*) FROM bot_scores") == 1


@pytest.mark.parametrize(
    ("step", "expected"), [("write_part", ["old"]), ("replace_table", ["new-1", "new-2"])]
)
def test_replace_table_killed_leaves_the_old_table_or_the_new_one(tmp_path, step, expected):
    case = Case.create(tmp_path / "case")
    case.replace_table("bot_scores", pa.table({"account_id": ["old"]}))
    case.close()
    assert _child(REPLACE, case.root, step) == -signal.SIGKILL
    with Case.open(case.root) as reopened:
        assert _ids(reopened, "bot_scores") == expected  # never empty, never torn
        assert reopened.scalar("SELECT count(*) FROM bot_scores") == len(expected)
    stray = list(case.table_dir("bot_scores").glob(".*.tmp"))
    assert len(stray) == (1 if step == "write_part" else 0)
    with Case.open(case.root) as reopened, reopened.locked():
        reopened.recover()
    assert not list(case.table_dir("bot_scores").glob(".*.tmp"))


def test_replace_table_removes_older_parts_after_the_new_one_is_in_place(tmp_path):
    case = Case.create(tmp_path / "case")
    case.write_part("bot_scores", pa.table({"account_id": ["a"]}), "part-0")
    case.write_part("bot_scores", pa.table({"account_id": ["b"]}), "part-1")
    case.replace_table("bot_scores", pa.table({"account_id": ["c"]}))
    assert [p.name for p in case.parts("bot_scores")] == ["part-0.parquet"]
    assert _ids(case, "bot_scores") == ["c"]


def _dead_run_with_manifest(case: Case) -> tuple[Path, list[Path]]:
    """What a run killed after writing its manifest leaves: parts in its folder, no live lock."""
    folder = case.root / ".staging" / "deadbeef0001"
    commit = case.begin_commit(folder)
    posts = commit.new_path("posts", "part-run1-0")
    accounts = commit.new_path("accounts", "part-run1-stubs")
    pq.write_table(schema.POSTS.empty_table(), posts)
    pq.write_table(schema.ACCOUNTS.empty_table(), accounts)
    pairs = (("accounts", accounts), ("posts", posts))
    moves = [[str(p.relative_to(case.root)), f"tables/{t}/{p.name}"] for t, p in pairs]
    (commit.folder / MANIFEST).write_text(json.dumps({"moves": moves}))
    return folder, [case.table_dir("accounts") / accounts.name, case.table_dir("posts") / posts.name]


def test_open_rolls_a_dead_runs_manifest_forward(tmp_path):
    case = Case.create(tmp_path / "case")
    folder, targets = _dead_run_with_manifest(case)
    # Half published when it died: the accounts part is already in place.
    targets[0].parent.mkdir(parents=True)
    (folder / "commit" / "accounts" / targets[0].name).replace(targets[0])
    Case.open(case.root)
    assert all(t.exists() for t in targets)
    assert not (case.root / ".staging").exists()


def test_a_damaged_manifest_is_reported_with_what_to_do(tmp_path):
    case = Case.create(tmp_path / "case")
    folder, _ = _dead_run_with_manifest(case)
    (folder / "commit" / MANIFEST).write_text("{not json")
    with pytest.raises(CaseError, match="re-run the ingest"), case.locked():
        case.recover()


def test_staging_without_a_manifest_is_removed_not_committed(tmp_path):
    case = Case.create(tmp_path / "case")
    folder, targets = _dead_run_with_manifest(case)
    (folder / "commit" / MANIFEST).unlink()
    with case.locked():
        done = case.recover()
    assert done == ["removed .staging/deadbeef0001"]
    assert not any(t.exists() for t in targets)


def test_create_survives_a_marker_write_that_died(tmp_path):
    root = tmp_path / "case"
    root.mkdir()
    (root / ".case.json.0badf00d.tmp").write_text('{"form')  # killed while writing case.json
    case = Case.create(root)
    assert json.loads((root / "case.json").read_text())["format"] == 1
    with case.locked():
        case.recover()
    assert not list(root.glob(".case.json.*"))


def test_create_still_refuses_a_folder_that_is_not_a_case(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CaseError, match="not a cibwatch case"):
        Case.create(tmp_path)


def test_the_case_lock_is_reentrant_here_and_exclusive_between_processes(tmp_path):
    case = Case.create(tmp_path / "case")
    probe = (
        "import sys; from cibwatch.store.case import Case\n"
        "with Case.open(sys.argv[1]).locked(blocking=False) as held: print(held)"
    )
    with case.locked(), Case.open(case.root).locked() as again:  # another Case object, same process
        assert again
        out = subprocess.run([sys.executable, "-c", probe, str(case.root)], capture_output=True, text=True)
        assert out.stdout.strip() == "False"
    out = subprocess.run([sys.executable, "-c", probe, str(case.root)], capture_output=True, text=True)
    assert out.stdout.strip() == "True"


MERGE = """
import sys
from cibwatch.store.case import Case
case = Case.open(sys.argv[1])
case.merge_parts("bot_scores", case.parts("bot_scores"))
"""


def _case_of_parts(root: Path, n: int) -> Case:
    case = Case.create(root)
    for k in range(n):
        case.write_part("bot_scores", pa.table({"account_id": [f"a{k}", f"b{k}"]}), f"part-{k:03d}")
    return case


def test_merge_parts_keeps_every_row_once_in_one_part(tmp_path):
    case = _case_of_parts(tmp_path / "case", 5)
    before = _ids(case, "bot_scores")
    merged = case.merge_parts("bot_scores", case.parts("bot_scores"))
    assert case.parts("bot_scores") == [merged]
    assert merged is not None and merged.name.startswith("part-000-merged-")
    assert _ids(case, "bot_scores") == before and len(before) == 10
    assert case.scalar("SELECT count(*) FROM bot_scores") == 10  # the views follow
    assert not (case.root / ".staging").exists()


def test_merge_parts_refuses_parts_not_in_the_case(tmp_path):
    case = _case_of_parts(tmp_path / "case", 2)
    stray = tmp_path / "part-x.parquet"
    pq.write_table(pa.table({"account_id": ["x"]}), stray)
    with pytest.raises(CaseError, match="not in"):
        case.merge_parts("bot_scores", [*case.parts("bot_scores"), stray])
    assert _ids(case, "bot_scores") == ["a0", "a1", "b0", "b1"]


@pytest.mark.parametrize(
    ("step", "merged"),
    [
        ("merge:written", False),  # merged part written, no manifest: the old parts stay
        ("written", False),
        ("manifest", True),  # manifest written: the next open finishes the merge
        ("publish", True),  # merged part in place, old parts all still there (duplicates until recovery)
        ("publish:removes", True),  # one old part removed
        ("published", True),
    ],
)
def test_merge_killed_at_each_step_leaves_the_old_parts_or_the_merged_one(tmp_path, step, merged):
    case = _case_of_parts(tmp_path / "case", 4)
    before = _ids(case, "bot_scores")
    old = case.parts("bot_scores")
    case.close()
    assert _child(MERGE, case.root, step) == -signal.SIGKILL, "the crash point did not fire"
    with Case.open(case.root) as reopened:  # opening recovers a dead run
        assert _ids(reopened, "bot_scores") == before  # no row lost, none twice
        parts = reopened.parts("bot_scores")
        assert (parts != old) == merged
        assert len(parts) == (1 if merged else 4)
        assert not (reopened.root / ".staging").exists()


def test_recovery_killed_while_finishing_a_merge_finishes_it_next_time(tmp_path):
    case = _case_of_parts(tmp_path / "case", 4)
    before = _ids(case, "bot_scores")
    case.close()
    assert _child(MERGE, case.root, "manifest") == -signal.SIGKILL
    reopen = "import sys\nfrom cibwatch.store.case import Case\nCase.open(sys.argv[1])\n"
    assert _child(reopen, case.root, "recover:removes") == -signal.SIGKILL
    with Case.open(case.root) as reopened:
        assert _ids(reopened, "bot_scores") == before
        assert len(reopened.parts("bot_scores")) == 1
