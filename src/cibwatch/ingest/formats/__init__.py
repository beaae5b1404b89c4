"""Built-in readers. Each module registers itself; importing this package loads them all."""

from cibwatch.ingest.formats import twitter_v1  # noqa: F401
from cibwatch.ingest.formats import bot_repository  # noqa: F401
from cibwatch.ingest.formats import twitter_v2  # noqa: F401
from cibwatch.ingest.formats import cresci  # noqa: F401
from cibwatch.ingest.formats import twibot  # noqa: F401
from cibwatch.ingest.formats import ira_538  # noqa: F401
from cibwatch.ingest.formats import caverlee  # noqa: F401
from cibwatch.ingest.formats import kaggle_bots  # noqa: F401
from cibwatch.ingest.formats import bluesky  # noqa: F401
from cibwatch.ingest.formats import io_archive, qut, coortweet  # noqa: F401
from cibwatch.ingest.formats import mastodon  # noqa: F401
from cibwatch.ingest.formats import crowdtangle, twitter15_16, cresci_timelines  # noqa: F401
