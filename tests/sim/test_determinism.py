from __future__ import annotations

from cibwatch.sim import simulate
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
