"""Community detection: Leiden on the weighted customer network, through NetworKit.

NetworKit's ``ParallelLeiden`` was the fastest Leiden measured here (8 s on 1M nodes / 6.4M links,
against 23 s for igraph's and over 300 s for leidenalg).  With one thread and a fixed seed it is
deterministic; with more threads it is faster but its result may differ between runs, so the
default is one thread (``graph.threads``).

Every community Leiden returns is connected (Traag, Waltman & van Eck 2019), unlike Louvain's.
Community ids are renumbered 1, 2, ... by decreasing size (ties by smallest member), so the largest
community is always community 1.

Several resolutions form one nested hierarchy around the main level (:func:`leiden_levels`):
the main level is Leiden on the whole network, the same partition whatever other levels are
asked for; each coarser level is Leiden on the much smaller network of the next finer level's
communities, each finer level Leiden inside the next coarser level's communities.  Each
sub-community then lies inside one community, which is what a marketer drilling down expects.
What nesting costs is measured, not assumed: every other level is also run directly, and both
modularities are kept (the graph stage's ``community_level_quality`` table).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import igraph as ig
import networkit as nk
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from tiewise.graph.network import graph_from_edges, nk_threads, on_a_new_thread, seeded_apart

__all__ = ["Communities", "leiden", "leiden_cpm", "leiden_levels", "modularity"]


@dataclass(frozen=True)
class Communities:
    """A partition of the nodes: ``labels_[i]`` is node i's community (1 = largest)."""

    labels_: npt.NDArray[np.int64]
    modularity_: float
    built: str = "direct"  # how the partition was found (see :func:`leiden_levels`)
    direct_modularity_: float | None = None  # a direct run's at the same resolution, if compared
    direct_communities_: int | None = None  # and its number of communities

    @property
    def sizes(self) -> npt.NDArray[np.int64]:
        """Size of community c at index c - 1."""
        return np.bincount(self.labels_)[1:]


def _renumber_by_size(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    first = np.full(len(counts), len(labels), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(labels)))
    order = np.lexsort((first, -counts))  # biggest first, then earliest member
    rank = np.empty_like(order)
    rank[order] = np.arange(1, len(order) + 1)
    return rank[inverse].astype(np.int64)


def leiden(
    graph: nk.Graph,
    *,
    resolution: float = 1.0,
    iterations: int = 3,
    seed: int | None = 0,
    threads: int = 1,
) -> Communities:
    """Leiden communities maximising modularity with a resolution parameter.

    Parameters
    ----------
    graph
        A weighted undirected NetworKit graph.
    resolution
        The modularity resolution γ: above 1 gives smaller communities, below 1 larger ones.
    iterations
        Leiden iterations.
    seed
        Random seed; with ``threads=1`` the same seed gives the same partition.  None: NetworKit's
        generator as the caller seeded it (:func:`tiewise.graph.network.seeded_apart`).
    threads
        Worker threads for NetworKit.

    Returns
    -------
    Communities
        Labels renumbered by decreasing community size, and the partition's modularity.

    Examples
    --------
    >>> g = nk.Graph(6, weighted=True)
    >>> pairs = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]
    >>> all(g.addEdge(a, b, 1.0) for a, b in pairs)
    True
    >>> leiden(g, seed=1).labels_.tolist()
    [1, 1, 1, 2, 2, 2]

    References
    ----------
    V. A. Traag, L. Waltman, N. J. van Eck. From Louvain to Leiden: guaranteeing well-connected
    communities. Scientific Reports 9, 5233 (2019).
    """
    algo = nk.community.ParallelLeiden(
        graph, iterations=iterations, randomize=True, gamma=resolution
    )
    with nk_threads(threads):
        if seed is not None:
            nk.setSeed(seed, False)
        algo.run()
        partition = algo.getPartition()
        # on Leiden's threads: NetworKit sums the modularity in parallel, and on more threads
        # than one the sum's last bit depends on which thread finishes first
        modularity = (
            nk.community.Modularity().getQuality(partition, graph) if graph.numberOfEdges() else 0.0
        )
    labels = np.asarray(partition.getVector(), dtype=np.int64)
    return Communities(labels_=_renumber_by_size(labels), modularity_=float(modularity))


def leiden_cpm(
    n: int,
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    *,
    resolution: float,
    iterations: int = -1,
    seed: int = 0,
) -> Communities:
    """Leiden communities under the Constant Potts Model, through igraph.

    CPM asks every community for an internal density above ``resolution`` (in edge-weight units
    per pair of members), so it has no resolution limit: small tight groups are found in large
    networks, which modularity merges.  NetworKit has no CPM, so this runs igraph's Leiden
    (single-threaded C, seeded).

    Examples
    --------
    >>> u, v = np.array([0, 1, 0, 3, 4, 3, 2]), np.array([1, 2, 2, 4, 5, 5, 3])
    >>> leiden_cpm(6, u, v, np.ones(7), resolution=0.5, seed=1).labels_.tolist()
    [1, 1, 1, 2, 2, 2]
    """
    h = ig.Graph(n=n, edges=np.column_stack([u, v]).astype(np.int64))
    h.es["weight"] = np.asarray(weight, dtype=np.float64)
    ig.set_random_number_generator(random.Random(seed))
    try:
        found = h.community_leiden(
            objective_function="CPM",
            weights="weight",
            resolution=resolution,
            n_iterations=iterations,
        )
    finally:
        ig.set_random_number_generator(random)
    labels = np.asarray(found.membership, dtype=np.int64)
    quality = float(h.modularity(found.membership, weights="weight")) if h.ecount() else 0.0
    return Communities(labels_=_renumber_by_size(labels), modularity_=quality)


def modularity(
    labels: npt.NDArray[np.int64],
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
) -> float:
    """Newman's weighted modularity (γ = 1) of a partition of an edge list.

    Examples
    --------
    >>> u, v = np.array([0, 1, 0, 3, 4, 3, 2]), np.array([1, 2, 2, 4, 5, 5, 3])
    >>> round(modularity(np.array([1, 1, 1, 2, 2, 2]), u, v, np.ones(7)), 4)
    0.3571
    """
    total = float(weight.sum())
    if total <= 0:
        return 0.0
    _, dense = np.unique(labels, return_inverse=True)
    same = dense[u] == dense[v]
    inside = np.bincount(dense[u][same], weight[same], minlength=dense.max() + 1)
    volume = np.bincount(dense[u], weight, minlength=len(inside)) + np.bincount(
        dense[v], weight, minlength=len(inside)
    )
    return float(inside.sum() / total - ((volume / (2.0 * total)) ** 2).sum())


SPLIT_PARTS = 2
"""A finer level's Leiden runs in this many parts at once (fixed: results do not depend on the
machine)."""


def _split_inside(
    labels: npt.NDArray[np.int64],
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    resolution: float,
    *,
    iterations: int,
    seed: int | None,
    threads: int,
) -> npt.NDArray[np.int64]:
    """Leiden at ``resolution`` inside each community of ``labels``, in parts run at once.

    Without the links between communities each community is a network of its own, and Leiden's
    communities never span two of them: the communities are dealt (largest first, to the part
    with the fewest links) into :data:`SPLIT_PARTS` parts, whose Leiden runs go on threads of
    their own.  Modularity's null model is relative to the network's total weight, so a part
    holding a share ``s`` of the weight runs at resolution ``s·γ``: each part's objective is
    then the whole network's restricted to it, and the parts together optimise what one run
    on all of them would.  Each run starts from ``seed`` (None: NetworKit's seed as the caller
    set it), so the result does not depend on which part finishes first.
    """
    n = len(labels)
    inside = labels[u] == labels[v]
    u, v, weight = u[inside], v[inside], weight[inside]
    community_links = np.bincount(labels[u], minlength=int(labels.max()) + 1)
    part_of = np.zeros(len(community_links), dtype=np.int64)
    load = np.zeros(SPLIT_PARTS, dtype=np.int64)
    for c in np.argsort(-community_links, kind="stable"):  # largest first, to the lightest
        part_of[c] = int(np.argmin(load))
        load[part_of[c]] += community_links[c]
    node_part = part_of[labels]
    total = float(weight.sum())
    tasks, members = [], []
    for p in range(SPLIT_PARTS):
        nodes = np.flatnonzero(node_part == p)
        if not len(nodes):
            continue
        local = np.full(n, -1, dtype=np.int64)
        local[nodes] = np.arange(len(nodes))
        mine = node_part[u] == p
        share = float(weight[mine].sum()) / total if total > 0 else 1.0
        g = graph_from_edges(len(nodes), local[u[mine]], local[v[mine]], weight[mine])
        run = partial(leiden, g, resolution=resolution * share, iterations=iterations)
        tasks.append(partial(run, seed=None, threads=threads))
        members.append(nodes)
    split = np.zeros(n, dtype=np.int64)
    offset = 0
    for nodes, part in zip(members, seeded_apart(tasks, seed=seed, workers=SPLIT_PARTS),
                           strict=True):  # fmt: skip
        split[nodes] = part.labels_ + offset
        offset += int(part.labels_.max())
    return _renumber_by_size(split)


def _community_edges(
    labels: npt.NDArray[np.int64],
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The edge list of the network of communities (labels 1..k, nodes 0..k-1).

    Links carry the summed weights between two communities, and a self-loop each community's
    internal weight, so a partition has the same modularity on both networks.
    """
    k = int(labels.max())
    cu, cv = labels[u] - 1, labels[v] - 1
    summed = sp.coo_matrix(
        (weight, (np.minimum(cu, cv), np.maximum(cu, cv))), shape=(k, k)
    ).tocsr()  # adds up the weights of repeated community pairs
    summed.sum_duplicates()
    coo = summed.tocoo()
    return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)


def leiden_levels(
    graph: nk.Graph,
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    resolutions: Sequence[float],
    *,
    main: int = 0,
    iterations: int = 3,
    seed: int | None = 0,
    threads: int = 1,
    compare: bool = True,
) -> list[Communities]:
    """Nested Leiden communities at several resolutions, in the order given.

    The main level (``resolutions[main]``) is Leiden on ``graph`` itself, whatever the other
    levels, so asking for more levels never changes it.  From there the hierarchy grows both
    ways, one level at a time:

    - a *coarser* level (smaller resolution) is Leiden on the network of the next finer level's
      communities (:func:`_community_edges`), so its communities are unions of those;
    - a *finer* level (larger resolution) is Leiden on ``graph`` without the links between the
      next coarser level's communities, so it splits them (every Leiden community is connected,
      so each lies inside one community of that level).

    Nesting can cost modularity against a direct run at the same resolution; with ``compare``
    every other level is also run directly on ``graph`` and the difference is reported
    (``direct_modularity_``).  ``u``, ``v``, ``weight`` are ``graph``'s edge list.  Modularity is
    at γ = 1 on the whole network for every level.  Every Leiden run starts from ``seed``;
    ``seed=None``: from NetworKit's seed as the caller set it, each run on a thread of its own
    (:func:`tiewise.graph.network.seeded_apart`), so that other NetworKit work may run beside.

    Examples
    --------
    >>> u = np.array([0, 1, 0, 3, 4, 3, 2, 6, 7, 6, 8, 9, 8, 5])
    >>> v = np.array([1, 2, 2, 4, 5, 5, 3, 7, 8, 8, 9, 10, 10, 6])
    >>> g = nk.Graph(11, weighted=True)
    >>> _ = g.addEdges((np.ones(14), (u.astype(np.uint64), v.astype(np.uint64))))
    >>> fine, coarse = leiden_levels(g, u, v, np.ones(14), [2.0, 0.5], seed=1)
    >>> bool(all(len(set(coarse.labels_[fine.labels_ == c])) == 1 for c in set(fine.labels_)))
    True
    >>> coarse.built, fine.built
    ('groups of the communities at resolution 2', 'direct')
    """
    if not 0 <= main < len(resolutions):
        raise ValueError(f"main must index resolutions (0..{len(resolutions) - 1}), got {main}")

    def run(g: nk.Graph, resolution: float) -> Communities:
        found = partial(leiden, g, resolution=resolution, iterations=iterations, threads=threads)
        return found(seed=seed) if seed is not None else on_a_new_thread(partial(found, seed=None))

    top = run(graph, resolutions[main])
    found: dict[int, Communities] = {main: top}
    coarser = sorted(
        (i for i in range(len(resolutions)) if resolutions[i] < resolutions[main]),
        key=lambda i: -resolutions[i],
    )
    labels, edges = top.labels_, _community_edges(top.labels_, u, v, weight)
    parent = resolutions[main]
    for i in coarser:  # each from the next finer level's communities
        k = int(labels.max())
        grouped = run(graph_from_edges(k, *edges), resolutions[i])
        merged = _renumber_by_size(grouped.labels_[labels - 1])
        # renumbered by size, the groups' labels map each finer community to its new one
        group_of = np.zeros(k + 1, dtype=np.int64)
        group_of[labels] = merged
        found[i] = Communities(
            merged,
            modularity(group_of[1:], *edges),
            built=f"groups of the communities at resolution {parent:g}",
        )
        labels, parent = merged, resolutions[i]
        edges = _community_edges(group_of[1:], *edges)
    finer = sorted(
        (i for i in range(len(resolutions)) if resolutions[i] > resolutions[main]),
        key=lambda i: resolutions[i],
    )
    labels, parent = top.labels_, resolutions[main]
    for i in finer:  # each splits the next coarser level's communities
        split = _split_inside(
            labels, u, v, weight, resolutions[i], iterations=iterations, seed=seed, threads=threads
        )
        found[i] = Communities(
            split,
            modularity(split, u, v, weight),
            built=f"splits of the communities at resolution {parent:g}",
        )
        labels, parent = split, resolutions[i]
    for i, level in list(found.items()):
        if i == main or not compare:
            continue
        direct = run(graph, resolutions[i])
        found[i] = replace(
            level,
            direct_modularity_=direct.modularity_,
            direct_communities_=int(direct.labels_.max()),
        )
    return [found[i] for i in range(len(resolutions))]
