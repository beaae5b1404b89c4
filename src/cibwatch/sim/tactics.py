"""Influence operations: each one registered function that adds accounts and plans posts.

Operation accounts are drawn by the organic profile generator and only shifted (younger,
flatter rhythm, other apps), and most keep an organic baseline of posting, so no single
field gives them away; what gives them away is acting together.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cibwatch.sim import events as ev
from cibwatch.sim import text
from cibwatch.sim.plan import DAY_MS, HOUR_MS, Context, lognormal_ms, tactic
from cibwatch.sim.vocab import SOURCE_INDEX

NARRATIVE_SUBJECTS = (
    "the mayor",
    "the election board",
    "the mainstream media",
    "the governor",
    "the new tax office",
    "the city council",
    "the health department",
    "the school board",
    "the port authority",
    "the energy company",
)
NARRATIVE_CLAIMS = (
    "is hiding the truth about",
    "lied to us about",
    "is secretly funded by",
    "wants to destroy",
    "covered up",
    "is quietly paying for",
    "will never admit the facts on",
    "sold us out on",
)
NARRATIVE_OBJECTS = (
    "our jobs",
    "the real numbers",
    "foreign donors",
    "our kids' schools",
    "the ballots",
    "local farmers",
    "the veterans",
    "the water supply",
    "the pension fund",
    "the border",
)
CALLS = (
    "Share before they delete this!",
    "Wake up people!",
    "RT if you agree.",
    "They don't want you to see this.",
    "Do your own research.",
    "Spread the word.",
    "Unbelievable.",
    "",
)
TWEAK_PREFIX = ("", "", "Wow.", "Read this:", "Unreal:", "Must read.", "THIS.", "Look:")
TWEAK_SUFFIX = ("", "", "!", "!!", " 🇺🇸", " 👇", " 😡", " ...", " 🔥")
CLICKBAIT = (
    "You won't believe what happened next",
    "Doctors hate this simple trick",
    "The truth about {t} finally revealed",
    "What they are not telling you about {t}",
    "Shocking new report on {t}",
    "This changes everything about {t}",
    "Insiders warn about {t}",
    "Leaked memo exposes {t}",
)
HEADLINE_TOPICS = (
    "the economy",
    "the election",
    "the border",
    "gas prices",
    "the war",
    "crime",
    "inflation",
    "vaccines",
)
LOCAL_NEWS_PERSONAS = (
    ("Arizona Daily Voice", "AZDailyVoice", "Phoenix, AZ", -7),
    ("Oregon Citizen Herald", "ORCitizenHerald", "Portland, OR", -8),
    ("Texas Morning Wire", "TXMorningWire", "Houston, TX", -6),
    ("Ohio Free Press", "OhioFreePress", "Columbus, OH", -5),
    ("Carolina Observer Now", "CarolinaObsNow", "Charlotte, NC", -5),
    ("Michigan Report Daily", "MIReportDaily", "Detroit, MI", -5),
    ("Florida Voice News", "FLVoiceNews", "Tampa, FL", -5),
    ("Nevada Local Times", "NVLocalTimes", "Las Vegas, NV", -8),
    ("Georgia Liberty News", "GALibertyNews", "Atlanta, GA", -5),
    ("Colorado Daily Record", "CODailyRecord", "Denver, CO", -7),
    ("Wisconsin Forward", "WIForwardNews", "Milwaukee, WI", -6),
    ("Virginia Citizen Post", "VACitizenPost", "Richmond, VA", -5),
)


def narrative(rng: np.random.Generator, n: int, *, k: int | None = None) -> pl.Series:
    """Campaign messages; with ``k``, only ``k`` distinct base messages are used."""
    s = rng.integers(0, len(NARRATIVE_SUBJECTS), n if k is None else k)
    c = rng.integers(0, len(NARRATIVE_CLAIMS), len(s))
    o = rng.integers(0, len(NARRATIVE_OBJECTS), len(s))
    e = rng.integers(0, len(CALLS), len(s))
    parts = zip(s.tolist(), c.tolist(), o.tolist(), e.tolist(), strict=True)
    subjects, claims, objects = NARRATIVE_SUBJECTS, NARRATIVE_CLAIMS, NARRATIVE_OBJECTS
    base = [
        f"{subjects[a].capitalize()} {claims[b]} {objects[d]}. {CALLS[f]}".strip() for a, b, d, f in parts
    ]
    if k is None:
        return pl.Series(base)
    return pl.Series(base).gather(rng.integers(0, k, n))


def tweak(rng: np.random.Generator, messages: pl.Series) -> pl.Series:
    """Small variations of copied text: a prefix, a suffix, some case changes."""
    n = len(messages)
    frame = pl.DataFrame(
        {
            "m": messages,
            "p": pl.Series(TWEAK_PREFIX).gather(rng.integers(0, len(TWEAK_PREFIX), n)),
            "s": pl.Series(TWEAK_SUFFIX).gather(rng.integers(0, len(TWEAK_SUFFIX), n)),
            "lower": rng.random(n) < 0.15,
        }
    )
    body = pl.when(pl.col("lower")).then(pl.col("m").str.to_lowercase()).otherwise(pl.col("m"))
    out = pl.concat_str([pl.col("p"), pl.lit(" "), body, pl.col("s")]).str.strip_chars()
    return frame.select(out.alias("b")).to_series()


def _links(rng: np.random.Generator, domains: tuple[str, ...], n_articles: int) -> list[str]:
    slug = [
        f"{a}-{b}-{rng.integers(1000, 99999)}"
        for a, b in zip(
            rng.choice(["truth", "report", "exposed", "leak", "crisis", "scandal"], n_articles),
            rng.choice(["today", "now", "revealed", "update", "alert", "video"], n_articles),
            strict=False,
        )
    ]
    return [f"https://{domains[i % len(domains)]}/{s}" for i, s in enumerate(slug)]


def _hours(n: float) -> int:
    return int(n * HOUR_MS)


@tactic("repost_ring")
def repost_ring(ctx: Context) -> None:
    """Automated accounts repost a few lead accounts within seconds to a few minutes."""
    rng = ctx.rng
    n = ctx.size("accounts", 30)
    tag = ctx.params.get("hashtag", "TruthMarch")
    ring = ctx.new_accounts(
        n,
        rate=rng.uniform(0.1, 1.2, n),
        flat=rng.beta(3.0, 3.0, n),
        source=rng.choice([SOURCE_INDEX["Twitter Web App"], SOURCE_INDEX["Twitter for Android"]], n),
    )
    leads = ring[: max(2, n // 10)]
    per_day = ctx.params.get("lead_posts_per_day", 4)
    author = np.repeat(leads, per_day * ctx.world.days)
    t = ctx.circadian_times(author)
    seeds = ctx.post(
        author, t, body=narrative(rng, len(author)), tag1=text.maybe(rng, pl.Series([tag] * len(author)), 0.7)
    )
    amplifiers = ring[len(leads) :]
    who = np.tile(amplifiers, len(seeds))
    seed_of = np.repeat(np.arange(len(seeds)), len(amplifiers))
    go = (
        rng.random(len(who))
        < rng.uniform(0.5, 0.9, len(amplifiers))[np.tile(np.arange(len(amplifiers)), len(seeds))]
    )
    who, seed_of = who[go], seed_of[go]
    delay = 8_000 + lognormal_ms(rng, 70, 0.9, len(who))
    ctx.post(who, t[seed_of] + delay, kind=ev.REPOST, ref_key=seeds[seed_of])
    ctx.info.update(
        hashtags=tag, description=f"{len(leads)} lead accounts amplified by {len(amplifiers)} repost bots"
    )


@tactic("copy_paste")
def copy_paste(ctx: Context) -> None:
    """Human-run troll accounts post the same few messages with small variations, in office hours."""
    rng = ctx.rng
    n = ctx.size("accounts", 24)
    tags = ctx.params.get("hashtags", ("StopTheLies", "WakeUpAmerica"))
    trolls = ctx.new_accounts(n, role="troll", rate=rng.uniform(0.3, 2.0, n), flat=rng.beta(1.0, 8.0, n))
    rounds = int(ctx.params.get("rounds_per_day", 3) * ctx.world.days)
    base = narrative(rng, rounds)
    round_t = ctx.office_times(rounds, ctx.params.get("operator_utc_offset", 3))
    who = np.tile(trolls, rounds)
    r = np.repeat(np.arange(rounds), n)
    go = rng.random(len(who)) < 0.6
    who, r = who[go], r[go]
    t = round_t[r] + rng.integers(0, _hours(2.5), len(r))
    t1 = pl.Series(tags).gather(rng.integers(0, len(tags), len(r)))
    ctx.post(
        who,
        t,
        body=tweak(rng, base.gather(r)),
        tag1=text.maybe(rng, t1, 0.8),
        source=ctx.world["source"][who],
    )
    ctx.info.update(hashtags=",".join(tags), description=f"{n} trolls, {rounds} copied messages")


@tactic("hashtag_push")
def hashtag_push(ctx: Context) -> None:
    """Accounts flood a new hashtag in a few bursts so it trends, mixed with popular tags."""
    rng = ctx.rng
    n = ctx.size("accounts", 40)
    tag = ctx.params.get("hashtag", "RecallTheBoard")
    created = ctx.start_ms - rng.integers(20, 200, n) * DAY_MS
    bots = ctx.new_accounts(n, created_ms=created, rate=rng.uniform(0.05, 0.8, n), flat=rng.beta(2.0, 3.0, n))
    bursts = ctx.params.get("bursts", 3)
    starts = np.sort(rng.integers(ctx.start_ms, ctx.end_ms - _hours(3), bursts))
    for start in starts:
        counts = rng.integers(1, 7, n)
        who = np.repeat(bots, counts)
        t = start + rng.integers(0, _hours(2), len(who))
        body = text.bodies(rng, ctx.world["topic"][who])
        ctx.post(who, t, body=body, tag1=tag, tag2=text.maybe(rng, text.organic_tags(rng, len(who)), 0.5))
    ctx.info.update(hashtags=tag, description=f"{n} accounts push #{tag} in {bursts} bursts")


@tactic("hashtag_hijack")
def hashtag_hijack(ctx: Context) -> None:
    """Accounts take over an activists' hashtag with the operation's message and links."""
    rng = ctx.rng
    n = ctx.size("accounts", 20)
    tag = ctx.params.get("hashtag", "FundOurSchools")
    domain = ctx.params.get("domain", "realschoolfacts.net")
    bots = ctx.new_accounts(n, rate=rng.uniform(0.1, 1.0, n), flat=rng.beta(2.0, 4.0, n))
    links = _links(rng, (domain,), 15)
    per = rng.poisson(ctx.params.get("posts_per_day", 3) * ctx.world.days, n) + 1
    who = np.repeat(bots, per)
    day = rng.integers(0, ctx.world.days, len(who))
    # Posting waves: the accounts are active on the same few hours each day.
    wave = rng.choice([13, 14, 19], len(who))
    t = ctx.start_ms + day * DAY_MS + wave * HOUR_MS + rng.integers(0, _hours(1.5), len(who))
    url = pl.Series(links).gather(rng.integers(0, len(links), len(who)))
    ctx.post(who, t, body=narrative(rng, len(who), k=10), tag1=tag, url=text.maybe(rng, url, 0.6))
    ctx.info.update(hashtags=tag, domains=domain, description=f"{n} accounts hijack #{tag}")


@tactic("link_farm")
def link_farm(ctx: Context) -> None:
    """Scheduled accounts post clickbait links to a few domains, the same articles across accounts."""
    rng = ctx.rng
    n = ctx.size("accounts", 30)
    domains = tuple(
        ctx.params.get("domains", ("dailytruthwire.com", "patriotnewsnow.net", "freedomherald.info"))
    )
    apps = [SOURCE_INDEX[a] for a in ("IFTTT", "dlvr.it", "Buffer", "Twitter Web App")]
    farm = ctx.new_accounts(
        n, rate=rng.uniform(0.0, 0.5, n), flat=rng.beta(5.0, 2.0, n), source=rng.choice(apps, n)
    )
    articles = _links(rng, domains, max(20, 6 * ctx.world.days))
    period = rng.uniform(1.5, 5.0, n) * HOUR_MS
    per = ((ctx.end_ms - ctx.start_ms) / period).astype(np.int64)
    who = np.repeat(farm, per)
    step = np.concatenate([np.arange(k) for k in per])
    phase = rng.integers(0, HOUR_MS, n)[np.searchsorted(farm, who)]
    t = ctx.start_ms + phase + (step * period[np.searchsorted(farm, who)]).astype(np.int64)
    t += rng.normal(0, 240_000, len(t)).astype(np.int64)
    # Articles go out in order: a post links to one of the few newest at its time.
    newest = ((t - ctx.start_ms) / (ctx.end_ms - ctx.start_ms) * len(articles)).astype(np.int64)
    art = np.clip(newest - rng.integers(0, 3, len(t)), 0, len(articles) - 1)
    topic = pl.Series(HEADLINE_TOPICS).gather(rng.integers(0, len(HEADLINE_TOPICS), len(t)))
    bait = pl.Series(CLICKBAIT).gather(rng.integers(0, len(CLICKBAIT), len(t)))
    body = (
        pl.DataFrame({"b": bait, "t": topic})
        .select(pl.col("b").str.replace("{t}", pl.col("t"), literal=True))
        .to_series()
    )
    ctx.post(who, t, body=body, url=pl.Series(articles).gather(art), source=ctx.world["source"][who])
    ctx.info.update(
        domains=",".join(domains), description=f"{n} scheduled accounts, {len(articles)} articles"
    )


@tactic("sleeper")
def sleeper(ctx: Context) -> None:
    """Accounts created in one batch lie dormant, then wake together and amplify one message."""
    rng = ctx.rng
    n = ctx.size("accounts", 40)
    tag = ctx.params.get("hashtag", "ExposeTheDeal")
    batch_at = ctx.start_ms - rng.integers(300, 700) * DAY_MS
    created = batch_at + rng.integers(0, 36 * HOUR_MS, n)
    accounts = ctx.new_accounts(
        n,
        created_ms=created,
        rate=np.zeros(n),
        flat=rng.beta(2.0, 2.0, n),
        tweet_count=rng.integers(0, 40, n),
    )
    wake = ctx.start_ms + int(ctx.params.get("wake_fraction", 0.55) * (ctx.end_ms - ctx.start_ms))
    heads = accounts[:3]
    m = ctx.params.get("messages", 12)
    mt = wake + np.sort(rng.integers(0, 2 * DAY_MS, m))
    msgs = ctx.post(heads[np.arange(m) % len(heads)], mt, body=narrative(rng, m), tag1=tag)
    who = np.tile(accounts[3:], m)
    msg = np.repeat(np.arange(m), n - 3)
    go = rng.random(len(who)) < 0.8
    who, msg = who[go], msg[go]
    ctx.post(who, mt[msg] + 30_000 + lognormal_ms(rng, 240, 1.0, len(who)), kind=ev.REPOST, ref_key=msgs[msg])
    # After waking they also post on their own, with the tag.
    per = rng.integers(3, 10, n)
    own = np.repeat(accounts, per)
    ot = ctx.circadian_times(own, wake, min(ctx.end_ms, wake + 3 * DAY_MS))
    ctx.post(
        own,
        ot,
        body=text.bodies(rng, ctx.world["topic"][own]),
        tag1=text.maybe(rng, pl.Series([tag] * len(own)), 0.6),
    )
    ctx.info.update(hashtags=tag, description=f"{n} accounts created within 36 h, woken together")


@tactic("cyborg")
def cyborg(ctx: Context) -> None:
    """People post normally, and now and then run an automated burst pushing the campaign's links."""
    rng = ctx.rng
    n = ctx.size("accounts", 12)
    tag = ctx.params.get("hashtag", "VoteThemOut")
    domain = ctx.params.get("domain", "citizenalertnow.org")
    people = ctx.new_accounts(n, role="cyborg", rate=rng.uniform(1.5, 5.0, n))
    links = _links(rng, (domain,), 10)
    burst_days = rng.choice(ctx.world.days, size=min(3, ctx.world.days), replace=False)
    for day in burst_days:
        for person in people:
            if rng.random() < 0.3:
                continue
            start = ctx.start_ms + int(day) * DAY_MS + rng.integers(_hours(10), _hours(20))
            k = int(rng.integers(10, 30))
            t = start + np.cumsum(rng.normal(60_000, 4_000, k)).astype(np.int64)
            url = pl.Series(links).gather(rng.integers(0, len(links), k))
            app = SOURCE_INDEX["Hootsuite Inc."] if rng.random() < 0.6 else SOURCE_INDEX["TweetDeck"]
            ctx.post(np.full(k, person), t, body=narrative(rng, k, k=6), tag1=tag, url=url, source=app)
    ctx.info.update(hashtags=tag, domains=domain, description=f"{n} human accounts with automated bursts")


@tactic("state_media")
def state_media(ctx: Context) -> None:
    """Accounts posing as local news push one outlet's articles (2018 Iran-style network)."""
    rng = ctx.rng
    n = min(ctx.size("accounts", 12), 4 * len(LOCAL_NEWS_PERSONAS))
    outlet = ctx.params.get("outlet", "globalfrontpress.com")
    personas = [LOCAL_NEWS_PERSONAS[i % len(LOCAL_NEWS_PERSONAS)] for i in range(n)]
    suffix = [
        "" if i < len(LOCAL_NEWS_PERSONAS) else str(i // len(LOCAL_NEWS_PERSONAS) + 1) for i in range(n)
    ]
    accounts = ctx.new_accounts(
        n,
        role="state-media",
        rate=np.zeros(n),
        name=[p[0] + (" " + s if s else "") for p, s in zip(personas, suffix, strict=False)],
        username=[(p[1] + s)[:15] for p, s in zip(personas, suffix, strict=False)],
        description=[
            f"Independent local news for {p[2].split(',')[0]} and beyond. Breaking stories daily."
            for p in personas
        ],
        location=[p[2] for p in personas],
        url=[f"https://{p[1].lower()}.com" for p in personas],
        tz_s=np.array([p[3] * 3600 for p in personas]),
        followers=np.floor(rng.lognormal(7.0, 0.9, n)).astype(np.int64),
        default_profile=np.zeros(n, dtype=bool),
        source=rng.choice([SOURCE_INDEX["dlvr.it"], SOURCE_INDEX["Twitter Web Client"]], n),
    )
    articles = max(10, int(ctx.params.get("articles_per_day", 6) * ctx.world.days))
    art_t = ctx.office_times(articles, ctx.params.get("operator_utc_offset", 3.5))
    heads = narrative(rng, articles)
    urls = [
        f"https://{outlet}/{d}/{rng.integers(10000, 99999)}"
        for d in rng.choice(["news", "us", "world", "politics"], articles)
    ]
    who = np.tile(accounts, articles)
    a = np.repeat(np.arange(articles), n)
    go = rng.random(len(who)) < 0.45
    who, a = who[go], a[go]
    t = art_t[a] + lognormal_ms(rng, 3 * 3600, 0.8, len(a))
    ctx.post(
        who,
        t,
        body=tweak(rng, pl.Series(heads).gather(a)),
        url=pl.Series(urls).gather(a),
        source=ctx.world["source"][who],
    )
    # Cover: links to mainstream outlets, and occasional reposts of each other.
    k = len(a) // 3
    cw = rng.choice(accounts, k)
    ctx.post(cw, ctx.office_times(k, 3.5), url=text.organic_urls(rng, k), source=ctx.world["source"][cw])
    own = ctx.frame()
    originals = own.filter((pl.col("kind") == ev.ORIGINAL) & pl.col("url").str.contains(outlet, literal=True))
    pick = rng.choice(originals.height, size=max(1, originals.height // 5))
    rw = rng.choice(accounts, len(pick))
    src = originals[pick.tolist()]
    keep = rw != src["author"].to_numpy()
    ctx.post(
        rw[keep],
        src["t"].to_numpy()[keep] + lognormal_ms(rng, 1800, 1.0, int(keep.sum())),
        kind=ev.REPOST,
        ref_key=src["key"].to_numpy()[keep],
    )
    ctx.info.update(domains=outlet, description=f"{n} fake local-news accounts pushing {outlet}")
