"""``render``: the case's tables in, ``report.html`` plus its ``report_files/`` folder out."""

from __future__ import annotations

import os
from pathlib import Path

from plotly.offline import get_plotlyjs

from cibwatch.progress import Progress, ProgressEvent
from cibwatch.report.charts import network
from cibwatch.report.data import Limits, collect
from cibwatch.report.figures import write_figures
from cibwatch.report.page import Assets, render_page
from cibwatch.store.case import Case, open_case

PLOTLY_FILE = "plotly.min.js"


def files_dir(out: Path) -> Path:
    """The folder beside ``out`` that holds plotly.js and the PNG figures (``report_files``)."""
    return out.parent / f"{out.stem}_files"


def render(
    case: Case | str | Path,
    out: str | Path | None = None,
    *,
    limits: Limits | None = None,
    inline_js: bool = False,
    figures: bool = True,
    progress: Progress | None = None,
    case_label: str | None = None,
) -> Path:
    """Write the HTML report of ``case`` to ``out`` (default ``<case>/report.html``) and return its path.

    Beside it, ``<name>_files/`` holds the PNG figures (unless ``figures=False``) and, unless
    ``inline_js``, plotly.js: the page opens from disk in any browser and loads nothing from the network.
    ``case_label`` names the case on the page instead of its folder (an export's temporary copy).

    >>> render("out/case", "out/report.html")           # doctest: +SKIP
    PosixPath('out/report.html')
    """
    limits = limits or Limits()
    opened = not isinstance(case, Case)
    the_case = case if isinstance(case, Case) else open_case(case)
    try:
        data = collect(the_case, limits, case_label=case_label)
    finally:
        if opened:
            the_case.close()
    out = Path(out) if out is not None else the_case.root / "report.html"
    folder = files_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):  # figures of a previous render that may have had more cards
        stale.unlink()

    total = 2 + (min(len(data.cards), limits.figure_cards) if figures else 0)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(ProgressEvent("report", "report", done, total))

    networks = [network(card, limits.members_drawn, limits.links_drawn) for card in data.cards]
    drawn = list(zip(data.cards, networks, strict=True))[: limits.figure_cards]
    pngs = write_figures(folder, data.bot_hist, data.coord_hist, drawn, progress=tick) if figures else None

    plotly_js = get_plotlyjs()
    if inline_js:
        assets = Assets(plotly_src=None, plotly_inline=plotly_js, files_dir=folder.name)
        (folder / PLOTLY_FILE).unlink(missing_ok=True)
    else:
        target = folder / PLOTLY_FILE
        if not target.exists() or target.read_text(encoding="utf-8") != plotly_js:
            target.write_text(plotly_js, encoding="utf-8")
        assets = Assets(plotly_src=f"{folder.name}/{PLOTLY_FILE}", files_dir=folder.name)
    html = render_page(data, networks, pngs, assets)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, out)
    tick()
    return out
