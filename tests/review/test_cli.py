"""`cibwatch review …` and `cibwatch campaigns` end to end through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cibwatch.cli.main import main
from cibwatch.store.case import Case
from tests.review.people import add_people


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """Run the CLI; return (exit code, stdout, stderr) with whitespace collapsed for wrapped messages."""

    def _run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, " ".join(out.split()), " ".join(err.split())

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
    assert code == 0 and "Audit log OK: 3 entries, head" in out


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
    assert run("review", "verify-log", "--case", case_dir)[0] == 0
    code, _, err = run("review", "verify-log", "--case", case_dir, "--expect-head", head)
    assert code == 3 and "cut off or rewritten" in err


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
