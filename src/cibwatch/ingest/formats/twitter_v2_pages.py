"""The fast path of the twitter-v2 reader: a JSON Lines page (``data`` + ``includes``, as twarc2
writes one a line) decoded by msgspec into the few fields cibwatch reads, users and referenced
tweets joined once per page, and each distinct user object turned into a snapshot once.

It vouches only for pages it reads exactly as the general path (``TwitterV2Reader``) would:
``read_page`` returns False, having handed the sink nothing, for any page that is not plainly
well formed (a field of an unexpected type, a bad tweet or user, an unknown top-level key, bytes
that are not UTF-8, nesting near ``MAX_DEPTH``, a user-endpoint or flattened object), and the
caller reads that line the general way. One difference is known: a number beyond the float
range in a field cibwatch does not read (orjson refuses it, msgspec skips it) is read here where
the general path quarantines the page as invalid JSON.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from cibwatch.ingest.formats.json_common import dump_json
from cibwatch.ingest.formats.twitter_v2 import _error_reason, _retrieved_ms, account_from_v2_user
from cibwatch.ingest.jsonstream import MAX_DEPTH
from cibwatch.ingest.registry import Sink
from cibwatch.ingest.sink import profile_fingerprint
from cibwatch.values import current_zone, parse_date_ms

UNSET: Any = msgspec.UNSET


class _Ref(msgspec.Struct):
    type: str | None = None
    id: str | None = None
    author_id: str | None = None
    author: Any = UNSET  # an inlined author: the general path reads it


class _Url(msgspec.Struct):
    url: str | None = None
    expanded_url: str | None = None
    unwound_url: str | None = None


class _Tag(msgspec.Struct):
    tag: str | None = None


class _Mention(msgspec.Struct):
    username: str | None = None


class _Entities(msgspec.Struct):
    hashtags: list[_Tag] | None = None
    urls: list[_Url] | None = None
    mentions: list[_Mention] | None = None


class _Attachments(msgspec.Struct):
    media_keys: list[str] | None = None


class _Tweet(msgspec.Struct):
    """The fields of a v2 tweet cibwatch reads; msgspec skips the rest without building them."""

    id: str | None = None
    author_id: str | None = None
    created_at: str | None = None
    text: str | None = None
    lang: str | None = None
    source: str | None = None
    in_reply_to_user_id: str | None = None
    referenced_tweets: list[_Ref] | None = None
    entities: _Entities | None = None
    attachments: _Attachments | None = None
    # Present on a few objects only; any of them sends the page to the general path.
    withheld: Any = UNSET
    author: Any = UNSET
    username: Any = UNSET


class _Includes(msgspec.Struct, forbid_unknown_fields=True):
    users: list[msgspec.Raw] | None = None
    tweets: list[msgspec.Raw] | None = None
    media: list[msgspec.Raw] | None = None
    places: list[msgspec.Raw] | None = None
    polls: list[msgspec.Raw] | None = None
    topics: list[msgspec.Raw] | None = None


class _Page(msgspec.Struct, forbid_unknown_fields=True, rename={"twarc": "__twarc"}):
    data: list[msgspec.Raw] | None = None
    includes: _Includes | None = None
    meta: msgspec.Raw = msgspec.Raw(b"")
    errors: list[msgspec.Raw] | None = None
    twarc: msgspec.Raw = msgspec.Raw(b"")


_decode_page = msgspec.json.Decoder(_Page).decode
_decode_tweet = msgspec.json.Decoder(_Tweet).decode
_KIND_ORDER = (("retweeted", "repost"), ("quoted", "quote"), ("replied_to", "reply"))
_USER_OBJECTS_KEPT = 100_000  # distinct user objects remembered: bounds memory on huge files
_EMPTY = ()  # one shared empty list value: most posts have no hashtags, links or media


# A user object's bytes to (account id, snapshot fingerprint), for one zone.
_SNAPSHOTS: dict[str, Any] = {"zone": None, "of": {}}


class _NotPlain(Exception):
    """The page needs the general path."""


def _plain(raw: bytes, levels_above: int) -> bool:
    """Whether ``raw`` (a value ``levels_above`` containers deep in the page) is UTF-8, as orjson
    requires of the whole line (msgspec checks only the strings it decodes), and keeps the page
    within ``MAX_DEPTH`` (a value with n brackets nests at most n deep)."""
    if raw.count(b"[") + raw.count(b"{") + levels_above > MAX_DEPTH:
        return False
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_or_none(value: str | None) -> str | None:  # values.text_or_none, for strings
    return None if not value or value.upper() in {"NULL", "NA"} else value


class PageReader:
    """Reads plain pages straight into the sink; remembers the snapshot of each user object."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        # Shared by the files a process reads: a user object repeats across a day's files.
        zone = current_zone()
        if _SNAPSHOTS["zone"] is not zone:  # a naive date in a user object reads in the run's zone
            _SNAPSHOTS.clear()
            _SNAPSHOTS.update(zone=zone, of={})
        self._snapshots: dict[bytes, tuple[str, int]] = _SNAPSHOTS["of"]
        # The snapshot records made for the page being read: most objects reach the sink once,
        # when first seen, so records are not kept beyond the page (memory).
        self._made: dict[bytes, dict[str, Any]] = {}

    def read_page(self, line: bytes, lineno: int, offset: int) -> bool:
        """Read one line if it is a plain page (True); else hand the sink nothing (False)."""
        self._made.clear()
        try:
            page = _decode_page(line)
            posts, users, errors = self._records(page)
        except (
            msgspec.DecodeError,
            RecursionError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            _NotPlain,
        ):
            # msgspec.ValidationError and orjson.JSONDecodeError are ValueErrors.
            return False
        sink = self.sink
        sink.post_rows(posts, None)  # None: the general path keeps no line on posts either
        unchanged = 0
        for account_id, fingerprint, raw, probed_at in users:
            if sink.profile_unchanged("twitter", account_id, fingerprint):
                unchanged += 1
                continue
            made = self._made.get(raw)
            record = dict(made) if made is not None else _snapshot_record(orjson.loads(raw))
            record["probed_at"] = probed_at
            record["_fingerprint"] = fingerprint
            sink.account(record)
        sink.duplicate("accounts", unchanged)
        for reason, raw in errors:
            sink.quarantine(reason, raw, lineno, offset)
        return True

    def _records(
        self, page: _Page
    ) -> tuple[list[tuple[Any, ...]], list[tuple[str, int, bytes, int | None]], list[tuple[str, bytes]]]:
        """The page's post rows, account snapshots and quarantined errors, in the general path's
        order; raises _NotPlain (or a decoding error) for a page it does not vouch for."""
        if not page.data:  # no data (or a single tweet as an object): the general path's cases
            raise _NotPlain
        includes = page.includes or _Includes()
        # Every piece of the page but the user objects, checked once each in _snapshot.
        for pieces, above in (
            (page.data, 2),
            (page.errors or (), 2),
            (includes.tweets or (), 3),
            (includes.media or (), 3),
            (includes.places or (), 3),
            (includes.polls or (), 3),
            (includes.topics or (), 3),
            ((page.meta, page.twarc), 1),
        ):
            for piece in pieces:
                if not _plain(bytes(piece), above):
                    raise _NotPlain
        data = [_decode_tweet(raw) for raw in page.data]
        included = [_decode_tweet(raw) for raw in includes.tweets or ()]
        for tweet in (*data, *included):
            if tweet.withheld is not UNSET or tweet.author is not UNSET or tweet.username is not UNSET:
                raise _NotPlain
        # Later copies win the join, as in the general path (a tweet in data and includes).
        by_id = {t.id: t for t in (*data, *included) if t.id is not None}
        in_data = {str(t.id) for t in data}
        tweets = data + [t for t in included if str(t.id) not in in_data]
        created = [_created_ms(t) for t in tweets]
        posts = [_post_row(t, ms, by_id) for t, ms in zip(tweets, created, strict=True)]
        probed = _retrieved_ms({"__twarc": orjson.loads(bytes(page.twarc))}) if page.twarc else None
        if probed is None:
            probed = _newest_ms(data, included)
        users = []
        for piece in includes.users or ():
            raw = bytes(piece)
            users.append((*self._snapshot(raw), raw, probed))
        errors = []
        for raw in page.errors or ():
            error = orjson.loads(bytes(raw))
            errors.append((_error_reason(error), dump_json(error)))
        return posts, users, errors

    def _snapshot(self, raw: bytes) -> tuple[str, int]:
        """(account id, fingerprint) of the user object ``raw``, made once per distinct object."""
        known = self._snapshots.get(raw)
        if known is not None:
            return known
        user = orjson.loads(raw)
        if not isinstance(user, dict) or not _plain(raw, 3):  # (3: in includes.users of a page)
            raise _NotPlain
        record = self._made[raw] = _snapshot_record(user)
        known = (record["account_id"], profile_fingerprint(record))
        if len(self._snapshots) >= _USER_OBJECTS_KEPT:
            self._snapshots.clear()
        self._snapshots[raw] = known
        return known


def _snapshot_record(user: dict[str, Any]) -> dict[str, Any]:
    record = account_from_v2_user(user, None)
    record["platform"] = "twitter"
    return record


def _created_ms(tweet: _Tweet) -> int:
    if not tweet.created_at:
        raise _NotPlain
    return parse_date_ms(tweet.created_at)


def _newest_ms(data: list[_Tweet], included: list[_Tweet]) -> int | None:
    """The newest created_at of the page's tweets (every one parsed: none failed)."""
    times = [parse_date_ms(t.created_at) for t in (*data, *included) if t.created_at]
    return max(times) if times else None


def _post_row(tweet: _Tweet, created: int, by_id: dict[str, _Tweet]) -> tuple[Any, ...]:
    """``post_from_v2_tweet`` for a typed tweet, as a row in ``schema.POST_ROW`` order."""
    post_id, author_id = tweet.id or None, tweet.author_id or None
    if not post_id or not author_id:
        raise _NotPlain
    kind, ref_post, ref_account = "original", None, None
    refs = tweet.referenced_tweets
    if refs:
        by_type = {r.type: r for r in refs}
        for ref_type, ref_kind in _KIND_ORDER:
            ref = by_type.get(ref_type)
            if ref is None:
                continue
            if ref.author is not UNSET:
                raise _NotPlain
            kind, ref_post = ref_kind, ref.id or None
            referenced: _Tweet | _Ref = by_id.get(ref_post or "") or ref
            ref_account = referenced.author_id or None
            if ref_type == "replied_to" and not ref_account:
                ref_account = tweet.in_reply_to_user_id or None
            break
    entities, attachments = tweet.entities, tweet.attachments
    hashtags = urls = mentions = media = _EMPTY
    if entities is not None:
        if entities.hashtags:
            hashtags = [h.tag for h in entities.hashtags if h.tag]  # type: ignore[assignment]
        if entities.urls:
            found = (u.unwound_url or u.expanded_url or u.url for u in entities.urls)
            urls = [u for u in found if u]  # type: ignore[assignment]
        if entities.mentions:
            mentions = [m.username for m in entities.mentions if m.username]  # type: ignore[assignment]
    if attachments is not None and attachments.media_keys:
        media = [k for k in attachments.media_keys if k]  # type: ignore[assignment]
    return (
        post_id,
        author_id,
        created,
        kind,
        ref_post,
        ref_account,
        tweet.text or None,
        _text_or_none(tweet.lang),
        _text_or_none(tweet.source),  # v2 gives the client's name as plain text
        hashtags,
        urls,
        mentions,
        media,
        "twitter",
        None,  # dataset: the source's
    )
