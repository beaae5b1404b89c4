"""The review service under load: 8 clients for 30 s on loopback, the CLI deciding meanwhile.

A demo case is served by ``cibwatch serve`` in its own process. Four clients read
(``GET /api/accounts``, the account JSON of a queued account), four record decisions
(``POST /api/review/{id}/decision``), each with its own API token, as fast as the server answers.
While they run, ``cibwatch review decide`` records a decision from the command line, which must
wait for the server's writes rather than fail. Afterwards the whole log must verify.

Bounded and local only: the server binds 127.0.0.1 and the clients stop after ``DURATION_S``.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.harness import benchmark, table

CLIENTS = 8
DURATION_S = 30.0
SMOKE_DURATION_S = 3.0
ACTIONS = ("label", "restrict", "suspend", "dismiss")


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "cibwatch.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cibwatch {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, token: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"cibwatch serve exited with {server.returncode} before answering")
        try:
            if httpx.get(f"{base}/api/summary", headers=_auth(token), timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"cibwatch serve did not answer within {timeout:.0f} s")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _client(
    base: str, token: str, stop: float, tally: Tally, send: Callable[[httpx.Client, int], int], ok: int
) -> None:
    """Send request ``n`` (``send(client, n)`` returns its status) until ``stop``, timing each."""
    with httpx.Client(base_url=base, headers=_auth(token), timeout=30) as client:
        for n in itertools.count():
            if time.monotonic() >= stop:
                return
            t0 = time.perf_counter()
            try:
                status = send(client, n)
            except httpx.HTTPError as exc:
                tally.error(type(exc).__name__)
                continue
            tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if status != ok:
                tally.error(f"HTTP {status}")


def _reads(accounts: list[str]) -> Callable[[httpx.Client, int], int]:
    def send(client: httpx.Client, n: int) -> int:
        path = "/api/accounts?limit=50" if n % 2 == 0 else f"/api/accounts/{accounts[n % len(accounts)]}"
        return client.get(path).status_code

    return send


def _decisions(accounts: list[str], offset: int) -> Callable[[httpx.Client, int], int]:
    def send(client: httpx.Client, n: int) -> int:
        n += offset
        body = {"action": ACTIONS[n % len(ACTIONS)], "reason": f"load test decision {n}"}
        return client.post(f"/api/review/{accounts[n % len(accounts)]}/decision", json=body).status_code

    return send


@benchmark("serve_load", "The review service under load: 8 clients for 30 s, the CLI deciding meanwhile")
def run(smoke: bool) -> str:
    duration = SMOKE_DURATION_S if smoke else DURATION_S
    with tempfile.TemporaryDirectory(prefix="cibwatch-load-") as tmp:
        work = Path(tmp)
        _cli("scan", "--demo", "--out", str(work / "demo"), "--quiet")
        case = str(work / "demo" / "case")
        tokens = []
        for i in range(CLIENTS):
            name = f"load-{i}"
            _cli("users", "add", name, "--role", "reviewer", "--password-stdin", "--case", case,
                 stdin="load-test-password\n")  # fmt: skip
            tokens.append(_cli("users", "token", name, "--case", case).strip())
        _cli("users", "add", "cli-reviewer", "--role", "reviewer", "--password-stdin", "--case", case,
             stdin="load-test-password\n")  # fmt: skip
        queue = json.loads(_cli("review", "queue", "--case", case, "--json", "--limit", "200"))
        accounts = [row["account_id"] for row in queue]
        if len(accounts) < 2:
            raise RuntimeError("the demo case has fewer than two queued accounts")
        cli_account, accounts = accounts[0], accounts[1:]

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "cibwatch.cli.main", "serve", "--case", case, "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_ready(base, tokens[0], server)
            reads, writes = Tally(), Tally()
            stop = time.monotonic() + duration
            threads = [
                threading.Thread(target=_client, args=(base, tokens[i], stop, reads, _reads(accounts), 200))
                for i in range(CLIENTS // 2)
            ] + [
                threading.Thread(
                    target=_client, args=(base, tokens[i], stop, writes, _decisions(accounts, i), 201)
                )
                for i in range(CLIENTS // 2, CLIENTS)
            ]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            # The CLI decides while the clients run: it must wait for the server's writes, not fail.
            time.sleep(min(2.0, duration / 3))
            cli_t0 = time.perf_counter()
            cli_env = {**os.environ, "CIBWATCH_LOCK_WAIT": "60"}
            try:
                reason = "decided from the CLI during the load test"
                _cli("review", "decide", cli_account, "--action", "label", "--reviewer", "cli-reviewer",
                     "--reason", reason, "--case", case, env=cli_env)  # fmt: skip
                cli_result = f"recorded in {time.perf_counter() - cli_t0:.2f} s"
            except RuntimeError as exc:
                cli_result = f"FAILED: {exc}"
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
        verify = json.loads(_cli("review", "verify-log", "--case", case, "--json"))

    rows = []
    for label, tally in (("read (GET accounts, account)", reads), ("decision (POST)", writes)):
        n = len(tally.latencies_ms)
        rows.append([
            label, f"{n:,}", f"{n / elapsed:,.1f}", str(sum(tally.errors.values())),
            ", ".join(f"{k}: {v}" for k, v in sorted(tally.errors.items())) or "—",
            f"{_percentile(tally.latencies_ms, 0.5):,.1f}", f"{_percentile(tally.latencies_ms, 0.99):,.1f}",
        ])  # fmt: skip
    lines = [
        f"{CLIENTS} clients ({CLIENTS // 2} reading, {CLIENTS // 2} deciding), each with its own API token, "
        f"for {duration:.0f} s against `cibwatch serve` on 127.0.0.1 over the demo case; 2-core machine, "
        "clients and server on the same cores.",
        "",
        table(
            ["requests", "count", "per second", "errors", "error kinds", "p50 ms", "p99 ms"],
            rows,
        ),
        "",
        f"- `cibwatch review decide` from the CLI while the clients ran: {cli_result}.",
        f"- After the run, `cibwatch review verify-log`: {'ok' if verify.get('ok') else 'FAILED'}, "
        f"{verify.get('entries', 0):,} entries"
        + ("" if verify.get("ok") else f"; problems: {verify.get('problems')}")
        + ".",
    ]
    return "\n".join(lines)
