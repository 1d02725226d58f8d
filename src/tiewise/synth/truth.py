"""Figures derived from a generated data set's hidden truth, for tests and benchmarks.

The generator writes the causes of every adoption (``truth/adoption_causes.parquet``: who
converted whom, per item); :func:`adoption_descendants` turns them into the quantity the
influence stage's network value estimates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["adoption_descendants", "adoptions_caused"]


def adoption_descendants(folder: Path | str) -> pd.DataFrame:
    """Per true adoption: how many adoptions, and how much value, it caused through others.

    Every adoption caused by influence names its infector, who adopted the same item earlier;
    an adoption's descendants are the adoptions it caused directly or through a chain of
    others, valued at the mean transaction amount of their category (the item's price).

    Parameters
    ----------
    folder
        The folder :func:`tiewise.synth.generate_telco` wrote (with ``truth/`` inside).

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (raw), ``item``, ``category``, ``timestamp``, ``day`` (since the first
        adoption), ``descendants`` and ``descendant_value``.
    """
    folder = Path(folder)
    causes = pd.read_parquet(folder / "truth" / "adoption_causes.parquet")
    items = pd.read_parquet(folder / "adoptions.parquet").drop_duplicates("item")
    sales = pd.read_parquet(folder / "transactions.parquet")
    causes["category"] = causes["item"].map(items.set_index("item")["category"])
    causes = causes.sort_values("timestamp", kind="stable").reset_index(drop=True)
    price = causes["category"].map(sales.groupby("category")["amount"].mean()).to_numpy()
    row = {key: r for r, key in enumerate(zip(causes["customer_id"], causes["item"], strict=True))}
    parent = [row.get((f, i), -1) for f, i in zip(causes["infector"], causes["item"], strict=True)]
    count = np.zeros(len(causes))
    value = np.zeros(len(causes))
    for r in range(len(causes) - 1, -1, -1):  # an infector adopted before those it infected
        p = parent[r]
        if p >= 0:
            count[p] += count[r] + 1.0
            value[p] += value[r] + price[r]
    day = (causes["timestamp"] - causes["timestamp"].min()).dt.total_seconds() / 86_400.0
    return causes.drop(columns=["cause", "infector"]).assign(
        day=day, descendants=count, descendant_value=value
    )


def adoptions_caused(folder: Path | str) -> pd.DataFrame:
    """Per customer (raw id) and category: the adoptions they caused directly, and their value.

    The quantity the influence stage's headline (``influence_score``) estimates; the value is
    that of the descendants (chains included), what its ``caused_value`` estimates.

    Parameters
    ----------
    folder
        The folder :func:`tiewise.synth.generate_telco` wrote (with ``truth/`` inside).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``category``, ``caused`` (direct) and ``caused_value`` (chains).
    """
    tree = adoption_descendants(folder)
    causes = pd.read_parquet(Path(folder) / "truth" / "adoption_causes.parquet")
    causes = causes[causes["cause"] == "influence"]
    category = tree.drop_duplicates("item").set_index("item")["category"]
    direct = (
        causes.assign(category=causes["item"].map(category))
        .groupby(["infector", "category"])
        .size()
        .rename("caused")
        .rename_axis(["customer_id", "category"])
    )
    value = tree.groupby(["customer_id", "category"])["descendant_value"].sum()
    out = pd.concat([direct, value.rename("caused_value")], axis=1).fillna(0.0)
    return out.reset_index()
