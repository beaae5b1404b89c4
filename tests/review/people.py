"""The users tests sign in as: two reviewers, an admin, a viewer and op1's account holder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher

from cibwatch.review import users
from cibwatch.store.case import Case

PASSWORD = "correct horse battery"
# name -> (role, the appellant's account)
PEOPLE: dict[str, tuple[str, str | None]] = {
    "ana": ("reviewer", None),
    "ben": ("reviewer", None),
    "boss": ("admin", None),
    "vic": ("viewer", None),
    "jane": ("appellant", "op1"),
}


@contextmanager
def quick_hashing() -> Iterator[None]:
    """argon2 with tiny costs, so each test's users take milliseconds; verify reads them from the hash."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def add_people(case: Case) -> dict[str, str]:
    """Add ``PEOPLE`` with ``PASSWORD``; return each one's API token."""
    with quick_hashing():
        for name, (role, account) in PEOPLE.items():
            users.add_user(case, name, role, password=PASSWORD, account_id=account)
    return {name: users.new_api_token(case, name) for name in PEOPLE}
