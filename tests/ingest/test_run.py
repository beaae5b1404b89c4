"""The staging sink: whole batches convert in one struct conversion, with the same arrays and the
same refusals as the column-by-column conversion that names a refused value."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch import open_case, schema
from cibwatch.ingest import ingest
from cibwatch.ingest.run import _columns, _row_columns

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


def _flush(batch_convert, rows):
    """What the sink's flush makes of ``rows``: the arrays of the kept rows and the refused rows'
    errors, or the error that escapes (as the sink lets OverflowError escape)."""
    try:
        try:
            return batch_convert(rows, _SCHEMA.names, _SCHEMA), []
        except _REFUSED:
            kept, refused = [], []
            for row in rows:
                try:
                    _row_columns([row], _SCHEMA.names, _SCHEMA)
                except _REFUSED as exc:
                    refused.append(str(exc))
                else:
                    kept.append(row)
            return (_row_columns(kept, _SCHEMA.names, _SCHEMA) if kept else {}), refused
    except OverflowError:
        return OverflowError


@settings(max_examples=400, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={k: _ANY for k in _SCHEMA.names}), min_size=1, max_size=5))
def test_struct_conversion_stores_and_refuses_as_column_conversion(rows):
    fast, slow = _flush(_columns, rows), _flush(_row_columns, rows)
    if slow is OverflowError or fast is OverflowError:
        assert fast is slow
        return
    assert fast[1] == slow[1]
    assert fast[0].keys() == slow[0].keys()
    assert all(fast[0][k].equals(slow[0][k]) for k in fast[0])


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
