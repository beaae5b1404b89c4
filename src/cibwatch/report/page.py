"""The report page as one HTML string.

Everything that came from the data (post text, profile fields, ids, even dataset names) goes
through ``esc`` on its way in; nothing from the data becomes a link, so nothing in the page can
make the browser fetch anything. Charts travel as one JSON block that the page's own script draws.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cibwatch import __version__
from cibwatch.report import charts
from cibwatch.report.data import (
    AccountRow,
    Card,
    EdgeEvidence,
    Member,
    ReportData,
)
from cibwatch.report.figures import Png, safe_name

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


def esc(value: object) -> str:
    """Text for HTML: every value from the data passes through here."""
    return html.escape("" if value is None else str(value), quote=True)


def static(name: str) -> str:
    return resources.files("cibwatch.report").joinpath("static", name).read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no ``</script>``, no ``<!--``, whatever the data holds."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _q(value: float | None) -> str:
    return "—" if value is None else (f"{value:.2g}" if value >= 1e-3 else f"{value:.1e}")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) < 120:
        return f"{value:.0f} s"
    if abs(value) < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _when(ms: int | None) -> str:
    return "—" if ms is None else charts.iso(ms) + " UTC"


def _label_title(label: str | None) -> str:
    help_text = BOT_LABEL_HELP.get(label or "")
    return f' title="{esc(help_text)}"' if help_text else ""


def _data_v(value: float | int | None) -> str:
    return "" if value is None else f' data-v="{value}"'


@dataclass
class Assets:
    """How the page gets plotly.js: a file beside it (default) or inlined."""

    plotly_src: str | None  # relative path of plotly.min.js, or None when inlined
    plotly_inline: str | None = None
    files_dir: str = "report_files"  # folder of the PNGs, relative to the page


class Page:
    def __init__(
        self, data: ReportData, networks: list[charts.Network], pngs: list[Png] | None, assets: Assets
    ) -> None:
        self.data = data
        self.networks = networks
        self.pngs = pngs
        self.assets = assets
        self.specs: dict[str, Any] = {}
        # Card anchors, so account rows can point at their campaign's card.
        self.anchors = {
            card.card_id: f"card-{n:02d}-{safe_name(card.card_id)}"
            for n, card in enumerate(data.cards, start=1)
        }

    def _card_link(self, card_id: str | None) -> str:
        if not card_id:
            return "—"
        anchor = self.anchors.get(card_id)
        return f'<a href="#{esc(anchor)}">{esc(card_id)}</a>' if anchor else esc(card_id)

    def _chart(self, chart_id: str, spec: dict[str, Any], cls: str = "chart") -> str:
        self.specs[chart_id] = spec
        return f'<div class="{cls}" id="{esc(chart_id)}"></div>'

    def _png_link(self, name: str) -> str:
        return f'<p class="note">Figure for papers: <code>{esc(self.assets.files_dir)}/{esc(name)}</code></p>'

    # -- sections --------------------------------------------------------------------
    def absent_note(self, key: str) -> str:
        message = self.data.absent.get(key)
        return f'<div class="absent">{esc(message)}</div>' if message else ""

    def overview(self) -> str:
        o = self.data.overview
        span = (
            f"{_when(o.first_post_ms)} → {_when(o.last_post_ms)}"
            if o.first_post_ms is not None
            else "no posts"
        )
        tiles = [
            ("posts", _int(o.posts)),
            ("accounts (profiles and authors)", _int(o.accounts)),
            ("accounts that posted", _int(o.authors)),
            ("datasets", _int(len(o.datasets))),
            ("records quarantined", _int(o.quarantined)),
            ("accounts scored for bots", _int(o.bot_scored) if o.bot_scored is not None else "not run"),
            ("labelled bot", _int(o.bots) if o.bots is not None else "not run"),
            (
                "uncertain (between the human and bot thresholds)",
                _int(o.uncertain) if o.uncertain is not None else "not run",
            ),
            ("labelled human", _int(o.humans) if o.humans is not None else "not run"),
            (
                "accounts in coordination clusters",
                _int(o.coordinated) if o.coordinated is not None else "not run",
            ),
            ("coordination clusters", _int(o.clusters) if o.clusters is not None else "not run"),
            ("campaigns", _int(o.campaigns) if o.campaigns is not None else "not run"),
        ]
        out = [
            '<section id="overview"><h2>Overview</h2>',
            f"<p>Posts span {esc(span)}.</p>",
            '<div class="tiles">',
        ]
        out += [
            f'<div class="tile"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
            for k, v in tiles
        ]
        out.append("</div>")
        for key in ("posts", "bot_scores", "coord", "campaigns"):
            out.append(self.absent_note(key))
        out.append("<h3>Flagged accounts by recommendation tier</h3>")
        if o.tiers is None:
            out.append('<p class="note">No recommendations yet (they come with campaigns).</p>')
        else:
            out.append('<table class="tiers"><thead><tr><th>tier</th><th class="num">accounts</th>')
            out.append("<th>what it rests on</th></tr></thead><tbody>")
            for tier in TIER_HELP:  # most severe first
                out.append(
                    f'<tr><td class="tier-{esc(tier)}">{esc(tier)}</td>'
                    f'<td class="num">{_int(o.tiers.get(tier, 0))}</td><td>{esc(TIER_HELP[tier])}</td></tr>'
                )
            out.append("</tbody></table>")
        out.append("<h3>Datasets</h3>")
        if not o.datasets:
            out.append('<p class="note">No datasets ingested.</p></section>')
            return "".join(out)
        out.append('<table><thead><tr><th>dataset</th><th class="num">posts</th>')
        out.append('<th class="num">profile snapshots</th></tr></thead><tbody>')
        for name, posts, accounts in o.datasets:
            out.append(
                f'<tr><td>{esc(name)}</td><td class="num">{_int(posts)}</td>'
                f'<td class="num">{_int(accounts)}</td></tr>'
            )
        out.append("</tbody></table></section>")
        return "".join(out)

    def distributions(self) -> str:
        d = self.data
        out = ['<section id="distributions"><h2>Score distributions</h2><div class="grid2">']
        if d.bot_hist is not None:
            spec = charts.histogram_figure(d.bot_hist, "Bot score (calibrated probability)", "#762a83")
            out.append(
                "<div>"
                + self._chart("chart-bot-hist", spec)
                + self._png_link("bot_score_histogram.png")
                + "</div>"
            )
        else:
            out.append(self.absent_note("bot_scores"))
        if d.coord_hist is not None:
            spec = charts.histogram_figure(d.coord_hist, "Coordination score", "#1b7837")
            out.append(
                "<div>"
                + self._chart("chart-coord-hist", spec)
                + self._png_link("coordination_score_histogram.png")
                + "</div>"
            )
        else:
            out.append(self.absent_note("coord"))
        out.append("</div></section>")
        return "".join(out)

    def cards(self) -> str:
        d = self.data
        title = "Campaigns" if not d.cards or d.cards[0].kind == "campaign" else "Coordination clusters"
        out = [f'<section id="campaigns"><h2>{title}</h2>']
        if d.cards and d.cards[0].kind == "cluster":
            out.append(self.absent_note("campaigns"))
            out.append(
                '<p class="note">Showing coordination clusters instead: members without roles or tiers.</p>'
            )
        elif not d.cards:
            out.append(
                self.absent_note("campaigns") or '<p class="note">No campaigns were found in this case.</p>'
            )
            if "campaigns" in d.absent:
                out.append(self.absent_note("coord"))
        if d.n_cards > len(d.cards):
            out.append(f'<p class="note">Showing the {len(d.cards)} most suspicious of {d.n_cards:,}.</p>')
        for n, (card, net) in enumerate(zip(d.cards, self.networks, strict=True), start=1):
            out.append(self.card(n, card, net))
        out.append("</section>")
        return "".join(out)

    def card(self, n: int, card: Card, net: charts.Network) -> str:
        anchor = self.anchors[card.card_id]
        badge = ""
        if card.suspicion is not None:
            level = " high" if card.suspicion >= 0.6 else ""
            badge = f'<span class="badge{level}">suspicion {card.suspicion:.2f}</span>'
        out = [
            f'<article class="card" id="{esc(anchor)}"><h3>{esc(card.kind)} {esc(card.card_id)}{badge}</h3>'
        ]
        if card.summary:
            out.append(f"<p>{esc(card.summary)}</p>")
        out.append('<dl class="facts">')
        out += [f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in card.facts]
        if card.suspicion_components:
            out.append(f"<dt>suspicion components</dt><dd>{esc('; '.join(card.suspicion_components))}</dd>")
        out.append('</dl><div class="grid2"><div><h4>Who acts with whom</h4>')
        if net.nodes:
            out.append(self._chart(f"{anchor}-network", charts.network_figure(net)))
            hidden = f" The {net.n_hidden:,} weakest members are not drawn." if net.n_hidden else ""
            if net.n_links > len(net.links):
                hidden += f" The strongest {len(net.links):,} of {net.n_links:,} links are drawn."
            out.append(
                '<p class="note">Node size: co-acted items; lines: pairs that co-acted beyond chance.'
                f"{esc(hidden)}</p>"
            )
        else:
            out.append('<p class="note">No members recorded.</p>')
        out.append("</div><div><h4>Activity</h4>")
        if card.timeline:
            out.append(self._chart(f"{anchor}-timeline", charts.timeline_figure(card)))
            out.append(f'<p class="note">Posts by members per {esc(card.bucket)} (UTC).</p>')
        else:
            out.append('<p class="note">No dated posts by these members in the case.</p>')
        out.append("</div></div>")
        out.append(self.narratives(card))
        out.append(self.members(card))
        if card.evidence:
            out.append("<h4>Strongest evidence inside this group</h4>")
            out += [self.edge(e) for e in card.evidence]
        out.append("</article>")
        return "".join(out)

    def narratives(self, card: Card) -> str:
        rows = [
            ("hashtags", card.hashtags),
            ("domains", card.domains),
            ("links (shown as text, not followed)", card.urls),
            ("top co-acted items", card.items),
        ]
        out = ["<h4>Narratives</h4>"]
        listed = [(k, v) for k, v in rows if v]
        if listed:
            out.append('<dl class="facts">')
            for key, values in listed:
                out.append(
                    f"<dt>{esc(key)}</dt><dd>" + " ".join(f"<code>{esc(v)}</code>" for v in values) + "</dd>"
                )
            out.append("</dl>")
        for text, n in card.texts:
            by = f' <span class="note">({n:,} members)</span>' if n else ""
            out.append(f"<blockquote>{esc(text)}</blockquote>{by}")
        if not listed and not card.texts:
            out.append('<p class="note">No hashtags, links or repeated texts recorded.</p>')
        return "".join(out)

    def members(self, card: Card) -> str:
        limit = self.data.limits.members_listed
        shown = card.members[:limit]
        out = [f"<h4>Members ({len(card.members):,})</h4>"]
        if len(card.members) > limit:
            out.append(f'<p class="note">Showing the {limit} strongest of {len(card.members):,} members.</p>')
        out.append(
            '<table class="sortable members"><thead><tr><th>account</th><th>screen name</th><th>role</th>'
        )
        out.append(
            '<th class="num" data-type="num">bot score</th><th class="num" data-type="num">coordination</th>'
        )
        out.append('<th>tier</th><th class="num" data-type="num">partners</th>')
        out.append(
            '<th class="num" data-type="num">co-acted items</th><th>traces</th><th>creation burst</th>'
        )
        out.append("<th>shared profile patterns</th></tr></thead><tbody>")
        out += [self.member_row(m) for m in shown]
        out.append("</tbody></table>")
        return "".join(out)

    def member_row(self, m: Member) -> str:
        burst = "—" if m.in_creation_burst is None else ("yes" if m.in_creation_burst else "no")
        return (
            f"<tr><td>{esc(m.account_id)}</td><td>{esc(m.screen_name)}</td><td>{esc(m.role or '—')}</td>"
            f'<td class="num"{_data_v(m.bot_score)}>{_num(m.bot_score)}</td>'
            f'<td class="num"{_data_v(m.coordination_score)}>{_num(m.coordination_score)}</td>'
            f'<td class="tier-{esc(m.tier or "none")}">{esc(m.tier or "—")}</td>'
            f'<td class="num"{_data_v(m.degree)}>{_int(m.degree)}</td>'
            f'<td class="num"{_data_v(m.strength)}>{_num(m.strength, 0)}</td>'
            f"<td>{esc(m.traces or '—')}</td><td>{burst}</td><td>{esc(m.profile_patterns or '—')}</td></tr>"
        )

    def edge(self, ev: EdgeEvidence) -> str:
        e = ev.edge
        expected = f"{e.expected:.2f}" if e.expected is not None else "—"
        head = (
            f"{esc(e.account_a)} ↔ {esc(e.account_b)} · {esc(e.trace)} · "
            f"observed {_int(e.n_shared)} shared items "
            f"vs {expected} expected by chance · q = {_q(e.q_value)} · median gap {_seconds(e.median_gap_s)}"
        )
        out = [f'<div class="edge"><div class="head">{head}</div>']
        out.append(f'<div class="note">between {_when(e.first_ms)} and {_when(e.last_ms)}</div>')
        if not ev.rows:
            out.append('<p class="note">No evidence rows stored for this pair.</p></div>')
            return "".join(out)
        out.append('<table class="evidence"><thead><tr><th>item</th><th>post A</th><th>time A</th>')
        out.append(
            '<th>post B</th><th>time B</th><th class="num">gap</th><th>text A</th></tr></thead><tbody>'
        )
        for r in ev.rows:
            out.append(
                f"<tr><td><code>{esc(r.item)}</code></td><td>{esc(r.post_id_a)}</td><td>{esc(_when(r.time_a_ms))}</td>"
                f"<td>{esc(r.post_id_b)}</td><td>{esc(_when(r.time_b_ms))}</td>"
                f'<td class="num">{esc(_seconds(r.gap_s))}</td>'
                f'<td class="excerpt">{esc(r.text_a or "")}</td></tr>'
            )
        out.append("</tbody></table>")
        if ev.n_rows > len(ev.rows):
            out.append(f'<p class="note">The {len(ev.rows)} closest in time of {ev.n_rows:,} co-actions.</p>')
        out.append("</div>")
        return "".join(out)

    def accounts(self) -> str:
        d = self.data
        out = ['<section id="accounts"><h2>Accounts</h2>']
        if not d.accounts:
            out.append(self.absent_note("bot_scores") + self.absent_note("coord"))
            out.append('<p class="note">No account has a score yet.</p></section>')
            return "".join(out)
        if d.n_accounts > len(d.accounts):
            out.append(
                f'<p class="note">Showing the top {len(d.accounts):,} of {d.n_accounts:,} scored accounts '
                "(highest tier, then highest score); the full list is in the case's tables.</p>"
            )
        out.append('<p class="note">Click a column to sort.</p>')
        out.append('<table class="sortable accounts"><thead><tr><th>account</th><th>screen name</th>')
        out.append('<th class="num" data-type="num">bot score</th><th>bot label</th><th>bot type</th>')
        out.append('<th class="num" data-type="num">coordination</th><th>cluster</th><th>campaign</th>')
        out.append("<th>tier</th><th>reasons</th></tr></thead><tbody>")
        out += [self.account_row(a) for a in d.accounts]
        out.append("</tbody></table></section>")
        return "".join(out)

    def account_row(self, a: AccountRow) -> str:
        return (
            f"<tr><td>{esc(a.account_id)}</td><td>{esc(a.screen_name)}</td>"
            f'<td class="num"{_data_v(a.bot_score)}>{_num(a.bot_score)}</td>'
            f"<td{_label_title(a.bot_label)}>{esc(a.bot_label or '—')}</td>"
            f"<td>{esc(a.bot_type or '—')}</td>"
            f'<td class="num"{_data_v(a.coordination_score)}>{_num(a.coordination_score)}</td>'
            f"<td>{self._card_link(a.cluster_id)}</td><td>{self._card_link(a.campaign_id)}</td>"
            f'<td class="tier-{esc(a.tier or "none")}">{esc(a.tier or "—")}</td>'
            f"<td>{esc(a.reasons or '')}</td></tr>"
        )

    def evidence(self) -> str:
        d = self.data
        out = ['<section id="evidence"><h2>Evidence: the most significant co-actions</h2>']
        if not d.evidence:
            out.append(self.absent_note("coord") or '<p class="note">No coordination edges were found.</p>')
            out.append("</section>")
            return "".join(out)
        out.append(
            f'<p class="note">The {len(d.evidence)} most significant of {d.n_edges:,} account pairs: '
            "what they both did, when, and how far apart.</p>"
        )
        out += [self.edge(e) for e in d.evidence]
        out.append("</section>")
        return "".join(out)

    def figures(self) -> str:
        out = ['<section id="figures"><h2>Figures for papers</h2>']
        if self.pngs is None:
            out.append('<p class="note">Not written this time (figures were turned off).</p></section>')
            return "".join(out)
        if not self.pngs:
            out.append('<p class="note">No figures: there are no scores or groups to draw.</p></section>')
            return "".join(out)
        out.append(
            f'<p class="note">PNG files ({esc(150)} dpi) in <code>{esc(self.assets.files_dir)}/</code>.</p>'
        )
        out.append('<div class="figs">')
        for png in self.pngs:
            src = f"{self.assets.files_dir}/{png.name}"
            out.append(
                f'<figure><img src="{esc(src)}" alt="{esc(png.caption)}" loading="lazy">'
                f"<figcaption>{esc(png.caption)} — <code>{esc(png.name)}</code></figcaption></figure>"
            )
        out.append("</div></section>")
        return "".join(out)

    # -- the page ----------------------------------------------------------------------
    def render(self) -> str:
        d = self.data
        body = "".join(
            [
                self.overview(),
                self.distributions(),
                self.cards(),
                self.accounts(),
                self.evidence(),
                self.figures(),
            ]
        )
        hook, app = static("hook.js"), static("report.js")
        scripts = [hook, app] + ([self.assets.plotly_inline] if self.assets.plotly_inline else [])
        # Only the page's own scripts may run (by hash or from disk) and nothing may come from the
        # network: a defence behind the escaping, and a guarantee the page makes no requests.
        # 'file:' beside 'self': browsers disagree on whether a file:// page's 'self' covers the files
        # next to it (Chromium says yes); naming the scheme keeps plotly.js and the PNGs loading anywhere.
        csp = (
            "default-src 'self'; script-src 'self' file: " + " ".join(_csp_hash(s) for s in scripts) + "; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' file: data:; font-src 'self' data:; "
            "connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
        )
        if self.assets.plotly_inline:
            plotly_tag = f"<script>{self.assets.plotly_inline}</script>"
        else:
            plotly_tag = f'<script src="{esc(self.assets.plotly_src)}"></script>'
        generated = d.generated_at.strftime("%Y-%m-%d %H:%M UTC")
        return (
            "<!doctype html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>cibwatch report — {esc(d.case_root)}</title>"
            f"<script>{hook}</script><style>{static('report.css')}</style>{plotly_tag}</head>\n"
            "<body><header><h1>cibwatch report</h1>"
            f"<p>Case <code>{esc(d.case_root)}</code> · generated {esc(generated)} "
            f"by cibwatch {esc(__version__)}</p>"
            "<p>Scores are evidence for a person to weigh, not verdicts. "
            "Every flag below lists what it rests on.</p>"
            '<nav><a href="#overview">Overview</a><a href="#distributions">Scores</a>'
            '<a href="#campaigns">Campaigns</a><a href="#accounts">Accounts</a>'
            '<a href="#evidence">Evidence</a>'
            '<a href="#figures">Figures</a></nav></header>\n'
            f"<main>{body}</main>\n"
            "<footer>Text from posts and profiles is untrusted and shown as plain text; "
            "links are not followed. "
            "This page loads nothing from the network.</footer>"
            '<pre id="cibwatch-page-errors" hidden></pre>'
            f'<script type="application/json" id="cibwatch-charts">{script_json(self.specs)}</script>'
            f"<script>{app}</script></body></html>\n"
        )
