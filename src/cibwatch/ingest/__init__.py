"""Ingest: read the formats people hold into a case's normalized tables."""

from cibwatch.ingest.base import Reader, Sink, Source, get_reader, readers, register
from cibwatch.ingest.run import FileReport, IngestReport, ingest

__all__ = [
    "FileReport",
    "IngestReport",
    "Reader",
    "Sink",
    "Source",
    "get_reader",
    "ingest",
    "readers",
    "register",
]
