"""Replay of a simulated stream through ``cibwatch watch``: alert delay, operations alerted,
false alerts, and the watcher's CPU and memory over time.

    python -m benchmarks run watch_replay

The simulator's output (``cibwatch simulate``, planted operations and organic traps with their
truth) is cut into twarc2-stream lines in time order (``cibwatch.watch.replay``) and appended to a
growing file at a fixed rate while ``cibwatch watch`` follows it in a child process. The replay
compresses the simulated days into minutes: event time runs far faster than wall time, so the
window (event time) fills in minutes and a detection covers as many posts as a live day would.

- **Alert delay**: for each planted operation, from the moment the line of its second distinct
  member's first post was written (the first co-action becomes possible) to the moment the first
  alert naming at least two of its members appeared in the alerts file (polled every 0.2 s).
- **Operations alerted**: operations with such an alert. **False alerts**: alerts whose members
  are mostly not operation members (organic accounts and traps, which look coordinated on purpose).
- **CPU and RSS** of the watch process (from /proc), sampled each second.

``watch_mix`` (``python -m benchmarks run watch_mix``, or ``python -m benchmarks.watch_replay mix
RATE SECONDS [LOG]``) replays the IRA + organic corpus of ``coord_realdata`` instead: its posts as
twarc2-stream lines in time order, each written when its event time divided by one constant
factor has passed (the factor that makes RATE posts/s on average), for SECONDS, repeating the
corpus shifted by its span once it is spent; it reports the IRA accounts and categories alerted,
the alerts whose members are mostly organic, and CPU, RSS and Parquet parts every 30 s.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import ROOT, Skip, benchmark, table
from cibwatch.sim import simulate
from cibwatch.watch.replay import stream_lines, write_growing

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _truth(folder: Path) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Members of each planted operation, and each account's campaign (operations and traps)."""
    ops: dict[str, set[str]] = {}
    campaign_of: dict[str, str] = {}
    with open(folder / "truth_accounts.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["campaign_id"]:
                campaign_of[row["account_id"]] = row["campaign_id"]
            if row["campaign_id"].startswith("op"):
                ops.setdefault(row["campaign_id"], set()).add(row["account_id"])
    return ops, campaign_of


def replay(
    accounts: int,
    days: int,
    rate: float,
    window: str,
    work: Path,
    batch_seconds: float = 1.0,
    seconds: float | None = None,
    log: Path | None = None,
) -> dict[str, Any]:
    """The simulated stream at ``rate`` posts/s; with ``seconds``, for that long, passes after the
    first repeating it shifted by its span (alerts are scored in the first pass)."""
    sim = work / "sim"
    simulate("demo", out=sim, seed=3, accounts=accounts, days=days, workers=1)
    lines = stream_lines(sim / "posts")
    passes = int(seconds * rate / len(lines)) + 1 if seconds is not None else 1
    raw = run_watch(
        repeated_lines(lines, passes),
        work,
        window,
        batch_seconds,
        write=lambda it, path, on_chunk: write_growing(
            it, path, posts_per_second=rate, chunk=max(1, int(rate / 10)), on_chunk=on_chunk
        ),
        max_seconds=seconds,
        idle=30.0 if seconds is not None else 8.0,
        log=log,
    )
    return _scored(raw, sim, lines)


def _scored(raw: dict[str, Any], sim: Path, lines: list[tuple[str, bytes]]) -> dict[str, Any]:
    """``raw`` (a ``run_watch`` record) with the first pass's alerts scored against the truth."""
    ops, campaign_of = _truth(sim)
    # When each operation's first co-action became possible: its second member's first post.
    authors = [json.loads(line)["data"].get("author_id") for _, line in lines]
    first_seen: dict[str, dict[str, int]] = {op: {} for op in ops}
    for k, author in enumerate(authors):
        op = campaign_of.get(author, "")
        if op in first_seen and author not in first_seen[op]:
            first_seen[op][author] = k
    co_line = {op: sorted(seen.values())[1] for op, seen in first_seen.items() if len(seen) >= 2}
    written_at, alert_seen = raw["written_at"], raw["alert_seen"]
    first_pass_end = next((t for n, t in written_at if n >= len(lines)), float("inf"))

    def line_time(k: int) -> float:
        return next(t for n, t in written_at if n > k)

    delays: dict[str, float] = {}
    false_alerts = 0
    for seen, alert in alert_seen:
        if seen > first_pass_end + 30:  # later passes repeat the same accounts
            continue
        members = set(alert["members"])
        hits = {op for op, m in ops.items() if len(members & m) >= 2}
        in_ops = sum(1 for a in members if campaign_of.get(a, "").startswith("op"))
        if in_ops * 2 < len(members):
            false_alerts += 1
        for op in hits:
            if op in co_line and op not in delays:
                delays[op] = seen - line_time(co_line[op])
    return {
        **raw,
        "posts": len(lines),
        "posts_written": written_at[-1][0] if written_at else 0,
        "ops": len(ops),
        "alerted": delays,
        "alerts": sum(1 for seen, _ in alert_seen if seen <= first_pass_end + 30),
        "false_alerts": false_alerts,
    }


def from_log(work: Path, log: Path) -> dict[str, Any]:
    """A ``run_watch`` record rebuilt from its log and its work folder (a run still going, or cut
    short): samples, batches, detections, lines written each second, alerts by the time they
    were written (``at``, against the watch's start: the case's creation)."""
    samples, batches_at, batch_lines, detections, written_at = [], [], [], [], []
    for raw_line in log.read_text().splitlines():
        t_text, kind, *rest = raw_line.split("\t")
        t = float(t_text)
        if kind == "sample":
            cpu, rss, parts, written = float(rest[0]), float(rest[1]), int(rest[2]), int(rest[3])
            samples.append((t, cpu, rss, parts))
            written_at.append((written, t))
        elif rest and rest[0].startswith("batch ") and rest[0].endswith(" s)"):
            batches_at.append((t, float(rest[0][:-3].rsplit("(", 1)[1])))
            batch_lines.append((t, int(rest[0].split(" lines,")[0].rsplit(", ", 1)[1].replace(",", ""))))
        elif rest and rest[0].startswith("window ") and rest[0].endswith(" s)"):
            detections.append((t, float(rest[0][:-3].rsplit("(", 1)[1])))
    started = (work / "case" / "case.json").stat().st_mtime
    alert_seen = []
    if (work / "alerts.jsonl").exists():
        for text in (work / "alerts.jsonl").read_text().splitlines():
            alert = json.loads(text)
            alert_seen.append((datetime.fromisoformat(alert["at"]).timestamp() - started, alert))
    writing = next((t for n, t in written_at if n == written_at[-1][0]), 0.0) if written_at else 0.0
    return {
        "samples": samples,
        "batches_at": batches_at,
        "batch_lines": batch_lines,
        "detections": detections,
        "written_at": [(n, t) for n, t in written_at if n],
        "alert_seen": alert_seen,
        "wall": samples[-1][0] if samples else 0.0,
        "started": 0.0,
        "writing": writing,
    }


def repeated_lines(lines: list[tuple[str, bytes]], passes: int) -> Iterator[bytes]:
    """The stream's lines, then ``passes - 1`` copies shifted by its span (plus a minute), with
    ``~pass`` appended to post ids and the ids they reference: the same accounts go on posting."""
    from datetime import timedelta

    yield from (line for _, line in lines)
    if passes < 2 or not lines:
        return
    first, last = (datetime.fromisoformat(lines[k][0].replace("Z", "+00:00")) for k in (0, -1))
    span = last - first + timedelta(minutes=1)

    def shifted(value: str, k: int) -> str:
        at = datetime.fromisoformat(value.replace("Z", "+00:00")) + k * span
        return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    for k in range(1, passes):
        tag = f"~{k}"
        for _, line in lines:
            doc = orjson.loads(line)
            posts = [doc["data"], *doc["includes"].get("tweets", [])]
            for post in posts:
                post["id"] += tag
                if post.get("created_at"):
                    post["created_at"] = shifted(post["created_at"], k)
                for ref in post.get("referenced_tweets") or []:
                    ref["id"] += tag
                if post.get("conversation_id"):
                    post["conversation_id"] += tag
            yield orjson.dumps(doc) + b"\n"


def run_watch(
    lines: Iterable[bytes],
    work: Path,
    window: str,
    batch_seconds: float,
    *,
    write: Callable[[Iterable[bytes], Path, Callable[[int], None]], None],
    max_seconds: float | None = None,
    idle: float = 8.0,
    log: Path | None = None,
) -> dict[str, Any]:
    """Follow a growing file with ``cibwatch watch`` in a child process while ``write`` appends
    ``lines`` to it; sample the child's CPU and RSS each second and read its alerts as they come.
    With ``max_seconds`` the writing stops then (the watch works off what was written). ``log``:
    a file that gets each sample and each line of the watch's stderr as they come (a long run
    leaves its figures even if cut short)."""
    log_fh = open(log, "a", buffering=1) if log is not None else None  # noqa: SIM115
    source, alerts_file, case = work / "live" / "stream.jsonl", work / "alerts.jsonl", work / "case"
    source.parent.mkdir(parents=True)
    source.touch()
    code = "import sys; from cibwatch.cli.main import main; main(sys.argv[1:])"
    args = [
        "watch", str(source), "--case", str(case), "--window", window, "--batch-seconds", str(batch_seconds),
        "--stop-when-idle", str(idle), "--alerts", str(alerts_file), "--max-alerts-per-minute", "60",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE)
    written_at: list[tuple[int, float]] = []  # (lines written, wall time)
    started = time.monotonic()

    stop_writing = threading.Event()

    def until_stopped(it: Iterable[bytes]) -> Iterator[bytes]:
        for line in it:
            if stop_writing.is_set():
                return
            yield line

    def write_lines() -> None:
        write(until_stopped(lines), source, lambda n: written_at.append((n, time.monotonic())))

    writer = threading.Thread(target=write_lines)
    writer.start()
    # The watch's own lines: when each batch was committed, and each detection's run time.
    batches_at: list[tuple[float, float]] = []
    batch_lines: list[tuple[float, int]] = []
    detections: list[tuple[float, float]] = []
    tail: list[str] = []

    def follow_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            text = raw.decode(errors="replace")
            tail.append(text)
            del tail[:-200]
            if log_fh is not None:
                log_fh.write(f"{time.monotonic() - started:.1f}\tstderr\t{text}")
            at = time.monotonic() - started
            if text.startswith("batch ") and text.rstrip().endswith(" s)"):
                batches_at.append((at, float(text.rstrip()[:-3].rsplit("(", 1)[1])))
                batch_lines.append((at, int(text.split(" lines,")[0].rsplit(", ", 1)[1].replace(",", ""))))
            elif text.startswith("window ") and text.rstrip().endswith(" s)"):
                detections.append((at, float(text.rstrip()[:-3].rsplit("(", 1)[1])))

    reader = threading.Thread(target=follow_stderr)
    reader.start()
    samples: list[tuple[float, float, float, int]] = []  # (t, cpu s, rss MB, posts parts)
    alert_seen: list[tuple[float, dict[str, object]]] = []
    next_sample = started
    while proc.poll() is None:
        now = time.monotonic()
        if max_seconds is not None and now - started >= max_seconds:
            stop_writing.set()
        if now >= next_sample:
            try:
                parts = sum(1 for _ in (case / "tables" / "posts").glob("*.parquet"))
                samples.append((now - started, _cpu_seconds(proc.pid), _rss_mb(proc.pid), parts))
                if log_fh is not None:
                    n = written_at[-1][0] if written_at else 0
                    log_fh.write("{:.1f}\tsample\t{:.2f}\t{:.1f}\t{}\t{}\n".format(*samples[-1], n))
            except (FileNotFoundError, ProcessLookupError):
                break
            next_sample += 1.0
        if alerts_file.exists():
            got = alerts_file.read_text().splitlines()
            alert_seen += [(now, json.loads(x)) for x in got[len(alert_seen) :]]
        time.sleep(0.2)
    writer.join()
    reader.join()
    if log_fh is not None:
        log_fh.close()
    stderr = "".join(tail[-50:])
    if proc.wait() != 0:
        raise RuntimeError(f"watch exited {proc.returncode}: {stderr[-2000:]}")
    if alerts_file.exists():
        got = alerts_file.read_text().splitlines()
        alert_seen += [(time.monotonic(), json.loads(x)) for x in got[len(alert_seen) :]]

    return {
        "written_at": written_at,
        "alert_seen": alert_seen,
        "samples": samples,
        "batches_at": batches_at,
        "batch_lines": batch_lines,
        "detections": detections,
        "wall": time.monotonic() - started,
        "started": started,
        "writing": (written_at[-1][1] - started) if written_at else 0.0,
    }


@benchmark("watch_replay", "Live monitoring: a simulated stream replayed through `cibwatch watch`")
def run(smoke: bool) -> str:
    if smoke:
        return report(300, 2, 500.0)
    return report_hour(8000, 8, 2000.0, 3600.0, log=_bench_log("watch_replay"))


def _bench_log(name: str) -> Path | None:
    """``CIBWATCH_BENCH_LOG=DIR``: a long run's samples and watch lines go to DIR/NAME.log as they come."""
    folder = os.environ.get("CIBWATCH_BENCH_LOG")
    return Path(folder) / f"{name}.log" if folder else None


def report_hour(accounts: int, days: int, rate: float, seconds: float, log: Path | None = None) -> str:
    """The simulated stream repeated for ``seconds`` at ``rate``: alerts of the first pass, and the
    watcher's CPU, RSS and per-batch costs every 30 s with their trends."""
    with tempfile.TemporaryDirectory(prefix="watch-replay-") as tmp:
        r = replay(accounts, days, rate, "24h", Path(tmp), seconds=seconds, log=log)
    return hour_section(r, accounts, days, rate, seconds)


def hour_section(r: dict[str, Any], accounts: int, days: int, rate: float, seconds: float) -> str:
    delays = sorted(r["alerted"].values())
    median = delays[len(delays) // 2] if delays else float("nan")
    summary = table(
        ["posts written", "simulated posts (one pass)", "mean rate while writing (posts/s)", "wall (s)",
         "planted ops", "ops alerted (first pass)", "alert delay median / max (s)",
         "alerts in the first pass", "false alerts (mostly non-op members)"],
        [[r["posts_written"], r["posts"], round(r["posts_written"] / max(r["writing"], 1)), round(r["wall"]),
          r["ops"], len(delays), f"{median:.1f} / {delays[-1]:.1f}" if delays else "–", r["alerts"],
          r["false_alerts"]]],
    )  # fmt: skip
    usage, slopes = _usage_tables(r)
    return (
        f"`cibwatch simulate` demo scenario, {accounts:,} organic accounts, {days} days (seed 3), cut into "
        f"twarc2-stream lines and appended to a file at {rate:,.0f} posts/s for {seconds:,.0f} s; passes "
        "after the first repeat it shifted by its span, post ids suffixed (the same accounts go on "
        "posting). `cibwatch watch --window 24h --batch-seconds 1`. Alerts are scored in the first pass.\n\n"
        f"{summary}\n\n{_USAGE_INTRO}\n\n{usage}\n\n{_SLOPES_INTRO}\n\n{slopes}\n"
    )


def report(accounts: int, days: int, rate: float) -> str:
    with tempfile.TemporaryDirectory(prefix="watch-replay-") as tmp:
        r = replay(accounts, days, rate, "24h", Path(tmp))
    samples = r["samples"]
    assert isinstance(samples, list) and isinstance(r["alerted"], dict)
    delays = sorted(r["alerted"].values())
    # CPU and RSS by fifths of the replay: bounded, or growing with time?
    rows = []
    n = len(samples)
    end = 0.0  # each fifth takes the events after the previous one's end, up to its own
    for k in range(5):
        # Each fifth starts at the previous one's last sample, so CPU time between them is counted.
        part = samples[max(0, k * n // 5 - 1) : (k + 1) * n // 5] or samples[-1:]
        t0, cpu0 = part[0][:2]
        t1, cpu1 = part[-1][:2]
        if k == 4:
            t1 = max(t1, float(r["wall"]))  # type: ignore[arg-type]
        share = (cpu1 - cpu0) / (part[-1][0] - t0) if part[-1][0] > t0 else 0.0
        in_part = [d for t, d in r["detections"] if end < t <= t1]  # type: ignore[attr-defined]
        batches = [d for t, d in r["batches_at"] if end < t <= t1]  # type: ignore[attr-defined]
        end = t1
        rows.append(
            [
                f"{t0:.0f}–{t1:.0f} s",
                round(100 * share),
                max(s[2] for s in part),
                len(batches),
                round(sum(batches) / len(batches), 2) if batches else "–",
                len(in_part),
                round(sum(in_part) / len(in_part), 1) if in_part else "–",
            ]
        )
    median = delays[len(delays) // 2] if delays else float("nan")
    summary = table(
        ["posts replayed", "rate (posts/s)", "wall (s)", "planted ops", "ops alerted",
         "alert delay median (s)", "alert delay max (s)", "alerts", "false alerts (mostly non-op members)"],
        [[r["posts"], rate, round(r["wall"], 1), r["ops"], len(delays), round(median, 1),
          round(delays[-1], 1) if delays else "–", r["alerts"], r["false_alerts"]]],
    )  # fmt: skip
    alerted = sorted(r["alerted"].items())
    per_op = table(["operation", "alert delay (s)"], [[op, round(d, 1)] for op, d in alerted])
    usage = table(
        [
            "replay time",
            "CPU (% of one core)",
            "peak RSS (MB)",
            "batches",
            "mean batch commit (s)",
            "detections",
            "mean detection (s)",
        ],
        rows,
    )
    return (
        f"`cibwatch simulate` demo scenario, {accounts:,} organic accounts, {days} days (seed 3), cut into "
        f"twarc2-stream lines and appended to a file at {rate:,.0f} posts/s; `cibwatch watch --window 24h "
        "--batch-seconds 1`. A short replay (minutes, not the issue's hour at 2,000 posts/s: two cores "
        "shared with other work); the simulated days pass in minutes, so the 24 h window fills.\n\n"
        f"{summary}\n\n{per_op}\n\nThe watcher's CPU and memory by fifths of the replay, with the batches "
        f"committed and the detections run in each:\n\n{usage}\n"
    )


# -- the IRA + organic mix ------------------------------------------------------------------------

MIX_CASE = (
    Path(os.environ.get("CIBWATCH_BENCH_CACHE", "/tmp/cibwatch-bench/coord-realdata")) / "corpus" / "case"
)
_REF_TYPES = {"repost": "retweeted", "quote": "quoted", "reply": "replied_to"}


def mix_lines(case_dir: Path, passes: int = 1) -> Iterator[tuple[float, bytes]]:
    """(event seconds since the corpus's first post, twarc2-stream line) of the case's posts in time
    order. Each further pass repeats the corpus shifted by its span, with ``~pass`` appended to
    post ids (and the ids they reference), so an hour's replay keeps going on the same accounts."""
    import duckdb

    parts = sorted((case_dir / "tables" / "posts").glob("*.parquet"))
    if not parts:
        raise Skip(f"{case_dir} holds no posts: run `python -m benchmarks run coord_realdata` first")
    con = duckdb.connect(config={"memory_limit": "1GB", "threads": 1})
    files = ", ".join(f"'{p}'" for p in parts)
    t0, t1 = con.sql(
        f"SELECT min(epoch_ms(created_at)), max(epoch_ms(created_at)) FROM read_parquet([{files}])"
    ).fetchall()[0]
    span = (t1 - t0) / 1000 + 60.0
    query = (
        "SELECT post_id, account_id, epoch_ms(created_at) AS ms, kind, ref_post_id, ref_account_id, "
        f"text, lang, hashtags, urls, mentions FROM read_parquet([{files}]) ORDER BY created_at, post_id"
    )
    for k in range(passes):
        tag = f"~{k}" if k else ""
        for batch in con.sql(query).to_arrow_reader(20_000):
            for row in batch.to_pylist():
                ms = row["ms"] + int(k * span * 1000)
                post: dict[str, object] = {
                    "id": row["post_id"] + tag,
                    "author_id": row["account_id"],
                    "created_at": datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                    + "Z",
                    "text": row["text"] or "",
                    "entities": {
                        "hashtags": [{"tag": h} for h in row["hashtags"] or []],
                        "urls": [{"expanded_url": u} for u in row["urls"] or []],
                        "mentions": [{"username": m} for m in row["mentions"] or []],
                    },
                }
                if row["lang"]:
                    post["lang"] = row["lang"]
                includes: dict[str, object] = {}
                if row["ref_post_id"] and row["kind"] in _REF_TYPES:
                    ref = row["ref_post_id"] + tag
                    post["referenced_tweets"] = [{"type": _REF_TYPES[row["kind"]], "id": ref}]
                    if row["ref_account_id"]:
                        includes["tweets"] = [{"id": ref, "author_id": row["ref_account_id"]}]
                line = orjson.dumps({"data": post, "includes": includes}) + b"\n"
                yield (ms - t0) / 1000, line
    con.close()


def mix_span_and_posts(case_dir: Path) -> tuple[float, int]:
    import duckdb

    files = ", ".join(f"'{p}'" for p in sorted((case_dir / "tables" / "posts").glob("*.parquet")))
    t0, t1, n = duckdb.sql(
        f"SELECT min(epoch_ms(created_at)), max(epoch_ms(created_at)), count(*) FROM read_parquet([{files}])"
    ).fetchall()[0]
    return (t1 - t0) / 1000 + 60.0, int(n)


def write_timed(
    lines: Iterable[tuple[float, bytes]], path: Path, factor: float, on_chunk: Callable[[int], None]
) -> None:
    """Append each line when its event time, divided by ``factor``, has passed on the wall clock
    (one constant compression: the stream's bursts and lulls keep their shape)."""
    started = time.monotonic()
    written = 0
    batch: list[bytes] = []
    with open(path, "ab") as fh:
        for event_s, line in lines:
            due = event_s / factor - (time.monotonic() - started)
            if due > 0 and batch:
                fh.write(b"".join(batch))
                fh.flush()
                written += len(batch)
                batch.clear()
                on_chunk(written)
                due = event_s / factor - (time.monotonic() - started)
            if due > 0.05:
                time.sleep(due)
            batch.append(line)
            if len(batch) >= 2000:
                fh.write(b"".join(batch))
                fh.flush()
                written += len(batch)
                batch.clear()
                on_chunk(written)
        if batch:
            fh.write(b"".join(batch))
            fh.flush()
            on_chunk(written + len(batch))


def replay_mix(
    rate: float, seconds: float, work: Path, window: str = "24h", log: Path | None = None
) -> dict[str, Any]:
    """The IRA + organic corpus replayed at ``rate`` posts/s on average, for ``seconds`` (passes
    repeat the corpus, shifted, once it is spent)."""
    truth_path = MIX_CASE.parent / "truth.csv"
    if not truth_path.exists():
        raise Skip(f"{truth_path} is absent: run `python -m benchmarks run coord_realdata` first")
    span, n_posts = mix_span_and_posts(MIX_CASE)
    factor = span / (n_posts / rate)  # event seconds per wall second
    passes = int(seconds * rate / n_posts) + 1
    io_category: dict[str, str] = {}
    with open(truth_path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["group"] == "io":
                io_category[row["account_id"]] = row.get("category") or "io"
    first_line: dict[str, int] = {}  # IRA account -> index of its first line (first pass)
    counted = 0

    def lines() -> Iterator[tuple[float, bytes]]:
        nonlocal counted
        for event_s, line in mix_lines(MIX_CASE, passes):
            if counted < n_posts:
                author = orjson.loads(line)["data"]["author_id"]
                if author in io_category and author not in first_line:
                    first_line[author] = counted
            counted += 1
            yield event_s, line

    raw = run_watch(
        (line for line in lines()),  # type: ignore[misc]
        work,
        window,
        1.0,
        write=lambda it, path, on_chunk: write_timed(it, path, factor, on_chunk),  # type: ignore[arg-type]
        max_seconds=seconds,
        idle=30.0,
        log=log,
    )
    written_at = raw["written_at"]
    # The first pass's end on the wall clock: its alerts are the ones scored against the truth.
    first_pass_end = next((t for n, t in written_at if n >= n_posts), float("inf"))
    ira_alerted: set[str] = set()
    false_alerts = ira_alerts = 0
    category_delay: dict[str, float] = {}
    by_category: dict[str, list[int]] = {}
    for account, k in first_line.items():
        by_category.setdefault(io_category[account], []).append(k)
    co_line = {c: sorted(ks)[1] for c, ks in by_category.items() if len(ks) >= 2}

    def line_time(k: int) -> float:
        return next((t for n, t in written_at if n > k), float("inf"))

    for seen, alert in raw["alert_seen"]:
        if seen > first_pass_end + 30:
            continue
        members = [str(m) for m in alert["members"]]
        io = [m for m in members if m in io_category]
        if len(io) * 2 < len(members):
            false_alerts += 1
        else:
            ira_alerts += 1
        ira_alerted.update(io)
        cats: dict[str, int] = {}
        for m in io:
            cats[io_category[m]] = cats.get(io_category[m], 0) + 1
        for c, n in cats.items():
            if n >= 2 and c in co_line and c not in category_delay:
                category_delay[c] = seen - line_time(co_line[c])
    return {
        **raw,
        "posts_written": written_at[-1][0] if written_at else 0,
        "corpus_posts": n_posts,
        "span_days": span / 86400,
        "factor": factor,
        "rate": rate,
        "ira_accounts": len(io_category),
        "ira_accounts_posting": len(first_line),
        "ira_alerted": len(ira_alerted),
        "ira_alerts": ira_alerts,
        "false_alerts": false_alerts,
        "alerts_first_pass": ira_alerts + false_alerts,
        "alerts": len(raw["alert_seen"]),
        "category_delay": category_delay,
        "categories": sorted(by_category),
        "first_pass_end": first_pass_end,
    }


_USAGE_INTRO = (
    "The watcher every 30 s (CPU share over the interval, RSS and posts Parquet parts at its end, "
    "batches and detections finished in it):"
)
_SLOPES_INTRO = (
    "Trends (least squares, per 10 minutes) over the run after its first 5 minutes (the first "
    "window filling) and over its second half:"
)


def _usage_tables(r: dict[str, Any], every: float = 30.0) -> tuple[str, str]:
    """The watcher's usage every ``every`` seconds, and the trends of its columns."""
    samples = r["samples"]
    rows = []
    last = samples[0] if samples else None
    buckets: dict[int, list[tuple[float, float, float, int]]] = {}
    for s in samples:
        buckets.setdefault(int(s[0] // every), []).append(s)
    cpu_points, rss_points, batch_points, detect_points = [], [], [], []
    per_line_points, cpu_line_points = [], []
    for b in sorted(buckets):
        part = buckets[b]
        t1, cpu1, rss1, parts1 = part[-1]
        t0, cpu0 = (last[0], last[1]) if last is not None and last[0] < part[0][0] else part[0][:2]
        share = 100 * (cpu1 - cpu0) / (t1 - t0) if t1 > t0 else 0.0
        last = part[-1]
        lo, hi = b * every, (b + 1) * every
        batches = [d for t, d in r["batches_at"] if lo < t <= hi]
        lines = sum(n for t, n in r["batch_lines"] if lo < t <= hi)
        detections = [d for t, d in r["detections"] if lo < t <= hi]
        cpu_points.append((t1, share))
        rss_points.append((t1, rss1))
        if batches:
            batch_points.append((t1, sum(batches) / len(batches)))
        if detections:
            detect_points.append((t1, sum(detections) / len(detections)))
        written = max((n for n, t in r["written_at"] if t - r["started"] <= hi), default=0)
        rows.append([
            f"{lo:.0f}–{hi:.0f}", f"{written / 1e6:.2f}", round(share), round(rss1), parts1, len(batches),
            round(sum(batches) / len(batches), 2) if batches else "–",
            round(1000 * sum(batches) / lines, 2) if lines else "–",
            round(1000 * (cpu1 - cpu0) / lines, 3) if lines else "–", len(detections),
            round(sum(detections) / len(detections), 1) if detections else "–",
        ])  # fmt: skip
        if lines:
            per_line_points.append((t1, 1000 * sum(batches) / lines))
            cpu_line_points.append((t1, 1000 * (cpu1 - cpu0) / lines))
    usage = table(
        ["wall (s)", "lines written (M)", "CPU (% of one core)", "RSS (MB)", "posts parts", "batches",
         "mean batch commit (s)", "batch s per 1,000 lines", "CPU s per 1,000 lines", "detections",
         "mean detection (s)"],
        rows,
    )  # fmt: skip

    def trend(points: list[tuple[float, float]], since: float) -> float:
        return _slope([p for p in points if p[0] >= since]) * 600

    series = [
        ("RSS (MB)", rss_points, 1),
        ("CPU (% of one core)", cpu_points, 1),
        ("mean batch commit (s)", batch_points, 3),
        ("batch s per 1,000 lines", per_line_points, 3),
        ("CPU s per 1,000 lines", cpu_line_points, 3),
        ("mean detection (s)", detect_points, 3),
    ]
    slopes = table(
        ["per 10 min", "after 5 min", "second half"],
        [[name, round(trend(p, 300.0), n), round(trend(p, r["wall"] / 2), n)] for name, p, n in series],
    )
    return usage, slopes


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y)."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / var if var else 0.0


@benchmark("watch_mix", "Live monitoring: the IRA + organic mix replayed through `cibwatch watch`")
def run_mix(smoke: bool) -> str:
    return report_mix(2000.0, 20.0 if smoke else 3600.0, log=None if smoke else _bench_log("watch_mix"))


def report_mix(rate: float, seconds: float, log: Path | None = None) -> str:
    with tempfile.TemporaryDirectory(prefix="watch-mix-") as tmp:
        r = replay_mix(rate, seconds, Path(tmp), log=log)
    delays = sorted(r["category_delay"].values())
    median = delays[len(delays) // 2] if delays else float("nan")
    summary = table(
        ["posts written", "corpus posts (one pass)", "mean rate while writing (posts/s)",
         "compression (event s per wall s)", "wall (s)", "IRA accounts posting / named in alerts",
         "IRA categories alerted",
         "category alert delay median / max (s)", "alerts in the first pass (IRA-majority / mostly organic)"],
        [[r["posts_written"], r["corpus_posts"], round(r["posts_written"] / max(r["writing"], 1)),
          round(r["factor"]), round(r["wall"]), f"{r['ira_accounts_posting']:,} / {r['ira_alerted']:,}",
          f"{len(delays)} of {len(r['categories'])}",
          f"{median:.1f} / {delays[-1]:.1f}" if delays else "–",
          f"{r['alerts_first_pass']} ({r['ira_alerts']} / {r['false_alerts']})"]],
    )  # fmt: skip
    per_cat = table(
        ["IRA category", "alert delay (s)"],
        [
            [c, round(r["category_delay"][c], 1) if c in r["category_delay"] else "not alerted"]
            for c in r["categories"]
        ],
    )
    usage, slopes = _usage_tables(r)
    return (
        f"The IRA + organic corpus of `coord_realdata` ({r['corpus_posts']:,} posts over "
        f"{r['span_days']:.0f} days: "
        "ira-538 posts among twitter15-16 and cresci-2015 genuine accounts) written as twarc2-stream lines "
        f"in time order, each when its event time divided by {r['factor']:,.0f} had passed (one constant "
        f"compression, {rate:,.0f} posts/s on average), for {seconds:,.0f} s; passes after the first repeat "
        "the corpus shifted by its span, post ids suffixed. `cibwatch watch --window 24h --batch-seconds 1`. "
        "IRA accounts are the truth's `io` group; an alert is IRA-majority when at least half its members "
        "are IRA accounts, else mostly organic (a false alert). Category delay: from the line of the "
        "category's second IRA account's first post to the first alert naming two of its accounts. "
        "Alerts are scored in the first pass only.\n\n"
        f"{summary}\n\n{per_cat}\n\n{_USAGE_INTRO}\n\n{usage}\n\n{_SLOPES_INTRO}\n\n{slopes}\n"
    )


if __name__ == "__main__":
    # python -m benchmarks.watch_replay ACCOUNTS DAYS RATE  (a longer simulated replay)
    # python -m benchmarks.watch_replay mix RATE SECONDS [LOG]  (the IRA + organic mix)
    if sys.argv[1] == "mix":
        log = Path(sys.argv[4]) if len(sys.argv) > 4 else None
        print(report_mix(float(sys.argv[2]), float(sys.argv[3]), log=log), flush=True)
    elif sys.argv[1] == "hour-log":  # hour-log WORK LOG ACCOUNTS DAYS RATE SECONDS (a run cut short)
        work, log = Path(sys.argv[2]), Path(sys.argv[3])
        args = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
        lines = stream_lines(work / "sim" / "posts")
        print(hour_section(_scored(from_log(work, log), work / "sim", lines), *args), flush=True)
    elif sys.argv[1] == "hour":  # hour ACCOUNTS DAYS RATE SECONDS [LOG]
        log = Path(sys.argv[6]) if len(sys.argv) > 6 else None
        args = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        print(report_hour(*args, log=log), flush=True)
    else:
        print(report(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
