"""X (Twitter) API v1.1 tweets: JSON Lines, a JSON array, or a search response (``statuses``).

Embedded ``retweeted_status`` and ``quoted_status`` become posts of their own, and
every ``user`` object becomes an account snapshot taken at the tweet's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import orjson

from cibwatch.ingest.jsonstream import JsonItem, is_json_lines, iter_json, raw_json_lines
from cibwatch.ingest.registry import Reader, Sink, emit, register
from cibwatch.ingest.source import DAMAGED_STREAM, OVERLONG_LINE, OverlongLine, Source
from cibwatch.values import MAX_INT, MIN_INT, count, flag, parse_date_ms, source_app, text_or_none


def account_from_v1_user(user: dict[str, Any], probed_at: int | None) -> dict[str, Any]:
    """A v1.1 user object as an ``accounts`` record. Raises ValueError on impossible values."""
    account_id = user.get("id_str") or (str(user["id"]) if user.get("id") is not None else None)
    if not account_id:
        raise ValueError("user object without id")
    created = user.get("created_at")
    url = user.get("url")
    expanded = _profile_link(user.get("entities"))
    return {
        "account_id": account_id,
        "screen_name": user.get("screen_name"),
        "name": user.get("name"),
        "description": text_or_none(user.get("description")),
        "created_at": parse_date_ms(created) if created else None,
        "followers": count(user.get("followers_count")),
        "following": count(user.get("friends_count")),
        "posts_count": count(user.get("statuses_count")),
        "likes_count": count(user.get("favourites_count")),
        "listed_count": count(user.get("listed_count")),
        "verified": flag(user.get("verified")),
        "default_profile": flag(user.get("default_profile")),
        "default_profile_image": flag(user.get("default_profile_image")),
        "profile_use_background_image": flag(user.get("profile_use_background_image")),
        "location": text_or_none(user.get("location")),
        "url": expanded or url,
        "lang": user.get("lang"),
        "probed_at": probed_at,
        "raw": user,  # serialized by the sink only if the snapshot is kept
    }


_ODD_PROFILE_LINK = "user object's entities.url is not shaped as the API gives it ({'urls': [{...}]})"


def _profile_link(entities: object) -> str | None:
    """The expanded link of a user object's ``entities.url``. ValueError (the line goes to
    quarantine, with this reason) where the entities are not shaped as the API gives them."""
    if not entities:
        return None
    if not isinstance(entities, dict):
        raise ValueError(_ODD_PROFILE_LINK)
    url = entities.get("url")
    if not url:
        return None
    if not isinstance(url, dict):
        raise ValueError(_ODD_PROFILE_LINK)
    urls = url.get("urls")
    if not urls:
        return None
    if not isinstance(urls, list) or not isinstance(urls[0], dict):
        raise ValueError(_ODD_PROFILE_LINK)
    link = urls[0].get("expanded_url")
    return link if isinstance(link, str) else None


def _entities(tweet: dict[str, Any]) -> dict[str, Any]:
    extended = tweet.get("extended_tweet")
    if extended and extended.get("entities"):
        return extended["entities"]
    return tweet.get("entities") or {}


def _text(tweet: dict[str, Any]) -> str | None:
    extended = tweet.get("extended_tweet")
    if extended and extended.get("full_text"):
        return extended["full_text"]
    return tweet.get("full_text") or tweet.get("text")


def _id(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(f"{key}_str")
    if value:
        return value
    raw = obj.get(key)
    return str(raw) if raw is not None else None


def records_from_v1_tweet(tweet: dict[str, Any], out: list[tuple[str, dict[str, Any]]]) -> None:
    """Add ``tweet``, its embedded tweets and their users to ``out`` as (table, record).

    Raises ValueError on a bad tweet; the caller emits nothing of it then.
    """
    post_id = _id(tweet, "id")
    user = tweet.get("user")
    if not post_id or not isinstance(user, dict):
        raise ValueError("not a v1.1 tweet (needs id and user)")
    created_raw = tweet.get("created_at")
    if not created_raw:
        raise ValueError("tweet without created_at")
    created = parse_date_ms(created_raw)
    account = account_from_v1_user(user, created)
    entities = _entities(tweet)
    kind, ref_post, ref_account = "original", None, None
    retweeted = tweet.get("retweeted_status")
    quoted = tweet.get("quoted_status")
    if isinstance(retweeted, dict):
        kind, ref_post = "repost", _id(retweeted, "id")
        ref_account = _id(retweeted.get("user") or {}, "id")
    elif tweet.get("is_quote_status") and (quoted or tweet.get("quoted_status_id_str")):
        kind = "quote"
        ref_post = tweet.get("quoted_status_id_str") or (_id(quoted, "id") if quoted else None)
        ref_account = _id((quoted or {}).get("user") or {}, "id")
    elif tweet.get("in_reply_to_status_id_str") or tweet.get("in_reply_to_status_id"):
        kind, ref_post = "reply", _id(tweet, "in_reply_to_status_id")
        ref_account = _id(tweet, "in_reply_to_user_id")
    media = (tweet.get("extended_entities") or entities).get("media") or []
    out.append(("accounts", account))
    out.append(
        (
            "posts",
            {
                "post_id": post_id,
                "account_id": account["account_id"],
                "created_at": created,
                "kind": kind,
                "ref_post_id": ref_post,
                "ref_account_id": ref_account,
                "text": _text(tweet),
                "lang": tweet.get("lang"),
                "source_app": source_app(tweet.get("source")),
                "hashtags": [h["text"] for h in entities.get("hashtags") or [] if h.get("text")],
                "urls": [
                    u.get("expanded_url") or u["url"] for u in entities.get("urls") or [] if u.get("url")
                ],
                "mentions": [
                    m["screen_name"] for m in entities.get("user_mentions") or [] if m.get("screen_name")
                ],
                # v1.1 carries no content hash of media; the media key identifies the upload.
                "media_hashes": [m["id_str"] for m in media if m.get("id_str")],
            },
        )
    )
    for embedded in (retweeted, quoted):
        if isinstance(embedded, dict):
            records_from_v1_tweet(embedded, out)


class _Tag(msgspec.Struct):
    text: str | None = None


class _Url(msgspec.Struct):
    url: str | None = None
    expanded_url: str | None = None


class _Mention(msgspec.Struct):
    screen_name: str | None = None


class _Media(msgspec.Struct):
    id_str: str | None = None


class _Entities(msgspec.Struct):
    hashtags: list[_Tag] | None = None
    urls: list[_Url] | None = None
    user_mentions: list[_Mention] | None = None
    media: list[_Media] | None = None


class _Extended(msgspec.Struct):
    full_text: str | None = None
    entities: _Entities | None = None


_TOO_DEEP_FOR_MSGSPEC = "JSON nested deeper than the decoder's recursion limit (about 1,000 levels)"
# A count must fit the int64 column: a larger one makes msgspec refuse the tweet (quarantined).
_Count = Annotated[int, msgspec.Meta(ge=MIN_INT, le=MAX_INT)]


class _User(msgspec.Struct):
    id_str: str | None = None
    id: int | None = None
    screen_name: str | None = None
    name: str | None = None
    description: str | None = None
    created_at: str | None = None
    followers_count: _Count | None = None
    friends_count: _Count | None = None
    statuses_count: _Count | None = None
    favourites_count: _Count | None = None
    listed_count: _Count | None = None
    verified: bool | None = None
    default_profile: bool | None = None
    default_profile_image: bool | None = None
    profile_use_background_image: bool | None = None
    location: str | None = None
    url: str | None = None
    lang: str | None = None
    entities: dict[str, Any] | None = None


class _Tweet(msgspec.Struct):
    """The fields of a v1.1 tweet cibwatch reads; msgspec skips the rest without building them."""

    id_str: str | None = None
    id: int | None = None
    created_at: str | None = None
    text: str | None = None
    full_text: str | None = None
    user: msgspec.Raw = msgspec.Raw()  # kept as the original bytes for the raw column
    lang: str | None = None
    source: str | None = None
    entities: _Entities | None = None
    extended_entities: _Entities | None = None
    extended_tweet: _Extended | None = None
    retweeted_status: _Tweet | None = None
    quoted_status: _Tweet | None = None
    is_quote_status: bool | None = None
    quoted_status_id_str: str | None = None
    in_reply_to_status_id_str: str | None = None
    in_reply_to_status_id: int | None = None
    in_reply_to_user_id_str: str | None = None
    in_reply_to_user_id: int | None = None
    delete: Any = None
    limit: Any = None
    scrub_geo: Any = None


class _UserId(msgspec.Struct):
    id_str: str | None = None
    id: int | None = None


_decode_tweet = msgspec.json.Decoder(_Tweet).decode
_decode_user = msgspec.json.Decoder(_User).decode
_decode_user_id = msgspec.json.Decoder(_UserId).decode


_EMPTY = ()  # one shared empty list value: most posts have no hashtags, links or media
_USER_OBJECTS_KEPT = 100_000  # user objects each cache remembers: bounds memory on huge files


class _FastPath:
    """Typed decoding of JSON Lines tweets: the common case, several times faster than dicts.

    Posts come out as tuples in ``schema.POST_ROW`` order, accounts as records.
    """

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        # A user object's bytes to its id: most tweets repeat a user object seen before.
        self._user_ids: dict[bytes, str | None] = {}
        # The user object each account's last snapshot handed to the sink came from, both ways:
        # a tweet repeating it repeats that snapshot, known without asking the sink. (Deriving
        # the first map from the second costs a second lookup per tweet: 6% more CPU.)
        self._current: dict[bytes, str] = {}
        self._current_of: dict[str, bytes] = {}

    def records(self, tweet: _Tweet, posts: list[tuple[Any, ...]], accounts: list[dict[str, Any]]) -> None:
        """Add the tweet's posts (it and the tweets it embeds) and its new account snapshots."""
        if tweet.delete is not None or tweet.limit is not None or tweet.scrub_geo is not None:
            raise ValueError("stream control message (delete/limit/scrub_geo), not a tweet")
        post_id = tweet.id_str or (str(tweet.id) if tweet.id is not None else None)
        if not post_id or not tweet.user:
            raise ValueError("not a v1.1 tweet (needs id and user)")
        if not tweet.created_at:
            raise ValueError("tweet without created_at")
        created = parse_date_ms(tweet.created_at)
        account_id = self._snapshot(bytes(tweet.user), created, accounts)
        extended = tweet.extended_tweet
        entities = (extended.entities if extended and extended.entities else tweet.entities) or _NO_ENTITIES
        kind, ref_post, ref_account = "original", None, None
        retweeted, quoted = tweet.retweeted_status, tweet.quoted_status
        if retweeted is not None:
            kind = "repost"
            ref_post = retweeted.id_str or (str(retweeted.id) if retweeted.id is not None else None)
            ref_account = self._id_of(bytes(retweeted.user)) if retweeted.user else None
        elif tweet.is_quote_status and (quoted is not None or tweet.quoted_status_id_str):
            kind = "quote"
            ref_post = tweet.quoted_status_id_str or (quoted.id_str if quoted is not None else None)
            ref_account = self._id_of(bytes(quoted.user)) if quoted is not None and quoted.user else None
        elif tweet.in_reply_to_status_id_str or tweet.in_reply_to_status_id:
            kind = "reply"
            ref_post = tweet.in_reply_to_status_id_str or str(tweet.in_reply_to_status_id)
            ref_account = tweet.in_reply_to_user_id_str or (
                str(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id is not None else None
            )
        media = (tweet.extended_entities or entities).media
        hashtags, urls, mentions = entities.hashtags, entities.urls, entities.user_mentions
        posts.append(
            (
                post_id,
                account_id,
                created,
                kind,
                ref_post,
                ref_account,
                (extended.full_text if extended and extended.full_text else None)
                or tweet.full_text
                or tweet.text,
                tweet.lang,
                source_app(tweet.source),
                [h.text for h in hashtags if h.text] if hashtags else _EMPTY,
                [u.expanded_url or u.url for u in urls if u.url] if urls else _EMPTY,
                [m.screen_name for m in mentions if m.screen_name] if mentions else _EMPTY,
                [m.id_str for m in media if m.id_str] if media else _EMPTY,
                "twitter",
                None,  # dataset: the source's
            )
        )
        if retweeted is not None:
            self.records(retweeted, posts, accounts)
        if quoted is not None:
            self.records(quoted, posts, accounts)

    def _id_of(self, raw_user: bytes) -> str | None:
        """The id in a user object's bytes (None if it has none or does not decode)."""
        try:
            return self._user_ids[raw_user]
        except KeyError:
            pass
        try:
            account_id = _user_id(_decode_user_id(raw_user))
        except msgspec.DecodeError:
            account_id = None  # a full decode raises the error where it matters
        if len(self._user_ids) >= _USER_OBJECTS_KEPT:
            self._user_ids.clear()
        self._user_ids[raw_user] = account_id
        return account_id

    def _snapshot(self, raw_user: bytes, probed_at: int, accounts: list[dict[str, Any]]) -> str:
        """Add the account snapshot of ``raw_user`` (the user object's bytes) to ``accounts`` unless
        unchanged since the last one; its account id."""
        account_id = self._current.get(raw_user)
        if account_id is not None:
            return account_id
        fingerprint = hash(raw_user)
        account_id = self._id_of(raw_user)
        if account_id and self.sink.profile_unchanged("twitter", account_id, fingerprint):
            return account_id
        user = _decode_user(raw_user)
        account_id = _user_id(user)
        if not account_id:
            raise ValueError("user object without id")
        # Decoding here puts invalid UTF-8 in quarantine with this tweet's line.
        account = self._account(user, account_id, probed_at, raw_user.decode("utf-8"))
        account["_fingerprint"] = fingerprint
        account["_user_object"] = raw_user
        accounts.append(account)
        return account_id

    def handed_over(self, snapshot: dict[str, Any]) -> None:
        """``snapshot`` (from ``records``) is now its account's last one in the sink."""
        raw_user, account_id = snapshot.pop("_user_object"), snapshot["account_id"]
        previous = self._current_of.get(account_id)
        if previous is not None:
            del self._current[previous]
        elif len(self._current_of) >= _USER_OBJECTS_KEPT:
            self._current.clear()
            self._current_of.clear()
        self._current[raw_user] = account_id
        self._current_of[account_id] = raw_user

    @staticmethod
    def _account(user: _User, account_id: str, probed_at: int, raw: str) -> dict[str, Any]:
        # Counts as given, negative ones too, as ``count`` keeps them on the other paths.
        expanded = _profile_link(user.entities)
        return {
            "account_id": account_id,
            "screen_name": user.screen_name,
            "name": user.name,
            "description": user.description or None,
            "created_at": parse_date_ms(user.created_at) if user.created_at else None,
            "followers": user.followers_count,
            "following": user.friends_count,
            "posts_count": user.statuses_count,
            "likes_count": user.favourites_count,
            "listed_count": user.listed_count,
            "verified": user.verified,
            "default_profile": user.default_profile,
            "default_profile_image": user.default_profile_image,
            "profile_use_background_image": user.profile_use_background_image,
            "location": user.location or None,
            "url": expanded or user.url,
            "lang": user.lang,
            "probed_at": probed_at,
            "raw": raw,
            "dataset": None,  # the source's
        }


_NO_ENTITIES = _Entities()


def _user_id(user: _User | _UserId | None) -> str | None:
    if user is None:
        return None
    return user.id_str or (str(user.id) if user.id is not None else None)


@register
class TwitterV1Reader(Reader):
    name = "twitter-v1"
    description = "X API v1.1 tweets: JSON Lines, JSON array or search response"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        start = head.lstrip()[:1]
        if start not in (b"{", b"["):
            return False
        compact = head.lstrip()[:200].replace(b" ", b"")
        if compact.startswith(b'[{"created_at":') and b'","user":{' in compact:
            return False  # a Bot Repository probe file ({created_at, user}), read by bot-repository
        return (
            (b'"id_str"' in head or b'"statuses"' in head) and b'"user"' in head and b'"created_at"' in head
        )

    @classmethod
    def splittable(cls, source: Source) -> bool:
        return is_json_lines(source)

    def read(self, source: Source, sink: Sink) -> None:
        lines = raw_json_lines(source)
        if lines is None:  # a JSON array, a search response or pretty-printed documents
            for item in iter_json(source):
                if item.error:
                    sink.quarantine(item.error, item.raw, item.line, item.byte_offset)
                else:
                    self._read_document(item, sink)
            return
        fast = _FastPath(sink)
        records, post_rows, account = fast.records, sink.post_rows, sink.account
        unchanged_profiles = 0  # counted once at the end: most tweets repeat a known profile
        try:
            for line, offset, raw in lines:
                if raw is None:
                    sink.quarantine(DAMAGED_STREAM, None, line, offset)
                    return
                if raw.__class__ is OverlongLine:
                    sink.quarantine(OVERLONG_LINE, raw, line, offset)
                    continue
                posts: list[tuple[Any, ...]] = []
                accounts: list[dict[str, Any]] = []
                try:
                    records(_decode_tweet(raw), posts, accounts)
                except RecursionError:
                    # msgspec's depth limit (Python's recursion limit, ~1,000): the one depth check
                    # of this path, as json_too_deep would cost a third of the decoding. Nothing
                    # of a tweet is written back out here (user objects are kept as their bytes).
                    sink.quarantine(_TOO_DEEP_FOR_MSGSPEC, raw, line, offset)
                    continue
                except (msgspec.DecodeError, ValueError) as exc:
                    if isinstance(exc, msgspec.ValidationError) or not isinstance(exc, msgspec.DecodeError):
                        reason = f"{type(exc).__name__}: {exc}"
                        if str(MAX_INT) in reason or str(MIN_INT) in reason:  # a _Count
                            reason += " (a count outside the int64 range, MIN_INT..MAX_INT)"
                    else:
                        reason = f"invalid JSON: {exc}"
                    sink.quarantine(reason, raw, line, offset)
                    continue
                post_rows(posts, line)
                # Each post has an author snapshot: the ones not handed over are unchanged.
                unchanged_profiles += len(posts) - len(accounts)
                for snapshot in accounts:
                    snapshot["_line"] = line
                    account(snapshot)
                    fast.handed_over(snapshot)
        finally:
            sink.duplicate("accounts", unchanged_profiles)

    def _read_document(self, item: JsonItem, sink: Sink) -> None:
        value = item.value
        tweets = value.get("statuses") if isinstance(value, dict) and "statuses" in value else value
        if not isinstance(tweets, list):
            tweets = [tweets]
        for tweet in tweets:
            records: list[tuple[str, dict[str, Any]]] = []
            try:
                if not isinstance(tweet, dict):
                    raise ValueError(f"expected a tweet object, got {type(tweet).__name__}")
                if "delete" in tweet or "limit" in tweet or "scrub_geo" in tweet:
                    raise ValueError("stream control message (delete/limit/scrub_geo), not a tweet")
                records_from_v1_tweet(tweet, records)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raw = item.raw if len(tweets) == 1 else orjson.dumps(tweet)
                sink.quarantine(f"{type(exc).__name__}: {exc}", raw, item.line, item.byte_offset)
                continue
            emit(records, sink, line=item.line)
