"""Events carry integer post codes (``post_codes``) instead of post ids; the results must be those
of the ids, ties included: the least id of an instant, the closest pair with ties broken by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from cibwatch.coord import detect
from cibwatch.coord.detect import _Run
from tests.coord.corpus import make_case, post
from tests.coord.test_traces import PLANTED, SHAPES, _background

TABLES = ("edges", "evidence", "accounts", "clusters", "capped")


def _tied_case(root: Path, trace: str) -> Any:
    """The contract corpus, with ids whose text order is not their number's order ('x10' < 'x9'),
    each planted post twice at the same instant, and partners at equal gaps on every item."""
    rng = np.random.default_rng(11)
    posts = _background(SHAPES[trace], rng)
    for k in range(4):
        for j, account in enumerate(PLANTED):
            for copy in range(2):
                posts.append(post(account, 5_000.0 * k + 2 * (j % 2), **SHAPES[trace](k, j)))
                posts[-1]["post_id"] = f"x{int(rng.integers(0, 10 ** int(rng.integers(1, 6))))}_{k}{j}{copy}"
    for n, p in enumerate(posts):
        p.setdefault("post_id", f"x{n}")
    return make_case(root, posts)


@pytest.mark.parametrize("trace", ["repost", "hashtag", "text", "near_text", "sync"])
def test_coded_posts_give_what_the_ids_give(tmp_path: Path, monkeypatch: Any, trace: str) -> None:
    case = _tied_case(tmp_path / "case", trace)
    coded = detect(case, traces=[trace], window=60, sync_bin=10, seed=1)
    monkeypatch.setattr(_Run, "codes_posts", False)
    by_id = detect(case, traces=[trace], window=60, sync_bin=10, seed=1)
    assert coded.evidence.height > 0
    for name in TABLES:
        assert_frame_equal(getattr(coded, name), getattr(by_id, name), check_exact=False, rel_tol=1e-9)
    assert coded.run["account_status"] == by_id.run["account_status"]
