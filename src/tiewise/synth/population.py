"""People of the telecom model: communities, degrees, segments, plans, operator, traits.

Everyone who talks to a subscriber is a *person*: the operator's subscribers and the people with
other operators.  Persons are indexed ``0 .. M-1``; the index order is random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tiewise.synth._types import BoolArray, FloatArray, IntArray

__all__ = [
    "PLANS",
    "PLAN_FEES",
    "SEGMENTS",
    "Population",
    "community_sizes",
    "offnet_calibration",
    "planned_degrees",
]

SEGMENTS = ("consumer", "youth", "business")
_SEGMENT_SHARES = np.array([0.65, 0.20, 0.15])
_SEGMENT_DEGREE_FACTOR = np.array([0.95, 1.05, 1.25])
PLANS = ("prepaid_s", "postpaid_m", "postpaid_l")
PLAN_FEES = np.array([9.99, 24.99, 44.99])
# P(plan | segment): rows follow SEGMENTS, columns follow PLANS.
_PLAN_GIVEN_SEGMENT = np.array([[0.35, 0.45, 0.20], [0.70, 0.25, 0.05], [0.05, 0.35, 0.60]])

MIN_COMMUNITY = 8
_ONNET_COMMUNITY_SD = 0.8  # community-level spread of the operator preference (logit scale)
_TAIL_SHARE = 0.03  # share of people in the power-law tail of the degree distribution
_TAIL_ALPHA = 1.4  # Pareto index of the tail (degree exponent 2.4)
_BODY_SIGMA = 0.7  # log-sd of the lognormal body of the degree distribution
SUPER_DEGREE = 1000


@dataclass(frozen=True)
class Population:
    """The persons of the telecom model and their hidden traits.

    Attributes
    ----------
    community
        Community of each person.
    sizes
        Size of each community.
    degree
        Planned number of contacts of each person.
    segment
        Index into :data:`SEGMENTS`.
    on_network
        Whether the person is a subscriber of the operator.
    plan
        Index into :data:`PLANS` (meaningful for subscribers).
    monthly_fee
        Contracted monthly fee (meaningful for subscribers).
    tenure_days
        Days between signup and the window start (meaningful for subscribers).
    influence, susceptibility
        Hidden lognormal traits.
    """

    community: IntArray
    sizes: IntArray
    degree: IntArray
    segment: IntArray
    on_network: BoolArray
    plan: IntArray
    monthly_fee: FloatArray
    tenure_days: IntArray
    influence: FloatArray
    susceptibility: FloatArray

    @property
    def n(self) -> int:
        """Number of persons."""
        return int(self.community.shape[0])


def _logit_quadrature() -> tuple[FloatArray, FloatArray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(48)
    return nodes, weights / weights.sum()


def _sigmoid(x: FloatArray) -> FloatArray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def offnet_calibration(offnet_share: float, mixing: float, sd: float) -> float:
    """Mean on-network probability that gives the wanted off-net share of subscribers' contacts.

    With community-level variation of the operator preference, subscribers cluster in
    communities that are mostly on-network, so their (mostly internal) contacts are more often
    on-network than the population average.  The share of subscribers' contacts that are
    off-network is ``1 - q - (1 - mixing) * Var(q_c) / q`` for a mean on-network probability
    ``q``; this solves that equation for ``q``.

    Parameters
    ----------
    offnet_share
        Wanted share of subscribers' contacts with other operators.
    mixing
        Share of contacts outside the own community.
    sd
        Standard deviation of the community effect on the logit scale.

    Returns
    -------
    float
        The population share of persons who must be subscribers.

    Examples
    --------
    >>> round(offnet_calibration(1 / 3, 0.2, 0.0), 6)
    0.666667
    """
    if offnet_share <= 0.0:
        return 1.0
    z, w = _logit_quadrature()
    q = 1.0 - offnet_share
    for _ in range(50):
        lo, hi = -30.0, 30.0
        for _ in range(80):  # bisection for the logit intercept with mean q
            mid = 0.5 * (lo + hi)
            if float(w @ _sigmoid(mid + sd * z)) < q:
                lo = mid
            else:
                hi = mid
        p = _sigmoid(0.5 * (lo + hi) + sd * z)
        var = float(w @ (p - q) ** 2)
        q_new = 1.0 - offnet_share - (1.0 - mixing) * var / q
        if abs(q_new - q) < 1e-10:
            break
        q = q_new
    return q


def community_sizes(rng: np.random.Generator, n_persons: int) -> IntArray:
    """Draw community sizes from a power law with exponent 2 that sum to ``n_persons``.

    Sizes range from :data:`MIN_COMMUNITY` to ``min(5000, 10 * sqrt(n))``.

    Parameters
    ----------
    rng
        Random generator.
    n_persons
        Total number of persons.

    Returns
    -------
    numpy.ndarray
        Community sizes (int64), in random order.
    """
    s_max = float(min(5000.0, max(4.0 * MIN_COMMUNITY, 10.0 * math.sqrt(n_persons))))
    s_max = min(s_max, float(n_persons))
    inv_lo, inv_hi = 1.0 / MIN_COMMUNITY, 1.0 / s_max
    mean = math.log(s_max / MIN_COMMUNITY) / (inv_lo - inv_hi)
    chunks: list[IntArray] = []
    total = 0
    while total < n_persons:
        u = rng.random(int(1.3 * n_persons / mean) + 16)
        sizes = np.floor(1.0 / (inv_lo - u * (inv_lo - inv_hi))).astype(np.int64)
        chunks.append(sizes)
        total += int(sizes.sum())
    sizes = np.concatenate(chunks)
    csum = np.cumsum(sizes)
    keep = int(np.searchsorted(csum, n_persons, side="right"))
    sizes = sizes[:keep].copy()
    rest = n_persons - int(sizes.sum())
    if rest >= MIN_COMMUNITY or sizes.size == 0:
        sizes = np.append(sizes, rest)
    elif rest > 0:
        sizes[-1] += rest
    return sizes


def planned_degrees(rng: np.random.Generator, n: int, mean: float, segment: IntArray) -> IntArray:
    """Draw heavy-tailed contact counts: a lognormal body plus a Pareto tail (exponent 2.4).

    A share :data:`_TAIL_SHARE` of people have Pareto degrees starting at ``1.8 * mean``; the
    lognormal body is scaled so that the overall mean is ``mean``.  Business users have more
    contacts than consumers.  Networks of 30,000 persons or more always hold a few
    super-connectors with more than :data:`SUPER_DEGREE` contacts (one per 10,000 persons at
    least), as real operators do (small businesses, dispatchers, community organisers).

    Parameters
    ----------
    rng
        Random generator.
    n
        Number of persons.
    mean
        Wanted mean degree.
    segment
        Segment index per person.

    Returns
    -------
    numpy.ndarray
        Planned degrees (int64), at least 1 and at most ``max(50, min(0.06 n, 10000))``.
    """
    k_max = float(max(50.0, min(0.06 * n, 10_000.0)))
    x_min = 1.8 * mean
    a = _TAIL_ALPHA
    # mean of a Pareto(x_min, a) truncated at k_max
    r = x_min / k_max
    tail_mean = x_min * a / (a - 1.0) * (1.0 - r ** (a - 1.0)) / (1.0 - r**a)
    body_mean = max(1.0, (mean - _TAIL_SHARE * tail_mean) / (1.0 - _TAIL_SHARE))
    body_median = body_mean / math.exp(_BODY_SIGMA**2 / 2.0)
    body = body_median * np.exp(_BODY_SIGMA * rng.standard_normal(n))
    u = rng.random(n)
    tail = x_min * (1.0 - u * (1.0 - r**a)) ** (-1.0 / a)
    deg = np.where(rng.random(n) < _TAIL_SHARE, tail, body)
    factor = _SEGMENT_DEGREE_FACTOR[segment]
    deg = deg * factor / float(np.mean(factor))
    deg = np.clip(deg, 1.0, k_max)
    n_super = n // 10_000
    lo = 1.3 * SUPER_DEGREE
    if n_super and k_max > lo:
        have = int(np.count_nonzero(deg > lo))
        if have < n_super:
            top = np.argsort(-deg, kind="stable")[:n_super]
            draw = lo * (1.0 - rng.random(n_super) * (1.0 - (lo / k_max) ** a)) ** (-1 / a)
            deg[top] = np.maximum(deg[top], draw)
    # stochastic rounding keeps the mean
    return np.floor(deg + rng.random(n)).astype(np.int64)


def _gumbel_choice(rng: np.random.Generator, log_p: FloatArray) -> IntArray:
    """Sample one category per row of ``log_p`` (unnormalised log-probabilities)."""
    g = -np.log(-np.log(rng.random(log_p.shape)))
    return np.argmax(log_p + g, axis=1).astype(np.int64)


def _segments(rng: np.random.Generator, community: IntArray, n_comm: int) -> IntArray:
    """Segments cluster in communities: each community tilts the segment shares."""
    tilt = rng.normal(0.0, 0.8, size=(n_comm, len(SEGMENTS)))
    return _gumbel_choice(rng, np.log(_SEGMENT_SHARES)[None, :] + tilt[community])


def _operator(
    rng: np.random.Generator, community: IntArray, n_comm: int, customers: int
) -> BoolArray:
    """Pick exactly ``customers`` subscribers; some communities prefer the operator."""
    pref = rng.normal(0.0, _ONNET_COMMUNITY_SD, size=n_comm)
    u = rng.random(community.shape[0])
    score = pref[community] + np.log(u) - np.log1p(-u)  # + logistic noise
    on = np.zeros(community.shape[0], dtype=bool)
    on[np.argsort(-score, kind="stable")[:customers]] = True
    return on


def _traits(rng: np.random.Generator, degree: IntArray) -> tuple[FloatArray, FloatArray]:
    """Influence (log-correlated 0.3 with log degree) and independent susceptibility."""
    logk = np.log(np.maximum(degree, 1))
    zk = (logk - logk.mean()) / max(float(logk.std()), 1e-9)
    rho, sd = 0.3, 1.0
    x = rho * zk + math.sqrt(1.0 - rho**2) * rng.standard_normal(degree.shape[0])
    influence = np.exp(sd * x - sd**2 / 2.0)
    sd_s = 0.8
    susceptibility = np.exp(sd_s * rng.standard_normal(degree.shape[0]) - sd_s**2 / 2.0)
    return influence, susceptibility


def _plans(rng: np.random.Generator, segment: IntArray) -> tuple[IntArray, FloatArray, IntArray]:
    plan = _gumbel_choice(rng, np.log(_PLAN_GIVEN_SEGMENT[segment]))
    discount = rng.choice(np.array([0.0, 0.1, 0.25]), size=segment.shape[0], p=[0.7, 0.2, 0.1])
    fee = np.round(PLAN_FEES[plan] * (1.0 - discount), 2)
    tenure = np.minimum(rng.exponential(4.0 * 365.25, size=segment.shape[0]), 20 * 365.25)
    return plan, fee, np.maximum(tenure, 1.0).astype(np.int64)


def make_population(
    rng: np.random.Generator,
    customers: int,
    offnet_share: float,
    mixing: float,
    mean_contacts: float,
) -> Population:
    """Draw all persons of the telecom model.

    Parameters
    ----------
    rng
        Random generator.
    customers
        Number of subscribers.
    offnet_share
        Wanted share of subscribers' contacts with other operators.
    mixing
        Share of ties outside the community.
    mean_contacts
        Mean number of contacts per person.

    Returns
    -------
    Population
        The persons; exactly ``customers`` of them are on-network.
    """
    q = offnet_calibration(offnet_share, mixing, _ONNET_COMMUNITY_SD)
    n = max(customers, round(customers / q))
    sizes = community_sizes(rng, n)
    community = rng.permutation(np.repeat(np.arange(sizes.size, dtype=np.int64), sizes))
    segment = _segments(rng, community, sizes.size)
    degree = planned_degrees(rng, n, mean_contacts, segment)
    on = _operator(rng, community, sizes.size, customers)
    plan, fee, tenure = _plans(rng, segment)
    influence, susceptibility = _traits(rng, degree)
    return Population(
        community=community,
        sizes=sizes,
        degree=degree,
        segment=segment,
        on_network=on,
        plan=plan,
        monthly_fee=fee,
        tenure_days=tenure,
        influence=influence,
        susceptibility=susceptibility,
    )
