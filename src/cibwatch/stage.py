"""The stage contract: a stage that writes tables is run as ``run(case, params, *, progress=None)``.

``params`` is the stage's parameter object (its defaults are the CLI's); ``run`` writes the stage's
tables into the case, replacing earlier ones, and returns a report that extends ``StageReport``.
The stages: ``cibwatch.bots.run``, ``cibwatch.coord.run``, ``cibwatch.campaigns.run``.

>>> from cibwatch import coord
>>> with open_case("out/case") as case:                       # doctest: +SKIP
...     report = coord.run(case, coord.CoordParams(window="auto"))
>>> report.tables                                              # doctest: +SKIP
{'coord_edges': 3525, 'coord_evidence': 13104, 'coord_accounts': 293, 'coord_clusters': 9}

Ingest is the stage before the case: ``ingest(inputs, case_dir)`` creates the case it writes
(and removes it again if the first run fails), so it takes a folder, not an open case.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageReport:
    """What a stage's ``run`` wrote: rows per table, and how long it took."""

    tables: dict[str, int]
    seconds: float
