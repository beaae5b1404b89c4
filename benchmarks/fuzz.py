"""Hostile input: every registered reader on mutated real samples (tests/data/<reader>/).

Each input is a small real sample with one to three mutations (truncation, repeated or dropped
lines, flipped bytes, nesting 100,000 deep, numbers past int64 and past 4,300 digits, lone
surrogates, fields past MAX_FIELD_BYTES, lines past MAX_LINE_BYTES, a removed header, unterminated
quotes, NUL bytes, broken or wrong compression), read with the reader forced into a fresh case.
What must hold for each: no exception but a CibwatchError (a file that is not of the format at all
may be refused with InputFormatError); the report reconciles; the case's quarantine table holds as
many rows as the report quarantined, and each table as many rows as the report stored. Then the
decompression bombs of issue 13 each run in a fresh process, to measure their peak memory.

The CI variant is tests/ingest/test_fuzz.py (the same mutations, fewer of them).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import random
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import ROOT, benchmark, run_measured, table

FIXTURES = ROOT / "tests" / "data"


# Readers made with settings read their samples with the map beside them (tests/ingest/test_contract.py).
MAPS = {"mapped": FIXTURES / "mapped" / "mapping.toml"}


def samples(reader: str) -> list[Path]:
    """The real samples of ``reader``: its tests/data folder's files, bad-input files included."""
    folder = FIXTURES / reader
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p not in MAPS.values())


# -- mutations -------------------------------------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _at_line(rng: random.Random, data: bytes, make: bytes) -> bytes:
    """``make`` as a line of its own at a random line boundary."""
    lines = _lines(data)
    k = rng.randrange(len(lines) + 1)
    return b"".join([*lines[:k], make + b"\n", *lines[k:]])


def _inside(rng: random.Random, data: bytes, piece: bytes, after: bytes = b"") -> bytes:
    """``piece`` inserted at a random position (just after an occurrence of ``after`` if any)."""
    if after:
        spots = [i + len(after) for i in range(len(data)) if data.startswith(after, i)]
        if spots:
            i = rng.choice(spots)
            return data[:i] + piece + data[i:]
    i = rng.randrange(len(data) + 1)
    return data[:i] + piece + data[i:]


def _drop_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    k = rng.randrange(len(lines))
    return b"".join(lines[:k] + lines[k + 1 :])


def _deep(rng: random.Random) -> bytes:
    depth = rng.choice([129, 1_000, 1_100, 100_000])
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


_NUMBERS = [
    b"9" * 5_000,
    str(2**70).encode(),
    b"-" + str(2**70).encode(),
    str(2**64).encode(),
    b"1e400",
    b"-1e999",
    b"NaN",
    b"Infinity",
    b"1" + b"0" * 40,
]
_SURROGATES = [b"\\ud800", b"\\udfff", b"\\ud800\\u0041", b"\xed\xa0\x80", b"\xff\xfe", b"\x80"]


def _huge_number(rng: random.Random, data: bytes) -> bytes:
    """A run of digits replaced by a number no int64 holds (or no JSON parser takes)."""
    runs = [i for i in range(len(data)) if data[i : i + 1].isdigit() and not data[i - 1 : i].isdigit()]
    number = rng.choice(_NUMBERS)
    if not runs:
        return _at_line(rng, data, b'{"n": ' + number + b"}")
    i = rng.choice(runs)
    j = i
    while data[j : j + 1].isdigit():
        j += 1
    return data[:i] + number + data[j:]


def _overlong_line(rng: random.Random, data: bytes) -> bytes:
    from cibwatch.ingest.source import MAX_LINE_BYTES

    body = b'{"text": "' + b"a" * (MAX_LINE_BYTES + rng.randrange(1, 1 << 20)) + b'"}'
    return _at_line(rng, data, body)


def _huge_field(rng: random.Random, data: bytes) -> bytes:
    from cibwatch.ingest.source import MAX_FIELD_BYTES

    return _inside(rng, data, b"x" * (MAX_FIELD_BYTES + rng.randrange(1, 1 << 20)), rng.choice([b",", b'"']))


MUTATIONS = {
    "truncate": lambda rng, d: d[: rng.randrange(len(d) + 1)],
    "duplicate_line": lambda rng, d: _at_line(rng, d, rng.choice(_lines(d)).rstrip(b"\r\n")),
    "drop_line": lambda rng, d: _drop_line(rng, d),
    "flip_bytes": lambda rng, d: bytes(
        rng.randrange(256) if rng.random() < 8 / max(len(d), 1) else b for b in d
    ),
    "remove_header": lambda rng, d: b"".join(_lines(d)[1:]),
    "deep_nesting_line": lambda rng, d: _at_line(rng, d, _deep(rng)),
    "deep_nesting_value": lambda rng, d: _inside(rng, d, _deep(rng), b": "),
    "huge_number": _huge_number,
    "lone_surrogate": lambda rng, d: _inside(rng, d, rng.choice(_SURROGATES), b'"'),
    "huge_field": _huge_field,
    "overlong_line": _overlong_line,
    "unterminated_quote": lambda rng, d: _inside(rng, d, b'"', b","),
    "nul_bytes": lambda rng, d: _inside(rng, d, b"\x00" * rng.randrange(1, 4)),
    "crlf": lambda rng, d: d.replace(b"\n", b"\r\n"),
    "bom": lambda rng, d: b"\xef\xbb\xbf" + d,
    "blank_lines": lambda rng, d: _at_line(rng, d, b"   "),
    "empty": lambda rng, d: b"",
    "not_this_format": lambda rng, d: rng.choice(
        [b"<html><body>404</body></html>\n", b"id\tlabel\n1\tbot\n", b"[1, 2, 3]\n", b"a,b\n1,2\n"]
    ),
}
# The big inputs cost time and disk: drawn less often.
_WEIGHTS = {"overlong_line": 0.25, "huge_field": 0.5, "empty": 0.2, "not_this_format": 0.3}


def _compress(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """The bytes as written (often compressed, sometimes broken) and a name suffix."""
    roll = rng.random()
    if roll < 0.55:
        return data, ""
    kind = rng.choice(["gz", "bz2", "xz"])
    packed = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[kind](data)
    if roll < 0.85:
        return packed, "." + kind
    if roll < 0.95:  # a cut download
        return packed[: rng.randrange(1, max(2, len(packed)))], "." + kind
    return {"gz": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}[kind] + data, "." + kind  # magic lies


@dataclass
class Input:
    reader: str
    sample: Path
    ops: list[str]
    data: bytes
    suffix: str


def make_input(reader: str, seed: int) -> Input:
    """The ``seed``-th mutated input of ``reader`` (deterministic)."""
    rng = random.Random(f"{reader}:{seed}")
    sample = rng.choice(samples(reader))
    data = sample.read_bytes()
    names = list(MUTATIONS)
    weights = [_WEIGHTS.get(n, 1.0) for n in names]
    ops = rng.choices(names, weights, k=rng.choice([1, 1, 2, 3]))
    big = {"overlong_line", "huge_field"}
    if len(big.intersection(ops)) > 0:
        ops = [*[op for op in ops if op not in big][:2], next(op for op in ops if op in big)]
    for op in ops:
        data = MUTATIONS[op](rng, data)
    if big.intersection(ops):  # kept small on disk
        return Input(reader, sample, ops, gzip.compress(data, 1), ".gz")
    data, suffix = _compress(rng, data)
    return Input(reader, sample, ops, data, suffix)


# -- the check -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # "ok", "refused" (a CibwatchError), "traceback", "silent_loss"
    detail: str = ""
    quarantined: int = 0
    seconds: float = 0.0


def _rows(case: object, table: str) -> int:
    import polars as pl

    from cibwatch.ingest import AUTHOR_STUB_READER

    if not case.has_table(table):  # type: ignore[attr-defined]
        return 0
    frame = case.read(table)  # type: ignore[attr-defined]
    if table == "accounts":  # author stubs are the commit's, not the reader's
        frame = frame.filter(pl.col("reader") != AUTHOR_STUB_READER)
    return frame.height


def check(path: Path, reader: str, case_dir: Path) -> Outcome:
    """Ingest ``path`` with ``reader`` forced into the fresh case ``case_dir``, and judge it."""
    from cibwatch import open_case
    from cibwatch.errors import CibwatchError
    from cibwatch.ingest import ingest

    started = time.perf_counter()
    try:
        mapping = f"@{MAPS[reader]}" if reader in MAPS else None
        report = ingest([path], case_dir, format=reader, workers=1, mapping=mapping)
    except CibwatchError as exc:
        return Outcome("refused", f"{type(exc).__name__}: {exc}"[:300], 0, time.perf_counter() - started)
    except Exception:  # a bug: what this whole check is for
        return Outcome("traceback", traceback.format_exc(), 0, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    problems = []
    if not report.reconciles:
        problems.append(f"report does not reconcile: {report.as_dict()['files']}")
    quarantined = sum(f.quarantined for f in report.files)
    stored = {
        t: sum(f.stored.get(t, 0) for f in report.files) for t in ("posts", "accounts", "account_labels")
    }
    case = open_case(case_dir)
    try:
        in_quarantine = _rows(case, "quarantine")
        if in_quarantine != quarantined:
            problems.append(f"report quarantined {quarantined}, the quarantine table holds {in_quarantine}")
        for table_name, n in stored.items():
            rows = _rows(case, table_name)
            if rows != n:
                problems.append(f"report stored {n} {table_name}, the table holds {rows}")
    finally:
        case.close()
    if problems:
        return Outcome("silent_loss", "; ".join(problems), quarantined, seconds)
    return Outcome("ok", "", quarantined, seconds)


def fuzz(
    readers: list[str], per_reader: int, workdir: Path, first_seed: int = 0
) -> list[tuple[Input, Outcome]]:
    results = []
    for reader in readers:
        for seed in range(first_seed, first_seed + per_reader):
            item = make_input(reader, seed)
            path = workdir / f"{reader}-{seed}{item.sample.suffix}{item.suffix}"
            path.write_bytes(item.data)
            case_dir = workdir / "case"
            shutil.rmtree(case_dir, ignore_errors=True)
            results.append((item, check(path, reader, case_dir)))
            path.unlink()
    shutil.rmtree(workdir / "case", ignore_errors=True)
    return results


# -- the bombs of issue 13, each in a fresh process ------------------------------------------------


def _gzip_of_one_long_line(path: Path, head: bytes, size: int, tail: bytes) -> None:
    """A gzip whose middle line is ``size`` bytes: concatenated members, 1 MiB each, so it is
    written in a moment and stays about 1 KB per MiB."""
    member = gzip.compress(b"a" * (1 << 20), 9)
    with open(path, "wb") as fh:
        fh.write(gzip.compress(head + b'{"text": "'))
        for _ in range(size >> 20):
            fh.write(member)
        fh.write(gzip.compress(b'"}\n' + tail))


_CHILD = (
    "import json, resource, shutil, sys\n"
    "from cibwatch.errors import CibwatchError\n"
    "from cibwatch.ingest import ingest\n"
    "shutil.rmtree(sys.argv[3], ignore_errors=True)\n"
    "try:\n"
    "    r = ingest([sys.argv[1]], sys.argv[3], format=sys.argv[2], workers=1)\n"
    "    f = r.files[0]\n"
    "    out = {'outcome': 'ok', 'stored': sum(f.stored.values()), 'quarantined': f.quarantined,"
    " 'reconciles': r.reconciles}\n"
    "except CibwatchError as exc:\n"
    "    out = {'outcome': 'refused: ' + str(exc)[:120]}\n"
    "out['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "print(json.dumps(out))\n"
)


def bomb_inputs(workdir: Path, line_bytes: int) -> list[tuple[str, str, Path]]:
    """(what, reader, path) of the issue's large hostile inputs."""
    v1 = (FIXTURES / "twitter-v1" / "sample.jsonl").read_bytes()
    v2 = (FIXTURES / "twitter-v2" / "sample.jsonl").read_bytes()
    io_csv = (FIXTURES / "io-archive" / "sample_tweets_csv_hashed.csv").read_bytes()
    out = []
    for reader, data in (("twitter-v1", v1), ("twitter-v2", v2)):
        lines = data.splitlines(keepends=True)
        path = workdir / f"{reader}-long-line.jsonl.gz"
        _gzip_of_one_long_line(path, lines[0], line_bytes, b"".join(lines[1:]))
        out.append(
            (
                f"{reader}: gzip of {path.stat().st_size / 1e6:.1f} MB, one {line_bytes >> 20} MiB line",
                reader,
                path,
            )
        )
    rows = io_csv.splitlines(keepends=True)
    field = b"x" * (18 << 20)
    path = workdir / "io-archive-18MB-field.csv"
    path.write_bytes(rows[0] + rows[1].replace(b"[news, USA]", b"['" + field + b"']") + b"".join(rows[2:]))
    out.append(("io-archive: CSV with an 18 MB list field (ast.literal_eval)", "io-archive", path))
    # Many records each under every bound: the batches, not one record, must be bounded.
    n_long = 2_000 if line_bytes >= 1 << 30 else 50
    path = workdir / "io-archive-long-texts.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(rows[0])
        for k in range(n_long):
            row = rows[1].replace(b"700000000000000001", str(900_000_000_000_000_000 + k).encode())
            fh.write(row.replace(b"Breaking: big story tonight", b"z" * 1_000_000))
    out.append((f"io-archive: gzip of {n_long:,} rows with 1 MB texts", "io-archive", path))
    path = workdir / "io-archive-long-line.csv.gz"
    _gzip_of_one_long_line(path, rows[0] + rows[1], line_bytes, b"".join(rows[2:]))
    out.append((f"io-archive: CSV gzip with one {line_bytes >> 20} MiB line", "io-archive", path))
    deep = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    for reader, data in (("twitter-v1", v1), ("twitter-v2", v2)):
        path = workdir / f"{reader}-deep.jsonl"
        path.write_bytes(deep + data)
        out.append((f"{reader}: a line nested 100,000 deep", reader, path))
    return out


def run_bomb(what: str, reader: str, path: Path, workdir: Path) -> list[object]:
    import json

    try:
        measured = run_measured(
            [sys.executable, "-c", _CHILD, str(path), reader, str(workdir / "bomb-case")], cwd=ROOT
        )
    except RuntimeError as exc:  # the child exited non-zero: a traceback
        return [what, f"traceback: {str(exc).strip().splitlines()[-1][:200]}", "", ""]
    try:
        result = json.loads(measured.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"outcome": "traceback", "rss_mb": measured.peak_rss_mb}
    outcome = result["outcome"]
    if outcome == "ok":
        outcome = (
            f"ok: {result['stored']} stored, {result['quarantined']} quarantined, "
            f"reconciles {result['reconciles']}"
        )
    return [what, outcome, f"{result['rss_mb']:,.0f}", f"{measured.seconds:.1f}"]


@benchmark("fuzz", "Hostile input: mutated real samples through every reader")
def run(smoke: bool) -> str:
    from cibwatch.ingest.jsonstream import MAX_DEPTH
    from cibwatch.ingest.registry import readers
    from cibwatch.ingest.source import MAX_FIELD_BYTES, MAX_LINE_BYTES

    names = sorted(readers())
    per_reader = 3 if smoke else 60
    workdir = Path(tempfile.mkdtemp(prefix="cibwatch-fuzz-"))
    try:
        started = time.perf_counter()
        results = fuzz(names, per_reader, workdir)
        seconds = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = []
        for name in names:
            mine = [o for i, o in results if i.reader == name]
            kinds = Counter(o.kind for o in mine)
            rows.append(
                [
                    name,
                    len(mine),
                    kinds["ok"],
                    kinds["refused"],
                    kinds["traceback"],
                    kinds["silent_loss"],
                    sum(o.quarantined for o in mine),
                    f"{max(o.seconds for o in mine):.2f}",
                ]
            )
        kinds = Counter(o.kind for _, o in results)
        rows.append(
            [
                "**all**",
                len(results),
                kinds["ok"],
                kinds["refused"],
                kinds["traceback"],
                kinds["silent_loss"],
                sum(o.quarantined for _, o in results),
                f"{max(o.seconds for _, o in results):.2f}",
            ]
        )
        ops = Counter(op for i, _ in results for op in i.ops)
        failures = [(i, o) for i, o in results if o.kind in ("traceback", "silent_loss")]
        bombs = [run_bomb(*b, workdir) for b in bomb_inputs(workdir, (64 if smoke else 1024) << 20)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    parts = [
        f"Bounds: MAX_LINE_BYTES {MAX_LINE_BYTES:,}, MAX_FIELD_BYTES {MAX_FIELD_BYTES:,}, MAX_DEPTH "
        f"{MAX_DEPTH}, integers int64. {len(results):,} mutated inputs ({per_reader} per reader, "
        f"seeds 0–{per_reader - 1}) in {seconds:.0f} s, one process; its peak RSS {rss:,.0f} MB.",
        "",
        "'refused': a clean CibwatchError (the file is not of the format at all); 'traceback' and "
        "'silent loss' (report does not reconcile, or the case's tables hold other counts than the "
        "report) must be 0.",
        "",
        table(
            ["reader", "inputs", "ok", "refused", "traceback", "silent loss", "quarantined", "max s"], rows
        ),
        "",
        "Mutations drawn: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())) + ".",
        "",
        "### Large hostile inputs (issue 13), each in a fresh process",
        "",
        table(["input", "outcome", "peak RSS MB", "seconds"], bombs),
    ]
    for item, outcome in failures[:10]:
        parts += ["", f"FAILED {item.reader} {item.sample.name} {item.ops}: {outcome.detail[-600:]}"]
    return "\n".join(parts)
