"""Empirical Bayes over the customers' influence: the spread of the multipliers it picks."""

from __future__ import annotations

import numpy as np
import pytest

from tiewise.influence import caused
from tiewise.influence.caused import _SHAPES, _THETA, estimate_caused

_RATIO = 2.0  # causal-to-chance ratio of every planted follow


def _planted(shape: float, groups: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Follows of groups whose multipliers are Gamma(shape, rate shape): group of each, and K.

    As the estimate models them: a group's follows come at chance's rate ``C`` plus ``θ K``
    caused ones, where ``K = r C`` and every follow carries the causal-to-chance ratio ``r``.
    """
    rng = np.random.default_rng(seed)
    chance = rng.gamma(2.0, 2.0, groups)
    k = _RATIO * chance
    theta = rng.gamma(shape, 1.0 / shape, groups)
    follows = rng.poisson(chance + theta * k)
    return np.repeat(np.arange(groups), follows), k


def _by_loop(loglik: np.ndarray) -> float:
    """The shape as the stage chose it before: a log-sum-exp per shape, the first best kept."""
    best, best_ll = _SHAPES[0], -np.inf
    for a in _SHAPES:
        joint = loglik + np.log(caused._prior_mass(a))[None, :]
        top = joint.max(axis=1, keepdims=True)
        ll = float((top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))).sum())
        if ll > best_ll:
            best, best_ll = a, ll
    return best


@pytest.mark.parametrize("truth", [0.35, 1.0, 5.0])
def test_the_shape_is_the_likeliest_and_near_the_planted_one(truth: float) -> None:
    group, k = _planted(truth)
    credit, weight = np.full(len(group), _RATIO), np.ones(len(group))
    est = estimate_caused(group, credit, weight, k)
    # every shape's marginal likelihood in one product picks what a loop over shapes picks
    loglik, _ = caused._grid_sums(group, credit, weight, _THETA, len(k))
    loglik -= np.outer(k, _THETA)
    assert est.shape == _by_loop(loglik)
    # and it is the grid's shape nearest the truth, or a neighbour
    nearest = int(np.argmin(np.abs(np.log(np.array(_SHAPES) / truth))))
    assert abs(_SHAPES.index(est.shape) - nearest) <= 1, (truth, est.shape)
