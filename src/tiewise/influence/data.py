"""What the influence stage reads: adoptions per customer and item, their value, costs.

Adoptions come from the workspace's ``adoptions`` table, one row per customer and item (the
first time), each item in one category (the one it was most often logged with); customers are
numbered as in :func:`tiewise.graph.network.load_network`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tiewise.config import Config
from tiewise.exceptions import ConfigError
from tiewise.graph.network import Network
from tiewise.shared import FloatArray, IntArray
from tiewise.store import RunContext, exact_sum, scalar

__all__ = [
    "Adoptions",
    "adoption_values",
    "costs_and_exclusions",
    "customer_contacts",
    "load_adoptions",
]


@dataclass
class Adoptions:
    """Adoption rows sorted by item, then time: node, item and category codes, time in days."""

    node: IntArray
    item: IntArray
    category: IntArray
    time: FloatArray
    items: list[str]
    categories: list[str]


def customer_contacts(net: Network) -> IntArray:
    """Contacts of each node who are customers (only they can adopt)."""
    on = net.on_network
    return np.bincount(net.u[on[net.v]], minlength=net.n) + np.bincount(
        net.v[on[net.u]], minlength=net.n
    )


def load_adoptions(ctx: RunContext) -> Adoptions | None:
    """The adoptions of on-network customers, or None without any."""
    if not ctx.has_table("adoptions"):
        return None
    frame = ctx.con.execute(
        """
        SELECT n.idx AS node, a.item, coalesce(a.category, a.item) AS category,
               min(epoch(a.timestamp)) / 86400.0 AS t
        FROM adoptions a JOIN _node_index n USING (customer_id)
        WHERE NOT n.is_service
        GROUP BY ALL
        """
    ).df()
    if frame.empty:
        return None
    # one category per item: the most common one it was logged with
    counted = frame.groupby(["item", "category"]).size().reset_index(name="k")
    counted = counted.sort_values(["item", "k", "category"], ascending=[True, False, True])
    cat_of: dict[str, str] = dict(
        counted.drop_duplicates("item")[["item", "category"]].itertuples(index=False)
    )
    frame = frame.groupby(["node", "item"], as_index=False).agg(t=("t", "min"))
    frame["category"] = frame["item"].map(cat_of)
    frame = frame.sort_values(["item", "t", "node"], kind="stable").reset_index(drop=True)
    items = sorted(frame["item"].unique().tolist())
    cats = sorted(frame["category"].unique().tolist())
    return Adoptions(
        node=frame["node"].to_numpy(np.int64),
        item=frame["item"].map({x: i for i, x in enumerate(items)}).to_numpy(np.int64),
        category=frame["category"].map({x: i for i, x in enumerate(cats)}).to_numpy(np.int64),
        time=frame["t"].to_numpy(np.float64),
        items=items,
        categories=cats,
    )


def adoption_values(ctx: RunContext, ad: Adoptions) -> tuple[FloatArray, str]:
    """Value of one adoption per category: mean transaction amount in it, else overall, else 1."""
    cats = len(ad.categories)
    if not ctx.has_table("transactions") or not scalar(
        ctx.con, "SELECT count(*) FROM transactions WHERE amount > 0"
    ):
        return np.ones(cats), "1 per adoption (no transactions in the inputs: counts adopters)"
    mean = f"{exact_sum('amount')} / count(*)"
    rows = ctx.con.execute(
        f"SELECT category, {mean} AS mean FROM transactions WHERE amount > 0 "
        "AND category IS NOT NULL GROUP BY 1"
    ).fetchall()
    per_category = {str(c): float(m) for c, m in rows}
    overall = float(scalar(ctx.con, f"SELECT {mean} FROM transactions WHERE amount > 0"))
    value = np.array([per_category.get(c, overall) for c in ad.categories])
    known = sum(c in per_category for c in ad.categories)
    if known == cats:
        return value, "mean transaction amount of the adopted item's category"
    return value, (
        f"mean transaction amount of the category ({known} of {cats} categories have "
        f"transactions; the others use the mean of all transactions, {overall:.2f})"
    )


def costs_and_exclusions(
    ctx: RunContext, net: Network, config: Config
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Contact cost and do-not-contact flag of every node, from the customers table."""
    cfg = config.influence
    cost = np.ones(net.n)
    excluded = np.zeros(net.n, dtype=bool)
    if not ctx.has_table("customers"):
        if cfg.exclude_where or cfg.cost.strip() != "1.0":
            raise ConfigError(
                "[influence] exclude_where and cost read the customers table, which this "
                "workspace lacks; configure [inputs.customers] or remove those settings."
            )
        return cost, excluded
    try:
        rows = ctx.con.execute(
            f"""
            SELECT n.idx, CAST(({cfg.cost}) AS DOUBLE) AS cost,
                   {f"coalesce(({cfg.exclude_where}), false)" if cfg.exclude_where else "false"}
                   AS excluded
            FROM customers JOIN _node_index n USING (customer_id)
            """
        ).fetchnumpy()
    except Exception as exc:  # a user's SQL: name the setting
        raise ConfigError(
            f"[influence] cost = {cfg.cost!r} / exclude_where = {cfg.exclude_where!r}: not valid "
            f"SQL on the customers table ({str(exc).splitlines()[0]}). Use its columns, e.g. "
            "cost = \"CASE WHEN segment = 'business' THEN 5 ELSE 1 END\"."
        ) from exc
    c = np.asarray(rows["cost"], np.float64)
    if np.isnan(c).any() or (c <= 0).any():
        bad = int((np.isnan(c) | (c <= 0)).sum())
        raise ConfigError(
            f"[influence] cost = {cfg.cost!r} gives a missing or non-positive cost for {bad} "
            "customers; every contact cost must be > 0."
        )
    cost[rows["idx"]] = c
    excluded[rows["idx"]] = np.asarray(rows["excluded"], bool)
    return cost, excluded
