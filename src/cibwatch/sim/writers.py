"""Serialize simulated posts as X API v2 pages (as twarc2 writes them) or v1.1 tweets.

JSON is assembled column-wise with polars string expressions: every string that goes
between quotes comes from a JSON-safe vocabulary (checked) or is encoded once per account,
so there is no per-post Python and no per-post ``dumps``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO, Final

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from cibwatch.sim import events as ev
from cibwatch.sim import vocab
from cibwatch.sim.world import TWEPOCH_MS, World

PAGE_SIZE = 500  # full-archive search pages hold up to 500 posts
_EXPORT_ROWS = 4096  # strings copied out of Polars at once to be written
_UNSAFE = np.zeros(256, dtype=bool)  # bytes that would need escaping in a JSON string
_UNSAFE[[*range(32), ord('"'), ord("\\")]] = True
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_V2_DATE = "%Y-%m-%dT%H:%M:%S.000Z"
_V1_DATE = "%a %b %d %H:%M:%S +0000 %Y"
# v1.1 gives the posting app as an HTML anchor, v2 as its plain name.
_SOURCES_JSON = {
    "v1": pl.Series(
        [orjson.dumps(f'<a href="{h}" rel="nofollow">{n}</a>').decode() for n, h in vocab.SOURCES]
    ),
    "v2": pl.Series([orjson.dumps(n).decode() for n, _ in vocab.SOURCES]),
}


def post_ids(t: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Snowflake-style ids: creation ms in the high bits, a scramble of the post's key in the low 22.

    The scramble is a bijection of (key mod 2**21, planned or not), so ids in a window never
    collide, and the low bits do not tell planted posts from organic ones at a glance.
    """
    x = (key % (1 << 21)) * 2 + (key >= ev.PLANNED_KEY_BASE)
    y = (x * 0x2F5A3B) % (1 << 22)  # odd multiplier: a permutation of 22-bit values
    low = y ^ (y >> 11)
    return (t - TWEPOCH_MS) * (1 << 22) + low


def tco(ids: np.ndarray) -> pl.Series:
    """A t.co-like short link per id (10 base62 characters from a hash of the id)."""
    x = ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    chars = np.empty((len(ids), 10), dtype=np.uint8)
    for j in range(10):
        chars[:, j] = _B62[(x % np.uint64(62)).astype(np.int64)]
        x //= np.uint64(62)
    codes = chars.view("S10").ravel()
    return pl.Series(codes).cast(pl.String)


def _q(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit('"'), expr, pl.lit('"')])


def _b(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr).then(pl.lit("true")).otherwise(pl.lit("false"))


def _iso(ms: pl.Expr, fmt: str) -> pl.Expr:
    return pl.from_epoch(ms, "ms").dt.strftime(fmt)


def _fmt(template: str, *exprs: pl.Expr) -> pl.Expr:
    """``template`` with each ``{}`` replaced by the next expression (null if any is null).

    The nulls are relied on: a hashtag or link entity is null where the post has none.
    """
    pieces = template.split("{}")
    if len(pieces) != len(exprs) + 1:
        raise ValueError(f"template needs {len(pieces) - 1} values, got {len(exprs)}")
    parts: list[pl.Expr] = []
    for piece, expr in zip(pieces, [*exprs, None], strict=False):
        if piece:
            parts.append(pl.lit(piece))
        if expr is not None:
            parts.append(expr.cast(pl.String))
    return pl.concat_str(parts)


def _evaluate(frame: pl.DataFrame, expr: pl.Expr) -> pl.Series:
    """One string expression over every row; the streaming engine spreads the rows over all cores."""
    return frame.lazy().select(expr).collect(engine=_ENGINE).to_series()


_ENGINE: Final = "streaming"


def _join_nonnull(parts: list[pl.Expr], sep: str = ",") -> pl.Expr:
    """Join the non-null parts with ``sep``; null when every part is null."""
    # ``replace`` rather than when/then: the joined expression is evaluated once, not twice.
    return pl.concat_str(parts, separator=sep, ignore_nulls=True).replace("", None)


_new_page = pl.col("page") != pl.col("page").shift(1, fill_value=-1)
_HAS_TAG = pl.col("tag1").is_not_null() | pl.col("tag2").is_not_null()
_HAS_URL = pl.col("url").is_not_null()


def _sparse(frame: pl.DataFrame, present: pl.Expr, expr: pl.Expr) -> pl.Series:
    """``expr`` where ``present`` holds and null elsewhere, built on those rows only.

    For the entities few posts have (hashtags, links), which a when/then would build for every row.
    """
    mask = frame.select(present).to_series()
    values = frame.lazy().filter(present).select(expr).collect().to_series()
    return pl.repeat(None, frame.height, dtype=pl.String, eager=True).scatter(mask.arg_true(), values)


class Writer:
    """Turns prepared post frames into JSON lines; one subclass per format."""

    name = ""
    extension = "jsonl"

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.users = pl.DataFrame(
            {
                "uid": pl.Series(world["user_id"]).cast(pl.String),
                "uname": pl.Series(world["username"], dtype=pl.String),
                "dname": pl.Series(world["name"], dtype=pl.String),
            }
        )
        self.user_json = self._user_json()

    # -- shared pieces --------------------------------------------------------------
    def prepare(self, posts: pl.DataFrame) -> pl.DataFrame:
        """Add ids, author fields, the full text and entity positions (a function of the rows alone)."""
        ids = post_ids(posts["t"].to_numpy(), posts["key"].to_numpy())
        ref_ids = post_ids(posts["ref_t"].to_numpy(), posts["ref_key"].to_numpy())
        root_ids = post_ids(posts["root_t"].to_numpy(), posts["root_key"].to_numpy())
        author = posts["author"].to_numpy()
        ref_author = np.maximum(posts["ref_author"].to_numpy(), 0)
        mention = np.maximum(posts["mention"].to_numpy(), 0)
        link_ids = np.where(posts["kind"].to_numpy() == ev.REPOST, ref_ids, ids)
        u = self.users
        frame = posts.with_columns(
            id=pl.Series(ids).cast(pl.String),
            ref_id=pl.Series(ref_ids).cast(pl.String),
            root_id=pl.Series(root_ids).cast(pl.String),
            uid=u["uid"].gather(author),
            ruid=u["uid"].gather(ref_author),
            runame=u["uname"].gather(ref_author),
            muid=u["uid"].gather(mention),
            muname=u["uname"].gather(mention),
            mdname=u["dname"].gather(mention),
            tco=tco(link_ids),
            src_json=_SOURCES_JSON[self.name].gather(posts["source"].to_numpy()),
        )
        has_ref_mention = pl.col("kind").is_in([ev.REPOST, ev.REPLY])
        prefix = (
            pl.when(pl.col("kind") == ev.REPOST)
            .then(pl.concat_str([pl.lit("RT @"), pl.col("runame"), pl.lit(": ")]))
            .when(pl.col("kind") == ev.REPLY)
            .then(pl.concat_str([pl.lit("@"), pl.col("runame"), pl.lit(" ")]))
            .otherwise(pl.lit(""))
        )
        frame = frame.with_columns(
            _pre=prefix,
            _m=pl.when(pl.col("mention") >= 0)
            .then(pl.concat_str([pl.lit("@"), pl.col("muname"), pl.lit(" ")]))
            .otherwise(pl.lit("")),
            _t1=pl.concat_str([pl.lit(" #"), pl.col("tag1")]).fill_null(""),
            _t2=pl.concat_str([pl.lit(" #"), pl.col("tag2")]).fill_null(""),
            _u=pl.when(pl.col("url").is_not_null())
            .then(pl.concat_str([pl.lit(" https://t.co/"), pl.col("tco")]))
            .otherwise(pl.lit("")),
        )
        frame = frame.with_columns(
            text=pl.concat_str(
                [pl.col("_pre"), pl.col("_m"), pl.col("body"), pl.col("_t1"), pl.col("_t2"), pl.col("_u")]
            ),
            _lp=pl.col("_pre").str.len_chars().cast(pl.Int64),
            _lm=pl.col("_m").str.len_chars().cast(pl.Int64),
            _lb=pl.col("body").str.len_chars().cast(pl.Int64),
            _l1=pl.col("_t1").str.len_chars().cast(pl.Int64),
            _l2=pl.col("_t2").str.len_chars().cast(pl.Int64),
            _lu=pl.col("_u").str.len_chars().cast(pl.Int64),
            _has_rm=has_ref_mention,
        )
        if any(_UNSAFE[np.frombuffer(data, dtype=np.uint8)].any() for data in _utf8_bytes(frame["text"])):
            bad = frame["text"].filter(frame["text"].str.contains(r'["\\\x00-\x1f]'))
            raise RuntimeError(f"simulated text is not JSON-safe: {bad[0]!r}")
        # Entity positions: [start, end) in characters.
        return frame.with_columns(
            rm_s=pl.lit(0, pl.Int64) + pl.when(pl.col("kind") == ev.REPOST).then(3).otherwise(0),
            rm_e=pl.when(pl.col("kind") == ev.REPOST)
            .then(pl.col("runame").str.len_chars().cast(pl.Int64) + 4)
            .otherwise(pl.col("runame").str.len_chars().cast(pl.Int64) + 1),
            m_s=pl.col("_lp"),
            m_e=pl.col("_lp") + pl.col("_lm") - 1,
            t1_s=pl.col("_lp") + pl.col("_lm") + pl.col("_lb") + 1,
            t1_e=pl.col("_lp") + pl.col("_lm") + pl.col("_lb") + pl.col("_l1"),
            t2_s=pl.col("_lp") + pl.col("_lm") + pl.col("_lb") + pl.col("_l1") + 1,
            t2_e=pl.col("_lp") + pl.col("_lm") + pl.col("_lb") + pl.col("_l1") + pl.col("_l2"),
            u_s=pl.col("_lp") + pl.col("_lm") + pl.col("_lb") + pl.col("_l1") + pl.col("_l2") + 1,
            u_e=pl.col("_lp") + pl.col("_lm") + pl.col("_lb") + pl.col("_l1") + pl.col("_l2") + pl.col("_lu"),
            disp=pl.col("url").str.strip_prefix("https://").str.strip_prefix("www.").str.slice(0, 23)
            + pl.when(pl.col("url").str.len_chars() > 31).then(pl.lit("…")).otherwise(pl.lit("")),
        )

    def _user_json(self) -> pl.Series:
        raise NotImplementedError

    def tweet_json(self, frame: pl.DataFrame) -> pl.Series:
        raise NotImplementedError

    def lines(self, frame: pl.DataFrame, store: pl.DataFrame, retrieved_ms: int) -> pl.Series:
        raise NotImplementedError

    def embeddable(self, json: pl.Expr) -> pl.Expr:
        """A post's JSON as other posts' pages or tweets include it."""
        return json


def _profile_frame(world: World) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uid": pl.Series(world["user_id"]).cast(pl.String),
            "name": pl.Series(world["name"], dtype=pl.String),
            "username": pl.Series(world["username"], dtype=pl.String),
            "created": pl.Series(world["created_ms"]),
            "description": pl.Series(world["description"], dtype=pl.String),
            "location": pl.Series(world["location"], dtype=pl.String),
            "url": pl.Series(world["url"], dtype=pl.String),
            "verified": world["verified"],
            "followers": world["followers"],
            "following": world["following"],
            "tweets": world["tweet_count"],
            "listed": world["listed"],
            "likes": world["likes"],
            "default_profile": world["default_profile"],
            "default_image": world["default_profile_image"],
            "background": world["background"],
            "image_id": world["image_id"],
        }
    )


def _image_url(size: str) -> pl.Expr:
    return (
        pl.when(pl.col("default_image"))
        .then(pl.lit(f"https://abs.twimg.com/sticky/default_profile_images/default_profile_{size}.png"))
        .otherwise(
            pl.concat_str(
                [
                    pl.lit("https://pbs.twimg.com/profile_images/"),
                    pl.col("image_id").cast(pl.String),
                    pl.lit(f"/avatar_{size}.jpg"),
                ]
            )
        )
    )


class V2Writer(Writer):
    """One twarc2-style response page per line: data, includes.users, includes.tweets, meta."""

    name = "v2"

    def _user_json(self) -> pl.Series:
        p = _profile_frame(self.world)
        location = pl.when(pl.col("location") != "").then(
            pl.concat_str([pl.lit(',"location":'), _q(pl.col("location"))])
        )
        expr = pl.concat_str(
            [
                pl.lit(',{"id":"'),  # the comma: see ``lines``
                pl.col("uid"),
                pl.lit('","name":"'),
                pl.col("name"),
                pl.lit('","username":"'),
                pl.col("username"),
                pl.lit('","created_at":"'),
                _iso(pl.col("created"), _V2_DATE),
                pl.lit('","description":"'),
                pl.col("description"),
                pl.lit('"'),
                location.fill_null(""),
                pl.lit(',"url":"'),
                pl.col("url"),
                pl.lit('","verified":'),
                _b(pl.col("verified")),
                pl.lit(',"protected":false,"profile_image_url":"'),
                _image_url("normal"),
                pl.lit('","public_metrics":{"followers_count":'),
                pl.col("followers").cast(pl.String),
                pl.lit(',"following_count":'),
                pl.col("following").cast(pl.String),
                pl.lit(',"tweet_count":'),
                pl.col("tweets").cast(pl.String),
                pl.lit(',"listed_count":'),
                pl.col("listed").cast(pl.String),
                pl.lit("}}"),
            ]
        )
        return p.select(expr.alias("json")).to_series()

    def tweet_json(self, frame: pl.DataFrame) -> pl.Series:
        c = pl.col
        hashtags = _join_nonnull(
            [
                _fmt('{"start":{},"end":{},"tag":"{}"}', c("t1_s"), c("t1_e"), c("tag1")),
                _fmt('{"start":{},"end":{},"tag":"{}"}', c("t2_s"), c("t2_e"), c("tag2")),
            ]
        )
        mentions = _join_nonnull(
            [
                pl.when(c("_has_rm")).then(
                    _fmt(
                        '{"start":{},"end":{},"username":"{}","id":"{}"}',
                        c("rm_s"),
                        c("rm_e"),
                        c("runame"),
                        c("ruid"),
                    )
                ),
                pl.when(c("mention") >= 0).then(
                    _fmt(
                        '{"start":{},"end":{},"username":"{}","id":"{}"}',
                        c("m_s"),
                        c("m_e"),
                        c("muname"),
                        c("muid"),
                    )
                ),
            ]
        )
        urls = _fmt(
            '{"start":{},"end":{},"url":"https://t.co/{}","expanded_url":"{}","display_url":"{}"}',
            c("u_s"),
            c("u_e"),
            c("tco"),
            c("url"),
            c("disp"),
        )
        frame = frame.with_columns(
            _hashtags=_sparse(frame, _HAS_TAG, hashtags), _urls=_sparse(frame, _HAS_URL, urls)
        )
        entities = _join_nonnull(
            [
                pl.concat_str([pl.lit('"hashtags":['), c("_hashtags"), pl.lit("]")]),
                pl.concat_str([pl.lit('"mentions":['), mentions, pl.lit("]")]),
                pl.concat_str([pl.lit('"urls":['), c("_urls"), pl.lit("]")]),
            ]
        )
        ref_type = (
            pl.when(c("kind") == ev.REPOST)
            .then(pl.lit("retweeted"))
            .when(c("kind") == ev.REPLY)
            .then(pl.lit("replied_to"))
            .when(c("kind") == ev.QUOTE)
            .then(pl.lit("quoted"))
        )
        is_rt = c("kind") == ev.REPOST
        expr = pl.concat_str(
            [
                pl.lit(',{"id":"'),  # the comma: see ``lines``
                c("id"),
                pl.lit('","text":"'),
                c("text"),
                pl.lit('","author_id":"'),
                c("uid"),
                pl.lit('","created_at":"'),
                _iso(c("t"), _V2_DATE),
                pl.lit('","conversation_id":"'),
                c("root_id"),
                pl.lit('","edit_history_tweet_ids":["'),
                c("id"),
                pl.lit('"],"lang":"en","source":'),
                c("src_json"),
                pl.lit(
                    ',"possibly_sensitive":false,"reply_settings":"everyone","public_metrics":{"retweet_count":'
                ),
                pl.when(is_rt).then(0).otherwise(c("n_rt")).cast(pl.String),
                pl.lit(',"reply_count":'),
                pl.when(is_rt).then(0).otherwise(c("n_reply")).cast(pl.String),
                pl.lit(',"like_count":'),
                pl.when(is_rt).then(0).otherwise(c("n_like")).cast(pl.String),
                pl.lit(',"quote_count":'),
                pl.when(is_rt).then(0).otherwise(c("n_quote")).cast(pl.String),
                pl.lit("}"),
                pl.concat_str(
                    [
                        pl.lit(',"referenced_tweets":[{"type":"'),
                        ref_type,
                        pl.lit('","id":"'),
                        c("ref_id"),
                        pl.lit('"}]'),
                    ]
                ).fill_null(""),
                pl.when(c("kind") == ev.REPLY)
                .then(pl.concat_str([pl.lit(',"in_reply_to_user_id":"'), c("ruid"), pl.lit('"')]))
                .otherwise(pl.lit("")),
                pl.concat_str([pl.lit(',"entities":{'), entities, pl.lit("}")]).fill_null(""),
                pl.lit("}"),
            ]
        )
        return _evaluate(frame, expr.alias("json"))

    def lines(self, frame: pl.DataFrame, store: pl.DataFrame, retrieved_ms: int) -> pl.Series:
        if frame.is_empty():
            return pl.Series("s", [], dtype=pl.String)
        # A page is written as pieces (the posts, users, referenced tweets and the text between
        # them), each piece one string; sorting the pieces by (page, section) lays the page out
        # without joining strings. Tweets and users are rendered with a leading comma, so only the
        # first item of each array is copied (to swap its comma for the array's opening).
        frame = frame.with_columns(page=(pl.int_range(pl.len()) // PAGE_SIZE).cast(pl.Int64))
        retrieved = datetime.fromtimestamp(retrieved_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        data = _array_items(frame.select("page", s="json"), 0, '{"data":[')
        who = pl.concat(
            [frame.select("page", pl.col(c).alias("idx")) for c in ("author", "ref_author", "mention")]
        ).filter(pl.col("idx") >= 0)
        # Each (page, account) once, in order of first appearance; one integer key hashes faster.
        who = who.filter((pl.col("page") * len(self.user_json) + pl.col("idx")).is_first_distinct())
        who = who.sort("page", maintain_order=True)
        users = _array_items(
            who.select("page", s=self.user_json.gather(who["idx"])), 1, '],"includes":{"users":['
        )
        refs = (
            frame.filter(pl.col("ref_key") >= 0)
            .select("page", "ref_key")
            .unique(maintain_order=True)
            .join(
                store.select(pl.col("key").alias("ref_key"), "json"),
                on="ref_key",
                how="left",
                maintain_order="left",
            )
        )
        if refs["json"].null_count():
            raise RuntimeError("a referenced post is missing from the simulator's store")
        tweets = _array_items(refs.select("page", s="json"), 3, '],"tweets":[')
        meta = frame.group_by("page", maintain_order=True).agg(
            pl.len().alias("count"), pl.col("id").first().alias("oldest"), pl.col("id").last().alias("newest")
        )
        has_tweets = meta["page"].is_in(refs["page"].unique().implode())
        # A page without referenced tweets closes its users here; one with them, in their opening.
        users_end = meta.filter(~has_tweets).select("page", section=pl.lit(2, pl.Int8), s=pl.lit("]"))
        ends = meta.select(
            "page",
            pl.lit(4, pl.Int8).alias("section"),
            pl.concat_str(
                [
                    pl.when(pl.lit(has_tweets)).then(pl.lit("]")).otherwise(pl.lit("")),
                    pl.lit('},"meta":{"result_count":'),
                    pl.col("count").cast(pl.String),
                    pl.lit(',"newest_id":"'),
                    pl.col("newest"),
                    pl.lit('","oldest_id":"'),
                    pl.col("oldest"),
                    pl.lit(
                        '"},"__twarc":{"url":"https://api.twitter.com/2/tweets/search/all","version":"2.14.0",'
                    ),
                    pl.lit(f'"retrieved_at":"{retrieved}"}}}}\n'),
                ]
            ).alias("s"),
        )
        pieces = pl.concat([*data, *users, users_end, *tweets, ends], how="vertical")
        return pieces.sort(pl.col("page") * _SECTIONS + pl.col("section"), maintain_order=True)["s"]


_SECTIONS = 5  # of a v2 page: posts, users, end of users, referenced tweets, end


def _array_items(items: pl.DataFrame, section: int, opening: str) -> list[pl.DataFrame]:
    """The pieces of each page's JSON array of ``items`` (``page``, ``s``; each ``s`` starts with a comma).

    The first item of a page has its comma replaced by ``opening``; the others are kept as they
    are (no copy). The firsts come before the rest, so a stable sort by (page, section) puts
    each page's first item first.
    """
    first = items.select(_new_page).to_series()
    section_col = pl.lit(section, pl.Int8).alias("section")
    return [
        items.filter(first).select(
            "page", section_col, pl.concat_str([pl.lit(opening), pl.col("s").str.slice(1)]).alias("s")
        ),
        items.filter(~first).select("page", section_col, "s"),
    ]


class V1Writer(Writer):
    """One v1.1 tweet per line, retweeted and quoted tweets embedded, each with its user."""

    name = "v1"

    def _user_json(self) -> pl.Series:
        p = _profile_frame(self.world)
        expr = pl.concat_str(
            [
                pl.lit('{"id":'),
                pl.col("uid"),
                pl.lit(',"id_str":"'),
                pl.col("uid"),
                pl.lit('","name":"'),
                pl.col("name"),
                pl.lit('","screen_name":"'),
                pl.col("username"),
                pl.lit('","location":"'),
                pl.col("location"),
                pl.lit('","url":'),
                pl.when(pl.col("url") != "").then(_q(pl.col("url"))).otherwise(pl.lit("null")),
                pl.lit(',"description":"'),
                pl.col("description"),
                pl.lit('","protected":false,"verified":'),
                _b(pl.col("verified")),
                pl.lit(',"followers_count":'),
                pl.col("followers").cast(pl.String),
                pl.lit(',"friends_count":'),
                pl.col("following").cast(pl.String),
                pl.lit(',"listed_count":'),
                pl.col("listed").cast(pl.String),
                pl.lit(',"favourites_count":'),
                pl.col("likes").cast(pl.String),
                pl.lit(',"statuses_count":'),
                pl.col("tweets").cast(pl.String),
                pl.lit(',"created_at":"'),
                _iso(pl.col("created"), _V1_DATE),
                pl.lit('","utc_offset":null,"time_zone":null,"geo_enabled":false,"lang":null,'),
                pl.lit('"profile_background_color":"'),
                pl.when(pl.col("default_profile")).then(pl.lit("F5F8FA")).otherwise(pl.lit("C0DEED")),
                pl.lit('","profile_image_url_https":"'),
                _image_url("normal"),
                pl.lit('","default_profile":'),
                _b(pl.col("default_profile")),
                pl.lit(',"default_profile_image":'),
                _b(pl.col("default_image")),
                pl.lit(',"profile_use_background_image":'),
                _b(pl.col("background")),
                pl.lit("}"),
            ]
        )
        return p.select(expr.alias("json")).to_series()

    def tweet_json(self, frame: pl.DataFrame) -> pl.Series:
        c = pl.col
        frame = frame.with_columns(_user=self.user_json.gather(frame["author"]))
        hashtags = _join_nonnull(
            [
                _fmt('{"text":"{}","indices":[{},{}]}', c("tag1"), c("t1_s"), c("t1_e")),
                _fmt('{"text":"{}","indices":[{},{}]}', c("tag2"), c("t2_s"), c("t2_e")),
            ]
        )
        mention_fmt = '{"screen_name":"{}","name":"{}","id":{},"id_str":"{}","indices":[{},{}]}'
        mentions = _join_nonnull(
            [
                pl.when(c("_has_rm")).then(
                    _fmt(mention_fmt, c("runame"), c("rdname"), c("ruid"), c("ruid"), c("rm_s"), c("rm_e"))
                ),
                pl.when(c("mention") >= 0).then(
                    _fmt(mention_fmt, c("muname"), c("mdname"), c("muid"), c("muid"), c("m_s"), c("m_e"))
                ),
            ]
        ).fill_null("")
        urls = _fmt(
            '{"url":"https://t.co/{}","expanded_url":"{}","display_url":"{}","indices":[{},{}]}',
            c("tco"),
            c("url"),
            c("disp"),
            c("u_s"),
            c("u_e"),
        )
        frame = frame.with_columns(
            _hashtags=_sparse(frame, _HAS_TAG, hashtags), _urls=_sparse(frame, _HAS_URL, urls)
        )
        hashtags, urls = c("_hashtags").fill_null(""), c("_urls").fill_null("")
        is_reply = c("kind") == ev.REPLY
        reply_fields = (
            pl.when(is_reply)
            .then(
                _fmt(
                    '"in_reply_to_status_id":{},"in_reply_to_status_id_str":"{}","in_reply_to_user_id":{},'
                    '"in_reply_to_user_id_str":"{}","in_reply_to_screen_name":"{}"',
                    c("ref_id"),
                    c("ref_id"),
                    c("ruid"),
                    c("ruid"),
                    c("runame"),
                )
            )
            .otherwise(
                pl.lit(
                    '"in_reply_to_status_id":null,"in_reply_to_status_id_str":null,"in_reply_to_user_id":null,'
                    '"in_reply_to_user_id_str":null,"in_reply_to_screen_name":null'
                )
            )
        )
        # The embedded tweet is the big part: copy it once, with small literals around it.
        is_quote = c("kind") == ev.QUOTE
        embedded = pl.concat_str(
            [
                pl.when(c("kind") == ev.REPOST)
                .then(pl.lit(',"retweeted_status":'))
                .when(is_quote)
                .then(
                    _fmt(
                        ',"is_quote_status":true,"quoted_status_id":{},"quoted_status_id_str":"{}"',
                        c("ref_id"),
                        c("ref_id"),
                    )
                )
                .otherwise(pl.lit("")),
                pl.when(is_quote).then(pl.lit(',"quoted_status":')).otherwise(pl.lit("")),
                c("ref_json").fill_null(""),
                pl.when(is_quote).then(pl.lit("")).otherwise(pl.lit(',"is_quote_status":false')),
            ]
        )
        is_rt = c("kind") == ev.REPOST
        expr = pl.concat_str(
            [
                pl.lit('{"created_at":"'),
                _iso(c("t"), _V1_DATE),
                pl.lit('","id":'),
                c("id"),
                pl.lit(',"id_str":"'),
                c("id"),
                pl.lit('","text":"'),
                c("text"),
                pl.lit('","source":'),
                c("src_json"),
                pl.lit(',"truncated":false,'),
                reply_fields,
                pl.lit(',"user":'),
                c("_user"),
                pl.lit(',"geo":null,"coordinates":null,"place":null,"contributors":null'),
                embedded,
                pl.lit(',"retweet_count":'),
                pl.when(is_rt).then(0).otherwise(c("n_rt")).cast(pl.String),
                pl.lit(',"favorite_count":'),
                pl.when(is_rt).then(0).otherwise(c("n_like")).cast(pl.String),
                pl.lit(',"entities":{"hashtags":['),
                hashtags,
                pl.lit('],"urls":['),
                urls,
                pl.lit('],"user_mentions":['),
                mentions,
                pl.lit(
                    '],"symbols":[]},"favorited":false,"retweeted":false,"filter_level":"low","lang":"en",'
                ),
                pl.lit('"timestamp_ms":"'),
                c("t").cast(pl.String),
                pl.lit('"}\n'),  # a whole line; the store strips the newline before embedding
            ]
        )
        return _evaluate(frame, expr.alias("json"))

    def prepare(self, posts: pl.DataFrame) -> pl.DataFrame:
        frame = super().prepare(posts)
        return frame.with_columns(
            rdname=self.users["dname"].gather(np.maximum(posts["ref_author"].to_numpy(), 0))
        )

    def lines(self, frame: pl.DataFrame, store: pl.DataFrame, retrieved_ms: int) -> pl.Series:
        if frame.is_empty():
            return pl.Series("s", [], dtype=pl.String)
        return frame["json"]

    def embeddable(self, json: pl.Expr) -> pl.Expr:
        return json.str.strip_suffix("\n")  # a v1.1 tweet ends its own line


def write_pieces(fh: BinaryIO, pieces: pl.Series) -> None:
    """Write the strings back to back (they carry their own newlines).

    The strings are exported as Arrow ``large_string`` arrays, whose bytes are the strings back
    to back, and their buffers written as they are: one copy, made without the GIL. (Polars' CSV
    writer, used before, cost about twice as much CPU per byte.)
    """
    for data in _utf8_bytes(pieces):
        fh.write(data)


def _utf8_bytes(strings: pl.Series) -> Iterator[memoryview]:
    """The UTF-8 bytes of ``strings`` back to back, ``_EXPORT_ROWS`` strings at a time.

    Each slice is one Arrow export, so the copy in memory is a slice's, not the whole part's.
    """
    for start in range(0, len(strings), _EXPORT_ROWS):
        array = strings.slice(start, _EXPORT_ROWS).to_arrow(compat_level=pl.CompatLevel.oldest())
        for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
            if len(chunk) == 0 or chunk.buffers()[2] is None:
                continue
            offsets = chunk.buffers()[1]
            ends = np.frombuffer(offsets, dtype=np.int64)[[chunk.offset, chunk.offset + len(chunk)]]
            yield memoryview(chunk.buffers()[2])[int(ends[0]) : int(ends[1])]


WRITERS: dict[str, type[Writer]] = {"v2": V2Writer, "v1": V1Writer}
