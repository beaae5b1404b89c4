"""Bluesky: Jetstream events (JSON Lines), and AppView post views (searchPosts, getAuthorFeed, …).

Jetstream (https://github.com/bluesky-social/jetstream) turns the AT Protocol firehose into
one JSON object per event: ``{"did", "time_us", "kind": "commit"|"identity"|"account", …}``.

- ``app.bsky.feed.post`` creates (and updates) become posts. ``post_id`` is the record's
  ``at://{did}/app.bsky.feed.post/{rkey}`` URI, the identity other records point at. A quote
  (``embed.record`` or ``recordWithMedia``) wins over a reply (``reply.parent``), as on X.
  ``hashtags``, ``urls`` and ``mentions`` (DIDs) come from the facets, plus ``embed.external``'s
  link; ``media_hashes`` are the blob CIDs of images and videos: content hashes, so the same
  picture uploaded by two accounts gets the same value.
- ``app.bsky.feed.repost`` creates become reposts: ``ref_post_id`` is the subject URI and
  ``ref_account_id`` the DID inside it. A repost has no text.
- ``created_at`` is the record's ``createdAt``, which the client sets; when it is missing or
  unparseable, Jetstream's ``time_us`` (when the relay saw the event) is used instead.
- ``identity`` events with a handle and ``app.bsky.actor.profile`` commits become account
  snapshots (handle only, or display name and description only): Jetstream never has both.
- Everything else (likes, follows, blocks, deletions, ``account`` status events, other
  collections) is not a post or a profile. Each such event goes to quarantine with a reason
  starting "skipped:" and its raw JSON, so it is counted and kept, never dropped silently.

AppView responses hold ``PostView`` objects (``{"uri", "author", "record", "indexedAt", …}``),
bare, in ``{"posts": […]}`` (searchPosts, getPosts) or as ``{"feed": [{"post", "reason"}]}``
(getAuthorFeed, getTimeline, getFeed). The record is read as above; the ``author`` view becomes
a snapshot (handle, display name, account creation, and counts when the view has them) probed at
the post's ``indexedAt``; a quoted post embedded in the view is stored too. A feed item's
``reasonRepost`` with its ``uri`` is a repost; without one (older AppViews) the repost's own
record is unknown and the item is kept in quarantine as "skipped:" after its post is stored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cibwatch.ingest.formats.json_common import dump_json, item_problem
from cibwatch.ingest.jsonstream import iter_json
from cibwatch.ingest.registry import SKIPPED, Reader, Sink, emit, register
from cibwatch.ingest.source import Source
from cibwatch.values import count, parse_date_ms, time_ms

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
PROFILE = "app.bsky.actor.profile"
_AT_URI = re.compile(rb'"uri"\s*:\s*"at://')
_SKIPPED_WHAT = {
    "app.bsky.feed.like": "a like is not a post",
    "app.bsky.graph.follow": "a follow is not a post",
    "app.bsky.graph.block": "a block is not a post",
}


class Skipped(Exception):
    """An event that is well formed but holds no post or profile."""


def _nonempty(value: Any) -> str | None:
    """A string field as is (even "NA": posts are not CSV cells), or None when absent or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def did_of(uri: str) -> str | None:
    """'at://did:plc:abc/app.bsky.feed.post/3k…' -> 'did:plc:abc'."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    authority = uri[5:].split("/", 1)[0]
    return authority or None


def _time_ms(record: dict[str, Any], time_us: int | None) -> int:
    created = record.get("createdAt")
    if isinstance(created, str):
        try:
            return parse_date_ms(created)
        except ValueError:
            pass
    if time_us is None:
        raise ValueError(f"no usable time: createdAt {created!r} and no time_us")
    return time_us // 1000


def _blob_cid(blob: Any) -> str | None:
    if not isinstance(blob, dict):
        return None
    ref = blob.get("ref")
    if isinstance(ref, dict) and isinstance(ref.get("$link"), str):
        return ref["$link"]
    return blob.get("cid") if isinstance(blob.get("cid"), str) else None  # legacy blob form


def _embed_parts(embed: Any) -> tuple[str | None, list[str], list[str]]:
    """(quoted record URI, external links, media CIDs) of a post's embed."""
    if not isinstance(embed, dict):
        return None, [], []
    kind = embed.get("$type", "")
    links: list[str]
    media: list[str]
    quoted, links, media = None, [], []
    if kind == "app.bsky.embed.record":
        quoted = (embed.get("record") or {}).get("uri")
    elif kind == "app.bsky.embed.recordWithMedia":
        quoted = ((embed.get("record") or {}).get("record") or {}).get("uri")
        _, links, media = _embed_parts(embed.get("media"))
    elif kind == "app.bsky.embed.images":
        media = [
            c
            for c in (_blob_cid(i.get("image")) for i in embed.get("images") or [] if isinstance(i, dict))
            if c
        ]
    elif kind == "app.bsky.embed.video":
        media = [c for c in [_blob_cid(embed.get("video"))] if c]
    elif kind == "app.bsky.embed.external":
        uri = (embed.get("external") or {}).get("uri")
        links = [uri] if isinstance(uri, str) and uri else []
    return (quoted if isinstance(quoted, str) else None), links, media


def post_from_record(did: str, uri: str, record: dict[str, Any], time_us: int | None) -> dict[str, Any]:
    """An ``app.bsky.feed.post`` record as a ``posts`` record."""
    hashtags: list[str] = []
    urls: list[str] = []
    mentions: list[str] = []
    for facet in record.get("facets") or []:
        for feature in (facet or {}).get("features") or []:
            kind = feature.get("$type", "")
            if kind.endswith("#tag") and feature.get("tag"):
                hashtags.append(str(feature["tag"]))
            elif kind.endswith("#link") and feature.get("uri"):
                urls.append(str(feature["uri"]))
            elif kind.endswith("#mention") and feature.get("did"):
                mentions.append(str(feature["did"]))
    quoted, links, media = _embed_parts(record.get("embed"))
    if quoted and f"/{POST}/" not in quoted:
        # An embedded list, feed or starter pack is shared like a link, not quoted like a post.
        links, quoted = [*links, quoted], None
    urls += [link for link in links if link not in urls]
    parent = ((record.get("reply") or {}).get("parent") or {}).get("uri")
    kind, ref_post = "original", None
    if quoted:
        kind, ref_post = "quote", quoted
    elif isinstance(parent, str) and parent:
        kind, ref_post = "reply", parent
    langs = record.get("langs")
    return {
        "post_id": uri,
        "account_id": did,
        "created_at": _time_ms(record, time_us),
        "kind": kind,
        "ref_post_id": ref_post,
        "ref_account_id": did_of(ref_post) if ref_post else None,
        "text": _nonempty(record.get("text")),
        "lang": str(langs[0]) if isinstance(langs, list) and langs else None,
        "source_app": None,
        "hashtags": hashtags,
        "urls": urls,
        "mentions": mentions,
        "media_hashes": media,
    }


def _account(did: str, probed_at: int | None, event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(
        ("screen_name", "name", "description", "created_at", "followers", "following", "posts_count"), None
    )
    record.update(
        {
            "account_id": did,
            "likes_count": None,
            "listed_count": None,
            "verified": None,
            "default_profile": None,
            "default_profile_image": None,
            "profile_use_background_image": None,
            "location": None,
            "url": None,
            "lang": None,
            "probed_at": probed_at,
            "raw": dump_json(event).decode("utf-8", "replace"),
        }
    )
    record.update(fields)
    return record


def records_from_event(event: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (table, record) pairs of one Jetstream event; raises Skipped or ValueError."""
    did = event.get("did")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise ValueError("not a Jetstream event (needs did)")
    time_us = event.get("time_us")
    time_us = int(time_us) if isinstance(time_us, int | float) and not isinstance(time_us, bool) else None
    if time_us is not None:
        time_ms(time_us // 1000, time_us)  # ValueError unless a time in years 1 to 9999
    kind = event.get("kind")
    if kind == "identity":
        identity = event.get("identity") or {}
        handle = _nonempty(identity.get("handle"))
        if not handle:
            raise Skipped("identity event without a handle")
        probed = _event_ms(identity.get("time"), time_us)
        return [("accounts", _account(did, probed, event, screen_name=handle))]
    if kind == "account":
        account = event.get("account") or {}
        raise Skipped(
            f"account status event (active={account.get('active')}, status={account.get('status')})"
        )
    if kind != "commit":
        raise ValueError(f"unknown event kind {kind!r} (expected commit, identity or account)")
    commit = event.get("commit")
    if not isinstance(commit, dict):
        raise ValueError("commit event without a commit object")
    collection, operation, rkey = commit.get("collection"), commit.get("operation"), commit.get("rkey")
    if not isinstance(collection, str) or not isinstance(rkey, str) or not rkey:
        raise ValueError("commit without collection or rkey")
    if operation == "delete":
        raise Skipped(f"deletion of {collection} (deletions are not stored)")
    if operation not in ("create", "update"):
        raise ValueError(f"unknown commit operation {operation!r}")
    if collection not in (POST, REPOST, PROFILE):
        raise Skipped(f"{collection}: {_SKIPPED_WHAT.get(collection, 'not a post or a profile')}")
    record = commit.get("record")
    if not isinstance(record, dict):
        raise ValueError(f"{operation} of {collection} without a record")
    uri = f"at://{did}/{collection}/{rkey}"
    if collection == POST:
        return [("posts", post_from_record(did, uri, record, time_us))]
    if collection == REPOST:
        subject = (record.get("subject") or {}).get("uri")
        if not isinstance(subject, str) or not did_of(subject):
            raise ValueError("repost without a subject at:// URI")
        return [("posts", _repost(uri, did, _time_ms(record, time_us), subject))]
    # A profile record: a snapshot of what the account shows, seen when the relay saw it.
    fields = {
        "name": _nonempty(record.get("displayName")),
        "description": _nonempty(record.get("description")),
        # Without an avatar blob the app shows its default picture.
        "default_profile_image": _blob_cid(record.get("avatar")) is None,
    }
    probed = time_us // 1000 if time_us is not None else None
    return [("accounts", _account(did, probed, event, **fields))]


def _event_ms(value: Any, time_us: int | None) -> int | None:
    if isinstance(value, str):
        try:
            return parse_date_ms(value)
        except ValueError:
            pass
    return time_us // 1000 if time_us is not None else None


def _view_ms(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{what} is a {type(value).__name__}, expected a date string")
    return parse_date_ms(value)


def _author_account(author: dict[str, Any], probed_at: int | None) -> dict[str, Any]:
    """A ``ProfileViewBasic`` / ``ProfileView(Detailed)`` as an account snapshot."""
    did = author.get("did")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise ValueError("author view without a did")
    return _account(
        did,
        probed_at,
        author,
        screen_name=_nonempty(author.get("handle")),
        name=_nonempty(author.get("displayName")),
        description=_nonempty(author.get("description")),
        created_at=_view_ms(author.get("createdAt"), "author createdAt"),
        followers=count(author.get("followersCount")),
        following=count(author.get("followsCount")),
        posts_count=count(author.get("postsCount")),
        default_profile_image=_nonempty(author.get("avatar")) is None,
    )


def _embedded_view(embed: Any) -> dict[str, Any] | None:
    """The quoted post's view inside a post view's ``embed``, as a post view, or None."""
    if not isinstance(embed, dict):
        return None
    record = embed.get("record")
    if isinstance(record, dict) and isinstance(record.get("record"), dict):  # recordWithMedia#view
        record = record["record"]
    if not isinstance(record, dict) or not isinstance(record.get("value"), dict):
        return None
    if record["value"].get("$type") != POST or not isinstance(record.get("author"), dict):
        return None
    return {"uri": record.get("uri"), "author": record["author"], "record": record["value"], **record}


def records_from_post_view(
    view: dict[str, Any], out: list[tuple[str, dict[str, Any]]], depth: int = 0
) -> None:
    """Add a ``PostView``'s post, its author's snapshot and any quoted post view to ``out``."""
    uri, author, record = view.get("uri"), view.get("author"), view.get("record")
    if (
        not isinstance(uri, str)
        or not did_of(uri)
        or not isinstance(author, dict)
        or not isinstance(record, dict)
    ):
        raise ValueError("not a post view (needs an at:// uri, author and record)")
    indexed = _view_ms(view.get("indexedAt"), "indexedAt")
    account = _author_account(author, indexed)
    out.append(("accounts", account))
    out.append(
        ("posts", post_from_record(account["account_id"], uri, record, indexed * 1000 if indexed else None))
    )
    quoted = _embedded_view(view.get("embed"))
    if quoted is not None and depth < 2:
        records_from_post_view(quoted, out, depth + 1)


def records_from_feed_item(item: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
    """A ``FeedViewPost``'s records, and why its repost reason was skipped (or None)."""
    out: list[tuple[str, dict[str, Any]]] = []
    post = item.get("post")
    if not isinstance(post, dict):
        raise ValueError("feed item without a post view")
    records_from_post_view(post, out)
    reason = item.get("reason")
    if not isinstance(reason, dict) or not str(reason.get("$type", "")).endswith("#reasonRepost"):
        return out, None  # no reason, or a pinned post
    by = reason.get("by")
    if not isinstance(by, dict):
        raise ValueError("repost reason without 'by'")
    repost_uri = reason.get("uri")
    indexed = _view_ms(reason.get("indexedAt"), "reason indexedAt")
    out.append(("accounts", _author_account(by, indexed)))
    if not isinstance(repost_uri, str) or not did_of(repost_uri):
        return out, "repost reason without the repost's uri (older AppView); its post was stored"
    if indexed is None:
        raise ValueError("repost reason without indexedAt")
    out.append(("posts", _repost(repost_uri, did_of(repost_uri), indexed, post["uri"])))
    return out, None


def _repost(uri: str, did: str | None, created_ms: int | None, subject: str) -> dict[str, Any]:
    """A repost of ``subject`` (an at:// post URI): no content of its own."""
    return {
        "post_id": uri,
        "account_id": did,
        "created_at": created_ms,
        "kind": "repost",
        "ref_post_id": subject,
        "ref_account_id": did_of(subject),
        "text": None,
        "lang": None,
        "source_app": None,
        "hashtags": [],
        "urls": [],
        "mentions": [],
        "media_hashes": [],
    }


@register
class BlueskyReader(Reader):
    name = "bluesky"
    platform = "bluesky"
    description = "Bluesky: Jetstream events (JSON Lines) or AppView post views (searchPosts, feeds)"

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> bool:
        if head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] not in (b"{", b"["):
            return False
        jetstream = b'"did"' in head and b'"time_us"' in head and b'"kind"' in head
        post_views = _AT_URI.search(head) is not None and b'"indexedAt"' in head and b'"author"' in head
        return jetstream or post_views

    def read(self, source: Source, sink: Sink) -> None:
        for item in iter_json(source):
            problem = item_problem(item)
            if problem:
                sink.quarantine(problem, item.raw, item.line, item.byte_offset)
                continue
            value = item.value
            if isinstance(value, dict) and isinstance(value.get("posts"), list):
                events = value["posts"]
            elif isinstance(value, dict) and isinstance(value.get("feed"), list):
                events = value["feed"]
            else:
                events = value if isinstance(value, list) else [value]
            if not events:
                sink.quarantine("nothing to read (an empty list)", item.raw, item.line, item.byte_offset)
            for event in events:
                raw = item.raw if len(events) == 1 else dump_json(event)
                try:
                    if not isinstance(event, dict):
                        raise ValueError(
                            f"expected a Jetstream event or post view, got {type(event).__name__}"
                        )
                    skipped_part = None
                    if "post" in event:
                        records, skipped_part = records_from_feed_item(event)
                    elif "uri" in event and "author" in event:
                        records = []
                        records_from_post_view(event, records)
                    else:
                        records = records_from_event(event)
                except Skipped as skipped:
                    sink.quarantine(f"{SKIPPED}{skipped}", raw, item.line, item.byte_offset)
                    continue
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    sink.quarantine(f"{type(exc).__name__}: {exc}", raw, item.line, item.byte_offset)
                    continue
                emit(records, sink)
                if skipped_part:
                    sink.quarantine(f"{SKIPPED}{skipped_part}", raw, item.line, item.byte_offset)
