"""The shuffle test: brute-force checks; false positives on homophily without influence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tiewise.config import InfluenceConfig
from tiewise.influence.timing import linked_pairs, shuffle_test
from tiewise.synth import TelcoParams, generate_telco


def _random_log(seed: int, n: int = 120, items: int = 4):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, 600)
    v = rng.integers(0, n, 600)
    keep = u < v
    pairs = np.unique(np.c_[u[keep], v[keep]], axis=0)
    rows = [(x, i) for i in range(items) for x in rng.choice(n, 40, replace=False)]
    frame = pd.DataFrame(rows, columns=["node", "item"])
    frame["t"] = rng.uniform(0, 60, len(frame))
    frame = frame.sort_values(["item", "t"]).reset_index(drop=True)
    return pairs[:, 0], pairs[:, 1], frame


def test_linked_pairs_and_follows_match_brute_force() -> None:
    u, v, log = _random_log(1)
    a, b, link = linked_pairs(120, u, v, log["node"].to_numpy(), log["item"].to_numpy())
    links = {(int(x), int(y)) for x, y in zip(u, v, strict=True)}
    want = {
        (i, j)
        for i in range(len(log))
        for j in range(i + 1, len(log))
        if log["item"][i] == log["item"][j]
        and (min(log["node"][i], log["node"][j]), max(log["node"][i], log["node"][j])) in links
    }
    assert {tuple(sorted((int(x), int(y)))) for x, y in zip(a, b, strict=True)} == want
    node = log["node"].to_numpy()
    # each pair's link joins the pair's two customers
    np.testing.assert_array_equal(
        np.sort(np.column_stack([u[link], v[link]]), axis=1),
        np.sort(np.column_stack([node[a], node[b]]), axis=1),
    )
    r = shuffle_test(
        log["item"].to_numpy(), log["t"].to_numpy(), a, b, window=7.0, group=node,
        unit=log["item"].to_numpy(), shuffles=99, seed=0,
    )  # fmt: skip
    followers = np.zeros(node.max() + 1)
    for i, j in want:
        d = log["t"][j] - log["t"][i]
        if 0 < abs(d) <= 7.0:
            followers[node[i] if d > 0 else node[j]] += 1
    np.testing.assert_array_equal(r.group_observed, followers[: len(r.group_observed)])
    assert r.observed.sum() == followers.sum()
    assert ((r.p_value > 0) & (r.p_value <= 1)).all()


def test_followers_that_always_come_soon_after_are_significant() -> None:
    # every adopter of every item is followed by a contact within a day: a chain in time
    n, items = 60, 5
    u, v = np.arange(n - 1), np.arange(1, n)
    rows = pd.DataFrame(
        [(x, i, 30.0 * i / items + 0.5 * x) for i in range(items) for x in range(n)],
        columns=["node", "item", "t"],
    ).sort_values(["item", "t"])
    a, b, _ = linked_pairs(n, u, v, rows["node"].to_numpy(), rows["item"].to_numpy())
    r = shuffle_test(
        rows["item"].to_numpy(), rows["t"].to_numpy(), a, b, window=1.0,
        group=rows["node"].to_numpy(), unit=np.zeros(len(rows), np.int64), shuffles=199, seed=3,
    )  # fmt: skip
    assert r.p_value[0] == 1 / 200
    assert r.observed[0] > 3 * r.expected[0]


def _population_p_values(folder: Path, seed: int) -> dict[str, float]:
    edges = pd.read_parquet(folder / "truth" / "edges.parquet")
    log = pd.read_parquet(folder / "adoptions.parquet")
    ids = pd.Index(pd.unique(pd.concat([edges["a"], edges["b"], log["customer_id"]])))
    log = log.assign(
        node=ids.get_indexer(log["customer_id"]),
        t=(log["timestamp"] - log["timestamp"].min()).dt.total_seconds() / 86400.0,
    ).sort_values(["item", "t", "node"])
    item = pd.Index(sorted(log["item"].unique())).get_indexer(log["item"])
    cats = sorted(log["category"].unique())
    unit = pd.Index(cats).get_indexer(log["category"])
    a, b, _ = linked_pairs(
        len(ids), ids.get_indexer(edges["a"]), ids.get_indexer(edges["b"]),
        log["node"].to_numpy(), item,
    )  # fmt: skip
    r = shuffle_test(
        item, log["t"].to_numpy(), a, b, window=14.0, group=np.zeros(len(log), np.int64),
        unit=unit, shuffles=199, seed=seed,
    )  # fmt: skip
    return dict(zip(cats, r.p_value.tolist(), strict=True))


def test_homophily_without_influence_is_rarely_called_influence(tmp_path: Path) -> None:
    """Bar: at most 5% false positives at p < 0.05 over 40 generated worlds x 3 categories."""
    p = []
    for seed in range(40):
        folder = tmp_path / str(seed)
        generate_telco(TelcoParams(customers=2_000, days=90, seed=seed, influence=0.0), folder)
        p.extend(_population_p_values(folder, seed).values())
    level = InfluenceConfig().significance
    share = float(np.mean(np.asarray(p) < level))
    print(f"false positives at the default p < {level}: {share:.3f} of {len(p)} tests; at "
          f"p < 0.05: {np.mean(np.asarray(p) < 0.05):.3f}")  # fmt: skip
    assert share <= 0.05
    assert np.mean(np.asarray(p) < 0.05) <= 0.075  # a valid test: about its level at 0.05 too
    assert 0.3 < float(np.mean(p)) < 0.7  # p-values spread over (0, 1], not piled at 1


def test_influence_is_detected(tmp_path: Path) -> None:
    for seed in range(5):
        folder = tmp_path / str(seed)
        generate_telco(TelcoParams(customers=2_000, days=90, seed=seed, influence=1.0), folder)
        p = _population_p_values(folder, seed)
        assert max(p.values()) < InfluenceConfig().significance, (seed, p)
