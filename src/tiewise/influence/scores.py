"""The tables of who moves others: ``influence_scores`` and ``influence_tests``, with reasons.

The headline, ``influence_score``, is the number of adoptions a customer caused beyond homophily
and the base rate (:mod:`tiewise.influence.caused`), with a 90% interval; ``conversion_rate`` is
the share of exposed contacts the customer converts (their influence multiplier times the
category's rate): the per-contact strength, whatever the customer's reach.  A category whose
tests do not show influence gets no caused adoptions and no "beyond homophily" claim: its rows
are ranked by the structural score and say so (``basis = 'structural fallback'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.graph.network import Network
from tiewise.influence.data import Adoptions, customer_contacts
from tiewise.influence.measure import Measured
from tiewise.shared import FloatArray
from tiewise.store import RunContext, frame_query, sql_string

__all__ = [
    "ALL",
    "BASIS",
    "naive_follow_counts",
    "reason_sql",
    "score_frame",
    "test_frame",
    "write_scores",
]

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
    net: Network, ad: Adoptions | None, m: Measured | None, structural: FloatArray
) -> pd.DataFrame:
    """The numbers of ``influence_scores``: one row per on-network customer and category.

    Rows are named by node number (``node``) and category code (``cat``: the adoption
    categories' index, then 'all'), in no particular order; ``basis_code`` indexes
    :data:`BASIS`.  :func:`write_scores` adds the ids, categories, ranks, bases and reasons as
    DuckDB writes the table: four million of them as Python strings were most of the stage's
    time in this table at a million customers.
    """
    customers = np.flatnonzero(net.on_network)
    n_cat = 0 if ad is None else len(ad.categories)
    grid = pd.DataFrame(
        {
            "node": np.repeat(customers, n_cat + 1),
            "cat": np.tile(np.arange(n_cat + 1), len(customers)),
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
    cat = grid["cat"].to_numpy()
    grid["influence_shown"] = shown[cat]
    node = grid["node"].to_numpy()
    grid["customer_contacts"] = customer_contacts(net)[node]
    rate = m.rate if m is not None else np.zeros(1)
    grid["conversion_rate"] = grid["influence_multiplier"] * rate[cat]
    grid["excess_followers"] = grid["followers"] - grid["followers_expected"]
    grid["contacts"] = net.degree()[node]
    grid["structural_score"] = structural[node]
    grid["structural_top_pct"] = _percent_rank(structural, net.on_network)[node]
    codes = list(BASIS)
    grid["basis_code"] = np.where(
        ~shown[cat],
        codes.index("not_shown" if ad is not None else "no_adoptions"),
        np.where(grid["adoptions"] > 0, codes.index("timing"), codes.index("no_adoptions")),
    ).astype(np.int8)
    return grid


def write_scores(
    ctx: RunContext,
    grid: pd.DataFrame,
    categories: list[str],
    window: float,
    method: str,
    description: str,
) -> None:
    """Write ``influence_scores`` from :func:`score_frame`'s rows.

    DuckDB joins the ids in, names categories and bases, ranks the rows within each category
    (influence score, then structural score, then node: each category's rows in rank order)
    and words the reasons (:func:`reason_sql`).
    """
    names = ", ".join(sql_string(c) for c in [*categories, ALL])
    bases = ", ".join(sql_string(b) for b in BASIS.values())
    rows = frame_query(
        ctx.con,
        "_influence_scores",
        grid,
        f"""
        WITH g AS (
            SELECT *, [{names}][cat + 1] AS category, [{bases}][basis_code + 1] AS basis,
                   row_number() OVER (PARTITION BY cat ORDER BY influence_score DESC,
                                      structural_score DESC, node) AS rank
            FROM _influence_scores
        )
        SELECT n.customer_id, g.category, g.rank, g.influence_score, g.influence_low,
               g.influence_high, g.influence_multiplier, g.conversion_rate, g.influence_shown,
               g.adoptions, g.contacts, g.customer_contacts, g.followers, g.followers_expected,
               g.excess_followers, g.p_value, g.median_lead_days, g.lead_days,
               g.structural_score, g.structural_top_pct, g.basis,
               {reason_sql(window, method)} AS reason
        FROM g JOIN _node_index n ON n.idx = g.node
        ORDER BY g.cat, g.rank
        """,
    )
    ctx.write_table("influence_scores", rows, stage="influence", description=description)


def reason_sql(window: float, method: str) -> str:
    """SQL of each row's reason, over the columns of ``influence_scores`` (without ``reason``).

    Four sentences: the structural fallback (with what was seen where the customer adopted),
    no adoptions in a category that shows influence, and the adoptions caused with their
    evidence.  ``tests/influence/test_scores.py`` holds the wording row by row in Python and
    checks this gives the same text (DuckDB's ``format`` writes numbers as Python does).
    """
    days = f"{window:g}"
    where = f"CASE WHEN category = {sql_string(ALL)} THEN '' ELSE ' in ' || category END"
    structural = (
        "format('ranked by {} (top {:.1f}%), {} contacts', "
        f"{sql_string(method.replace('_', ' '))}, structural_top_pct, contacts)"
    )
    seen = "''"
    if window > 0:
        seen = (
            "CASE WHEN adoptions > 0 THEN format('; {:g} contacts adopted the same item within "
            f"{days} days after (chance gives {{:.1f}})', followers, followers_expected) "
            "ELSE '' END"
        )
    fallback = (
        "'structural fallback, not evidence of influence (' || "
        f"CASE WHEN basis = {sql_string(BASIS['no_adoptions'])} "
        f"THEN 'no adoptions in the inputs' ELSE 'adoption timing shows no influence' || {where} "
        f"END || '): ' || {structural} || {seen}"
    )
    caused = (
        "format('caused an estimated {:.1f} adoptions (90% interval {:.1f}–{:.1f}) beyond "
        "homophily and the base rate: {:g} of {} customer contacts adopted ', influence_score, "
        "influence_low, influence_high, followers, customer_contacts) || "
        f"CASE WHEN category = {sql_string(ALL)} THEN 'any item' "
        "ELSE 'the same ' || category || ' item' END || "
        f"format(' within {days} days after ({{}} adoption', adoptions) || "
        "CASE WHEN adoptions <> 1 THEN 's' ELSE '' END || "
        "format('; {:.1f} expected from shuffled timing, p={:.3f}); {:.1f}x the pull of an "
        "average customer', followers_expected, p_value, influence_multiplier) || "
        "coalesce('; lead times ' || lead_days || ' days', '')"
    )
    return f"""CASE
        WHEN NOT influence_shown THEN {fallback}
        WHEN adoptions = 0 THEN 'no adoptions' || {where} || ' yet, so no adoptions caused; '
                                || {structural}
        ELSE {caused}
    END"""


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
