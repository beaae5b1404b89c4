"""Equality is the contract: the Spark engine gives what the embedded engine gives.

The corpora are the trace contract's (``test_contract``/``test_traces``: a planted group in random
background activity); both engines run the same statements, and every output table, the expected
co-actions, p- and q-values (to floating-point tolerance), accounts and decisions must agree.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from cibwatch import schema
from cibwatch.cli.main import main
from cibwatch.coord import detect, traces
from cibwatch.coord.spark import SparkSQL, to_spark
from cibwatch.errors import ConfigError
from tests.coord.corpus import make_case, post, posts_table
from tests.coord.test_decide import SPAN_S, _amplify, _ordinary
from tests.coord.test_decide import _background as _reposts
from tests.coord.test_traces import PLANTED, SHAPES, _background, syndication_case

SPARK_TRACES = sorted(traces())
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
@pytest.mark.parametrize("trace", ["text", "near_text"])
def test_own_site_scoping_same_on_both_engines(tmp_path: Path, spark: Any, trace: str) -> None:
    # The text traces read the profiles' links (accounts table) to scope a headline to its site.
    case = syndication_case(tmp_path / "case", trace)
    duck = detect(case, traces=[trace], window=60, sync_bin=10, seed=1)
    on_spark = detect(case, traces=[trace], window=60, sync_bin=10, seed=1, engine="spark", spark=spark)
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


def _shuffled_sentences(k: int) -> tuple[list[str], list[str]]:
    """Two families of texts over one word set: ``A`` with one change, and ``A`` reversed with one.

    Every text has the same words, so the same MinHash signature: all share one LSH bucket in
    every band. Each family is similar within itself and unlike the other.
    """
    words = [f"{w}{k}" for w in _STAR_WORDS]
    families = []
    for base in (words, words[::-1]):
        swaps = [[*base[:p], base[p + 1], base[p], *base[p + 2 :]] for p in range(len(base) - 1)]
        repeats = [[*base[: p + 1], base[p], *base[p + 1 :]] for p in range(len(base) - 1)]
        families.append([" ".join(t) for t in [base, *swaps, *repeats]])
    return families[0], families[1]


_STAR_WORDS = "state vote fraud media truth people city police money border".split()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def near_text_bucket_case(root: Path) -> Any:
    """38 accounts post texts of one word set four times: an LSH bucket of 38 (> ALL_PAIRS_UP_TO).

    In a bucket that large only the pairs with its first text (smallest md5) are checked, so
    only that text's family is joined: accounts 0–18 post it, 19–37 the other family, which
    stays apart (checking all pairs would join it too).
    """
    rng = np.random.default_rng(11)
    posts = _background(SHAPES["near_text"], rng)
    for k in range(4):
        one, other = _shuffled_sentences(k)
        first = min(one + other, key=_md5)
        for j, text in enumerate(one + other if first in one else other + one):
            posts.append(post(f"star{j:02d}", 20_000.0 * k + j, text=text))
    return make_case(root, posts)


def test_the_bucket_case_has_a_star_bucket() -> None:
    from cibwatch.coord.traces.near_text import ALL_PAIRS_UP_TO

    one, other = _shuffled_sentences(0)
    assert len(set(one + other)) == len(one + other) > ALL_PAIRS_UP_TO
    assert all(set(t.split()) == set(one[0].split()) for t in one + other)


@pytest.mark.slow
def test_near_text_with_a_large_bucket_same_on_both_engines(tmp_path: Path, spark: Any) -> None:
    case = near_text_bucket_case(tmp_path / "case")
    duck = detect(case, traces=["near_text"], window=60, seed=1)
    on_spark = detect(case, traces=["near_text"], window=60, seed=1, engine="spark", spark=spark)
    # The first text's family is one group: its 19 accounts, all pairs between them; the other
    # family's accounts have no edge.
    assert duck.edges.height == 19 * 18 // 2
    assert set(duck.edges["account_a"]) | set(duck.edges["account_b"]) == {f"star{j:02d}" for j in range(19)}
    assert_same_result(duck, on_spark)


def _typo_posts() -> pa.Table:
    """300 sentences, each beside a copy with three words misspelt: word Jaccard 7/13, so LSH
    proposes about three pairs in four, and which ones depends on every token hash."""
    rng = np.random.default_rng(4)
    vocab = [f"word{i}" for i in range(3_000)]
    posts = []
    for k in range(300):
        words = list(rng.choice(vocab, 10, replace=False))
        typo = [w + "x" if i in (1, 4, 7) else w for i, w in enumerate(words)]
        posts += [post("a", 60.0 * k, text=" ".join(words)), post("b", 60.0 * k + 1, text=" ".join(typo))]
    return posts_table(posts)


def _near_text_groups(con: Any, prepare: Any, posts: pa.Table) -> pl.DataFrame:
    """near_text's (h, grp) table, prepared by ``prepare`` on ``con`` over ``posts``."""
    con.register("posts", posts)
    con.register("accounts", schema.ACCOUNTS.empty_table())
    con.execute("CREATE VIEW p AS SELECT *, epoch_ms(created_at) AS t FROM posts")
    con.execute("CREATE VIEW profile_urls AS SELECT account_id, url FROM accounts")
    prepare(con, {"near_threshold": 0.8})
    return con.sql("SELECT h, grp FROM near_text_groups ORDER BY h").pl()


@pytest.mark.slow
def test_near_text_groups_same_on_both_engines(spark: Any) -> None:
    posts = _typo_posts()
    trace = traces()["near_text"]
    duck = _near_text_groups(duckdb.connect(), trace.prepare, posts)
    con = SparkSQL(spark)
    try:
        on_spark = _near_text_groups(con, trace.prepare_spark, posts)
    finally:
        con.close()
        for view in ("posts", "accounts", "p", "profile_urls", "own_site"):
            spark.catalog.dropTempView(view)
    joined = duck.filter(pl.col("h") != pl.col("grp")).height
    assert duck.height == 600 and 150 < joined < 300  # LSH missed some pairs: the hashes matter
    assert_frame_equal(duck, on_spark)


@pytest.mark.slow
def test_default_traces_on_spark_same_as_duckdb(tmp_path: Path, spark: Any) -> None:
    posts = _background(SHAPES["repost"], np.random.default_rng(5))
    for k in range(4):
        posts += [post(a, 5_000.0 * k + j, **SHAPES["repost"](k, j)) for j, a in enumerate(PLANTED)]
        posts += [post(a, 5_000.0 * k + 900 + j, **SHAPES["near_text"](k, j)) for j, a in enumerate(PLANTED)]
    case = make_case(tmp_path / "case", posts)
    on_spark = detect(case, engine="spark", spark=spark)
    ran = on_spark.run["trace_choice"]["traces"]
    assert {"repost", "text", "near_text"} <= set(ran)
    assert on_spark.run["traces"]["near_text"]["events"] > 0
    assert_same_result(detect(case, traces=ran), on_spark)


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
