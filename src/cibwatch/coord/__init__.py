"""The coordination stage: who acts together beyond chance, on every trace, with evidence.

>>> from cibwatch.coord import detect, write_outputs            # doctest: +SKIP
>>> result = detect(open_case("out/case"), traces="default", window="auto")  # doctest: +SKIP
>>> write_outputs(result, "out/coord")                           # doctest: +SKIP
"""

from cibwatch.coord.detect import CoordResult, detect
from cibwatch.coord.output import save_to_case, to_networkx, write_outputs
from cibwatch.coord.traces import Trace, default_traces, register, traces

__all__ = [
    "CoordResult",
    "Trace",
    "default_traces",
    "detect",
    "register",
    "save_to_case",
    "to_networkx",
    "traces",
    "write_outputs",
]
