"""review stage: decisions, appeals and a hash-chained audit log in the case's DuckDB file.

>>> from cibwatch.review import decide, appeal, resolve_appeal, verify_log   # doctest: +SKIP
>>> decide(case, "12345", "label", reviewer="ana", reason="…")               # doctest: +SKIP
>>> verify_log(case).ok                                                      # doctest: +SKIP
True
"""

from cibwatch.review.log import VerifyReport, checkpoint
from cibwatch.review.log import verify as verify_log
from cibwatch.review.signing import public_key_pem
from cibwatch.review.workflow import (
    ACTIONS,
    OUTCOMES,
    QUEUE_STATUSES,
    account_state,
    appeal,
    changes_since,
    decide,
    history,
    metrics,
    queue,
    resolve_appeal,
    show,
)

__all__ = [
    "ACTIONS",
    "OUTCOMES",
    "QUEUE_STATUSES",
    "VerifyReport",
    "account_state",
    "appeal",
    "changes_since",
    "checkpoint",
    "decide",
    "history",
    "metrics",
    "public_key_pem",
    "queue",
    "resolve_appeal",
    "show",
    "verify_log",
]
