"""`cibwatch review …` and `cibwatch campaigns` end to end through the real CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cibwatch.review import signing
from cibwatch.store.case import Case
from tests.cli.runner import run_cli
from tests.review.people import add_people


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """Run the CLI; return (exit code, stdout, stderr) with whitespace collapsed for wrapped messages."""

    def _run(*args: str) -> tuple[int, str, str]:
        code, out, err = run_cli(capsys, *args)
        return code, " ".join(out.split()), err

    return _run


@pytest.fixture
def case_dir(case: Case) -> Path:
    add_people(case)
    case.close()  # the CLI opens the DuckDB file itself
    return case.root


def test_review_flow_end_to_end(run, case_dir: Path) -> None:
    code, out, _ = run("review", "queue", "--case", case_dir, "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["account_id"] == "op1" and rows[0]["kind"] == "new"

    code, out, _ = run(
        "review", "decide", "op1", "--action", "suspend", "--reviewer", "ana",
        "--reason", "core of camp-k1: 12 co-reposts within seconds", "--case", case_dir,
    )  # fmt: skip
    assert code == 0 and "Recorded decision 1: suspend op1 by ana" in out

    code, out, _ = run(
        "review", "appeal", "op1", "--statement", "I am a real person", "--appellant", "jane",
        "--case", case_dir,
    )  # fmt: skip
    assert code == 0 and "Recorded appeal 2 against decision 1" in out
    code, out, _ = run("review", "queue", "--case", case_dir, "--json")
    assert json.loads(out)[0] | {"priority": 0} == json.loads(out)[0] | {"priority": 0, "kind": "appeal"}

    code, out, _ = run("review", "show", "op1", "--case", case_dir)
    assert code == 0
    assert "review status: appealed (in force: suspend)" in out
    assert "Recommendation: enforce-eligible" in out and "(strong) coordination:amplification" in out
    assert "Evidence at decision: snapshot" in out and "Changed since: nothing" in out

    code, _, err = run(
        "review", "resolve-appeal", "op1", "--outcome", "overturned", "--reviewer", "ＡＮＡ", "--reason", "x",
        "--case", case_dir,
    )  # fmt: skip
    assert code == 1 and "Error: ana made the decision under appeal" in err
    code, out, _ = run(
        "review", "resolve-appeal", "op1", "--outcome", "overturned", "--reviewer", "ben",
        "--reason", "the reposts are of a popular news account", "--case", case_dir,
    )  # fmt: skip
    assert code == 0 and "overturned for op1" in out

    code, out, _ = run("review", "history", "op1", "--case", case_dir, "--json")
    assert [e["event"] for e in json.loads(out)] == ["decision", "appeal", "appeal_outcome"]
    code, out, _ = run("review", "metrics", "--case", case_dir)
    assert code == 0 and "overturn rate 100.0%" in out
    code, out, _ = run("review", "metrics", "--case", case_dir, "--json")
    assert json.loads(out)["overturn_rate"] == 1.0

    code, out, _ = run("review", "verify-log", "--case", case_dir)
    assert code == 0 and "Audit log OK: 3 entries, signed, head" in out


def test_verify_log_fails_after_a_tampered_row(run, case_dir: Path) -> None:
    assert run("review", "decide", "b1", "--action", "label", "--reviewer", "ana", "--reason", "spam",
               "--case", case_dir)[0] == 0  # fmt: skip
    assert run("review", "decide", "op2", "--action", "restrict", "--reviewer", "ana", "--reason", "network",
               "--case", case_dir)[0] == 0  # fmt: skip
    code, out, _ = run("review", "verify-log", "--case", case_dir, "--json")
    head = json.loads(out)["head"]
    with Case.open(case_dir) as c:
        c.con.execute("UPDATE review_log SET action = 'dismiss' WHERE seq = 1")
    code, _, err = run("review", "verify-log", "--case", case_dir)
    assert code == 3
    assert "Error: the audit log of" in err and "entry 1 (decision on b1) was edited" in err
    with Case.open(case_dir) as c:
        c.con.execute("UPDATE review_log SET action = 'label' WHERE seq = 1")  # restore…
        c.con.execute("DELETE FROM review_log WHERE seq = 2")  # …then cut the tail
    code, _, err = run("review", "verify-log", "--case", case_dir)
    assert code == 3 and "fewer than the 2 the case's checkpoint recorded" in err
    code, _, err = run("review", "verify-log", "--case", case_dir, "--expect-head", head)
    assert code == 3 and "cut off or rewritten" in err


def test_the_head_decide_prints_is_what_expect_head_takes(run, case_dir: Path) -> None:
    code, out, _ = run("review", "decide", "b1", "--action", "label", "--reviewer", "ana", "--reason", "spam",
                       "--case", case_dir)  # fmt: skip
    printed = re.search(r"log head ([0-9a-f]+)$", out)
    assert code == 0 and printed is not None and len(printed.group(1)) == 64
    code, out, _ = run("review", "verify-log", "--case", case_dir, "--expect-head", printed.group(1))
    assert code == 0 and f"head {printed.group(1)}" in out
    code, _, err = run("review", "verify-log", "--case", case_dir, "--expect-head", printed.group(1)[:12])
    assert code == 1 and "takes the full 64-hex head hash" in err  # a usage error, not a tamper alarm


def test_a_checkpoint_written_out_catches_a_replayed_case_checkpoint(
    run, case_dir: Path, tmp_path: Path
) -> None:
    for account in ("b1", "op2"):
        assert run("review", "decide", account, "--action", "label", "--reviewer", "ana", "--reason", "r",
                   "--case", case_dir)[0] == 0  # fmt: skip
    old_case_checkpoint = (case_dir / signing.CHECKPOINT_FILE).read_bytes()
    assert run("review", "decide", "op1", "--action", "label", "--reviewer", "ana", "--reason", "r",
               "--case", case_dir)[0] == 0  # fmt: skip
    kept = tmp_path / "kept.json"
    code, out, _ = run("review", "checkpoint", "--case", case_dir, "--out", kept)
    assert code == 0 and "Checkpoint of 3 entries, head" in out
    assert json.loads(kept.read_text())["count"] == 3
    code, out, _ = run("review", "verify-log", "--case", case_dir, "--checkpoint", kept)
    assert code == 0 and "extends the checkpoint given" in out
    # Cut the last entry and put back the case checkpoint of two entries: only the kept one sees it.
    with Case.open(case_dir) as c:
        c.con.execute("DELETE FROM review_log WHERE seq = 3")
    (case_dir / signing.CHECKPOINT_FILE).write_bytes(old_case_checkpoint)
    assert run("review", "verify-log", "--case", case_dir)[0] == 0
    code, _, err = run("review", "verify-log", "--case", case_dir, "--checkpoint", kept)
    assert code == 3 and "fewer than the 3 the checkpoint given recorded" in err
    # A checkpoint edited by hand fails its own signature.
    edited = json.loads(kept.read_text()) | {"count": 2, "seq": 2}
    kept.write_text(json.dumps(edited))
    code, _, err = run("review", "verify-log", "--case", case_dir, "--checkpoint", kept)
    assert code == 3 and "the checkpoint given's signature does not verify" in err
    code, _, err = run("review", "verify-log", "--case", case_dir, "--checkpoint", tmp_path / "none.json")
    assert code == 3 and "no such checkpoint file" in err


def test_checkpoint_refuses_a_log_that_fails(run, case_dir: Path, tmp_path: Path) -> None:
    assert run("review", "decide", "b1", "--action", "label", "--reviewer", "ana", "--reason", "spam",
               "--case", case_dir)[0] == 0  # fmt: skip
    with Case.open(case_dir) as c:
        c.con.execute("UPDATE review_log SET reason = 'other' WHERE seq = 1")
    code, _, err = run("review", "checkpoint", "--case", case_dir, "--out", tmp_path / "cp.json")
    assert code == 3 and "gets no checkpoint" in err and not (tmp_path / "cp.json").exists()


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(db: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_command_waits_for_a_case_another_process_holds(run, case_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBWATCH_LOCK_WAIT", "60")
    holder = _hold(case_dir / "case.duckdb", 1.5)  # lets go well within the wait
    try:
        code, out, err = run("review", "decide", "b1", "--action", "label", "--reviewer", "ana",
                             "--reason", "spam", "--case", case_dir)  # fmt: skip
    finally:
        holder.wait()
    assert "waiting for the case…" in err
    assert code == 0 and "Recorded decision 1" in out


YIELDING_SERVER = """
import sys, time, duckdb
from pathlib import Path
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
root = Path(sys.argv[1]).parent
while not list(root.glob(".waiting-*")):  # a server under load holds the case until asked
    time.sleep(0.05)
con.close()
"""


def test_a_waiting_command_asks_the_server_to_let_go(run, case_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBWATCH_LOCK_WAIT", "60")
    server = subprocess.Popen(
        [sys.executable, "-c", YIELDING_SERVER, str(case_dir / "case.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "held"
    try:
        code, out, err = run("review", "decide", "b1", "--action", "label", "--reviewer", "ana",
                             "--reason", "spam", "--case", case_dir)  # fmt: skip
    finally:
        server.kill()
        server.wait()
    assert "waiting for the case…" in err and code == 0 and "Recorded decision 1" in out
    assert not list(case_dir.glob(".waiting-*"))  # the marker goes once the command has the case


def test_a_case_held_past_the_wait_is_a_clear_error(run, case_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBWATCH_LOCK_WAIT", "0.5")
    holder = _hold(case_dir / "case.duckdb", 60)
    try:
        code, _, err = run("review", "queue", "--case", case_dir)
    finally:
        holder.kill()
        holder.wait()
    assert code == 1
    assert f"is in use by process {holder.pid}" in err and "CIBWATCH_LOCK_WAIT=SECONDS" in err
    assert "Traceback" not in err and "IOException" not in err
    assert not list(case_dir.glob(".waiting-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["review", "decide", "op1", "--action", "ban", "--reviewer", "ana", "--reason", "r"],
         "action must be one of dismiss, label, restrict, suspend. Got 'ban' instead."),
        (["review", "appeal", "op1", "--statement", "hi", "--appellant", "jane"],
         "op1 has no decision to appeal"),
        (["review", "show", "nobody"], "account 'nobody' is not in case"),
        (["review", "resolve-appeal", "op1", "--outcome", "upheld", "--reviewer", "ben", "--reason", "r"],
         "no open appeal"),
        # Acting in the log needs a registered, active user whose role may do it.
        (["review", "decide", "op1", "--action", "label", "--reviewer", "the-chief-reviewer",
          "--reason", "x"],
         "'the-chief-reviewer' is not a user of case"),
        (["review", "decide", "op1", "--action", "label", "--reviewer", "vic", "--reason", "r"],
         "user 'vic' (viewer) may not decide"),
        (["review", "decide", "op1", "--action", "label", "--reviewer", "jane", "--reason", "r"],
         "user 'jane' (appellant) may not decide"),
        (["review", "appeal", "op2", "--statement", "hi", "--appellant", "jane"],
         "user 'jane' (appellant) may not appeal account op2"),
        (["review", "appeal", "op1", "--statement", "hi", "--appellant", "ana"],
         "user 'ana' (reviewer) may not appeal account op1"),
        (["review", "resolve-appeal", "op1", "--outcome", "upheld", "--reviewer", "a\u200bna",
          "--reason", "x"],
         "a user name must not hold control or invisible characters"),
    ],
)  # fmt: skip
def test_errors_exit_non_zero_with_a_message(run, case_dir: Path, args: list[str], message: str) -> None:
    code, _, err = run(*args, "--case", case_dir)
    assert code == 1
    assert message in err


def test_not_a_case_and_missing_options(run, tmp_path: Path) -> None:
    code, _, err = run("review", "queue", "--case", tmp_path / "nowhere")
    assert code == 1 and "is not a cibwatch case" in err
    code, _, err = run("review", "decide", "op1", "--action", "label", "--case", tmp_path)
    assert code == 2 and "--reviewer" in err


def test_show_renders_a_never_reviewed_account(run, case_dir: Path) -> None:
    code, out, _ = run("review", "show", "x1", "--case", case_dir)
    assert code == 0
    assert "review status: pending" in out and "Recommendation: review" in out
    assert "coordination:content+link" in out and "Bot score: not scored" in out
    code, out, _ = run("review", "show", "x1", "--case", case_dir, "--json")
    assert json.loads(out)["case_file"]["recommendation"]["lines"] == ["coordination:content+link"]


def test_campaigns_command(run, case_dir: Path, tmp_path: Path) -> None:
    code, out, _ = run("campaigns", "--case", case_dir, "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["campaigns"] == 1 and summary["tiers"]["enforce-eligible"] == 6
    code, out, _ = run("campaigns", "--case", case_dir, "-q")
    assert code == 0 and "camp-k1" in out and "4/2/1" in out
    bad = tmp_path / "policy.toml"
    bad.write_text('[policy]\nname = "x"\nversion = "1"\n[tiers]\nenforce_min_lines = 1\n')
    code, _, err = run("campaigns", "--case", case_dir, "--policy", bad)
    assert code == 1 and "tiers.enforce_min_lines must be at least 2" in err


def test_queue_before_campaigns_says_what_to_run(run, tmp_path: Path) -> None:
    Case.create(tmp_path / "empty").close()
    code, _, err = run("review", "queue", "--case", tmp_path / "empty")
    assert code == 1 and "no recommendations yet; run `cibwatch campaigns" in err


def test_decisions_survive_rerunning_campaigns_through_the_cli(run, case_dir: Path) -> None:
    assert run("review", "decide", "op1", "--action", "suspend", "--reviewer", "ana", "--reason", "r",
               "--case", case_dir)[0] == 0  # fmt: skip
    before = run("review", "history", "op1", "--case", case_dir, "--json")[1]
    head = json.loads(run("review", "verify-log", "--case", case_dir, "--json")[1])["head"]
    assert run("campaigns", "--case", case_dir, "-q")[0] == 0
    assert run("campaigns", "--case", case_dir, "-q", "--json")[0] == 0
    assert run("review", "history", "op1", "--case", case_dir, "--json")[1] == before
    assert run("review", "verify-log", "--case", case_dir, "--expect-head", head)[0] == 0
    assert "op1" not in {
        r["account_id"] for r in json.loads(run("review", "queue", "--case", case_dir, "--json")[1])
    }


def test_a_bad_lock_wait_is_a_usage_error(run, case_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("CIBWATCH_LOCK_WAIT", "soon")
    code, _, err = run("review", "queue", "--case", case_dir)
    assert code == 1 and "CIBWATCH_LOCK_WAIT must be a number of seconds >= 0. Got 'soon' instead." in err
