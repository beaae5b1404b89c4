"""A small simulated case, scanned, with one flagged account's evidence posts rewritten to quote an
unflagged account every way a text can: @handle, a link to its post, its numeric id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from cibwatch.cli.main import main
from cibwatch.share import flagged_accounts
from cibwatch.sim import simulate
from cibwatch.store.case import Case

MARKER = "zqxplanted"


@dataclass(frozen=True)
class Planted:
    case: Path
    flagged: frozenset[str]
    victim_id: str  # an unflagged account quoted in flagged posts
    victim_handle: str
    victim_post: str


def run_cli(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="package")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    root = tmp_path_factory.mktemp("export-case")
    simulate("demo", out=root / "sim", seed=3, accounts=600, days=2)
    inputs = sorted(str(p) for p in (root / "sim" / "posts").glob("*.jsonl"))
    assert run_cli(["scan", *inputs, "--out", str(root / "scan"), "--no-report", "-q"]) == 0
    case_dir = root / "scan" / "case"
    with Case.open(case_dir) as case:
        flagged = flagged_accounts(case)
        posts = case.read("posts")
        accounts = case.read("accounts").filter(pl.col("screen_name").is_not_null())
        authors = posts.filter(~pl.col("account_id").is_in(list(flagged)))
        victim = (
            accounts.filter(
                pl.col("account_id").is_in(authors["account_id"].unique().to_list())
                & ~pl.col("account_id").is_in(list(flagged))
                & pl.col("screen_name").str.contains(r"\d")  # distinctive: no word of any text
            )
            .sort("account_id")
            .row(0, named=True)
        )
        victim_post = authors.filter(pl.col("account_id") == victim["account_id"])["post_id"][0]
        evidence = case.read("coord_evidence")
        shown = set(evidence["post_id_a"].to_list()) | set(evidence["post_id_b"].to_list())
        handle, vid = victim["screen_name"], victim["account_id"]
        text = (
            f"{MARKER} ask @{handle} about https://x.com/{handle}/status/{victim_post} "
            f"(account {vid}) and https://twitter.com/{handle.upper()}"
        )
        rewrite = pl.col("post_id").is_in(list(shown)) & pl.col("account_id").is_in(list(flagged))
        case.replace_table(
            "posts", posts.with_columns(text=pl.when(rewrite).then(pl.lit(text)).otherwise("text"))
        )
    return Planted(case_dir, frozenset(flagged), vid, handle, victim_post)
