"""Sniffing: a reader whose sniff refuses another format's bytes is no match; a sniff that fails
any other way is a bug in the reader and is not hidden."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cibwatch.errors import InputFormatError
from cibwatch.ingest import Reader, Source, readers, register
from cibwatch.ingest.registry import _REGISTRY, sniff_format
from tests.conftest import FIXTURES


@pytest.fixture
def registered() -> Iterator[list[type[Reader]]]:
    """Readers a test registers, unregistered after it."""
    readers()  # the built-ins first
    added: list[type[Reader]] = []
    yield added
    for cls in added:
        _REGISTRY.pop(cls.name, None)


def _reader(name: str, error: BaseException) -> type[Reader]:
    def sniff(cls: type[Reader], head: bytes, path: Path) -> bool:
        raise error

    return type(name, (Reader,), {"name": name, "sniff": classmethod(sniff)})


@pytest.mark.parametrize(
    "error",
    [
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        ValueError("not a number"),
        InputFormatError("not mine"),
        RecursionError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_sniff_refusing_the_bytes_is_no_match(registered, error):
    registered.append(register(_reader("test-refusing", error)))
    path = FIXTURES / "twitter-v1" / "sample.jsonl"
    assert sniff_format(Source(path=path, dataset="x")).name == "twitter-v1"


def test_a_sniff_that_fails_otherwise_is_not_swallowed(registered):
    registered.append(register(_reader("test-broken", ZeroDivisionError("a bug in the sniff"))))
    path = FIXTURES / "twitter-v1" / "sample.jsonl"
    with pytest.raises(ZeroDivisionError, match="a bug in the sniff"):
        sniff_format(Source(path=path, dataset="x"))
    _REGISTRY.pop("test-broken")
    assert sniff_format(Source(path=path, dataset="x")).name == "twitter-v1"
