"""Built-in readers. Each module registers itself; importing this package loads them all."""

from cibwatch.ingest.formats import (  # noqa: F401
    bluesky,
    bot_repository,
    caverlee,
    coortweet,
    cresci,
    cresci_timelines,
    crowdtangle,
    io_archive,
    ira_538,
    kaggle_bots,
    mapped,
    mastodon,
    qut,
    twibot,
    twitter15_16,
    twitter_v1,
    twitter_v2,
)
