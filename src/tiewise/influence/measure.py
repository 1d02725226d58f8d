"""From adoptions on the network to the evidence of influence: time scale, tests, caused adoptions.

:func:`time_scale` reads the resolution of the adoption dates (seconds, days, months, years),
:func:`measure` runs the shuffles once (:func:`tiewise.influence.evidence.timing_evidence`) and
turns them into the per-category tests and the per-customer adoptions caused
(:mod:`tiewise.influence.caused`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from tiewise.graph.network import Network
from tiewise.influence.caused import CausedEstimate, causal_ratio, estimate_caused
from tiewise.influence.data import Adoptions, customer_contacts
from tiewise.influence.evidence import TimingEvidence, lag_edges, timing_evidence
from tiewise.influence.timing import Pairs, linked_pairs
from tiewise.shared import FloatArray, IntArray

__all__ = ["Measured", "TimeScale", "measure", "time_scale"]


STRENGTH_CLASSES = 3
COMPETITION_ROUNDS = 2
_RATIO_PRIOR = 10.0  # pseudo-follows pulling an item's lag profile towards its category's


@dataclass(frozen=True)
class TimeScale:
    """How finely adoption dates are recorded, and the windows that follow from it.

    Attributes
    ----------
    period
        Days between distinct adoption dates at the resolution of the data (0 for times to the
        second or minute; 1 for dates; about 30 for months, 365 for years).
    window
        Longest lead that counts as a follow (days).
    horizon
        Longest lag that earns credit as a possible cause (days).
    label
        The resolution in words.
    automatic
        Whether the window was chosen from the data rather than configured.
    """

    period: float
    window: float
    horizon: float
    label: str
    automatic: bool


def time_scale(time: FloatArray, window: float | None, base_window: float = 14.0) -> TimeScale:
    """The data's time resolution and the follow window to use on it.

    The resolution is the 10th percentile of the gaps between distinct adoption times (whole
    days when every time is a midnight).  Without a configured window, a follow may come up to
    ``base_window`` days or three periods later, whichever is longer; credit extends to twice
    the window.

    Examples
    --------
    >>> monthly = np.array([0.0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
    >>> s = time_scale(np.repeat(monthly, 3), None)
    >>> s.label, s.period, s.window, s.horizon
    ('months', 30.0, 90.0, 180.0)
    >>> time_scale(np.linspace(0.0, 90.0, 5000), None).label
    'continuous (to the second)'
    """
    distinct = np.unique(np.asarray(time, np.float64))
    period = 0.0
    if len(distinct) > 1:
        gaps = np.diff(distinct)
        period = float(np.quantile(gaps, 0.1))
        whole_days = np.allclose(distinct, np.round(distinct), atol=1e-6)
        if whole_days:
            period = max(1.0, float(np.round(period)))
        elif period < 0.5:
            period = 0.0
    if period >= 300:
        label = "years"
    elif period >= 25:
        label = "months"
    elif period >= 6:
        label = "weeks"
    elif period >= 1:
        label = "days"
    else:
        label = "continuous (to the second)"
    if label == "months":
        period = 30.0 if period < 32 else period
    chosen = window if window is not None else max(base_window, 3.0 * period)
    return TimeScale(
        period=period,
        window=float(chosen),
        horizon=float(2.0 * chosen),
        label=label,
        automatic=window is None,
    )


@dataclass(frozen=True)
class Measured:
    """Everything the timing of adoptions says about influence.

    Attributes
    ----------
    scale
        The time scale and windows.
    pairs
        Rows of linked adopters of the same item (:func:`tiewise.influence.timing.linked_pairs`).
    evidence
        Observed and shuffled timing (tests, follows per customer).
    groups
        Per customer × category group: ``node`` and ``cat`` (codes), then the ``'all'`` groups
        (``cat = len(categories)``) — the order of ``evidence.group_*``.
    caused, caused_all
        Adoptions caused per customer × category group and per customer ('all').
    detected
        Per category: whether influence is shown (the better of the two tests, Bonferroni).
    p_value
        Per category: the combined p-value ``min(1, 2 · min(p_window, p_order))``.
    rate
        Per category, then over all: adoptions caused per exposed customer contact by an
        average customer (the base of ``conversion_rate``).
    exposure
        Per group: customer contacts exposed, over the adoptions (``K``'s basis).
    descendants
        Per adoption row: the adoptions it caused, directly or through chains of others
        (:func:`chain_descendants` over the follows credited as in ``caused``, each customer's
        multiplier included): how the chains split among customers.
    population_descendants
        The same with every follow at the population's causal probability for its item, lag and
        tie class, a follower's causes adding up to at most one: the level of the chains per
        category, free of the customer multipliers' shrinkage.
    population_follows
        The follows behind ``population_descendants``: leader row, follower row and causal
        probability (before the at-most-one cap), to chain again over a part of the period.
    """

    scale: TimeScale
    pairs: Pairs
    evidence: TimingEvidence
    groups: tuple[IntArray, IntArray]
    caused: CausedEstimate
    caused_all: CausedEstimate
    detected: npt.NDArray[np.bool_]
    p_value: FloatArray
    rate: FloatArray
    descendants: FloatArray
    population_descendants: FloatArray
    population_follows: tuple[IntArray, IntArray, FloatArray]


def _follow_list(
    ad: Adoptions, a: IntArray, b: IntArray, horizon: float, edges: FloatArray
) -> tuple[IntArray, IntArray, IntArray, FloatArray, IntArray]:
    """Every follow within the horizon: leader row, follower row, lag bin, weight and pair.

    A tie (the same time) is a follow each way with weight ½.
    """
    pair = np.arange(len(a))
    d = ad.time[b] - ad.time[a]
    gap = np.abs(d)
    keep = gap <= horizon
    a, b, d, gap, pair = a[keep], b[keep], d[keep], gap[keep], pair[keep]
    tie = gap == 0
    bins = np.where(tie, 0, 1 + np.minimum(np.searchsorted(edges, gap), len(edges) - 1))
    lead = np.where(d >= 0, a, b)
    other = np.where(d >= 0, b, a)
    return (
        np.concatenate([lead, other[tie]]),
        np.concatenate([other, lead[tie]]),
        np.concatenate([bins, bins[tie]]),
        np.concatenate([np.where(tie, 0.5, 1.0), np.full(int(tie.sum()), 0.5)]),
        np.concatenate([pair, pair[tie]]),
    )


def _pair_classes(
    net: Network, ad: Adoptions, a: IntArray, b: IntArray, directed: sp.csr_matrix | None
) -> tuple[IntArray, int]:
    """Class of each pair of linked adopters when ``a`` leads and when ``b`` does.

    Tie strength tercile times, where the records have a direction, who contacted whom: both,
    only the one who adopted first, only the follower.  The data then says, through the lag
    profile per class, whether influence flows along strong ties and along calls.
    """
    if len(a) == 0:
        return np.zeros((0, 2), dtype=np.int64), 1
    m = sp.csr_matrix((net.weight, (net.u, net.v)), shape=(net.n, net.n))
    m = (m + m.T).tocsr()
    x, y = ad.node[a], ad.node[b]
    w = np.asarray(m[x, y]).ravel()
    cuts = np.quantile(w, np.linspace(0, 1, STRENGTH_CLASSES + 1)[1:-1])
    strength = np.searchsorted(cuts, w, side="right").astype(np.int64)
    if directed is None:
        return np.column_stack([strength, strength]), STRENGTH_CLASSES
    xy = np.asarray(directed[x, y]).ravel() > 0
    yx = np.asarray(directed[y, x]).ravel() > 0
    if (xy == yx).all():  # every tie both ways (or no direction recorded): nothing to learn
        return np.column_stack([strength, strength]), STRENGTH_CLASSES

    def way(lead: npt.NDArray[np.bool_], back: npt.NDArray[np.bool_]) -> IntArray:
        return np.where(lead & back, 0, np.where(lead, 1, 2)).astype(np.int64)

    return (
        np.column_stack([strength * 3 + way(xy, yx), strength * 3 + way(yx, xy)]),
        STRENGTH_CLASSES * 3,
    )


def measure(
    net: Network,
    ad: Adoptions,
    *,
    window: float | None,
    significance: float,
    min_shuffles: int,
    max_shuffles: int,
    seed: int,
    prior_shape: float | None = None,
    directed: sp.csr_matrix | None = None,
) -> Measured:
    """Shuffle once; test each category; estimate the adoptions each customer caused.

    ``prior_shape`` is the gamma shape of the customers' influence multipliers (None: chosen by
    marginal likelihood); ``directed[i, j] > 0`` where ``i`` contacted ``j`` (None: no
    direction known).
    """
    scale = time_scale(ad.time, window)
    n_cat = len(ad.categories)
    pairs = linked_pairs(net.n, net.u, net.v, ad.node, ad.item)
    a, b = pairs.a, pairs.b
    codes, group = np.unique(ad.node * (n_cat + 1) + ad.category, return_inverse=True)
    nodes_all, group_all = np.unique(ad.node, return_inverse=True)
    edges = lag_edges(scale.horizon, scale.period)
    pair_class, classes = _pair_classes(net, ad, a, b, directed)
    ev = timing_evidence(
        ad.item, ad.time, a, b, unit=ad.category, group=group, group2=group_all,
        window=scale.window, edges=edges, pair_class=pair_class, min_shuffles=min_shuffles,
        max_shuffles=max_shuffles, stop_after=20, seed=seed,
    )  # fmt: skip
    p = np.minimum(1.0, 2.0 * np.minimum(ev.follows_p, ev.order_p))
    detected = p < significance
    item_category = np.zeros(len(ad.items), dtype=np.int64)
    item_category[ad.item] = ad.category
    chance = ev.lag_expected * _chance_share(ev, ad.item[a], item_category, n_cat)[:, None]
    ratio = causal_ratio(ev.lag_observed, chance, item_category, _RATIO_PRIOR)
    ratio = ratio * detected[item_category][:, None]  # nothing caused where nothing is shown
    rows, followers, bins, weight, pair = _follow_list(ad, a, b, scale.horizon, edges)
    side = np.where(rows == a[pair], 0, 1)  # who led: the pair's class from their side
    credit = ratio[ad.item[rows], bins * classes + pair_class[pair, side]]
    # exposure: customer contacts who could still follow within the horizon
    end = float(ad.time.max())
    left = np.clip((end - ad.time + scale.period) / max(scale.horizon, 1e-9), 0.0, 1.0)
    exposure = customer_contacts(net)[ad.node] * left
    causal_at_one = np.bincount(
        ad.item[rows], weights=weight * credit / (1.0 + credit), minlength=len(ad.items)
    )
    per_item_exposure = np.bincount(ad.item, weights=exposure, minlength=len(ad.items))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(per_item_exposure > 0, causal_at_one / per_item_exposure, 0.0)
    k_row = exposure * rate[ad.item]
    k = np.bincount(group, k_row, len(codes)).astype(np.float64)
    k_all = np.bincount(group_all, k_row, len(nodes_all)).astype(np.float64)
    shared = credit
    for _ in range(COMPETITION_ROUNDS + 1):
        caused = _by_category(
            group[rows], shared, weight, k, codes % (n_cat + 1), n_cat, prior_shape
        )
        caused_all = estimate_caused(group_all[rows], shared, weight, k_all, shape=prior_shape)
        if not COMPETITION_ROUNDS:
            break
        # a follower adopts once: earlier adopters among their contacts compete for the credit
        hazard = weight * caused.multiplier[group[rows]] * credit
        others = np.bincount(followers, hazard, len(ad.node))[followers] - hazard
        shared = credit / (1.0 + others)
    # each follow's causal probability, scaled so a customer's follows add up to their headline
    x = caused.multiplier[group[rows]] * shared
    raw = weight * x / (1.0 + x)
    total = np.bincount(group[rows], raw, len(codes))
    scale_to = np.divide(caused.caused, total, out=np.zeros(len(codes)), where=total > 0)
    own = raw * scale_to[group[rows]]
    at_population = weight * credit / (1.0 + credit)
    descendants = chain_descendants(ad.time, rows, followers, at_most_one(followers, own))
    population = chain_descendants(ad.time, rows, followers, at_most_one(followers, at_population))
    return Measured(
        scale=scale,
        pairs=pairs,
        evidence=ev,
        groups=(
            np.concatenate([codes // (n_cat + 1), nodes_all]),
            np.concatenate([codes % (n_cat + 1), np.full(len(nodes_all), n_cat)]),
        ),
        caused=caused,
        caused_all=caused_all,
        detected=detected,
        p_value=p,
        rate=np.append(
            np.bincount(item_category, causal_at_one, n_cat)
            / np.maximum(np.bincount(item_category, per_item_exposure, n_cat), 1e-12),
            causal_at_one.sum() / max(per_item_exposure.sum(), 1e-12),
        ),
        descendants=descendants,
        population_descendants=population,
        population_follows=(rows, followers, at_population),
    )


def chain_descendants(
    time: FloatArray, leader: IntArray, follower: IntArray, prob: FloatArray
) -> FloatArray:
    """Per adoption: the adoptions it caused, directly or through chains of others.

    Each follow (``leader`` → ``follower`` rows) is causal with probability ``prob``; an
    adoption's descendants are ``D_i = Σ_f prob_f (1 + D_follower)`` over its follows, summed
    from the last adoption back (a tie, the same time both ways, counts once, without chains).

    Examples
    --------
    A chain of three, each follow surely causal, and a fourth adoption that half-followed the
    first:

    >>> chain_descendants(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 1, 0]),
    ...                   np.array([1, 2, 3]), np.array([1.0, 1.0, 0.5])).tolist()
    [2.5, 1.0, 0.0, 0.0]
    """
    time = np.asarray(time, np.float64)
    order = np.argsort(leader, kind="stable")
    start = np.searchsorted(leader[order], np.arange(len(time) + 1))
    last_first = np.argsort(-time, kind="stable")
    return _chain_sums(
        time, last_first, start, np.asarray(follower, np.int64)[order],
        np.asarray(prob, np.float64)[order],
    )  # fmt: skip


@nb.njit(cache=True, nogil=True)
def _chain_sums(
    time: FloatArray, last_first: IntArray, start: IntArray, follower: IntArray,
    prob: FloatArray,
) -> FloatArray:  # fmt: skip
    out = np.zeros(time.shape[0])
    for r in last_first:
        total = 0.0
        for f in range(start[r], start[r + 1]):
            j = follower[f]
            total += prob[f] * (1.0 + (out[j] if time[j] > time[r] else 0.0))
        out[r] = total
    return out


def at_most_one(follower: IntArray, prob: FloatArray) -> FloatArray:
    """``prob`` scaled so each follower's causes add up to at most one (one adoption each)."""
    causes = np.bincount(follower, prob, int(follower.max()) + 1 if len(follower) else 0)
    return prob / np.maximum(causes[follower], 1.0)


def _chance_share(
    ev: TimingEvidence, pair_item: IntArray, item_category: IntArray, n_cat: int
) -> FloatArray:
    """Per item: the share of its linked adopter pairs that are not causal.

    Shuffling keeps each item's adopters, and so the pairs of linked adopters that contagion
    itself created; their shuffled follows are chance the observed data does not have.  With
    ``P`` pairs, ``O`` follows observed and ``E = qP`` by chance, ``C`` causal pairs (which
    follow) satisfy ``O = C + q (P − C)``, so ``C = (O − E) / (1 − q)``: chance applies to the
    ``P − C`` others only (pooled per category).
    """
    pairs = np.bincount(pair_item, minlength=len(item_category)).astype(np.float64)
    o = np.bincount(item_category, ev.lag_observed.sum(axis=1), n_cat)
    e = np.bincount(item_category, ev.lag_expected.sum(axis=1), n_cat)
    p = np.bincount(item_category, pairs, n_cat)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(p > 0, e / p, 0.0)
        causal = np.maximum(o - e, 0.0) / np.maximum(1.0 - q, 1e-9)
        share = np.where(p > 0, np.clip(1.0 - causal / p, 0.0, 1.0), 1.0)
    return share[item_category]


def _by_category(
    group: IntArray, credit: FloatArray, weight: FloatArray, k: FloatArray, cat: IntArray,
    n_cat: int, shape: float | None,
) -> CausedEstimate:  # fmt: skip
    """:func:`estimate_caused` per category (each its own spread of influence), reassembled."""
    out = {f: np.zeros(len(k)) for f in ("caused", "low", "high", "naive", "multiplier")}
    shapes = []
    for c in range(n_cat):
        mine = np.flatnonzero(cat == c)
        local = np.full(len(k), -1, dtype=np.int64)
        local[mine] = np.arange(len(mine))
        sel = local[group] >= 0
        est = estimate_caused(local[group[sel]], credit[sel], weight[sel], k[mine], shape=shape)
        for f in out:
            out[f][mine] = getattr(est, f)
        shapes.append(est.shape)
    return CausedEstimate(
        caused=out["caused"], low=out["low"], high=out["high"], naive=out["naive"],
        multiplier=out["multiplier"], expected_causal=k, shape=float(np.median(shapes or [1.0])),
    )  # fmt: skip
