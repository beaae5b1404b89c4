"""Registry, measurement helpers and the assembly of docs/benchmarks.md.

Each benchmark module registers a function that returns a markdown section. Its output is
saved in benchmarks/results/<name>.md exactly as printed, and docs/benchmarks.md is assembled
from those files, so every number in the docs is one the suite printed.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
DOC = ROOT / "docs" / "benchmarks.md"


class Skip(Exception):
    """A benchmark cannot run here (data or peer tool missing); the message says why."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: Callable[[bool], str]  # smoke -> markdown body


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, title: str) -> Callable[[Callable[[bool], str]], Callable[[bool], str]]:
    def decorate(fn: Callable[[bool], str]) -> Callable[[bool], str]:
        REGISTRY[name] = Benchmark(name, title, fn)
        return fn

    return decorate


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise Skip(f"{path} is absent (benchmarks read ../shared/data beside the checkout)")
    return path


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str


def run_measured(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Measured:
    """Run a command in a child process; wall time and the child's peak RSS."""
    # RUSAGE_CHILDREN's ru_maxrss is the maximum over all children so far, so each command
    # runs under a fresh wrapper process whose only child it is.
    wrapper = [
        sys.executable,
        "-c",
        "import resource,subprocess,sys,json;"
        "p=subprocess.run(sys.argv[1:],capture_output=True,text=True);"
        "sys.stderr.write(p.stderr);"
        "print(json.dumps({'rc':p.returncode,'out':p.stdout,"
        "'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))",
        *args,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(wrapper, capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(args)} exited {result['rc']}:\n{proc.stderr[-3000:]}")
    return Measured(seconds, result["rss"] / 1024, result["out"])


def machine() -> str:
    def ver(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "absent"

    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pkgs = ", ".join(
        f"{p} {ver(p)}"
        for p in ("cibwatch", "polars", "duckdb", "pyarrow", "lightgbm", "coordination-network-toolkit")
    )
    cores = f"{os.cpu_count()} cores, {mem_gb:.0f} GiB"
    return f"{platform.machine()}, {cores}, Python {platform.python_version()}; {pkgs}"


def table(headers: list[str], rows: list[list[object]]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def ordered() -> list[str]:
    """Registered benchmarks in the report's order."""
    from benchmarks import suite

    return [n for n in suite.ORDER if n in REGISTRY] + [n for n in REGISTRY if n not in suite.ORDER]


def run(names: list[str], smoke: bool, write: bool) -> int:
    known = ordered()  # imports the suite, which fills the registry
    chosen = names or known
    unknown = [n for n in chosen if n not in REGISTRY]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    failed = 0
    for name in chosen:
        bench = REGISTRY[name]
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"== {name}: {bench.title}", flush=True)
        t0 = time.perf_counter()
        try:
            body = bench.run(smoke)
        except Skip as exc:
            body = f"_Skipped: {exc}_"
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failed += 1
            body = f"_Failed: {type(exc).__name__}: {exc}_"
        elapsed = time.perf_counter() - t0
        section = (
            f"## {bench.title}\n\n"
            f"Command: `python -m benchmarks run {name}{' --smoke' if smoke else ''}` · {stamp} · "
            f"{elapsed:.0f} s\n\n{body.strip()}\n"
        )
        print(section, flush=True)
        if write and not smoke:
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"{name}.md").write_text(section)
    if write and not smoke:
        assemble()
    return 1 if failed else 0


def assemble() -> None:
    """docs/benchmarks.md from the saved sections, in registry order."""
    parts = [
        "# Benchmarks\n",
        "Generated by `python -m benchmarks run` from `benchmarks/results/*.md`; do not edit by hand.\n",
        f"Machine: {machine()}.\n",
        "Real-data results come first; simulator results after.\n",
    ]
    for name in ordered():
        path = RESULTS / f"{name}.md"
        if path.exists():
            parts.append(path.read_text())
        else:
            parts.append(f"## {REGISTRY[name].title}\n\n_Not run yet: `python -m benchmarks run {name}`._\n")
    DOC.write_text("\n".join(parts))


def log_slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) on log(x): 1 is linear growth."""
    if len(xs) < 2:
        return None
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / den if den else None
