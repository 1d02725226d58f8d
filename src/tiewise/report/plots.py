"""Plots for the report, rendered offline with matplotlib and embedded as inline SVG."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

__all__ = [
    "community_sizes_svg",
    "community_svg",
    "degree_ccdf_svg",
    "lift_chart_svg",
    "spread_svg",
    "uplift_svg",
    "value_quadrants_svg",
]

_STYLE: Any = {  # matplotlib rc parameters
    "figure.figsize": (6.4, 3.6),
    "font.size": 9,
    "svg.fonttype": "none",
    "text.parse_math": False,  # labels are data: a category "$x$" is shown as typed
    "svg.hashsalt": "tiewise",  # stable element ids: the same data gives the same file
}


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plain_log_ticks(ax: Any) -> None:
    """Log-axis ticks as plain numbers (1, 10, 0.01).

    With mathtext off, matplotlib's default log labels would show their TeX source.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())


def community_sizes_svg(sizes: npt.NDArray[np.int64]) -> str:
    """Histogram of community sizes on logarithmic bins, as an SVG element."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots()
        if len(sizes):
            top = max(2.0, float(sizes.max()) * 1.01)
            bins = np.unique(np.logspace(0, np.log10(top), 30).round())
            ax.hist(sizes, bins=bins.tolist(), color="#3b6ea5", edgecolor="white")
            ax.set_xscale("log")
            ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_xlabel("community size (members)")
        ax.set_ylabel("number of communities")
        ax.set_title("Community size distribution")
        return _svg(fig)


def degree_ccdf_svg(degree: npt.NDArray[np.int64]) -> str:
    """Share of parties with at least k contacts, log-log, as an SVG element."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots()
        positive = np.sort(degree[degree > 0])
        if len(positive):
            values, counts = np.unique(positive, return_counts=True)
            ccdf = 1.0 - (np.cumsum(counts) - counts) / len(positive)
            ax.loglog(values, ccdf, marker=".", linestyle="none", color="#a53b3b")
        _plain_log_ticks(ax)
        ax.set_xlabel("contacts k")
        ax.set_ylabel("share with at least k contacts")
        ax.set_title("Contacts per party (heavy tail = super-connectors)")
        return _svg(fig)


_ROLE_STYLE = {  # business role -> (colour, marker, size)
    "leader": ("#c0392b", "*", 260.0),
    "hub": ("#8e44ad", "^", 70.0),
    "bridge": ("#e67e22", "D", 60.0),
    "follower": ("#3b6ea5", "o", 28.0),
    "marginal": ("#9aa5b1", "o", 16.0),
    "off-network": ("#ffffff", "o", 22.0),
}


def community_svg(
    members: list[dict[str, Any]], edges: list[tuple[int, int, float]], title: str, seed: int = 0
) -> str:
    """A community drawn with its leaders (stars), hubs (triangles) and bridges (diamonds).

    Only the leaders are labelled, so the labels stay legible; the result is an SVG element.

    ``members`` have ``role`` (a business role, or "off-network") and ``label``; ``edges`` index
    into ``members`` with a weight (line width).
    """
    import random

    import igraph as ig

    graph = ig.Graph(n=len(members), edges=[(a, b) for a, b, _ in edges])
    ig.set_random_number_generator(random.Random(seed))
    try:
        layout = np.asarray(graph.layout_fruchterman_reingold(niter=500).coords)
    finally:
        ig.set_random_number_generator(random)
    with plt.rc_context({**_STYLE, "figure.figsize": (7.0, 5.6)}):
        fig, ax = plt.subplots()
        if len(edges):
            weights = np.array([w for _, _, w in edges])
            widths = 0.3 + 2.2 * weights / max(weights.max(), 1e-9)
            for (a, b, _), width in zip(edges, widths, strict=True):
                ax.plot(*layout[[a, b]].T, color="#b8c2cc", linewidth=width, zorder=1)
        for role, (colour, marker, size) in _ROLE_STYLE.items():
            idx = [i for i, m in enumerate(members) if m["role"] == role]
            if idx:
                ax.scatter(
                    layout[idx, 0],
                    layout[idx, 1],
                    s=size,
                    c=colour,
                    marker=marker,
                    edgecolors="#333333",
                    linewidths=0.6,
                    zorder=2,
                    label=role,
                )
        # Leaders sit close together at the centre: their labels go out in different
        # directions, each with a line to its star, so they never cover one another.
        leaders = [i for i, m in enumerate(members) if m["role"] == "leader"]
        for k, i in enumerate(leaders):
            angle = 2 * np.pi * (k / max(len(leaders), 1)) + np.pi / 4
            ax.annotate(
                members[i]["label"],
                layout[i],
                xytext=(70 * np.cos(angle), 55 * np.sin(angle)),
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=8,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#c0392b", "lw": 0.5},
                arrowprops={"arrowstyle": "-", "color": "#c0392b", "lw": 0.6},
                zorder=3,
            )
        ax.legend(loc="upper right", fontsize=7, frameon=False)
        ax.set_axis_off()
        ax.set_title(title)
        return _svg(fig)


_SEGMENT_STYLE = {  # segment -> colour
    "Ambassador": "#c0392b",
    "Influencer": "#e67e22",
    "High spender": "#3b6ea5",
    "Other": "#9aa5b1",
}


def value_quadrants_svg(
    financial: npt.NDArray[np.float64],
    social: npt.NDArray[np.float64],
    segment: npt.NDArray[np.str_],
    financial_cutoff: float,
    social_cutoff: float,
) -> str:
    """Customers by financial and social percentile, coloured by segment, with the cut-offs."""
    with plt.rc_context({**_STYLE, "figure.figsize": (6.4, 5.0)}):
        fig, ax = plt.subplots()
        for name, colour in _SEGMENT_STYLE.items():
            pick = segment == name
            if pick.any():
                ax.scatter(
                    financial[pick],
                    social[pick],
                    s=6,
                    c=colour,
                    alpha=0.6,
                    linewidths=0,
                    label=f"{name} ({int(pick.sum()):,})",
                    rasterized=False,
                )
        ax.axvline(financial_cutoff, color="#333333", linewidth=0.8, linestyle="--")
        ax.axhline(social_cutoff, color="#333333", linewidth=0.8, linestyle="--")
        ax.set_xlim(-2, 102)
        ax.set_ylim(-2, 102)
        ax.set_xlabel("financial value percentile (lifetime value)")
        ax.set_ylabel("social value percentile")
        ax.set_title("Customers by financial and social value")
        ax.legend(loc="lower left", fontsize=7, frameon=True, markerscale=2)
        return _svg(fig)


def uplift_svg(rows: list[dict[str, Any]]) -> str:
    """Response rate of the target and control arm of each campaign, with 95% intervals."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.6 * max(1, len(rows))))
        for i, r in enumerate(rows):
            for offset, arm, color in ((-0.15, "target", "#3b6ea5"), (0.15, "control", "#aaaaaa")):
                n, rate = r[f"{arm}s"], r[f"{arm}_rate"]
                half = 1.96 * np.sqrt(rate * (1 - rate) / n) if n else 0.0
                ax.barh(i + offset, 100 * rate, height=0.3, color=color,
                        xerr=100 * half, capsize=2, label=arm if i == 0 else None)  # fmt: skip
        ax.set_yticks(range(len(rows)), [r["campaign"] for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel("response rate (%), with 95% interval")
        ax.legend(loc="lower right", frameon=False)
        ax.set_title("Campaign response: contacted (target) vs held out (control)")
        return _svg(fig)


def spread_svg(curves: dict[str, tuple[npt.NDArray[np.float64], ...]]) -> str:
    """Expected reach of the first k seeds per category: IMM (solid) against top degree (dashed).

    Each category's value is ``(seeds' reach, top degree's reach)``, optionally followed by the
    low and high ends of the seeds' reach interval, drawn as a band.
    """
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots()
        for i, (category, (imm, degree, *band)) in enumerate(sorted(curves.items())):
            k = np.arange(1, len(imm) + 1)
            color = f"C{i}"
            ax.plot(k, imm, color=color, label=f"{category}: tiewise seeds")
            if len(band) == 2:
                ax.fill_between(k, band[0], band[1], color=color, alpha=0.15, linewidth=0)
            ax.plot(k, degree, color=color, linestyle="--", label=f"{category}: most contacts")
        ax.set_xlabel("seeds (k)")
        ax.set_ylabel("expected adopters reached")
        ax.set_title("Spread of the seed sets (cascade fitted to the data, checked after a cut)")
        ax.legend(frameon=False, fontsize=7)
        return _svg(fig)


def lift_chart_svg(curves: dict[str, tuple[list[float], list[float]]]) -> str:
    """Cumulative lift by share of customers targeted, one line per model, as an SVG element.

    ``curves`` maps a model's name to (shares targeted, lift at that share).
    """
    styles = {"behaviour": "#7a7a7a", "behaviour + social": "#3b6ea5"}
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots()
        for name, (share, lift) in curves.items():
            ax.plot(
                100 * np.asarray(share),
                lift,
                marker=".",
                label=name,
                color=styles.get(name, "#a53b3b"),
                linestyle="-" if name in styles else "--",
            )
        ax.axhline(1.0, color="black", linewidth=0.5)
        ax.set_xlabel("customers targeted, highest risk first (%)")
        ax.set_ylabel("lift (churn rate / average)")
        ax.set_title("Churn lift out of time, with and without social features")
        ax.legend(frameon=False)
        return _svg(fig)
