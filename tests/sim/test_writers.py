from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest

from cibwatch.sim import events as ev
from cibwatch.sim.world import build_organic
from cibwatch.sim.writers import WRITERS, write_pieces


@pytest.mark.parametrize(
    "pieces",
    [
        pl.Series(["ab", "", "c\n", "x" * 30, "…"]),
        pl.Series([], dtype=pl.String),
        pl.Series(["", ""]),
        pl.Series(["ab", "cd", "ef"]).slice(1, 2),
        pl.concat([pl.Series(["ab", "cd"]), pl.Series(["ef"])], rechunk=False),
        pl.Series([f"{i}," for i in range(10_000)]),  # exported in several slices
    ],
)
def test_write_pieces_writes_the_strings_back_to_back(pieces: pl.Series) -> None:
    fh = io.BytesIO()
    write_pieces(fh, pieces)
    assert fh.getvalue() == "".join(pieces.to_list()).encode()


@pytest.mark.parametrize("fmt", list(WRITERS))
@pytest.mark.parametrize("body", ['a "quoted" word', "back\\slash", "two\nlines", "a\ttab"])
def test_prepare_refuses_text_that_would_need_escaping(fmt: str, body: str) -> None:
    world = build_organic(np.random.default_rng(0), 200, 1_700_000_000_000, 1)
    writer = WRITERS[fmt](world, 0)
    ok = ev.frame(2, key=np.arange(2), t=np.full(2, 1_700_000_000_000), author=np.arange(2), kind=ev.ORIGINAL)
    writer.prepare(ok.with_columns(body=pl.lit("plain words …")))
    with pytest.raises(RuntimeError, match="not JSON-safe"):
        writer.prepare(ok.with_columns(body=pl.Series(["fine", body])))
