"""Community quality on benchmark graphs with planted communities (LFR), at the defaults."""

import networkit as nk
import numpy as np
import pytest

from tiewise.config import load_config
from tiewise.graph.communities import leiden, leiden_cpm
from tiewise.graph.quality import nmi


def lfr(mu: float, n: int = 5000, seed: int = 7) -> tuple[nk.Graph, np.ndarray, float]:
    """An LFR graph (degrees 20..50, communities 20..100) and its *realised* mixing."""
    nk.setSeed(seed, False)
    gen = nk.generators.LFRGenerator(n)
    gen.generatePowerlawDegreeSequence(20, 50, -2.0)
    gen.generatePowerlawCommunitySizeSequence(20, 100, -1.0)
    gen.setMu(mu)
    gen.run()
    graph = nk.graphtools.toWeighted(gen.getGraph())
    truth = np.asarray(gen.getPartition().getVector())
    u, v = np.array(list(graph.iterEdges())).T
    return graph, truth, float((truth[u] != truth[v]).mean())


@pytest.mark.parametrize("mu", [0.1, 0.2, 0.3, 0.4, 0.48])
def test_lfr_nmi_at_least_095_up_to_realised_mixing_half(mu: float) -> None:
    graph, truth, realised = lfr(mu)
    assert realised <= 0.5 + 0.01
    defaults = load_config(None).graph
    found = leiden(graph, resolution=defaults.resolution, iterations=defaults.leiden_iterations)
    assert nmi(found.labels_, truth) >= 0.95, f"realised mixing {realised:.3f}"


def test_cpm_recovers_lfr_communities_too() -> None:
    graph, truth, _ = lfr(0.3)
    u, v = np.array(list(graph.iterEdges())).T
    found = leiden_cpm(graph.numberOfNodes(), u, v, np.ones(len(u)), resolution=0.05)
    assert nmi(found.labels_, truth) >= 0.95
