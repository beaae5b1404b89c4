"""Kept co-actions (``coord.incremental``): a detection over a moved window that computes only the
new events' co-actions gives exactly what a batch detection over the same window gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cibwatch.cli.main import main
from cibwatch.coord import CoordParams, detect
from cibwatch.coord import incremental as incremental_module
from cibwatch.coord.incremental import CoactionState
from cibwatch.ingest import ingest
from cibwatch.store import open_case
from cibwatch.store.case import Case

PARAMS = {k: v for k, v in vars(CoordParams()).items() if k != "extra"}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    out = tmp_path_factory.mktemp("sim")
    main(
        [
            "simulate",
            "--out",
            str(out / "sim"),
            "--scenario",
            "demo",
            "--accounts",
            "300",
            "--days",
            "3",
            "-q",
        ]
    )
    ingest([out / "sim" / "posts"], out / "case")
    case = open_case(out / "case")
    return case.read("posts"), case.read("accounts")


def _window(root: Path, posts: pl.DataFrame, accounts: pl.DataFrame, start, end) -> Case:
    case = Case.create(root)
    case.replace_table("posts", posts.filter(pl.col("created_at").is_between(start, end)))
    case.replace_table("accounts", accounts)
    return case


def _same(incremental, batch) -> None:
    for name in ("edges", "evidence", "accounts", "clusters"):
        a, b = getattr(incremental, name), getattr(batch, name)
        keys = [c for c, t in a.schema.items() if not isinstance(t, pl.List | pl.Struct)]
        # Sums of floats come out in the order DuckDB's threads give them: equal to 1e-9, as two
        # batch runs are.
        assert_frame_equal(a.sort(keys), b.sort(keys), rel_tol=1e-9, abs_tol=0.0)


def _ends(posts: pl.DataFrame, steps: int) -> list:
    first, last = posts["created_at"].min(), posts["created_at"].max()
    return [first + (last - first) * (k + 2) / (steps + 1) for k in range(steps)]


def test_each_moved_window_equals_a_batch_detection_on_it(simulated, tmp_path):
    posts, accounts = simulated
    state = CoactionState(tmp_path / "state")
    kept_rows = 0
    # A 24 h window moved by about 8 h: each move brings new events and expires old ones.
    for k, end in enumerate(_ends(posts, 7)):
        case = _window(tmp_path / f"w{k}", posts, accounts, end - timedelta(hours=24), end)
        incremental = detect(case, **PARAMS, coactions=state)
        batch = detect(case, **PARAMS)
        _same(incremental, batch)
        stats = incremental.run["coactions_kept"]
        if k:
            assert all(s["recomputed_items"] >= 0 for s in stats.values())  # the kept rows were used
        kept_rows += sum(s["kept_rows"] for s in stats.values())
    assert kept_rows > 0
    assert batch.accounts.filter(pl.col("status") == "coordinated").height > 0


def test_kept_coactions_made_under_another_window_are_not_used(simulated, tmp_path):
    posts, accounts = simulated
    end = posts["created_at"].max()
    state = CoactionState(tmp_path / "state")
    case = _window(tmp_path / "w", posts, accounts, end - timedelta(hours=24), end)
    detect(case, **PARAMS, coactions=state)
    wider = {**PARAMS, "window": 600.0}
    incremental = detect(case, **wider, coactions=state)
    # Traces whose window is their own (fixed) keep theirs; the others start again.
    assert any(s["recomputed_items"] == -1 for s in incremental.run["coactions_kept"].values())
    _same(incremental, detect(case, **wider))


def test_a_merge_that_forgets_expired_events_is_seen(simulated, tmp_path, monkeypatch):
    """Broken on purpose: items that lost events keep their old co-actions. The comparison with
    batch must fail, or it could not see a wrong update."""
    posts, accounts = simulated
    # Nothing counts as lost: expired events' co-actions stay.
    monkeypatch.setattr(
        incremental_module, "_lost_items", lambda events: f"SELECT item FROM {events} WHERE false"
    )
    state = CoactionState(tmp_path / "state")
    differs = False
    for k, end in enumerate(_ends(posts, 4)):
        case = _window(tmp_path / f"w{k}", posts, accounts, end - timedelta(hours=24), end)
        incremental = detect(case, **PARAMS, coactions=state)
        try:
            _same(incremental, detect(case, **PARAMS))
        except AssertionError:
            differs = True
    assert differs
