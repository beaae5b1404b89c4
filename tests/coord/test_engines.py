"""Equality is the contract: the Spark engine gives what the embedded engine gives.

The corpora are the trace contract's (``test_contract``/``test_traces``: a planted group in random
background activity); both engines run the same statements, and every output table, the expected
co-actions, p- and q-values (to floating-point tolerance), accounts and decisions must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cibwatch.cli.main import main
from cibwatch.coord import detect, traces
from cibwatch.coord.spark import UNSUPPORTED_TRACES, to_spark
from cibwatch.errors import ConfigError
from tests.coord.corpus import make_case, post
from tests.coord.test_decide import SPAN_S, _amplify, _ordinary
from tests.coord.test_decide import _background as _reposts
from tests.coord.test_traces import PLANTED, SHAPES, _background, syndication_case

# Every registered trace but those the Spark engine refuses (near_text: test below).
SPARK_TRACES = sorted(set(traces()) - set(UNSUPPORTED_TRACES))
TABLES = ("edges", "evidence", "accounts", "clusters", "capped")


def _contract_case(root: Path, trace: str) -> Any:
    """The determinism contract's corpus for ``trace`` (tests/coord/test_contract.py)."""
    rng = np.random.default_rng(3)
    posts = _background(SHAPES[trace], rng)
    for k in range(4):
        posts += [post(a, 5_000.0 * k + j, **SHAPES[trace](k, j)) for j, a in enumerate(PLANTED)]
    return make_case(root, posts)


def assert_same_result(duck: Any, spark: Any) -> None:
    for name in TABLES:
        assert_frame_equal(
            getattr(duck, name), getattr(spark, name), check_exact=False, rel_tol=1e-9, abs_tol=0.0
        )
    for key in (
        "tested_pairs",
        "pairs_without_expectation",
        "null_passes",
        "account_status",
        "flagged_edges",
    ):
        assert duck.run[key] == spark.run[key], key
    for trace, record in duck.run["traces"].items():
        mine = {k: v for k, v in record.items() if k != "seconds"}
        assert mine == {k: v for k, v in spark.run["traces"][trace].items() if k != "seconds"}, trace


@pytest.mark.slow
@pytest.mark.parametrize("trace", SPARK_TRACES)
def test_contract_corpus_same_on_both_engines(tmp_path: Path, spark: Any, trace: str) -> None:
    case = _contract_case(tmp_path / "case", trace)
    duck = detect(case, traces=[trace], window=60, sync_bin=10, seed=1)
    on_spark = detect(case, traces=[trace], window=60, sync_bin=10, seed=1, engine="spark", spark=spark)
    assert duck.edges.height > 0
    assert_same_result(duck, on_spark)
    # The q-values and expectations, named: what a reviewer reads off an edge.
    cols = ["trace", "account_a", "account_b", "n_shared", "expected", "p_value", "q_value"]
    assert_frame_equal(duck.edges.select(cols), on_spark.edges.select(cols), check_exact=False, rel_tol=1e-9)


@pytest.mark.slow
def test_own_site_scoping_same_on_both_engines(tmp_path: Path, spark: Any) -> None:
    # The text trace reads the profiles' links (accounts table) to scope a headline to its site.
    case = syndication_case(tmp_path / "case", "text")
    duck = detect(case, traces=["text"], window=60, sync_bin=10, seed=1)
    on_spark = detect(case, traces=["text"], window=60, sync_bin=10, seed=1, engine="spark", spark=spark)
    assert duck.edges.filter(pl.col("n_shared") == 10).height == 1  # the one newsroom's two accounts
    assert_same_result(duck, on_spark)


@pytest.mark.slow
def test_account_decisions_and_null_passes_same_on_both_engines(tmp_path: Path, spark: Any) -> None:
    # A ring of weak edges, a crowd around one source and the passes that re-estimate the background.
    rng, posts = _reposts(4)
    ring = [f"ring{j}" for j in range(8)]
    posts += _ordinary(rng, ring, 20)
    for _ in range(3):
        t = float(rng.integers(0, SPAN_S))
        item = f"item{rng.integers(0, 200)}"
        posts += [post(a, t + 3 * j, "repost", item) for j, a in enumerate(ring)]
    _amplify(rng, [f"fan{j}" for j in range(10)], ["star"], posts)
    case = make_case(tmp_path / "case", posts)
    duck = detect(case, traces=["repost"], window=60)
    on_spark = detect(case, traces=["repost"], window=60, engine="spark", spark=spark)
    assert (
        duck.run["account_status"].get("coordinated", 0) > 0
        and duck.run["account_status"].get("crowd", 0) > 0
    )
    assert_same_result(duck, on_spark)
    assert_frame_equal(
        duck.accounts.select("account_id", "status", "account_q", "reason"),
        on_spark.accounts.select("account_id", "status", "account_q", "reason"),
        check_exact=False,
        rel_tol=1e-9,
    )


@pytest.mark.slow
def test_cli_engine_spark_writes_what_duckdb_writes(tmp_path: Path, spark: Any, capsys: Any) -> None:
    # The CLI makes no session of its own: it takes the active one (here the tests').
    _contract_case(tmp_path / "case", "repost").close()
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        argv = ["coord", str(tmp_path / "case"), "--out", str(out), "--traces", "repost", "--window", "60"]
        main([*argv, "--engine", engine, "--json"])
        assert json.loads(capsys.readouterr().out)["params"]["engine"] == engine
    for name in ("edges.csv", "accounts.csv", "clusters.csv"):
        duck, on_spark = pl.read_csv(tmp_path / "duckdb" / name), pl.read_csv(tmp_path / "spark" / name)
        assert duck.height > 0
        assert_frame_equal(duck, on_spark, check_exact=False, rel_tol=1e-9)


@pytest.mark.slow
def test_default_traces_on_spark_leave_near_text_out_and_say_so(tmp_path: Path, spark: Any) -> None:
    posts = _background(SHAPES["repost"], np.random.default_rng(5))
    for k in range(4):
        posts += [post(a, 5_000.0 * k + j, **SHAPES["repost"](k, j)) for j, a in enumerate(PLANTED)]
        posts += [post(a, 5_000.0 * k + 900 + j, **SHAPES["text"](k, j)) for j, a in enumerate(PLANTED)]
    case = make_case(tmp_path / "case", posts)
    on_spark = detect(case, engine="spark", spark=spark)
    choice = on_spark.run["trace_choice"]
    assert choice["left_out_on_spark"] == ["near_text"]
    ran = [t for t in choice["traces"]]
    assert "near_text" not in ran and {"repost", "text"} <= set(ran)
    assert_same_result(detect(case, traces=ran), on_spark)


def test_spark_refuses_near_text_rather_than_differ(tmp_path: Path) -> None:
    case = _contract_case(tmp_path / "case", "near_text")
    with pytest.raises(ConfigError, match="does not run the near_text trace"):
        detect(case, traces=["near_text", "repost"], engine="spark")


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'engine' parameter must be one of duckdb, spark"):
        detect(make_case(tmp_path / "case", [post("a", 0.0)]), engine="hadoop")


def test_missing_pyspark_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match=r'pip install "cibwatch\[spark\]"'):
        detect(make_case(tmp_path / "case", [post("a", 0.0)]), traces=["repost"], engine="spark")


def test_the_embedded_engine_never_imports_spark(tmp_path: Path) -> None:
    # A user without Spark sees no change: the default path imports neither pyspark nor sqlglot.
    make_case(tmp_path / "case", [post("a", 0.0, "repost", "x"), post("b", 1.0, "repost", "x")]).close()
    code = (
        "import sys; from cibwatch.store.case import Case; from cibwatch.coord import detect; "
        "import cibwatch.cli.main; "
        f"detect(Case.open({str(tmp_path / 'case')!r}), traces=['repost']); "
        "loaded = {'pyspark', 'sqlglot'} & set(sys.modules); assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_translation_keeps_duckdb_meaning() -> None:
    pytest.importorskip("sqlglot")
    # epoch_ms of a timestamp is its milliseconds; len() of a list its size; 1000.0 a double.
    assert to_spark("SELECT epoch_ms(created_at) FROM p") == "SELECT UNIX_MILLIS(created_at) FROM p"
    assert to_spark("SELECT 1 FROM p WHERE len(urls) > 0") == "SELECT 1 FROM p WHERE SIZE(urls) > 0"
    assert to_spark("SELECT gap / 1000.0 FROM x") == "SELECT gap / 1000.0D FROM x"
    assert to_spark("SELECT t // 60 FROM x") == "SELECT t DIV 60 FROM x"
