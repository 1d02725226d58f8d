"""The Network's degrees and its NetworKit graph against NetworkX; the stored adjacency."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from tiewise.graph.network import Network, graph_from_edges, seeded_apart
from tiewise.graph.stage import _write_adjacency
from tiewise.store import Workspace


def test_degrees_per_channel_and_the_graph_match_networkx() -> None:
    rng = np.random.default_rng(7)
    g = nx.gnm_random_graph(60, 200, seed=7)
    edges = sorted((min(a, b), max(a, b)) for a, b in g.edges)
    u, v = (np.array(side, dtype=np.int64) for side in zip(*edges, strict=True))
    weight = rng.uniform(0.1, 3.0, len(u))
    voice = rng.random(len(u)) < 0.5
    for (a, b), w, on in zip(edges, weight, voice, strict=True):
        g[a][b].update(weight=w, voice=bool(on))
    net = Network(
        ids=np.array([f"n{i}" for i in range(60)], dtype=object),
        on_network=np.ones(60, dtype=bool),
        u=u,
        v=v,
        weight=weight,
        channels={"voice": voice},
    )
    assert net.degree().tolist() == [g.degree(i) for i in range(60)]
    np.testing.assert_allclose(
        net.weighted_degree(), [g.degree(i, weight="weight") for i in range(60)]
    )
    voice_only = g.edge_subgraph([e for e in g.edges if g.edges[e]["voice"]])
    assert net.contacts_by("voice").tolist() == [
        voice_only.degree(i) if i in voice_only else 0 for i in range(60)
    ]
    graph = net.graph
    assert graph.numberOfNodes() == 60 and graph.numberOfEdges() == 200
    assert np.isclose(graph.totalEdgeWeight(), weight.sum())


def test_an_edge_given_either_way_round_is_the_same_edge() -> None:
    g = graph_from_edges(3, np.array([1, 2]), np.array([0, 1]), np.array([2.0, 5.0]))
    assert (g.weight(0, 1), g.weight(1, 2), g.numberOfEdges()) == (2.0, 5.0, 2)


def test_the_adjacency_is_stored_in_node_order(tmp_path: Path) -> None:
    """Many row groups written on several threads still land sorted (the explorer's lookups)."""
    rng = np.random.default_rng(3)
    n, m = 200_000, 600_000
    u = rng.integers(0, n - 1, m)
    v = u + rng.integers(1, n - u)
    net = Network(
        ids=np.array([f"p{i:07d}" for i in range(n)], dtype=object),
        on_network=np.ones(n, dtype=bool),
        u=u,
        v=v,
        weight=np.log1p(rng.uniform(0.1, 9.0, m)),
        channels={},
    )
    with Workspace.open(tmp_path / "ws", create=True, threads=4) as ws, ws.run(command="t") as run:
        _write_adjacency(run, net, log_weight=True)
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        stored = ws.con.execute("SELECT node, contact FROM network_adjacency ORDER BY rowid").df()
        ids = ws.con.execute("SELECT node FROM network_nodes ORDER BY rowid").df()["node"]
    assert len(stored) == 2 * m and stored["node"].is_monotonic_increasing
    assert ids.tolist() == list(range(n))
    assert (
        sorted(zip(stored["node"], stored["contact"], strict=True))[:5]
        == sorted([*zip(u, v, strict=True), *zip(v, u, strict=True)])[:5]
    )


def test_each_edge_brings_its_records_either_way_when_asked(tmp_path: Path) -> None:
    """``load_network(directed=True)``: records a->b and b->a of each edge, on the edge's row."""
    import pandas as pd

    from tiewise.graph.network import load_network

    rng = np.random.default_rng(11)
    ids = [f"c{i:03d}" for i in range(40)]
    pairs = sorted({tuple(sorted(rng.choice(40, 2, replace=False))) for _ in range(120)})
    links = pd.DataFrame(
        {
            "a": [ids[x] for x, _ in pairs],
            "b": [ids[y] for _, y in pairs],
            "strength": rng.uniform(0.5, 3.0, len(pairs)),
            "n_voice": 1,
            "n_sms": 0,
            "n_other": 0,
            "n_ab": rng.integers(0, 9, len(pairs)),
            "n_ba": rng.integers(0, 9, len(pairs)),
        }
    ).sample(frac=1.0, random_state=2)  # stored in no particular order
    nodes = pd.DataFrame({"customer_id": ids[::-1], "on_network": True, "is_service": False})
    with Workspace.open(tmp_path / "ws", create=True) as ws, ws.run(command="t") as run:
        for name, frame in (("links", links), ("nodes", nodes)):
            run.write_table(name, frame, stage="links", description="", check=False)
        net = load_network(run, directed=True)
        plain = load_network(run)
    assert plain.records is None and net.records is not None
    truth = {(r.a, r.b): (r.n_ab, r.n_ba) for r in links.itertuples()}
    ab, ba = net.records
    got = {
        (net.ids[x], net.ids[y]): (int(p), int(q))
        for x, y, p, q in zip(net.u, net.v, ab, ba, strict=True)
    }
    assert got == truth


def test_tasks_apart_return_in_order_and_raise_the_first_error() -> None:
    def task(i: int) -> Callable[[], int]:
        def run() -> int:
            if i in (3, 5):
                raise ValueError(f"task {i}")
            return i * i

        return run

    assert list(seeded_apart([task(i) for i in (0, 1, 2, 4)], seed=1, workers=2)) == [0, 1, 4, 16]
    results = seeded_apart([task(i) for i in range(7)], seed=1, workers=3)
    assert [next(results) for _ in range(3)] == [0, 1, 4]  # those before the error
    with pytest.raises(ValueError, match="task 3"):
        next(results)


def test_tasks_apart_stop_starting_once_the_results_are_dropped() -> None:
    started: list[int] = []
    gate = threading.Event()

    def task(i: int) -> Callable[[], int]:
        def run() -> int:
            started.append(i)
            if i == 1:
                gate.wait(10)
            return i

        return run

    results = seeded_apart([task(i) for i in range(5)], seed=1, workers=1)
    assert next(results) == 0
    results.close()  # as when the caller fails: the generator is closed
    gate.set()
    time.sleep(0.2)
    assert started in ([0], [0, 1])
