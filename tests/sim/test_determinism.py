from __future__ import annotations

import pytest

from cibwatch.errors import ConfigError
from cibwatch.sim import run as sim_run
from cibwatch.sim import simulate
from cibwatch.sim.writers import PAGE_SIZE
from tests.sim.conftest import out_files

TINY = {"scenario": "demo", "accounts": 600, "days": 2}


def test_same_seed_gives_the_same_bytes(tmp_path):
    simulate(out=tmp_path / "a", seed=11, **TINY)
    simulate(out=tmp_path / "b", seed=11, **TINY)
    a, b = out_files(tmp_path / "a"), out_files(tmp_path / "b")
    assert set(a) == set(b) and len(a) >= 5  # 2 days of posts, 2 truth files, manifest
    for name in a:
        assert a[name] == b[name], f"{name} differs between two runs with the same seed"


def test_same_seed_same_bytes_in_v1(tmp_path):
    simulate(out=tmp_path / "a", seed=5, format="v1", **TINY)
    simulate(out=tmp_path / "b", seed=5, format="v1", **TINY)
    assert out_files(tmp_path / "a") == out_files(tmp_path / "b")


def test_another_seed_gives_another_world(tmp_path):
    simulate(out=tmp_path / "a", seed=1, **TINY)
    simulate(out=tmp_path / "b", seed=2, **TINY)
    a, b = out_files(tmp_path / "a"), out_files(tmp_path / "b")
    assert a["truth_accounts.csv"] != b["truth_accounts.csv"]
    assert a["posts/tweets-20240304T00.jsonl"] != b["posts/tweets-20240304T00.jsonl"]


def test_rerun_into_the_same_folder_replaces_the_posts(tmp_path):
    simulate(out=tmp_path / "a", seed=1, scenario="demo", accounts=600, days=3)
    simulate(out=tmp_path / "a", seed=1, **TINY)
    assert len(list((tmp_path / "a" / "posts").iterdir())) == 2


@pytest.mark.parametrize("fmt", ["v2", "v1"])
def test_the_bytes_do_not_depend_on_the_number_of_workers(tmp_path, fmt):
    # Four windows, so posts reference posts of earlier windows written by another worker.
    size = {"scenario": "demo", "accounts": 600, "days": 4}
    simulate(out=tmp_path / "one", seed=3, format=fmt, workers=1, **size)
    simulate(out=tmp_path / "two", seed=3, format=fmt, workers=2, **size)
    simulate(out=tmp_path / "three", seed=3, format=fmt, workers=3, **size)
    one = out_files(tmp_path / "one")
    assert len(one) == 4 + 3
    assert out_files(tmp_path / "two") == one
    assert out_files(tmp_path / "three") == one


def test_workers_must_be_a_positive_whole_number(tmp_path):
    with pytest.raises(ConfigError, match=r"--workers must be a whole number of at least 1\. Got 0 instead"):
        simulate(out=tmp_path / "a", seed=1, workers=0, **TINY)


@pytest.mark.parametrize("fmt", ["v2", "v1"])
def test_writing_a_window_in_parts_gives_the_same_bytes(tmp_path, monkeypatch, fmt):
    size = {"scenario": "demo", "accounts": 600, "days": 3, "seed": 8, "format": fmt}
    simulate(out=tmp_path / "whole", workers=1, **size)
    monkeypatch.setattr(sim_run, "PART_POSTS", 2 * PAGE_SIZE)  # many parts per window
    simulate(out=tmp_path / "parts", workers=2, **size)
    assert out_files(tmp_path / "parts") == out_files(tmp_path / "whole")


@pytest.mark.parametrize(
    "n", [0, 1, PAGE_SIZE, sim_run.PART_POSTS, sim_run.PART_POSTS + 1, 7 * sim_run.PART_POSTS // 2]
)
def test_parts_cover_a_window_in_whole_pages_of_even_size(n):
    parts = sim_run._parts(n)
    assert [start for start, _ in parts] == [i * parts[0][1] for i in range(len(parts))]
    assert all(size % PAGE_SIZE == 0 and size <= sim_run.PART_POSTS for _, size in parts)
    assert parts[-1][0] < max(n, 1) <= parts[-1][0] + parts[-1][1]
    assert len(parts) == max(1, -(-n // sim_run.PART_POSTS))
