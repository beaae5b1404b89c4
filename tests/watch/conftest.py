"""A small simulated stream, made once: the simulator's pages cut into twarc2-stream lines in time order."""

from __future__ import annotations

from pathlib import Path

import pytest

from cibwatch.cli.main import main
from cibwatch.watch.replay import stream_lines


@pytest.fixture(scope="session")
def stream(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """The lines of a 2-day simulated stream (about 1,450 posts, planted operations among them)."""
    out = tmp_path_factory.mktemp("sim")
    main(["simulate", "--out", str(out), "--scenario", "demo", "--accounts", "300", "--days", "2", "-q"])
    return [line for _, line in stream_lines(out / "posts")]


def write(path: Path, lines: list[bytes], mode: str = "ab") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as fh:
        fh.write(b"".join(lines))
