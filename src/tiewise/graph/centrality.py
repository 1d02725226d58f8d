"""Centrality: how central each customer is in the whole network and inside their community."""

from __future__ import annotations

import networkit as nk
import numba as nb
import numpy as np
import numpy.typing as npt

from tiewise.graph.network import adjacency
from tiewise.graph.network import nk_threads as _threads

__all__ = [
    "approximate_betweenness",
    "community_leaders",
    "core_number",
    "eigenvector",
    "local_clustering",
    "pagerank",
    "rank_within",
]


def pagerank(
    graph: nk.Graph, *, damping: float = 0.85, tol: float = 1e-9, workers: int | None = None
) -> npt.NDArray[np.float64]:
    """Weighted PageRank of every node (sums to 1 over the graph).

    Examples
    --------
    >>> g = nk.Graph(3, weighted=True)
    >>> g.addEdge(0, 1, 1.0) and g.addEdge(1, 2, 1.0)
    True
    >>> pr = pagerank(g)
    >>> bool(pr[1] > pr[0]), round(float(pr.sum()), 6)
    (True, 1.0)
    """
    if graph.numberOfNodes() == 0:
        return np.zeros(0)
    algo = nk.centrality.PageRank(graph, damp=damping, tol=tol)
    with _threads(workers):
        algo.run()
    scores = np.asarray(algo.scores(), dtype=np.float64)
    total = scores.sum()
    return scores / total if total > 0 else scores


def rank_within(
    groups: npt.NDArray[np.int64], *keys: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Rank (1 = highest) of each item inside its group, by ``keys`` in order, descending.

    Examples
    --------
    >>> rank_within(np.array([1, 1, 2, 2, 2]), np.array([3.0, 5.0, 1.0, 9.0, 4.0])).tolist()
    [2, 1, 3, 1, 2]
    """
    order = np.lexsort((*tuple(-k for k in reversed(keys)), groups))
    ranks = np.empty(len(groups), dtype=np.int64)
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    ranks[order] = position + 1
    return ranks


def community_leaders(
    labels: npt.NDArray[np.int64],
    on_network: npt.NDArray[np.bool_],
    weighted_degree: npt.NDArray[np.float64],
    pagerank: npt.NDArray[np.float64],
    per_community: int,
) -> npt.NDArray[np.bool_]:
    """The graph stage's leader rule: the top customers of each community of at least 3.

    A leader is an on-network party ranked among the first ``per_community`` of the on-network
    members of its community by weighted degree (then PageRank), in a community of at least
    three parties (off-network ones included).  ``customer_scores.is_leader`` follows this rule.

    Examples
    --------
    >>> labels = np.array([1, 1, 1, 1, 2, 2])
    >>> on = np.array([True, True, True, False, True, True])
    >>> wdeg, pr = np.array([3.0, 5.0, 1.0, 9.0, 4.0, 2.0]), np.zeros(6)
    >>> community_leaders(labels, on, wdeg, pr, 2).tolist()
    [True, True, False, False, False, False]
    """
    ranked = rank_within(np.where(on_network, labels, 0), weighted_degree, pagerank)
    _, dense, size = np.unique(labels, return_inverse=True, return_counts=True)
    return np.asarray(on_network & (ranked <= per_community) & (size[dense] >= 3), dtype=bool)


def eigenvector(
    graph: nk.Graph, *, tol: float = 1e-9, workers: int | None = None
) -> npt.NDArray[np.float64]:
    """Eigenvector centrality (leading eigenvector of the weighted adjacency, 2-norm 1)."""
    if graph.numberOfEdges() == 0:
        return np.zeros(graph.numberOfNodes())
    algo = nk.centrality.EigenvectorCentrality(graph, tol=tol)
    with _threads(workers):
        algo.run()
    return np.abs(np.asarray(algo.scores(), dtype=np.float64))


def core_number(graph: nk.Graph, *, workers: int | None = None) -> npt.NDArray[np.int64]:
    """The k-core shell of each node: the largest k such that it is in the k-core."""
    algo = nk.centrality.CoreDecomposition(graph)
    with _threads(workers):
        algo.run()
    return np.asarray(algo.scores(), dtype=np.int64)


def local_clustering(graph: nk.Graph, *, workers: int | None = None) -> npt.NDArray[np.float64]:
    """Share of a node's pairs of contacts who are contacts of each other (unweighted)."""
    algo = nk.centrality.LocalClusteringCoefficient(graph, turbo=True)
    with _threads(workers):
        algo.run()
    return np.asarray(algo.scores(), dtype=np.float64)


def approximate_betweenness(
    n: int,
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    *,
    samples: int = 16,
    seed: int = 0,
) -> npt.NDArray[np.float64]:
    """Betweenness in hops estimated from ``samples`` source nodes (Geisberger et al. 2008).

    The estimator of NetworKit's ``EstimateBetweenness``: sources drawn uniformly (with
    replacement) from the ``seed``; Brandes' dependencies with *linear scaling* (a pair's share
    on a node in proportion to the node's distance from the source, so a node near a sampled
    source is not overrated), extrapolated by ``2n / samples`` and normalised to [0, 1] by the
    ``(n - 1)(n - 2)`` ordered pairs.  Written here as one numba pass over compressed rows per
    source: NetworKit's keeps predecessor lists and arbitrary-precision path counts, and took
    3.6 s a source on a network of a million customers.  Path counts are rescaled at every
    distance, so they cannot overflow however many shortest paths there are.

    Examples
    --------
    A path 0 - 1 - 2: every path between the ends runs through 1.

    >>> approximate_betweenness(3, np.array([0, 1]), np.array([1, 2]), samples=300).round(1)
    array([0., 1., 0.])
    """
    if n < 3 or len(u) == 0 or samples <= 0:
        return np.zeros(n)
    indptr, nbr = adjacency(n, np.asarray(u, np.int64), np.asarray(v, np.int64))
    sources = np.random.default_rng(seed).integers(0, n, samples)
    out = np.zeros(n)
    _dependencies(indptr, nbr, sources, out)
    return out * (2.0 * n / samples) / ((n - 1.0) * (n - 2.0))


@nb.njit(cache=True, nogil=True)
def _dependencies(
    indptr: npt.NDArray[np.int64],
    nbr: npt.NDArray[np.int64],
    sources: npt.NDArray[np.int64],
    out: npt.NDArray[np.float64],
) -> None:
    """Add each source's linearly scaled dependencies (Brandes' accumulation) to ``out``."""
    n = indptr.shape[0] - 1
    dist = np.full(n, -1, dtype=np.int64)
    paths = np.zeros(n)  # shortest paths from the source, divided by their distance's scale
    dep = np.zeros(n)
    order = np.empty(n, dtype=np.int64)  # nodes in the order reached: by distance
    scale = np.ones(n + 1)  # per distance: what that distance's path counts were divided by
    for s in sources:
        order[0] = s
        dist[s] = 0
        paths[s] = 1.0
        head, tail, level = 0, 1, 0
        while head < tail:
            x = order[head]
            if dist[x] != level:  # a new distance: its path counts are complete, rescale them
                level = dist[x]
                top = 0.0
                for q in range(head, tail):
                    top = max(top, paths[order[q]])
                for q in range(head, tail):
                    paths[order[q]] /= top
                scale[level] = top
            head += 1
            d = level + 1
            for k in range(indptr[x], indptr[x + 1]):
                y = nbr[k]
                if dist[y] < 0:
                    dist[y] = d
                    order[tail] = y
                    tail += 1
                if dist[y] == d:
                    paths[y] += paths[x]
        for q in range(tail - 1, 0, -1):  # farthest first; the source itself gets nothing
            t = order[q]
            dt = dist[t]
            # a predecessor p's share: (dist p / dist t) (paths to p / paths to t) (1 + dep t)
            share = (1.0 + dep[t]) / (paths[t] * scale[dt] * dt)
            for k in range(indptr[t], indptr[t + 1]):
                p = nbr[k]
                if dist[p] == dt - 1:
                    dep[p] += (dt - 1) * paths[p] * share
            out[t] += dep[t]
        for q in range(tail):
            t = order[q]
            dist[t] = -1
            paths[t] = 0.0
            dep[t] = 0.0
