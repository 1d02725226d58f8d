"""Centrality: how central each customer is in the whole network and inside their community."""

from __future__ import annotations

import networkit as nk
import numpy as np
import numpy.typing as npt

__all__ = ["pagerank", "rank_within"]


def pagerank(
    graph: nk.Graph, *, damping: float = 0.85, tol: float = 1e-9, threads: int = 2
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
    nk.setNumberOfThreads(threads)
    if graph.numberOfNodes() == 0:
        return np.zeros(0)
    algo = nk.centrality.PageRank(graph, damp=damping, tol=tol)
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
