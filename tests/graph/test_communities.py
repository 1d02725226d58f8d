import networkit as nk
import networkx as nx
import numpy as np
import pytest

from tiewise.graph.communities import leiden
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
