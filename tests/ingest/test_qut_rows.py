"""The QUT reader's row path (posts as tuples, one fingerprint a distinct author snapshot) stores
what its previous record-by-record path stored, kept here as the reference."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from cibwatch.ingest.formats import qut
from cibwatch.ingest.formats.csv_common import normalized_rows, raw_row
from cibwatch.ingest.registry import emit
from cibwatch.values import hashtags_in, mentions_in, parse_date_ms, text_or_none
from tests.conftest import FIXTURES

_KEYS = {
    "posts": ["platform", "post_id"],
    "accounts": ["platform", "account_id", "snapshot_id"],
    "quarantine": ["source_file", "line", "byte_offset", "reason"],
}


def _reference_records(row: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    post_id = row["message_id"].strip()
    account_id = row["user_id"].strip()
    if not post_id or not account_id:
        raise ValueError("empty message_id or user_id")
    repost = (row.get("repost_id") or "").strip()
    reply = (row.get("reply_id") or "").strip()
    kind, ref = ("repost", repost) if repost else ("reply", reply) if reply else ("original", None)
    message = row.get("message") or ""
    post = {
        "post_id": post_id,
        "account_id": account_id,
        "created_at": parse_date_ms(row["timestamp"].strip()),
        "kind": kind,
        "ref_post_id": ref,
        "text": message or None,
        "hashtags": hashtags_in(message),
        "urls": (row.get("urls") or "").split(),
        "mentions": mentions_in(message),
        "media_hashes": [],
    }
    records: list[tuple[str, dict[str, Any]]] = [("posts", post)]
    username = text_or_none((row.get("username") or "").strip())
    if username:
        records.append(("accounts", {"account_id": account_id, "screen_name": username, "probed_at": None}))
    return records


def _reference_read(self: qut.QutReader, source: Any, sink: Any) -> None:
    for lineno, row, problem in normalized_rows(source):
        if problem:
            sink.quarantine(problem, raw_row(row), lineno)
            continue
        try:
            records = _reference_records(row)
        except (ValueError, KeyError) as exc:
            sink.quarantine(f"{type(exc).__name__}: {exc}", raw_row(row), lineno)
            continue
        emit(records, sink)


def _tables(case_dir: Path) -> dict[str, pl.DataFrame]:
    case = open_case(case_dir)
    try:
        return {
            t: case.read(t).drop("ingested_at").sort(k, nulls_last=True)
            if case.has_table(t)
            else pl.DataFrame()
            for t, k in _KEYS.items()
        }
    finally:
        case.close()


def _write_csv(path: Path, n: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    lines = ["message_id,user_id,username,repost_id,reply_id,message,timestamp,urls"]
    for i in range(n):
        uid = rng.randrange(40)
        # A username that changes now and then: a new snapshot, then the old one again.
        name = rng.choice([f"user{uid}", f"user{uid}", f"renamed{uid}", "", "NULL"])
        repost = str(rng.randrange(max(i, 1))) if rng.random() < 0.3 else ""
        reply = str(rng.randrange(max(i, 1))) if rng.random() < 0.2 else ""
        text = rng.choice(
            ['"hi #Tag @Bob, ""quoted"""', "plain text", "", "x@y.z and a#b", '"two\nlines #x"']
        )
        when = rng.choice([str(1_600_000_000 + i), f"{1_600_000_000 + i}.5", "yesterday", ""])
        urls = rng.choice(["", "https://a.org", "https://a.org https://b.org"])
        lines.append(f"{i},{uid if rng.random() > 0.02 else ''},{name},{repost},{reply},{text},{when},{urls}")
    lines += ["1,2", "5,6,7,8,9,10,11,12,13", 'bad,"\udcff",,,,,1600000000,']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    return path


@pytest.mark.parametrize("make", ["synthetic", "fixture"])
def test_row_path_stores_what_the_record_path_stored(tmp_path, monkeypatch, make):
    path = (
        _write_csv(tmp_path / "posts.csv", 3000)
        if make == "synthetic"
        else FIXTURES / "qut" / "messages_sample.csv"
    )
    new = ingest([path], tmp_path / "new", format="qut")
    monkeypatch.setattr(qut.QutReader, "read", _reference_read)
    old = ingest([path], tmp_path / "old", format="qut")
    assert new.reconciles and old.reconciles
    f, g = new.files[0], old.files[0]
    for name in ("units_read", "units_used", "units_quarantined", "emitted", "stored", "duplicates_in_run"):
        assert getattr(f, name) == getattr(g, name), name
    assert (f.quarantined, f.quarantine_stored) == (g.quarantined, g.quarantine_stored)
    a, b = _tables(tmp_path / "new"), _tables(tmp_path / "old")
    for table in _KEYS:
        assert a[table].equals(b[table]), table
    assert a["posts"].height > 0 and a["accounts"].height > 0
    if make == "synthetic":
        assert f.quarantined > 0 and f.duplicates_in_run["accounts"] > 0
