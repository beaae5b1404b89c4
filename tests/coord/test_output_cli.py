"""Outputs (case tables, CSV, Gephi, Parquet, run.json) and the ``cibwatch coord`` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import polars as pl
import pytest

from cibwatch import schema
from cibwatch.cli.main import main
from cibwatch.coord import detect, save_to_case, write_outputs
from cibwatch.store.case import Case
from tests.coord.corpus import T0, make_case, post


def _group_posts() -> list[dict]:
    posts = [post(f"bg{j}", 500.0 * j, "repost", f"noise{j % 7}") for j in range(40)]
    # Links are a trace of their own: it needs its own background to tell chance from coordination.
    posts += [post(f"bg{j}", 170.0 * j, urls=[f"https://blog.example/{j % 9}"]) for j in range(60)]
    for k in range(5):
        posts += [post(f"b{j}", 1000.0 * k + 2 * j, "repost", f"c{k}") for j in range(3)]
        posts += [post(f"b{j}", 1000.0 * k + 300 + j, urls=[f"https://news.example/{k}"]) for j in range(3)]
    return posts


def test_outputs_have_the_documented_columns(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", _group_posts())
    result = detect(case, traces=["repost", "url"], window=60)
    paths = write_outputs(result, tmp_path / "out")
    assert pl.read_csv(paths["accounts"]).columns == [f.name for f in schema.COORD_ACCOUNTS]
    assert pl.read_csv(paths["edges"]).columns == [f.name for f in schema.COORD_EDGES]
    assert pl.read_csv(paths["clusters"]).columns == [f.name for f in schema.COORD_CLUSTERS]
    assert pl.read_parquet(paths["evidence"]).columns == [f.name for f in schema.COORD_EVIDENCE]
    graph = nx.read_graphml(paths["graphml"])
    assert set(graph.nodes) == {"b0", "b1", "b2"}
    assert graph.edges["b0", "b1"]["traces"] == "repost,url"
    assert nx.read_gexf(paths["gexf"]).number_of_edges() == 3
    run = json.loads(paths["run"].read_text())
    assert run["traces"]["repost"]["window_s"] == 60 and run["params"]["alpha"] == 0.01
    accounts = result.accounts
    assert accounts["cluster_id"].to_list() == ["C1"] * 3
    assert accounts["coordination_score"].is_between(0, 1).all()
    assert accounts["traces"].to_list() == ["repost,url"] * 3
    assert accounts["n_shared_items"].to_list() == [10] * 3
    cluster = result.clusters.row(0, named=True)
    assert cluster["size"] == 3 and cluster["density"] == 1.0 and cluster["n_items"] == 10
    assert cluster["first_at"] == datetime.fromtimestamp(T0, UTC)


def test_results_are_saved_into_the_case_and_replaced_on_rerun(tmp_path: Path) -> None:
    case = make_case(tmp_path / "case", _group_posts())
    save_to_case(detect(case, traces=["repost", "url"]), case)
    save_to_case(detect(case, traces=["repost"]), case)
    edges = case.read("coord_edges")
    assert set(edges["trace"]) == {"repost"} and edges.height == 3
    assert case.read("coord_evidence").height == 15
    assert case.read("coord_accounts").height == 3


def test_empty_case_gives_empty_tables(tmp_path: Path) -> None:
    case = Case.create(tmp_path / "case")
    result = detect(case)
    assert result.edges.height == 0 and result.accounts.height == 0
    write_outputs(result, tmp_path / "out")
    assert pl.read_csv(tmp_path / "out" / "edges.csv").height == 0


def test_cli_on_a_case_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_case(tmp_path / "case", _group_posts()).close()
    main(
        [
            "coord",
            str(tmp_path / "case"),
            "--out",
            str(tmp_path / "out"),
            "--traces",
            "repost,url",
            "--window",
            "60",
            "--json",
        ]
    )
    run = json.loads(capsys.readouterr().out)
    assert run["flagged_accounts"] == 3
    accounts = pl.read_csv(tmp_path / "out" / "accounts.csv")
    assert sorted(accounts["account_id"]) == ["b0", "b1", "b2"]
    assert Case.open(tmp_path / "case").read("coord_edges").height == 6


def _v1(tweet_id: int, user: str, when: datetime, retweet_of: int | None) -> str:
    record = {
        "id": tweet_id,
        "id_str": str(tweet_id),
        "created_at": when.strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "text": f"RT @src: message {retweet_of}" if retweet_of else "hello",
        "user": {"id": int(user[1:]), "id_str": user[1:], "screen_name": user},
        "entities": {"hashtags": [], "urls": [], "user_mentions": []},
    }
    if retweet_of:
        record["retweeted_status"] = {
            "id": retweet_of,
            "id_str": str(retweet_of),
            "created_at": when.strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "text": f"message {retweet_of}",
            "user": {"id": 9, "id_str": "9", "screen_name": "src"},
            "entities": {"hashtags": [], "urls": [], "user_mentions": []},
        }
    return json.dumps(record)


def test_cli_ingests_input_files_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = datetime(2019, 9, 28, tzinfo=UTC)
    lines, n = [], 1000
    for k in range(5):
        for j, user in enumerate(["u101", "u102", "u103"]):
            n += 1
            lines.append(_v1(n, user, start + timedelta(minutes=30 * k, seconds=5 * j), 500 + k))
    for j in range(30):  # background: other accounts retweeting other things, hours apart
        n += 1
        lines.append(_v1(n, f"u{200 + j}", start + timedelta(hours=j % 9, minutes=j), 900 + j % 4))
    source = tmp_path / "tweets.jsonl"
    source.write_text("\n".join(lines) + "\n")
    main(["coord", str(source), "--out", str(tmp_path / "out"), "--traces", "repost", "--json", "-q"])
    run = json.loads(capsys.readouterr().out)
    assert (tmp_path / "out" / "case" / "case.json").exists()
    edges = pl.read_csv(tmp_path / "out" / "edges.csv", infer_schema=False)
    assert sorted(zip(edges["account_a"], edges["account_b"], strict=True)) == [
        ("101", "102"),
        ("101", "103"),
        ("102", "103"),
    ]
    assert run["time_resolution_s"] == 1
    accounts = pl.read_csv(tmp_path / "out" / "accounts.csv")
    assert sorted(accounts["screen_name"]) == ["u101", "u102", "u103"]


def test_cli_compat_qut_writes_the_toolkit_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_case(tmp_path / "case", _group_posts()).close()
    main(["coord", str(tmp_path / "case"), "--out", str(tmp_path / "q"), "--compat", "qut", "--window", "10"])
    edges = pl.read_csv(tmp_path / "q" / "edges.csv")
    retweet = edges.filter(pl.col("trace") == "co_retweet")
    # Ordered pairs and self-loops, as the toolkit writes them.
    assert {("b0", "b1"), ("b1", "b0"), ("b0", "b0")} <= set(
        zip(retweet["account_a"], retweet["account_b"], strict=True)
    )
    assert json.loads((tmp_path / "q" / "run.json").read_text())["compat"] == "qut"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "-5"], "The 'window' parameter must be a number of seconds"),
        (["--traces", "telepathy"], "Unknown trace telepathy"),
        (["--compat", "other"], "Unknown --compat 'other'"),
        (["--compat", "qut", "--window", "auto"], "needs a fixed window"),
        (["--alpha", "0"], "The 'alpha' parameter must be in"),
        (["--window", "repots=60"], "A window is given for repots"),
    ],
)
def test_cli_errors_exit_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    make_case(tmp_path / "case", _group_posts()).close()
    with pytest.raises(SystemExit) as exit_info:
        main(["coord", str(tmp_path / "case"), "--out", str(tmp_path / "out"), "-q", *args])
    assert exit_info.value.code == 1
    assert message in " ".join(capsys.readouterr().err.split())


def test_cli_takes_a_window_per_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_case(tmp_path / "case", _group_posts()).close()
    args = ["coord", str(tmp_path / "case"), "--out", str(tmp_path / "out"), "--traces", "repost,url"]
    main([*args, "--window", "repost=1,default=auto", "--json"])
    run = json.loads(capsys.readouterr().out)
    assert run["traces"]["repost"]["window_s"] == 1 and run["traces"]["repost"]["window_source"] == "given"
    assert run["traces"]["url"]["window_source"].startswith("auto")


def test_cli_sets_the_null_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_case(tmp_path / "case", _group_posts()).close()
    args = ["coord", str(tmp_path / "case"), "--out", str(tmp_path / "out"), "--traces", "repost", "--json"]
    main([*args, "--null-stratum", "86400", "--null-passes", "1"])
    run = json.loads(capsys.readouterr().out)
    assert run["null_passes"] == 1
    assert run["traces"]["repost"]["null_stratum_s"] == 86_400
