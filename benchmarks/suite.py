"""Imports every benchmark module so that each registers itself; ORDER is the report's order."""

from benchmarks import (
    bots_lodo,  # noqa: F401
    bots_select,  # noqa: F401
    coord,  # noqa: F401
    coord_10m,  # noqa: F401
    coord_neartext,  # noqa: F401
    coord_realdata,  # noqa: F401
    coord_sim,  # noqa: F401
    coord_spark,  # noqa: F401
    coord_timing,  # noqa: F401
    crash,  # noqa: F401
    fuzz,  # noqa: F401
    ingest,  # noqa: F401
    review_log,  # noqa: F401
    scaling,  # noqa: F401
    scan_realdata,  # noqa: F401
    serve_load,  # noqa: F401
    simulate_throughput,  # noqa: F401
    watch_replay,  # noqa: F401
)

# Real data first: the simulator is a test bed, not the measure of success.
ORDER = (
    "coord_realdata",
    "bots_lodo",
    "bots_select",
    "scan_realdata",
    "coord_neartext",
    "coord_timing",
    "ingest",
    "crash",
    "fuzz",
    "coord_sim",
    "coord",
    "scaling",
    "coord_10m",
    "coord_spark",
    "simulate",
    "review_log",
    "serve_load",
    "watch_replay",
    "watch_mix",
)
