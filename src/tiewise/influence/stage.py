"""The influence stage: who moves others, per category, the seeds that move most, network value.

Tables written:

``influence_scores``
    One row per customer and category (and ``'all'``): adoptions, contacts who followed within
    the window, how many shuffled timing gives, excess, p-value, lead times, the structural
    estimate, the influence score (expected excess followers per adoption) and the reason.
``influence_tests``
    Per category: the population shuffle test (is there influence at all?).
``influence_links``
    Per directed link: actions, propagations and the probabilities of Goyal et al.'s models; the
    probability the cascade uses.
``influence_validation``
    ROC AUC of each link model for predicting who adopts after the training period, against the
    number of contacts who adopted.
``seed_sets`` / ``spread_curve``
    IMM seeds per category with the reason, and the expected reach for k = 1 … K next to the
    top-degree heuristic's.
``network_value`` / ``network_value_categories``
    Per customer (and per customer and category): the expected value of the adoptions that
    this customer's own adoptions cause in others over the value stage's horizon: expected
    adoptions × adopters each causes (independent cascade calibrated on the observed excess
    chains of follows) × the value of an adoption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from tiewise.config import Config
from tiewise.exceptions import ConfigError
from tiewise.graph.centrality import core_number, pagerank
from tiewise.graph.network import Network, load_network
from tiewise.influence.imm import (
    InGraph,
    RRSets,
    imm,
    in_graph,
    network_value,
    sample_rr_sets,
    scaled,
    top_degree,
    weighted_cascade,
)
from tiewise.influence.linkprob import LinkCounts, Validation, fit_links, validate
from tiewise.influence.structural import collective_influence, leaderrank
from tiewise.influence.timing import descendant_test, linked_pairs, shuffle_test
from tiewise.store import RunContext, exact_sum, scalar

__all__ = ["InfluenceSummary", "analyse_influence", "select_seeds"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ALL = "all"
DAYS_PER_MONTH = 30.4375
_STATIC = ("bernoulli", "jaccard", "partial_credit")


@dataclass
class InfluenceSummary:
    """Headline figures of the influence stage."""

    customers: int
    adoptions: int
    categories: list[str] = field(default_factory=list)
    influence_detected: list[str] = field(default_factory=list)
    link_model: str = "weighted_cascade"
    link_auc: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, float] = field(default_factory=dict)  # category -> expected reach
    network_value_total: float = 0.0
    value_basis: str = ""
    skipped: str | None = None


@dataclass
class _Adoptions:
    node: IntArray
    item: IntArray
    category: IntArray
    time: FloatArray
    items: list[str]
    categories: list[str]


def structural_score(net: Network, method: str) -> FloatArray:
    """The configured structural spreading score of every node."""
    if method == "contacts":
        return net.degree().astype(np.float64)
    if method == "pagerank":
        return pagerank(net.to_networkit())
    if method == "k_shell":
        return core_number(net.to_networkit()).astype(np.float64)
    if method == "collective_influence":
        return collective_influence(net.n, net.u, net.v)
    if method == "leaderrank":
        return leaderrank(net.n, net.u, net.v)
    raise ConfigError(f"[influence] structural = {method!r} is not a known method")


def customer_contacts(net: Network) -> IntArray:
    """Contacts of each node who are customers (only they can adopt)."""
    on = net.on_network
    return np.bincount(net.u[on[net.v]], minlength=net.n) + np.bincount(
        net.v[on[net.u]], minlength=net.n
    )


def _percent_rank(x: FloatArray, mask: npt.NDArray[np.bool_]) -> FloatArray:
    """Share of masked values strictly above each value, in percent (for 'top X%')."""
    ref = np.sort(x[mask])
    above = len(ref) - np.searchsorted(ref, x, side="right")
    return 100.0 * (above + 1) / max(1, len(ref))


def _load_adoptions(ctx: RunContext) -> _Adoptions | None:
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
    return _Adoptions(
        node=frame["node"].to_numpy(np.int64),
        item=frame["item"].map({x: i for i, x in enumerate(items)}).to_numpy(np.int64),
        category=frame["category"].map({x: i for i, x in enumerate(cats)}).to_numpy(np.int64),
        time=frame["t"].to_numpy(np.float64),
        items=items,
        categories=cats,
    )


def _adoption_values(ctx: RunContext, ad: _Adoptions) -> tuple[FloatArray, str]:
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


def expected_adoptions(counts: FloatArray, ratio: float) -> FloatArray:
    """Expected adoptions in a future period, per customer, from their counts in the past one.

    Gamma–Poisson empirical Bayes: each customer's adoption rate is drawn from a gamma whose
    shape ``α`` comes from the counts' over-dispersion (method of moments, ``α = m² / (s² − m)``),
    so the posterior mean rate is ``(α + x) / (α / m + 1)`` per past period; ``ratio`` is the
    length of the future period over the past one.  Without over-dispersion every customer gets
    the mean.

    Examples
    --------
    >>> expected_adoptions(np.array([0.0, 0.0, 0.0, 4.0]), 2.0).round(3).tolist()
    [0.667, 0.667, 0.667, 6.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = float(counts.mean()) if len(counts) else 0.0
    if m <= 0:
        return np.zeros_like(counts)
    v = float(counts.var())
    if v <= m:
        return np.full_like(counts, m * ratio)
    alpha = m * m / (v - m)
    return ratio * (alpha + counts) / (alpha / m + 1.0)


def _costs_and_exclusions(
    ctx: RunContext, net: Network, config: Config
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
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


_ITEM_PRIOR = 50.0  # adoptions of pseudo-evidence pulling an item's descendants to its category's
_PROBE_SETS = 10_000  # RR sets per probe of a scale
_PROBE_STEPS = 5  # bisection steps after bracketing within a factor 2: scale to 2%


@dataclass(frozen=True)
class _Cascades:
    """The learned link probabilities (``base``, largest 1) and their scale per category/item."""

    base: InGraph
    category_scale: dict[str, float]
    item_scale: FloatArray
    calibration: pd.DataFrame
    fallback: float = 1.0

    def graph(self, category: str) -> InGraph:
        """The category's cascade for seeds.

        Where the category shows no influence, the overall cascade; where none shows any, the
        learned probabilities as they are.
        """
        for scale in (self.category_scale.get(category, 0.0), self.category_scale[ALL]):
            if scale > 0:
                return scaled(self.base, scale)
        return scaled(self.base, self.fallback)


def _mean_reach(
    graph: InGraph, roots: IntArray, adopters: npt.NDArray[np.bool_], *, seed: int, stop: float
) -> float:
    """Mean over ``adopters`` of the expected number of other customers each reaches.

    ``N / |A| · E[|RR ∩ A| − 1{root ∈ A}]`` over RR sets rooted uniformly at the ``N`` customers;
    sampled in batches, it stops once above ``stop`` (a supercritical probe is costly).
    """
    hits, done, batch = 0.0, 0, 2_000
    scale = len(roots) / max(int(adopters.sum()), 1)
    while done < _PROBE_SETS:
        sets = sample_rr_sets(graph, batch, seed=seed, first=done, roots=roots)
        hits += float(adopters[sets.nodes].sum() - adopters[sets.nodes[sets.offsets[:-1]]].sum())
        done += batch
        if scale * hits / done > stop:
            break
    return scale * hits / done


def _calibrate(
    base: InGraph,
    roots: IntArray,
    adopters: npt.NDArray[np.bool_],
    target: float,
    start: float,
    seed: int,
) -> float:
    """The scale of ``base`` at which the adopters reach ``target`` others on average."""
    if target <= 0 or start <= 0 or not adopters.any():
        return 0.0

    def reach(scale: float) -> float:
        return _mean_reach(scaled(base, scale), roots, adopters, seed=seed, stop=4 * target)

    top = 1.0 / max(float(base.prob.min(initial=1.0)), 1e-12)  # every link at probability 1
    if reach(start) < target:
        lo, hi = start, 2.0 * start
        while reach(hi) < target:
            lo, hi = hi, 2.0 * hi
            if hi >= top:
                return top
    else:
        lo, hi = start / 2.0, start
        while reach(lo) >= target:
            lo, hi = lo / 2.0, lo
            if lo < 1e-9:
                return lo
    for _ in range(_PROBE_STEPS):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if reach(mid) < target else (lo, mid)
    return math.sqrt(lo * hi)


def _cascades(
    net: Network, ad: _Adoptions | None, counts: LinkCounts | None, model: str, config: Config
) -> tuple[_Cascades, FloatArray]:
    """Calibrated cascade probabilities, and the pooled probability of each directed link.

    The learned probabilities give each link its shape; their scale is set from the adoptions
    that followed through chains of contacts beyond what shuffled timing gives
    (:func:`descendant_test`): per item, per category and overall, the scale at which the
    cascade model makes the adopters reach, on average, as many others as followed them in the
    data.  Homophily's share is taken out by the shuffle, a category that spreads more gets
    larger probabilities, and the model's cascades are as large as the observed ones — fitting
    only the direct follows left them off by 0.5–4x on the generator, as a cascade's size
    depends steeply on its probabilities near the epidemic threshold.  An item's target is
    pulled towards its category's by ``_ITEM_PRIOR`` adoptions.  Links into off-network contacts
    carry nothing: those people are not customers and cannot adopt.  Without adoption data every
    link gets the weighted cascade.
    """
    cfg = config.influence
    src = np.concatenate([net.u, net.v])
    dst = np.concatenate([net.v, net.u])
    if counts is None or ad is None:
        wc = weighted_cascade(net.n, src, dst) * net.on_network[dst]
        base = in_graph(net.n, src, dst, wc)
        return _Cascades(base, {ALL: 1.0}, np.zeros(0), pd.DataFrame()), wc
    shape = counts.probability(model, prior=counts.base_rate(), strength=cfg.link_prior)
    shape = shape * net.on_network[counts.dst]
    norm = max(float(shape.max()), 1e-300)
    base = in_graph(net.n, counts.src, counts.dst, shape / norm)
    a, b = linked_pairs(net.n, net.u, net.v, ad.node, ad.item)
    observed, expected = descendant_test(
        ad.item, ad.time, a, b, window=cfg.window_days, shuffles=cfg.shuffles, seed=config.seed
    )
    excess = np.maximum(observed - expected, 0.0)
    # no network value where the population test does not show influence (same test and seed
    # as influence_tests): chance excess in a category without influence would count as value
    population = shuffle_test(
        ad.item, ad.time, a, b, window=cfg.window_days, group=ad.category, unit=ad.category,
        shuffles=cfg.shuffles, seed=config.seed,
    )  # fmt: skip
    detected = population.p_value < cfg.significance
    item_adoptions = np.bincount(ad.item, minlength=len(ad.items)).astype(np.float64)
    item_category = np.zeros(len(ad.items), dtype=np.int64)
    item_category[ad.item] = ad.category
    excess = np.where(detected[item_category], excess, 0.0)
    # the direct follows give the first guess of the scale
    direct = shuffle_test(
        ad.item, ad.time, a, b, window=cfg.window_days, group=ad.item, unit=ad.item,
        shuffles=cfg.shuffles, seed=config.seed,
    )  # fmt: skip
    out_shape = np.bincount(counts.src, weights=shape / norm, minlength=net.n)
    learned = np.bincount(ad.item, weights=out_shape[ad.node], minlength=len(ad.items))
    direct_excess = np.maximum(direct.observed - direct.expected, 0.0)
    roots = np.flatnonzero(net.on_network)
    rows, scales = [], {}
    for c, name in enumerate([*ad.categories, ALL]):
        mine = item_category == c if name != ALL else np.ones(len(ad.items), dtype=bool)
        adopters = np.zeros(net.n, dtype=bool)
        adopters[ad.node[mine[ad.item]]] = True
        n_adopt = float(item_adoptions[mine].sum())
        target = float(excess[mine].sum()) / max(n_adopt, 1.0)
        guess = float(direct_excess[mine].sum()) / max(float(learned[mine].sum()), 1e-300)
        scales[name] = _calibrate(base, roots, adopters, target, guess, config.seed + 11)
        rows.append((name, int(n_adopt), float(observed[mine].sum()),
                     float(expected[mine].sum()), target, scales[name] * norm))  # fmt: skip
    calibration = pd.DataFrame(
        rows,
        columns=["category", "adoptions", "descendants", "descendants_expected",
                 "caused_per_adoption", "link_scale"],
    )  # fmt: skip
    item_scale = np.zeros(len(ad.items))
    for i in range(len(ad.items)):
        cat = ad.categories[item_category[i]]
        prior = float(
            calibration.loc[calibration["category"] == cat, "caused_per_adoption"].iloc[0]
        )
        target = (excess[i] + _ITEM_PRIOR * prior) / (item_adoptions[i] + _ITEM_PRIOR)
        adopters = np.zeros(net.n, dtype=bool)
        adopters[ad.node[ad.item == i]] = True
        guess = scales[cat] if scales[cat] > 0 else 1.0
        item_scale[i] = _calibrate(base, roots, adopters, target, guess, config.seed + 12 + i)
    cascades = _Cascades(base, scales, item_scale, calibration, fallback=norm)
    return cascades, np.minimum(scales[ALL] * shape / norm, 1.0)


def _prefix_reach(sets: RRSets, order: IntArray, n: int, targets: int) -> FloatArray:
    """Expected reach of the first 1, 2, ... nodes of ``order``, estimated on ``sets``."""
    if sets.count == 0 or len(order) == 0:
        return np.zeros(len(order))
    rank = np.full(n, len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    per_node = rank[sets.nodes]
    lengths = np.diff(sets.offsets)
    first = np.full(sets.count, len(order), dtype=np.int64)
    nonempty = lengths > 0
    first[nonempty] = np.minimum.reduceat(per_node, sets.offsets[:-1][nonempty])
    hits = np.bincount(first[first < len(order)], minlength=len(order))
    return targets * np.cumsum(hits) / sets.count


@dataclass
class _State:
    net: Network
    adoptions: _Adoptions | None
    cascades: _Cascades
    cost: FloatArray
    excluded: npt.NDArray[np.bool_]
    followers: FloatArray  # per node, all categories


def _seed_rows(
    state: _State, config: Config, category: str, k: int, budget: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    net, ad = state.net, state.adoptions
    customers = net.on_network.copy()
    adopted = np.zeros(net.n, dtype=bool)
    if ad is not None and category != ALL:
        if category not in ad.categories:
            raise ConfigError(
                f"category {category!r} has no adoptions; known categories: "
                f"{', '.join(ad.categories)}."
            )
        adopted[ad.node[ad.category == ad.categories.index(category)]] = True
    targets = customers & ~adopted
    eligible = targets & ~state.excluded
    cfg = config.influence
    graph = state.cascades.graph(category)
    chosen = imm(
        graph,
        k,
        epsilon=cfg.epsilon,
        seed=config.seed,
        targets=targets,
        eligible=eligible,
        costs=state.cost if budget is not None else None,
        budget=budget,
        max_sets=cfg.max_rr_sets,
    )
    check = sample_rr_sets(graph, 100_000, seed=config.seed + 1, roots=np.flatnonzero(targets))
    nt = int(targets.sum())
    reach = _prefix_reach(check, chosen.seeds, net.n, nt)
    degree_order = top_degree(graph, len(chosen.seeds), eligible)
    degree_reach = _prefix_reach(check, degree_order, net.n, nt)
    seeds = chosen.seeds
    ids = net.ids[seeds]
    cum_cost = np.cumsum(state.cost[seeds])
    what = "any item" if category == ALL else f"a {category} item"
    capped = (
        f"; IMM guarantee (1 - 1/e - {chosen.epsilon:.2f}) with {chosen.rr_sets:,} RR sets "
        f"(max_rr_sets), not epsilon {cfg.epsilon:g}"
        if chosen.epsilon > cfg.epsilon * (1 + 1e-9)
        else ""
    )
    reasons = [
        f"seed {i + 1} for {category}: adds {g:.1f} expected adopters of {what} "
        f"(independent cascade over learned link probabilities; {r:.1f} reached by the first "
        f"{i + 1}); cost {c:g}; {int(f)} contacts followed this customer before{capped}"
        for i, (g, r, c, f) in enumerate(
            zip(chosen.gain, reach, state.cost[seeds], state.followers[seeds], strict=True)
        )
    ]
    seed_frame = pd.DataFrame(
        {
            "category": category,
            "rank": np.arange(1, len(seeds) + 1),
            "customer_id": pd.Series(ids, dtype="string"),
            "cost": state.cost[seeds],
            "cumulative_cost": cum_cost,
            "marginal_reach": chosen.gain,
            "expected_reach": reach,
            "rr_sets": chosen.rr_sets,
            "epsilon": chosen.epsilon,
            "reason": reasons,
        }
    )
    curve = pd.DataFrame(
        {
            "category": category,
            "k": np.arange(1, len(seeds) + 1),
            "expected_reach": reach,
            "top_degree_reach": np.pad(
                degree_reach, (0, len(seeds) - len(degree_reach)), mode="edge"
            )
            if len(degree_reach)
            else np.zeros(len(seeds)),
            "cumulative_cost": cum_cost,
            "targets": nt,
        }
    )
    return seed_frame, curve


def _evidence(
    net: Network, ad: _Adoptions, config: Config
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per (node, category code) follows, shuffled expectation, p-value and weighted excess.

    Category code ``len(categories)`` is 'all'.  Returns the evidence, the population tests and
    the lead times.
    """
    cfg = config.influence
    n_cat = len(ad.categories)
    a, b = linked_pairs(net.n, net.u, net.v, ad.node, ad.item)
    contacts = customer_contacts(net)
    rows = np.arange(len(ad.node), dtype=np.int64)
    # per adoption row, and per item: how much of the following is beyond shuffled timing
    per_row = shuffle_test(
        ad.item, ad.time, a, b, window=cfg.window_days, group=rows, unit=ad.item,
        shuffles=cfg.shuffles, seed=config.seed + 7,
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        item_share = np.where(
            per_row.observed > 0, np.maximum(0.0, 1.0 - per_row.expected / per_row.observed), 0.0
        )
    w = item_share[ad.item]
    row_frame = pd.DataFrame(
        {
            "node": ad.node,
            "cat": ad.category,
            "weighted_excess": w * (per_row.group_observed - per_row.group_expected),
            "exposure": w * contacts[ad.node],
        }
    )
    weighted = pd.concat(
        [
            row_frame.groupby(["node", "cat"], as_index=False)[
                ["weighted_excess", "exposure"]
            ].sum(),
            row_frame.groupby("node", as_index=False)[["weighted_excess", "exposure"]]
            .sum()
            .assign(cat=n_cat),
        ],
        ignore_index=True,
    )
    frames, tests = [], pd.DataFrame()
    for pass_, groups in enumerate(
        (ad.node * (n_cat + 1) + ad.category, ad.node * (n_cat + 1) + n_cat)
    ):
        codes, group = np.unique(groups, return_inverse=True)
        test = shuffle_test(
            ad.item, ad.time, a, b, window=cfg.window_days, group=group, unit=ad.category,
            shuffles=cfg.shuffles, seed=config.seed + pass_,
        )  # fmt: skip
        if pass_ == 0:
            tests = pd.DataFrame(
                {
                    "category": ad.categories,
                    "adopters": np.bincount(ad.category, minlength=n_cat),
                    "items": [len(np.unique(ad.item[ad.category == c])) for c in range(n_cat)],
                    "linked_adopter_pairs": np.bincount(ad.category[a], minlength=n_cat),
                    "follows": test.observed,
                    "follows_expected": test.expected,
                    "p_value": test.p_value,
                }
            )
        frames.append(
            pd.DataFrame(
                {
                    "node": codes // (n_cat + 1),
                    "cat": codes % (n_cat + 1),
                    "adoptions": np.bincount(group, minlength=len(codes)),
                    "followers": test.group_observed,
                    "followers_expected": test.group_expected,
                    "p_value": test.group_p,
                }
            )
        )
    evidence = pd.concat(frames, ignore_index=True).merge(weighted, on=["node", "cat"])
    lead = pd.DataFrame({"row_a": np.concatenate([a, b]), "row_b": np.concatenate([b, a])})
    lead["delay"] = ad.time[lead["row_b"]] - ad.time[lead["row_a"]]
    lead = lead[(lead["delay"] > 0) & (lead["delay"] <= cfg.window_days)]
    lead = lead.assign(node=ad.node[lead["row_a"]], cat=ad.category[lead["row_a"]])
    lead = lead.sort_values(["node", "cat", "delay"], kind="stable")

    def shortest(d: pd.Series) -> str:
        return ", ".join(f"{x:.1f}" for x in np.sort(d.to_numpy())[:5])

    parts = []
    for keys, cat in ((["node", "cat"], None), (["node"], n_cat)):
        delays = lead.groupby(keys)["delay"]
        part = pd.DataFrame(
            {"median_lead_days": delays.median(), "lead_days": delays.apply(shortest)}
        ).reset_index()
        parts.append(part if cat is None else part.assign(cat=cat))
    lists = pd.concat(parts, ignore_index=True)
    return evidence, tests, lists


_EVIDENCE = ["adoptions", "followers", "followers_expected", "weighted_excess", "exposure"]


def _scores_frame(
    net: Network,
    ad: _Adoptions | None,
    config: Config,
    structural: FloatArray,
) -> tuple[pd.DataFrame, pd.DataFrame, FloatArray]:
    """influence_scores and influence_tests, and the followers per node over all categories."""
    cfg = config.influence
    customers = np.flatnonzero(net.on_network)
    contacts = net.degree()
    reachable = customer_contacts(net)
    pct = _percent_rank(structural, net.on_network)
    cats = [] if ad is None else ad.categories
    all_cats = [*cats, ALL]
    grid = pd.DataFrame(
        {
            "node": np.repeat(customers, len(all_cats)),
            "cat": np.tile(np.arange(len(all_cats)), len(customers)),
        }
    )
    tests = pd.DataFrame(
        columns=["category", "adopters", "items", "linked_adopter_pairs", "follows",
                 "follows_expected", "p_value"]
    )  # fmt: skip
    if ad is not None:
        evidence, tests, lists = _evidence(net, ad, config)
        grid = grid.merge(evidence, on=["node", "cat"], how="left")
        grid = grid.merge(lists, on=["node", "cat"], how="left")
    else:
        grid = grid.assign(p_value=np.nan, median_lead_days=np.nan, lead_days=None)
        for col in _EVIDENCE:
            grid[col] = 0.0
    grid[_EVIDENCE] = grid[_EVIDENCE].fillna(0.0)
    grid["adoptions"] = grid["adoptions"].astype(np.int64)
    grid["excess_followers"] = grid["followers"] - grid["followers_expected"]
    # the population's rate per category: excess follows per exposed contact
    totals = grid.groupby("cat")[["weighted_excess", "exposure"]].sum()
    base = (totals["weighted_excess"].clip(lower=0) / totals["exposure"].where(
        totals["exposure"] > 0)).fillna(0.0)  # fmt: skip
    grid["population_rate"] = grid["cat"].map(base).astype(np.float64)
    k = cfg.prior_exposure
    grid["influence_score"] = (grid["weighted_excess"] + k * grid["population_rate"]) / (
        grid["exposure"] + k
    )
    node = grid["node"].to_numpy()
    grid["category"] = [all_cats[c] for c in grid["cat"]]
    grid["customer_id"] = pd.Series(net.ids[node], dtype="string")
    grid["contacts"] = contacts[node]
    grid["customer_contacts"] = reachable[node]
    grid["structural_score"] = structural[node]
    grid["structural_top_pct"] = pct[node]
    grid["basis"] = np.where(grid["adoptions"] > 0, "adoption timing", "structure only")
    grid = grid.sort_values(
        ["cat", "influence_score", "structural_score", "node"],
        ascending=[True, False, False, True],
    )
    grid["rank"] = grid.groupby("cat").cumcount() + 1
    followers_all = np.zeros(net.n)
    sel = grid["cat"] == len(cats)
    followers_all[grid.loc[sel, "node"].to_numpy()] = grid.loc[sel, "followers"].to_numpy()
    grid["reason"] = [
        _reason(r, cfg.window_days, cfg.structural) for r in grid.itertuples(index=False)
    ]
    scores = grid[
        [
            "customer_id", "category", "rank", "influence_score", "population_rate", "adoptions",
            "contacts", "customer_contacts", "followers", "followers_expected",
            "excess_followers", "p_value",
            "median_lead_days", "lead_days", "structural_score", "structural_top_pct", "basis",
            "reason",
        ]
    ]  # fmt: skip
    return scores.reset_index(drop=True), tests, followers_all


def _reason(r: Any, window: float, method: str) -> str:
    what = "any item" if r.category == ALL else f"the same {r.category} item"
    rate = (
        f"converts an estimated {100 * r.influence_score:.1f}% of customer contacts per adoption "
        f"beyond homophily (average {100 * r.population_rate:.1f}%)"
    )
    if r.adoptions == 0:
        return (
            f"no adoptions{'' if r.category == ALL else ' in ' + r.category} yet, so the "
            f"average rate; ranked by {method.replace('_', ' ')} (top "
            f"{r.structural_top_pct:.1f}%), {r.contacts} contacts"
        )
    leads = f"; lead times {r.lead_days} days" if isinstance(r.lead_days, str) else ""
    return (
        f"{r.followers:.0f} of {r.customer_contacts} customer contacts adopted {what} within "
        f"{window:g} days after "
        f"this customer ({r.adoptions} adoption{'s' if r.adoptions != 1 else ''}); "
        f"{r.followers_expected:.1f} expected from shuffled timing, excess "
        f"{r.excess_followers:+.1f}, p={r.p_value:.3f}{leads}; {rate}"
    )


def _test_reasons(tests: pd.DataFrame, alpha: float, shuffles: int) -> pd.DataFrame:
    tests = tests.copy()
    tests["excess"] = tests["follows"] - tests["follows_expected"]
    tests["ratio"] = np.where(
        tests["follows_expected"] > 0, tests["follows"] / tests["follows_expected"], np.nan
    )
    tests["influence_detected"] = tests["p_value"] < alpha
    tests["reason"] = [
        f"{r.follows:.0f} follows within the window between linked adopters of {r.category} "
        f"items; shuffled adoption times give {r.follows_expected:.1f} on average "
        f"(x{r.ratio:.2f}); p={r.p_value:.3f} over {shuffles} shuffles: "
        + ("influence" if r.influence_detected else "no evidence of influence beyond homophily")
        for r in tests.itertuples(index=False)
    ]
    return tests


def _validation_frame(val: Validation) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": list(val.auc),
            "roc_auc": list(val.auc.values()),
            "trained_until": pd.to_datetime(val.cut * 86400.0, unit="s"),
            "candidates": val.candidates,
            "adopters": val.adopters,
        }
    )


def _prepare(ctx: RunContext, config: Config) -> tuple[_State, dict[str, Any]]:
    """Network, adoptions, learned link probabilities, costs: everything seeds need."""
    cfg = config.influence
    net = load_network(
        ctx,
        exclude_service=config.links.exclude_service_numbers,
        log_weight=config.graph.edge_weight == "log_strength",
    )
    ad = _load_adoptions(ctx)
    extra: dict[str, Any] = {}
    counts: LinkCounts | None = None
    model = "weighted_cascade"
    if ad is not None:
        a, b = linked_pairs(net.n, net.u, net.v, ad.node, ad.item)
        counts = fit_links(
            net.n, net.u, net.v, ad.node, ad.item, ad.time, a, b, window=cfg.window_days
        )
        lo, hi = float(ad.time.min()), float(ad.time.max())
        val = validate(
            net.n, net.u, net.v, ad.node, ad.item, ad.time, a, b,
            window=cfg.window_days, cut=lo + cfg.train_share * (hi - lo),
            strength=cfg.link_prior,
        )  # fmt: skip
        extra["validation"] = val
        scored = {m: val.auc[m] for m in _STATIC if not math.isnan(val.auc[m])}
        model = max(scored, key=lambda m: scored[m]) if scored else "bernoulli"
    cascades, prob = _cascades(net, ad, counts, model, config)
    extra.update(counts=counts, model=model, prob=prob, calibration=cascades.calibration)
    cost, excluded = _costs_and_exclusions(ctx, net, config)
    return _State(net, ad, cascades, cost, excluded, np.zeros(net.n)), extra


def _write_links(
    ctx: RunContext, net: Network, counts: LinkCounts | None, prob: FloatArray
) -> None:
    """Write ``influence_links``.

    The numbers come from numpy and the ids are joined in DuckDB, so Python never holds a string
    column of every directed link.
    """
    src = np.concatenate([net.u, net.v])
    dst = np.concatenate([net.v, net.u])
    keep = net.on_network[dst]
    columns: dict[str, Any] = {
        "src": src[keep],
        "dst": dst[keep],
        "p_weighted_cascade": weighted_cascade(net.n, src, dst)[keep],
        "probability": prob[keep],
    }
    if counts is not None:
        columns["source_adoptions"] = counts.actions_src[keep].astype(np.int64)
        columns["propagations"] = counts.propagations[keep].astype(np.int64)
        columns["partial_credit"] = counts.credit[keep]
        columns["mean_delay_days"] = counts.mean_delay[keep]
        for m in _STATIC:
            columns[f"p_{m}"] = counts.probability(m)[keep]
    ctx.con.register("_influence_links", pa.table(columns))
    try:
        ctx.write_table(
            "influence_links",
            """
            SELECT s.customer_id AS source, t.customer_id AS target, l.* EXCLUDE (src, dst)
            FROM _influence_links l JOIN _node_index s ON s.idx = l.src
                                    JOIN _node_index t ON t.idx = l.dst
            ORDER BY source, target
            """,
            stage="influence",
            description="Per directed link: propagations and learned influence probabilities.",
        )
    finally:
        ctx.con.unregister("_influence_links")


def _network_values(ctx: RunContext, state: _State, config: Config) -> tuple[pd.DataFrame, str]:
    """Per customer × category: network value over the value horizon, and the value basis.

    For category ``c``, one adoption by ``u`` is worth to others
    ``value_c · Σ_{r≠u} P_c(u reaches r)`` (Domingos & Richardson's network value under the
    category's calibrated cascade, from RR sets rooted uniformly at customers).  Over the value
    stage's horizon ``u`` is expected to adopt ``E_uc`` times (:func:`expected_adoptions` from the
    observed period), so ``network_value(u) = Σ_c E_uc · value_c · reach_c(u)``.
    """
    net, ad = state.net, state.adoptions
    assert ad is not None
    cfg = config.influence
    values, basis = _adoption_values(ctx, ad)
    customers = net.on_network.astype(np.float64)
    on = np.flatnonzero(net.on_network)
    span = max(float(ad.time.max() - ad.time.min()), 1.0)
    horizon = config.value.horizon_months * DAYS_PER_MONTH
    samples = cfg.network_value_samples or max(200_000, 20 * len(on))
    parts = []
    item_adoptions = np.bincount(ad.item, minlength=len(ad.items))
    for c, name in enumerate(ad.categories):
        # a future adoption in the category is of one of its items, in the observed mix
        items = np.flatnonzero(np.bincount(ad.item[ad.category == c], minlength=len(ad.items)))
        weight = item_adoptions[items] / item_adoptions[items].sum()
        per_adoption, se2 = np.zeros(net.n), np.zeros(net.n)
        for i, w in zip(items, weight, strict=True):
            nv_i, se_i = network_value(
                scaled(state.cascades.base, float(state.cascades.item_scale[i])),
                values[c] * customers,
                samples=max(50_000, round(samples * w)),
                seed=config.seed + 2 + int(i),
            )
            per_adoption += w * nv_i
            se2 += (w * se_i) ** 2
        se = np.sqrt(se2)
        past = np.bincount(ad.node[ad.category == c], minlength=net.n)[on]
        future = expected_adoptions(past.astype(np.float64), horizon / span)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": pd.Series(net.ids[on], dtype="string"),
                    "category": name,
                    "adoptions": past,
                    "expected_adoptions": future,
                    "adopters_caused": per_adoption[on] / values[c],
                    "adoption_value": values[c],
                    "value_per_adoption": per_adoption[on],
                    "network_value": future * per_adoption[on],
                    "standard_error": future * se[on],
                }
            )
        )
    return pd.concat(parts, ignore_index=True), basis


def _write_network_values(
    ctx: RunContext, state: _State, config: Config, summary: InfluenceSummary
) -> None:
    by_category, basis = _network_values(ctx, state, config)
    summary.network_value_total = float(by_category["network_value"].sum())
    summary.value_basis = basis
    ctx.write_table(
        "network_value_categories",
        by_category.sort_values(["customer_id", "category"]),
        stage="influence",
        description="Per customer and category: expected adoptions, adopters each causes, value.",
    )
    months = config.value.horizon_months
    ctx.write_table(
        "network_value",
        f"""
        SELECT customer_id, sum(network_value ORDER BY category) AS network_value,
               sqrt(sum(standard_error * standard_error ORDER BY category)) AS standard_error,
               sum(expected_adoptions ORDER BY category) AS expected_adoptions,
               format('value of the adoptions this customer''s own adoptions are expected to '
                      || 'cause in others over {months} months: {{:.2f}} (± {{:.2f}}) = ',
                      sum(network_value ORDER BY category),
                      sqrt(sum(standard_error * standard_error ORDER BY category)))
               || string_agg(format('{{}}: {{:.2f}} expected adoptions x {{:.2f}} adopters '
                                    || 'caused each x {{:.2f}}', category, expected_adoptions,
                                    adopters_caused, adoption_value), '; ' ORDER BY category)
                   AS reason
        FROM network_value_categories
        GROUP BY customer_id
        ORDER BY network_value DESC, customer_id
        """,
        stage="influence",
        description=(
            "Per customer: network value over the value horizon (Domingos & Richardson), "
            f"adoption value = {basis}."
        ),
    )


def analyse_influence(ctx: RunContext, config: Config) -> InfluenceSummary:
    """Measure influence, learn link probabilities, choose seeds and compute network values."""
    cfg = config.influence
    state, extra = _prepare(ctx, config)
    net, ad = state.net, state.adoptions
    structural = structural_score(net, cfg.structural)
    scores, tests, followers = _scores_frame(net, ad, config, structural)
    state.followers = followers
    summary = InfluenceSummary(
        customers=int(net.on_network.sum()),
        adoptions=0 if ad is None else len(ad.node),
        categories=[] if ad is None else list(ad.categories),
        link_model=extra["model"],
    )
    if ad is None:
        summary.skipped = (
            "no adoptions input: influence from timing, link learning and the shuffle tests "
            "were skipped; scores are structural and seeds use the weighted cascade"
        )
    desc = "Per customer and category: followers vs shuffled timing, influence score, reason."
    ctx.write_table("influence_scores", scores, stage="influence", description=desc)
    tests = _test_reasons(tests, cfg.significance, cfg.shuffles)
    if len(extra["calibration"]):
        tests = tests.merge(
            extra["calibration"][["category", "link_scale", "caused_per_adoption"]],
            on="category",
            how="left",
        )
    summary.influence_detected = tests.loc[tests["influence_detected"], "category"].tolist()
    ctx.write_table(
        "influence_tests",
        tests,
        stage="influence",
        description="Per category: population shuffle test of adoption timing (homophily control).",
    )
    _write_links(ctx, net, extra["counts"], extra["prob"])
    if "validation" in extra:
        val: Validation = extra["validation"]
        summary.link_auc = dict(val.auc)
        ctx.write_table(
            "influence_validation",
            _validation_frame(val),
            stage="influence",
            description="ROC AUC of the link models on the period after training.",
        )
    seed_frames, curves = [], []
    for category in [*summary.categories] or [ALL]:
        s, c = _seed_rows(state, config, category, cfg.seeds, cfg.budget)
        seed_frames.append(s)
        curves.append(c)
        summary.seeds[category] = float(c["expected_reach"].iloc[-1]) if len(c) else 0.0
    ctx.write_table(
        "seed_sets",
        pd.concat(seed_frames, ignore_index=True),
        stage="influence",
        description="IMM seeds per category with their expected reach and the reason.",
    )
    ctx.write_table(
        "spread_curve",
        pd.concat(curves, ignore_index=True),
        stage="influence",
        description="Expected reach of the first k seeds, next to the top-degree heuristic.",
    )
    if ad is None:
        summary.value_basis = "none: network value needs adoption events (no adoptions input)"
    else:
        _write_network_values(ctx, state, config, summary)
    return summary


def select_seeds(
    ctx: RunContext, config: Config, *, category: str, k: int, budget: float | None = None
) -> pd.DataFrame:
    """IMM seeds for one category (``'all'`` for any) and write them into ``seed_sets``.

    Rows of other categories in ``seed_sets`` and ``spread_curve`` are kept.
    """
    state, _ = _prepare(ctx, config)
    if ctx.has_table("influence_scores"):
        rows = ctx.con.execute(
            "SELECT n.idx, s.followers FROM influence_scores s JOIN _node_index n "
            "USING (customer_id) WHERE s.category = 'all'"
        ).fetchnumpy()
        state.followers[rows["idx"]] = rows["followers"]
    seeds, curve = _seed_rows(state, config, category, k, budget)
    for name, frame in (("seed_sets", seeds), ("spread_curve", curve)):
        if ctx.has_table(name):
            ctx.con.register("_new_rows", frame)
            frame = ctx.con.execute(
                f"SELECT * FROM {name} WHERE category <> ? UNION ALL BY NAME "
                "SELECT * FROM _new_rows ORDER BY category, 2",
                [category],
            ).df()
            ctx.con.unregister("_new_rows")
        ctx.write_table(
            name, frame, stage="influence", description=f"IMM {name.replace('_', ' ')}."
        )
    return seeds
