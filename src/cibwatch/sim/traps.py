"""Traps: organic behaviour that looks coordinated. Truth marks every account here organic.

A detector that flags these accounts is wrong; the scorecard counts them per trap.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cibwatch.sim import events as ev
from cibwatch.sim import text
from cibwatch.sim.plan import DAY_MS, Context, lognormal_ms, tactic
from cibwatch.sim.vocab import SOURCE_INDEX

WIRE_HEADLINES = (
    "Storm knocks out power to thousands across the region",
    "Central bank holds interest rates steady",
    "Lawmakers pass budget after late-night session",
    "Wildfire forces evacuations near the state line",
    "Unemployment falls to lowest level in two years",
    "Court blocks new voting rule pending appeal",
    "Airline cancels hundreds of flights after system outage",
    "Hospital strike ends with tentative deal",
    "Stocks close higher as tech shares rally",
    "Officials confirm measles cases at two schools",
    "Bridge closure to last through the summer",
    "Police identify suspect in downtown shooting",
)
OUTLET_NAMES = (
    "Metro Tribune",
    "Valley News",
    "City Courier",
    "Bay Daily",
    "Lakeside Gazette",
    "River Post",
    "Capital Ledger",
    "Harbor Times",
    "Prairie Star",
    "Summit Journal",
    "Coastal Herald",
    "Union Record",
)
FAN_CHEERS = ("QUEEN", "we love you", "iconic", "omg yes", "crying rn", "legend", "the moment", "stream it")


def _news_accounts(ctx: Context, n: int, names: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    rng = ctx.rng
    names_ = [names[i % len(names)] + ("" if i < len(names) else f" {i // len(names) + 1}") for i in range(n)]
    handles = [nm.replace(" ", "")[:15] for nm in names_]
    domains = [f"www.{h.lower()}.com" for h in handles]
    apps = [SOURCE_INDEX[a] for a in ("SocialFlow", "TweetDeck", "dlvr.it", "Twitter Web App")]
    idx = ctx.new_accounts(
        n,
        name=names_,
        username=handles,
        description=[
            f"News, weather and sports from the {nm}. Tips: newsroom at {d[4:]}"
            for nm, d in zip(names_, domains, strict=False)
        ],
        url=[f"https://{d}" for d in domains],
        followers=np.floor(rng.lognormal(10.5, 1.2, n)).astype(np.int64),
        verified=rng.random(n) < 0.5,
        default_profile=np.zeros(n, dtype=bool),
        rate=np.zeros(n),
        flat=rng.beta(6.0, 2.0, n),
        source=rng.choice(apps, n),
        created_ms=ctx.start_ms - rng.integers(2000, 5000, n) * DAY_MS,
    )
    return idx, domains


@tactic("fan_community", kind="trap")
def fan_community(ctx: Context) -> None:
    """Fans repost their star within minutes of every post."""
    rng = ctx.rng
    star = ctx.new_accounts(
        1,
        followers=np.array([2_400_000]),
        verified=np.array([True]),
        rate=np.zeros(1),
        name=["Nova Reyes"],
        username=["novareyes"],
        description=["singer. songwriter. new album out now"],
    )
    fans = ctx.recruit(ctx.size("fans", 120))
    m = int(ctx.params.get("star_posts_per_day", 2) * ctx.world.days)
    st = ctx.circadian_times(np.full(m, star[0]))
    posts = ctx.post(
        np.full(m, star[0]),
        st,
        body=text.bodies(ctx.rng, np.full(m, 3)),
        tag1=text.maybe(rng, pl.Series(["NovaTour"] * m), 0.5),
    )
    devotion = rng.beta(2.0, 3.0, len(fans))
    who = np.tile(fans, m)
    p = np.repeat(np.arange(m), len(fans))
    go = rng.random(len(who)) < np.tile(devotion, m)
    who, p = who[go], p[go]
    ctx.post(who, st[p] + 15_000 + lognormal_ms(rng, 150, 1.0, len(who)), kind=ev.REPOST, ref_key=posts[p])
    r = rng.random(len(who)) < 0.1
    cheers = pl.Series(FAN_CHEERS).gather(rng.integers(0, len(FAN_CHEERS), int(r.sum())))
    ctx.post(
        who[r],
        st[p[r]] + lognormal_ms(rng, 400, 1.0, int(r.sum())),
        kind=ev.REPLY,
        ref_key=posts[p[r]],
        body=cheers,
    )
    ctx.info.update(hashtags="NovaTour", description=f"{len(fans)} fans of one star account")


@tactic("breaking_news", kind="trap")
def breaking_news(ctx: Context) -> None:
    """A sudden event: thousands post and repost the first reports within the hour."""
    rng = ctx.rng
    tag = ctx.params.get("hashtag", "Earthquake")
    outlets, domains = _news_accounts(ctx, 5, OUTLET_NAMES[:5])
    people = ctx.recruit(ctx.size("accounts", 400))
    at = ctx.start_ms + int(ctx.params.get("at_fraction", 0.4) * (ctx.end_ms - ctx.start_ms))
    first_t = at + np.sort(rng.integers(60_000, 600_000, len(outlets)))
    urls: list[str | None] = [f"https://{d}/news/breaking-quake-{rng.integers(1000, 9999)}" for d in domains]
    reports = ctx.post(
        outlets,
        first_t,
        body=pl.Series(["BREAKING: Strong earthquake felt across the region"] * 5),
        tag1=tag,
        url=urls,
    )
    t = at + lognormal_ms(rng, 40 * 60, 1.0, len(people))
    rep = rng.random(len(people)) < 0.6
    which = rng.choice(len(reports), int(rep.sum()), p=np.array([0.4, 0.25, 0.15, 0.1, 0.1]))
    ctx.post(people[rep], np.maximum(t[rep], first_t[which] + 20_000), kind=ev.REPOST, ref_key=reports[which])
    own = people[~rep]
    ctx.post(own, t[~rep], body=text.bodies(rng, np.full(len(own), 5)), tag1=tag)
    ctx.info.update(hashtags=tag, description=f"{len(people)} people react to a breaking event")


@tactic("activist_campaign", kind="trap")
def activist_campaign(ctx: Context) -> None:
    """Activists share a campaign hashtag and petition link for days, each in their own words."""
    rng = ctx.rng
    tag = ctx.params.get("hashtag", "FundOurSchools")
    petition = "https://www.change.org/p/fund-our-schools-now"
    people = ctx.recruit(ctx.size("accounts", 80))
    per = rng.poisson(ctx.params.get("posts_per_day", 1.2) * ctx.world.days, len(people)) + 1
    who = np.repeat(people, per)
    t = ctx.circadian_times(who)
    url = text.maybe(rng, pl.Series([petition] * len(who)), 0.3)
    keys = ctx.post(who, t, body=text.bodies(rng, np.full(len(who), 8)), tag1=tag, url=url)
    # They repost each other now and then, at human speed.
    k = len(keys) // 2
    src = rng.choice(len(keys), k)
    rw = rng.choice(people, k)
    ok = rw != who[src]
    ctx.post(
        rw[ok],
        t[src[ok]] + lognormal_ms(rng, 3 * 3600, 1.2, int(ok.sum())),
        kind=ev.REPOST,
        ref_key=keys[src[ok]],
    )
    ctx.info.update(hashtags=tag, domains="www.change.org", description=f"{len(people)} activists")


@tactic("wire_story", kind="trap")
def wire_story(ctx: Context) -> None:
    """Newsrooms post the same wire headline, each linking its own site, within the hour."""
    rng = ctx.rng
    n = ctx.size("outlets", 12)
    outlets, domains = _news_accounts(ctx, n, OUTLET_NAMES)
    stories = int(ctx.params.get("stories_per_day", 6) * ctx.world.days)
    st = ctx.start_ms + np.sort(rng.integers(0, ctx.end_ms - ctx.start_ms, stories))
    headline = rng.integers(0, len(WIRE_HEADLINES), stories)
    who = np.tile(np.arange(n), stories)
    s = np.repeat(np.arange(stories), n)
    go = rng.random(len(who)) < 0.6
    who, s = who[go], s[go]
    t = st[s] + lognormal_ms(rng, 15 * 60, 0.7, len(s))
    dom = np.array(domains)[who]
    url: list[str | None] = [
        f"https://{d}/news/{int(i)}-story"
        for d, i in zip(dom.tolist(), (st[s] // 1000 % 10**7).tolist(), strict=False)
    ]
    body = pl.Series(WIRE_HEADLINES).gather(headline[s])
    ctx.post(outlets[who], t, body=body, url=url)
    ctx.info.update(description=f"{n} newsrooms, {stories} wire stories")


@tactic("op_amplified", kind="trap")
def op_amplified(ctx: Context) -> None:
    """Real people who repost an operation's post once or twice, hours later."""
    rng = ctx.rng
    ops = ctx.operation_posts
    if ops is None or ops.is_empty():
        return
    ops = ops.filter((pl.col("kind") == ev.ORIGINAL) & (pl.col("t") < ctx.end_ms - 3_600_000))
    people = ctx.recruit(ctx.size("accounts", 80))
    per = rng.integers(1, 3, len(people))
    who = np.repeat(people, per)
    pick = rng.choice(ops.height, len(who))
    t = ops["t"].to_numpy()[pick] + lognormal_ms(rng, 4 * 3600, 1.0, len(who))
    t = np.minimum(t, ctx.end_ms - 1000)  # everyone recruited does repost within the period
    ctx.post(who, t, kind=ev.REPOST, ref_key=ops["key"].to_numpy()[pick])
    ctx.info.update(description=f"{len(people)} people reposting operation content once or twice")
