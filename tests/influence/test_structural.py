"""Structural spreading scores: against networkx references and the generator's influence trait."""

from __future__ import annotations

from pathlib import Path

import networkit as nk
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tiewise.graph.centrality import core_number, pagerank
from tiewise.influence.structural import collective_influence, leaderrank
from tiewise.synth import TelcoParams, generate_telco


def _edges(graph: nx.Graph) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(graph.edges(), dtype=np.int64)
    return e[:, 0], e[:, 1]


def test_collective_influence_matches_its_definition() -> None:
    graph = nx.barabasi_albert_graph(300, 3, seed=4)
    u, v = _edges(graph)
    ci = collective_influence(300, u, v, radius=2)
    for i in range(0, 300, 7):
        ring = [j for j, d in nx.single_source_shortest_path_length(graph, i, 2).items() if d == 2]
        want = (graph.degree(i) - 1) * sum(graph.degree(j) - 1 for j in ring)
        assert ci[i] == want


def test_leaderrank_matches_a_dense_power_iteration() -> None:
    graph = nx.connected_watts_strogatz_graph(80, 4, 0.2, seed=1)
    u, v = _edges(graph)
    n = 80
    adj = nx.to_numpy_array(graph, nodelist=range(n))
    full = np.ones((n + 1, n + 1))
    full[:n, :n] = adj
    full[n, n] = 0.0
    walk = (full / full.sum(axis=1, keepdims=True)).T
    s = np.r_[np.ones(n), 0.0]
    for _ in range(5000):
        s = walk @ s
    want = s[:n] + s[n] / n
    np.testing.assert_allclose(leaderrank(n, u, v), want, rtol=1e-6)
    assert abs(leaderrank(n, u, v).sum() - n) < 1e-6  # the walk keeps its n units


def test_leaderrank_ranks_the_generators_spreaders_at_least_as_well_as_the_others(
    tmp_path: Path,
) -> None:
    """The comparison behind ``[influence] structural = "leaderrank"`` (README figures)."""
    rows = []
    for seed in range(3):
        generate_telco(TelcoParams(customers=4_000, days=30, seed=seed), tmp_path / str(seed))
        nodes = pd.read_parquet(tmp_path / str(seed) / "truth" / "nodes.parquet")
        edges = pd.read_parquet(tmp_path / str(seed) / "truth" / "edges.parquet")
        index = pd.Index(nodes["id"])
        u, v = index.get_indexer(edges["a"]), index.get_indexer(edges["b"])
        n = len(nodes)
        g = nk.Graph(n)
        g.addEdges((u.astype(np.uint64), v.astype(np.uint64)))
        scores = {
            "contacts": (np.bincount(u, minlength=n) + np.bincount(v, minlength=n)).astype(float),
            "k_shell": core_number(g).astype(float),
            "collective_influence": collective_influence(n, u, v),
            "pagerank": pagerank(g),
            "leaderrank": leaderrank(n, u, v),
        }
        on = nodes["on_network"].to_numpy()
        trait = nodes["influence"].to_numpy()[on]
        for name, s in scores.items():
            rows.append((name, spearmanr(s[on], trait).statistic))
    table = pd.DataFrame(rows, columns=["method", "spearman"]).groupby("method").mean()
    print(table.round(3))
    rho = table["spearman"]
    assert rho["leaderrank"] >= rho.max() - 0.01
    assert rho["leaderrank"] > rho["k_shell"] and rho["leaderrank"] > rho["collective_influence"]


@pytest.mark.parametrize("radius", [1, 3])
def test_collective_influence_radius(radius: int) -> None:
    graph = nx.path_graph(7)
    u, v = _edges(graph)
    ci = collective_influence(7, u, v, radius=radius)
    i = 3
    ring = [
        j for j, d in nx.single_source_shortest_path_length(graph, i, radius).items() if d == radius
    ]
    assert ci[i] == (graph.degree(i) - 1) * sum(graph.degree(j) - 1 for j in ring)
