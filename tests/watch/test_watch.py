"""``watch`` end to end: killed mid-stream and restarted, nothing is lost or counted twice, and the
campaigns are those of one uninterrupted run; rotation, truncation, standard input; and the window's
flagged accounts equal batch ``coord`` on the same posts."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from cibwatch.coord import CoordParams, detect
from cibwatch.ingest import ingest
from cibwatch.store.case import Case, open_case
from cibwatch.watch import WatchParams, load_offsets, watch
from tests.watch.conftest import write

ROOT = Path(__file__).resolve().parents[2]
# Small batches: a 2-day stream takes a dozen; one detection at the end keeps runs comparable.
PARAMS = WatchParams(
    window=30 * 86400, batch_seconds=0.05, stop_when_idle=0, detect_every=10_000, max_batch_bytes=300_000
)


def run_watch(sources, case, params=PARAMS, **kw):
    alerts: list[str] = []
    batches = []
    report = watch(sources, case, params, alert=alerts.append, on_batch=batches.append, **kw)
    return report, batches, alerts


def snapshot(case_dir: Path) -> dict:
    with open_case(case_dir) as case:
        posts = case.read("posts")
        members = case.read("campaign_members").group_by("campaign_id").agg(pl.col("account_id").sort())
        coordinated = case.read("coord_accounts").filter(pl.col("status") == "coordinated")
        return {
            "posts": set(posts["post_id"]),
            "post_rows": posts.height,
            "campaigns": sorted(tuple(m) for m in members["account_id"].to_list()),
            "flagged": set(coordinated["account_id"]),
        }


def restart_and_compare(source: Path, case_dir: Path, stream: list, uninterrupted: dict) -> None:
    """Restart a killed watch: it reads exactly the lines not yet committed and ends as an
    uninterrupted run does."""
    before = committed_lines(case_dir)
    report, _, _ = run_watch([source], case_dir)
    assert report.units_read == len(stream) - before and report.reconciles
    after = snapshot(case_dir)
    assert after["posts"] == uninterrupted["posts"] and after["post_rows"] == len(after["posts"])
    assert after["campaigns"] == uninterrupted["campaigns"]


@pytest.fixture(scope="module")
def uninterrupted(stream, tmp_path_factory):
    folder = tmp_path_factory.mktemp("one")
    write(folder / "in" / "stream.jsonl", stream)
    report, _, alerts = run_watch([folder / "in" / "stream.jsonl"], folder / "case")
    assert report.reconciles and report.units_read == len(stream) and report.batches > 5
    return snapshot(folder / "case") | {
        "alerts": alerts,
        "case": folder / "case",
        "file": folder / "in" / "stream.jsonl",
    }


def test_an_uninterrupted_run_reads_every_line_once_and_finds_the_planted_campaigns(uninterrupted, stream):
    assert uninterrupted["post_rows"] == len(uninterrupted["posts"])  # no post twice
    assert uninterrupted["campaigns"] and uninterrupted["flagged"]
    assert len(uninterrupted["alerts"]) == len(uninterrupted["campaigns"])  # one "new" alert each
    offsets, _ = load_offsets(Case.open(uninterrupted["case"]))
    (offset,) = offsets.values()
    assert (offset.offset, offset.line) == (uninterrupted["file"].stat().st_size, len(stream) + 1)


def cli(*args: object, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    code = "import sys; from cibwatch.cli.main import main; main(sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})},
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        **kw,
    )


def watch_args(source: Path, case: Path) -> list[object]:
    return [
        "watch", source, "--case", case, "--window", "30d", "--batch-seconds", "0.05",
        "--stop-when-idle", "0", "--detect-every", "10000", "--max-batch-bytes", "300000",
    ]  # fmt: skip


def committed_lines(case_dir: Path) -> int:
    offsets, _ = load_offsets(Case.open(case_dir))
    return sum(o.line - 1 for o in offsets.values())


@pytest.mark.parametrize("step", ["watch:batch", "write:posts", "manifest", "publish", "published"])
def test_killed_at_each_commit_step_and_restarted_nothing_is_lost_or_read_twice(
    step, stream, uninterrupted, tmp_path
):
    source = tmp_path / "stream.jsonl"
    write(source, stream)
    proc = cli(*watch_args(source, tmp_path / "case"), env={"CIBWATCH_CRASH_AT": step})
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, "the crash point did not fire"
    restart_and_compare(source, tmp_path / "case", stream, uninterrupted)


def test_killed_while_the_stream_grows_and_restarted(stream, uninterrupted, tmp_path):
    """A real SIGKILL from outside, at no chosen step, while lines keep arriving."""
    source = tmp_path / "stream.jsonl"
    half = len(stream) // 2
    write(source, stream[:200])
    proc = cli(*watch_args(source, tmp_path / "case")[:-6], "--max-batch-bytes", "100000")  # no idle stop

    def grow() -> None:
        for k in range(200, half, 50):
            write(source, stream[k : min(k + 50, half)])
            threading.Event().wait(0.05)

    writer = threading.Thread(target=grow)
    writer.start()
    seen = 0
    for line in proc.stderr:  # batch lines, one per commit
        seen += line.startswith(b"batch ")
        if seen >= 3:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    writer.join()
    write(source, stream[half:])
    before = committed_lines(tmp_path / "case")
    assert 0 < before < len(stream)
    report, _, _ = run_watch([source], tmp_path / "case")
    assert report.units_read == len(stream) - before
    after = snapshot(tmp_path / "case")
    assert after["posts"] == uninterrupted["posts"] and after["post_rows"] == len(after["posts"])
    assert after["campaigns"] == uninterrupted["campaigns"]


def test_a_second_watch_on_the_same_case_is_refused(stream, tmp_path):
    from cibwatch.errors import CaseError
    from cibwatch.watch.run import _watch_lock

    case = Case.create(tmp_path / "case")
    with _watch_lock(case), pytest.raises(CaseError, match="another `cibwatch watch`"):
        run_watch([tmp_path / "none.jsonl"], tmp_path / "case")


def test_rotation_and_truncation_in_a_followed_folder(stream, uninterrupted, tmp_path):
    folder = tmp_path / "in"
    live = folder / "stream.jsonl"
    a, b, c = len(stream) // 3, len(stream) // 2, 2 * len(stream) // 3
    write(live, stream[:a])
    run_watch([folder], tmp_path / "case")
    os.rename(live, folder / "stream.jsonl.1")  # rotated: the writer finishes the old file
    write(folder / "stream.jsonl.1", stream[a:b])
    write(live, stream[b:c])
    second, _, _ = run_watch([folder], tmp_path / "case")
    assert second.units_read == c - a  # the rotated file's rest, and the new file, once each
    write(live, stream[c:], mode="wb")  # truncated and rewritten in place
    third, _, _ = run_watch([folder], tmp_path / "case")
    assert third.units_read == len(stream) - c
    after = snapshot(tmp_path / "case")
    assert after["posts"] == uninterrupted["posts"] and after["post_rows"] == len(after["posts"])
    with open_case(tmp_path / "case") as case:
        assert set(case.read("posts")["dataset"]) == {"in"}  # one dataset across rotations


def test_standard_input_is_spooled_into_the_case_and_ends_the_watch_at_its_end(
    stream, uninterrupted, tmp_path
):
    params = WatchParams(window=30 * 86400, batch_seconds=0.05, detect_every=10_000)  # no idle stop
    report, _, _ = run_watch(["-"], tmp_path / "case", params, stdin=io.BytesIO(b"".join(stream)))
    assert report.units_read == len(stream)
    assert snapshot(tmp_path / "case")["posts"] == uninterrupted["posts"]
    assert (tmp_path / "case" / "watch" / "stdin.jsonl").stat().st_size == sum(map(len, stream))


@pytest.mark.parametrize(("window_hours", "keep_coactions"), [(24 * 30, False), (30, False), (30, True)])
def test_the_windows_flagged_accounts_equal_batch_coord_on_the_windows_posts(
    window_hours, keep_coactions, stream, uninterrupted, tmp_path
):
    # keep_coactions: small batches, a detection after each, each pairing only the events new since
    # the last one.
    more = {"max_batch_bytes": 150_000, "detect_every": 1, "keep_coactions": True} if keep_coactions else {}
    params = WatchParams(window=window_hours * 3600.0, batch_seconds=0, stop_when_idle=0, **more)
    run_watch([uninterrupted["file"]], tmp_path / "live", params)
    # The batch side, on its own path: the whole stream ingested, the window cut with polars.
    ingest([uninterrupted["file"]], tmp_path / "all")
    whole = open_case(tmp_path / "all")
    posts = whole.read("posts")
    start = posts["created_at"].max() - timedelta(hours=window_hours)
    window = Case.create(tmp_path / "window")
    window.replace_table("posts", posts.filter(pl.col("created_at") >= start))
    window.replace_table("accounts", whole.read("accounts"))  # coord reads profiles (own sites)
    batch = detect(window, **{k: v for k, v in vars(CoordParams()).items() if k != "extra"})
    flagged = set(batch.accounts.filter(pl.col("status") == "coordinated")["account_id"])
    assert flagged and snapshot(tmp_path / "live")["flagged"] == flagged
    assert (tmp_path / "live" / "watch" / "coactions" / "current.json").exists() == keep_coactions


def test_the_restart_check_sees_a_batch_committed_without_its_offsets(stream, tmp_path):
    """Broken on purpose: rows committed but their offsets not (as if written in a second step
    that a crash skipped). The restart then reads those lines again, and the count says so."""
    from cibwatch.ingest import Source, get_reader, ingest_sources
    from cibwatch.watch import pending_range

    source = tmp_path / "stream.jsonl"
    write(source, stream)
    first = pending_range(source, None, max_bytes=300_000)
    plan = [(Source(source, "s", start=first.start, end=first.end), get_reader("twitter-v2"))]
    ingest_sources(Case.create(tmp_path / "case"), plan)  # no before_publish: no offsets
    before = committed_lines(tmp_path / "case")
    report, _, _ = run_watch([source], tmp_path / "case")
    assert before == 0 and report.units_read == len(stream)  # > len(stream) - lines already stored
    assert snapshot(tmp_path / "case")["post_rows"] == len(snapshot(tmp_path / "case")["posts"])


@pytest.mark.parametrize(
    "sample",
    [
        "bluesky/sample.jsonl",
        "mastodon/streaming.jsonl",
        "twitter-v1/stream_sample.jsonl",
        "twitter-v2/sample.jsonl",
    ],
)
def test_each_stream_format_followed_in_pieces_equals_one_ingest(sample, tmp_path):
    """Read as byte ranges of a growing file (line by line), every reader stores what one ingest
    of the whole file stores, and the quarantine keeps the file's own line numbers."""
    from tests.conftest import FIXTURES

    lines = (FIXTURES / sample).read_bytes().splitlines(keepends=True)
    source = tmp_path / "in" / "stream.jsonl"
    total = 0
    for line in lines:
        write(source, [line])
        report, _, _ = run_watch([source], tmp_path / "case")
        total += report.units_read
        assert report.reconciles
    assert total == sum(1 for line in lines if line.strip())
    ingest([source], tmp_path / "whole")
    with open_case(tmp_path / "case") as live, open_case(tmp_path / "whole") as whole:
        assert set(live.read("posts")["post_id"]) == set(whole.read("posts")["post_id"])
        assert sorted(live.read("quarantine")["line"].to_list()) == sorted(
            whole.read("quarantine")["line"].to_list()
        )


def test_a_followed_file_rotated_away_has_its_last_lines_read_where_it_went(stream, uninterrupted, tmp_path):
    """Given as a file (not its folder): the rotated file is found by its inode beside the new one."""
    live = tmp_path / "in" / "stream.jsonl"
    a, b = len(stream) // 3, 2 * len(stream) // 3
    write(live, stream[:a])
    run_watch([live], tmp_path / "case")
    os.rename(live, tmp_path / "in" / "stream.jsonl.1")
    write(tmp_path / "in" / "stream.jsonl.1", stream[a:b])  # written after our last look
    write(live, stream[b:])
    second, _, _ = run_watch([live], tmp_path / "case")
    assert second.units_read == len(stream) - a
    after = snapshot(tmp_path / "case")
    assert after["posts"] == uninterrupted["posts"] and after["post_rows"] == len(after["posts"])
    with open_case(tmp_path / "case") as case:
        assert set(case.read("posts")["dataset"]) == {"stream"}


def test_a_backlog_is_detected_every_n_batches_and_once_caught_up(stream, tmp_path):
    source = tmp_path / "stream.jsonl"
    write(source, stream)
    detections = []
    params = WatchParams(
        window=30 * 86400, batch_seconds=0, stop_when_idle=0, detect_every=4, max_batch_bytes=300_000
    )
    report = watch([source], tmp_path / "case", params, alert=lambda _: None, on_detect=detections.append)
    assert report.batches >= 6
    assert len(detections) == report.batches // 4 + (report.batches % 4 > 0)  # every 4th, and the last
    assert detections[-1].posts == len(snapshot(tmp_path / "case")["posts"])


def test_a_batch_that_does_not_reconcile_stops_the_watch(stream, tmp_path, monkeypatch):
    """Broken on purpose: one record fewer counted as read than went somewhere."""
    from cibwatch.errors import ReconciliationError
    from cibwatch.ingest.report import FileReport

    source = tmp_path / "stream.jsonl"
    write(source, stream)
    monkeypatch.setattr(FileReport, "imbalances", lambda self: ["1 record read, 2 stored"])
    with pytest.raises(
        ReconciliationError, match=r"batch 1 into .* does not reconcile \(.*1 record read, 2 stored"
    ):
        run_watch([source], tmp_path / "case")
    assert committed_lines(tmp_path / "case") > 0  # the batch and its offsets are in the case


def test_parts_are_merged_in_tiers_and_the_case_holds_the_same_rows(
    stream, uninterrupted, tmp_path, monkeypatch
):
    monkeypatch.setattr("cibwatch.watch.state.FANIN", 3)
    source = tmp_path / "stream.jsonl"
    write(source, stream)
    report, batches, _ = run_watch([source], tmp_path / "case")
    assert report.reconciles and report.units_read == len(stream)
    with open_case(tmp_path / "case") as case:
        parts = case.parts("posts")
        offsets, last_batch = load_offsets(case)
    assert len(batches) > 6 and len(parts) < len(batches) / 2  # merged, not one part per batch
    assert any("-merged-" in p.name for p in parts)
    assert last_batch == len(batches) and sum(o.line - 1 for o in offsets.values()) == len(stream)
    after = snapshot(tmp_path / "case")
    assert after["posts"] == uninterrupted["posts"] and after["post_rows"] == len(after["posts"])
    assert after["campaigns"] == uninterrupted["campaigns"]


@pytest.mark.parametrize("step", ["merge:written", "publish:removes"])  # steps only a merge passes
def test_killed_while_merging_parts_and_restarted_nothing_is_lost_or_read_twice(
    step, stream, uninterrupted, tmp_path, monkeypatch
):
    source = tmp_path / "stream.jsonl"
    write(source, stream)
    # The first merge comes after the third batch (FANIN 3).
    code = (
        "import sys; import cibwatch.watch.state as s; s.FANIN = 3; "
        "from cibwatch.cli.main import main; main(sys.argv[1:])"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CIBWATCH_CRASH_AT": step}
    args = [str(a) for a in watch_args(source, tmp_path / "case")]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL, "the crash point did not fire"
    assert committed_lines(tmp_path / "case") > 0  # killed after batches, in a merge
    monkeypatch.setattr("cibwatch.watch.state.FANIN", 3)
    restart_and_compare(source, tmp_path / "case", stream, uninterrupted)
