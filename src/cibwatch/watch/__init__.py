"""Live monitoring: follow growing JSON Lines files into a case, re-detect over a sliding window,
alert on campaigns as they form (``cibwatch watch``; docs/watch.md).

>>> from cibwatch.watch import WatchParams, watch                              # doctest: +SKIP
>>> watch(["stream.jsonl"], "out/case", WatchParams(window=3600, stop_when_idle=60))  # doctest: +SKIP
"""

from cibwatch.watch.alerts import Alerter, AlertState
from cibwatch.watch.follow import Offset, Range, pending_range
from cibwatch.watch.live import live_state
from cibwatch.watch.run import BatchReport, WatchParams, WatchReport, watch
from cibwatch.watch.state import load_offsets
from cibwatch.watch.window import WindowRun, detect_window

__all__ = [
    "AlertState",
    "Alerter",
    "BatchReport",
    "Offset",
    "Range",
    "WatchParams",
    "WatchReport",
    "WindowRun",
    "detect_window",
    "live_state",
    "load_offsets",
    "pending_range",
    "watch",
]
