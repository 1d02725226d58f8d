"""The graph stage's measures on a user's own network, checked against NetworkX's."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from tiewise.exceptions import InputError
from tiewise.graph.adapters import (
    centrality,
    communities,
    network_from_edges,
    network_from_networkx,
)


@pytest.fixture(scope="module")
def karate() -> nx.Graph:
    return nx.relabel_nodes(nx.karate_club_graph(), lambda i: f"m{i:02d}")


def test_centrality_matches_networkx_on_the_karate_club(karate: nx.Graph) -> None:
    table = centrality(network_from_networkx(karate)).set_index("customer_id")
    nodes = sorted(karate.nodes)
    assert table.index.tolist() == nodes
    assert table["degree"].tolist() == [karate.degree(n) for n in nodes]
    weighted = dict(karate.degree(weight="weight"))
    np.testing.assert_allclose(table["weighted_degree"], [weighted[n] for n in nodes])
    reference = nx.pagerank(karate, alpha=0.85, weight="weight", tol=1e-12)
    np.testing.assert_allclose(table["pagerank"], [reference[n] for n in nodes], atol=1e-6)
    core = nx.core_number(karate)
    assert table["core"].tolist() == [core[n] for n in nodes]
    clustering = nx.clustering(karate)
    np.testing.assert_allclose(table["clustering"], [clustering[n] for n in nodes])


def test_communities_are_seeded_and_their_modularity_is_networkxs(karate: nx.Graph) -> None:
    net = network_from_networkx(karate)
    found = communities(net, seed=3)
    assert found.equals(communities(net, seed=3))
    groups = [set(part["customer_id"]) for _, part in found.groupby("community")]
    reference = nx.community.modularity(karate, groups, weight="weight")
    assert found.attrs["modularity"] == pytest.approx(reference, abs=1e-9)
    # the two factions of Zachary's club are mostly kept apart: few communities mix them
    club = nx.get_node_attributes(karate, "club")
    mixed = found.assign(club=found["customer_id"].map(club)).groupby("community")["club"]
    assert (mixed.nunique() == 1).mean() >= 0.5
    assert found["community"].value_counts().is_monotonic_decreasing  # 1 = largest


def test_an_interaction_log_adds_up_both_directions_and_drops_self_calls() -> None:
    log = pd.DataFrame(
        {
            "caller": ["x", "y", "x", "x", "z"],
            "callee": ["y", "x", "x", "z", "x"],
            "minutes": [2.0, 3.0, 9.0, 0.5, 0.0],
        }
    )
    net = network_from_edges(log, source="caller", target="callee", weight="minutes", nodes=["w"])
    assert net.ids.tolist() == ["w", "x", "y", "z"]
    assert list(zip(net.u.tolist(), net.v.tolist(), net.weight.tolist(), strict=True)) == [
        (1, 2, 5.0),
        (1, 3, 0.5),
    ]
    counted = network_from_edges(log, source="caller", target="callee")
    assert counted.weight.tolist() == [2.0, 2.0]  # rows, not minutes: x-y twice, x-z twice
    assert centrality(net).set_index("customer_id").loc["w", "degree"] == 0


def test_a_directed_multigraph_is_read_as_undirected_with_summed_weights() -> None:
    g = nx.MultiDiGraph()
    g.add_edge(1, 2, weight=1.5)
    g.add_edge(2, 1, weight=2.0)
    g.add_edge(1, 2)  # no weight: 1
    g.add_node(7)
    net = network_from_networkx(g)
    assert net.ids.tolist() == ["1", "2", "7"]
    assert net.weight.tolist() == [4.5]
    assert network_from_networkx(g, weight=None).weight.tolist() == [3.0]


@pytest.mark.parametrize(
    ("frame", "options", "message"),
    [
        (pd.DataFrame({"a": ["x"], "c": ["y"]}), {}, "no column 'b'"),
        (pd.DataFrame({"a": ["x", None], "b": ["y", "z"]}), {}, "row 1: an end"),
        (pd.DataFrame({"a": ["x"], "b": ["y"], "w": [-1.0]}), {"weight": "w"}, "row 0, column 'w'"),
        (pd.DataFrame({"a": ["x"], "b": ["y"], "w": ["lots"]}), {"weight": "w"}, "'lots'"),
    ],
)
def test_a_bad_edge_list_says_where(
    frame: pd.DataFrame, options: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        network_from_edges(frame, **options)
