"""Users, roles, names, passwords, tokens and sessions of a case; `cibwatch users …` through the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cibwatch.errors import AccessDenied, ConfigError, ReviewError
from cibwatch.review import appeal, decide, resolve_appeal, users
from cibwatch.store.case import Case
from tests.cli.runner import run_cli
from tests.review.people import PASSWORD, add_people, quick_hashing


@pytest.fixture
def people(case: Case) -> dict[str, str]:
    return add_people(case)


@pytest.mark.parametrize(
    ("name", "same_as"),
    [("Ana", "ana"), ("ANA ", "ana"), ("Ａｎａ", "ana"), ("ﬁona", "fiona"), ("STRASSE", "straße")],
)
def test_names_are_compared_normalized_and_casefolded(name: str, same_as: str) -> None:
    assert users.name_key(name) == users.name_key(same_as)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must not be blank"),
        ("   ", "must not be blank"),
        ("a\u200bna", "U+200B"),  # zero-width space: looks like "ana"
        ("\u200b", "U+200B"),
        ("ana\u202e", "U+202E"),  # right-to-left override
        ("a\nna", "U+000A"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_blank_invisible_and_long_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        users.name_key(name)


def test_a_user_is_one_name_whatever_its_case(case: Case, people: dict[str, str]) -> None:
    with quick_hashing(), pytest.raises(ConfigError, match="already exists as 'ana'"):
        users.add_user(case, "Ana", "viewer", password=PASSWORD)
    found = users.find_user(case, "ＡＮＡ")
    assert found is not None and found.name == "ana" and found.role == "reviewer"
    with pytest.raises(ConfigError, match="U\\+200B"):
        users.add_user(case, "a\u200bna", "viewer", password=PASSWORD)


@pytest.mark.parametrize(
    ("role", "account", "password", "message"),
    [
        ("chief", None, PASSWORD, "role must be one of viewer, reviewer, admin, appellant"),
        ("appellant", None, PASSWORD, "an appellant needs --account ID"),
        ("reviewer", "op1", PASSWORD, "only an appellant has one"),
        ("reviewer", None, "short", "at least 10 characters"),
        ("appellant", "no-such-account", PASSWORD, "account 'no-such-account' is not in case"),
    ],
)
def test_add_user_refuses_bad_roles_and_passwords(
    case: Case, role: str, account: str | None, password: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        users.add_user(case, "cy", role, password=password, account_id=account)


def test_passwords_are_stored_as_argon2id_hashes(case: Case) -> None:
    user = users.add_user(case, "cy", "viewer", password=PASSWORD)  # the real, slow hasher
    stored = case.con.execute("SELECT password_hash FROM users").fetchall()[0][0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert users.check_password(*users.password_hash_of(case, "CY"), PASSWORD) == user
    assert users.check_password(*users.password_hash_of(case, "cy"), PASSWORD + "!") is None
    assert users.check_password(*users.password_hash_of(case, "nobody"), PASSWORD) is None
    assert users.check_password(*users.password_hash_of(case, "a\u200bb"), PASSWORD) is None


def test_api_tokens_are_stored_hashed_and_replaced(case: Case, people: dict[str, str]) -> None:
    token = people["ana"]
    assert token.startswith("cw_") and len(token) > 40
    assert users.user_for_token(case, token) == users.find_user(case, "ana")
    stored = [r[0] for r in case.con.execute("SELECT token_hash FROM user_tokens").fetchall()]
    assert token not in stored and all(len(h) == 64 for h in stored)
    newer = users.new_api_token(case, "ana")
    assert users.user_for_token(case, token) is None  # the old one stopped working
    assert users.user_for_token(case, newer) is not None
    assert users.user_for_token(case, "cw_guessed") is None and users.user_for_token(case, "") is None


def test_sessions_expire_end_and_die_with_their_user(case: Case, people: dict[str, str]) -> None:
    ana = users.find_user(case, "ana")
    assert ana is not None
    session_id, session = users.new_session(case, ana)
    assert users.session_for(case, session_id) == session and session.csrf_token != session_id
    stored = case.con.execute("SELECT token_hash FROM user_tokens WHERE kind = 'session'").fetchall()
    assert session_id not in {r[0] for r in stored}
    users.end_session(case, session_id)
    assert users.session_for(case, session_id) is None
    expired, _ = users.new_session(case, ana, hours=-1)
    assert users.session_for(case, expired) is None
    live, _ = users.new_session(case, ana)
    users.disable_user(case, "ana")
    assert users.session_for(case, live) is None
    assert users.user_for_token(case, people["ana"]) is None
    assert users.check_password(*users.password_hash_of(case, "ana"), PASSWORD) is None


@pytest.mark.parametrize(
    ("name", "action", "account", "allowed"),
    [
        ("vic", "read", None, True),
        ("vic", "read_account", "op2", True),
        ("vic", "decide", None, False),
        ("vic", "appeal", "op1", False),
        ("ana", "decide", None, True),
        ("ana", "resolve", None, True),
        ("ana", "appeal", "op1", False),
        ("ana", "admin", None, False),
        ("boss", "admin", None, True),
        ("boss", "appeal", "op2", True),
        ("jane", "read_account", "op1", True),
        ("jane", "appeal", "op1", True),
        ("jane", "read_account", "op2", False),
        ("jane", "appeal", "op2", False),
        ("jane", "read", None, False),
        ("jane", "decide", None, False),
    ],
)  # fmt: skip
def test_roles(
    case: Case, people: dict[str, str], name: str, action: users.Action, account: str | None, allowed: bool
) -> None:
    user = users.find_user(case, name)
    assert user is not None and users.may(user, action, account) is allowed


def test_acting_user_refuses_unknown_disabled_and_wrong_roles(case: Case, people: dict[str, str]) -> None:
    assert users.acting_user(case, "Ben", "resolve").name == "ben"
    with pytest.raises(AccessDenied, match="'the-chief-reviewer' is not a user of case"):
        users.acting_user(case, "the-chief-reviewer", "decide")
    with pytest.raises(AccessDenied, match=r"user 'vic' \(viewer\) may not decide"):
        users.acting_user(case, "vic", "decide")
    users.disable_user(case, "ben")
    with pytest.raises(AccessDenied, match="user 'ben' is disabled"):
        users.acting_user(case, "ben", "resolve")


def test_an_appeal_is_resolved_by_another_user_after_normalization(case: Case) -> None:
    decide(case, "op1", "suspend", reviewer="ana", reason="core")
    appeal(case, "op1", statement="I am real", appellant="jane")
    for same in ("Ana", "ＡＮＡ", " ana "):
        with pytest.raises(ReviewError, match="another reviewer"):
            resolve_appeal(case, "op1", "upheld", reviewer=same, reason="mine")
    with pytest.raises(ReviewError, match="U\\+200B"):
        resolve_appeal(case, "op1", "upheld", reviewer="a\u200bna", reason="mine")
    assert resolve_appeal(case, "op1", "upheld", reviewer="ben", reason="r")["actor"] == "ben"


# -- the CLI -----------------------------------------------------------------------------------
def test_users_cli(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case.close()
    root = case.root
    monkeypatch.setattr("sys.stdin", _Stdin(PASSWORD + "\n"))
    with quick_hashing():
        code, out, _ = run_cli(
            capsys, "users", "add", "Ana", "--role", "admin", "--password-stdin", "--case", root
        )
        assert code == 0 and "Added admin 'Ana'." in out
        monkeypatch.setattr("sys.stdin", _Stdin(PASSWORD + "\n"))
        code, out, _ = run_cli(
            capsys, "users", "add", "jane", "--role", "appellant", "--account", "op1", "--password-stdin",
            "--case", root,
        )  # fmt: skip
        assert code == 0 and "Added appellant 'jane' for account op1." in out
        monkeypatch.setattr("sys.stdin", _Stdin("short\n"))
        code, _, err = run_cli(
            capsys, "users", "add", "cy", "--role", "viewer", "--password-stdin", "--case", root
        )
        assert code == 1 and "Error: a password has at least 10 characters" in err
    code, out, _ = run_cli(capsys, "users", "list", "--case", root, "--json")
    assert json.loads(out) == [
        {"name": "Ana", "role": "admin", "account_id": None, "active": True},
        {"name": "jane", "role": "appellant", "account_id": "op1", "active": True},
    ]
    code, out, _ = run_cli(capsys, "users", "token", "ana", "--case", root)
    token = out.strip()
    assert code == 0 and token.startswith("cw_") and len(out.splitlines()) == 1
    with Case.open(root) as c:
        assert users.user_for_token(c, token) is not None
    code, out, _ = run_cli(capsys, "users", "disable", "ANA", "--case", root)
    assert code == 0 and "Disabled 'Ana'" in out
    code, out, _ = run_cli(capsys, "users", "list", "--case", root)
    assert "disabled" in out and PASSWORD not in out and token not in out
    code, _, err = run_cli(capsys, "users", "token", "ana", "--case", root)
    assert code == 1 and "user 'Ana' is disabled" in err
    code, out, _ = run_cli(capsys, "users", "enable", "ana", "--case", root)
    assert code == 0 and "Enabled 'Ana'." in out
    with Case.open(root) as c:
        assert users.user_for_token(c, token) is None  # disabling revoked it for good
        ana = users.find_user(c, "ana")
        assert ana is not None and ana.active
        session_id, _ = users.new_session(c, ana)
    monkeypatch.setattr("sys.stdin", _Stdin("a new long password\n"))
    with quick_hashing():
        code, out, _ = run_cli(capsys, "users", "password", "ana", "--password-stdin", "--case", root)
    assert code == 0 and "New password set for 'Ana'" in out
    with Case.open(root) as c:
        assert users.session_for(c, session_id) is None
        assert users.check_password(*users.password_hash_of(c, "ana"), "a new long password") is not None
        assert users.check_password(*users.password_hash_of(c, "ana"), PASSWORD) is None
    code, _, _ = run_cli(capsys, "users", "disable", "ana", "--case", root)
    code, _, err = run_cli(capsys, "users", "disable", "nobody", "--case", root)
    assert code == 1 and "no user 'nobody' in case" in err
    code, _, err = run_cli(
        capsys,
        "review",
        "decide",
        "op1",
        "--action",
        "label",
        "--reviewer",
        "ana",
        "--reason",
        "r",
        "--case",
        root,
    )
    assert code == 1 and "Error: user 'Ana' is disabled" in err


def test_users_add_without_a_terminal_asks_for_password_stdin(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case.close()
    monkeypatch.setattr("sys.stdin", _Stdin(""))
    code, _, err = run_cli(capsys, "users", "add", "cy", "--role", "viewer", "--case", case.root)
    assert code == 1 and "pipe it in with --password-stdin" in err


class _Stdin:
    """A stdin that is not a terminal."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self._lines.pop(0) if self._lines else ""

    def isatty(self) -> bool:
        return False
