"""Plots for the report, rendered offline with matplotlib and embedded as inline SVG."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

__all__ = ["community_sizes_svg", "degree_ccdf_svg"]

_STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 3.6),
    "font.size": 9,
    "svg.fonttype": "none",
    "svg.hashsalt": "tiewise",  # stable element ids: the same data gives the same file
}


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def community_sizes_svg(sizes: npt.NDArray[np.int64]) -> str:
    """Histogram of community sizes on logarithmic bins, as an SVG element."""
    with plt.rc_context(_STYLE):  # type: ignore[arg-type]
        fig, ax = plt.subplots()
        if len(sizes):
            top = max(2.0, float(sizes.max()) * 1.01)
            bins = np.unique(np.logspace(0, np.log10(top), 30).round())
            ax.hist(sizes, bins=bins.tolist(), color="#3b6ea5", edgecolor="white")
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("community size (members)")
        ax.set_ylabel("number of communities")
        ax.set_title("Community size distribution")
        return _svg(fig)


def degree_ccdf_svg(degree: npt.NDArray[np.int64]) -> str:
    """Share of parties with at least k contacts, log-log, as an SVG element."""
    with plt.rc_context(_STYLE):  # type: ignore[arg-type]
        fig, ax = plt.subplots()
        positive = np.sort(degree[degree > 0])
        if len(positive):
            values, counts = np.unique(positive, return_counts=True)
            ccdf = 1.0 - (np.cumsum(counts) - counts) / len(positive)
            ax.loglog(values, ccdf, marker=".", linestyle="none", color="#a53b3b")
        ax.set_xlabel("contacts k")
        ax.set_ylabel("share with at least k contacts")
        ax.set_title("Contacts per party (heavy tail = super-connectors)")
        return _svg(fig)
