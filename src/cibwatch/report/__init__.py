"""report stage: one HTML page (plus PNG figures) from a case's tables.

>>> from cibwatch.report import render
>>> render("out/case", "out/report.html")           # doctest: +SKIP
"""

from cibwatch.report.data import Limits, ReportData, collect
from cibwatch.report.render import render

__all__ = ["Limits", "ReportData", "collect", "render"]
