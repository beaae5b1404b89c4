"""Small simulated worlds shared by the sim tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cibwatch import open_case
from cibwatch.ingest import ingest
from cibwatch.sim import simulate

SMALL = {"scenario": "demo", "seed": 7, "accounts": 2500, "days": 5}


@pytest.fixture(scope="session")
def v1_world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small v1.1 world, ingested with cibwatch's own reader."""
    root = tmp_path_factory.mktemp("sim_v1")
    report = simulate(out=root / "out", format="v1", **SMALL)
    ingest_report = ingest([root / "out" / "posts"], root / "case")
    case = open_case(root / "case")
    posts = case.read("posts")
    accounts = case.sql("SELECT * FROM accounts_current").pl()
    case.close()
    truth = pl.read_csv(root / "out" / "truth_accounts.csv", schema_overrides={"account_id": pl.String})
    return {
        "out": root / "out",
        "report": report,
        "ingest": ingest_report,
        "posts": posts,
        "accounts": accounts,
        "truth": truth.with_columns(pl.col("campaign_id").fill_null(""), pl.col("tactic").fill_null("")),
    }


def posts_with_truth(world: dict) -> pl.DataFrame:
    """Posts joined with their author's truth row."""
    return world["posts"].join(world["truth"], on="account_id", how="left")


def out_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
