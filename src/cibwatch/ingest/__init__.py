"""Ingest: read the formats people hold into a case's normalized tables."""

from cibwatch.ingest.commit import AUTHOR_STUB_READER
from cibwatch.ingest.registry import Reader, Sink, get_reader, readers, register
from cibwatch.ingest.report import FileReport, IngestReport
from cibwatch.ingest.run import expand_inputs, ingest, ingest_sources
from cibwatch.ingest.source import Source

__all__ = [
    "AUTHOR_STUB_READER",
    "FileReport",
    "IngestReport",
    "Reader",
    "Sink",
    "Source",
    "expand_inputs",
    "get_reader",
    "ingest",
    "ingest_sources",
    "readers",
    "register",
]
