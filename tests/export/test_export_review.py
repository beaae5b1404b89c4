"""The review log in an export: signed entries, public key and checkpoint; pseudonymized like the rest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cibwatch.review import appeal, decide, log, signing
from cibwatch.share import export_case, tables
from cibwatch.share.run import LeakError
from cibwatch.store.case import Case
from tests.export.conftest import Planted


@pytest.fixture(scope="module")
def reviewed(planted: Planted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted case with two decisions whose reasons quote the unflagged victim."""
    root = tmp_path_factory.mktemp("reviewed") / "case"
    shutil.copytree(planted.case, root)
    first, second = sorted(planted.flagged)[:2]
    with Case.open(root) as case:
        quoted = f"reposts @{planted.victim_handle} within seconds (see account {planted.victim_id})"
        decide(case, first, "suspend", reviewer="ana", reason=quoted)
        appeal(case, first, statement="I am a real person")
        decide(case, second, "label", reviewer="ana", reason="amplifier of the same network")
    return root


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_pseudonymized_export_carries_the_signed_log_without_ids(
    planted: Planted, reviewed: Path, tmp_path: Path
) -> None:
    result = export_case(reviewed, tmp_path / "share", report=False)
    folder = tmp_path / "share" / "review"
    rows = read_jsonl(folder / "review_log.jsonl")
    assert [r["event"] for r in rows] == ["decision", "appeal", "decision"]
    text = (folder / "review_log.jsonl").read_text()
    assert planted.victim_id not in text and planted.victim_handle.lower() not in text.lower()
    assert all(r["account_id"].startswith("acct-") for r in rows)
    assert not (folder / "review_evidence.jsonl").exists()  # partners' posts: not exported
    # What the recipient can check: order, count and signer, against the exported key and checkpoint.
    public = signing.load_public_key((folder / signing.PUBLIC_KEY_FILE).read_text(), "export")
    assert [r["prev_hash"] for r in rows[1:]] == [r["entry_hash"] for r in rows[:-1]]
    assert all(signing.entry_signature_ok(public, r["entry_hash"], r["signature"]) for r in rows)
    checkpoint = json.loads((folder / signing.CHECKPOINT_FILE).read_text())
    assert signing.checkpoint_problems(checkpoint, "exported") == []
    assert (checkpoint["count"], checkpoint["head"]) == (3, rows[-1]["entry_hash"])
    manifest = json.loads((tmp_path / "share" / "export.json").read_text())
    assert manifest["review_log"]["ok"] and manifest["review_log"]["entries"] == 3
    assert manifest["review_log"]["pseudonymized_fields"] == ["account_id", "actor", "reason"]
    assert "review/review_log.jsonl" in result.files
    assert not list((tmp_path / "share").rglob("*.ed25519"))  # the private key never leaves


def test_an_export_that_is_not_pseudonymized_verifies_whole(reviewed: Path, tmp_path: Path) -> None:
    export_case(reviewed, tmp_path / "full", pseudonymize=False, report=False)
    folder = tmp_path / "full" / "review"
    rows = read_jsonl(folder / "review_log.jsonl")
    snapshots: dict[str, list[str]] = {}
    for snap in read_jsonl(folder / "review_evidence.jsonl"):
        snapshots.setdefault(snap["snapshot_id"], []).append(snap["content"])
    public = signing.load_public_key((folder / signing.PUBLIC_KEY_FILE).read_text(), "export")
    check = log.verify_rows(rows, public, snapshots)
    assert check.ok and check.signed == 3


def test_the_leak_check_fires_when_reasons_are_not_scrubbed(
    planted: Planted, reviewed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "REVIEW_PSEUDONYMIZED", ("account_id", "actor"))
    with pytest.raises(LeakError) as caught:
        export_case(reviewed, tmp_path / "leaky", report=False)
    leaks = {(leak.file, leak.kind, leak.value) for leak in caught.value.leaks}
    assert ("review/review_log.jsonl", "id", planted.victim_id) in leaks
    assert not (tmp_path / "leaky").exists()
