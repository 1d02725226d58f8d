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
    c = fit_links(3, u, v, node, time, linked_pairs(3, u, v, node, item), window=14.0)
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
    c = fit_links(3, u, v, node, time, linked_pairs(3, u, v, node, item), window=14.0)
    credit = dict(zip(zip(c.src.tolist(), c.dst.tolist(), strict=True), c.credit, strict=True))
    assert credit[(0, 1)] == 0.5 and credit[(2, 1)] == 0.5
    assert np.isclose(c.mean_delay[(c.src == 0) & (c.dst == 1)][0], 2.0)


def test_counts_match_a_brute_force_on_a_random_network() -> None:
    # links stored either way round (u > v as often as u < v), several items, ties in time
    rng = np.random.default_rng(11)
    n = 60
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n, (300, 2)).tolist() if p[0] != p[1]}
    links = np.array([p if rng.random() < 0.5 else p[::-1] for p in sorted(pairs)])
    u, v = links[:, 0], links[:, 1]
    rows = sorted(
        {
            (int(x), int(i))
            for x, i in zip(rng.integers(0, n, 400), rng.integers(0, 5, 400), strict=True)
        }
    )
    node = np.array([x for x, _ in rows])
    item = np.array([i for _, i in rows])
    time = rng.integers(0, 30, len(rows)).astype(float)
    c = fit_links(n, u, v, node, time, linked_pairs(n, u, v, node, item), window=7.0)
    when = {(x, i): t for (x, i), t in zip(rows, time, strict=True)}
    for s, d, either, prop, credit, delay in zip(
        c.src, c.dst, c.actions_either, c.propagations, c.credit, c.mean_delay, strict=True
    ):
        mine = {i for (x, i) in when if x == s}
        theirs = {i for (x, i) in when if x == d}
        assert either == len(mine | theirs)
        lags = [when[(d, i)] - when[(s, i)] for i in mine & theirs]
        follows = [i for i, lag in zip(mine & theirs, lags, strict=True) if 0 < lag <= 7.0]
        assert prop == len(follows)
        sources = [  # each follow's credit: one over the contacts who adopted before within 7
            sum(
                1
                for y in set(u[v == d]) | set(v[u == d])
                if (y, i) in when and 0 < when[(d, i)] - when[(y, i)] <= 7.0
            )
            for i in follows
        ]
        assert np.isclose(credit, sum(1.0 / k for k in sources))
        if follows:
            assert np.isclose(delay, np.mean([x for x in lags if 0 < x <= 7.0]))
        else:
            assert np.isnan(delay)


def test_auc_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    label = rng.random(500) < 0.3
    score = rng.integers(0, 10, 500) + label * rng.integers(0, 4, 500)
    assert np.isclose(auc(score.astype(float), label), roc_auc_score(label, score))
    assert np.isnan(auc(np.ones(3), np.zeros(3, dtype=bool)))
