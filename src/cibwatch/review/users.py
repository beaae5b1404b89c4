"""Who may use a case: users with a role, argon2 password hashes, API tokens and sign-in sessions.

Everything lives in the case's DuckDB file beside the review log, never in ``tables/``, so sharing or
exporting the tables never copies a credential. Only hashes are stored: passwords with argon2id
(slow, salted), tokens and session ids with sha256 (they are 256-bit random, so a fast hash is enough).

Roles (``may`` is the one place that says what each can do):

- ``viewer`` reads the case: queue, accounts, campaigns, report, audit log.
- ``reviewer`` reads, decides, and resolves appeals of decisions made by someone else.
- ``admin`` does everything a reviewer does, and records appeals for any account.
- ``appellant`` is an account holder: bound to one account id, it reads that account's case file
  and appeals its decision, nothing else.

Names are compared by ``name_key``: NFKC-normalized and casefolded, so ``Ana`` and ``ana`` (or a
full-width ``Ａｎａ``) are one user, and a name with a control or format character (a zero-width
space) is refused.

>>> add_user(case, "ana", "admin", password="correct horse battery")   # doctest: +SKIP
>>> token = new_api_token(case, "ana")                                 # doctest: +SKIP
>>> user_for_token(case, token).role                                   # doctest: +SKIP
'admin'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cibwatch.errors import AccessDenied, ConfigError
from cibwatch.store.case import Case

ROLES = ("viewer", "reviewer", "admin", "appellant")
Action = Literal["read", "read_account", "decide", "resolve", "appeal", "admin"]
MIN_PASSWORD = 10
MAX_NAME = 200
SESSION_HOURS = 12
TOKEN_PREFIX = "cw_"

_DDL = """
CREATE TABLE IF NOT EXISTS users (
    name VARCHAR NOT NULL,            -- as given; what the review log records
    name_key VARCHAR NOT NULL,        -- NFKC + casefold of name: unique, what is compared
    role VARCHAR NOT NULL,            -- viewer | reviewer | admin | appellant
    account_id VARCHAR,               -- the appellant's own account; null for other roles
    password_hash VARCHAR NOT NULL,   -- argon2id
    active BOOLEAN NOT NULL,
    created_at VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS user_tokens (
    token_hash VARCHAR NOT NULL,      -- sha256 of the token; the token itself is never stored
    name_key VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,            -- api | session
    csrf_token VARCHAR,               -- a session's CSRF token (not a credential on its own)
    created_at VARCHAR NOT NULL,
    expires_at VARCHAR                -- sessions only; API tokens last until replaced or disabled
);
"""
_hasher = PasswordHasher()
# Checked when the name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class User:
    name: str
    name_key: str
    role: str
    account_id: str | None
    active: bool


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its user and the CSRF token its forms carry."""

    user: User
    csrf_token: str
    expires_at: str


def name_key(name: str) -> str:
    """The form names are compared in: NFKC, casefold, trimmed. Refuses blank and invisible names.

    >>> name_key("Ａｎａ ") == name_key("ana")
    True
    """
    check_name((name or "").strip())
    return fold(name)


def fold(name: str) -> str:
    """NFKC, casefold and trim, dropping invisible characters: for names already in the log."""
    folded = unicodedata.normalize("NFKC", name or "").casefold()
    return "".join(c for c in folded if not unicodedata.category(c).startswith("C")).strip()


def check_name(name: str) -> str:
    """``name`` if it can name a person in the log: not blank, no control or format character."""
    if not name or not name.strip():
        raise ConfigError("a user name must not be blank")
    if len(name) > MAX_NAME:
        raise ConfigError(f"a user name has at most {MAX_NAME} characters. Got {len(name)} instead.")
    hidden = [c for c in name if unicodedata.category(c).startswith("C")]
    if hidden:
        codes = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        raise ConfigError(f"a user name must not hold control or invisible characters; {name!r} has {codes}")
    return name


def ensure_tables(case: Case) -> None:
    case.con.execute(_DDL)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    # Always with microseconds, so stored times compare correctly as text.
    return when.isoformat(timespec="microseconds")


def _row_user(row: tuple[object, ...]) -> User:
    name, key, role, account_id, active = row
    return User(str(name), str(key), str(role), None if account_id is None else str(account_id), bool(active))


def add_user(case: Case, name: str, role: str, *, password: str, account_id: str | None = None) -> User:
    """Register ``name`` with ``role``; an appellant names the one account it speaks for."""
    name = check_name(name.strip())
    key = name_key(name)
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}. Got {role!r} instead.")
    if (role == "appellant") != (account_id is not None):
        raise ConfigError(
            "an appellant needs --account ID (the account it may appeal for), and only an appellant has one"
        )
    _check_password_length(password)
    if account_id is not None and not _account_known(case, account_id):
        raise ConfigError(
            f"account {account_id!r} is not in case {case.root}; an appellant speaks for an account "
            "of the case (its id as `cibwatch review queue` shows it)"
        )
    ensure_tables(case)
    existing = find_user(case, name)
    if existing is not None:
        state = "" if existing.active else " (disabled)"
        raise ConfigError(f"user {name!r} already exists as {existing.name!r}{state}; pick another name")
    case.con.execute(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?, true, ?)",
        [name, key, role, account_id, _hasher.hash(password), _iso(_now())],
    )
    return User(name, key, role, account_id, True)


def _account_known(case: Case, account_id: str) -> bool:
    return bool(case.scalar("SELECT count(*) FROM accounts_current WHERE account_id = ?", [account_id]))


def find_user(case: Case, name: str) -> User | None:
    """The user ``name`` (compared by ``name_key``), active or not; None when there is none."""
    if not case.has_db_table("users"):
        return None
    rows = case.con.execute(
        "SELECT name, name_key, role, account_id, active FROM users WHERE name_key = ?", [name_key(name)]
    ).fetchall()
    return _row_user(rows[0]) if rows else None


def list_users(case: Case) -> list[User]:
    if not case.has_db_table("users"):
        return []
    rows = case.con.execute(
        "SELECT name, name_key, role, account_id, active FROM users ORDER BY name_key"
    ).fetchall()
    return [_row_user(r) for r in rows]


def has_admin(case: Case) -> bool:
    return any(u.active and u.role == "admin" for u in list_users(case))


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password has at least {MIN_PASSWORD} characters. Got {len(password)} instead.")


def set_password(case: Case, name: str, password: str) -> User:
    """Give ``name`` a new password; its open sessions end (its API token stays)."""
    user = _require_known(case, name)
    _check_password_length(password)
    case.con.execute(
        "UPDATE users SET password_hash = ? WHERE name_key = ?", [_hasher.hash(password), user.name_key]
    )
    case.con.execute("DELETE FROM user_tokens WHERE name_key = ? AND kind = 'session'", [user.name_key])
    return user


def enable_user(case: Case, name: str) -> User:
    """Let a disabled user sign in again with its password; it needs a new API token."""
    user = _require_known(case, name)
    case.con.execute("UPDATE users SET active = true WHERE name_key = ?", [user.name_key])
    return User(user.name, user.name_key, user.role, user.account_id, True)


def disable_user(case: Case, name: str) -> User:
    """Disable ``name``: its password, API token and sessions stop working at once."""
    user = _require_known(case, name)
    case.con.execute("UPDATE users SET active = false WHERE name_key = ?", [user.name_key])
    case.con.execute("DELETE FROM user_tokens WHERE name_key = ?", [user.name_key])
    return User(user.name, user.name_key, user.role, user.account_id, False)


def _require_known(case: Case, name: str) -> User:
    user = find_user(case, name)
    if user is None:
        raise ConfigError(
            f"no user {name!r} in case {case.root}; list them with `cibwatch users list --case {case.root}`"
        )
    return user


def acting_user(case: Case, name: str, action: Action, account_id: str | None = None) -> User:
    """The active user ``name``, allowed to do ``action``: how the CLI acts as someone.

    Raises ``AccessDenied`` for an unknown or disabled user or a role that may not do it.
    """
    user = find_user(case, name)
    if user is None:
        raise AccessDenied(
            f"{name!r} is not a user of case {case.root}; an admin adds one with "
            f"`cibwatch users add NAME --role reviewer --case {case.root}`"
        )
    if not user.active:
        raise AccessDenied(f"user {user.name!r} is disabled")
    authorize(user, action, account_id)
    return user


def may(user: User, action: Action, account_id: str | None = None) -> bool:
    """Whether ``user`` may do ``action`` (on ``account_id`` for ``read_account`` and ``appeal``)."""
    if not user.active:
        return False
    if user.role == "admin":
        return True
    if user.role == "appellant":
        return (
            action in ("read_account", "appeal") and account_id is not None and account_id == user.account_id
        )
    if action in ("read", "read_account"):
        return user.role in ("viewer", "reviewer")
    if action in ("decide", "resolve"):
        return user.role == "reviewer"
    return False


def authorize(user: User, action: Action, account_id: str | None = None) -> None:
    """Raise ``AccessDenied`` unless ``may(user, action, account_id)``."""
    if not may(user, action, account_id):
        what = action.replace("_", " ") + (f" account {account_id}" if account_id else "")
        raise AccessDenied(f"user {user.name!r} ({user.role}) may not {what}")


# -- passwords ---------------------------------------------------------------------------------
def password_hash_of(case: Case, name: str) -> tuple[User | None, str]:
    """The active user ``name`` and its password hash; (None, a dummy hash) when there is none.

    Split from ``check_password`` so a server can read under its case lock and run the slow
    argon2 check outside it.
    """
    try:
        key = name_key(name)
    except ConfigError:
        return None, _DUMMY_HASH
    if not case.has_db_table("users"):
        return None, _DUMMY_HASH
    rows = case.con.execute(
        "SELECT name, name_key, role, account_id, active, password_hash FROM users "
        "WHERE name_key = ? AND active",
        [key],
    ).fetchall()
    if not rows:
        return None, _DUMMY_HASH
    return _row_user(rows[0][:5]), str(rows[0][5])


def check_password(user: User | None, stored_hash: str, password: str) -> User | None:
    """``user`` when ``password`` matches ``stored_hash``; None otherwise (also for no user)."""
    try:
        _hasher.verify(stored_hash, password)  # returns True or raises
    except (VerificationError, InvalidHashError):
        return None
    return user


# -- tokens and sessions -----------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(case: Case, name: str) -> str:
    """A new API token for ``name``, replacing its previous one; shown once, stored as a hash."""
    user = _require_known(case, name)
    if not user.active:
        raise ConfigError(f"user {user.name!r} is disabled; a disabled user gets no token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    con = case.con
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM user_tokens WHERE name_key = ? AND kind = 'api'", [user.name_key])
        con.execute(
            "INSERT INTO user_tokens VALUES (?, ?, 'api', NULL, ?, NULL)",
            [_digest(token), user.name_key, _iso(_now())],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return token


def _token_user(case: Case, token: str, kind: str) -> tuple[User, str | None, str | None] | None:
    if not token or not case.has_db_table("users"):
        return None
    rows = case.con.execute(
        """SELECT u.name, u.name_key, u.role, u.account_id, u.active, t.csrf_token, t.expires_at
           FROM user_tokens t JOIN users u USING (name_key)
           WHERE t.token_hash = ? AND t.kind = ? AND u.active""",
        [_digest(token), kind],
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    return _row_user(row[:5]), row[5], row[6]


def user_for_token(case: Case, token: str) -> User | None:
    """The active user holding API token ``token``; None for an unknown, replaced or disabled one."""
    found = _token_user(case, token, "api")
    return found[0] if found else None


def new_session(case: Case, user: User, hours: float = SESSION_HOURS) -> tuple[str, Session]:
    """Sign ``user`` in: the session id for the cookie (stored only as a hash) and the session."""
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    now = _now()
    expires = _iso(now + timedelta(hours=hours))
    case.con.execute("DELETE FROM user_tokens WHERE kind = 'session' AND expires_at < ?", [_iso(now)])
    case.con.execute(
        "INSERT INTO user_tokens VALUES (?, ?, 'session', ?, ?, ?)",
        [_digest(session_id), user.name_key, csrf_token, _iso(now), expires],
    )
    return session_id, Session(user, csrf_token, expires)


def session_for(case: Case, session_id: str) -> Session | None:
    """The live session ``session_id`` names; None when unknown, expired, ended or its user disabled."""
    found = _token_user(case, session_id, "session")
    if found is None:
        return None
    user, csrf_token, expires_at = found
    if expires_at is None or csrf_token is None or expires_at <= _iso(_now()):
        return None
    return Session(user, csrf_token, expires_at)


def end_session(case: Case, session_id: str) -> None:
    if case.has_db_table("users"):
        case.con.execute(
            "DELETE FROM user_tokens WHERE token_hash = ? AND kind = 'session'", [_digest(session_id)]
        )


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a token a request carries with the one expected."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
