"""``export_case``: a case's outputs for people outside the team, with accounts pseudonymized.

The outputs are those ``cibwatch scan`` writes (accounts.csv, campaigns.csv, coord/, report.html),
made by the same writers. With ``pseudonymize`` they run on a pseudonymized copy of the case's
tables (``cibwatch.share.tables``) in a temporary case, so no writer has a second code path; the
copy is removed and every file is checked for leaks (``cibwatch.share.check``) before the folder
is renamed into place. Nothing is left at ``out`` when any step fails.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from cibwatch import __version__
from cibwatch.errors import CaseError, ConfigError
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.review import log as review_log
from cibwatch.review import signing
from cibwatch.share.check import Forbidden, Leak, find_leaks
from cibwatch.share.pseudonyms import HEX_DIGITS, Pseudonyms, case_key
from cibwatch.share.tables import (
    HASHED_TRACES,
    POST_TRACES,
    REVIEW_PSEUDONYMIZED,
    ShareCounts,
    flagged_accounts,
    pseudonymize_case,
)
from cibwatch.store.case import Case

README = "README.txt"
MANIFEST = "export.json"
PLOTLY_FILE = "report_files/plotly.min.js"
REVIEW_DIR = "review"


class LeakError(CaseError):
    """The finished export still holds an id or name it must not: nothing was written."""

    def __init__(self, leaks: list[Leak]) -> None:
        shown = "; ".join(map(str, leaks[:10])) + (f"; … {len(leaks) - 10} more" if len(leaks) > 10 else "")
        super().__init__(
            f"the pseudonymized export still holds what it must not ({shown}). Nothing was written; "
            "this is a bug in cibwatch's scrubbing, please report it (without the values)."
        )
        self.leaks = leaks


@dataclass
class ExportResult:
    out: Path
    pseudonymized: bool
    key_id: str | None
    files: list[str] = field(default_factory=list)
    counts: ShareCounts | None = None
    review: dict[str, Any] | None = None  # the review log's check at export time, if it has one


def export_case(
    case_dir: str | Path,
    out: str | Path,
    *,
    pseudonymize: bool = True,
    force: bool = False,
    report: bool = True,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the case's outputs to ``out`` (new or empty unless ``force``), pseudonymized by default.

    >>> result = export_case("out/case", "share/", pseudonymize=True)   # doctest: +SKIP
    >>> result.key_id                                                  # doctest: +SKIP
    'keyid-3f9a1c2b7d4e8f60'
    """
    out = Path(out)
    with Case.open(case_dir) as case:
        if not case.has_table("recommendations"):
            raise CaseError(
                f"case {case.root} has no recommendations yet, so nothing says which accounts are "
                f"flagged; run `cibwatch campaigns --case {case.root}` (or `cibwatch scan`) first"
            )
        review = _review_check(case)
        with _staging(out, force=force) as (staging, files):
            if pseudonymize:
                pseudonyms = Pseudonyms(case_key(case.root))
                with Case.create(staging / "case") as copy:
                    counts = pseudonymize_case(case, copy, pseudonyms, progress=progress)
                    _write_outputs(
                        copy, files, report=report, label="pseudonymized export", progress=progress
                    )
                shutil.rmtree(staging / "case")
                _step(progress, "check", 0)
                leaks = find_leaks(files, forbidden(case), skip=frozenset({PLOTLY_FILE}))
                _step(progress, "check", 1)
                if leaks:
                    raise LeakError(leaks)
                result = ExportResult(out, True, pseudonyms.key_id, counts=counts)
            else:
                _write_outputs(case, files, report=report, label=None, progress=progress)
                result = ExportResult(out, False, None)
            if review is not None:
                review["pseudonymized_fields"] = list(REVIEW_PSEUDONYMIZED) if pseudonymize else []
            result.review = review
            written = [p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()]
            result.files = sorted([*written, README, MANIFEST])
            _write_readme(files, result)
    return result


def forbidden(case: Case) -> Forbidden:
    """What a pseudonymized export of ``case`` must not contain: every account and post id, text and
    media hash, and the handles and display names of unflagged accounts."""
    flagged = flagged_accounts(case)
    found = Forbidden()
    for table, columns in (
        ("posts", ("post_id", "account_id", "ref_post_id", "ref_account_id")),
        ("accounts", ("account_id",)),
        ("coord_evidence", ("account_a", "account_b", "post_id_a", "post_id_b")),
        ("recommendations", ("account_id",)),
        ("bot_scores", ("account_id",)),
        ("coord_accounts", ("account_id",)),
        ("campaign_members", ("account_id",)),
    ):
        for column in columns:
            found.ids |= set(
                case.scan(table).select(column).unique().drop_nulls().collect()[column].to_list()
            )
    # Text and media hashes would let a guessed text be confirmed; reposted posts are post ids.
    hashed = sorted(HASHED_TRACES | POST_TRACES)
    items = case.scan("coord_evidence").filter(pl.col("trace").is_in(hashed)).select("item").unique()
    found.ids |= set(items.drop_nulls().collect()["item"].to_list())
    profiles = case.scan("accounts").select("account_id", "screen_name", "name").unique().collect()
    kept = Forbidden()  # what flagged accounts show: an unflagged account may share it
    for account_id, handle, name in profiles.iter_rows():
        target = kept if account_id in flagged else found
        if handle:
            target.handles.add(handle.lower())
        if name:
            target.add_name(name)
    found.handles -= kept.handles
    found.names -= kept.names
    return found


def _review_check(case: Case) -> dict[str, Any] | None:
    """The review log verified as it is exported (None when the case has no log)."""
    if not review_log.has_log(case) and signing.public_key_pem(case.root) is None:
        return None
    report = review_log.verify(case)
    return {"entries": report.entries, "head": report.head, "ok": report.ok, "problems": report.problems}


def _write_review(case: Case, folder: Path) -> None:
    """The review log (entries with hashes and signatures), its evidence snapshots where the case
    holds them, its public key and its last checkpoint, under ``review/``."""
    rows = review_log.entries(case)
    pem = signing.public_key_pem(case.root)
    if not rows and pem is None:
        return
    folder.mkdir()
    _write(folder / "review_log.jsonl", "".join(review_log.canonical_json(r) + "\n" for r in rows))
    if rows and case.scalar("SELECT count(*) FROM review_evidence"):
        cur = case.con.execute("SELECT * FROM review_evidence ORDER BY snapshot_id")
        names = [d[0] for d in cur.description]
        lines = [review_log.canonical_json(dict(zip(names, r, strict=True))) + "\n" for r in cur.fetchall()]
        _write(folder / "review_evidence.jsonl", "".join(lines))
    for name in (signing.PUBLIC_KEY_FILE, signing.CHECKPOINT_FILE):
        if (case.root / name).exists():
            _write(folder / name, (case.root / name).read_text(encoding="utf-8"))


def _step(progress: Progress | None, phase: str, done: int) -> None:
    if progress is not None:
        progress(ProgressEvent("export", phase, done, 1))


def _write_outputs(
    case: Case, out: Path, *, report: bool, label: str | None, progress: Progress | None
) -> None:
    """What ``cibwatch scan`` writes for people, from the case's tables."""
    from cibwatch import campaigns, coord
    from cibwatch.export import write_csv

    _step(progress, "tables", 0)
    write_csv(campaigns.accounts_summary(case), out / "accounts.csv")
    write_csv(campaigns.campaigns_summary(case), out / "campaigns.csv")
    if case.has_table("coord_edges"):
        result = coord.CoordResult(
            edges=case.read("coord_edges"),
            evidence=case.read("coord_evidence"),
            accounts=case.read("coord_accounts"),
            clusters=case.read("coord_clusters"),
            capped=pl.DataFrame(),
            run={"note": "exported from the case's tables; the detection run's record stays with the scan"},
        )
        coord.write_outputs(result, out / "coord")
        # Capped items are not kept in the case: an empty file would claim there were none.
        (out / "coord" / "capped_items.csv").unlink()
    _write_review(case, out / REVIEW_DIR)
    _step(progress, "tables", 1)
    if report:
        from cibwatch.report import render

        render(case, out / "report.html", progress=progress, case_label=label)


@contextmanager
def _staging(out: Path, *, force: bool) -> Iterator[tuple[Path, Path]]:
    """A temporary folder beside ``out`` (``files/`` becomes ``out``); renamed into place on success."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder (new or empty) for the export.")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(
            f"The output folder {out} is not empty; give a new or empty --out folder, or pass --force "
            "to replace what it holds."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.export-{uuid.uuid4().hex[:8]}"
    files = staging / "files"
    files.mkdir(parents=True)
    try:
        yield staging, files
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            out.rename(old)
        files.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_readme(folder: Path, result: ExportResult) -> None:
    made = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest: dict[str, Any] = {
        "tool": "cibwatch",
        "version": __version__,
        "made_at": made,
        "pseudonymized": result.pseudonymized,
        "key_id": result.key_id,
        "pseudonym": {
            "hash": "HMAC-SHA256",
            "hex_digits": HEX_DIGITS,
            "prefixes": ["acct", "post", "user", "item"],
        }
        if result.pseudonymized
        else None,
        "counts": asdict(result.counts) if result.counts else None,
        "review_log": result.review,
        "files": result.files,
    }
    _write(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    _write(folder / README, readme_text(result, made))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def readme_text(result: ExportResult, made: str) -> str:
    """The export's README: what it holds, what was changed, and what that does not protect."""
    files = "\n".join(f"  {f}" for f in result.files)
    head = f"cibwatch {__version__} export, made {made}\n\n"
    if not result.pseudonymized:
        return head + (
            "NOT PSEUDONYMIZED: these files hold the case's real account ids, handles, names and post\n"
            "texts (review/ also holds the review log and the evidence each decision saw). Share them\n"
            "only with people allowed to see the case itself.\n\n"
            f"Files:\n{files}\n"
        )
    c = result.counts or ShareCounts()
    return (
        head
        + f"""Pseudonymized with key {result.key_id} (a hash of the case's key; the key itself stays
in the case, under keys/pseudonym.key, and is never exported).

What was changed
- Every account id ({c.accounts:,} accounts) and post id ({c.posts:,} posts) is replaced by a
  keyed hash: HMAC-SHA256 with the case's secret key, first {HEX_DIGITS} hex digits (64 bits), as
  acct-… and post-…. The same key gives the same pseudonyms in every export of this case, so
  exports can be joined; without the key nobody can recompute them from real ids.
- Handles of people the case holds no account for are user-…; text and media hashes used as
  coordination evidence are item-…, so nobody can confirm a guessed text against them.
- {c.flagged:,} flagged accounts (recommendation tier review or enforce-eligible) keep their
  handle, display name, bio and post texts: they are the evidence. Inside those texts, other
  accounts' @handles, links to their profiles and posts (x.com, twitter.com, bsky.app,
  https://host/@user) and every id are replaced.
- Every other account loses its handle, display name, bio, location, link and post texts
  ({c.profiles_removed:,} profile fields and {c.texts_removed:,} post texts removed; {c.texts_kept:,}
  flagged texts kept). Campaign texts, links and shared profile patterns are kept only where a
  flagged account posted or carries them; links only unflagged accounts shared become item-….
- Raw profile records, source file names and quarantined records are not exported.
- review/ (when the case has a review log): review_log.jsonl holds every decision, appeal and
  outcome with account ids, the actor and the reason pseudonymized like the rest; entry_hash and
  the Ed25519 signature are those of the original entries, so review_log.pub.pem and
  review_log.checkpoint.json prove their order, number and signer, not the shown fields. The
  evidence snapshots behind the decisions are not exported (they hold other accounts' posts).
- coord/capped_items.csv is not included (capped items are not kept in the case), and
  coord/run.json holds no detection record.

What this does not protect against
- Pseudonymization is not anonymization (GDPR recital 26): whoever holds the case's key can
  reverse it, and the data stays personal data. Share under an agreement.
- Flagged accounts are named. Their texts, and the times and co-actions of their partners, can
  re-identify an unflagged partner (search the platform for who reposted a named post at 14:02).
- Counts, times, follower numbers, hashtags, domains and the network's shape remain, and a rare
  combination can single someone out.
- A display name or a bare word written inside a flagged account's text is not recognised as a
  person and stays.

Files:
{files}
"""
    )
