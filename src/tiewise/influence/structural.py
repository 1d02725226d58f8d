"""Spreading power from the network's shape alone, for customers with no adoption history.

Four classic rankers of "superspreaders", compared on the generator's hidden influence trait
(see the README and ``tests/influence/test_structural.py``):

- k-shell (Kitsak et al., Nature Physics 2010): the core number (:func:`tiewise.graph.centrality`);
- collective influence at radius ℓ (Morone & Makse, Nature 2015):
  ``CI_ℓ(i) = (k_i − 1) Σ_{j on the ball boundary at distance ℓ} (k_j − 1)``;
- PageRank;
- LeaderRank (Lü et al., PLoS ONE 2011): a random walk on the network plus a "ground" node
  linked both ways to everyone; the ground's final score is shared out equally.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import scipy.sparse as sp

from tiewise.graph.network import adjacency
from tiewise.shared import FloatArray, IntArray

__all__ = ["STRUCTURAL_METHODS", "collective_influence", "leaderrank"]


STRUCTURAL_METHODS = ("k_shell", "collective_influence", "pagerank", "leaderrank", "contacts")
"""Names accepted by the ``[influence] structural`` setting."""


@nb.njit(cache=True, nogil=True)
def _ci(indptr: IntArray, nbr: IntArray, radius: int) -> FloatArray:
    n = indptr.shape[0] - 1
    dist = np.full(n, -1, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    out = np.zeros(n)
    for i in range(n):
        k = indptr[i + 1] - indptr[i]
        if k <= 1:
            continue
        head = 0
        tail = 1
        queue[0] = i
        dist[i] = 0
        boundary = 0.0
        while head < tail:
            x = queue[head]
            head += 1
            if dist[x] == radius:
                boundary += indptr[x + 1] - indptr[x] - 1
                continue
            for p in range(indptr[x], indptr[x + 1]):
                y = nbr[p]
                if dist[y] < 0:
                    dist[y] = dist[x] + 1
                    queue[tail] = y
                    tail += 1
        for q in range(tail):
            dist[queue[q]] = -1
        out[i] = (k - 1) * boundary
    return out


def collective_influence(n: int, u: IntArray, v: IntArray, *, radius: int = 2) -> FloatArray:
    """Collective influence of every node of an undirected graph (edges ``u[i] – v[i]``).

    Examples
    --------
    A path 0-1-2-3-4: node 2's boundary at distance 2 is {0, 4}, both of degree 1.

    >>> collective_influence(5, np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4])).tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0]
    """
    indptr, nbr = adjacency(n, np.asarray(u, np.int64), np.asarray(v, np.int64))
    return _ci(indptr, nbr, radius)


def leaderrank(
    n: int, u: IntArray, v: IntArray, *, tol: float = 1e-10, max_iter: int = 10_000
) -> FloatArray:
    """LeaderRank score of every node of an undirected graph.

    Examples
    --------
    >>> s = leaderrank(4, np.array([0, 0, 0]), np.array([1, 2, 3]))
    >>> bool(s[0] > s[1]) and bool(abs(s[1] - s[3]) < 1e-9)
    True
    """
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    g = n  # the ground node
    src = np.concatenate([u, v, np.arange(n), np.full(n, g)])
    dst = np.concatenate([v, u, np.full(n, g), np.arange(n)])
    out_deg = np.bincount(src, minlength=n + 1).astype(np.float64)
    # column-stochastic transition: score_new[dst] += score[src] / out_deg[src]
    walk = sp.csr_matrix((1.0 / out_deg[src], (dst, src)), shape=(n + 1, n + 1))
    score = np.ones(n + 1)
    score[g] = 0.0
    for _ in range(max_iter):
        new = walk @ score
        if np.abs(new - score).sum() < tol * (n + 1):
            score = new
            break
        score = new
    return score[:n] + score[g] / max(n, 1)
