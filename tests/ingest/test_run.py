"""The staging sink: whole batches convert in one struct conversion, with the same arrays and the
same refusals as the column-by-column conversion that names a refused value."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch import open_case, schema
from cibwatch.ingest import ingest
from cibwatch.ingest.run import _columns

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
    from cibwatch.ingest.run import StagingSink

    assert StagingSink(tmp_path, strict=False, progress=None)._row_fields["posts"] == list(schema.POST_ROW)
