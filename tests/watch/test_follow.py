"""Following a file: whole lines only, offsets by identity, rotation and truncation."""

from __future__ import annotations

import hashlib
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cibwatch.watch.follow import expand_sources, identity_of, pending_range


def test_only_whole_lines_are_taken(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n{"c"')
    first = pending_range(path, None)
    assert (first.start, first.end, first.first_line) == (0, 18, 1)
    assert (first.after.offset, first.after.line) == (18, 3)
    assert pending_range(path, first.after) is None  # the partial line waits
    with open(path, "ab") as fh:
        fh.write(b": 3}\n")
    second = pending_range(path, first.after)
    assert (second.start, second.end, second.first_line) == (18, 27, 3)


def test_a_batch_is_bounded_by_max_bytes(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % k for k in range(100)))
    r = pending_range(path, None, max_bytes=50)
    assert r.end <= 50 and path.read_bytes()[: r.end].endswith(b"\n")


def test_a_rotated_file_keeps_its_offset_under_its_new_name(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    done = pending_range(path, None).after
    os.rename(path, tmp_path / "s.jsonl.1")
    with open(tmp_path / "s.jsonl.1", "ab") as fh:  # the writer still held it open
        fh.write(b'{"b": 2}\n')
    path.write_bytes(b'{"c": 3}\n')  # the new file
    rotated = tmp_path / "s.jsonl.1"
    assert identity_of(rotated) == done.identity
    rest = pending_range(rotated, done)
    assert (rest.start, rest.first_line) == (9, 2)
    new = pending_range(path, None)
    assert new.start == 0 and new.after.identity != done.identity
    assert expand_sources([tmp_path]) == [path, rotated]


def test_a_truncated_file_is_read_again_from_its_start(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": 2}\n')
    done = pending_range(path, None).after
    path.write_bytes(b'{"c": 3}\n')  # truncated in place: same inode, shorter
    again = pending_range(path, done)
    assert (again.start, again.first_line) == (0, 1)


def test_a_rewritten_file_longer_than_the_offset_is_told_by_its_first_bytes(tmp_path):
    """The safety net: size alone would resume mid-file; the head hash sees the rewrite."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    done = pending_range(path, None).after
    with open(path, "r+b") as fh:  # same inode, new content, longer than the offset
        fh.write(b'{"z": 9}\n{"y": 8}\n')
    assert pending_range(path, done).start == 0
    # Broken on purpose: a recorded hash that matches whatever is there → resumes at the offset.
    forged = done.__class__(**{**vars(done), "head_len": 0, "head_sha": hashlib.sha256(b"").hexdigest()})
    assert pending_range(path, forged).start == done.offset


def test_compressed_and_hidden_files_of_a_folder_are_not_followed(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b"{}\n")
    (tmp_path / "b.jsonl.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / ".c.jsonl").write_bytes(b"{}\n")
    assert expand_sources([tmp_path]) == [tmp_path / "a.jsonl"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    breaks=st.lists(st.booleans(), max_size=30),
    reads=st.lists(st.integers(min_value=0, max_value=30), max_size=10),
    max_bytes=st.integers(min_value=1, max_value=200),
)
def test_reading_a_growing_file_takes_each_whole_line_once(
    tmp_path_factory, pieces, breaks, reads, max_bytes
):
    """Whatever the writes (lines cut anywhere) and the looks between them, the ranges taken are
    consecutive, end at a newline, and together are exactly the file's whole lines."""
    path = tmp_path_factory.mktemp("grow") / "s.jsonl"
    path.write_bytes(b"")
    known, taken, line = None, b"", 1
    looks = set(reads)

    def look() -> None:
        nonlocal known, taken, line
        while (r := pending_range(path, known, max_bytes)) is not None:
            assert r.start == (known.offset if known else 0) and r.first_line == line
            chunk = path.read_bytes()[r.start : r.end]
            assert chunk.endswith(b"\n")
            taken += chunk
            line += chunk.count(b"\n")
            known = r.after

    for k, piece in enumerate(pieces):
        with open(path, "ab") as fh:
            fh.write(piece + (b"\n" if k < len(breaks) and breaks[k] else b""))
        if k in looks:
            look()
    look()
    data = path.read_bytes()
    assert taken == data[: data.rfind(b"\n") + 1]


def test_a_line_longer_than_a_batch_is_its_own_batch(tmp_path):
    """Found by the property test above: such a line was never taken, and following stalled there."""
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"long": "' + b"x" * 5000 + b'"}\n{"b": 2}\n')
    r = pending_range(path, None, max_bytes=100)
    assert (r.start, r.end, r.after.line) == (0, 5013, 2)
    assert pending_range(path, r.after, max_bytes=100).end == path.stat().st_size
    path.write_bytes(b'{"long": "' + b"x" * 5000)  # not whole yet
    assert pending_range(path, None, max_bytes=100) is None
