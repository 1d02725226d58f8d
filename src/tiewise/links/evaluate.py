"""How well link scores separate pairs with a known relationship from the rest (ROC AUC).

A user who knows some true relationships -- family plans, shared accounts, declared friendships
-- can check a link score against them: :func:`pair_auc` is the probability that a random pair
with the relationship scores above a random pair without it (ties count half), over every pair
of the given parties, pairs without any interaction scoring 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = ["auc", "pair_auc"]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC (scikit-learn's ``roc_auc_score``: ties count half).

    Examples
    --------
    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    """
    labels = labels.astype(bool)
    if labels.all() or not labels.any():
        raise ValueError("AUC needs at least one positive and one negative pair")
    return float(roc_auc_score(labels, scores))


def pair_auc(
    scores: Mapping[tuple[str, str], float],
    positives: Iterable[tuple[str, str]],
    parties: Iterable[str],
) -> float:
    """AUC of ``scores`` for telling ``positives`` from all other pairs of ``parties``.

    Pairs are unordered (``(a, b)`` with ``a < b``); pairs absent from ``scores`` score 0.
    """
    people = sorted(set(parties))
    index = {p: i for i, p in enumerate(people)}
    n = len(people)
    rows, cols = np.triu_indices(n, 1)
    flat = rows * n + cols
    values = np.zeros(n * n)
    truth = np.zeros(n * n, dtype=bool)
    for (a, b), s in scores.items():
        if a in index and b in index:
            i, j = sorted((index[a], index[b]))
            values[i * n + j] = s
    for a, b in positives:
        if a in index and b in index and a != b:
            i, j = sorted((index[a], index[b]))
            truth[i * n + j] = True
    return auc(values[flat], truth[flat])
