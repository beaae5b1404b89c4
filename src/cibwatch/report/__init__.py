"""report stage: one HTML page (plus PNG figures) from a case's tables.

>>> from cibwatch.report import render
>>> render("out/case", "out/report.html")           # doctest: +SKIP

The web UI's campaign page shows the same card as the report: ``card_fragment(campaign_card(case, id))``.
"""

from cibwatch.report.data import Card, Limits, ReportData, campaign_card, collect
from cibwatch.report.page import CardFragment, card_fragment, narratives_fragment
from cibwatch.report.render import render

__all__ = [
    "Card",
    "CardFragment",
    "Limits",
    "ReportData",
    "campaign_card",
    "card_fragment",
    "collect",
    "narratives_fragment",
    "render",
]
