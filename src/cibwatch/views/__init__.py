"""The read model: what the case's tables say about an account, a campaign or the whole case.

Not a stage: it writes nothing and reads only tables (``cibwatch.schema``), so every reader (scan's
CSV files, the report, the API and web UI, review) shows the same facts, chosen and ordered one way.
It imports no stage package.

>>> from cibwatch import open_case, views
>>> case = open_case("out/case")                             # doctest: +SKIP
>>> views.accounts(views.account_rows(case).head(1))[0].tier  # doctest: +SKIP
'enforce-eligible'
>>> views.case_file(case, "12345")["recommendation"]["tier"]  # doctest: +SKIP
'enforce-eligible'
"""

from cibwatch.views.accounts import ACCOUNT_ROW_COLUMNS, AccountRow, account_rows, accounts
from cibwatch.views.campaigns import CampaignRecord, campaign, campaign_rows, records
from cibwatch.views.casefile import (
    CASE_FILE_VERSION,
    CaseEdge,
    CaseFile,
    EvidenceRow,
    case_file,
    review_history,
)
from cibwatch.views.evidence import (
    AccountEvidence,
    Activity,
    EdgePosts,
    EvidencePair,
    account_evidence,
    activity,
    bucketed,
    screen_names,
)
from cibwatch.views.network import network
from cibwatch.views.summary import CaseSummary, case_summary

__all__ = [
    "ACCOUNT_ROW_COLUMNS",
    "CASE_FILE_VERSION",
    "AccountEvidence",
    "AccountRow",
    "Activity",
    "CampaignRecord",
    "CaseEdge",
    "CaseFile",
    "CaseSummary",
    "EdgePosts",
    "EvidencePair",
    "EvidenceRow",
    "account_evidence",
    "account_rows",
    "accounts",
    "activity",
    "bucketed",
    "campaign",
    "campaign_rows",
    "case_file",
    "case_summary",
    "network",
    "records",
    "review_history",
    "screen_names",
]
