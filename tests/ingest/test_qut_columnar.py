"""The QUT reader's columnar fast path (``csv_columnar``) stores what its row path stores: the
same posts, snapshots, quarantine rows (reasons and line numbers) and counts, on simulator
output, on the fixtures and on files with bad rows, quoted line breaks and non-ASCII tags."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cibwatch.evaluate.qut import export_qut_csv
from cibwatch.ingest import ingest
from cibwatch.ingest.formats import csv_columnar, qut
from cibwatch.ingest.formats.csv_columnar import PYTHON_WHITESPACE
from cibwatch.ingest.sink import StagingSink
from cibwatch.sim.run import simulate
from cibwatch.store.case import Case
from cibwatch.values import hashtags_in, mentions_in
from tests.conftest import FIXTURES
from tests.ingest.test_qut_rows import _KEYS, _tables, _write_csv

_COUNTS = ("units_read", "units_used", "units_quarantined", "emitted", "stored", "duplicates_in_run")
HEADER = "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls"
# Texts the fast path must read as the row path does: quotes, line breaks, tags in many scripts.
_TEXTS = [
    '"hi #Tag @Bob, ""quoted"""',
    "plain text",
    "",
    "x@y.z and a#b",
    '"two\nlines #x"',
    '"crlf\r\ninside @x #y"',
    "#Ünïcode tag @Jürgen",
    "mixed #tag_1 and #Straße @ÄBC",
    "&#39;s not a tag #real",
    "##double @@twice",
    "#" + "a" * 40 + " @" + "b" * 40,
    "日本語 #日本 @名前",
    "e\u0301 #cafe\u0301 @x\u0301y",  # a combining mark: \w in Rust, not in Python
    "tab\tin #text",
    '"a quote "" then, a comma"',
]
_BAD_ROWS = [
    "1,2",  # fewer fields
    "5,6,7,8,9,10,11,12,13",  # more fields
    "{i},{u},x,,,bad time,yesterday,",
    "{i},,x,,,empty user,1600000000,",
    " {i},{u},x,,,spaced id,1600000000,",
    "{i},{u},x,,,bad \udcff byte,1600000000,",
    "{i},{u},\x1fx,,,Python's whitespace,1600000000,",
    "{i},{u},x,,,float time,1600000000.,",
    "{i},{u},x,,,,99999999999999999,",
]


def write_mixed(path: Path, n: int, seed: int = 3, bad_every: int = 0, unterminated_at: int = -1) -> Path:
    """A QUT CSV of ``n`` rows: awkward but valid ones, a bad row every ``bad_every`` rows."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(n):
        uid = rng.randrange(60)
        name = rng.choice(
            [f"user{uid}", f"user{uid}", f"user{uid}", f"renamed{uid}", "", "NULL", "na", f"ü{uid}"]
        )
        repost = str(rng.randrange(max(i, 1))) if rng.random() < 0.3 else ""
        reply = str(rng.randrange(max(i, 1))) if rng.random() < 0.2 else ""  # both set now and then
        when = rng.choice(
            [
                f"{1_600_000_000 + i}",
                f"{1_600_000_000 + i}.5",
                f"{1_600_000_000 + i}.0005",
                f"{1_600_000_000_000 + i}",
            ]
        )
        urls = rng.choice(
            ["", "https://a.org", "https://a.org https://b.org", "https://a.org  https://c.org ", '""']
        )
        row = f"{i},{uid},{name},{repost},{reply},{rng.choice(_TEXTS)},{when},{urls}"
        if bad_every and i % bad_every == bad_every - 1:
            row = rng.choice(_BAD_ROWS).format(i=i, u=uid)
        if i == unterminated_at:
            row = f'{i},{uid},x,,,"a quote that never closes,1600000000,'
        lines.append(row)
        if rng.random() < 0.01:
            lines.append("")  # a blank line: no record, but a line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    return path


def _ingest_both(tmp_path: Path, path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int) -> list[bool]:
    """Ingest ``path`` by both paths, assert equal cases and counts; for each block read by the
    fast path, whether it was built from columns (else read by rows)."""
    monkeypatch.setattr(csv_columnar, "BLOCK_BYTES", block_bytes)
    built: list[bool] = []
    original = qut.QutReader._columns

    def counted(self, table):
        columns = original(self, table)
        built.append(columns is not None)
        return columns

    by_rows = csv_columnar._block_by_rows

    def counted_rows(*args):
        built.append(False)
        return by_rows(*args)

    # The snapshots handed to the sink, in order: the same ones staged, not only the same stored.
    handed: list[tuple[str, str]] = []
    account = StagingSink.account

    def recorded(self, record):
        handed.append((record["account_id"], record["screen_name"]))
        return account(self, record)

    monkeypatch.setattr(qut.QutReader, "_columns", counted)
    monkeypatch.setattr(csv_columnar, "_block_by_rows", counted_rows)
    monkeypatch.setattr(StagingSink, "account", recorded)
    fast = ingest([path], tmp_path / "fast", format="qut")
    by_fast_path = handed[:]
    handed.clear()
    monkeypatch.setattr(csv_columnar, "COLUMNAR_FAST_PATH", False)
    rows = ingest([path], tmp_path / "rows", format="qut")
    assert by_fast_path == handed
    assert fast.reconciles and rows.reconciles
    f, g = fast.files[0], rows.files[0]
    for name in _COUNTS:
        assert getattr(f, name) == getattr(g, name), name
    assert (f.quarantined, f.quarantine_stored) == (g.quarantined, g.quarantine_stored)
    a, b = _tables(tmp_path / "fast"), _tables(tmp_path / "rows")
    for table in _KEYS:
        assert a[table].equals(b[table]), table
    return built


def test_simulator_csv(tmp_path, monkeypatch):
    simulate("default", out=tmp_path / "sim", seed=3, accounts=300, days=2, workers=1)
    ingest(sorted((tmp_path / "sim" / "posts").glob("*.jsonl")), tmp_path / "sim-case", workers=1)
    path = tmp_path / "qut.csv"
    with Case.open(tmp_path / "sim-case") as case:
        assert export_qut_csv(case, path) > 1000
    built = _ingest_both(tmp_path, path, monkeypatch, 64 << 10)
    assert len(built) > 3 and all(built)  # every block by the fast path


@pytest.mark.parametrize("block_bytes", [512, 4096, 1 << 20])
def test_awkward_but_valid_rows(tmp_path, monkeypatch, block_bytes):
    path = write_mixed(tmp_path / "mixed.csv", 3000)
    built = _ingest_both(tmp_path, path, monkeypatch, block_bytes)
    assert built and all(built)


@pytest.mark.parametrize("block_bytes", [512, 4096, 1 << 20])
def test_bad_rows_keep_their_reasons_and_lines(tmp_path, monkeypatch, block_bytes):
    path = write_mixed(tmp_path / "mixed.csv", 3000, bad_every=97, unterminated_at=2999)
    built = _ingest_both(tmp_path, path, monkeypatch, block_bytes)
    quarantine = _tables(tmp_path / "fast")["quarantine"]
    assert quarantine.height > 10
    if block_bytes == 512:  # blocks between bad rows by the fast path, the others by rows
        assert any(built) and not all(built)
    reasons = " ".join(quarantine["reason"])
    for reason in (
        "fewer fields",
        "more fields",
        "bad date",
        "empty message_id",
        "undecodable",
        "unterminated",
    ):
        assert reason in reasons


@pytest.mark.parametrize(
    "name",
    [
        "synthetic",
        "fixture",
        "crlf",
        "bom",
        "no newline at the end",
        "open quote in the last field at the end",
        "open quote in the last field, no newline",
    ],
)
def test_other_files(tmp_path, monkeypatch, name):
    if name == "synthetic":  # the row path's own test file: bad rows everywhere
        path = _write_csv(tmp_path / "posts.csv", 3000)
    elif name == "fixture":
        path = FIXTURES / "qut" / "messages_sample.csv"
    else:
        text = write_mixed(tmp_path / "m.csv", 500).read_text(encoding="utf-8")
        if name == "crlf":
            text = text.replace("\n", "\r\n")
        elif name == "bom":
            text = "\ufeff" + text
        elif name.startswith("open quote"):  # Arrow reads the open field to the end; Python does not
            text += '9999,1,a,,,x,1600000000,"https://a.org' + ("" if "no newline" in name else "\n")
        else:
            text = text.rstrip("\n")
        path = tmp_path / "posts.csv"
        path.write_bytes(text.encode("utf-8"))
    _ingest_both(tmp_path, path, monkeypatch, 1024)


def test_cut_inside_a_quoted_line_break_grows_the_block(tmp_path, monkeypatch):
    # Every record spans two lines: most cuts at a line end fall inside a quoted field.
    lines = [HEADER] + [
        f'{i},{i % 7},u{i % 7},,,"line one #a\nline two @b",{1_600_000_000 + i},' for i in range(2000)
    ]
    path = tmp_path / "posts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    built = _ingest_both(tmp_path, path, monkeypatch, 700)
    assert built and all(built)
    with Case.open(tmp_path / "fast") as case:
        texts = case.read("posts")["text"].unique().to_list()
    assert texts == ["line one #a\nline two @b"]


def test_python_whitespace_is_str_isspace():
    expected = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert expected == PYTHON_WHITESPACE


_TEXT = st.text(alphabet=st.sampled_from(list("ab_Z09#@& \n.,;-é²\u0301😀ßİ")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_TEXT, min_size=1, max_size=20))
def test_tags_and_handles_in_rust_equal_the_values_module(texts):
    # Texts whose non-ASCII characters are not word ones (emoji, marks) are read in Rust.
    frame = pl.DataFrame({"message": texts}).filter(~pl.col("message").str.contains(qut._NON_ASCII_WORD))
    found = frame.select(
        qut._found(pl.col("message"), "#", qut._ASCII_HASHTAG).alias("tags"),
        qut._found(pl.col("message"), "@", qut._ASCII_MENTION).alias("handles"),
    )
    assert found["tags"].to_list() == [hashtags_in(t) for t in frame["message"]]
    assert found["handles"].to_list() == [mentions_in(t) for t in frame["message"]]


def test_every_non_ascii_word_character_is_sent_to_python():
    # The fast path reads tags in Rust only from texts without these: Python's \w beyond ASCII.
    words = [chr(c) for c in range(0x80, sys.maxunicode + 1) if chr(c).isalnum() and not 0xD800 <= c < 0xE000]
    matched = pl.Series(words).str.contains(qut._NON_ASCII_WORD)
    assert matched.all(), [w for w, m in zip(words, matched, strict=True) if not m][:10]


def test_a_name_changed_in_a_block_read_by_rows_is_seen_by_later_blocks(tmp_path, monkeypatch):
    # Account 1 is "a", then "b" in rows between bad ones (read by the row path), then "a" again
    # in blocks read by columns: the third name is a new snapshot, not a repeat of the first.
    rows = [f"{i},1,a,,,x,{1_600_000_000 + i}," for i in range(10)]
    rows += [r for i in range(10, 20) for r in (f"{i},1,b,,,x,{1_600_000_000 + i},", "1,2")]
    rows += [f"{i},2,c,,,x,{1_600_000_000 + i}," for i in range(20, 30)]  # a block between
    rows += [f"{i},1,a,,,x,{1_600_000_000 + i}," for i in range(30, 40)]
    path = tmp_path / "posts.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    built = _ingest_both(tmp_path, path, monkeypatch, 200)
    assert any(built) and not all(built)
    assert _tables(tmp_path / "fast")["accounts"]["screen_name"].sort().to_list() == ["a", "b", "c"]
