"""The campaigns stage under the stage contract (``cibwatch.stage``): ``run`` writes ``campaigns``,
``campaign_members`` and ``recommendations`` (``assemble``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cibwatch.campaigns.assemble import AssembleReport, assemble
from cibwatch.campaigns.policy import Policy, load_policy
from cibwatch.progress import Progress
from cibwatch.stage import StageReport
from cibwatch.store.case import Case


@dataclass(frozen=True)
class CampaignsParams:
    """The recommendation policy: a TOML file, a loaded ``Policy``, or None for the shipped one."""

    policy: Policy | str | Path | None = None

    def load_policy(self) -> Policy:
        return self.policy if isinstance(self.policy, Policy) else load_policy(self.policy)


@dataclass(frozen=True)
class CampaignsReport(StageReport):
    """``tables``: rows per table written; ``result``: ``assemble``'s report (policy version, tiers)."""

    result: AssembleReport


def run(case: Case, params: CampaignsParams, *, progress: Progress | None = None) -> CampaignsReport:
    """Assemble ``case``'s campaigns and recommendations under the policy, and write their tables.

    >>> report = run(open_case("out/case"), CampaignsParams())  # doctest: +SKIP
    >>> report.result.tiers["enforce-eligible"]                 # doctest: +SKIP
    44
    """
    started = time.perf_counter()
    result = assemble(case, params.load_policy(), progress=progress)
    return CampaignsReport(
        tables={
            "campaigns": result.n_campaigns,
            "campaign_members": result.n_members,
            "recommendations": sum(result.tiers.values()),
        },
        seconds=time.perf_counter() - started,
        result=result,
    )
