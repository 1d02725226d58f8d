"""Communities and their leaders as they were at a cut-off, from the weeks before it only.

``customer_scores`` (the graph stage) describes the network of the whole data window.  A
customer who churns stops calling, so that network already reflects churn after any earlier
cut-off; community and leader features at a training cut-off taken from it would see the future.
Here the network is rebuilt for each cut-off from the per-pair week masks of ``link_state``: a
pair is linked when it was in contact in at least one complete week before the cut, with weight
``ln(1 + weeks in contact)`` (the graph stage's ``ln(1 + strength)`` with the number of active
weeks as the strength that can be known at the cut).  The graph stage's own functions then find
the communities (Leiden at ``graph.resolution``, NetworKit or igraph as ``graph.objective`` says;
NetworKit's with ``churn.community_iterations`` iterations, one by default: a third of the time
of the graph stage's three, with churn figures that move both ways, up to three times as much
as another Leiden seed moves them: docs/churn.md) and the leaders
(:func:`tiewise.graph.centrality.community_leaders`: the top ``graph.leaders_per_community``
customers of each community by weighted degree, then PageRank).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from tiewise.churn.data import BoolArray, ChurnData, FloatArray, IntArray
from tiewise.churn.features import tie_weeks, weeks_before
from tiewise.config import GraphConfig
from tiewise.graph.centrality import community_leaders, pagerank
from tiewise.graph.communities import leiden, leiden_cpm
from tiewise.graph.network import graph_from_edges, seeded_apart

__all__ = ["CutCommunities", "communities_at", "communities_at_cuts", "tied_at"]


@dataclass(frozen=True)
class CutCommunities:
    """Every party's community (-1 without contact before the cut) and whether it led it.

    Attributes
    ----------
    community
        Community label per party (1 = largest); -1 for parties without any tie before the cut.
    is_leader
        Whether the party was a leader of its community at the cut.
    """

    community: IntArray
    is_leader: BoolArray


def tied_at(labels: IntArray, on_network: BoolArray, weighted_degree: FloatArray, k: int) -> bool:
    """Whether some community's k-th and (k+1)-th on-network members tie on weighted degree.

    Only then does the leader rule's second key (PageRank) decide who is among the first ``k``.

    Examples
    --------
    >>> labels, on = np.array([1, 1, 1, 2, 2]), np.ones(5, dtype=bool)
    >>> tied_at(labels, on, np.array([3.0, 2.0, 2.0, 1.0, 0.5]), 1)
    False
    >>> tied_at(labels, on, np.array([3.0, 2.0, 2.0, 1.0, 0.5]), 2)
    True
    """
    group = np.where(on_network, labels, -1)
    order = np.lexsort((-weighted_degree, group))
    group, degree = group[order], weighted_degree[order]
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    position = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    at_k = np.flatnonzero((position == k - 1) & (group >= 0))
    at_k = at_k[at_k + 1 < len(group)]
    return bool(np.any((group[at_k + 1] == group[at_k]) & (degree[at_k + 1] == degree[at_k])))


def communities_at(
    data: ChurnData,
    cut: float,
    graph: GraphConfig,
    *,
    seed: int | None,
    workers: int | None = 1,
    iterations: int | None = None,
) -> CutCommunities:
    """Communities and leaders from the ties of the complete weeks before ``cut``.

    Parameters
    ----------
    data
        The churn stage's data (parties, pairs and their week masks).
    cut
        The cut-off, in days relative to as-of.
    graph
        The graph stage's settings (objective, resolution, iterations, threads, PageRank
        damping, leaders per community).
    seed
        Leiden's seed (None: NetworKit's generator as the caller seeded it).
    workers
        Threads for PageRank.
    iterations
        Leiden iterations (NetworKit's; None: ``graph.leiden_iterations``).

    Returns
    -------
    CutCommunities
        Labels and leaders for every party of ``data``.
    """
    n = data.n
    weeks = tie_weeks(data, weeks_before(data, cut)).astype(np.float64)
    linked = weeks > 0
    u, v = data.u[linked], data.v[linked]
    weight: FloatArray = np.log1p(weeks[linked])
    if len(u) == 0:
        return CutCommunities(np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool))
    g = graph_from_edges(n, u, v, weight)
    if graph.objective == "cpm":
        found = leiden_cpm(n, u, v, weight, resolution=graph.resolution, seed=seed or 0)
    else:
        found = leiden(
            g,
            resolution=graph.resolution,
            iterations=graph.leiden_iterations if iterations is None else iterations,
            seed=seed,
            threads=graph.threads,
        )
    wdeg = (np.bincount(u, weight, minlength=n) + np.bincount(v, weight, minlength=n)).astype(
        np.float64
    )
    has_tie = wdeg > 0
    on = data.is_customer & has_tie
    k = graph.leaders_per_community
    # PageRank only breaks ties of weighted degree: without a tie at the k-th place it cannot
    # change who leads, and is not computed
    needed = tied_at(found.labels_, on, wdeg, k)
    pr = pagerank(g, damping=graph.pagerank_damping, workers=workers) if needed else np.zeros(n)
    labels = np.where(has_tie, found.labels_, -1)
    leaders = community_leaders(found.labels_, on, wdeg, pr, k)
    return CutCommunities(community=labels.astype(np.int64), is_leader=leaders)


def communities_at_cuts(
    data: ChurnData,
    cuts: Sequence[float],
    graph: GraphConfig,
    *,
    seed: int,
    workers: int,
    iterations: int | None = None,
) -> Iterator[CutCommunities]:
    """:func:`communities_at` of each cut-off in ``cuts``, in order, ``workers`` found at once.

    NetworKit's Leiden runs on one thread (``graph.threads = 1``, so that it is reproducible)
    and releases the GIL, so the cut-offs are found ``workers`` at a time on threads of their own
    (:func:`tiewise.graph.network.seeded_apart`), while the caller works on the ones already
    found.  Each is what a lone run finds: every Leiden starts from the seed, and PageRank gives
    the same scores on one thread as on several (tests/churn/test_cut_communities.py).  igraph's
    Leiden (``objective = "cpm"``) holds the GIL and its generator is global, and a
    multi-threaded Leiden has the cores already: those run one cut-off after another, each when
    it is asked for.
    """
    if graph.objective == "cpm" or graph.threads > 1 or workers <= 1:
        return (
            communities_at(data, cut, graph, seed=seed, workers=workers, iterations=iterations)
            for cut in cuts
        )
    tasks = [
        partial(communities_at, data, cut, graph, seed=None, workers=1, iterations=iterations)
        for cut in cuts
    ]
    return seeded_apart(tasks, seed=seed, workers=workers)
