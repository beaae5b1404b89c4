"""Keyed pseudonyms: the same id and the same case key always give the same readable pseudonym.

A pseudonym is ``<kind>-<16 hex digits>``: the first 64 bits of HMAC-SHA256(key, kind + NUL + value).
64 bits keep it short enough to read aloud and compare by eye, while the chance that two of n
distinct ids share one is about n² / 2⁶⁵: 3 in 10⁸ for a million accounts, 3 in 10⁶ for ten
million (48 bits would give 0.18 for ten million). ``Pseudonyms`` still refuses a collision it
sees (``check_distinct``), so an export never merges two accounts silently. The prefix (``acct-``,
``post-``, ``user-``, ``item-``) and its hyphen make a pseudonym unlike any real id: X and
Mastodon ids and handles have no hyphen, numeric ids no letters, Bluesky handles a dot.

Without the key nobody can recompute a pseudonym from an id, so guessing ids (they are public)
does not reverse them; with it, the case's owner can. Hashing with a secret key is
pseudonymization, not anonymization (GDPR recital 26): keep the key in the case, never in an export.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from cibwatch.errors import CaseError
from cibwatch.store.secrets import secret

KEY_NAME = "pseudonym.key"
HEX_DIGITS = 16  # 64 bits: see the module docstring for the collision odds
KINDS = ("acct", "post", "user", "item")


def case_key(case_root: str | Path) -> bytes:
    """The case's pseudonymization key (32 random bytes), made and stored in ``keys/`` the first time."""
    return secret(case_root, KEY_NAME, lambda: os.urandom(32))


def key_id(key: bytes) -> str:
    """A public name for ``key``: a hash of it (never the key), to tell which key made an export.

    >>> key_id(b"0" * 32)
    'keyid-7e37c4a1441611ed'
    """
    return "keyid-" + hashlib.sha256(b"cibwatch pseudonym key id\x00" + key).hexdigest()[:HEX_DIGITS]


class Pseudonyms:
    """Pseudonyms under one key.

    >>> p = Pseudonyms(b"0" * 32)
    >>> p.account("1351683634792958806") == p.account("1351683634792958806")
    True
    >>> p.account("1351683634792958806")[:5], len(p.account("1351683634792958806"))
    ('acct-', 21)
    >>> p.account("42") != Pseudonyms(b"1" * 32).account("42")
    True
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise CaseError("the pseudonymization key is shorter than 16 bytes; it is damaged or not a key")
        self._key = key
        self.key_id = key_id(key)
        self._cached = lru_cache(maxsize=1 << 20)(self._make)

    def _make(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}-{digest[:HEX_DIGITS]}"

    def of(self, kind: str, value: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown pseudonym kind {kind!r}")
        return self._cached(kind, value)

    def account(self, account_id: str) -> str:
        """An account of the case, by its id."""
        return self.of("acct", account_id)

    def post(self, post_id: str) -> str:
        return self.of("post", post_id)

    def user(self, handle: str) -> str:
        """A handle of someone the case holds no account for (compared without case, as X does)."""
        return self.of("user", handle.lower())

    def item(self, value: str) -> str:
        """A co-acted item that could be checked against a guess (a text hash, a media hash)."""
        return self.of("item", value)


def check_distinct(mapping: dict[str, str], what: str) -> None:
    """Refuse two originals with one pseudonym (64 bits make it rare, not impossible)."""
    seen: dict[str, str] = {}
    for original, pseudonym in mapping.items():
        other = seen.setdefault(pseudonym, original)
        if other != original:
            raise CaseError(
                f"two {what} share the pseudonym {pseudonym}; the export would merge them. This is a "
                "64-bit hash collision: make a new key (move keys/pseudonym.key away) and export again."
            )
