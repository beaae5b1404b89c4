"""One contract for every registered trace: empty input, all-null fields, determinism, evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cibwatch.coord import detect, traces
from tests.coord.corpus import make_case, post
from tests.coord.test_traces import PLANTED, SHAPES, _background

ALL = sorted(traces())


@pytest.mark.parametrize("trace", ALL)
def test_posts_with_nothing_to_act_on_give_empty_tables(tmp_path: Path, trace: str) -> None:
    # Every optional field null: no trace may fail on it, none may invent an event.
    # An hour apart, so not even the sync trace has two accounts in one bin.
    posts = [post(f"a{j}", 3600.0 * j, kind="original") for j in range(5)]
    result = detect(make_case(tmp_path / "case", posts), traces=[trace], window=60, alpha=1.0, min_shared=1)
    assert result.edges.height == 0 and result.evidence.height == 0
    assert result.run["traces"][trace]["events"] == (5 if trace in ("sync", "sync_bare") else 0)


@pytest.mark.parametrize("trace", ALL)
def test_same_input_same_result(tmp_path: Path, trace: str) -> None:
    rng = np.random.default_rng(3)
    posts = _background(SHAPES[trace], rng)
    for k in range(4):
        posts += [post(a, 5_000.0 * k + j, **SHAPES[trace](k, j)) for j, a in enumerate(PLANTED)]
    case = make_case(tmp_path / "case", posts)
    first = detect(case, traces=[trace], window=60, sync_bin=10, seed=1)
    second = detect(case, traces=[trace], window=60, sync_bin=10, seed=1)
    assert first.edges.height > 0
    for name in ("edges", "evidence", "accounts", "clusters"):
        assert getattr(first, name).equals(getattr(second, name)), name
