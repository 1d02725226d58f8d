"""Adoptions a customer caused: each follow credited by how much likelier it is than by chance.

A *follow* is a linked contact adopting the same item after the customer (a tie — the same
period — counts half to each side).  Timing shuffled within each item (homophily and the base
rate kept, the order destroyed) says how many follows of each item and lag chance alone gives
(:func:`tiewise.influence.evidence.timing_evidence`).  Where ``O`` were observed and ``E``
expected, a follow of that item and lag is causal with probability ``1 − E / O``; the
*causal-to-chance ratio* ``r = O / E − 1`` is estimated per item and lag bin, pooled towards its
category (``prior`` pseudo-follows) and the category towards all categories.

Customers differ in how much they move others.  Customer ``u`` has an influence multiplier
``θ_u`` (gamma, mean 1, shape ``α``): each of their follows is causal with probability
``θ r / (1 + θ r)`` and the causal follows an average customer with their adoptions and contacts
would get are ``K_u`` (the item's causal follows per exposed contact × ``u``'s exposed contacts).
The likelihood of ``u``'s follows is ``Π_f (1 + θ r_f) · exp(−θ K_u)`` (a Poisson process of chance
plus causal follows), ``α`` is chosen by the marginal likelihood over all customers (empirical
Bayes), and each customer gets the posterior mean of their caused adoptions
``Σ_f θ r_f / (1 + θ r_f)`` with a 90% credible interval.  Few follows are pulled towards what an
average customer's follows would be worth; many follows of a customer whose follows far exceed
chance count almost fully.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import numpy.typing as npt
from scipy.special import gammaincc

__all__ = ["CausedEstimate", "causal_ratio", "estimate_caused"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_THETA = np.geomspace(1e-3, 1e3, 97)
_SHAPES = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


def causal_ratio(
    observed: FloatArray, expected: FloatArray, unit_of_item: IntArray, prior: float
) -> FloatArray:
    """Causal-to-chance ratio ``r`` per item and lag bin, pooled towards the unit's and overall.

    Gamma–Poisson pooling: ``ρ = (O + m ρ_parent) / (E + m)`` with ``m = prior`` expected
    follows, first of each unit (category) towards all units, then of each item towards its
    unit; ``r = max(ρ − 1, 0)``.

    Examples
    --------
    An item with 30 follows at lag 1 where chance gives 10, and its twin with 10 of 10:

    >>> r = causal_ratio(np.array([[30.0], [10.0]]), np.array([[10.0], [10.0]]),
    ...                  np.array([0, 0]), prior=10.0)
    >>> r.round(2).tolist()
    [[1.5], [0.5]]
    """
    observed = np.asarray(observed, np.float64)
    expected = np.asarray(expected, np.float64)
    units = int(unit_of_item.max()) + 1 if len(unit_of_item) else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        total = np.where(
            expected.sum(0) > 0, observed.sum(0) / expected.sum(0), 1.0
        )  # per bin, all units
        per_unit = np.ones((units, observed.shape[1]))
        for c in range(units):
            o = observed[unit_of_item == c].sum(0)
            e = expected[unit_of_item == c].sum(0)
            per_unit[c] = (o + prior * total) / (e + prior)
        rho = (observed + prior * per_unit[unit_of_item]) / (expected + prior)
    return np.maximum(rho - 1.0, 0.0)


@dataclass(frozen=True)
class CausedEstimate:
    """Per group (e.g. customer × category): adoptions caused, interval and influence multiplier.

    Attributes
    ----------
    caused
        Posterior mean of the adoptions caused.
    low, high
        5% and 95% posterior quantiles of the expected adoptions caused.
    naive
        The same at ``θ = 1``: follows credited at the population's rates, no customer effect.
    multiplier
        Posterior mean of ``θ`` (1 = as influential as the average customer).
    expected_causal
        ``K``: causal follows an average customer would have had in this one's place.
    shape
        The fitted gamma shape ``α`` (small: influence is concentrated in a few customers).
    """

    caused: FloatArray
    low: FloatArray
    high: FloatArray
    naive: FloatArray
    multiplier: FloatArray
    expected_causal: FloatArray
    shape: float


@nb.njit(cache=True, nogil=True)
def _grid_sums(
    group: IntArray, credit: FloatArray, weight: FloatArray, theta: FloatArray, groups: int
) -> tuple[FloatArray, FloatArray]:
    """Per group and grid point: ``Σ w log(1 + θ r)`` and ``Σ w θ r / (1 + θ r)``."""
    loglik = np.zeros((groups, theta.shape[0]))
    caused = np.zeros((groups, theta.shape[0]))
    for f in range(group.shape[0]):
        g = group[f]
        r = credit[f]
        w = weight[f]
        if r <= 0.0:
            continue
        for j in range(theta.shape[0]):
            x = theta[j] * r
            loglik[g, j] += w * np.log1p(x)
            caused[g, j] += w * x / (1.0 + x)
    return loglik, caused


@nb.njit(cache=True, nogil=True)
def _less_expected(loglik: FloatArray, k: FloatArray, theta: FloatArray) -> None:
    """``loglik -= K θ`` in place (the Poisson term of each group's likelihood)."""
    for g in range(loglik.shape[0]):
        for j in range(theta.shape[0]):
            loglik[g, j] -= k[g] * theta[j]


@nb.njit(cache=True, nogil=True)
def _posterior(
    loglik: FloatArray,
    caused: FloatArray,
    log_prior: FloatArray,
    theta: FloatArray,
    lower: float,
    upper: float,
    out: FloatArray,
) -> None:
    """Each group's posterior over the grid, summarised.

    ``out`` gets, per group: the posterior mean of ``caused``; ``caused`` at the grid points
    where the posterior's cdf first reaches ``lower`` and ``upper``; the posterior mean of
    ``θ``.  Row by row, so that no group × grid array is made beyond the two it reads.
    """
    m = theta.shape[0]
    weight = np.empty(m)
    for g in range(loglik.shape[0]):
        top = -np.inf
        for j in range(m):
            top = max(top, loglik[g, j] + log_prior[j])
        total = 0.0
        for j in range(m):
            weight[j] = np.exp(loglik[g, j] + log_prior[j] - top)
            total += weight[j]
        mean = 0.0
        multiplier = 0.0
        cdf = 0.0
        lo = 0
        hi = 0
        for j in range(m):
            p = weight[j] / total
            mean += p * caused[g, j]
            multiplier += p * theta[j]
            cdf += p
            lo += cdf < lower
            hi += cdf < upper
        out[0, g] = mean
        out[1, g] = caused[g, min(lo, m - 1)]
        out[2, g] = caused[g, min(hi, m - 1)]
        out[3, g] = multiplier


def _prior_mass(shape: float) -> FloatArray:
    """Gamma(shape, rate = shape) mass of each grid cell (cells split at geometric midpoints)."""
    mids = np.sqrt(_THETA[1:] * _THETA[:-1])
    upper = gammaincc(shape, shape * mids)  # P(θ > mid)
    cdf = np.concatenate([[0.0], 1.0 - upper, [1.0]])
    return np.maximum(np.diff(cdf), 1e-300)


@nb.njit(cache=True, nogil=True)
def _marginal(loglik: FloatArray, use: npt.NDArray[np.bool_], mass: FloatArray) -> FloatArray:
    """The log marginal likelihood of the groups in ``use`` under each prior.

    ``mass`` holds a prior per column (grid × priors); per prior, ``Σ_g log Σ_θ L_g(θ)
    prior(θ)``, each group's likelihoods scaled by its largest; row by row.
    """
    m, priors = mass.shape
    out = np.zeros(priors)
    scaled = np.empty(m)
    for g in range(loglik.shape[0]):
        if not use[g]:
            continue
        top = -np.inf
        for j in range(m):
            top = max(top, loglik[g, j])
        for j in range(m):
            scaled[j] = np.exp(loglik[g, j] - top)
        for a in range(priors):
            s = 0.0
            for j in range(m):
                s += scaled[j] * mass[j, a]
            out[a] += top + np.log(s)
    return out


def _best_shape(loglik: FloatArray, use: npt.NDArray[np.bool_]) -> float:
    """The gamma shape of :data:`_SHAPES` under which the groups ``use`` are likeliest.

    ``loglik`` is groups × grid.  Each group's marginal likelihood is ``Σ_θ L(θ) · prior(θ)``,
    for every shape in one pass over the groups.  The first of equally likely shapes wins.
    """
    if not use.any():
        return _SHAPES[0]
    mass = np.stack([_prior_mass(a) for a in _SHAPES], axis=1)  # grid × shapes
    ll = _marginal(loglik, use, mass)
    return float(_SHAPES[int(np.argmax(np.nan_to_num(ll, nan=-np.inf)))])


def estimate_caused(
    group: IntArray,
    credit: FloatArray,
    weight: FloatArray,
    expected_causal: FloatArray,
    *,
    shape: float | None = None,
) -> CausedEstimate:
    """Adoptions caused per group, by empirical Bayes over the customers' influence.

    Parameters
    ----------
    group
        Leader group of each follow (0..G-1).
    credit
        Causal-to-chance ratio ``r`` of each follow (:func:`causal_ratio` at its item and lag).
    weight
        Weight of each follow (1; ½ for each side of a tie).
    expected_causal
        Per group: ``K``, causal follows at the population's rate for its exposure.
    shape
        The gamma shape ``α`` of the customers' multipliers; None chooses it by marginal
        likelihood.

    Returns
    -------
    CausedEstimate

    Examples
    --------
    Two customers with the same exposure: one with five follows worth ``r = 1`` each, one with
    one.  The first is shown more influential than average, and each of their follows counts
    more:

    >>> est = estimate_caused(np.array([0, 0, 0, 0, 0, 1]), np.ones(6), np.ones(6),
    ...                       np.array([1.0, 1.0]))
    >>> bool(est.caused[0] > 5 * est.caused[1]), bool(est.multiplier[0] > 1 > est.multiplier[1])
    (True, True)
    """
    k = np.asarray(expected_causal, np.float64)
    groups = len(k)
    loglik, caused = _grid_sums(
        np.asarray(group, np.int64), np.asarray(credit, np.float64),
        np.asarray(weight, np.float64), _THETA, groups,
    )  # fmt: skip
    _less_expected(loglik, k, _THETA)
    best = shape if shape is not None else _best_shape(loglik, k > 0)
    post = np.empty((4, groups))
    _posterior(loglik, caused, np.log(_prior_mass(best)), _THETA, 0.05, 0.95, post)
    at_one = int(np.searchsorted(_THETA, 1.0))
    return CausedEstimate(
        caused=post[0],
        low=post[1],
        high=post[2],
        naive=caused[:, at_one].copy(),
        multiplier=post[3],
        expected_causal=k,
        shape=float(best),
    )
