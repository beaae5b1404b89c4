"""The case's views are recreated only when its parts change: connecting must not rebuild them
for every request, and must never serve views of files that are gone or replaced."""

from __future__ import annotations

import pyarrow as pa

from cibwatch.store.case import VIEWS_STAMP, Case


def _stamp(case: Case) -> str:
    return str(case.scalar(f"SELECT stamp FROM {VIEWS_STAMP}"))


def test_an_unchanged_case_keeps_its_views_and_a_changed_one_gets_new_ones(tmp_path):
    case = Case.create(tmp_path / "case")
    case.write_part("bot_scores", pa.table({"account_id": ["a"]}), "part-0")
    first = _stamp(case)
    case.close()

    with Case.open(case.root) as again:
        assert _stamp(again) == first
        # Equal stamps mean the views are not rebuilt: a view dropped behind the stamp's back stays gone.
        again.con.execute("DROP VIEW bot_scores")
    with Case.open(case.root) as again:
        assert again.scalar("SELECT count(*) FROM duckdb_views() WHERE view_name = 'bot_scores'") == 0
        again.con.execute(f"UPDATE {VIEWS_STAMP} SET stamp = 'stale'")
    with Case.open(case.root) as again:  # a stamp that does not match: every view is made anew
        assert again.scalar("SELECT count(*) FROM bot_scores") == 1
        assert _stamp(again) == first


def test_parts_added_or_replaced_by_another_process_are_seen(tmp_path):
    case = Case.create(tmp_path / "case")
    case.write_part("bot_scores", pa.table({"account_id": ["a"]}), "part-0")
    case.close()
    with Case.open(case.root) as writer:
        writer.write_part("bot_scores", pa.table({"account_id": ["b"]}), "part-1")
    with Case.open(case.root) as reader:
        assert sorted(reader.read("bot_scores")["account_id"]) == ["a", "b"]
        assert reader.scalar("SELECT count(*) FROM bot_scores") == 2
    with Case.open(case.root) as writer:  # same part name, new columns
        writer.replace_table("bot_scores", pa.table({"account_id": ["c"], "extra": [1]}))
    with Case.open(case.root) as reader:
        assert reader.con.execute("SELECT account_id, extra FROM bot_scores").fetchall() == [("c", 1)]
