"""The Spark engine's session (tests/coord/conftest.py) for ``ingest --engine spark``'s tests."""

from tests.coord.conftest import spark

__all__ = ["spark"]
