"""Paths reach DuckDB and polars as values: a case or input at a path with ``[``, ``]``, ``'``,
spaces, ``*``, ``?`` or non-ASCII is read as itself, never as a pattern matching a sibling.

A case itself cannot live under a '?' or '\\' (DuckDB cuts its database path there): that is
refused with advice, and tested too."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cibwatch.errors import CaseError
from cibwatch.ingest import ingest
from cibwatch.store import sql
from cibwatch.store.case import Case
from tests.conftest import FIXTURES

# Each hostile folder name with a sibling its unescaped glob pattern would match.
HOSTILE = [
    ("g[1]", "g1"),
    ("g[1] it's ü *?", "g1 it's ü ab"),
    ("star*", "starry"),
    ("q?", "qx"),
    ("b]c [x", "b]c [x"),  # an unclosed '[': no sibling, but it must still be read
    ("k=v", None),  # a hive-style name must not add a column
]


def _write(folder: Path, value: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    pq.write_table(pa.table({"x": [value]}), path)
    return path


@pytest.mark.parametrize(("name", "sibling"), HOSTILE)
def test_duckdb_reads_exactly_the_named_file(tmp_path, name, sibling):
    path = _write(tmp_path / name, 1)
    if sibling and sibling != name:
        _write(tmp_path / sibling, 2)
    con = duckdb.connect()
    assert con.sql(f"SELECT * FROM {sql.read_parquet([path])}").fetchall() == [(1,)]
    assert pl.scan_parquet([path], glob=False, hive_partitioning=False).collect().to_dicts() == [{"x": 1}]


def test_the_naive_splice_reads_the_sibling(tmp_path):
    """What the helper prevents, shown on purpose: the bare literal is a glob that reads g1."""
    path = _write(tmp_path / "g[1]", 1)
    _write(tmp_path / "g1", 2)
    assert duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall() == [(2,)]
    with pytest.raises(duckdb.ParserException):
        duckdb.sql(f"SELECT * FROM read_parquet('{_write(tmp_path / 'a b', 3).parent / chr(39)}')")


def test_literal_escapes_quotes_and_refuses_nul():
    assert sql.literal("it's") == "'it''s'"
    assert duckdb.sql(f"SELECT {sql.literal(chr(39) * 3)}").fetchall() == [("'''",)]
    with pytest.raises(CaseError, match="NUL"):
        sql.literal("a\x00b")
    with pytest.raises(ValueError, match="at least one file"):
        sql.read_parquet([])


def test_a_backslash_beside_a_glob_character_is_refused_with_advice(tmp_path):
    with pytest.raises(CaseError, match="backslash"):
        sql.file_literal(tmp_path / "a\\b[1]" / "x.parquet")
    # Without glob characters a backslash is an ordinary character.
    path = _write(tmp_path / "a\\b", 5)
    assert duckdb.sql(f"SELECT * FROM {sql.read_parquet([path])}").fetchall() == [(5,)]


def test_temp_directory_and_copy_targets_take_hostile_paths(tmp_path):
    folder = tmp_path / "t[1] it's ü"
    folder.mkdir()
    con = duckdb.connect()
    con.execute(f"SET temp_directory={sql.literal(folder / 'spill')}")
    assert con.execute("SELECT current_setting('temp_directory')").fetchall() == [(str(folder / "spill"),)]
    target = folder / "out [x]'s.csv"
    con.execute(f"COPY (SELECT 1 AS a) TO {sql.literal(target)} (HEADER)")
    assert target.read_text().splitlines() == ["a", "1"]


@pytest.fixture(scope="module")
def hostile_cases(tmp_path_factory):
    """Twitter v1 sample ingested from and into hostile paths, a sibling case (v2 sample) that the
    hostile path's glob would match, and the same v1 ingest at a plain path for reference."""
    base = tmp_path_factory.mktemp("paths")
    inputs = base / "in [1] it's ü *?"
    inputs.mkdir()
    shutil.copy(FIXTURES / "twitter-v1" / "sample.jsonl", inputs / "sample [x] it's.jsonl")
    hostile = base / "g[1] it's ü *" / "case"
    sibling = base / "g1 it's ü ab" / "case"
    plain = base / "plain" / "case"
    ingest([inputs / "sample [x] it's.jsonl"], hostile)
    ingest([FIXTURES / "twitter-v2" / "sample.jsonl"], sibling)
    ingest([FIXTURES / "twitter-v1" / "sample.jsonl"], plain)
    return hostile, sibling, plain


def test_ingest_open_and_summary_at_hostile_paths(hostile_cases):
    hostile, sibling, plain = hostile_cases
    with Case.open(hostile) as h, Case.open(sibling) as s, Case.open(plain) as p:
        assert h.summary() == p.summary()
        assert h.summary() != s.summary()
        ids = sorted(h.read("posts")["post_id"])
        assert ids == sorted(p.read("posts")["post_id"])
        assert not set(ids) & set(s.read("posts")["post_id"])
        assert sorted(r[0] for r in h.sql("SELECT post_id FROM posts").fetchall()) == ids
        assert {Path(f).name for f in h.read("posts")["source_file"]} == {"sample [x] it's.jsonl"}
        # Ingesting again adds nothing: deduplication read the case's own parts.
        before = h.summary()
    ingest([FIXTURES / "twitter-v1" / "sample.jsonl"], hostile, dataset="sample [x] it's")
    with Case.open(hostile) as h:
        assert h.summary()["posts"] == before["posts"]


def test_a_hive_like_folder_adds_no_column(tmp_path):
    case_dir = tmp_path / "year=2024" / "case"
    ingest([FIXTURES / "twitter-v1" / "sample.jsonl"], case_dir)
    with Case.open(case_dir) as case:
        names = [d[0] for d in case.sql("SELECT * FROM posts").description]
        assert "year" not in names and "year" not in case.read("posts").columns


def test_coord_stage_and_qut_export_at_hostile_paths(tmp_path):
    from cibwatch.coord import detect, save_to_case
    from cibwatch.evaluate.qut import export_qut_csv
    from tests.coord.corpus import make_case, post

    def group(prefix: str) -> list[dict]:
        posts = [post(f"bg{j}", 500.0 * j, "repost", f"noise{j % 7}") for j in range(40)]
        for k in range(5):
            posts += [post(f"{prefix}{j}", 1000.0 * k + 2 * j, "repost", f"c{k}") for j in range(3)]
        return posts

    hostile = make_case(tmp_path / "g[1] it's ü *" / "case", group("b"))
    make_case(tmp_path / "g1 it's ü ab" / "case", group("z"))
    result = detect(hostile, traces=["repost"], window=60)
    assert set(result.accounts["account_id"]) == {"b0", "b1", "b2"}
    save_to_case(result, hostile)
    assert hostile.read("coord_accounts").height == result.accounts.height
    out = tmp_path / "out [1] it's" / "posts.csv"
    out.parent.mkdir()
    assert export_qut_csv(hostile, out) == 55
    assert "z0" not in out.read_text()


def test_empty_tables_read_as_empty(tmp_path):
    from cibwatch.evaluate.qut import export_qut_csv

    case = Case.create(tmp_path / "c[1]")
    assert case.summary() == dict.fromkeys(case.summary(), 0)
    assert case.read("posts").height == 0
    assert export_qut_csv(case, tmp_path / "empty.csv") == 0
    with pytest.raises(CaseError, match="no table 'nosuch'"):
        case.table_sql("nosuch")


def test_views_follow_parts_added_after_the_connection_opened(tmp_path):
    case_dir = tmp_path / "v[1]"
    ingest([FIXTURES / "twitter-v1" / "sample.jsonl"], case_dir)
    with Case.open(case_dir) as case:
        first = case.summary()["posts"]
        ingest([FIXTURES / "twitter-v2" / "sample.jsonl"], case_dir)
        assert case.summary()["posts"] > first


@pytest.mark.parametrize("name", ["a?b", "a\\b"])
def test_a_case_where_duckdb_cannot_keep_its_database_is_refused(tmp_path, name):
    with pytest.raises(CaseError, match="choose a folder whose path has neither"):
        ingest([FIXTURES / "twitter-v1" / "sample.jsonl"], tmp_path / name / "case")
    assert not (tmp_path / name).exists()
