"""The stage contract (cibwatch.stage): every stage's ``run(case, params, *, progress)`` writes its
tables, reports what it wrote, and sends only ``ProgressEvent``s."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import ModuleType

import polars as pl
import pytest

from cibwatch import bots, campaigns, coord
from cibwatch.ingest import ingest
from cibwatch.progress import ProgressEvent
from cibwatch.sim import simulate
from cibwatch.stage import StageReport
from cibwatch.store.case import Case

# In the order a scan runs them: each reads what the ones before it wrote.
STAGES: list[tuple[ModuleType, object]] = [
    (bots, bots.BotsParams()),
    (coord, coord.CoordParams()),
    (campaigns, campaigns.CampaignsParams()),
]


def assert_steps_move_forward(events: list[ProgressEvent]) -> None:
    """Every event is a ``ProgressEvent``, and within a step ``done`` never goes down."""
    last: dict[tuple[str, str], int] = {}
    for event in events:
        assert isinstance(event, ProgressEvent), event
        key = (event.stage, event.step)
        assert event.done >= last.get(key, 0), event
        assert event.total is None or 0 <= event.done <= event.total, event
        last[key] = event.done


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    root = tmp_path_factory.mktemp("stage")
    simulate("demo", out=root / "sim", seed=3, accounts=300, days=1)
    ingest(sorted((root / "sim" / "posts").glob("*.jsonl")), root / "case")
    with Case.open(root / "case") as opened:
        yield opened


@pytest.fixture(scope="module")
def runs(case: Case) -> dict[str, tuple[StageReport, list[ProgressEvent]]]:
    """Each stage run once on the case, with the progress events it sent."""
    done = {}
    for stage, params in STAGES:
        events: list[ProgressEvent] = []
        report = stage.run(case, params, progress=events.append)
        done[stage.__name__.rsplit(".", 1)[-1]] = (report, events)
    return done


@pytest.mark.parametrize("stage", ["bots", "coord", "campaigns"])
def test_run_writes_its_tables_and_reports_their_rows(
    case: Case, runs: dict[str, tuple[StageReport, list[ProgressEvent]]], stage: str
) -> None:
    report, _ = runs[stage]
    assert isinstance(report, StageReport) and report.seconds > 0
    assert report.tables and any(report.tables.values()), "the small case should give every stage rows"
    for table, rows in report.tables.items():
        assert case.scan(table).select(pl.len()).collect().item() == rows, table


@pytest.mark.parametrize("stage", ["bots", "coord", "campaigns"])
def test_run_sends_progress_events_that_move_forward(
    runs: dict[str, tuple[StageReport, list[ProgressEvent]]], stage: str
) -> None:
    _, events = runs[stage]
    assert events and {e.stage for e in events} == {stage}
    assert_steps_move_forward(events)


def test_stage_reports_say_what_the_cli_prints(
    runs: dict[str, tuple[StageReport, list[ProgressEvent]]],
) -> None:
    scored, _ = runs["bots"]
    assert isinstance(scored, bots.BotsReport) and scored.model.startswith("cibwatch bot model")
    assert sum(scored.labels.values()) <= scored.tables["bot_scores"]
    found, _ = runs["coord"]
    assert (
        isinstance(found, coord.CoordReport)
        and found.result.run["flagged_edges"] == found.tables["coord_edges"]
    )
    assembled, _ = runs["campaigns"]
    assert isinstance(assembled, campaigns.CampaignsReport)
    assert sum(assembled.result.tiers.values()) == assembled.tables["recommendations"]


@pytest.mark.parametrize(("stage", "params"), STAGES, ids=["bots", "coord", "campaigns"])
def test_every_stage_run_has_the_same_shape(stage: ModuleType, params: object) -> None:
    signature = inspect.signature(stage.run)
    assert [(p.name, p.kind) for p in signature.parameters.values()] == [
        ("case", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("params", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("progress", inspect.Parameter.KEYWORD_ONLY),
    ]
    assert signature.parameters["progress"].default is None
    hints = inspect.get_annotations(stage.run, eval_str=True)
    assert hints["case"] is Case and isinstance(params, hints["params"])
    assert issubclass(hints["return"], StageReport)
    # The defaults are usable as they are: the CLI reads them.
    assert type(params)() == params
