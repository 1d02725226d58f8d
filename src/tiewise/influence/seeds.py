"""Seeds: the customers whose adoption spreads furthest, under a cascade fitted to the data.

The learned link probabilities (:mod:`tiewise.influence.linkprob`) give each link its shape;
their scale per category is set from what the category's adoptions caused, chains of
credited follows included (:attr:`tiewise.influence.measure.Measured.population_descendants`,
what network value counts too): the scale at which the cascade model makes the adopters reach,
on average, as many others as they caused in the data.  Seeds are chosen on that cascade by IMM;
a fresh sample checks their reach and certifies how close to the best they are.

Only a category whose tests show influence gets a cascade.  Elsewhere the seed list is a
*structural fallback* — the customers with the highest structural spreading score — labelled as
such in every row, with no expected reach and no spread curve: nothing in the data says their
adoption would spread.

The expected reach is checked out of sample, as a seed is chosen (:func:`reach_check`): the link
probabilities are learned from the adoptions up to a cut (``train_share`` of the period) only,
the scale is calibrated on the adopters of a stretch before the cut as long as what follows it
(their chains cut short at the cut, as the test's are at the end of the data), and the cascade's
prediction for the customers who adopted in the category for the first time after the cut is
compared with what they caused (chains of credited follows, counted as the calibration counts
them); customers who had adopted in the category already are reachable on neither side.  The
ratio (``reach_check``) scales the model's reach (``model_reach``) into the ``expected_reach``
shown, and its 90% interval widens the sampling interval into ``reach_low`` – ``reach_high``.
Against a generator's true cascade the figure ran low (``docs/influence.md``): it is presented
as conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.config import Config
from tiewise.exceptions import ConfigError
from tiewise.graph.network import Network
from tiewise.influence.data import Adoptions
from tiewise.influence.imm import (
    InGraph,
    RRSets,
    certified_epsilon,
    imm,
    in_graph,
    prefix_hits,
    reach_of_prefixes,
    sample_rr_sets,
    scaled,
    top_degree,
    weighted_cascade,
)
from tiewise.influence.linkprob import LinkCounts, fit_links
from tiewise.influence.measure import at_most_one, chain_descendants
from tiewise.influence.scores import ALL
from tiewise.influence.timing import Pairs

__all__ = ["Cascades", "ReachCheck", "cascades", "reach_check", "seed_rows"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_PROBE_SETS = 10_000  # RR sets per probe of a scale
_FIRST_PART = 64  # RR sets a probe draws first, doubling up to the batch (see _mean_reach)
_PROBE_STEPS = 5  # bisection steps after bracketing within a factor 2: scale to 2%
_CHECK_SETS = 100_000  # RR sets at least to estimate the reach of a seed set ...
_CHECK_FIRST_HITS = 1_000  # ... doubled while the first seed is in fewer of them (estimated) ...
_CHECK_DOUBLINGS = 6  # ... up to this many times (sets that are their root alone cost little)
_Z90 = 1.6448536269514722  # two-sided 90%


@dataclass(frozen=True)
class Cascades:
    """The learned link probabilities (``base``, largest 1) and their scale per category."""

    base: InGraph
    category_scale: dict[str, float]
    calibration: pd.DataFrame
    detected: dict[str, bool]

    def graph(self, category: str) -> InGraph | None:
        """The category's cascade, or None where its influence is not shown."""
        scale = self.category_scale.get(category, 0.0)
        if not self.detected.get(category, False) or scale <= 0:
            return None
        return scaled(self.base, scale)


def _mean_reach(
    graph: InGraph, roots: IntArray, adopters: BoolArray, *, seed: int, stop: float
) -> float:
    """Mean over ``adopters`` of the expected number of other customers each reaches.

    ``N / |A| · E[|RR ∩ A| − 1{root ∈ A}]`` over RR sets rooted uniformly at the ``N`` customers;
    sampled in batches, it stops once above ``stop`` (a supercritical probe is costly) and then
    returns an estimate above ``stop``, which the calibration only compares with a lower target.
    """
    hits, done, batch = 0.0, 0, 2_000
    scale = len(roots) / max(int(adopters.sum()), 1)
    while done < _PROBE_SETS:
        end = done + batch
        # the batch in growing parts: a supercritical probe's sets each cover much of the
        # network, and a few of them already show it.  Stopping once the part's hits are above
        # ``stop`` over the whole batch decides as the whole batch would (hits only grow), and
        # set k depends on (seed, k) alone, so a probe that does not stop draws the same sets.
        part = _FIRST_PART if math.isfinite(stop) else batch
        while done < end:
            take = min(part, end - done)
            sets = sample_rr_sets(graph, take, seed=seed, first=done, roots=roots)
            starts = sets.nodes[sets.offsets[:-1]]
            hits += float(adopters[sets.nodes].sum() - adopters[starts].sum())
            done += take
            part *= 2
            if scale * hits / end > stop:
                return scale * hits / done
    return scale * hits / done


def _calibrate(
    base: InGraph, roots: IntArray, adopters: BoolArray, target: float, start: float, seed: int
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


def _base(
    net: Network, counts: LinkCounts, model: str, link_prior: float
) -> tuple[InGraph, float, FloatArray]:
    shape = counts.probability(model, prior=counts.base_rate(), strength=link_prior)
    shape = shape * net.on_network[counts.dst]
    norm = max(float(shape.max()), 1e-300)
    return in_graph(net.n, counts.src, counts.dst, shape / norm), norm, shape / norm


def cascades(
    net: Network,
    ad: Adoptions | None,
    counts: LinkCounts | None,
    model: str,
    detected: dict[str, bool],
    targets: dict[str, float] | None,
    config: Config,
) -> tuple[Cascades, FloatArray]:
    """Calibrated cascade per category where influence is shown, and each link's probability.

    The scale per category is the one at which the adopters reach, on average, as many others
    as their adoptions caused, chains included: ``targets`` per category (the measured
    descendants per adoption, as network value uses them).  Without adoption data there is no
    cascade (every category is a structural fallback) and links carry the weighted cascade.
    """
    cfg = config.influence
    src = np.concatenate([net.u, net.v])
    dst = np.concatenate([net.v, net.u])
    if counts is None or ad is None or targets is None:
        wc = weighted_cascade(net.n, src, dst) * net.on_network[dst]
        return Cascades(in_graph(net.n, src, dst, wc), {}, pd.DataFrame(), {ALL: False}), wc
    base, norm, shape = _base(net, counts, model, cfg.link_prior)
    roots = np.flatnonzero(net.on_network)
    shown = np.flatnonzero([detected.get(c, False) for c in ad.categories])
    rows, scales = [], {}
    for c, name in enumerate([*ad.categories, ALL]):
        mine = ad.category == c if name != ALL else np.isin(ad.category, shown)
        adopters = np.zeros(net.n, dtype=bool)
        adopters[ad.node[mine]] = True
        target = targets.get(name, 0.0) if detected.get(name, False) else 0.0
        scales[name] = _calibrate(base, roots, adopters, target, 1.0, config.seed + 11)
        rows.append((name, int(mine.sum()), target, scales[name] * norm))
    calibration = pd.DataFrame(
        rows, columns=["category", "adoptions", "caused_per_adoption", "link_scale"]
    )
    result = Cascades(base, scales, calibration, detected)
    return result, np.minimum(scales[ALL] * shape, 1.0)


@dataclass(frozen=True)
class ReachCheck:
    """Out-of-sample check of the cascade's reach, per category.

    ``ratio`` is what the adopters after the cut caused (chains of credited follows, as the
    calibration counts them) over what the cascade calibrated before the cut predicts for them;
    ``low`` and ``high`` bound it (90%).  1 means the model's reach held out of sample.
    """

    ratio: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]


def _chains(
    ad: Adoptions, follows: tuple[IntArray, IntArray, FloatArray], keep: BoolArray
) -> FloatArray:
    """Per adoption row: what it caused, chains of credited follows within the ``keep`` rows."""
    lead, follower, prob = follows
    both = keep[lead] & keep[follower]
    return chain_descendants(
        ad.time, lead[both], follower[both], at_most_one(follower[both], prob[both])
    )


def _mean_se(x: FloatArray) -> tuple[float, float]:
    if len(x) == 0:
        return 0.0, 0.0
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def _counts_before(
    net: Network, ad: Adoptions, pairs: Pairs, keep: BoolArray, window: float
) -> LinkCounts:
    """Link counts learned from the ``keep`` adoption rows only."""
    rows = np.flatnonzero(keep)
    return fit_links(
        net.n, net.u, net.v, ad.node[rows], ad.time[rows], pairs.among(keep), window=window,
    )  # fmt: skip


def _without(nodes: IntArray, drop: IntArray, n: int) -> IntArray:
    """``nodes`` (sorted, distinct) without ``drop``: ``np.setdiff1d``'s answer, without sorting.

    >>> nodes, drop = np.array([1, 3, 5, 7]), np.array([7, 3, 9, 3])
    >>> _without(nodes, drop, 10).tolist() == np.setdiff1d(nodes, drop).tolist() == [1, 5]
    True
    """
    keep = np.ones(n, dtype=bool)
    keep[drop] = False
    return nodes[keep[nodes]]


def reach_check(
    net: Network,
    ad: Adoptions,
    model: str,
    detected: dict[str, bool],
    follows: tuple[IntArray, IntArray, FloatArray],
    pairs: Pairs,
    window: float,
    config: Config,
) -> ReachCheck:
    """Fit the cascade before the cut, compare its reach with what new adopters caused after it.

    The check is built as a seed is chosen: the link probabilities are learned from the
    adoptions up to the cut only, the scale is calibrated on the adopters of a stretch before
    it, and the prediction is made for the customers who adopted in the category after the cut
    for the first time (as seeds have not adopted in it).  What they caused counts as the
    calibration counts it (chains of credited follows at the population's causal probability,
    :attr:`Measured.population_follows`).  The interval is a normal one on the log of the
    ratio, from the standard errors of the caused per adoption on both sides (adoptions taken
    as independent).
    """
    cfg = config.influence
    lo, hi = float(ad.time.min()), float(ad.time.max())
    cut = lo + cfg.train_share * (hi - lo)
    known = ad.time <= cut
    # the fit sees as long a follow-up as the test: the adoptions of the same length of time
    # before the cut, their chains cut short at the cut as the test's are at the end of the data
    before = known & (ad.time > cut - (hi - cut))
    base, _, _ = _base(net, _counts_before(net, ad, pairs, known, window), model, cfg.link_prior)
    roots = np.flatnonzero(net.on_network)
    fit_chains = _chains(ad, follows, before)
    seen_chains = _chains(ad, follows, ~known)
    # first adoptions in their category after the cut (customers new to it, as seeds are)
    key = ad.node * len(ad.categories) + ad.category
    new = ~known & ~np.isin(key, key[known])
    ratio, low, high = {}, {}, {}
    for c, name in enumerate(ad.categories):
        mine = ad.category == c
        fit, fit_se = _mean_se(fit_chains[before & mine])
        rows = np.flatnonzero(new & mine)
        if not detected.get(name, False) or fit <= 0 or len(rows) == 0:
            continue
        adopters_before = np.zeros(net.n, dtype=bool)
        adopters_before[ad.node[before & mine]] = True
        # who could still be reached: not those who had adopted in the category already
        fit_roots = _without(roots, ad.node[mine & (ad.time <= cut - (hi - cut))], net.n)
        test_roots = _without(roots, ad.node[mine & known], net.n)
        scale = _calibrate(base, fit_roots, adopters_before, fit, 1.0, config.seed + 13)
        adopters_after = np.zeros(net.n, dtype=bool)
        adopters_after[ad.node[rows]] = True
        predicted = _mean_reach(
            scaled(base, scale), test_roots, adopters_after, seed=config.seed + 14, stop=np.inf
        )
        seen, seen_se = _mean_se(seen_chains[rows])
        if predicted <= 0:
            continue
        ratio[name] = seen / predicted
        spread = math.hypot(seen_se / max(seen, 1e-12), fit_se / fit)
        low[name] = ratio[name] * math.exp(-_Z90 * spread) if seen > 0 else 0.0
        # nothing caused after the cut: at most -ln(0.1) adoptions in all, at 90%
        high[name] = (
            ratio[name] * math.exp(_Z90 * spread)
            if seen > 0
            else math.log(10.0) / len(rows) / predicted
        )
    return ReachCheck(ratio, low, high)


def _check_sets(
    graph: InGraph, seeds: IntArray, roots: IntArray, max_sets: int, seed: int
) -> tuple[RRSets, int]:
    """A fresh sample to estimate the seeds' reach and certify them, and how many sizes it had.

    ``_CHECK_SETS``, doubled up to ``_CHECK_DOUBLINGS`` times (and at most ``max_sets``) while
    the first seed would be in fewer than ``_CHECK_FIRST_HITS`` of them (as estimated on the
    first ``_CHECK_SETS``): the reach of all the seeds to a few per cent, and a certificate
    close to what they achieve.  The size depends on the first seed only, so the first ``k``
    seeds of a longer list get the same estimate; it takes one of a few sizes (the second
    value), which the certificate accounts for.
    """
    check = sample_rr_sets(graph, _CHECK_SETS, seed=seed + 1, roots=roots, singles=True)
    sizes = _CHECK_DOUBLINGS + 2  # each doubling, or max_sets
    if len(seeds) == 0 or check.count == 0:
        return check, sizes
    first = int(prefix_hits(check, seeds[:1], graph.n)[0])
    doublings = 0
    while doublings < _CHECK_DOUBLINGS and first << doublings < _CHECK_FIRST_HITS:
        doublings += 1
    count = min(_CHECK_SETS << doublings, max(max_sets, _CHECK_SETS))
    if count > _CHECK_SETS:
        more = sample_rr_sets(
            graph, count - _CHECK_SETS, seed=seed + 1, first=_CHECK_SETS, roots=roots,
            mean_size=len(check.nodes) / check.count, singles=True,
        )  # fmt: skip
        check = check.extend(more)
    return check, sizes


@dataclass
class SeedInputs:
    """What choosing seeds needs beyond the configuration."""

    net: Network
    adoptions: Adoptions | None
    cascades: Cascades
    cost: FloatArray
    excluded: BoolArray
    followers: FloatArray  # per node, all categories
    structural: FloatArray
    check: ReachCheck | None = None


def _targets(state: SeedInputs, category: str) -> tuple[BoolArray, BoolArray]:
    net, ad = state.net, state.adoptions
    adopted = np.zeros(net.n, dtype=bool)
    if ad is not None and category != ALL:
        if category not in ad.categories:
            raise ConfigError(
                f"category {category!r} has no adoptions; known categories: "
                f"{', '.join(ad.categories)}."
            )
        adopted[ad.node[ad.category == ad.categories.index(category)]] = True
    targets = net.on_network & ~adopted
    return targets, targets & ~state.excluded


def seed_rows(
    state: SeedInputs, config: Config, category: str, k: int, budget: float | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``seed_sets`` and ``spread_curve`` rows of one category (``'all'``: any item)."""
    targets, eligible = _targets(state, category)
    graph = state.cascades.graph(category)
    if graph is None:
        return _structural_rows(state, category, k, budget, eligible), pd.DataFrame()
    cfg = config.influence
    # without a budget, fewer seeds than the stage chooses are the first of the stage's list:
    # chosen from the sample IMM sizes for the stage's number (sized for k, a near tie between
    # two customers could come out the other way)
    plan = max(k, cfg.seeds) if budget is None else k
    chosen = imm(
        graph, plan, epsilon=cfg.epsilon, seed=config.seed, targets=targets, eligible=eligible,
        costs=state.cost if budget is not None else None, budget=budget,
        max_sets=cfg.max_rr_sets,
    )  # fmt: skip
    if plan > k:
        chosen = replace(
            chosen, seeds=chosen.seeds[:k], spread=chosen.spread[:k], gain=chosen.gain[:k],
            cost=chosen.cost[:k], epsilon=math.nan,  # IMM's guarantee is for the whole list
        )  # fmt: skip
    net = state.net
    nt = int(targets.sum())
    check, sizes = _check_sets(
        graph, chosen.seeds, np.flatnonzero(targets), cfg.max_rr_sets, config.seed
    )
    # the sets that check the reach also bound how far from the best the seeds can be (not
    # with a budget: the budgeted greedy has no such bound)
    certified = (
        certified_epsilon(chosen.seeds, check, nt, eligible, sizes=sizes)
        if budget is None
        else math.nan
    )
    if np.isfinite(certified):
        epsilon = min(chosen.epsilon, certified) if np.isfinite(chosen.epsilon) else certified
    else:
        epsilon = chosen.epsilon
    reach, se = reach_of_prefixes(check, chosen.seeds, net.n, nt)
    degree_order = top_degree(graph, len(chosen.seeds), eligible)
    degree_reach, _ = reach_of_prefixes(check, degree_order, net.n, nt)
    factor, f_low, f_high = _factor(state.check, category)
    seeds = chosen.seeds
    cum_cost = np.cumsum(state.cost[seeds])
    what = "any item" if category == ALL else f"a {category} item"
    capped = (
        f"; guarantee (1 - 1/e - {epsilon:.2f}) with {chosen.rr_sets:,} RR sets "
        f"(max_rr_sets), not epsilon {cfg.epsilon:g}"
        if epsilon > cfg.epsilon * (1 + 1e-9)
        else ""
    )
    if chosen.epsilon > cfg.epsilon * (1 + 1e-9) >= epsilon:
        capped = (
            f"; max_rr_sets cut IMM's sample at {chosen.rr_sets:,} RR sets, and the check's sets "
            "certify the seeds "
            + (f"within 1 - 1/e - {epsilon:.2f}" if epsilon > 0 else "at least 1 - 1/e")
            + " of the best"
        )
    held = (
        f"; out of sample the cascade's reach held at x{factor:.2f} ({f_low:.2f}-{f_high:.2f})"
        if np.isfinite(factor)
        else "; reach not checked out of sample (too few adoptions after the cut)"
    )
    reasons = [
        f"seed {i + 1} for {category}: adds {g:.1f} expected adopters of {what} "
        f"(independent cascade fitted to the adoptions caused, chains included; {r:.1f} ± "
        f"{1.96 * e:.1f} reached by the first {i + 1}); cost {c:g}; {f:g} contacts followed "
        f"this customer "
        f"before{held}{capped}"
        for i, (g, r, e, c, f) in enumerate(
            zip(chosen.gain, reach, se, state.cost[seeds], state.followers[seeds], strict=True)
        )
    ]
    held_out = factor if np.isfinite(factor) else 1.0
    low = np.maximum(reach - 1.96 * se, 0.0) * (f_low if np.isfinite(f_low) else 1.0)
    high = (reach + 1.96 * se) * (f_high if np.isfinite(f_high) else 1.0)
    seed_frame = pd.DataFrame(
        {
            "category": category,
            "rank": np.arange(1, len(seeds) + 1),
            "customer_id": pd.Series(net.ids[seeds], dtype="string"),
            "basis": "influence cascade",
            "cost": state.cost[seeds],
            "cumulative_cost": cum_cost,
            "marginal_reach": chosen.gain * held_out,
            "model_reach": reach,
            "expected_reach": reach * held_out,
            "reach_low": low,
            "reach_high": high,
            "rr_sets": chosen.rr_sets,
            "epsilon": epsilon,
            "reason": reasons,
        }
    )
    n = len(seeds)
    degree = (
        np.pad(degree_reach, (0, n - len(degree_reach)), mode="edge")
        if len(degree_reach)
        else np.zeros(n)
    )
    curve = pd.DataFrame(
        {
            "category": category,
            "k": np.arange(1, n + 1),
            "expected_reach": reach * held_out,
            "reach_low": low,
            "reach_high": high,
            "model_reach": reach,
            "top_degree_reach": degree * held_out,
            "reach_check": factor,
            "cumulative_cost": cum_cost,
            "targets": nt,
        }
    )
    return seed_frame, curve


def _factor(check: ReachCheck | None, category: str) -> tuple[float, float, float]:
    if check is None:
        return math.nan, math.nan, math.nan
    names = [category] if category != ALL else list(check.ratio)
    if not names or any(n not in check.ratio for n in names):
        return math.nan, math.nan, math.nan
    return tuple(float(np.mean([getattr(check, f)[n] for n in names]))  # type: ignore[return-value]
                 for f in ("ratio", "low", "high"))  # fmt: skip


def _structural_rows(
    state: SeedInputs, category: str, k: int, budget: float | None, eligible: BoolArray
) -> pd.DataFrame:
    """The structural fallback: highest structural score first, within the budget."""
    order = np.lexsort((np.arange(state.net.n), -state.structural))
    order = order[eligible[order]]
    if budget is not None:
        within = np.cumsum(state.cost[order]) <= budget
        order = order[within]
    else:
        order = order[:k]
    why = (
        "no adoptions in the inputs"
        if state.adoptions is None
        else f"adoption timing shows no influence in {category}"
        if category != ALL
        else "adoption timing shows no influence in any category"
    )
    return pd.DataFrame(
        {
            "category": category,
            "rank": np.arange(1, len(order) + 1),
            "customer_id": pd.Series(state.net.ids[order], dtype="string"),
            "basis": "structural fallback",
            "cost": state.cost[order],
            "cumulative_cost": np.cumsum(state.cost[order]),
            "marginal_reach": np.nan,
            "model_reach": np.nan,
            "expected_reach": np.nan,
            "reach_low": np.nan,
            "reach_high": np.nan,
            "rr_sets": 0,
            "epsilon": np.nan,
            "reason": [
                f"structural fallback, not an influence seed ({why}): structural score rank "
                f"{i + 1}; no expected reach is claimed"
                for i in range(len(order))
            ],
        }
    )
