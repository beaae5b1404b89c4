"""The reconciliation counts at the source and compares at the end; these tests break it on purpose.

Units (CSV rows, lines, JSON values) are counted by ``Source`` as parsed, records as readers hand
them over, duplicates where they are dropped and stored rows from what the commit wrote: a reader
that skips a line or a commit that drops a row must make ``reconciles`` False and the CLI fail.
"""

from __future__ import annotations

import orjson
import pytest

from cibwatch.cli.main import main
from cibwatch.errors import InputFormatError
from cibwatch.ingest import commit, ingest
from cibwatch.ingest.formats import cresci_timelines
from cibwatch.store import open_case

HEADER = "user_id,tid,time,tweet\n"


def _timeline(rows: int) -> str:
    return HEADER + "".join(
        f"{100 + k % 7},{1000 + k},Tue Jan 08 20:46:02 +0000 2013,post {k}\n" for k in range(rows)
    )


def _cli(*args: object) -> int:
    """The exit code of the ``cibwatch`` entry point (errors become codes there)."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_a_clean_file_reconciles_and_each_count_is_taken_apart(tmp_path):
    path = tmp_path / "timeline.csv"
    path.write_text(_timeline(50) + "7,1000,Tue Jan 08 20:46:02 +0000 2013,post 0\n" + "x,y,z,w\n")
    report = ingest([path], tmp_path / "case", format="cresci-timelines")
    f = report.files[0]
    assert report.reconciles and report.imbalances() == []
    assert (f.units_read, f.units_used, f.units_quarantined) == (52, 51, 1)
    # Row 51 repeats post 1000 (another author): dropped by the commit, and noted as conflicting.
    assert (f.emitted["posts"], f.stored["posts"], f.duplicates_in_run["posts"]) == (51, 50, 1)
    assert f.conflicting["posts"] == 1
    assert f.notes == ["post ids seen again in this run with different content: 1; the first was kept"]
    assert (f.quarantined, f.quarantine_stored) == (1, 1)
    # Read again: every record and quarantine row is already in the case, counted as such.
    again = ingest([path], tmp_path / "case", format="cresci-timelines").files[0]
    assert again.reconciles and again.records_stored == 0
    assert (again.duplicates_in_case["posts"], again.duplicates_in_run["posts"]) == (50, 1)
    assert (again.quarantine_stored, again.quarantine_duplicates) == (0, 1)


def test_a_reader_that_skips_a_line_silently_breaks_the_balance(tmp_path, monkeypatch, capsys):
    path = tmp_path / "timeline.csv"
    path.write_text(_timeline(20))
    rows = cresci_timelines.normalized_rows

    def skipping(source):  # the Source still parses (and counts) line 5; the reader drops it
        return (row for row in rows(source) if row[0] != 5)

    monkeypatch.setattr(cresci_timelines, "normalized_rows", skipping)
    report = ingest([path], tmp_path / "case", format="cresci-timelines")
    assert not report.reconciles
    assert report.imbalances() == [f"{path}: units: 20 read != 19 gave records + 0 quarantined"]
    assert report.files[0].stored["posts"] == 19  # the rest was stored; the loss is loud, not silent
    code = _cli("ingest", path, "--case", tmp_path / "case2", "--format", "cresci-timelines", "-q")
    captured = capsys.readouterr()
    assert code == 4
    assert "DOES NOT RECONCILE" in captured.out and "20 read != 19 gave records" in captured.out
    assert "does not reconcile" in captured.err


def test_a_commit_that_drops_a_row_breaks_the_balance(tmp_path, monkeypatch, capsys):
    path = tmp_path / "timeline.csv"
    path.write_text(_timeline(30))
    copy = commit._copy_to_parquet

    def lossy(con, query, paths, table_schema, **kwargs):
        if "post_id" in query:  # the posts table: one row fewer than the deduplication kept
            query = f"SELECT * FROM ({query}) q WHERE post_id != '1007'"
        return copy(con, query, paths, table_schema, **kwargs)

    monkeypatch.setattr(commit, "_copy_to_parquet", lossy)
    report = ingest([path], tmp_path / "case", format="cresci-timelines")
    assert not report.reconciles
    assert report.imbalances() == [
        f"{path}: posts: 30 emitted != 29 stored + 0 duplicates in the run + 0 already in the case "
        "+ 0 unstorable"
    ]
    assert _cli("ingest", path, "--case", tmp_path / "case2", "--format", "cresci-timelines", "-q") == 4
    assert _cli("ingest", path, "--case", tmp_path / "case3", "--format", "cresci-timelines", "--json") == 4
    assert '"reconciles": false' in capsys.readouterr().out


def test_the_cli_summary_shows_the_counts_and_exits_zero_when_they_balance(tmp_path, capsys):
    path = tmp_path / "timeline.csv"
    path.write_text(_timeline(12) + _timeline(3).removeprefix(HEADER))  # 3 exact repeats
    assert _cli("ingest", path, "--case", tmp_path / "case", "--format", "cresci-timelines", "-q") == 0
    out = capsys.readouterr().out
    assert "reconciles" in out and "DOES NOT" not in out
    assert "timeline.csv: 15 units read = 15 gave records + 0 quarantined" in out


def test_every_bad_record_of_one_document_is_its_own_quarantine_row(tmp_path):
    # One v2 page, five tweets without created_at: five bad records, one line, one reason.
    page = {"data": [{"id": str(k), "text": "t", "author_id": "9"} for k in range(5)]}
    path = tmp_path / "page.jsonl"
    path.write_bytes(orjson.dumps(page) + b"\n")
    report = ingest([path], tmp_path / "case", format="twitter-v2")
    f = report.files[0]
    assert report.reconciles and (f.units_read, f.units_quarantined) == (1, 1)
    assert (f.quarantined, f.quarantine_stored) == (5, 5)
    with open_case(tmp_path / "case") as case:
        quarantine = case.read("quarantine")
    assert quarantine.height == 5 and quarantine["raw"].n_unique() == 5
    again = ingest([path], tmp_path / "case", format="twitter-v2").files[0]
    assert again.reconciles and (again.quarantine_stored, again.quarantine_duplicates) == (0, 5)


def test_an_unterminated_quote_costs_one_row(tmp_path):
    lines = _timeline(1000).splitlines(keepends=True)
    lines[2] = '"' + lines[2]  # row 2 of 1,000 opens a quote that never closes
    path = tmp_path / "timeline.csv"
    path.write_text("".join(lines))
    report = ingest([path], tmp_path / "case", format="cresci-timelines")
    f = report.files[0]
    assert report.reconciles
    assert (f.units_read, f.units_used, f.units_quarantined, f.records_stored) == (1000, 999, 1, 999)
    with open_case(tmp_path / "case") as case:
        (line, reason, raw), *_ = case.read("quarantine").select("line", "reason", "raw").rows()
    assert line == 3 and reason.startswith("unterminated quote") and raw.startswith('"101,1001,')


def test_a_quoted_field_running_past_the_line_bound_costs_one_row(tmp_path, monkeypatch):
    from cibwatch.ingest import source

    monkeypatch.setattr(source, "MAX_CSV_RECORD_LINES", 5)
    text = HEADER + '1,2,Tue Jan 08 20:46:02 +0000 2013,"a\nb\nc"\n' + _timeline(20).removeprefix(HEADER)
    lines = text.splitlines(keepends=True)
    lines[10] = lines[10].replace("post", '"post')
    path = tmp_path / "timeline.csv"
    path.write_text("".join(lines))
    report = ingest([path], tmp_path / "case", format="cresci-timelines")
    f = report.files[0]
    # 21 rows; the legitimate 3-line quoted field is one row, the runaway quote one quarantined row.
    assert report.reconciles and (f.units_read, f.units_used, f.units_quarantined) == (21, 20, 1)


def test_a_headerless_cresci_timeline_is_refused_by_name(tmp_path, capsys):
    path = tmp_path / "fake_followers_timelines.csv"
    path.write_text(_timeline(10).removeprefix(HEADER))
    with pytest.raises(InputFormatError, match=r"fake_followers_timelines\.csv has no header"):
        ingest([path], tmp_path / "case", format="cresci")
    assert _cli("ingest", path, "--case", tmp_path / "case2", "--format", "cresci", "-q") == 1
    assert "user_id,tid,time,tweet" in capsys.readouterr().err


def test_real_files_with_an_unterminated_quote_and_without_a_header(shared, tmp_path):
    import gzip
    import itertools
    import lzma

    with gzip.open(shared("io", "coortweet", "russian_coord_tweets.csv.gz"), "rt", newline="") as fh:
        lines = list(itertools.islice(fh, 1001))
    lines[2] = '"' + lines[2]  # row 2 of 1,000
    quoted = tmp_path / "russian_1000.csv"
    quoted.write_text("".join(lines))
    f = ingest([quoted], tmp_path / "case").files[0]
    assert (f.reader, f.units_read, f.units_quarantined, f.stored["posts"]) == ("coortweet", 1000, 1, 999)
    timelines = shared("io", "cresci-2015", "fake_followers_timelines.csv.xz")
    with lzma.open(timelines, "rt", newline="") as fh:
        rows = list(itertools.islice(fh, 1, 2001))  # 2,000 rows, without the header line
    headerless = tmp_path / "fake_followers_timelines.csv"
    headerless.write_text("".join(rows))
    with pytest.raises(InputFormatError, match="has no header cresci knows"):
        ingest([headerless], tmp_path / "case2", format="cresci")
