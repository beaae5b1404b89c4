"""The coordination stage: who acts together beyond chance, on every trace, with evidence.

>>> from cibwatch.coord import detect, write_outputs            # doctest: +SKIP
>>> result = detect(open_case("out/case"), traces="default", window="auto")  # doctest: +SKIP
>>> write_outputs(result, "out/coord")                           # doctest: +SKIP

``run(case, CoordParams(...))`` does the same as a stage (``cibwatch.stage``): it also writes
the case's coord_* tables.
"""

from cibwatch.coord.detect import CoordResult, detect
from cibwatch.coord.output import save_to_case, to_networkx, write_outputs
from cibwatch.coord.params import CoordParams
from cibwatch.coord.stage import CoordReport, run
from cibwatch.coord.traces import Trace, default_traces, register, traces

__all__ = [
    "CoordParams",
    "CoordReport",
    "CoordResult",
    "Trace",
    "default_traces",
    "detect",
    "register",
    "run",
    "save_to_case",
    "to_networkx",
    "traces",
    "write_outputs",
]
