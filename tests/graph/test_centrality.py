"""Centralities against networkx's reference implementations, and their reproducibility."""

import networkit as nk
import networkx as nx
import numpy as np
import pytest

from tiewise.graph.centrality import (
    approximate_betweenness,
    core_number,
    eigenvector,
    local_clustering,
    pagerank,
)


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


def test_betweenness_estimate_tracks_the_exact_values() -> None:
    graph, reference = weighted_graph(3)
    hops = nk.graphtools.toUnweighted(graph)
    exact = as_array(nx.betweenness_centrality(reference, normalized=True))
    estimate = approximate_betweenness(hops, samples=300, seed=1)
    assert np.corrcoef(exact, estimate)[0, 1] > 0.9


def test_betweenness_is_reproducible_on_any_number_of_workers_and_changes_with_the_seed() -> None:
    graph, _ = weighted_graph(4)
    hops = nk.graphtools.toUnweighted(graph)
    first = approximate_betweenness(hops, samples=16, seed=7, workers=2)
    for _ in range(3):
        again = approximate_betweenness(hops, samples=16, seed=7, workers=2)
        np.testing.assert_array_equal(again, first)
    one = approximate_betweenness(hops, samples=16, seed=7, workers=1)
    np.testing.assert_allclose(one, first, rtol=1e-12)  # same sources, sums in another order
    assert not np.array_equal(approximate_betweenness(hops, samples=16, seed=8), first)


def test_the_bridge_between_two_groups_has_the_top_betweenness() -> None:
    reference = nx.barbell_graph(10, 1)  # two cliques joined through node 10
    graph = nk.Graph(reference.number_of_nodes())
    for a, b in reference.edges():
        graph.addEdge(a, b)
    scores = approximate_betweenness(graph, samples=40, seed=0)
    assert int(np.argmax(scores)) == 10


@pytest.mark.parametrize("workers", [1, 2])
def test_measures_leave_the_thread_count_as_it_was(workers: int) -> None:
    graph, _ = weighted_graph(5)
    before = nk.getMaxNumberOfThreads()
    pagerank(graph, workers=workers)
    approximate_betweenness(graph, samples=4, workers=workers)
    assert nk.getMaxNumberOfThreads() == before
