"""Traces that are one SQL statement over the posts: targets, links, tags, mentions, text, media.

Reposts carry their original's links, tags and text, so only the repost trace counts them;
every other trace reads non-repost posts (the QUT toolkit does the same for links).
"""

from __future__ import annotations

from cibwatch.coord.traces import Trace, register
from cibwatch.coord.urls import normalized_url_sql, url_host_sql

_OWN = "p.kind <> 'repost'"


def _target(name: str, kind: str, what: str) -> Trace:
    return register(
        Trace(
            name=name,
            description=f"{what}: the same post, within the window",
            sql=f"""SELECT account_id, ref_post_id AS item, t, post_id FROM p
                    WHERE p.kind = '{kind}' AND ref_post_id IS NOT NULL""",
        )
    )


def _listed(name: str, column: str, expr: str, what: str, default: bool = True) -> Trace:
    return register(
        Trace(
            name=name,
            description=what,
            default=default,
            sql=f"""SELECT DISTINCT account_id, {expr} AS item, t, post_id
                    FROM (SELECT account_id, t, post_id, unnest({column}) AS v FROM p
                          WHERE {_OWN} AND len({column}) > 0)
                    WHERE v IS NOT NULL AND {expr} <> ''""",
        )
    )


# Lower-case, no links or @mentions, no leading "RT", whitespace collapsed.
NORMALIZED_TEXT = r"""trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower(p.text),
    'https?://\S+', ' ', 'g'), '@\w+', ' ', 'g'), '^\s*rt\b:?', ' '), '\s+', ' ', 'g'))"""
MIN_TEXT_CHARS = 20

_target("repost", "repost", "Reposts of the same post")
_target("quote", "quote", "Quotes of the same post")
_target("reply", "reply", "Replies to the same post")
_listed("url", "urls", normalized_url_sql("v"), "The same link (normalized: host, path, no tracking)")
_listed("domain", "urls", url_host_sql("v"), "Links to the same web site (host)", default=False)
_listed("hashtag", "hashtags", "lower(v)", "The same hashtag")
_listed("mention", "mentions", "lower(v)", "Mentioning the same account", default=False)
_listed("media", "media_hashes", "v", "The same image or video (media hash)")

_TAGS = "list_distinct(list_transform(hashtags, lambda h: lower(h)))"

register(
    Trace(
        name="hashtag_set",
        description="The same set of two or more hashtags",
        sql=f"""SELECT account_id, array_to_string(list_sort({_TAGS}), ' ') AS item, t, post_id
                FROM p WHERE {_OWN} AND len({_TAGS}) >= 2""",
    )
)

register(
    Trace(
        name="text",
        description=f"Identical normalized text (at least {MIN_TEXT_CHARS} characters)",
        sql=f"""SELECT account_id, md5({NORMALIZED_TEXT}) AS item, t, post_id FROM p
                WHERE {_OWN} AND length({NORMALIZED_TEXT}) >= {MIN_TEXT_CHARS}""",
    )
)
