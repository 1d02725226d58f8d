"""One test per region of the Guimerà-Amaral (z, P) plane, and the z and P definitions."""

import networkx as nx
import numpy as np
import pytest

from tiewise.graph.roles import (
    business_role,
    participation_coefficient,
    role,
    within_module_z,
)


@pytest.mark.parametrize(
    ("z", "p", "expected", "business"),
    [
        (0.0, 0.00, 1, "marginal"),
        (2.49, 0.05, 1, "marginal"),
        (1.0, 0.06, 2, "follower"),
        (-1.0, 0.62, 2, "follower"),
        (0.0, 0.63, 3, "bridge"),
        (2.0, 0.80, 3, "bridge"),
        (0.0, 0.81, 4, "bridge"),
        (2.5, 0.00, 5, "hub"),
        (9.0, 0.30, 5, "hub"),
        (2.5, 0.31, 6, "hub"),
        (3.0, 0.75, 6, "hub"),
        (2.5, 0.76, 7, "hub"),
    ],
)
def test_each_region_of_the_role_plane(z: float, p: float, expected: int, business: str) -> None:
    got = role(np.array([z]), np.array([p]))
    assert got.tolist() == [expected]
    assert business_role(got).tolist() == [business]


def reference_z_and_p(graph: nx.Graph, labels: dict[int, int]) -> tuple[dict, dict]:
    """Guimerà & Amaral's definitions, node by node."""
    z, p = {}, {}
    for node in graph:
        same = [m for m in graph if labels[m] == labels[node]]
        k_in = {m: sum(labels[x] == labels[m] for x in graph[m]) for m in same}
        mean, std = np.mean(list(k_in.values())), np.std(list(k_in.values()))
        z[node] = 0.0 if std == 0 else (k_in[node] - mean) / std
        k = graph.degree(node)
        shares = [sum(labels[x] == c for x in graph[node]) / k for c in set(labels.values())]
        p[node] = 1 - sum(s * s for s in shares) if k else 0.0
    return z, p


def test_z_and_p_match_the_definitions_on_the_karate_club() -> None:
    graph = nx.karate_club_graph()
    labels = {n: 1 + (graph.nodes[n]["club"] == "Officer") for n in graph}
    u, v = np.array(list(graph.edges())).T
    lab = np.array([labels[n] for n in range(34)])
    z_ref, p_ref = reference_z_and_p(graph, labels)
    np.testing.assert_allclose(within_module_z(u, v, lab), [z_ref[n] for n in range(34)])
    np.testing.assert_allclose(participation_coefficient(u, v, lab), [p_ref[n] for n in range(34)])
