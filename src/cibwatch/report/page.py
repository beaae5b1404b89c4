"""The report page, rendered from ``templates/report.html.j2``.

Everything that came from the data (post text, profile fields, ids, even dataset names) is escaped
by the template engine (``cibwatch.templating``); nothing from the data becomes a link, so nothing
in the page can make the browser fetch anything. Charts travel as one JSON block that the page's
own script draws.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markupsafe import Markup

from cibwatch import __version__
from cibwatch.report import charts
from cibwatch.report.data import Card, Limits, Overview, ReportData
from cibwatch.report.figures import Png, safe_name
from cibwatch.templating import environment

TIER_HELP = {
    "enforce-eligible": "at least two independent strong lines of evidence, one of them coordination",
    "review": "one strong line, or weak signals from several independent groups",
    "monitor": "a weak signal only",
    "none": "no signal",
}

# The bot model's three labels, as a tooltip in the accounts table.
BOT_LABEL_HELP = {
    "bot": "score at or above the model's bot threshold",
    "uncertain": "score between the model's human and bot thresholds: neither bot nor human",
    "human": "score below the model's human threshold",
}


def static(name: str) -> str:
    return resources.files("cibwatch.report").joinpath("static", name).read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no ``</script>``, no ``<!--``, whatever the data holds."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def _fixed(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _qvalue(value: float | None) -> str:
    return "—" if value is None else (f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}")


def duration(value: float | None) -> str:
    """Seconds as the pages show them: seconds, minutes or hours."""
    if value is None:
        return "—"
    if abs(value) < 120:
        return f"{value:.0f} s"
    if abs(value) < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _utc(ms: int | None) -> str:
    return "—" if ms is None else charts.iso(ms) + " UTC"


# The templates' number and time formats, by the names they use.
TEMPLATES = environment(
    "cibwatch.report", fixed=_fixed, count=_count, qvalue=_qvalue, duration=duration, utc=_utc
)


@dataclass
class Assets:
    """How the page gets plotly.js: a file beside it (default) or inlined."""

    plotly_src: str | None  # relative path of plotly.min.js, or None when inlined
    plotly_inline: str | None = None
    files_dir: str = "report_files"  # folder of the PNGs, relative to the page


def _tiles(o: Overview) -> list[tuple[str, str]]:
    """The overview's figures as (label, value); "not run" where the stage has not run."""

    def ran(value: int | None) -> str:
        return _count(value) if value is not None else "not run"

    return [
        ("posts", _count(o.posts)),
        ("accounts (profiles and authors)", _count(o.accounts)),
        ("accounts that posted", _count(o.authors)),
        ("datasets", _count(len(o.datasets))),
        ("records quarantined", _count(o.quarantined)),
        ("accounts scored for bots", ran(o.bot_scored)),
        ("labelled bot", ran(o.bots)),
        ("uncertain (between the human and bot thresholds)", ran(o.uncertain)),
        ("labelled human", ran(o.humans)),
        ("accounts in coordination clusters", ran(o.coordinated)),
        ("coordination clusters", ran(o.clusters)),
        ("campaigns", ran(o.campaigns)),
    ]


def _chart_specs(
    data: ReportData, networks: list[charts.Network], anchors: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every chart of the page by element id, in page order; the template draws a box for each."""
    specs: dict[str, dict[str, Any]] = {}
    if data.bot_hist is not None:
        specs["chart-bot-hist"] = charts.histogram_figure(
            data.bot_hist, "Bot score (calibrated probability)", "#762a83"
        )
    if data.coord_hist is not None:
        specs["chart-coord-hist"] = charts.histogram_figure(data.coord_hist, "Coordination score", "#1b7837")
    for card, net in zip(data.cards, networks, strict=True):
        specs.update(_card_specs(card, net, anchors[card.card_id]))
    return specs


def _card_specs(card: Card, net: charts.Network, anchor: str) -> dict[str, dict[str, Any]]:
    """The card's network and timeline charts by element id; the card macro draws a box for each."""
    specs = {}
    if net.nodes:
        specs[f"{anchor}-network"] = charts.network_figure(net)
    if card.timeline:
        specs[f"{anchor}-timeline"] = charts.timeline_figure(card)
    return specs


def card_anchor(number: int, card: Card) -> str:
    """The element id of the ``number``-th card (from 1): account rows and charts point at it."""
    return f"card-{number:02d}-{safe_name(card.card_id)}"


@dataclass(frozen=True)
class CardFragment:
    """One card rendered outside the report (the web UI's campaign page) and the charts it draws.

    ``charts_json`` goes into a ``<script type="application/json" id="cibwatch-charts">`` element,
    which ``static/report.js`` draws with plotly.js, as in the report.
    """

    html: Markup
    charts: dict[str, dict[str, Any]]
    charts_json: str


def narratives_fragment(card: Card) -> Markup:
    """The card's narratives section alone, as the report shows it (an account page shows its campaign's)."""
    macros = TEMPLATES.get_template("macros.html.j2").make_module({})
    return Markup(macros.narratives(card))  # type: ignore[attr-defined]


def card_fragment(
    card: Card, limits: Limits | None = None, *, account_url: Callable[[str], str] | None = None
) -> CardFragment:
    """``card`` as the report draws it, escaped like the report; members link to ``account_url(id)`` if given.

    >>> card_fragment(campaign_card(case, "c1"), account_url=lambda a: "/accounts/" + a)  # doctest: +SKIP
    """
    limits = limits or Limits()
    net = charts.network(card, limits.members_drawn, limits.links_drawn)
    anchor = card_anchor(1, card)
    specs = _card_specs(card, net, anchor)
    macros = TEMPLATES.get_template("macros.html.j2").make_module(
        {"anchors": {card.card_id: anchor}, "specs": specs, "limits": limits, "account_url": account_url}
    )
    return CardFragment(
        html=Markup(macros.card(card, net)),  # type: ignore[attr-defined]
        charts=specs,
        charts_json=script_json(specs),
    )


def render_page(
    data: ReportData, networks: list[charts.Network], pngs: list[Png] | None, assets: Assets
) -> str:
    """The report page: ``networks`` are the cards' drawings, ``pngs`` None when figures are off."""
    # Card anchors, so account rows can point at their campaign's card.
    anchors = {card.card_id: card_anchor(n, card) for n, card in enumerate(data.cards, start=1)}
    specs = _chart_specs(data, networks, anchors)
    hook, app = static("hook.js"), static("report.js")
    scripts = [hook, app] + ([assets.plotly_inline] if assets.plotly_inline else [])
    # Only the page's own scripts may run (by hash or from disk) and nothing may come from the
    # network: a defence behind the escaping, and a guarantee the page makes no requests.
    # 'file:' beside 'self': browsers disagree on whether a file:// page's 'self' covers the files
    # next to it (Chromium says yes); naming the scheme keeps plotly.js and the PNGs loading anywhere.
    csp = (
        "default-src 'self'; script-src 'self' file: " + " ".join(_csp_hash(s) for s in scripts) + "; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' file: data:; font-src 'self' data:; "
        "connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return TEMPLATES.get_template("report.html.j2").render(
        data=data,
        cards=list(zip(data.cards, networks, strict=True)),
        anchors=anchors,
        limits=data.limits,
        account_url=None,  # the report stands alone: an account is text, not a link
        tiles=_tiles(data.overview),
        tier_help=TIER_HELP,
        bot_label_help=BOT_LABEL_HELP,
        specs=specs,
        charts_json=script_json(specs),
        pngs=pngs,
        assets=assets,
        csp=csp,
        hook=hook,
        app=app,
        css=static("report.css"),
        generated=data.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )
