"""``ingest --engine spark``: the lake holds what the embedded ingest stores, and its counts reconcile.

The readers run on Spark's executors (local[2]) on units of the inputs; small ``unit_bytes`` cut the
JSON Lines fixtures into several ranges, so that line numbers, first-row deduplication and counts
are checked across ranges as on a large file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from cibwatch import schema
from cibwatch.coord import detect
from cibwatch.errors import BadRecordError, CaseError, ConfigError
from cibwatch.ingest import ingest, lake
from cibwatch.ingest.lake import ingest_to_lake, units_of
from cibwatch.ingest.run import plan_inputs
from cibwatch.store.case import Case
from cibwatch.store.lake import Lake
from tests.cli.runner import run_cli

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = [
    DATA / "twitter-v1" / "sample.jsonl",
    DATA / "twitter-v1" / "stream_sample.jsonl",
    DATA / "twitter-v2" / "sample.jsonl",
    DATA / "twitter-v2" / "malformed.jsonl",
    DATA / "io-archive" / "sample_tweets_csv_hashed.csv",
    DATA / "io-archive" / "sample_users_csv_hashed.csv",
]
# What two runs of the same input may differ in: when they ran.
RUN_COLUMNS = ("ingested_at",)
SORT = schema.DEDUPE_KEYS
# Bytes per unit: the JSON Lines fixtures are read in several ranges.
UNIT = 1_500
COUNTS = ("units", "emitted", "stored", "duplicates_in_run", "duplicate_units", "unstorable", "quarantined")


def lake_table(spark: Any, root: Path | str, table: str) -> pl.DataFrame:
    arrow = Lake.open(str(root), spark).read(spark, table).toArrow()
    return _comparable(pl.from_arrow(arrow.cast(schema.TABLES[table].with_metadata(None), safe=False)), table)


def case_table(case: Case, table: str) -> pl.DataFrame:
    parts = case.parts(table)
    arrow = (
        pa.concat_tables([pq.read_table(p) for p in parts]) if parts else schema.TABLES[table].empty_table()
    )
    return _comparable(pl.from_arrow(arrow), table)


def _comparable(frame: Any, table: str) -> pl.DataFrame:
    assert isinstance(frame, pl.DataFrame)
    # Nullability aside (Spark reads every column as nullable), the same schema.
    frame = frame.cast(dict(pl.from_arrow(schema.TABLES[table].empty_table()).schema))  # type: ignore[union-attr]
    return frame.drop(RUN_COLUMNS).sort(list(SORT[table]), nulls_last=True)


def jsonl_with_a_bad_line(path: Path) -> tuple[Path, int]:
    """stream_sample.jsonl (some of its lines bad, the first at line 3), a copy of its first line,
    a truncated line, then the rest of it again: (the file, the truncated line's number)."""
    lines = (DATA / "twitter-v1" / "stream_sample.jsonl").read_bytes().splitlines(keepends=True)
    body = [*lines, lines[0], b'{"created_at": "Mon Jan 01 00:00:00 +0000 2024", "id_str": \n', *lines[1:]]
    path.write_bytes(b"".join(body))
    return path, len(lines) + 2


@pytest.fixture(scope="module")
def both(tmp_path_factory: Any, spark: Any) -> dict[str, Any]:
    """The fixtures and a file with a malformed line, repeated lines and ranges, read by both engines."""
    root = tmp_path_factory.mktemp("both")
    bad, bad_line = jsonl_with_a_bad_line(root / "bad.jsonl")
    inputs = [*FIXTURES, bad]
    assert len(units_of(plan_inputs([bad], "auto", None), UNIT)) > 2  # the bad line is in a later range
    return {
        "embedded": ingest(inputs, root / "case"),
        "spark": ingest_to_lake(inputs, f"file://{root / 'lake'}", session=spark, unit_bytes=UNIT),
        "case": Case.open(root / "case"),
        "lake": root / "lake",
        "bad": bad,
        "bad_line": bad_line,
    }


def test_the_lake_holds_what_the_embedded_ingest_stores(both: dict[str, Any], spark: Any) -> None:
    embedded, on_spark = both["embedded"], both["spark"]
    assert embedded.reconciles and on_spark.reconciles, on_spark.imbalances()
    for table in schema.TABLES:
        assert_frame_equal(lake_table(spark, both["lake"], table), case_table(both["case"], table))
    # Where each file's records went, counted the same way on both engines.
    for mine, theirs in zip(on_spark.as_dict()["files"], embedded.as_dict()["files"], strict=True):
        assert {k: mine[k] for k in COUNTS} == {k: theirs[k] for k in COUNTS}, mine["path"]


def test_the_lake_is_partitioned_by_dataset_and_day(both: dict[str, Any], spark: Any) -> None:
    days = sorted(p.name for p in (both["lake"] / "posts" / "dataset=sample").iterdir())
    assert days == ["day=2019-09-28", "day=2021-09-22", "day=2022-10-04"]
    # The partition values are read back as the schema's columns.
    assert "sample_flat" not in lake_table(spark, both["lake"], "posts")["dataset"]


def test_a_malformed_line_is_quarantined_with_its_file_and_line(both: dict[str, Any], spark: Any) -> None:
    quarantine = lake_table(spark, both["lake"], "quarantine").filter(
        pl.col("source_file") == str(both["bad"])
    )
    assert (both["bad_line"], "invalid JSON: Input data was truncated") in quarantine.select(
        "line", "reason"
    ).rows()


def test_a_duplicate_is_counted_where_it_is_dropped(both: dict[str, Any]) -> None:
    # bad.jsonl holds stream_sample.jsonl's posts twice, and is read after it: every post of it is a
    # duplicate of one read earlier (in another task), counted for bad.jsonl.
    bad = both["spark"].files[-1]
    assert bad.emitted["posts"] == 12 and bad.duplicates_in_run["posts"] == 12 and bad.stored["posts"] == 0


def test_strict_stops_at_the_first_bad_record_with_its_file_and_line(tmp_path: Path, spark: Any) -> None:
    bad, _ = jsonl_with_a_bad_line(tmp_path / "bad.jsonl")
    with pytest.raises(BadRecordError, match=r"bad\.jsonl, line 3: invalid JSON"):
        ingest_to_lake([bad], str(tmp_path / "lake"), session=spark, strict=True, unit_bytes=UNIT)
    assert not (tmp_path / "lake" / "posts").exists()


def test_a_lost_duplicate_breaks_the_reconciliation(tmp_path: Path, spark: Any, monkeypatch: Any) -> None:
    # The net: stored rows are counted from the written lake, apart from the duplicates counted by
    # the deduplication. A deduplication that counts but keeps the copies must not reconcile.
    original = lake._deduplicate

    def counts_but_keeps(rows: Any, table: str, report: Any) -> Any:
        original(rows, table, report)
        return rows.drop("_seq")

    monkeypatch.setattr(lake, "_deduplicate", counts_but_keeps)
    bad, _ = jsonl_with_a_bad_line(tmp_path / "bad.jsonl")
    report = ingest_to_lake([bad], str(tmp_path / "lake"), session=spark, unit_bytes=UNIT)
    assert not report.reconciles
    assert any("posts: 12 emitted != 12 stored + 8 duplicates in the run" in p for p in report.imbalances())


def test_a_lake_is_written_once_and_read_only_when_complete(
    both: dict[str, Any], tmp_path: Path, spark: Any
) -> None:
    with pytest.raises(CaseError, match="not a cibwatch lake"):
        Lake.open(str(tmp_path / "nothing"), spark)
    with pytest.raises(ConfigError, match="already holds a cibwatch lake"):
        ingest_to_lake(FIXTURES[:1], str(both["lake"]), session=spark)
    with pytest.raises(ConfigError, match="engine='spark'"):
        detect(Lake.open(str(both["lake"]), spark))


def _ring_csv(path: Path) -> Path:
    """Random reposts of 40 accounts, and 5 accounts reposting 8 items within seconds of each other."""
    rng = np.random.default_rng(7)
    rows = []
    for a in range(40):
        for item, t in zip(rng.integers(0, 60, 12), rng.uniform(0, 2 * 86_400, 12), strict=True):
            rows.append((f"u{a:02d}", int(t), f"item{item}"))
    for k in range(8):
        rows += [(f"ring{j}", 20_000 * k + 3 * j, f"hot{k}") for j in range(5)]
    lines = ["account,time,post,repost_of"]
    lines += [f"{a},{1_467_331_200 + t},p{n},{item}" for n, (a, t, item) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


RING_MAP = "account=account,time=time,post=post,repost_of=repost_of"


def test_coord_on_the_lake_equals_coord_on_the_case(tmp_path: Path, spark: Any) -> None:
    from tests.coord.test_engines import assert_same_result

    source = _ring_csv(tmp_path / "ring.csv")
    ingest([source], tmp_path / "case", mapping=RING_MAP)
    ingest_to_lake([source], str(tmp_path / "lake"), session=spark, mapping=RING_MAP)
    case = Case.open(tmp_path / "case")
    on_case = detect(case, traces=["repost"], window=60, engine="spark", spark=spark)
    on_lake = detect(
        Lake.open(str(tmp_path / "lake"), spark), traces=["repost"], window=60, engine="spark", spark=spark
    )
    assert on_case.accounts.filter(pl.col("status") == "coordinated").height == 5
    assert_same_result(on_case, on_lake)


def test_the_cli_ingests_on_spark_and_coord_reads_the_lake(tmp_path: Path, spark: Any, capsys: Any) -> None:
    source = _ring_csv(tmp_path / "ring.csv")
    lake_url = f"file://{tmp_path / 'lake'}"
    code, out, _ = run_cli(
        capsys, "ingest", source, "--engine", "spark", "--lake", lake_url, "--map", RING_MAP
    )
    assert code == 0 and "reconciles" in out
    coord = tmp_path / "coord"
    code, _, _ = run_cli(
        capsys, "coord", "--lake", lake_url, "--engine", "spark", "--out", coord, "--traces", "repost", "-q"
    )
    assert code == 0
    assert (coord / "edges.csv").exists()
    saved = Case.open(coord / "case")
    assert saved.has_table("coord_edges") and not saved.has_table("posts")
    # Without Spark, a lake is refused with what to do.
    code, _, err = run_cli(capsys, "coord", "--lake", lake_url, "--out", coord, "-q")
    assert code != 0 and "add --engine spark" in err
    code, _, err = run_cli(capsys, "ingest", source, "--engine", "spark", "--case", tmp_path / "c")
    assert code != 0 and "pass --lake URL" in err
