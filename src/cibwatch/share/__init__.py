"""Sharing a case without exposing people: ``cibwatch export --pseudonymize``.

The outputs of ``cibwatch scan`` (accounts.csv, campaigns.csv, coord/, report.html), written by the
same writers from a pseudonymized copy of the case's tables: account and post ids replaced by keyed
hashes (HMAC-SHA256 with a secret kept in the case), and the names and texts of accounts that are
not flagged removed. Each export is checked for leaks before it is renamed into place.

>>> from cibwatch.share import export_case
>>> export_case("out/case", "share", pseudonymize=True).key_id   # doctest: +SKIP
'keyid-3f9a1c2b7d4e8f60'
"""

from cibwatch.share.check import Forbidden, Leak, find_leaks
from cibwatch.share.pseudonyms import Pseudonyms, case_key, key_id
from cibwatch.share.run import ExportResult, LeakError, export_case, forbidden
from cibwatch.share.scrub import Scrubber
from cibwatch.share.tables import COLUMNS, Rule, flagged_accounts, pseudonymize_case

__all__ = [
    "COLUMNS",
    "ExportResult",
    "Forbidden",
    "Leak",
    "LeakError",
    "Pseudonyms",
    "Rule",
    "Scrubber",
    "case_key",
    "export_case",
    "find_leaks",
    "flagged_accounts",
    "forbidden",
    "key_id",
    "pseudonymize_case",
]
