"""Centralities against networkx's reference implementations, and their reproducibility."""

import networkit as nk
import networkx as nx
import numpy as np
import pytest

from tiewise.graph.centrality import (
    _dependencies,
    approximate_betweenness,
    core_number,
    eigenvector,
    local_clustering,
    pagerank,
)
from tiewise.graph.network import adjacency


def weighted_graph(seed: int = 0) -> tuple[nk.Graph, nx.Graph]:
    reference = nx.connected_watts_strogatz_graph(300, 8, 0.2, seed=seed)
    rng = np.random.default_rng(seed)
    graph = nk.Graph(reference.number_of_nodes(), weighted=True)
    for a, b in reference.edges():
        w = float(rng.uniform(0.5, 5.0))
        reference[a][b]["weight"] = w
        graph.addEdge(a, b, w)
    return graph, reference


def as_array(values: dict[int, float]) -> np.ndarray:
    return np.array([values[i] for i in range(len(values))])


def test_pagerank_matches_networkx() -> None:
    graph, reference = weighted_graph()
    expected = as_array(nx.pagerank(reference, alpha=0.85, weight="weight", tol=1e-12))
    np.testing.assert_allclose(pagerank(graph), expected, atol=1e-6)


def test_eigenvector_matches_networkx() -> None:
    graph, reference = weighted_graph(1)
    expected = as_array(nx.eigenvector_centrality_numpy(reference, weight="weight"))
    np.testing.assert_allclose(eigenvector(graph), np.abs(expected), rtol=1e-3)


def test_core_number_and_clustering_match_networkx() -> None:
    graph, reference = weighted_graph(2)
    np.testing.assert_array_equal(core_number(graph), as_array(nx.core_number(reference)))
    np.testing.assert_allclose(local_clustering(graph), as_array(nx.clustering(reference)))


def edges(reference: nx.Graph) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array(list(reference.edges()), dtype=np.int64)
    return pairs[:, 0], pairs[:, 1]


def test_betweenness_from_every_source_is_the_exact_betweenness() -> None:
    # linear scaling splits each pair's share between its two ends' runs: summed over every
    # source it is Brandes' exact betweenness (networkx's, normalised)
    _, reference = weighted_graph(3)
    n = reference.number_of_nodes()
    indptr, nbr = adjacency(n, *edges(reference))
    every = np.zeros(n)
    _dependencies(indptr, nbr, np.arange(n), every)
    exact = as_array(nx.betweenness_centrality(reference, normalized=True))
    np.testing.assert_allclose(every * 2.0 / ((n - 1) * (n - 2)), exact, rtol=1e-9)


def test_betweenness_estimate_tracks_the_exact_values() -> None:
    _, reference = weighted_graph(3)
    exact = as_array(nx.betweenness_centrality(reference, normalized=True))
    estimate = approximate_betweenness(300, *edges(reference), samples=300, seed=1)
    assert np.corrcoef(exact, estimate)[0, 1] > 0.9
    assert abs(estimate.sum() / exact.sum() - 1.0) < 0.05  # the extrapolation's scale


def test_betweenness_counts_paths_past_the_range_of_a_float() -> None:
    # a chain of 1,100 diamonds: 2^1100 shortest paths end to end (a float stops near 2^1024);
    # every path between the two sides of a joint passes it, and half the paths between the
    # middle pair of each diamond beside it
    k = 1100
    a = 3 * np.arange(k)
    u = np.concatenate([a, a, a + 1, a + 2])
    v = np.concatenate([a + 1, a + 2, a + 3, a + 3])
    n = 3 * k + 1
    indptr, nbr = adjacency(n, u, v)
    every = np.zeros(n)
    _dependencies(indptr, nbr, np.arange(n), every)
    joints = a[1:]
    np.testing.assert_allclose(every[joints], joints * (n - 1.0 - joints) + 1.0, rtol=1e-9)
    assert np.isfinite(every).all()


def test_betweenness_is_reproducible_and_changes_with_the_seed() -> None:
    _, reference = weighted_graph(4)
    first = approximate_betweenness(300, *edges(reference), samples=16, seed=7)
    np.testing.assert_array_equal(approximate_betweenness(300, *edges(reference), samples=16,
                                                          seed=7), first)  # fmt: skip
    assert not np.array_equal(
        approximate_betweenness(300, *edges(reference), samples=16, seed=8), first
    )


def test_the_bridge_between_two_groups_has_the_top_betweenness() -> None:
    reference = nx.barbell_graph(10, 1)  # two cliques joined through 9 - 10 - 11
    scores = approximate_betweenness(reference.number_of_nodes(), *edges(reference), samples=40)
    assert set(np.argsort(-scores)[:3].tolist()) == {9, 10, 11}
    assert scores[[9, 10, 11]].min() > 0.4 and np.delete(scores, [9, 10, 11]).max() == 0.0


@pytest.mark.parametrize("workers", [1, 2])
def test_measures_leave_the_thread_count_as_it_was(workers: int) -> None:
    graph, _ = weighted_graph(5)
    before = nk.getMaxNumberOfThreads()
    pagerank(graph, workers=workers)
    assert nk.getMaxNumberOfThreads() == before
