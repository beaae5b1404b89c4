"""Plotly figure specs as plain dicts, and the seeded network layout the PNG figures share.

Specs are dicts rather than ``plotly.graph_objects`` so the page needs only plotly.js. Text that
came from posts or profiles goes into hover labels, which plotly reads as a small subset of HTML:
it is escaped here so a label shows ``<b>`` instead of making text bold.
"""

from __future__ import annotations

import html
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import igraph

from cibwatch.report.data import HIST_BINS, Card, Member
from cibwatch.schema import ROLE_RANK

ROLE_COLORS = {"core": "#b2182b", "amplifier": "#ef8a62", "peripheral": "#878787"}
NO_ROLE_COLOR = "#2166ac"
LAYOUT_SEED = 20161108


@dataclass
class Network:
    """The members drawn for one card, their positions in [-1, 1]², and the pairs linking them."""

    nodes: list[Member]
    xy: list[tuple[float, float]]
    links: list[tuple[int, int, int, str]]  # (node i, node j, co-acted items, traces), strongest drawn
    n_hidden: int  # members left out to keep the drawing readable
    n_links: int = 0  # all links between the drawn members; ``links`` may hold fewer


def network(card: Card, max_nodes: int, max_links: int = 1500, seed: int = LAYOUT_SEED) -> Network:
    """Lay out the card's strongest ``max_nodes`` members; the same card always gives the same picture.

    The layout uses every link between them; only the ``max_links`` strongest are drawn, which keeps
    a dense group's page small.
    """
    nodes = card.members[:max_nodes]
    index = {m.account_id: i for i, m in enumerate(nodes)}
    pairs: dict[tuple[int, int], tuple[int, set[str]]] = {}
    for edge in card.edges:
        i, j = index.get(edge.account_a), index.get(edge.account_b)
        if i is None or j is None or i == j:
            continue
        key = (min(i, j), max(i, j))
        items, traces = pairs.get(key, (0, set()))
        pairs[key] = (items + (edge.n_shared or 1), traces | {edge.trace})
    links = [(i, j, items, ",".join(sorted(traces))) for (i, j), (items, traces) in sorted(pairs.items())]
    strongest = sorted(sorted(links, key=lambda link: -link[2])[:max_links])
    return Network(
        nodes=nodes,
        xy=_layout(len(nodes), links, seed),
        links=strongest,
        n_hidden=len(card.members) - len(nodes),
        n_links=len(links),
    )


def _layout(n: int, links: list[tuple[int, int, int, str]], seed: int) -> list[tuple[float, float]]:
    if n == 0:
        return []
    if n == 1:
        return [(0.0, 0.0)]
    graph = igraph.Graph(n=n, edges=[(i, j) for i, j, _, _ in links])
    weights = [1.0 + math.log1p(items) for _, _, items, _ in links] or None
    # igraph draws from one global generator; lend it a seeded one so the layout is reproducible.
    igraph.set_random_number_generator(random.Random(seed))
    try:
        coords = graph.layout_fruchterman_reingold(weights=weights, niter=500).coords
    finally:
        igraph.set_random_number_generator(random)
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [(round(2 * (x - cx) / span, 4), round(2 * (y - cy) / span, 4)) for x, y in coords]


def role_order(role: str | None) -> int:
    """Legend order: core, amplifier, peripheral, then anything else."""
    return ROLE_RANK.get(role or "", len(ROLE_RANK))


def label(member: Member) -> str:
    """A member's hover label: escaped, since names are whatever the account owner typed."""
    name = f"@{member.screen_name}" if member.screen_name else member.account_id
    lines = [f"<b>{html.escape(name)}</b> ({html.escape(member.account_id)})"]
    facts = [
        f"role {member.role}" if member.role else None,
        f"bot {member.bot_score:.2f}" if member.bot_score is not None else "bot —",
        f"coord {member.coordination_score:.2f}" if member.coordination_score is not None else None,
        f"tier {member.tier}" if member.tier else None,
    ]
    lines.append(html.escape(" · ".join(f for f in facts if f)))
    return "<br>".join(lines)


def network_figure(net: Network) -> dict[str, Any]:
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for i, j, _, _ in net.links:
        edge_x += [net.xy[i][0], net.xy[j][0], None]
        edge_y += [net.xy[i][1], net.xy[j][1], None]
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": edge_x,
            "y": edge_y,
            "line": {"width": 0.8, "color": "rgba(90,90,90,0.35)"},
            "hoverinfo": "skip",
            "showlegend": False,
        }
    ]
    roles = sorted({m.role for m in net.nodes}, key=role_order)
    sizes = node_sizes(net)
    for role in roles:
        picked = [i for i, m in enumerate(net.nodes) if m.role == role]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": role or "member",
                "x": [net.xy[i][0] for i in picked],
                "y": [net.xy[i][1] for i in picked],
                "text": [label(net.nodes[i]) for i in picked],
                "hoverinfo": "text",
                "marker": {
                    "size": [sizes[i] for i in picked],
                    "color": ROLE_COLORS.get(role or "", NO_ROLE_COLOR),
                    "line": {"width": 1, "color": "#ffffff"},
                },
            }
        )
    axis = {"visible": False, "range": [-1.15, 1.15]}
    return {
        "data": traces,
        "layout": {
            "height": 360,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "xaxis": axis,
            "yaxis": {**axis, "scaleanchor": "x"},
            "legend": {"orientation": "h", "y": -0.02},
            "hovermode": "closest",
            "plot_bgcolor": "#ffffff",
        },
    }


def node_sizes(net: Network) -> list[float]:
    """Marker diameters in px, 6 to 22 by the square root of strength relative to the card's strongest."""
    strengths = [max(m.strength or 0.0, 0.0) for m in net.nodes]
    top = max(strengths, default=0.0) or 1.0
    return [round(6 + 16 * math.sqrt(s / top), 2) for s in strengths]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def timeline_figure(card: Card) -> dict[str, Any]:
    return activity_figure(card.timeline, card.bucket)


def activity_figure(
    counts: list[tuple[int, int]],
    bucket: str,
    *,
    name: str = "posts",
    context: list[tuple[int, int]] | None = None,
    context_name: str = "",
) -> dict[str, Any]:
    """Bars of ``counts`` (bucket start ms, posts) per ``bucket`` ("hour" or "day"), UTC.

    ``context``, when given, is drawn as a line on its own axis (an account's campaign beside the
    account). Names are escaped: plotly reads legend text as a little HTML.
    """
    width_ms = 3_600_000 if bucket == "hour" else 86_400_000
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": html.escape(name),
            "x": [iso(ms) for ms, _ in counts],
            "y": [n for _, n in counts],
            "width": [width_ms * 0.9] * len(counts),
            "marker": {"color": "#4d4d4d"},
            "hovertemplate": f"%{{x}} UTC<br>%{{y}} posts per {bucket}<extra></extra>",
        }
    ]
    layout: dict[str, Any] = {
        "height": 220,
        "margin": {"l": 45, "r": 10, "t": 10, "b": 40},
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": f"posts / {bucket}"}, "rangemode": "tozero"},
        "bargap": 0.05,
    }
    if context is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": html.escape(context_name),
                "x": [iso(ms) for ms, _ in context],
                "y": [n for _, n in context],
                "yaxis": "y2",
                "line": {"color": "#b2182b", "width": 1.5},
                "hovertemplate": f"%{{x}} UTC<br>%{{y}} posts per {bucket}",
            }
        )
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False}
        layout["margin"]["r"] = 45
        layout["legend"] = {"orientation": "h", "y": -0.25}
        layout["height"] = 260
    return {"data": data, "layout": layout}


def histogram_figure(counts: list[int], title: str, color: str) -> dict[str, Any]:
    step = 1.0 / HIST_BINS
    return {
        "data": [
            {
                "type": "bar",
                "x": [round((i + 0.5) * step, 4) for i in range(HIST_BINS)],
                "y": counts,
                "width": step * 0.95,
                "marker": {"color": color},
                "hovertemplate": "%{x:.3f} ± " + f"{step / 2:.3f}" + "<br>%{y} accounts<extra></extra>",
            }
        ],
        "layout": {
            "height": 280,
            "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
            "title": {"text": title, "font": {"size": 14}},
            "xaxis": {"range": [0, 1], "title": {"text": "score"}},
            "yaxis": {"title": {"text": "accounts"}, "rangemode": "tozero"},
        },
    }
