"""campaigns stage: coordination clusters become campaign records, accounts get a policy tier.

>>> from cibwatch import open_case
>>> from cibwatch.campaigns import assemble
>>> case = open_case("out/case")                         # doctest: +SKIP
>>> report = assemble(case)  # writes campaigns, campaign_members, recommendations  # doctest: +SKIP
>>> report.tiers["review"]                              # doctest: +SKIP
12
>>> report = run(case, CampaignsParams(policy="my-policy.toml"))  # the same, as a stage  # doctest: +SKIP
"""

from cibwatch.campaigns.assemble import AssembleReport, assemble
from cibwatch.campaigns.policy import Policy, Signal, Verdict, evaluate, load_policy, parse_policy
from cibwatch.campaigns.stage import CampaignsParams, CampaignsReport, run
from cibwatch.campaigns.summary import accounts_summary, campaigns_summary

__all__ = [
    "AssembleReport",
    "CampaignsParams",
    "CampaignsReport",
    "Policy",
    "Signal",
    "Verdict",
    "accounts_summary",
    "assemble",
    "campaigns_summary",
    "evaluate",
    "load_policy",
    "parse_policy",
    "run",
]
