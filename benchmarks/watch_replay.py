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
from pathlib import Path

from benchmarks.harness import ROOT, benchmark, table
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
    accounts: int, days: int, rate: float, window: str, work: Path, batch_seconds: float = 1.0
) -> dict[str, object]:
    sim = work / "sim"
    simulate("demo", out=sim, seed=3, accounts=accounts, days=days, workers=1)
    lines = stream_lines(sim / "posts")
    ops, campaign_of = _truth(sim)
    # When each operation's first co-action became possible: its second member's first post.
    authors = [json.loads(line)["data"].get("author_id") for _, line in lines]
    first_seen: dict[str, dict[str, int]] = {op: {} for op in ops}
    for k, author in enumerate(authors):
        op = campaign_of.get(author, "")
        if op in first_seen and author not in first_seen[op]:
            first_seen[op][author] = k
    co_line = {op: sorted(seen.values())[1] for op, seen in first_seen.items() if len(seen) >= 2}

    source, alerts_file, case = work / "live" / "stream.jsonl", work / "alerts.jsonl", work / "case"
    source.parent.mkdir(parents=True)
    source.touch()
    code = "import sys; from cibwatch.cli.main import main; main(sys.argv[1:])"
    args = [
        "watch", str(source), "--case", str(case), "--window", window, "--batch-seconds", str(batch_seconds),
        "--stop-when-idle", "8", "--alerts", str(alerts_file), "--max-alerts-per-minute", "60",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE)
    written_at: list[tuple[int, float]] = []  # (lines written, wall time)
    started = time.monotonic()

    def write() -> None:
        write_growing(
            (line for _, line in lines),
            source,
            posts_per_second=rate,
            chunk=max(1, int(rate / 10)),
            on_chunk=lambda n: written_at.append((n, time.monotonic())),
        )

    writer = threading.Thread(target=write)
    writer.start()
    # The watch's own lines: when each batch was committed, and each detection's run time.
    batches_at: list[tuple[float, float]] = []
    detections: list[tuple[float, float]] = []
    tail: list[str] = []

    def follow_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            text = raw.decode(errors="replace")
            tail.append(text)
            at = time.monotonic() - started
            if text.startswith("batch ") and text.rstrip().endswith(" s)"):
                batches_at.append((at, float(text.rstrip()[:-3].rsplit("(", 1)[1])))
            elif text.startswith("window ") and text.rstrip().endswith(" s)"):
                detections.append((at, float(text.rstrip()[:-3].rsplit("(", 1)[1])))

    reader = threading.Thread(target=follow_stderr)
    reader.start()
    samples: list[tuple[float, float, float]] = []  # (t, cpu s, rss MB)
    alert_seen: list[tuple[float, dict[str, object]]] = []
    next_sample = started
    while proc.poll() is None:
        now = time.monotonic()
        if now >= next_sample:
            try:
                samples.append((now - started, _cpu_seconds(proc.pid), _rss_mb(proc.pid)))
            except (FileNotFoundError, ProcessLookupError):
                break
            next_sample += 1.0
        if alerts_file.exists():
            got = alerts_file.read_text().splitlines()
            alert_seen += [(now, json.loads(x)) for x in got[len(alert_seen) :]]
        time.sleep(0.2)
    writer.join()
    reader.join()
    stderr = "".join(tail[-50:])
    if proc.wait() != 0:
        raise RuntimeError(f"watch exited {proc.returncode}: {stderr[-2000:]}")
    if alerts_file.exists():
        got = alerts_file.read_text().splitlines()
        alert_seen += [(time.monotonic(), json.loads(x)) for x in got[len(alert_seen) :]]

    def line_time(k: int) -> float:
        return next(t for n, t in written_at if n > k)

    delays: dict[str, float] = {}
    false_alerts = 0
    for seen, alert in alert_seen:
        members = set(alert["members"])  # type: ignore[arg-type]
        hits = {op for op, m in ops.items() if len(members & m) >= 2}
        in_ops = sum(1 for a in members if campaign_of.get(a, "").startswith("op"))
        if in_ops * 2 < len(members):
            false_alerts += 1
        for op in hits:
            if op in co_line and op not in delays:
                delays[op] = seen - line_time(co_line[op])
    return {
        "posts": len(lines),
        "ops": len(ops),
        "alerted": delays,
        "alerts": len(alert_seen),
        "false_alerts": false_alerts,
        "samples": samples,
        "batches_at": batches_at,
        "detections": detections,
        "wall": time.monotonic() - started,
    }


@benchmark("watch_replay", "Live monitoring: a simulated stream replayed through `cibwatch watch`")
def run(smoke: bool) -> str:
    accounts, days, rate = (300, 2, 500.0) if smoke else (3000, 4, 200.0)
    return report(accounts, days, rate)


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
        t0, cpu0, _ = part[0]
        t1, cpu1, _ = part[-1]
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


if __name__ == "__main__":  # a longer replay: python -m benchmarks.watch_replay ACCOUNTS DAYS RATE
    print(report(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
