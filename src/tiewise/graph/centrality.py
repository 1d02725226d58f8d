"""Centrality: how central each customer is in the whole network and inside their community."""

from __future__ import annotations

import networkit as nk
import numpy as np
import numpy.typing as npt

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
    graph: nk.Graph, *, samples: int = 16, seed: int | None = 0, workers: int | None = None
) -> npt.NDArray[np.float64]:
    """Betweenness estimated from ``samples`` seeded source nodes (Geisberger et al. 2008).

    Normalised to [0, 1].  Pass an unweighted graph for shortest paths in hops (NetworKit reads
    a weighted graph's weights as lengths, so a strong tie would look long).  NetworKit draws
    the sources from the seed on the calling thread before the parallel part, so the same seed
    gives the same sources with any number of workers (the per-thread sums may differ in the
    last bit between different numbers of workers; with the same number, bit for bit).
    ``seed=None``: NetworKit's generator as the caller seeded it
    (:func:`tiewise.graph.network.seeded_apart`).
    """
    if graph.numberOfEdges() == 0:
        return np.zeros(graph.numberOfNodes())
    with _threads(workers):
        if seed is not None:
            nk.setSeed(seed, False)
        algo = nk.centrality.EstimateBetweenness(
            graph, samples, True, nk.getMaxNumberOfThreads() > 1
        )
        algo.run()
    return np.asarray(algo.scores(), dtype=np.float64)
