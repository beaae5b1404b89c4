"""Traces that are one SQL statement over the posts: targets, links, tags, mentions, text, media.

Reposts carry their original's links, tags and text, so only the repost trace counts them;
every other trace reads non-repost posts (the QUT toolkit does the same for links).
"""

from __future__ import annotations

from typing import Any

from cibwatch.coord.sqltext import NOT_SPACE, NOT_WORD, SPACE, lower_sql, trim_sql
from cibwatch.coord.traces import Trace, register
from cibwatch.coord.urls import normalized_url_sql, url_host_sql

_OWN = "p.kind <> 'repost'"


def _target(name: str, kind: str, what: str) -> Trace:
    return register(
        Trace(
            name=name,
            description=f"{what}: the same post, within the window",
            targets_posts=True,
            sql=f"""SELECT account_id, ref_post_id AS item, t, post_id FROM p
                    WHERE p.kind = '{kind}' AND ref_post_id IS NOT NULL""",
        )
    )


def _listed(
    name: str, column: str, expr: str, what: str, window: float, *, recurring: bool, default: bool = True
) -> Trace:
    return register(
        Trace(
            name=name,
            description=what,
            default=default,
            default_window=window,
            recurring=recurring,
            sql=f"""SELECT DISTINCT account_id, {expr} AS item, t, post_id
                    FROM (SELECT account_id, t, post_id, unnest({column}) AS v FROM p
                          WHERE {_OWN} AND len({column}) > 0)
                    WHERE v IS NOT NULL AND {expr} <> ''""",
        )
    )


# Lower-case, no links or @mentions, no leading "RT" (and a colon after it), whitespace collapsed;
# spelt so that DuckDB and Spark read it alike (coord/sqltext.py).
NORMALIZED_TEXT = trim_sql(
    f"regexp_replace(regexp_replace(regexp_replace(regexp_replace({lower_sql('p.text')}, "
    f"'https?://{NOT_SPACE}+', ' ', 'g'), '@\\w+', ' ', 'g'), "
    f"'^{SPACE}*rt(?::|({NOT_WORD})|$)', ' \\1'), '{SPACE}+', ' ', 'g')"
)
MIN_TEXT_CHARS = 20

_target("repost", "repost", "Reposts of the same post")
_target("quote", "quote", "Quotes of the same post")
_target("reply", "reply", "Replies to the same post")
# Default windows by tactic: amplification reposts within a minute; link farms and state media
# spread one article over hours; copied text goes out over hours; a hashtag push is dense within
# minutes, while a longer window on a hashtag links anyone who shares an interest.
TARGET_WINDOW_S = 60.0
LINK_WINDOW_S = 6 * 3600.0
TAG_WINDOW_S = 600.0
TEXT_WINDOW_S = 3 * 3600.0
MEDIA_WINDOW_S = 3600.0

_listed(
    "url",
    "urls",
    normalized_url_sql("v"),
    "The same link (normalized: host, path, no tracking)",
    LINK_WINDOW_S,
    recurring=False,
)
_listed(
    "domain",
    "urls",
    url_host_sql("v"),
    "Links to the same web site (host)",
    LINK_WINDOW_S,
    recurring=True,
    default=False,
)
_listed("hashtag", "hashtags", lower_sql("v"), "The same hashtag", TAG_WINDOW_S, recurring=True)
_listed(
    "mention",
    "mentions",
    lower_sql("v"),
    "Mentioning the same account",
    TAG_WINDOW_S,
    recurring=True,
    default=False,
)
_listed("media", "media_hashes", "v", "The same image or video (media hash)", MEDIA_WINDOW_S, recurring=False)

_TAGS = f"list_distinct(list_transform(hashtags, lambda h: {lower_sql('h')}))"

register(
    Trace(
        name="hashtag_set",
        description="The same set of two or more hashtags",
        default_window=TAG_WINDOW_S,
        recurring=True,
        sql=f"""SELECT account_id, array_to_string(list_sort({_TAGS}), ' ') AS item, t, post_id
                FROM p WHERE {_OWN} AND len({_TAGS}) >= 2""",
    )
)

# A post that links its author's own web site publishes the author's own article, and its text is
# the headline: newsrooms that run the same wire story each post it, linking each its own site.
# That is syndication, not copied posts, so the text traces compare such a post only with posts
# that link the same site: the site is part of the item. A site is the author's own when its
# profile links it; accounts whose profiles name one outlet still share that outlet's items.
OWN_SITE = "own_site"


def prepare_own_site(con: Any, params: dict[str, Any]) -> None:
    """Create ``own_site`` (post_id, site): posts that link their author's own web site."""
    con.execute(
        f"""CREATE TEMP TABLE IF NOT EXISTS {OWN_SITE} AS
            WITH own AS (
                SELECT DISTINCT account_id, {url_host_sql("url")} AS host FROM profile_urls
                WHERE url IS NOT NULL),
            linked AS (SELECT post_id, account_id, unnest(urls) AS u FROM p WHERE {_OWN} AND len(urls) > 0)
            SELECT l.post_id, min(o.host) AS site FROM linked l
            JOIN own o ON o.account_id = l.account_id AND o.host = {url_host_sql("l.u")} AND o.host <> ''
            GROUP BY l.post_id"""
    )


# The text traces' posts (own posts, long enough), each text normalized once for both text traces,
# with the site that scopes their item, if any. Materialized: else the length filter is pushed
# down and the normalization evaluated twice.
COPYABLE = "copyable"


def prepare_copyable(con: Any, params: dict[str, Any]) -> None:
    """Create ``copyable`` (account_id, t, post_id, normalized, h: its md5, scope)."""
    prepare_own_site(con, params)
    con.execute(
        f"""CREATE TEMP TABLE IF NOT EXISTS {COPYABLE} AS
            WITH own AS MATERIALIZED (
                SELECT p.account_id, p.t, p.post_id, {NORMALIZED_TEXT} AS normalized,
                       coalesce('@' || s.site, '') AS scope
                FROM p LEFT JOIN {OWN_SITE} s ON s.post_id = p.post_id WHERE {_OWN})
            SELECT account_id, t, post_id, normalized, md5(normalized) AS h, scope FROM own
            WHERE length(normalized) >= {MIN_TEXT_CHARS}"""
    )


register(
    Trace(
        name="text",
        description=f"Identical normalized text (at least {MIN_TEXT_CHARS} characters)",
        default_window=TEXT_WINDOW_S,
        prepare=prepare_copyable,
        sql=f"SELECT account_id, h || scope AS item, t, post_id FROM {COPYABLE}",
    )
)
