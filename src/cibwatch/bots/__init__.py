"""Account scoring: a calibrated, explained bot score that works offline.

>>> from cibwatch.bots import score
>>> score([{"account_id": "1", "followers": 0, "following": 1203}])  # doctest: +SKIP
>>> run(open_case("out/case"), BotsParams())  # writes bot_scores  # doctest: +SKIP
"""

from cibwatch.bots.features import BEHAVIOUR_FEATURES, PROFILE_FEATURES, behaviour_features, profile_features
from cibwatch.bots.model import BotModel
from cibwatch.bots.score import OUTPUT_COLUMNS, explain_account, load_model, score, score_case
from cibwatch.bots.stage import BotsParams, BotsReport, run

__all__ = [
    "BEHAVIOUR_FEATURES",
    "OUTPUT_COLUMNS",
    "PROFILE_FEATURES",
    "BotModel",
    "BotsParams",
    "BotsReport",
    "behaviour_features",
    "explain_account",
    "load_model",
    "profile_features",
    "run",
    "score",
    "score_case",
]
