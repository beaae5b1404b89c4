"""The bots stage under the stage contract (``cibwatch.stage``): ``run`` writes ``bot_scores``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cibwatch.bots.model import BotModel
from cibwatch.bots.score import load_model, score_case
from cibwatch.progress import Progress
from cibwatch.stage import StageReport
from cibwatch.store.case import Case


@dataclass(frozen=True)
class BotsParams:
    """The model to score with: a model folder, a loaded ``BotModel``, or None for the shipped one.

    Its thresholds (``bot_label``'s bot and uncertain cut-offs) come with the model.
    """

    model: BotModel | str | Path | None = None

    def load_model(self) -> BotModel:
        if isinstance(self.model, BotModel):
            return self.model
        return load_model(str(self.model) if self.model is not None else None)


@dataclass(frozen=True)
class BotsReport(StageReport):
    """``tables``: ``bot_scores`` rows; ``labels``: accounts per ``bot_label`` (unscored ones left out);
    ``model``: which model, with its thresholds."""

    labels: dict[str, int]
    model: str


def run(case: Case, params: BotsParams, *, progress: Progress | None = None) -> BotsReport:
    """Score every account of ``case`` and write its ``bot_scores`` table (``score_case``).

    >>> report = run(open_case("out/case"), BotsParams())   # doctest: +SKIP
    >>> report.tables, report.labels["bot"]                 # doctest: +SKIP
    ({'bot_scores': 3626}, 412)
    """
    started = time.perf_counter()
    model = params.load_model()
    table = score_case(case, model=model, progress=progress)
    counts = table.group_by("bot_label").len().sort("bot_label").iter_rows()
    return BotsReport(
        tables={"bot_scores": table.height},
        seconds=time.perf_counter() - started,
        labels={label: n for label, n in counts if label is not None},
        model=model.describe(),
    )
