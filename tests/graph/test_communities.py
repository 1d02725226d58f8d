import itertools
from functools import partial

import networkit as nk
import networkx as nx
import numpy as np
import pytest

from tiewise.graph.communities import (
    SPLIT_PARTS,
    _split_inside,
    leiden,
    leiden_levels,
    modularity,
)
from tiewise.graph.network import graph_from_edges, seeded_apart
from tiewise.graph.quality import nmi

KARATE_OPTIMUM = 0.4198  # the proven maximum modularity of Zachary's karate club


def karate() -> nk.Graph:
    graph = nk.Graph(34, weighted=True)
    for a, b in nx.karate_club_graph().edges():
        graph.addEdge(a, b, 1.0)
    return graph


def lfr(mu: float, seed: int = 1) -> tuple[nk.Graph, np.ndarray]:
    nk.setSeed(seed, False)
    gen = nk.generators.LFRGenerator(2000)
    gen.generatePowerlawDegreeSequence(15, 60, -2.0)
    gen.generatePowerlawCommunitySizeSequence(30, 200, -1.0)
    gen.setMu(mu)
    gen.run()
    graph = gen.getGraph()
    weighted = nk.graphtools.toWeighted(graph)
    return weighted, np.asarray(gen.getPartition().getVector())


def components_of(graph: nk.Graph, members: np.ndarray) -> int:
    sub = nk.graphtools.subgraphFromNodes(graph, members.tolist())
    cc = nk.components.ConnectedComponents(sub)
    cc.run()
    return int(cc.numberOfComponents())


@pytest.mark.parametrize("seed", range(5))
def test_karate_club_modularity_reaches_the_known_optimum(seed: int) -> None:
    found = leiden(karate(), seed=seed, iterations=10)
    assert found.modularity_ == pytest.approx(KARATE_OPTIMUM, rel=0.005)


def test_same_seed_same_partition_and_ids_ordered_by_size() -> None:
    graph, _ = lfr(0.3)
    first = leiden(graph, seed=7)
    again = leiden(graph, seed=7)
    np.testing.assert_array_equal(first.labels_, again.labels_)
    assert np.all(np.diff(first.sizes) <= 0)  # community 1 is the largest
    assert first.labels_.min() == 1


def test_every_community_is_connected() -> None:
    graph, _ = lfr(0.4)
    labels = leiden(graph, seed=3).labels_
    for community in np.unique(labels):
        members = np.flatnonzero(labels == community)
        assert components_of(graph, members) == 1, f"community {community} is disconnected"


@pytest.mark.parametrize("mu", [0.1, 0.3])
def test_recovers_planted_lfr_communities(mu: float) -> None:
    graph, truth = lfr(mu)
    labels = leiden(graph, seed=0).labels_
    assert nmi(labels, truth) >= 0.9


def edge_list(graph: nk.Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = np.asarray(list(graph.iterEdgesWeights()))
    return edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64), edges[:, 2]


def resolution_modularity(labels: np.ndarray, u: np.ndarray, v: np.ndarray, w: np.ndarray,
                          gamma: float) -> float:  # fmt: skip
    _, dense = np.unique(labels, return_inverse=True)
    same = dense[u] == dense[v]
    inside = np.bincount(dense[u][same], w[same], minlength=dense.max() + 1)
    volume = np.bincount(dense[u], w, minlength=len(inside)) + np.bincount(
        dense[v], w, minlength=len(inside)
    )
    return float(inside.sum() / w.sum() - gamma * ((volume / (2 * w.sum())) ** 2).sum())


@pytest.mark.parametrize("seed", range(3))
def test_a_finer_level_in_parts_finds_what_one_run_on_all_of_them_finds(seed: int) -> None:
    # the parts' resolutions are scaled by their share of the weight: unscaled, each part
    # would split finer than one run on the whole network without the links between
    # communities (25-27 communities here, against 23-24)
    graph, _ = lfr(0.5)
    u, v, w = edge_list(graph)
    labels = leiden(graph, resolution=0.6, seed=0).labels_
    assert labels.max() >= SPLIT_PARTS  # every part gets communities
    inside = labels[u] == labels[v]
    cut = graph_from_edges(graph.numberOfNodes(), u[inside], v[inside], w[inside])
    one = leiden(cut, resolution=2.0, seed=seed).labels_
    parts = _split_inside(labels, u, v, w, 2.0, iterations=3, seed=seed, threads=1)
    again = _split_inside(labels, u, v, w, 2.0, iterations=3, seed=seed, threads=1)
    np.testing.assert_array_equal(parts, again)
    assert abs(int(parts.max()) - int(one.max())) <= 1
    got, want = (resolution_modularity(x, u[inside], v[inside], w[inside], 2.0)
                 for x in (parts, one))  # fmt: skip
    assert got == pytest.approx(want, abs=0.005)
    # nested: each finer community inside one community
    assert all(len(set(labels[parts == c])) == 1 for c in np.unique(parts))


def test_levels_nest_and_each_recovers_the_planted_communities() -> None:
    graph, truth = lfr(0.3)
    u, v, w = edge_list(graph)
    main, coarse, fine = leiden_levels(graph, u, v, w, [2.0, 1.0, 4.0], seed=0)
    for finer, coarser in ((fine, main), (main, coarse)):
        for community in np.unique(finer.labels_):
            assert len(np.unique(coarser.labels_[finer.labels_ == community])) == 1
    for level in (main, coarse, fine):
        assert nmi(level.labels_, truth) >= 0.9
        assert level.labels_.min() == 1 and np.all(np.diff(level.sizes) <= 0)
        assert level.modularity_ == pytest.approx(
            nk.community.Modularity().getQuality(partition_of(level.labels_), graph)
        )
    assert coarse.sizes.size <= main.sizes.size <= fine.sizes.size


def partition_of(labels: np.ndarray) -> nk.Partition:
    partition = nk.Partition(len(labels))
    partition.allToSingletons()
    for node, label in enumerate(labels.tolist()):
        partition.moveToSubset(label, node)
    return partition


def test_coarser_levels_are_connected_too() -> None:
    graph, _ = lfr(0.4)
    u, v, w = edge_list(graph)
    _, coarse = leiden_levels(graph, u, v, w, [2.0, 0.5], seed=2)
    for community in np.unique(coarse.labels_):
        assert components_of(graph, np.flatnonzero(coarse.labels_ == community)) == 1


def test_modularity_matches_networkit() -> None:
    graph, truth = lfr(0.3)
    u, v, w = edge_list(graph)
    expected = nk.community.Modularity().getQuality(partition_of(truth + 1), graph)
    assert modularity(truth, u, v, w) == pytest.approx(expected)


def test_leiden_leaves_the_thread_count_as_it_was() -> None:
    before = nk.getMaxNumberOfThreads()
    leiden(karate(), seed=0, threads=1)
    assert nk.getMaxNumberOfThreads() == before


def test_graphs_are_built_the_same_way_every_time() -> None:
    from tiewise.graph.network import graph_from_edges

    graph, _ = lfr(0.3)
    u, v, w = edge_list(graph)
    nk.setNumberOfThreads(2)
    first = graph_from_edges(graph.numberOfNodes(), u, v, w)
    again = graph_from_edges(graph.numberOfNodes(), u, v, w)
    for node in range(0, graph.numberOfNodes(), 7):
        assert list(first.iterNeighbors(node)) == list(again.iterNeighbors(node))
    assert first.totalEdgeWeight() == pytest.approx(graph.totalEdgeWeight())


def test_main_level_is_the_same_whatever_other_levels_are_asked_for() -> None:
    graph, truth = lfr(0.4)
    u, v, w = edge_list(graph)
    alone = leiden_levels(graph, u, v, w, [2.0], seed=0)[0]
    for others in ([4.0], [1.0, 4.0], [0.5, 1.0, 4.0, 8.0, 16.0, 32.0]):
        levels = leiden_levels(graph, u, v, w, [2.0, *others], seed=0, compare=False)
        np.testing.assert_array_equal(levels[0].labels_, alone.labels_)
        ordered = sorted(levels, key=lambda level: level.sizes.size)  # coarsest first
        for coarser, finer in itertools.pairwise(ordered):
            for community in np.unique(finer.labels_):
                assert len(np.unique(coarser.labels_[finer.labels_ == community])) == 1
    assert nmi(alone.labels_, truth) >= 0.9


def test_each_level_says_how_it_was_built_and_what_nesting_trades() -> None:
    graph, _ = lfr(0.4, seed=4)
    u, v, w = edge_list(graph)
    main, coarse, fine = leiden_levels(graph, u, v, w, [2.0, 1.0, 4.0], seed=0)
    assert main.built == "direct" and main.direct_modularity_ is None
    assert coarse.built == "groups of the communities at resolution 2"
    assert fine.built == "splits of the communities at resolution 2"
    for level, resolution in ((coarse, 1.0), (fine, 4.0)):
        direct = leiden(graph, resolution=resolution, seed=0)
        assert level.direct_modularity_ == pytest.approx(direct.modularity_)
        assert level.direct_communities_ == direct.sizes.size
        # nesting trades little: within 3% of a direct run's modularity
        assert level.modularity_ >= 0.97 * direct.modularity_


def test_levels_seeded_by_the_caller_are_the_seeded_levels_with_other_work_beside() -> None:
    """The graph stage's way: NetworKit seeded once, other NetworKit work on a thread of its own
    while the levels run (here a Leiden run that draws from the same seed); each finds what it
    finds alone from the same seed."""
    graph, _ = lfr(0.5)
    u, v, w = edge_list(graph)
    resolutions = [2.0, 1.0, 4.0]
    alone = leiden_levels(graph, u, v, w, resolutions, seed=3)
    other = leiden(graph, resolution=1.0, seed=3)
    beside = seeded_apart([partial(leiden, graph, resolution=1.0, seed=None)], seed=3, workers=1)
    levels = leiden_levels(graph, u, v, w, resolutions, seed=None)
    np.testing.assert_array_equal(next(beside).labels_, other.labels_)
    for one, other in zip(alone, levels, strict=True):
        np.testing.assert_array_equal(one.labels_, other.labels_)
        assert (one.modularity_, one.direct_modularity_) == (
            other.modularity_,
            other.direct_modularity_,
        )
    # the seed decides every run here (the direct ones too), so a run not started from it
    # would show
    again = leiden_levels(graph, u, v, w, resolutions, seed=4)
    pairs = zip(alone[1:], again[1:], strict=True)
    assert all(a.direct_modularity_ != b.direct_modularity_ for a, b in pairs)
    assert (leiden(graph, resolution=1.0, seed=4).labels_ != other.labels_).any()
