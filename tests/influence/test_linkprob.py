"""Goyal et al.'s link probabilities on hand-made action logs, and the AUC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from tiewise.influence.linkprob import auc, fit_links
from tiewise.influence.timing import linked_pairs


def test_counts_follow_the_papers_definitions() -> None:
    # a path 0 - 1 - 2; item 0: 0 at day 1, 1 at day 3, 2 at day 4; item 1: 1 at day 0, 0 at
    # day 30 (too late to propagate within 14 days); item 2: 2 at day 5 only.
    node = np.array([0, 1, 2, 1, 0, 2])
    item = np.array([0, 0, 0, 1, 1, 2])
    time = np.array([1.0, 3.0, 4.0, 0.0, 30.0, 5.0])
    u, v = np.array([0, 1]), np.array([1, 2])
    a, b = linked_pairs(3, u, v, node, item)
    c = fit_links(3, u, v, node, item, time, a, b, window=14.0)
    got = {
        (int(s), int(d)): (aS, aE, p, cr)
        for s, d, aS, aE, p, cr in zip(
            c.src, c.dst, c.actions_src, c.actions_either, c.propagations, c.credit, strict=True
        )
    }
    # 0 -> 1: A_0 = 2 (items 0, 1), A_0|1 = 2, propagated item 0 (1 had only 0 as a source)
    assert got[(0, 1)] == (2, 2, 1, 1.0)
    assert got[(1, 0)] == (2, 2, 0, 0.0)  # item 1 reached 0 after 30 days: outside the window
    # 1 -> 2: item 0 propagated; 2's only adopting contact is 1, so full credit
    assert got[(1, 2)] == (2, 3, 1, 1.0)
    assert got[(2, 1)] == (2, 3, 0, 0.0)
    np.testing.assert_allclose(c.probability("bernoulli")[:2], [0.5, 0.5])
    j = c.probability("jaccard")
    assert j[1] == 1 / 3  # link (1, 2) in the src = u order: 1 -> 2
    prior = c.probability("bernoulli", prior=0.1, strength=2.0)
    np.testing.assert_allclose(prior[0], (2 * 0.5 + 2 * 0.1) / 4)


def test_partial_credit_splits_between_possible_sources() -> None:
    # 0 and 2 both adopted before their common contact 1
    node = np.array([0, 2, 1])
    item = np.array([0, 0, 0])
    time = np.array([1.0, 2.0, 3.0])
    u, v = np.array([0, 1]), np.array([1, 2])
    a, b = linked_pairs(3, u, v, node, item)
    c = fit_links(3, u, v, node, item, time, a, b, window=14.0)
    credit = dict(zip(zip(c.src.tolist(), c.dst.tolist(), strict=True), c.credit, strict=True))
    assert credit[(0, 1)] == 0.5 and credit[(2, 1)] == 0.5
    assert np.isclose(c.mean_delay[(c.src == 0) & (c.dst == 1)][0], 2.0)


def test_auc_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    label = rng.random(500) < 0.3
    score = rng.integers(0, 10, 500) + label * rng.integers(0, 4, 500)
    assert np.isclose(auc(score.astype(float), label), roc_auc_score(label, score))
    assert np.isnan(auc(np.ones(3), np.zeros(3, dtype=bool)))
