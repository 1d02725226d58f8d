"""The graph stage's algorithms on your own network: a pandas edge list or a NetworkX graph.

No workspace is needed: :func:`network_from_edges` and :func:`network_from_networkx` build the
same :class:`~tiewise.graph.network.Network` the graph stage reads from ``links``, and
:func:`communities` and :func:`centrality` run the stage's Leiden and centrality measures on it,
one row per node.

Examples
--------
>>> edges = pd.DataFrame({"a": ["ann", "bob", "ann", "dan", "eve", "dan", "cat"],
...                       "b": ["bob", "cat", "cat", "eve", "fay", "fay", "dan"]})
>>> net = network_from_edges(edges)
>>> communities(net, seed=1)["community"].tolist()
[1, 1, 1, 2, 2, 2]
>>> centrality(net).set_index("customer_id").loc["cat", "degree"]
np.int64(3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tiewise.exceptions import InputError
from tiewise.graph.centrality import core_number, local_clustering, pagerank
from tiewise.graph.communities import leiden
from tiewise.graph.network import Network

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["centrality", "communities", "network_from_edges", "network_from_networkx"]


def network_from_edges(
    edges: pd.DataFrame,
    *,
    source: str = "a",
    target: str = "b",
    weight: str | None = None,
    nodes: Any = None,
) -> Network:
    """A :class:`Network` from an edge list, one row per link or per interaction.

    Parameters
    ----------
    edges
        One row per link (or per interaction: repeated pairs are added up, in either direction).
    source, target
        The columns naming the two ends.
    weight
        A column of non-negative link strengths; None: every row weighs 1, so a pair's weight
        is its number of rows.
    nodes
        Further node ids with no link (an isolated customer still gets a row).

    Returns
    -------
    Network
        Nodes sorted by id (as text); each pair once with ``u < v``; self-loops and pairs of
        weight 0 left out, as the graph stage leaves them out of ``links``.

    Raises
    ------
    InputError
        A named column is missing, an end is empty, or a weight is negative or not a number.
    """
    missing = [c for c in (source, target, weight) if c is not None and c not in edges.columns]
    if missing:
        raise InputError(
            f"the edge list has no column {', '.join(map(repr, missing))} "
            f"(it has {', '.join(map(repr, edges.columns))}); name the columns with "
            "source=, target= and weight="
        )
    ends = edges[[source, target]]
    empty = ends.isna().any(axis=1).to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise InputError(f"edge list row {row}: an end ({source!r} or {target!r}) is empty")
    a, b = ends[source].astype(str).to_numpy(), ends[target].astype(str).to_numpy()
    w = (
        np.ones(len(edges))
        if weight is None
        else pd.to_numeric(edges[weight], errors="coerce").to_numpy(dtype=np.float64)
    )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"edge list row {row}, column {weight!r}: {edges[weight].iloc[row]!r} is not a "
            "non-negative number"
        )
    extra = [] if nodes is None else [str(x) for x in nodes]
    every = np.concatenate([a, b, np.asarray(extra, dtype=str)])
    ids, index = np.unique(every, return_inverse=True)
    i, j = index[: len(a)], index[len(a) : 2 * len(a)]
    keep = (i != j) & (w > 0)
    pairs = pd.DataFrame({"u": np.minimum(i, j)[keep], "v": np.maximum(i, j)[keep], "w": w[keep]})
    summed = pairs.groupby(["u", "v"], sort=True, as_index=False)["w"].sum()
    return Network(
        ids=ids.astype(object),
        on_network=np.ones(len(ids), dtype=bool),
        u=summed["u"].to_numpy(dtype=np.int64),
        v=summed["v"].to_numpy(dtype=np.int64),
        weight=summed["w"].to_numpy(dtype=np.float64),
        channels={},
    )


def network_from_networkx(graph: nx.Graph, *, weight: str | None = "weight") -> Network:
    """A :class:`Network` from a NetworkX graph (node names become ids, as text).

    Edges without the ``weight`` attribute weigh 1 (``weight=None``: every edge weighs 1).  A
    directed graph or a multigraph is read as undirected: the weights of ``u → v`` and
    ``v → u``, and of parallel edges, add up.  Isolated nodes are kept.

    Examples
    --------
    >>> import networkx as nx
    >>> net = network_from_networkx(nx.karate_club_graph())
    >>> net.n, len(net.u), round(float(net.weight.sum()), 1)
    (34, 78, 231.0)
    """
    rows = [
        (u, v, 1.0 if weight is None else data.get(weight, 1.0))
        for u, v, data in graph.edges(data=True)
    ]
    frame = pd.DataFrame(rows, columns=["a", "b", "weight"])
    return network_from_edges(frame, weight="weight", nodes=list(graph.nodes))


def communities(
    network: Network, *, resolution: float = 1.0, seed: int = 0, iterations: int = 3
) -> pd.DataFrame:
    """Leiden communities of ``network``: ``customer_id``, ``community`` (1 = largest).

    The graph stage's :func:`~tiewise.graph.communities.leiden` on one thread, so the same seed
    gives the same partition; the partition's modularity is in ``.attrs["modularity"]``.
    """
    found = leiden(network.graph, resolution=resolution, seed=seed, iterations=iterations)
    frame = pd.DataFrame({"customer_id": network.ids, "community": found.labels_})
    frame.attrs["modularity"] = found.modularity_
    return frame


def centrality(network: Network, *, damping: float = 0.85) -> pd.DataFrame:
    """The graph stage's per-node measures of ``network``, one row per node.

    Columns: ``customer_id``, ``degree`` (distinct contacts), ``weighted_degree`` (sum of link
    weights), ``pagerank`` (weighted, sums to 1), ``core`` (k-core shell), ``clustering``
    (share of a node's pairs of contacts who are linked).
    """
    graph = network.graph
    return pd.DataFrame(
        {
            "customer_id": network.ids,
            "degree": network.degree(),
            "weighted_degree": network.weighted_degree(),
            "pagerank": pagerank(graph, damping=damping),
            "core": core_number(graph),
            "clustering": local_clustering(graph),
        }
    )
