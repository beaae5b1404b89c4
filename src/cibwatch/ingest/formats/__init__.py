"""Built-in readers. Each module registers itself; importing this package loads them all."""

from cibwatch.ingest.formats import twitter_v1  # noqa: F401
