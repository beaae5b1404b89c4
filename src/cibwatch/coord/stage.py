"""The coordination stage under the stage contract (``cibwatch.stage``): ``run`` is ``detect`` with
its parameters in a ``CoordParams``, and writes the case's coord_* tables (``save_to_case``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from cibwatch.coord.detect import CoordResult, detect
from cibwatch.coord.output import CASE_TABLES, save_to_case
from cibwatch.coord.params import CoordParams
from cibwatch.progress import Progress
from cibwatch.stage import StageReport
from cibwatch.store.case import Case
from cibwatch.store.lake import Lake


@dataclass(frozen=True)
class CoordReport(StageReport):
    """``tables``: rows per coord_* table; ``result``: what ``detect`` found, with the run record
    (``result.run``) and the capped items, for ``write_outputs``."""

    result: CoordResult


def run(case: Case, params: CoordParams, *, progress: Progress | None = None) -> CoordReport:
    """Detect coordination in ``case``'s posts and write its coord_* tables.

    >>> report = run(open_case("out/case"), CoordParams(window="auto"))  # doctest: +SKIP
    >>> report.tables["coord_edges"]                                      # doctest: +SKIP
    3525
    >>> write_outputs(report.result, "out/coord")                         # doctest: +SKIP
    """
    return _detect_and_save(case, params, case, progress)


def run_on_lake(
    lake: Lake, params: CoordParams, save_to: Case, *, progress: Progress | None = None
) -> CoordReport:
    """``run`` on a lake (``store/lake.py``, read on Spark: ``params.engine`` must be "spark"),
    writing the coord_* tables into the case ``save_to``.

    >>> run_on_lake(Lake.open("s3a://b/x", spark), CoordParams(engine="spark"), case)  # doctest: +SKIP
    """
    return _detect_and_save(lake, params, save_to, progress)


def _detect_and_save(
    source: Case | Lake, params: CoordParams, case: Case, progress: Progress | None
) -> CoordReport:
    started = time.perf_counter()
    # ``extra`` is for the run record only; every other field is a ``detect`` keyword.
    keywords = {f.name: getattr(params, f.name) for f in fields(params) if f.name != "extra"}
    result = detect(source, progress=progress, **keywords)
    save_to_case(result, case)
    return CoordReport(
        tables={table: getattr(result, attr).height for table, attr in CASE_TABLES.items()},
        seconds=time.perf_counter() - started,
        result=result,
    )
