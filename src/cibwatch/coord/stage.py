"""The coordination stage under the stage contract (``cibwatch.stage``): ``run`` is ``detect`` with
its parameters in a ``CoordParams``, and writes the case's coord_* tables (``save_to_case``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from cibwatch.coord.detect import CoordResult, detect
from cibwatch.coord.output import CASE_TABLES, save_to_case
from cibwatch.coord.params import CoordParams
from cibwatch.errors import ConfigError
from cibwatch.progress import Progress
from cibwatch.stage import StageReport
from cibwatch.store.case import Case
from cibwatch.store.lake import Lake


@dataclass(frozen=True)
class CoordReport(StageReport):
    """``tables``: rows per coord_* table; ``result``: what ``detect`` found, with the run record
    (``result.run``) and the capped items, for ``write_outputs``."""

    result: CoordResult


def run(
    case: Case | Lake,
    params: CoordParams,
    *,
    progress: Progress | None = None,
    save_to: Case | None = None,
) -> CoordReport:
    """Detect coordination in ``case``'s posts and write the coord_* tables into ``save_to``
    (default: ``case``; a ``Lake``, read on Spark, needs one).

    >>> report = run(open_case("out/case"), CoordParams(window="auto"))  # doctest: +SKIP
    >>> report.tables["coord_edges"]                                      # doctest: +SKIP
    3525
    >>> write_outputs(report.result, "out/coord")                         # doctest: +SKIP
    """
    target = save_to if save_to is not None else case
    if not isinstance(target, Case):
        raise ConfigError("Coordination on a lake saves its tables into a case: pass save_to (--case).")
    started = time.perf_counter()
    # ``extra`` is for the run record only; every other field is a ``detect`` keyword.
    keywords = {f.name: getattr(params, f.name) for f in fields(params) if f.name != "extra"}
    result = detect(case, progress=progress, **keywords)
    save_to_case(result, target)
    return CoordReport(
        tables={table: getattr(result, attr).height for table, attr in CASE_TABLES.items()},
        seconds=time.perf_counter() - started,
        result=result,
    )
