"""``cibwatch export --pseudonymize``: no id, handle or name of an unflagged account in any file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from cibwatch import schema
from cibwatch.share import COLUMNS, Rule, export_case, scrub
from cibwatch.share.check import file_text
from cibwatch.share.pseudonyms import Pseudonyms, key_id
from cibwatch.share.run import LeakError
from cibwatch.share.tables import Scrubbed, ShareCounts, pseudonymize_frame
from cibwatch.store.case import Case
from cibwatch.store.secrets import read_secret
from tests.export.conftest import MARKER, Planted, run_cli

PSEUDONYM = re.compile(r"\bacct-[0-9a-f]{16}\b")


@pytest.fixture(scope="module")
def exported(planted: Planted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("share") / "export"
    assert run_cli(["export", str(planted.case), "--pseudonymize", "--out", str(out), "-q"]) == 0
    return out


def texts_of(folder: Path) -> dict[str, str]:
    """Every exported file as text (Parquet decoded), plotly.js (shipped code, not data) left out."""
    return {
        p.relative_to(folder).as_posix(): file_text(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "plotly.min.js"
    }


def unflagged_profiles(planted: Planted) -> tuple[set[str], set[str], set[str]]:
    """Ids of every account and post, and handles and display names only unflagged accounts have."""
    with Case.open(planted.case) as case:
        posts = case.read("posts")
        accounts = case.read("accounts")
    ids = set(accounts["account_id"]) | set(posts["post_id"]) | set(posts["ref_post_id"].drop_nulls())
    flagged = accounts.filter(pl.col("account_id").is_in(list(planted.flagged)))
    links = posts.filter(pl.col("account_id").is_in(list(planted.flagged)))["urls"].explode().drop_nulls()
    shown = " ".join(
        flagged["screen_name"].drop_nulls().to_list()
        + flagged["name"].drop_nulls().to_list()
        + links.to_list()
    ).lower()
    others = accounts.filter(~pl.col("account_id").is_in(list(planted.flagged)))
    # A flagged "ValleyNews_1" shows the unflagged "ValleyNews" inside its own, kept handle; a flagged
    # account's links to metrotribune.com stay, though an unflagged account is @MetroTribune.
    handles = {h for h in others["screen_name"].drop_nulls().str.to_lowercase() if h not in shown}
    names = {n for n in others["name"].drop_nulls().str.to_lowercase() if " " in n and n not in shown}
    return ids, handles, names


def test_no_id_handle_or_name_of_an_unflagged_account_in_any_file(planted: Planted, exported: Path) -> None:
    ids, handles, names = unflagged_profiles(planted)
    # Ids of 18-19 digits are searched as substrings (a match is the id, not chance); the few older,
    # 8-9 digit ids as tokens, since a float's digits could hold them.
    long_ids = {i for i in ids if len(i) >= 18}
    short_ids = ids - long_ids
    assert len(long_ids) > 1000 and planted.victim_id in ids
    files = texts_of(exported)
    assert {
        "accounts.csv",
        "campaigns.csv",
        "report.html",
        "coord/network.gexf",
        "coord/evidence.parquet",
    } <= set(files)
    for name, text in files.items():
        lower = text.lower()
        assert not [i for i in long_ids if i in text], name
        assert not scrub.tokens(text) & short_ids, name
        assert not [h for h in handles if h in lower], name
        assert not [n for n in names if n in lower], name


def test_flagged_accounts_keep_their_names_and_texts_scrubbed(planted: Planted, exported: Path) -> None:
    report = (exported / "report.html").read_text()
    assert MARKER in report  # the planted flagged text is in the evidence, scrubbed
    assert planted.victim_handle.lower() not in report.lower()
    scrubbed = re.search(
        rf"{MARKER} ask @(acct-[0-9a-f]{{16}}) about https://x\.com/(acct-[0-9a-f]{{16}})/status/post-",
        report,
    )
    assert scrubbed and scrubbed.group(1) == scrubbed.group(2)
    accounts = pl.read_csv(exported / "accounts.csv", infer_schema_length=0)
    flagged = accounts.filter(pl.col("recommendation").is_in(schema.FLAGGED_TIERS))
    assert flagged.height == len(planted.flagged)
    assert flagged["screen_name"].null_count() == 0
    assert accounts.filter(~pl.col("recommendation").is_in(schema.FLAGGED_TIERS))[
        "screen_name"
    ].null_count() == (accounts.height - flagged.height)
    assert all(PSEUDONYM.fullmatch(a) for a in accounts["account_id"])


def test_the_readme_names_the_key_by_its_hash_never_the_key(planted: Planted, exported: Path) -> None:
    key = read_secret(planted.case, "pseudonym.key")
    assert key is not None
    readme = (exported / "README.txt").read_text()
    assert key_id(key) in readme and "cibwatch" in readme and "not anonymization" in readme
    for file in exported.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert key not in data and key.hex().encode() not in data, file


def test_the_same_key_gives_the_same_pseudonyms(planted: Planted, exported: Path, tmp_path: Path) -> None:
    again = export_case(planted.case, tmp_path / "again", report=False)
    for name in ("accounts.csv", "campaigns.csv", "coord/edges.csv", "coord/accounts.csv"):
        assert (again.out / name).read_bytes() == (exported / name).read_bytes(), name


def test_another_case_key_gives_other_pseudonyms(planted: Planted, exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(planted.case, copy, ignore=shutil.ignore_patterns("keys", "*.duckdb*", ".lock"))
    other = export_case(copy, tmp_path / "other", report=False)
    mine = pl.read_csv(exported / "accounts.csv", infer_schema_length=0)
    theirs = pl.read_csv(other.out / "accounts.csv", infer_schema_length=0)
    assert mine.height == theirs.height and mine["recommendation"].equals(theirs["recommendation"])
    assert not set(mine["account_id"]) & set(theirs["account_id"])


def test_the_check_fires_when_the_scrubber_lets_a_mention_through(
    planted: Planted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break the @mention rule: the planted @handle reaches the report, and nothing is written."""
    monkeypatch.setattr(scrub, "_MENTION", re.compile(r"(?!)"))  # matches nothing
    monkeypatch.setattr(scrub, "_X_URL", re.compile(r"(?!)"))
    with pytest.raises(LeakError) as caught:
        export_case(planted.case, tmp_path / "leaky")
    assert ("handle", planted.victim_handle.lower()) in {
        (leak.kind, leak.value) for leak in caught.value.leaks
    }
    assert not (tmp_path / "leaky").exists()
    assert not [p for p in tmp_path.iterdir()]  # the staging folder is gone too


def test_the_check_fires_when_a_profile_column_is_kept(
    planted: Planted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(COLUMNS["bot_scores"], "screen_name", Rule.KEEP)
    with pytest.raises(LeakError, match=r"accounts\.csv: handle"):
        export_case(planted.case, tmp_path / "leaky", report=False)
    assert not (tmp_path / "leaky").exists()


def test_every_text_column_of_every_table_has_a_rule() -> None:
    for table, table_schema in {**schema.TABLES, **schema.STAGE_TABLES}.items():
        textual = [f.name for f in table_schema if f.type in ("string",) or str(f.type).startswith("list")]
        missing = [c for c in textual if c not in COLUMNS[table]]
        assert not missing, f"{table}: give {missing} a rule in cibwatch.share.tables.COLUMNS"


def test_a_text_column_without_a_rule_is_withheld() -> None:
    work = Scrubbed(
        scrubber=scrub.Scrubber(
            Pseudonyms(b"k" * 32), account_ids=["1001"], post_ids=[], handles={}, flagged_handles=[]
        ),
        flagged=set(),
        flagged_texts=set(),
        flagged_urls=set(),
        flagged_domains=set(),
        kept_patterns=set(),
    )
    frame = pl.DataFrame({"account_id": ["1001"], "new_bio_column": ["I am Ann"], "n": [3]})
    out = pseudonymize_frame("accounts", frame, work, ShareCounts())
    assert out.row(0) == (work.scrubber.account("1001"), "[removed]", 3)


def test_cli_errors_say_what_to_do(planted: Planted, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cibwatch.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["export", str(tmp_path), "--pseudonymize", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "not a cibwatch case" in str(result.exception)
    bare = tmp_path / "bare"
    Case.create(bare).close()
    result = runner.invoke(app, ["export", str(bare), "--pseudonymize", "--out", str(tmp_path / "x")])
    assert "cibwatch campaigns" in str(result.exception)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(planted.case), "--out", str(full), "--no-report"])
    assert "--force" in str(result.exception) and (full / "keep.txt").exists()
    assert run_cli(["export", str(planted.case), "--out", str(full), "--no-report", "--force", "-q"]) == 0
    assert not (full / "keep.txt").exists()
    real = pl.read_csv(full / "accounts.csv", infer_schema_length=0)
    assert planted.victim_id in set(real["account_id"])  # without --pseudonymize: real ids
    assert "NOT PSEUDONYMIZED" in (full / "README.txt").read_text()
