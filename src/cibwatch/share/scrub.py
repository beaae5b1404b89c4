"""Rewrite text so that no account or post id, and no unflagged account's handle, survives in it.

``Scrubber.text`` applies, in order:

1. links to profiles and posts: ``x.com`` / ``twitter.com`` (``/handle``, ``/status/ID``),
   ``bsky.app/profile/HANDLE/post/KEY`` and any ``https://host/@user`` (Mastodon and kin);
2. ``@handle`` mentions;
3. every token that is a known id: account ids, post ids and co-acted items that were hashed
   (looked up at four granularities: whitespace-separated chunks, URL path parts, ids and words, so
   ``did:plc:…``, ``user@host`` and ``…/status/1234`` and ``near_text:<hash>`` are all found).

A handle of a flagged account stays (flagged accounts keep their names: they are the evidence); any
other becomes the pseudonym of its account (``acct-…``) or, for someone the case holds no account
for, ``user-…``. Ids always become pseudonyms, flagged or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cibwatch.share.pseudonyms import Pseudonyms

# Profile paths on X that are not handles.
X_RESERVED = frozenset(
    "i intent hashtag search home share explore settings messages notifications login signup tos "
    "privacy compose logout account download jobs".split()
)
_X_URL = re.compile(
    r"(?i)(?<![\w.])((?:https?://)?(?:www\.|mobile\.|m\.)?(?:twitter|x)\.com/)([A-Za-z0-9_]{1,50})"
    r"(/status(?:es)?/(\d+))?"
)
_BSKY_URL = re.compile(r"(?i)(?<![\w.])(bsky\.app/profile/)([^/\s?#\"'<>]+)(/post/([A-Za-z0-9]+))?")
_AT_PATH = re.compile(r"(?i)(https?://[A-Za-z0-9.\-]+(?::\d+)?/)@([A-Za-z0-9_]+)((?:@[A-Za-z0-9.\-]+)?)")
_MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{1,50})")

# Candidate tokens: chunks between spaces and separators, URL path parts, and words with : . @ -.
_TOKENS = (
    re.compile(r"[^\s(),;|\"'<>\[\]{}]+"),
    re.compile(r"[^\s(),;|\"'<>\[\]{}/?#&=]+"),
    re.compile(r"[\w:.@\-]+"),
    re.compile(r"\w+"),
)
_TRIM = ".,:;!?…-'\""


def tokens(text: str, *, words: bool = True) -> set[str]:
    """Every candidate token of ``text`` (see the module docstring), leading ``@`` removed too;
    ``words=False`` leaves out the plain words (``baydaily`` of ``baydaily.com``).

    >>> sorted(tokens("see x.com/a_b/status/12, @cd!"))[:4]
    ['12', '@cd', 'a_b', 'cd']
    """
    found: set[str] = set()
    for pattern in _TOKENS if words else _TOKENS[:-1]:
        for match in pattern.finditer(text):
            token = match.group().strip(_TRIM)
            if token:
                found.add(token)
                if token.startswith("@") and len(token) > 1:
                    found.add(token[1:])
    return found


class Scrubber:
    """Text rules for one export: which ids become which pseudonyms, whose handles stay."""

    def __init__(
        self,
        pseudonyms: Pseudonyms,
        *,
        account_ids: Iterable[str],
        post_ids: Iterable[str],
        handles: dict[str, str],
        flagged_handles: Iterable[str],
        items: dict[str, str] | None = None,
    ) -> None:
        """``handles``: lower-case handle → account id, for every account the case holds a profile of;
        ``items``: co-acted items → what the export shows for them (only those that change)."""
        self.pseudonyms = pseudonyms
        self.account_ids = set(account_ids)
        self.post_ids = set(post_ids) - self.account_ids
        self.handles = handles
        self.flagged_handles = {h.lower() for h in flagged_handles}
        self.items = dict(items or {})

    # -- single values -------------------------------------------------------------
    def account(self, account_id: str) -> str:
        return self.pseudonyms.account(account_id)

    def post(self, post_id: str) -> str:
        return self.pseudonyms.post(post_id)

    def handle(self, handle: str) -> str:
        """A handle as the export shows it: kept for a flagged account, else a pseudonym."""
        lower = handle.lower()
        if lower in self.flagged_handles:
            return handle
        known = self.handles.get(lower)
        return self.pseudonyms.account(known) if known is not None else self.pseudonyms.user(lower)

    def url(self, url: str) -> str:
        """A link with the profile and post parts rewritten (rules 1 and 3 of the module doc)."""
        return self.text(url)

    # -- free text -----------------------------------------------------------------
    def text(self, text: str) -> str:
        """``text`` with links, mentions and ids rewritten (see the module docstring).

        >>> from cibwatch.share.pseudonyms import Pseudonyms
        >>> s = Scrubber(Pseudonyms(b"k" * 32), account_ids=["1001"], post_ids=["77"],
        ...              handles={"ann": "1001"}, flagged_handles=["op"])
        >>> s.text("RT @op: @Ann said so x.com/ann/status/77 (1001)") == (
        ...     f"RT @op: @{s.account('1001')} said so x.com/{s.account('1001')}/status/{s.post('77')} "
        ...     f"({s.account('1001')})")
        True
        """
        if not text:
            return text
        text = _X_URL.sub(self._x_url, text)
        text = _BSKY_URL.sub(self._bsky_url, text)
        text = _AT_PATH.sub(self._at_path, text)
        text = _MENTION.sub(lambda m: "@" + self.handle(m.group(1)), text)
        return self.ids(text)

    def ids(self, text: str) -> str:
        """``text`` with every known account id, post id and changed item replaced (rule 3)."""
        found: dict[str, str] = {}
        for token in tokens(text):
            if token in self.account_ids:
                found[token] = self.account(token)
            elif token in self.post_ids:
                found[token] = self.post(token)
            elif token in self.items:
                found[token] = self.items[token]
        if not found:
            return text
        alternatives = "|".join(re.escape(t) for t in sorted(found, key=len, reverse=True))
        return re.sub(rf"(?<![\w])(?:{alternatives})(?![\w])", lambda m: found[m.group()], text)

    def _x_url(self, match: re.Match[str]) -> str:
        prefix, handle, status, post_id = match.groups()
        shown = handle if handle.lower() in X_RESERVED else self.handle(handle)
        tail = f"{status[: -len(post_id)]}{self.post(post_id)}" if status else ""
        return f"{prefix}{shown}{tail}"

    def _bsky_url(self, match: re.Match[str]) -> str:
        prefix, who, post, key = match.groups()
        shown = self.account(who) if who in self.account_ids else self.handle(who)
        tail = f"{post[: -len(key)]}{self.post(f'{who}/{key}')}" if post else ""
        return f"{prefix}{shown}{tail}"

    def _at_path(self, match: re.Match[str]) -> str:
        prefix, user, host = match.groups()
        full = f"{user}@{host[1:]}" if host else user
        if full in self.account_ids:
            return f"{prefix}@{self.account(full)}"
        shown = self.handle(user)
        return f"{prefix}@{shown}{host if shown == user else ''}"
