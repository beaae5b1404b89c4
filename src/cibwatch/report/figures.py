"""PNG figures for papers (matplotlib, Agg): score histograms and each card's network and timeline."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window or need a display

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cibwatch.report.charts import NO_ROLE_COLOR, ROLE_COLORS, Network, node_sizes, role_order
from cibwatch.report.data import HIST_BINS, Card

DPI = 150


@dataclass
class Png:
    name: str  # file name inside the report's files folder
    caption: str


def safe_name(text: str) -> str:
    """A file-name-safe form of an id (ids are data; they may hold slashes or dots)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60] or "x"


def _save(fig: Figure, folder: Path, name: str) -> None:
    fig.savefig(folder / name, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def histogram_png(counts: list[int], folder: Path, name: str, xlabel: str, color: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    step = 1.0 / HIST_BINS
    ax.bar([(i + 0.5) * step for i in range(HIST_BINS)], counts, width=step * 0.95, color=color)
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accounts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    _save(fig, folder, name)


def network_png(net: Network, folder: Path, name: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    segments = [(net.xy[i], net.xy[j]) for i, j, _, _ in net.links]
    sizes = node_sizes(net)
    ax.add_collection(LineCollection(segments, colors="#5a5a5a", alpha=0.35, linewidths=0.7, zorder=1))
    for role in sorted({m.role or "" for m in net.nodes}, key=role_order):
        picked = [i for i, m in enumerate(net.nodes) if (m.role or "") == role]
        ax.scatter(
            [net.xy[i][0] for i in picked],
            [net.xy[i][1] for i in picked],
            s=[sizes[i] ** 2 / 2 for i in picked],
            color=ROLE_COLORS.get(role, NO_ROLE_COLOR),
            edgecolors="white",
            linewidths=0.6,
            label=role or "member",
            zorder=2,
        )
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.08), ncol=3, frameon=False, fontsize=8)
    _save(fig, folder, name)


def timeline_png(card: Card, folder: Path, name: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 2.4), layout="constrained")
    # One filled step artist, not a bar per bucket: a year of days draws in milliseconds.
    bucket_ms = 3_600_000 if card.bucket == "hour" else 86_400_000
    counts: dict[int, int] = dict(card.timeline)
    starts = range(card.timeline[0][0], card.timeline[-1][0] + bucket_ms, bucket_ms)
    edges = mdates.date2num(
        [datetime.fromtimestamp(ms / 1000, UTC) for ms in [*starts, starts[-1] + bucket_ms]]
    )
    ax.stairs([counts.get(ms, 0) for ms in starts], edges, fill=True, color="#4d4d4d")
    ax.xaxis_date()
    ax.set_ylabel(f"posts / {card.bucket}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.spines[["top", "right"]].set_visible(False)
    _save(fig, folder, name)


def write_figures(
    folder: Path,
    bot_hist: list[int] | None,
    coord_hist: list[int] | None,
    cards: list[tuple[Card, Network]],
    progress: Callable[[], None] | None = None,
) -> list[Png]:
    """Write every PNG into ``folder`` and return them in reading order."""
    pngs: list[Png] = []
    tick = progress or (lambda: None)
    if bot_hist is not None:
        histogram_png(bot_hist, folder, "bot_score_histogram.png", "bot score", "#762a83")
        pngs.append(Png("bot_score_histogram.png", "Bot scores of all scored accounts"))
    if coord_hist is not None:
        histogram_png(coord_hist, folder, "coordination_score_histogram.png", "coordination score", "#1b7837")
        pngs.append(Png("coordination_score_histogram.png", "Coordination scores of all tested accounts"))
    tick()
    for n, (card, net) in enumerate(cards, start=1):
        stem = f"{card.kind}-{n:02d}-{safe_name(card.card_id)}"
        if net.nodes:
            network_png(net, folder, f"{stem}-network.png")
            drawn = f" (strongest {len(net.nodes)} of {len(card.members)})" if net.n_hidden else ""
            pngs.append(Png(f"{stem}-network.png", f"{card.kind} {card.card_id}: co-action network{drawn}"))
        if card.timeline:
            timeline_png(card, folder, f"{stem}-timeline.png")
            pngs.append(Png(f"{stem}-timeline.png", f"{card.kind} {card.card_id}: posts per {card.bucket}"))
        tick()
    return pngs
