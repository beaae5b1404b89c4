"""The contract every registered reader keeps, run against each one's sample in tests/data/<reader>/.

A reader's sample is its files whose names start with "sample" (``sample.jsonl``,
``sample_flat.jsonl``); without any, every file whose name contains "sample". Files named
``malformed*`` hold bad input for the reader's own tests. Set CONTRACT_EXAMPLES=500 to run the
property tests harder than CI does.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cibwatch import open_case, schema
from cibwatch.errors import InputFormatError
from cibwatch.ingest import Source, ingest, readers
from cibwatch.ingest.mapping import ColumnMap
from cibwatch.ingest.registry import Reader, get_reader, sniff_format
from cibwatch.ingest.sink import _dump_raw
from cibwatch.ingest.source import _MAGIC
from tests.conftest import FIXTURES

READERS = sorted(readers())
# Readers made with settings: the mapped reader reads its sample with the map beside it.
_MAPS = {"mapped": f"@{FIXTURES / 'mapped' / 'mapping.toml'}"}


def options(name: str) -> dict[str, Any]:
    """The keyword arguments ``ingest`` needs to read with reader ``name``."""
    return {"mapping": _MAPS[name]} if name in _MAPS else {}


def configured(name: str) -> type[Reader]:
    cls = readers()[name]
    return cls.configure(ColumnMap.parse(_MAPS[name]).as_settings()) if name in _MAPS else cls


# Filled in by the sink, not by readers.
_SINK_FIELDS = {"platform", "snapshot_id", "dataset", "reader", "source_file", "ingested_at"}


def sample_files(name: str) -> list[Path]:
    folder = FIXTURES / name
    if not folder.is_dir():
        pytest.fail(
            f"reader {name!r} ships no sample: add a small valid input as tests/data/{name}/sample.<ext> "
            "(every registered reader must ship one; see tests/ingest/test_contract.py)"
        )
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("malformed"))
    leading = [p for p in files if p.name.startswith("sample")]
    found = leading or [p for p in files if "sample" in p.name]
    if not found:
        pytest.fail(
            f"tests/data/{name}/ has no file named sample.*: add the reader's small valid input there"
        )
    return found


class RecordingSink:
    """Keeps what a reader emits and checks each record against the schema as it arrives.

    Like the driver's sink, a record Arrow refuses (a lone surrogate, a number where text
    belongs) is quarantined as unstorable rather than crashing; a missing required field or an
    unknown post kind is a reader bug and fails the test.
    """

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.quarantined: list[tuple[str, int | None]] = []
        self.units: list[str] = []  # outcomes named by the reader (merged, duplicate, …)

    def _add(self, table: str, record: dict[str, Any]) -> None:
        for field in schema.TABLES[table]:
            if field.name in _SINK_FIELDS:
                continue
            value = record.get(field.name)
            if value is None:
                assert field.nullable, f"{table}.{field.name} is required, the reader gave None: {record}"
        if table == "posts":
            assert record["kind"] in schema.POST_KINDS, record["kind"]
        try:
            for field in schema.TABLES[table]:
                value = record.get(field.name)
                if field.name not in _SINK_FIELDS and value is not None:
                    pa.array([value], pa.int64() if field.type == schema.TS else field.type)
        except (pa.ArrowException, TypeError, ValueError, UnicodeError) as exc:
            self.quarantined.append((f"unstorable {table} record: {exc}", None))
            return
        self.records.append((table, record))

    def post(self, record: dict[str, Any]) -> None:
        self._add("posts", record)

    def post_rows(self, rows: list[tuple[Any, ...]], line: int | None) -> None:
        for row in rows:
            assert len(row) == len(schema.POST_ROW), row
            self._add("posts", dict(zip(schema.POST_ROW, row, strict=True)))

    def account(self, record: dict[str, Any]) -> None:
        raw = record.get("raw")  # may be the original record, serialized by the sink (as in sink.py)
        if raw is not None and not isinstance(raw, str):
            record["raw"] = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else _dump_raw(raw)
        self._add("accounts", record)

    def profile_unchanged(self, platform: str, account_id: str, fingerprint: int) -> bool:
        return False  # never skip: every snapshot is built and checked

    def duplicate(self, table: str, n: int = 1) -> None:
        self.records.extend((table, {}) for _ in range(n))

    def unit(self, outcome: str) -> None:
        self.units.append(outcome)

    def label(self, record: dict[str, Any]) -> None:
        self._add("account_labels", record)

    def quarantine(
        self, reason: str, raw: Any, line: int | None = None, byte_offset: int | None = None
    ) -> None:
        assert isinstance(reason, str) and reason, "a quarantine row needs a reason"
        self.quarantined.append((reason, line))


def read_directly(name: str, path: Path) -> RecordingSink:
    """Run reader ``name`` on ``path`` without a case: fast enough for property tests."""
    cls = configured(name)
    sink = RecordingSink(cls.platform)
    # A wholly unrecognisable file may be refused, with a clear message.
    with contextlib.suppress(InputFormatError):
        cls().read(Source(path=path, dataset="contract"), sink)
    return sink


@pytest.mark.parametrize("name", READERS)
def test_sample_ingests_clean_and_reconciles(tmp_path, name):
    files = sample_files(name)
    report = ingest(files, tmp_path / "case", format=name, **options(name))
    assert report.reconciles
    assert report.total("quarantined") == 0, (
        open_case(tmp_path / "case").read("quarantine")["reason"].to_list()
    )
    assert report.total("records_stored") > 0


@pytest.mark.parametrize("name", READERS)
def test_sample_is_sniffed_as_its_reader(name):
    # A --format-only variant's files are detected as the reader that covers the format.
    expected = get_reader(name).covered_by or name
    for path in sample_files(name):
        if name in _MAPS:  # read by naming its columns, never guessed: the refusal offers a --map
            with pytest.raises(InputFormatError, match="--map account="):
                sniff_format(Source(path=path, dataset="x"))
            continue
        got = sniff_format(Source(path=path, dataset="x")).name
        assert got == expected, (
            f"{path.name} is sniffed as {got!r}, not {name!r}: make the sniffers tell them apart"
        )


@pytest.mark.parametrize("name", READERS)
def test_ingesting_twice_adds_nothing(tmp_path, name):
    files = sample_files(name)
    ingest(files, tmp_path / "case", format=name, **options(name))
    with open_case(tmp_path / "case") as case:
        before = case.summary()
    again = ingest(files, tmp_path / "case", format=name, **options(name))
    assert again.reconciles
    assert again.total("records_stored") == 0
    # Every record is already in the case, every quarantine row too; the units are the same.
    in_run = again.total("in_run_duplicates") - again.total("duplicate_units")
    assert again.total("in_case_duplicates") == again.total("records_emitted") - in_run
    assert again.total("quarantine_duplicates") == again.total("quarantined")
    assert again.total("units_read") > 0
    with open_case(tmp_path / "case") as case:
        assert case.summary() == before


@pytest.mark.parametrize("name", READERS)
def test_empty_input_is_refused_or_empty(tmp_path, name):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    try:
        report = ingest([empty], tmp_path / "case", format=name, **options(name))
    except InputFormatError as exc:
        assert str(exc)
    else:
        assert report.reconciles and report.total("units_read") == report.total("records_emitted") == 0
    with pytest.raises(InputFormatError, match="empty"):
        ingest([empty], tmp_path / "case2")


def _is_line_oriented(data: bytes) -> tuple[bool, bool]:
    """(one record per line, first line is a header) for a sample's bytes."""
    lines = [line for line in data.splitlines() if line.strip()]
    start = data.lstrip()[:1]
    if start not in (b"{", b"["):
        return True, True  # CSV / TSV
    if start == b"{" and all(
        line.lstrip().startswith(b"{") and line.rstrip().endswith(b"}") for line in lines
    ):
        return True, False  # JSON Lines
    return False, False


def _mutate(line: bytes, op: str, position: float, byte: int) -> bytes:
    i = int(position * len(line))
    if op == "truncate":
        return line[:i]
    if op == "flip":
        return line[:i] + bytes([byte]) + line[i + 1 :] if line else bytes([byte])
    if op == "delete_field":  # drop one '"key": value' pair by cutting from a quote to the next comma
        start = line.find(b'"', i)
        stop = line.find(b",", start + 1)
        return line if start < 0 or stop < 0 else line[:start] + line[stop + 1 :]
    if op == "retype":  # put a number, a list or null where a string or object was
        start = line.find(b':"', i)
        if start < 0:
            start = line.find(b": ", i)
        replacement = [b":12345", b":[1,2]", b":null", b":{}"][byte % 4]
        stop = line.find(b",", start + 1)
        return line if start < 0 or stop < 0 else line[:start] + replacement + line[stop:]
    return line


_OPS = st.sampled_from(["truncate", "flip", "delete_field", "retype"])


@pytest.mark.parametrize("name", READERS)
@settings(
    max_examples=int(os.environ.get("CONTRACT_EXAMPLES", 25)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_sample_never_crashes_nor_loses_silently(tmp_path, name, data):
    path = data.draw(st.sampled_from(sample_files(name)), label="sample")
    content = path.read_bytes()
    line_mode, header = _is_line_oriented(content)
    op, position, byte = data.draw(_OPS), data.draw(st.floats(0, 1)), data.draw(st.integers(0, 255))
    target = tmp_path / f"mutated{''.join(path.suffixes)}"
    if line_mode:
        lines = [line for line in content.splitlines(keepends=True) if line.strip()]
        body = lines[1:] if header and len(lines) > 1 else lines
        line = data.draw(st.sampled_from(body), label="line")
        mutated = _mutate(line.rstrip(b"\r\n"), op, position, byte)
        target.write_bytes((lines[0] if header and len(lines) > 1 else b"") + mutated + b"\n")
        sink = read_directly(name, target)
        if mutated.strip():
            # The mutated record was stored or quarantined: nothing vanished without a trace.
            assert sink.records or sink.quarantined, f"{op} of {line[:80]!r} produced nothing"
    else:
        mutated = _mutate(content, op, position, byte)
        target.write_bytes(mutated)
        sink = read_directly(name, target)
        if b"{" in mutated:
            assert sink.records or sink.quarantined, f"{op} of the document produced nothing"


@pytest.mark.parametrize("name", READERS)
@settings(
    max_examples=int(os.environ.get("CONTRACT_EXAMPLES", 15)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(blob=st.binary(min_size=1, max_size=400))
def test_random_bytes_never_crash(tmp_path, name, blob):
    # Broken compressed streams are the driver's concern: see the xfail test below.
    assume(not any(blob.startswith(magic) for magic in _MAGIC))
    target = tmp_path / "random.dat"
    target.write_bytes(blob)
    read_directly(name, target)


def _prefix_decompressing_to(data: bytes, compress: str, size: int) -> bytes:
    """The shortest prefix of compressed ``data`` that decompresses to at least ``size`` bytes."""
    import lzma
    import zlib

    def produced(k: int) -> int:
        decompressor = zlib.decompressobj(wbits=31) if compress == "gz" else lzma.LZMADecompressor()
        return len(decompressor.decompress(data[:k]))

    low, high = 1, len(data)
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if produced(mid) < size else (low, mid)
    return data[:low]


@pytest.mark.parametrize(
    ("name", "compress"), [(name, "gz") for name in READERS] + [("twitter-v2", "xz"), ("mastodon", "xz")]
)
def test_truncated_compressed_file_is_quarantined_not_raised(tmp_path, name, compress):
    import gzip
    import lzma

    sample = sample_files(name)[0]
    content = sample.read_bytes() * (1_600_000 // sample.stat().st_size + 1)
    data = gzip.compress(content) if compress == "gz" else lzma.compress(content)
    target = tmp_path / f"cut{sample.suffix}.{compress}"
    # Cut where 1.3 MB came out: past the 1 MB read buffer, so whole records precede the damage.
    target.write_bytes(_prefix_decompressing_to(data, compress, 1_300_000))
    report = ingest([target], tmp_path / "case", format=name, **options(name))
    assert report.reconciles and report.total("records_emitted") > 1
    reasons = open_case(tmp_path / "case").read("quarantine")["reason"].to_list()
    assert any(r.startswith("damaged compressed stream") for r in reasons), reasons
