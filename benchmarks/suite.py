"""Imports every benchmark module so that each registers itself, in report order."""

from benchmarks import ingest  # noqa: F401
from benchmarks import coord_realdata  # noqa: F401
from benchmarks import coord  # noqa: F401
