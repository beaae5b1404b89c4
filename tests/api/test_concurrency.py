"""Requests side by side: reads do not wait for a review write, and concurrent writes keep one chain."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from cibwatch.api.access import CaseAccess
from cibwatch.review import log
from cibwatch.store.case import Case
from cibwatch.store.wait import WAITING_PREFIX

HANG_GUARD_S = 60  # only against a hang; no test asserts how long anything takes


def test_reads_go_on_while_a_review_write_holds_its_lock(client: TestClient, case_dir: Path) -> None:
    results: dict[str, int] = {}

    def read() -> None:
        results["queue"] = client.get("/api/review/queue").status_code
        results["summary"] = client.get("/api/summary").status_code

    with log.writing(Case(case_dir)):  # as a decision being recorded does
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(HANG_GUARD_S)
        assert not reader.is_alive(), "a read waited for the review write lock"
    assert results == {"queue": 200, "summary": 200}


def test_a_decision_waits_for_the_review_write_lock(client: TestClient, case_dir: Path) -> None:
    done: list[int] = []
    body = {"action": "label", "reason": "automated spam"}
    with log.writing(Case(case_dir)):
        writer = threading.Thread(
            target=lambda: done.append(client.post("/api/review/b1/decision", json=body).status_code)
        )
        writer.start()
        writer.join(0.5)
        assert not done  # still waiting: it must not read the head while another write is on
    writer.join(HANG_GUARD_S)
    assert done == [201]


def test_concurrent_decisions_and_reads_keep_one_signed_chain(client: TestClient) -> None:
    accounts = [
        q["account_id"] for q in client.get("/api/review/queue", params={"include_monitor": True}).json()
    ]
    assert len(accounts) >= 4

    def decide(account: str) -> int:
        body = {"action": "label", "reason": f"spam from {account}"}
        return client.post(f"/api/review/{account}/decision", json=body).status_code

    def read(_: int) -> int:
        return client.get("/").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        writes = pool.map(decide, accounts)
        reads = pool.map(read, range(len(accounts)))
        assert list(writes) == [201] * len(accounts) and list(reads) == [200] * len(accounts)
    check = client.get("/api/review/verify-log").json()
    assert check["ok"], check["problems"]
    assert check["entries"] == len(accounts) and check["checkpoint"]["count"] == len(accounts)


def test_two_requests_hold_the_case_at_once(case_dir: Path) -> None:
    access = CaseAccess(case_dir)
    counts: list[object] = []
    with access.open() as first:
        first.scalar("SELECT count(*) FROM posts")
        other = threading.Thread(target=lambda: _count_posts(access, counts))
        other.start()
        other.join(HANG_GUARD_S)
        assert not other.is_alive(), "the second request waited for the first to close the case"
    assert counts and counts[0] == first_count(case_dir)


def _count_posts(access: CaseAccess, out: list[object]) -> None:
    with access.open() as case:
        out.append(case.scalar("SELECT count(*) FROM posts"))


def first_count(case_dir: Path) -> object:
    with Case.open(case_dir) as case:
        return case.scalar("SELECT count(*) FROM posts")


def test_the_server_lets_a_waiting_command_go_first(case_dir: Path) -> None:
    access = CaseAccess(case_dir, busy_wait=HANG_GUARD_S)
    command = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    marker = case_dir / f"{WAITING_PREFIX}{command.pid}"  # as connect_waiting leaves it
    marker.touch()
    counts: list[object] = []
    try:
        request = threading.Thread(target=lambda: _count_posts(access, counts))
        request.start()
        request.join(0.5)
        assert not counts  # held back while the command waits
        marker.unlink()  # the command got the case (and let it go)
        request.join(HANG_GUARD_S)
        assert counts == [first_count(case_dir)]
    finally:
        command.communicate(b"")


def test_a_marker_of_a_dead_command_is_ignored_and_removed(case_dir: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    marker = case_dir / f"{WAITING_PREFIX}{dead.stdout.strip()}"
    marker.touch()
    counts: list[object] = []
    _count_posts(CaseAccess(case_dir, busy_wait=HANG_GUARD_S), counts)
    assert counts == [first_count(case_dir)] and not marker.exists()
