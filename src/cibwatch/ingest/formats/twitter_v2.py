"""X API v2 tweets: raw responses as twarc2 writes them, and twarc2's flattened JSON Lines.

A raw response (``data`` + ``includes`` + ``errors`` + ``__twarc``, one a line or one
pretty-printed document) gives a post per tweet in ``data`` and in ``includes.tweets``, and
an account snapshot per user in ``includes.users``. A flattened line is one tweet with its
``author``, ``in_reply_to_user``, expanded ``referenced_tweets`` and mentioned users inlined;
each of those becomes a post or a snapshot the same way. Bare v2 tweets (a JSON array or lines,
as other clients dump them) read like flattened ones without the inlined objects; user objects
(``/2/users`` responses, flattened users lines) become snapshots.

Choices, so that results mean the same as the v1.1 reader's:

- A retweet keeps its own text ("RT @user: …", often cut short), as v1.1 does; the full text
  is on the retweeted post, which is stored too whenever the payload includes it.
- Kind precedence is retweeted > quoted > replied_to (v1.1's order). ``ref_account_id`` is the
  referenced tweet's author when the payload holds that tweet, else ``in_reply_to_user_id``
  for replies, else null.
- ``probed_at`` of every snapshot is ``__twarc.retrieved_at`` (when its public metrics were
  read); without it, the newest ``created_at`` of the response's (or the line's) tweets, a
  lower bound of the retrieval time.
- v2 has no likes count (``like_count`` is used if a payload has it), no default_profile and no
  background flag: those stay null, never 0 or False.
- A tweet or profile withheld in the reader's country carries a placeholder text ("… has been
  withheld in India in response to a legal demand"). It is stored with text, urls and
  description null, so the placeholder is not mistaken for shared content.
- ``errors`` entries (suspended users, deleted referenced tweets) are not records but are
  quarantined one by one with reason "X API error: …", so what the response lacked is visible.
  A response with nothing to read (no ``data``, e.g. an empty search page) is quarantined too.

Speed: JSON Lines pages are read by ``twitter_v2_pages`` (msgspec, one join a page), which hands
any page it cannot vouch for back to the general path here, so both give the same tables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.json_common import dump_json, item_problem
from cibwatch.ingest.jsonstream import JsonItem, is_json_lines, iter_json, json_line_item, raw_json_lines
from cibwatch.ingest.registry import SKIPPED, Reader, Sink, emit, register
from cibwatch.ingest.source import DAMAGED_STREAM, OverlongLine, Source
from cibwatch.values import count, flag, parse_date_ms, text_or_none

Records = list[tuple[str, dict[str, Any]]]

_DATA_KEY = re.compile(rb'"data"\s*:\s*[\[{]')
_AUTHOR_KEY = re.compile(rb'"author_id"\s*:')
_KIND_ORDER = (("retweeted", "repost"), ("quoted", "quote"), ("replied_to", "reply"))
# JSON Lines pages go through ``twitter_v2_pages`` (typed decoding, one join a page); False reads
# every value the general way, as the identity tests do to compare the two.
PAGES_FAST_PATH = True
# Keys twarc adds to a user object (inlined as a mention, or a flattened users line).
_ADDED_USER_KEYS = ("start", "end", "__twarc")


def _str_id(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text or None


def _is_withheld_placeholder(obj: dict[str, Any], text: Any) -> bool:
    return isinstance(obj.get("withheld"), dict) and isinstance(text, str) and "has been withheld" in text


def account_from_v2_user(user: dict[str, Any], probed_at: int | None) -> dict[str, Any]:
    """A v2 user object as an ``accounts`` record. Raises ValueError on impossible values."""
    if not isinstance(user, dict):
        raise ValueError(f"expected a user object, got {type(user).__name__}")
    account_id = _str_id(user.get("id"))
    if not account_id:
        raise ValueError("user object without id")
    raw = {k: v for k, v in user.items() if k not in _ADDED_USER_KEYS}
    metrics = user.get("public_metrics") or {}
    if not isinstance(metrics, dict):
        raise ValueError("public_metrics is not an object")
    created = user.get("created_at")
    description = text_or_none(user.get("description"))
    url_entities = ((user.get("entities") or {}).get("url") or {}).get("urls") or [{}]
    expanded = url_entities[0].get("expanded_url") if isinstance(url_entities[0], dict) else None
    url = text_or_none(expanded or user.get("url"))
    if _is_withheld_placeholder(user, description):
        description, url = None, None
    return {
        "account_id": account_id,
        "screen_name": text_or_none(user.get("username")),
        "name": text_or_none(user.get("name")),
        "description": description,
        "created_at": parse_date_ms(created) if created else None,
        "followers": count(metrics.get("followers_count")),
        "following": count(metrics.get("following_count")),
        "posts_count": count(metrics.get("tweet_count")),
        "likes_count": count(metrics.get("like_count")),
        "listed_count": count(metrics.get("listed_count")),
        "verified": flag(user.get("verified")),
        "default_profile": None,
        "default_profile_image": None,
        "profile_use_background_image": None,
        "location": text_or_none(user.get("location")),
        "url": url,
        "lang": None,
        "probed_at": probed_at,
        "raw": dump_json(raw).decode("utf-8", "replace"),
    }


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def post_from_v2_tweet(tweet: dict[str, Any], tweets_by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A v2 tweet as a ``posts`` record; ``tweets_by_id`` resolves referenced tweets' authors."""
    post_id = _str_id(tweet.get("id"))
    author_id = _str_id(tweet.get("author_id")) or _str_id((tweet.get("author") or {}).get("id"))
    if not post_id or not author_id:
        raise ValueError("not a v2 tweet (needs id and author_id)")
    created_raw = tweet.get("created_at")
    if not created_raw:
        raise ValueError("tweet without created_at (request tweet.fields=created_at)")
    kind, ref_post, ref_account = "original", None, None
    refs = {r.get("type"): r for r in _list(tweet.get("referenced_tweets")) if isinstance(r, dict)}
    for ref_type, ref_kind in _KIND_ORDER:
        ref = refs.get(ref_type)
        if ref is None:
            continue
        kind, ref_post = ref_kind, _str_id(ref.get("id"))
        referenced = tweets_by_id.get(ref_post or "") or ref
        ref_account = _str_id(referenced.get("author_id")) or _str_id(
            (referenced.get("author") or {}).get("id")
        )
        if ref_type == "replied_to" and not ref_account:
            ref_account = _str_id(tweet.get("in_reply_to_user_id"))
        break
    text = tweet.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"text is a {type(text).__name__}, expected a string")
    entities = tweet.get("entities") or {}
    if not isinstance(entities, dict):
        raise ValueError("entities is not an object")
    urls = [
        u.get("unwound_url") or u.get("expanded_url") or u.get("url")
        for u in _list(entities.get("urls"))
        if isinstance(u, dict) and (u.get("unwound_url") or u.get("expanded_url") or u.get("url"))
    ]
    if _is_withheld_placeholder(tweet, text):
        text, urls = None, []
    attachments = tweet.get("attachments") or {}
    return {
        "post_id": post_id,
        "account_id": author_id,
        "created_at": parse_date_ms(str(created_raw)),
        "kind": kind,
        "ref_post_id": ref_post,
        "ref_account_id": ref_account,
        "text": text if isinstance(text, str) and text else None,
        "lang": text_or_none(tweet.get("lang")),
        # v2 gives the client's name as plain text (v1.1 wrapped it in a link).
        "source_app": text_or_none(tweet.get("source")),
        "hashtags": [
            str(h["tag"]) for h in _list(entities.get("hashtags")) if isinstance(h, dict) and h.get("tag")
        ],
        "urls": [str(u) for u in urls],
        "mentions": [
            str(m["username"])
            for m in _list(entities.get("mentions"))
            if isinstance(m, dict) and m.get("username")
        ],
        # As v1.1: no content hash of media, so the media key identifies the upload.
        "media_hashes": [str(k) for k in _list(attachments.get("media_keys")) if k],
    }


def _newest_ms(tweets: list[Any]) -> int | None:
    newest = None
    for tweet in tweets:
        if isinstance(tweet, dict) and isinstance(tweet.get("created_at"), str):
            try:
                ms = parse_date_ms(tweet["created_at"])
            except ValueError:
                continue
            newest = ms if newest is None or ms > newest else newest
    return newest


def _retrieved_ms(value: dict[str, Any]) -> int | None:
    meta = value.get("__twarc")
    if isinstance(meta, dict) and isinstance(meta.get("retrieved_at"), str):
        try:
            return parse_date_ms(meta["retrieved_at"])
        except ValueError:
            return None
    return None


_REFERENCE_ONLY = (
    f"{SKIPPED}included tweet without created_at: a reference only (its id and author are on the post "
    "that references it)"
)


def _error_reason(error: Any) -> str:
    if not isinstance(error, dict):
        return "X API error (not a record)"
    parts = [str(error[k]) for k in ("title", "detail") if error.get(k)]
    return "X API error: " + (": ".join(parts) or "no detail")


def _flat_tweet_records(tweet: dict[str, Any], probed_at: int | None, out: Records) -> None:
    """A flattened tweet, its inlined referenced tweets and every user object inlined in them."""
    by_id = {
        str(r["id"]): r for r in _list(tweet.get("referenced_tweets")) if isinstance(r, dict) and r.get("id")
    }
    out.append(("posts", post_from_v2_tweet(tweet, by_id)))
    users = [tweet.get("author"), tweet.get("in_reply_to_user")]
    users += [m for m in _list((tweet.get("entities") or {}).get("mentions")) if isinstance(m, dict)]
    for user in users:
        # A mention holds a user object only when twarc could expand it.
        if isinstance(user, dict) and user.get("id") and ("created_at" in user or "public_metrics" in user):
            out.append(("accounts", account_from_v2_user(user, probed_at)))
    for ref in by_id.values():
        if ref.get("author_id") and ref.get("created_at"):
            _flat_tweet_records(ref, probed_at, out)


@register
class TwitterV2Reader(Reader):
    name = "twitter-v2"
    description = "X API v2: raw responses (data + includes, as twarc2 writes them) or twarc2 flattened JSONL"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        if head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] not in (b"{", b"["):
            return False
        if b'"id_str"' in head:  # v1.1 carries string twins of every id; v2 never does
            return False
        if b'"__twarc"' in head or _AUTHOR_KEY.search(head):
            return True
        # A response: "data" as a key (not a hashtag's text), with v2's includes or metrics.
        return bool(_DATA_KEY.search(head)) and (b'"includes"' in head or b'"public_metrics"' in head)

    @classmethod
    def splittable(cls, source: Source) -> bool:
        return is_json_lines(source)

    def read(self, source: Source, sink: Sink) -> None:
        lines = raw_json_lines(source) if PAGES_FAST_PATH else None
        if lines is None:  # a JSON array or pretty-printed documents
            for item in iter_json(source):
                self._read_item(item, sink)
            return
        from cibwatch.ingest.formats.twitter_v2_pages import PageReader

        pages = PageReader(sink)
        for line, offset, raw in lines:
            if raw is None:  # the compressed stream broke off: said once, for the rest of the file
                self._read_item(JsonItem(line, offset, error=DAMAGED_STREAM), sink)
                return
            if raw.__class__ is OverlongLine or not pages.read_page(raw, line, offset):
                self._read_item(json_line_item(line, offset, raw), sink)

    def _read_item(self, item: JsonItem, sink: Sink) -> None:
        """One top-level JSON value the general way: any v2 response, tweet or user object."""
        problem = item_problem(item)
        if problem:
            sink.quarantine(problem, item.raw, item.line, item.byte_offset)
            return
        values = item.value if isinstance(item.value, list) else [item.value]
        for value in values:
            raw = item.raw if len(values) == 1 else dump_json(value)
            if not isinstance(value, dict):
                reason = f"expected a v2 response or tweet object, got {type(value).__name__}"
                sink.quarantine(reason, raw, item.line, item.byte_offset)
            elif any(key in value for key in ("data", "errors", "includes", "meta")):
                self._read_response(value, raw, item.line, item.byte_offset, sink)
            else:
                self._read_flat(value, raw, item.line, item.byte_offset, sink)

    def _read_flat(self, tweet: dict[str, Any], raw: bytes, line: int, offset: int, sink: Sink) -> None:
        records: Records = []
        try:
            created = tweet.get("created_at")
            probed = _retrieved_ms(tweet) or (parse_date_ms(created) if isinstance(created, str) else None)
            if "username" in tweet and "text" not in tweet:  # a flattened user (twarc2 users, followers)
                records.append(("accounts", account_from_v2_user(tweet, _retrieved_ms(tweet))))
            else:
                _flat_tweet_records(tweet, probed, records)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            sink.quarantine(f"{type(exc).__name__}: {exc}", raw, line, offset)
            return
        emit(records, sink)

    def _read_response(
        self, response: dict[str, Any], raw: bytes, line: int, offset: int, sink: Sink
    ) -> None:
        data = response.get("data")
        data = [data] if isinstance(data, dict) else data
        includes = response.get("includes")
        includes = includes if isinstance(includes, dict) else {}
        if data is not None and not isinstance(data, list):
            sink.quarantine(f"'data' is a {type(data).__name__}, expected a list", raw, line, offset)
            data = []
        data = data or []
        errors = response.get("errors")
        errors = errors if isinstance(errors, list) else ([errors] if errors else [])
        included_tweets = _list(includes.get("tweets"))
        included_users = _list(includes.get("users"))
        if not data and not errors and not included_tweets and not included_users:
            meta = response.get("meta")
            meta = meta if isinstance(meta, dict) else {}
            reason = f"response with nothing to read (result_count {meta.get('result_count', 'absent')})"
            sink.quarantine(reason, raw, line, offset)
            return
        probed = _retrieved_ms(response) or _newest_ms(data + included_tweets)
        tweets_by_id = {
            str(t["id"]): t for t in data + included_tweets if isinstance(t, dict) and t.get("id") is not None
        }
        # A tweet in both data and includes (a self-quote, a thread) is read once, from data.
        in_data = {str(t.get("id")) for t in data if isinstance(t, dict)}
        tweets = data + [
            t for t in included_tweets if not isinstance(t, dict) or str(t.get("id")) not in in_data
        ]
        for n, obj in enumerate(tweets):
            users_endpoint = isinstance(obj, dict) and "username" in obj and "text" not in obj
            if n >= len(data) and isinstance(obj, dict) and not obj.get("created_at") and not users_endpoint:
                # A referenced tweet given only as a reference (no created_at): not a post of the
                # stream, and its id and author are already on the post that references it.
                sink.quarantine(_REFERENCE_ONLY, dump_json(obj), line, offset)
                continue
            try:
                if not isinstance(obj, dict):
                    raise ValueError(f"expected a tweet object, got {type(obj).__name__}")
                if users_endpoint:  # /2/users/... responses hold users in data
                    record = ("accounts", account_from_v2_user(obj, probed))
                else:
                    record = ("posts", post_from_v2_tweet(obj, tweets_by_id))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", dump_json(obj), line, offset)
                continue
            emit([record], sink)
        for user in included_users:
            try:
                record = ("accounts", account_from_v2_user(user, probed))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                sink.quarantine(f"{type(exc).__name__}: {exc}", dump_json(user), line, offset)
                continue
            emit([record], sink)
        for error in errors:
            sink.quarantine(_error_reason(error), dump_json(error), line, offset)
