"""The case → QUT toolkit CSV export: its column order, references, links and awkward text."""

from __future__ import annotations

import csv
from pathlib import Path

from cibwatch.evaluate.qut import export_qut_csv
from cibwatch.ingest import ingest
from cibwatch.store.case import Case

HEADER = ["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"]


def test_export_round_trips_references_links_and_text(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerow(
            ["m1", "u1", "u1", "", "", 'says "hi",\nthen leaves', "1465000000.9", "http://a.org/x"]
        )
        writer.writerow(["m2", "u2", "u2", "m1", "", "", "1465000030", ""])
        writer.writerow(["m3", "u3", "u3", "", "m1", "a reply", "1465000060", "http://b.org domain:7"])
    ingest([source], tmp_path / "case", format="qut")
    out = tmp_path / "qut.csv"
    with Case.open(tmp_path / "case") as case:
        assert export_qut_csv(case, out) == 3
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == HEADER
    by_id = {r[0]: dict(zip(HEADER, r, strict=True)) for r in rows[1:]}
    assert by_id["m1"]["message"] == 'says "hi",\nthen leaves'
    assert by_id["m1"]["timestamp"] == "1465000000"  # whole seconds
    assert by_id["m2"]["repost_id"] == "m1" and by_id["m2"]["reply_id"] == ""
    assert by_id["m3"]["reply_id"] == "m1" and by_id["m3"]["repost_id"] == ""
    assert by_id["m3"]["urls"] == "http://b.org"  # a coortweet site id is not a link
    assert by_id["m2"]["urls"] == ""
