"""The tables of who moves others: ``influence_scores`` and ``influence_tests``, with reasons.

The headline, ``influence_score``, is the number of adoptions a customer caused beyond homophily
and the base rate (:mod:`tiewise.influence.caused`), with a 90% interval; ``conversion_rate`` is
the share of exposed contacts the customer converts (their influence multiplier times the
category's rate): the per-contact strength, whatever the customer's reach.  A category whose
tests do not show influence gets no caused adoptions and no "beyond homophily" claim: its rows
are ranked by the structural score and say so (``basis = 'structural fallback'``).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.graph.network import Network
from tiewise.influence.data import Adoptions, customer_contacts
from tiewise.influence.measure import Measured
from tiewise.shared import FloatArray

__all__ = ["ALL", "BASIS", "naive_follow_counts", "reasons", "score_frame", "test_frame"]

ALL = "all"
BASIS = {
    "timing": "adoption timing",
    "not_shown": "structural fallback (no influence shown in the category)",
    "no_adoptions": "structural fallback (no adoptions)",
}


def _percent_rank(x: FloatArray, mask: npt.NDArray[np.bool_]) -> FloatArray:
    """Share of masked values strictly above each value, in percent (for 'top X%')."""
    ref = np.sort(x[mask])
    above = len(ref) - np.searchsorted(ref, x, side="right")
    return 100.0 * (above + 1) / max(1, len(ref))


def _lead_lists(ad: Adoptions, m: Measured) -> pd.DataFrame:
    """Per (node, cat) and per node ('all'): median and five shortest leads within the window."""
    n_cat = len(ad.categories)
    a, b, _ = m.pairs
    lead = pd.DataFrame({"row_a": np.concatenate([a, b]), "row_b": np.concatenate([b, a])})
    lead["delay"] = ad.time[lead["row_b"]] - ad.time[lead["row_a"]]
    lead = lead[(lead["delay"] > 0) & (lead["delay"] <= m.scale.window)]
    lead = lead.assign(node=ad.node[lead["row_a"]], cat=ad.category[lead["row_a"]])
    parts = []
    for keys, cat in ((["node", "cat"], None), (["node"], n_cat)):
        part = lead.groupby(keys)["delay"].median().rename("median_lead_days").reset_index()
        part["lead_days"] = _first_five(lead, keys)
        parts.append(part if cat is None else part.assign(cat=cat))
    return pd.concat(parts, ignore_index=True)


def _first_five(lead: pd.DataFrame, keys: list[str]) -> npt.NDArray[np.object_]:
    """Per group of ``keys`` (in sorted order): its five shortest delays, "1.5, 2.0, ...".

    Column-wise: the i-th shortest delay of every group at once, not a Python call per group.
    """
    shortest = lead.sort_values([*keys, "delay"], kind="stable")
    group = shortest.groupby(keys, sort=True).ngroup().to_numpy()
    rank = shortest.groupby(keys, sort=True).cumcount().to_numpy()
    words = np.char.mod("%.1f", shortest["delay"].to_numpy()).astype(object)
    text = np.full(group.max() + 1 if len(group) else 0, "", dtype=object)
    for i in range(5):
        at = rank == i
        text[group[at]] = text[group[at]] + ("" if i == 0 else ", ") + words[at]
    return text


def _evidence(net: Network, ad: Adoptions, m: Measured) -> pd.DataFrame:
    """Per (node, cat code; ``len(categories)`` = all): follows, caused and their interval."""
    nodes, cats = m.groups
    ev = m.evidence
    caused = {
        f: np.concatenate([getattr(m.caused, f), getattr(m.caused_all, f)])
        for f in ("caused", "low", "high", "multiplier")
    }
    n_cat = len(ad.categories)
    adoptions = np.concatenate(
        [
            np.bincount(np.unique(ad.node * (n_cat + 1) + ad.category, return_inverse=True)[1]),
            np.bincount(np.unique(ad.node, return_inverse=True)[1]),
        ]
    )
    frame = pd.DataFrame(
        {
            "node": nodes,
            "cat": cats,
            "adoptions": adoptions,
            "followers": ev.group_observed,
            "followers_expected": ev.group_expected,
            "p_value": ev.group_p,
            "influence_score": caused["caused"],
            "influence_low": caused["low"],
            "influence_high": caused["high"],
            "influence_multiplier": caused["multiplier"],
        }
    )
    return frame.merge(_lead_lists(ad, m), on=["node", "cat"], how="left")


def score_frame(
    net: Network, ad: Adoptions | None, m: Measured | None, structural: FloatArray, method: str
) -> pd.DataFrame:
    """``influence_scores``: one row per on-network customer and category (and 'all').

    The last column, ``node``, is each row's node number, for the stage's own use: it is not a
    column of the table.
    """
    customers = np.flatnonzero(net.on_network)
    cats = [] if ad is None else list(ad.categories)
    all_cats = [*cats, ALL]
    grid = pd.DataFrame(
        {
            "node": np.repeat(customers, len(all_cats)),
            "cat": np.tile(np.arange(len(all_cats)), len(customers)),
        }
    )
    numeric = ["adoptions", "followers", "followers_expected", "influence_score", "influence_low",
               "influence_high"]  # fmt: skip
    if ad is not None and m is not None:
        grid = grid.merge(_evidence(net, ad, m), on=["node", "cat"], how="left")
        shown = np.append(m.detected, m.detected.any())
    else:
        grid = grid.assign(p_value=np.nan, median_lead_days=np.nan, lead_days=None,
                           influence_multiplier=np.nan)  # fmt: skip
        for col in numeric:
            grid[col] = 0.0
        shown = np.zeros(1, dtype=bool)
    grid[numeric] = grid[numeric].fillna(0.0)
    grid["influence_multiplier"] = grid["influence_multiplier"].fillna(1.0)
    grid["adoptions"] = grid["adoptions"].astype(np.int64)
    grid["influence_shown"] = shown[grid["cat"].to_numpy()]
    node = grid["node"].to_numpy()
    reachable = customer_contacts(net)
    grid["customer_contacts"] = reachable[node]
    rate = m.rate if m is not None else np.zeros(1)
    grid["conversion_rate"] = grid["influence_multiplier"] * rate[grid["cat"].to_numpy()]
    grid["excess_followers"] = grid["followers"] - grid["followers_expected"]
    grid["category"] = [all_cats[c] for c in grid["cat"]]
    grid["customer_id"] = pd.Series(net.ids[node], dtype="string")
    grid["contacts"] = net.degree()[node]
    grid["structural_score"] = structural[node]
    grid["structural_top_pct"] = _percent_rank(structural, net.on_network)[node]
    grid["basis"] = np.where(
        ~grid["influence_shown"],
        BASIS["not_shown"] if ad is not None else BASIS["no_adoptions"],
        np.where(grid["adoptions"] > 0, BASIS["timing"], BASIS["no_adoptions"]),
    )
    grid = grid.sort_values(
        ["cat", "influence_score", "structural_score", "node"],
        ascending=[True, False, False, True],
    )
    grid["rank"] = grid.groupby("cat").cumcount() + 1
    window = m.scale.window if m is not None else 0.0
    grid["reason"] = reasons(grid, window, method)
    columns = [
        "customer_id", "category", "rank", "influence_score", "influence_low", "influence_high",
        "influence_multiplier", "conversion_rate", "influence_shown", "adoptions", "contacts",
        "customer_contacts", "followers", "followers_expected", "excess_followers", "p_value",
        "median_lead_days", "lead_days", "structural_score", "structural_top_pct", "basis",
        "reason", "node",
    ]  # fmt: skip
    return grid[columns].reset_index(drop=True)


_ROWS_AT_ONCE = 100_000


def reasons(grid: pd.DataFrame, window: float, method: str) -> pd.Series:
    """Every row's reason, as :func:`_reason` words it, built column-wise where it can be.

    Most rows are a customer without adoptions in a category: their reason is one of two fixed
    sentences around the structural rank, assembled here for all of them at once.  The rest
    (adopters, and fallback rows that mention what was seen) go through :func:`_reason` one by
    one.  ``tests/influence/test_scores.py`` checks both give the same text.
    """
    if not len(grid):
        return pd.Series([], index=grid.index, dtype=object)
    shown = grid["influence_shown"].to_numpy(bool)
    adopted = grid["adoptions"].to_numpy() > 0
    category = grid["category"].astype(str)
    where = np.where(category == ALL, "", " in " + category)
    pct = pd.Series(np.char.mod("%.1f", grid["structural_top_pct"].to_numpy(np.float64)))
    structural = (
        f"ranked by {method.replace('_', ' ')} (top "
        + pct.to_numpy(object)
        + "%), "
        + grid["contacts"].astype(str).to_numpy(object)
        + " contacts"
    )
    fallback = ~shown & ~(adopted & (window > 0))
    why = np.where(
        grid["basis"].to_numpy(object) == BASIS["no_adoptions"],
        "no adoptions in the inputs",
        "adoption timing shows no influence" + where,
    )
    text = np.where(
        fallback,
        "structural fallback, not evidence of influence (" + why + "): " + structural,
        "no adoptions" + where + " yet, so no adoptions caused; " + structural,
    )
    simple = fallback | (shown & ~adopted)
    out = np.asarray(text, dtype=object)
    rest = np.flatnonzero(~simple)
    row = namedtuple("row", grid.columns)  # type: ignore[misc]  # cheaper than itertuples
    for start in range(0, len(rest), _ROWS_AT_ONCE):  # the columns' values as Python objects
        at = rest[start : start + _ROWS_AT_ONCE]
        sub = grid.iloc[at]
        rows = map(row._make, zip(*(sub[c].tolist() for c in sub.columns), strict=True))
        out[at] = np.array([_reason(r, window, method) for r in rows] + [None], object)[:-1]
    return pd.Series(out, index=grid.index)


def _structural(r: Any, method: str) -> str:
    return (
        f"ranked by {method.replace('_', ' ')} (top {r.structural_top_pct:.1f}%), "
        f"{r.contacts} contacts"
    )


def _reason(r: Any, window: float, method: str) -> str:
    where = "" if r.category == ALL else f" in {r.category}"
    if not r.influence_shown:
        why = (
            "no adoptions in the inputs"
            if r.basis == BASIS["no_adoptions"]
            else f"adoption timing shows no influence{where}"
        )
        seen = (
            f"; {r.followers:g} contacts adopted the same item within {window:g} days after "
            f"(chance gives {r.followers_expected:.1f})"
            if r.adoptions > 0 and window > 0
            else ""
        )
        return (
            f"structural fallback, not evidence of influence ({why}): "
            f"{_structural(r, method)}{seen}"
        )
    if r.adoptions == 0:
        return f"no adoptions{where} yet, so no adoptions caused; {_structural(r, method)}"
    leads = f"; lead times {r.lead_days} days" if isinstance(r.lead_days, str) else ""
    what = "any item" if r.category == ALL else f"the same {r.category} item"
    return (
        f"caused an estimated {r.influence_score:.1f} adoptions (90% interval "
        f"{r.influence_low:.1f}–{r.influence_high:.1f}) beyond homophily and the base rate: "
        f"{r.followers:g} of {r.customer_contacts} customer contacts adopted {what} within "
        f"{window:g} days after ({r.adoptions} adoption{'s' if r.adoptions != 1 else ''}; "
        f"{r.followers_expected:.1f} expected from shuffled timing, p={r.p_value:.3f}); "
        f"{r.influence_multiplier:.1f}x the pull of an average customer{leads}"
    )


def test_frame(ad: Adoptions, m: Measured, alpha: float) -> pd.DataFrame:
    """``influence_tests``: per category, the window test, the test of order and the verdict."""
    ev = m.evidence
    n_cat = len(ad.categories)
    _, cats = m.groups
    k = len(m.caused.caused)
    caused = np.bincount(cats[:k], weights=m.caused.caused, minlength=n_cat)
    tests = pd.DataFrame(
        {
            "category": ad.categories,
            "adopters": np.bincount(ad.category, minlength=n_cat),
            "items": [len(np.unique(ad.item[ad.category == c])) for c in range(n_cat)],
            "linked_adopter_pairs": np.bincount(ad.category[m.pairs[0]], minlength=n_cat),
            "follows": ev.follows_observed,
            "follows_expected": ev.follows_expected,
            "window_p_value": ev.follows_p,
            "order_statistic": ev.order_observed,
            "order_expected": ev.order_expected,
            "order_p_value": ev.order_p,
            "p_value": m.p_value,
            "shuffles": ev.shuffles,
            "window_days": m.scale.window,
            "time_resolution": m.scale.label,
            "influence_detected": m.detected,
            "adoptions_caused": np.where(m.detected, caused, 0.0),
        }
    )
    tests["excess"] = tests["follows"] - tests["follows_expected"]
    tests["ratio"] = np.where(
        tests["follows_expected"] > 0, tests["follows"] / tests["follows_expected"], np.nan
    )
    tests["warning"] = [_warning(r, m) for r in tests.itertuples(index=False)]
    tests["reason"] = [_test_reason(r, alpha) for r in tests.itertuples(index=False)]
    return tests


def _warning(r: Any, m: Measured) -> str | None:
    if r.follows == 0:
        return (
            f"no two linked adopters of a {r.category} item within {r.window_days:g} days of "
            f"each other: the window sees no follow at this data's resolution "
            f"({m.scale.label}); set [influence] window_days larger, or rely on the test of order"
        )
    if m.scale.period > r.window_days:
        return (
            f"adoption dates are recorded in {m.scale.label}, coarser than the "
            f"{r.window_days:g}-day window"
        )
    return None


def _test_reason(r: Any, alpha: float) -> str:
    ratio = f"x{r.ratio:.2f}" if np.isfinite(r.ratio) else "none expected"
    verdict = (
        f"influence shown (p={r.p_value:.3f} < {alpha:g}): an estimated {r.adoptions_caused:.0f} "
        "adoptions caused"
        if r.influence_detected
        else f"no evidence of influence beyond homophily (p={r.p_value:.3f}, needs < {alpha:g})"
    )
    return (
        f"{r.follows:.0f} pairs of linked adopters of {r.category} items within "
        f"{r.window_days:g} days; shuffled adoption times give {r.follows_expected:.1f} ({ratio}; "
        f"window test p={r.window_p_value:.3f}); adopters had {r.order_statistic:.1f} more "
        f"earlier-adopting contacts than those still to adopt, shuffled {r.order_expected:.1f} "
        f"(test of order at any lag p={r.order_p_value:.3f}); {r.shuffles} shuffles; {verdict}"
    )


def naive_follow_counts(con: Any, days: float = 30.0) -> pd.DataFrame:
    """The one-line heuristic a user could compute, to set the headline against.

    Per customer and category: contacts who adopted the same item within ``days`` after them
    (``customer_id``, ``category``, ``naive``), from a workspace's ``adoptions`` and ``links``.
    """
    return con.execute(
        f"""
        WITH ad AS (SELECT customer_id, item, category, min(timestamp) AS t
                    FROM adoptions GROUP BY ALL),
             ends AS (SELECT a AS x, b AS y FROM links UNION ALL SELECT b, a FROM links)
        SELECT p.customer_id, p.category, count(*) AS naive
        FROM ad p JOIN ends e ON e.x = p.customer_id
                  JOIN ad f ON f.customer_id = e.y AND f.item = p.item
        WHERE f.t > p.t AND f.t <= p.t + INTERVAL {float(days)} DAY
        GROUP BY ALL
        """
    ).df()
