"""The key index (``ingest.keys``): a commit finds stored keys through hashes by part, and still
counts every duplicate exactly, whatever the index holds."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cibwatch.ingest import ingest, keys
from cibwatch.store import open_case
from cibwatch.watch.state import compact_parts

HEADER = "user_id,tid,time,tweet\n"


def _rows(first: int, n: int, text: str = "post") -> str:
    return "".join(
        f"{100 + k % 7},{k},Tue Jan 08 20:46:02 +0000 2013,{text} {k}\n" for k in range(first, first + n)
    )


def _ingest(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(HEADER + body)
    report = ingest([path], tmp_path / "case", format="cresci-timelines")
    assert report.reconciles, report.imbalances()
    return report.files[0]


def test_a_late_copy_of_an_old_post_is_counted_after_many_commits_and_merges(tmp_path, monkeypatch):
    monkeypatch.setattr("cibwatch.watch.state.FANIN", 4)
    _ingest(tmp_path, "old.csv", _rows(1000, 5))
    for k in range(9):  # newer posts, merged in tiers as a watch does
        _ingest(tmp_path, f"new{k}.csv", _rows(2000 + 100 * k, 50))
        compact_parts(open_case(tmp_path / "case"), ["posts"])
    case = open_case(tmp_path / "case")
    assert len(case.parts("posts")) < 10  # some parts were merged: the index follows them
    # Post 1000 again as it was, post 1001 with another text, post 5000 new.
    late = _ingest(tmp_path, "late.csv", _rows(1000, 1) + _rows(1001, 1, "edited") + _rows(5000, 1))
    assert late.duplicates_in_case["posts"] == 2
    assert late.conflicting["posts"] == 1
    assert late.stored["posts"] == 1
    assert open_case(tmp_path / "case").scalar("SELECT count(*) FROM posts") == 5 + 9 * 50 + 1


def test_colliding_hashes_never_make_a_duplicate(tmp_path, monkeypatch):
    # Break the hash on purpose: every key hashes alike, so every stored part is a candidate.
    monkeypatch.setattr(keys, "key_hash", lambda table, key_columns, alias: "hash(0)")
    _ingest(tmp_path, "a.csv", _rows(0, 20))
    again = _ingest(tmp_path, "b.csv", _rows(10, 20))  # 10 stored already, 10 new
    assert (again.duplicates_in_case["posts"], again.stored["posts"]) == (10, 10)
    assert again.conflicting["posts"] == 0


def test_a_part_rewritten_under_the_same_name_is_read_again(tmp_path):
    _ingest(tmp_path, "a.csv", _rows(0, 10))
    _ingest(tmp_path, "x.csv", _rows(100, 3))  # the index is synced at a commit's start: now it holds a.csv's
    case = open_case(tmp_path / "case")
    (part,) = [p for p in case.parts("posts") if pq.ParquetFile(p).metadata.num_rows == 10]
    table = pq.read_table(part)
    # Same name, other rows: ids 5-9 become 50-54, keys the index never saw. Known by name
    # alone, the part would keep its old hashes and copies of 50-54 would be stored twice.
    ids = table.column("post_id").to_pylist()
    renamed = [i if int(i) < 5 else str(int(i) + 45) for i in ids]
    pq.write_table(
        table.set_column(table.schema.get_field_index("post_id"), "post_id", pa.array(renamed)), part
    )
    again = _ingest(tmp_path, "b.csv", _rows(50, 5) + _rows(0, 5))
    assert (again.duplicates_in_case["posts"], again.stored["posts"]) == (10, 0)


def test_a_damaged_or_missing_index_is_rebuilt_and_counts_stay_exact(tmp_path):
    _ingest(tmp_path, "a.csv", _rows(0, 10))
    _ingest(tmp_path, "x.csv", _rows(100, 3))
    index = tmp_path / "case" / keys.KEYS_DB
    assert index.exists()
    index.write_bytes(b"not a duckdb file" * 100)
    assert _ingest(tmp_path, "b.csv", _rows(5, 10)).duplicates_in_case["posts"] == 5
    index.unlink()
    assert _ingest(tmp_path, "c.csv", _rows(0, 20)).duplicates_in_case["posts"] == 15


def test_an_index_from_another_hash_is_rebuilt(tmp_path):
    _ingest(tmp_path, "a.csv", _rows(0, 10))
    _ingest(tmp_path, "x.csv", _rows(100, 3))
    index = tmp_path / "case" / keys.KEYS_DB
    with duckdb.connect(str(index)) as con:  # as if another DuckDB had hashed the keys
        con.execute("UPDATE meta SET probe = probe + 1")
        con.execute("DELETE FROM keys_posts")
    assert _ingest(tmp_path, "b.csv", _rows(0, 10)).duplicates_in_case["posts"] == 10


def test_an_index_held_by_another_process_is_left_alone(tmp_path):
    import subprocess
    import sys

    from cibwatch.errors import CaseError

    _ingest(tmp_path, "a.csv", _rows(0, 10))
    _ingest(tmp_path, "x.csv", _rows(100, 3))
    index = tmp_path / "case" / keys.KEYS_DB
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(index)!r}); print('ok', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        path = tmp_path / "b.csv"
        path.write_text(HEADER + _rows(0, 10))
        with pytest.raises(CaseError, match="open in another process"):
            ingest([path], tmp_path / "case", format="cresci-timelines")
    finally:
        holder.communicate("")
    assert index.exists()  # not removed as if damaged
    assert _ingest(tmp_path, "c.csv", _rows(0, 10)).duplicates_in_case["posts"] == 10
