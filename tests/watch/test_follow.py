"""Following a file: whole lines only, offsets by identity, rotation and truncation."""

from __future__ import annotations

import hashlib
import os

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
