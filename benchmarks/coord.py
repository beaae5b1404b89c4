"""Co-repost at growing sizes: cibwatch beside the QUT toolkit on identical synthetic input.

Synthetic posts (70% reposts of Zipf-popular targets at uniform times over 30 days, plus planted
groups of 8 accounts co-reposting within 30 s) are written once as a case (Parquet) and as the
toolkit's CSV. Each tool runs in its own child process: wall time and peak RSS of that process
tree. cibwatch runs twice: ``detect`` (co-action + null model + BH + evidence + clusters) and
``--compat qut`` (the toolkit's exact co_retweet). The toolkit runs its CSV ``preprocess`` and
``compute co_retweet`` (2 CPUs).

Standalone: ``python benchmarks/coord.py --sizes 100000 300000`` prints markdown.
In the suite: ``python -m benchmarks run coord`` (sizes from CIBWATCH_COORD_SIZES).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `cibwatch` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow as pa

from benchmarks.harness import benchmark, machine, run_measured, table

WINDOW = 60
DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
SMOKE_SIZES = (20_000,)
T0 = 1_467_331_200


def synthetic_posts(n_posts: int, seed: int = 1) -> pa.Table:
    """``n_posts`` posts in the ``posts`` schema; planted groups' accounts are named ``g…``."""
    from cibwatch import schema

    rng = np.random.default_rng(seed)
    n_accounts = max(50, n_posts // 40)
    n_items = max(20, n_posts // 25)
    n_groups = max(1, n_accounts // 400)
    planted_per_group = 20 * 8  # 20 items, 8 accounts each
    n_background = n_posts - n_groups * planted_per_group
    account = rng.integers(0, n_accounts, n_background)
    is_repost = rng.random(n_background) < 0.7
    item = (n_items * rng.random(n_background) ** 2.5).astype(np.int64)  # heavy-tailed popularity
    t = T0 + rng.integers(0, 30 * 86_400, n_background)
    g_account, g_item, g_t = [], [], []
    for g in range(n_groups):
        for _k in range(20):
            start = T0 + int(rng.integers(0, 30 * 86_400))
            target = int(rng.integers(0, n_items))
            for j in range(8):
                g_account.append(f"g{g}_{j}")
                g_item.append(target)
                g_t.append(start + int(rng.integers(0, 30)))
    accounts = np.concatenate([np.char.add("u", account.astype(str)), np.array(g_account, dtype=str)])
    items = np.concatenate([item, np.array(g_item, dtype=np.int64)])
    times = np.concatenate([t, np.array(g_t, dtype=np.int64)]) * 1000
    reposts = np.concatenate([is_repost, np.ones(len(g_item), dtype=bool)])
    n = len(accounts)
    kind = np.where(reposts, "repost", "original")
    ref = np.where(reposts, np.char.add("t", items.astype(str)), None)
    columns = {
        "post_id": pa.array(np.char.add("p", np.arange(n).astype(str))),
        "account_id": pa.array(accounts),
        "created_at": pa.array(times, pa.int64()).cast(schema.TS),
        "kind": pa.array(kind),
        "ref_post_id": pa.array(ref, pa.string()),
        "text": pa.array(np.where(reposts, None, "hello world"), pa.string()),
        "platform": pa.array(np.full(n, "twitter")),
        "dataset": pa.array(np.full(n, "synthetic")),
        "reader": pa.array(np.full(n, "bench@1")),
        "source_file": pa.array(np.full(n, "synthetic")),
        "ingested_at": pa.array(np.full(n, T0 * 1000), pa.int64()).cast(schema.TS),
    }
    arrays = [columns.get(f.name, pa.nulls(n, f.type)).cast(f.type) for f in schema.POSTS]
    return pa.Table.from_arrays(arrays, schema=schema.POSTS)


def write_inputs(posts: pa.Table, work: Path) -> tuple[Path, Path]:
    """The same posts as a case and as the toolkit's CSV (message_id … urls)."""
    import polars as pl

    from cibwatch.store.case import Case

    case_dir = work / "case"
    with Case.create(case_dir) as case:
        case.write_part("posts", posts, "part-0")
    frame = pl.from_arrow(posts)
    csv = work / "qut.csv"
    frame.select(
        message_id=pl.col("post_id"),
        user_id=pl.col("account_id"),
        username=pl.col("account_id"),
        repost_id=pl.col("ref_post_id").fill_null(""),
        reply_id=pl.lit(""),
        message=pl.col("text").fill_null(""),
        timestamp=pl.col("created_at").dt.epoch("s"),
        urls=pl.lit(""),
    ).write_csv(csv)
    return case_dir, csv


def _child_detect(case_dir: str) -> None:
    from cibwatch.coord import detect
    from cibwatch.store.case import Case

    result = detect(Case.open(case_dir), traces=["repost"], window=WINDOW)
    flagged = set(result.accounts["account_id"].to_list())
    planted = {a for a in flagged if a.startswith("g")}
    print(
        json.dumps(
            {
                "flagged_accounts": len(flagged),
                "planted_flagged": len(planted),
                "tested_pairs": result.run["tested_pairs"],
                "capped_items": result.run["capped_items"],
            }
        )
    )


def _child_compat(case_dir: str, out: str) -> None:
    from cibwatch.coord.compat_qut import qut_networks
    from cibwatch.store.case import Case

    edges = qut_networks(Case.open(case_dir), ["co_retweet"], window=WINDOW, min_edge_weight=2)
    edges.drop("network").write_parquet(out)
    print(json.dumps({"edges": edges.height}))


def _toolkit_edges(db: Path) -> set[tuple[str, str, int]]:
    con = sqlite3.connect(db)
    rows = {
        (a, b, int(w)) for a, b, w in con.execute("SELECT user_1, user_2, weight FROM co_retweet_network")
    }
    con.close()
    return rows


def run_sizes(sizes: list[int], with_toolkit: bool = True) -> str:
    import polars as pl

    rows: list[list[object]] = []
    notes: list[str] = []
    toolkit_cli = shutil.which("compute_networks")
    if with_toolkit and toolkit_cli is None:
        notes.append("The QUT toolkit (`compute_networks`) is not installed: its columns are empty.")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="coord-bench-") as tmp:
            work = Path(tmp)
            posts = synthetic_posts(n)
            case_dir, csv = write_inputs(posts, work)
            me = [sys.executable, str(Path(__file__).resolve())]
            cib = run_measured([*me, "_detect", str(case_dir)])
            info = json.loads(cib.stdout.strip().splitlines()[-1])
            compat_out = work / "compat.parquet"
            compat = run_measured([*me, "_compat", str(case_dir), str(compat_out)])
            row: list[object] = [
                posts.num_rows,
                cib.seconds,
                cib.peak_rss_mb,
                f"{info['planted_flagged']}/{info['flagged_accounts']}",
                compat.seconds,
                compat.peak_rss_mb,
            ]
            if with_toolkit and toolkit_cli:
                db = work / "qut.db"
                pre = run_measured([toolkit_cli, str(db), "preprocess", "--format", "csv", str(csv)])
                comp = run_measured(
                    [
                        toolkit_cli,
                        str(db),
                        "compute",
                        "co_retweet",
                        "--time_window",
                        str(WINDOW),
                        "--min_edge_weight",
                        "2",
                        "--n_cpus",
                        "2",
                    ]
                )
                ours = {
                    (r["user_1"], r["user_2"], r["weight"])
                    for r in pl.read_parquet(compat_out).iter_rows(named=True)
                }
                same = "yes" if ours == _toolkit_edges(db) else "NO"
                total = pre.seconds + comp.seconds
                row += [
                    pre.seconds,
                    comp.seconds,
                    max(pre.peak_rss_mb, comp.peak_rss_mb),
                    same,
                    f"{total / cib.seconds:.1f}× / {total / compat.seconds:.1f}×",
                ]
            else:
                row += ["", "", "", "", ""]
            rows.append(row)
    headers = [
        "posts",
        "cibwatch detect s",
        "detect peak RSS MB",
        "planted/flagged accounts",
        "cibwatch compat s",
        "compat peak RSS MB",
        "toolkit preprocess s",
        "toolkit co_retweet s",
        "toolkit peak RSS MB",
        "compat = toolkit edges",
        "toolkit total / cibwatch (detect / compat)",
    ]
    lines = [
        f"Co-repost, window {WINDOW} s, toolkit min_edge_weight 2, on {machine()}.",
        "",
        "The machine is shared with other work: times are noisy, read them as orders of magnitude.",
        "cibwatch times exclude ingest (posts are written straight into the case); the toolkit's "
        "include its CSV preprocess as a separate column.",
        "",
        table(headers, rows),
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


@benchmark("coord", "Coordination: co-repost at growing sizes, cibwatch beside the QUT toolkit")
def run(smoke: bool) -> str:
    env_sizes = os.environ.get("CIBWATCH_COORD_SIZES")
    sizes = (
        SMOKE_SIZES if smoke else tuple(int(s) for s in env_sizes.split(",")) if env_sizes else DEFAULT_SIZES
    )
    return run_sizes(list(sizes))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_detect":
        _child_detect(sys.argv[2])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_compat":
        _child_compat(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--no-toolkit", action="store_true", help="cibwatch only")
    args = parser.parse_args()
    print(run_sizes(args.sizes, with_toolkit=not args.no_toolkit))


if __name__ == "__main__":
    main()
