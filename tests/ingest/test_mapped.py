"""``--map``: any CSV, TSV, JSON Lines or Parquet table read by naming its columns."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cibwatch import open_case
from cibwatch.cli.main import app, main
from cibwatch.errors import ConfigError, InputFormatError
from cibwatch.ingest import ingest
from cibwatch.ingest.formats import mapped
from cibwatch.ingest.formats.csv_common import REPOST_TEXT_PREFIX
from cibwatch.ingest.mapping import FIELDS, ColumnMap, guess_map
from cibwatch.values import normalize_text, parse_date_ms, stable_id

ANSI = re.compile(r"\x1b\[[0-9;]*m")
IO_COLUMNS = [
    "tweetid", "user_screen_name", "user_display_name", "follower_count", "following_count",
    "account_creation_date", "tweet_time", "tweet_text", "is_retweet", "retweet_tweetid", "hashtags",
]  # fmt: skip
IO_MAP = (
    "account=user_screen_name,screen_name=user_screen_name,time=tweet_time,text=tweet_text,post=tweetid,"
    "followers=follower_count,following=following_count,account_created=account_creation_date,"
    "is_repost=is_retweet,repost_of=retweet_tweetid,hashtags=hashtags"
)


def _ms(text: str) -> int:
    return parse_date_ms(text)


def write_csv(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def io_archive_without_userid(path: Path) -> Path:
    """X's information-operations layout with ``userid`` removed; X API account creation dates."""
    rows = [
        ["101", "alice_io", "Alice", "120", "30", "Tue Oct 07 19:55:59 +0000 2014", "2016-01-01 12:34",
         "Read this #Vote", "False", "", "[Vote]"],
        ["102", "bob_io", "Bob", "5", "9", "2014-10-08", "2016-01-01 12:35",
         "RT @alice_io: Read this #Vote", "True", "101", "[Vote]"],
        ["103", "bob_io", "Bob", "5", "9", "2014-10-08", "2016-01-01 12:36", "line one\nline two",
         "False", "", "[]"],
    ]  # fmt: skip
    return write_csv(path, IO_COLUMNS, rows)


def _case(tmp_path: Path, name: str = "case") -> Path:
    return tmp_path / name


# -- the io-archive layout without userid -------------------------------------------------------


def test_io_archive_without_userid_is_read_by_name(tmp_path):
    path = io_archive_without_userid(tmp_path / "iran_tweets.csv")
    report = ingest([path], _case(tmp_path), mapping=IO_MAP)
    assert report.reconciles and report.total("quarantined") == 0
    case = open_case(_case(tmp_path))
    posts = {r["post_id"]: r for r in case.read("posts").to_dicts()}
    assert set(posts) == {"101", "102", "103"}
    assert posts["102"]["kind"] == "repost" and posts["102"]["ref_post_id"] == "101"
    assert posts["103"]["text"] == "line one\nline two"
    assert posts["101"]["hashtags"] == ["Vote"] and posts["101"]["platform"] == "other"
    accounts = {
        r["account_id"]: r
        for r in case.read("accounts").filter(pl.col("reader") != "author-stub@1").to_dicts()
    }
    # The X API form of account_creation_date is read (it was quarantined before the shared parser).
    alice = accounts["alice_io"]
    assert int(alice["created_at"].timestamp() * 1000) == _ms("2014-10-07T19:55:59Z")
    assert (alice["followers"], alice["following"], alice["screen_name"]) == (120, 30, "alice_io")


@pytest.mark.parametrize("batch", [mapped.BATCH_ROWS, 2], ids=["one-batch", "batches-of-2"])
def test_quarantine_names_line_column_value_and_the_forms_tried(tmp_path, monkeypatch, batch):
    monkeypatch.setattr(mapped, "BATCH_ROWS", batch)
    path = write_csv(
        tmp_path / "t.csv",
        ["id", "who", "when", "body", "followers"],
        [["1", "a", "2020-01-01 10:00", "x\ny", "1"], ["2", "a", "last tuesday", "z", "1"],
         ["3", "b", "2020-01-01 10:00", "w", "many"], ["4", "", "2020-01-01 10:00", "v", "1"]],
    )  # fmt: skip
    report = ingest(
        [path], _case(tmp_path), mapping="post=id,account=who,time=when,text=body,followers=followers"
    )
    assert report.reconciles
    rows = open_case(_case(tmp_path)).read("quarantine").sort("line").select("line", "reason", "raw").rows()
    # Lines count the line break inside row 1's quoted text.
    assert [line for line, _, _ in rows] == [4, 5, 6]
    assert rows[0][1].startswith("bad date 'last tuesday' (tried: ISO 8601")
    assert (
        "X API" in rows[0][1]
        and "epoch seconds or milliseconds" in rows[0][1]
        and "column 'when'" in rows[0][1]
    )
    assert rows[0][2] == "2,a,last tuesday,z,1"
    assert rows[1][1] == "bad count 'many' in column 'followers'"
    assert rows[2][1] == "empty account (column 'who')"


# -- a Telegram export: forwards become reposts ---------------------------------------------------


def test_telegram_export_maps_to_posts_and_reposts(tmp_path):
    path = write_csv(
        tmp_path / "telegram.csv",
        ["channel", "message_id", "date", "text", "forwarded_from"],
        [
            ["news_a", "1", "2024-03-01T08:00:00", "The dam has failed", ""],
            ["echo_b", "77", "2024-03-01T08:00:05", "The dam has failed", "news_a"],
            ["echo_c", "12", "2024-03-01T08:00:07", "The  dam has FAILED", "news_a"],
        ],
    )
    spec = (
        "account=channel,post=message_id,time=date,text=text,repost_of_account=forwarded_from,"
        "platform=telegram"
    )
    report = ingest([path], _case(tmp_path), mapping=spec)
    assert report.reconciles and report.total("quarantined") == 0
    posts = open_case(_case(tmp_path)).read("posts").sort("created_at").to_dicts()
    assert [p["kind"] for p in posts] == ["original", "repost", "repost"]
    assert {p["platform"] for p in posts} == {"telegram"}
    forwards = posts[1:]
    # Both forwards point at one post: the id the other readers derive from account and text.
    expected = stable_id("news_a", normalize_text("The dam has failed"), prefix=REPOST_TEXT_PREFIX)
    assert {p["ref_post_id"] for p in forwards} == {expected}
    assert {p["ref_account_id"] for p in forwards} == {"news_a"}


def test_posts_without_ids_get_a_stable_derived_id(tmp_path):
    rows = [["u1", "1700000000", "first"], ["u2", "1700000000123", "second"]]
    path = write_csv(tmp_path / "yt.tsv", ["author", "published", "comment"], rows, delimiter="\t")
    ingest([path], _case(tmp_path), mapping="account=author,time=published,text=comment,platform=youtube")
    posts = open_case(_case(tmp_path)).read("posts").sort("account_id").to_dicts()
    assert posts[0]["post_id"] == stable_id(
        "u1", str(1_700_000_000_000), "first", prefix=mapped.POST_ID_PREFIX
    )
    assert posts[1]["created_at"].timestamp() == 1_700_000_000.123
    again = ingest(
        [path], _case(tmp_path), mapping="account=author,time=published,text=comment,platform=youtube"
    )
    assert again.reconciles and again.total("records_stored") == 0


# -- nested tables ------------------------------------------------------------------------------

NESTED = [
    {"id": "p1", "author": {"handle": "ana", "stats": {"followers": 10}},
     "created": "2024-01-01T10:00:00+01:00", "body": "hi #Tag https://x.example/a",
     "entities": {"tags": ["Tag", "more"]}},
    {"id": "p2", "author": {"handle": "ben", "stats": {"followers": 3}}, "created": "1704099600000",
     "body": "reply", "entities": {"tags": []}, "parent": "p1"},
]  # fmt: skip
NESTED_MAP = (
    "post=id,account=author.handle,followers=author.stats.followers,time=created,text=body,"
    "hashtags=entities.tags,reply_to=parent"
)


def _check_nested(case_dir: Path) -> None:
    case = open_case(case_dir)
    posts = {p["post_id"]: p for p in case.read("posts").to_dicts()}
    assert posts["p1"]["account_id"] == "ana" and posts["p1"]["hashtags"] == ["Tag", "more"]
    assert posts["p1"]["urls"] == ["https://x.example/a"]  # from the text: no urls column mapped
    assert posts["p1"]["created_at"] == posts["p2"]["created_at"]
    assert posts["p2"]["kind"] == "reply" and posts["p2"]["ref_post_id"] == "p1"
    followers = dict(case.read("accounts").drop_nulls("followers").select("account_id", "followers").rows())
    assert followers == {"ana": 10, "ben": 3}


def test_parquet_with_nested_columns(tmp_path):
    path = tmp_path / "nested.parquet"
    pl.DataFrame(NESTED).write_parquet(path)
    assert pl.read_parquet_schema(path)["author"] == pl.Struct  # a real struct column, not flattened
    report = ingest([path], _case(tmp_path), mapping=NESTED_MAP)
    assert report.reconciles and report.total("quarantined") == 0
    _check_nested(_case(tmp_path))


def test_json_lines_with_dotted_paths(tmp_path):
    path = tmp_path / "nested.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in NESTED) + "{not json\n")
    report = ingest([path], _case(tmp_path), mapping=NESTED_MAP)
    assert report.reconciles and report.total("quarantined") == 1
    _check_nested(_case(tmp_path))
    [(line, reason)] = open_case(_case(tmp_path)).read("quarantine").select("line", "reason").rows()
    assert line == 3 and reason.startswith("bad JSON")


# -- the map itself --------------------------------------------------------------------------------


def test_unknown_field_lists_the_valid_fields():
    with pytest.raises(InputFormatError, match="unknown field\\(s\\) auther") as err:
        ColumnMap.parse("auther=user,time=t")
    assert all(name in str(err.value) for name in FIELDS)


def test_map_needs_account_and_time():
    with pytest.raises(InputFormatError, match="missing time"):
        ColumnMap.parse("account=user,text=body")


def test_missing_column_lists_the_file_columns(tmp_path):
    path = io_archive_without_userid(tmp_path / "t.csv")
    with pytest.raises(InputFormatError) as err:
        ingest([path], _case(tmp_path), mapping="account=userid,time=tweet_time")
    message = str(err.value)
    assert "account=userid" in message and "tweet_time, tweet_text, is_retweet" in message


def test_toml_mapping_file(tmp_path):
    toml = tmp_path / "telegram.toml"
    toml.write_text(
        'platform = "telegram"\ntz = "Europe/Kyiv"\n[columns]\naccount = "channel"\ntime = "date"\n'
    )
    path = write_csv(tmp_path / "t.csv", ["channel", "date"], [["c1", "2024-07-01 12:00"]])
    ingest([path], _case(tmp_path), mapping=f"@{toml}")
    [post] = open_case(_case(tmp_path)).read("posts").to_dicts()
    assert post["platform"] == "telegram"
    assert post["created_at"].timestamp() == _ms("2024-07-01T09:00:00Z") / 1000  # Kyiv is UTC+3 in July
    toml.write_text('[columns]\naccount = "channel"\ntime = "date"\ncolour = "x"\n')
    with pytest.raises(InputFormatError, match="unknown field\\(s\\) colour"):
        ColumnMap.parse(f"@{toml}")


def test_guessed_map_from_a_header():
    assert guess_map(["Channel", "Message ID", "Date", "Text", "Forwarded From"]) == {
        "account": "Channel", "time": "Date", "text": "Text", "post": "Message ID",
        "repost_of_account": "Forwarded From",
    }  # fmt: skip


# -- the CLI: refusal with a --map to use, --map, formats --explain ---------------------------------


def _invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    return result.exit_code, ANSI.sub("", result.output)


def _main(capsys, *args: object) -> tuple[int, str]:
    """The installed command's entry point (it turns cibwatch's errors into a message and exit code)."""
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(stop.value.code or 0), ANSI.sub("", captured.out + captured.err)


def test_refusal_suggests_a_map_that_ingests_the_file_as_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    path = io_archive_without_userid(tmp_path / "iran.csv")
    code, output = _main(capsys, "ingest", path, "--case", _case(tmp_path), "-q")
    assert code == 1
    assert "Can't tell the format" in output and "columns seen: tweetid, user_screen_name" in output
    assert "io-archive (misses userid)" in output
    assert len(output) < 1500, "the refusal is short; the list of formats is behind `cibwatch formats`"
    [suggestion] = re.findall(r"^\s*--map (\S+)$", output, re.MULTILINE)
    assert "account=user_screen_name" in suggestion and "time=tweet_time" in suggestion
    code, output = _invoke("ingest", path, "--case", _case(tmp_path), "-q", "--map", suggestion)
    assert code == 0, output
    assert open_case(_case(tmp_path)).read("posts").height == 3


def test_formats_explain_previews_without_ingesting(tmp_path):
    path = io_archive_without_userid(tmp_path / "iran.csv")
    code, output = _invoke("formats", "--explain", path, "--map", IO_MAP)
    assert code == 0, output
    assert (
        "read as mapped" in output and "user_screen_name" in output and "first 3 normalized posts" in output
    )
    assert "2016-01-01T12:34:00Z" in output and "repost" in output
    assert not _case(tmp_path).exists()
    # Without --map: the refusal, then a preview with the map it suggests.
    code, output = _invoke("formats", "--explain", path)
    assert code == 0 and "Previewed with the suggested map" in output


def test_scan_and_coord_take_map(tmp_path):
    path = io_archive_without_userid(tmp_path / "iran.csv")
    code, output = _invoke("coord", path, "--out", tmp_path / "coord", "--map", IO_MAP, "-q")
    assert code == 0, output
    assert open_case(tmp_path / "coord" / "case").read("posts").height == 3
    code, output = _invoke("scan", path, "--out", tmp_path / "scan", "--map", IO_MAP, "--no-report", "-q")
    assert code == 0, output
    assert open_case(tmp_path / "scan" / "case").read("posts").height == 3


# -- reconciliation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [mapped.BATCH_ROWS, 7], ids=["one-batch", "batches-of-7"])
def test_mapped_input_reconciles_against_an_independent_count(tmp_path, monkeypatch, batch):
    monkeypatch.setattr(mapped, "BATCH_ROWS", batch)
    rows = [[str(i), f"u{i % 7}", f"2024-01-0{1 + i % 9} 10:{i % 60:02d}", f"text {i}"] for i in range(500)]
    rows[10][2] = "soon"
    rows[20][0] = rows[21][0]  # a duplicate post id
    path = write_csv(tmp_path / "t.csv", ["id", "user", "ts", "text"], rows)
    report = ingest([path], _case(tmp_path), mapping="post=id,account=user,time=ts,text=text")
    assert report.reconciles
    data_rows = sum(1 for _ in csv.reader(path.open(newline=""))) - 1  # counted apart from cibwatch
    [f] = report.files
    assert f.units_read == data_rows == 500
    assert (f.units_used, f.units_quarantined) == (499, 1)
    assert f.records_stored + f.in_run_duplicates == f.records_emitted == 499
    assert open_case(_case(tmp_path)).read("quarantine")["line"].to_list() == [12]  # row 11, after the header


def test_a_row_lost_by_the_reader_breaks_the_reconciliation(tmp_path, monkeypatch):
    path = io_archive_without_userid(tmp_path / "t.csv")
    real_rows = mapped.MappedReader.rows

    def losing_one(self, table, mapping):
        for k, item in enumerate(real_rows(self, table, mapping)):
            if k == 1:
                yield item[0], ("record", (None, None, None))  # handed on as nothing
                continue
            yield item

    original_read = mapped.MappedReader.read

    def read(self, source, sink):
        class Lossy:
            def __getattr__(self, name):
                return getattr(sink, name)

            def post_rows(self, rows, line):
                if rows[0] is not None:
                    sink.post_rows(rows, line)

        original_read(self, source, Lossy())

    monkeypatch.setattr(mapped.MappedReader, "rows", losing_one)
    monkeypatch.setattr(mapped.MappedReader, "read", read)
    report = ingest([path], _case(tmp_path), mapping=IO_MAP)
    assert not report.reconciles


def test_configured_reader_crosses_to_worker_processes(tmp_path, monkeypatch):
    from cibwatch.ingest import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    a = io_archive_without_userid(tmp_path / "a.csv")
    b = write_csv(
        tmp_path / "b.csv", IO_COLUMNS, [["201", "cy", "", "1", "1", "", "2016-02-01 00:00", "x", "", "", ""]]
    )
    report = ingest([a, b], _case(tmp_path), mapping=IO_MAP + ",platform=x-io", workers=2)
    assert report.reconciles
    posts = open_case(_case(tmp_path)).read("posts")
    assert posts.height == 4 and set(posts["platform"]) == {"x-io"}


def test_rows_that_are_not_utf8_are_quarantined_as_by_the_other_csv_readers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"who,when,body\na,2020-01-01,caf\xe9\nb,2020-01-02,ok\n")
    report = ingest([path], _case(tmp_path), mapping="account=who,time=when,text=body")
    assert report.reconciles
    [(line, reason)] = open_case(_case(tmp_path)).read("quarantine").select("line", "reason").rows()
    assert (line, reason) == (2, "undecodable bytes (not UTF-8)")
    assert open_case(_case(tmp_path)).read("posts")["account_id"].to_list() == ["b"]


def test_json_field_that_is_sometimes_a_list_and_sometimes_text(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [{"u": "a", "t": "2024-01-01", "tags": ["x", "y"]}, {"u": "b", "t": "2024-01-01", "tags": "z"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ingest([path], _case(tmp_path), mapping="account=u,time=t,hashtags=tags")
    assert report.reconciles and report.total("quarantined") == 0
    tags = dict(open_case(_case(tmp_path)).read("posts").select("account_id", "hashtags").rows())
    assert tags == {"a": ["x", "y"], "b": ["z"]}


def test_parquet_time_columns_and_unreadable_nesting(tmp_path):
    from datetime import UTC, datetime

    path = tmp_path / "typed.parquet"
    moment = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    pl.DataFrame(
        {"who": ["a"], "at": [moment], "naive": [moment.replace(tzinfo=None)], "deep": [[[1, 2]]]}
    ).write_parquet(path)
    ingest([path], _case(tmp_path), mapping="account=who,time=at,account_created=naive,platform=p")
    [post] = open_case(_case(tmp_path)).read("posts").to_dicts()
    assert post["created_at"] == moment
    with pytest.raises(InputFormatError, match="column 'deep'"):
        ingest([path], _case(tmp_path, "other"), mapping="account=who,time=at,hashtags=deep")


def test_tz_option_sets_the_zone_of_every_reader(tmp_path):
    from tests.conftest import FIXTURES

    # io-archive's naive tweet_time, read in Berlin (UTC+1 in January).
    sample = FIXTURES / "io-archive"
    files = sorted(p for p in sample.iterdir() if p.name.startswith("sample"))
    utc = ingest(files, _case(tmp_path, "utc"), format="io-archive")
    berlin = ingest(files, _case(tmp_path, "berlin"), format="io-archive", tz="Europe/Berlin")
    assert utc.reconciles and berlin.reconciles
    times = {
        name: open_case(_case(tmp_path, name)).read("posts").sort("post_id")["created_at"].to_list()
        for name in ("utc", "berlin")
    }
    shifts = {(u - b).total_seconds() for u, b in zip(times["utc"], times["berlin"], strict=True)}
    assert shifts <= {3600.0, 7200.0} and shifts  # winter +1 h, summer +2 h
    # A map without its own tz follows --tz; with one, the map's wins.
    path = write_csv(tmp_path / "t.csv", ["who", "when"], [["a", "2024-01-01 12:00"]])
    ingest([path], _case(tmp_path, "m1"), mapping="account=who,time=when", tz="+02:00")
    ingest([path], _case(tmp_path, "m2"), mapping="account=who,time=when,tz=UTC", tz="+02:00")
    [one] = open_case(_case(tmp_path, "m1")).read("posts")["created_at"].to_list()
    [two] = open_case(_case(tmp_path, "m2")).read("posts")["created_at"].to_list()
    assert (two - one).total_seconds() == 7200
    with pytest.raises(ConfigError, match="unknown time zone 'Mars'"):
        ingest([path], _case(tmp_path, "m3"), tz="Mars")


def test_values_past_the_input_bounds_cost_their_row(tmp_path, monkeypatch):
    from cibwatch.ingest import source

    monkeypatch.setattr(mapped, "MAX_FIELD_BYTES", 50)
    path = write_csv(
        tmp_path / "t.csv",
        ["who", "when", "body"],
        [["a", "2024-01-01", "x" * 51], ["b", "2024-01-01", "ok"]],
    )
    report = ingest([path], _case(tmp_path), mapping="account=who,time=when,text=body")
    assert report.reconciles and report.total("quarantined") == 1
    [reason] = open_case(_case(tmp_path)).read("quarantine")["reason"].to_list()
    assert reason.startswith("field longer than MAX_FIELD_BYTES (50 bytes) in column 'body'")
    monkeypatch.setattr(source, "MAX_LINE_BYTES", 200)
    lines = [
        {"who": "a", "when": "2024-01-01", "body": "y" * 300},
        {"who": "b", "when": "2024-01-01", "body": "ok"},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ingest([path], _case(tmp_path, "j"), mapping="account=who,time=when,text=body")
    assert report.reconciles
    [(line, reason)] = open_case(_case(tmp_path, "j")).read("quarantine").select("line", "reason").rows()
    assert line == 1 and reason.startswith("line longer than MAX_LINE_BYTES")
