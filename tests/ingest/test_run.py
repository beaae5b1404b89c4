"""The staging sink: whole batches convert in one struct conversion, with the same arrays and the
same refusals as the column-by-column conversion that names a refused value."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch import open_case, schema
from cibwatch.ingest import ingest
from cibwatch.ingest.sink import _columns

_SCHEMA = pa.schema(
    [
        pa.field("s", pa.string()),
        pa.field("n", pa.int64()),
        pa.field("b", pa.bool_()),
        pa.field("tags", schema.STR_LIST),
    ]
)
_ANY = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.just("\ud800"),  # a lone surrogate: Arrow refuses it
    st.integers(-(2**64), 2**64),
    st.booleans(),
    st.floats(-1e6, 1e6),
    st.lists(st.text(max_size=2) | st.none(), max_size=3),
    st.lists(st.integers(0, 9), min_size=1, max_size=2),
)


_REFUSED = (pa.ArrowException, TypeError, ValueError, UnicodeError)


def _convert(rows):
    try:
        return _columns(rows, _SCHEMA.names, _SCHEMA)
    except _REFUSED:
        return None
    except OverflowError:  # the sink lets it escape, so it must not depend on the batch
        return OverflowError


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(*[_ANY] * len(_SCHEMA)), min_size=1, max_size=5))
def test_a_batch_converts_as_its_rows_do_one_by_one(rows):
    # The sink converts a batch at once and, if Arrow refuses it, row by row to find the rows
    # to quarantine: that is only right if a batch fails exactly when one of its rows does.
    alone = [_convert([row]) for row in rows]
    batch = _convert(rows)
    if OverflowError in alone:
        assert batch is OverflowError or batch is None
        return
    if any(a is None for a in alone):
        assert batch is None
        return
    assert batch is not None and batch is not OverflowError
    for name in _SCHEMA.names:
        assert batch[name].equals(pa.concat_arrays([a[name] for a in alone]).cast(batch[name].type))


def test_unstorable_row_is_quarantined_and_the_rest_kept(tmp_path: Path):
    good = '{"created_at": "Sat Sep 28 18:05:23 +0000 2019", "id_str": "%d", "text": "ok", "user": {"id": 9}}'
    bad = good.replace('"ok"', '"\\ud800"') % 2
    # A JSON array (the stdlib decoder keeps the lone surrogate; JSON Lines decoders refuse it).
    path = tmp_path / "tweets.json"
    path.write_text("[\n" + ",\n".join([good % 1, bad, good % 3]) + "\n]\n")
    report = ingest([path], tmp_path / "case", workers=1)
    assert report.reconciles and report.files[0].quarantined == 1
    case = open_case(tmp_path / "case")
    assert sorted(case.read("posts")["post_id"].to_list()) == ["1", "3"]
    row = case.read("quarantine").row(0, named=True)
    assert row["line"] == 3
    assert row["reason"].startswith("unstorable posts record: 'utf-8' codec can't encode character '\\ud800'")


def test_post_rows_are_in_the_order_the_sink_stages(tmp_path: Path):
    from cibwatch.ingest.sink import StagingSink

    assert StagingSink(tmp_path, strict=False, progress=None)._row_fields["posts"] == list(schema.POST_ROW)


_IO_ARCHIVE = Path(__file__).parents[1] / "data" / "io-archive" / "sample_tweets_csv_hashed.csv"
_V1_TWEET = (
    '{"created_at": "Sat Sep 28 18:05:23 +0000 2019", "id_str": "%d", "text": "%s", '
    '"user": {"id_str": "9", "screen_name": "nine"}}'
)


def _long_text_inputs(tmp_path: Path, rows: int, chars: int) -> list[Path]:
    header, first = _IO_ARCHIVE.read_text().splitlines(keepends=True)[:2]
    csv_path = tmp_path / "io.csv"
    csv_path.write_text(
        header
        + "".join(
            first.replace("700000000000000001", str(900000000000000000 + k)).replace(
                "Breaking: big story tonight", "z" * chars
            )
            for k in range(rows)
        )
    )
    jsonl_path = tmp_path / "v1.jsonl"  # the v1.1 fast path stages posts by post_rows
    jsonl_path.write_text("".join(_V1_TWEET % (k + 1, "y" * chars) + "\n" for k in range(rows)))
    return [csv_path, jsonl_path]


def test_batches_are_bounded_by_their_text_not_only_by_rows(tmp_path: Path, monkeypatch):
    """Rows of long text are staged and committed a few at a time (2,000 CSV rows of 1 MB text
    peaked near 6 GB and failed in the commit when only the row count bounded a batch)."""
    import pyarrow.parquet as pq

    from cibwatch.ingest import commit, sink

    monkeypatch.setattr(sink, "BATCH_TEXT_CHARS", 30_000)
    monkeypatch.setattr(commit, "COMMIT_BATCH_BYTES", 60_000)
    flushed: list[int] = []
    flush = sink.StagingSink._flush

    def counting_flush(self, table):
        if table == "posts" and self._rows["posts"]:
            flushed.append(len(self._rows["posts"]))
        flush(self, table)

    monkeypatch.setattr(sink.StagingSink, "_flush", counting_flush)
    inputs = _long_text_inputs(tmp_path, rows=20, chars=10_000)
    report = ingest(inputs, tmp_path / "case", workers=1)
    assert report.reconciles
    assert [f.stored["posts"] for f in report.files] == [20, 20]
    # 30,000 characters a batch: three 10,000-character posts, from either path.
    assert len(flushed) >= 2 * 20 // 3 and max(flushed) <= 3, flushed
    case = open_case(tmp_path / "case")
    groups = [
        pq.ParquetFile(part).metadata.row_group(k).num_rows
        for part in case.parts("posts")
        for k in range(pq.ParquetFile(part).metadata.num_row_groups)
    ]
    assert sum(groups) == 40 and max(groups) <= 6, groups  # about 60,000 bytes a commit batch


def _headerless_cresci(tmp_path: Path) -> Path:
    sample = Path(__file__).parents[1] / "data" / "cresci" / "fake_followers_timelines_sample.csv"
    path = tmp_path / "noheader.csv"
    path.write_text("".join(sample.read_text().splitlines(keepends=True)[1:]))
    return path


def test_a_failed_ingest_leaves_no_new_empty_case(tmp_path: Path):
    import pytest

    from cibwatch.errors import InputFormatError

    case_dir = tmp_path / "new-case"
    with pytest.raises(InputFormatError, match="has no header cresci knows"):
        ingest([_headerless_cresci(tmp_path)], case_dir, format="cresci", workers=1)
    assert not case_dir.exists()


def test_a_failed_ingest_keeps_the_case_it_was_given(tmp_path: Path):
    import pytest

    from cibwatch.errors import InputFormatError

    case_dir = tmp_path / "case"
    good = ingest([_IO_ARCHIVE], case_dir, workers=1)
    with pytest.raises(InputFormatError):
        ingest([_headerless_cresci(tmp_path)], case_dir, format="cresci", workers=1)
    assert open_case(case_dir).summary()["posts"] == good.files[0].stored["posts"] > 0
