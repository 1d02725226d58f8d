"""Communities and leaders at a cut-off come from the weeks before it only (no leakage)."""

import datetime
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tiewise.churn import communities
from tiewise.churn.communities import communities_at, communities_at_cuts
from tiewise.churn.data import ChurnData, load_churn_data, transaction_days
from tiewise.churn.features import tie_weeks, weeks_before
from tiewise.churn.stage import Windows, _cut
from tiewise.config import GraphConfig, load_config
from tiewise.graph.centrality import community_leaders, pagerank
from tiewise.graph.network import graph_from_edges
from tiewise.pipeline import RunResult
from tiewise.store import RunContext, Workspace

GRAPH = GraphConfig(resolution=1.0, leaders_per_community=1)
CUT = -28.0  # weeks 0..5 are complete before it, weeks 6..9 after


def bits(*weeks: int) -> int:
    return sum(1 << w for w in weeks)


def two_groups() -> ChurnData:
    """Two cliques of four over 10 weeks, joined by one weak tie 3 - 4.

    Customer 0 calls 1, 2, 3 every week (the leader of {0, 1, 2, 3}); inside {1, 2, 3} and
    {4, 5, 6, 7} the ties are active in every other week, and 4 leads {4..7} with weekly calls.
    """
    every, half = bits(*range(10)), bits(0, 2, 4, 6, 8)
    pairs = [(0, 1, every), (0, 2, every), (0, 3, every), (1, 2, half), (1, 3, half)]
    pairs += [(2, 3, half), (4, 5, every), (4, 6, every), (4, 7, every), (5, 6, half)]
    pairs += [(5, 7, half), (6, 7, half), (3, 4, bits(1))]
    u, v, w = (np.array(x, dtype=np.int64) for x in zip(*pairs, strict=True))
    n = 8
    return ChurnData(
        ids=np.array([f"c{i}" for i in range(n)], dtype=object),
        is_customer=np.ones(n, dtype=bool),
        churn_day=np.full(n, np.inf),
        u=u,
        v=v,
        week_bits=w,
        week_start=-70.0 + 7.0 * np.arange(10),
        data_start=-70.0,
        as_of=datetime.datetime(2026, 3, 31),
        community=np.full(n, -1, dtype=np.int64),
        is_leader=np.zeros(n, dtype=bool),
        plan=np.zeros(n, dtype=np.int64),
        plan_names=["p"],
        segment=np.zeros(n, dtype=np.int64),
        segment_names=["s"],
        monthly_fee=np.full(n, 10.0),
        signup_day=np.full(n, -400.0),
    )


def after_the_cut(data: ChurnData) -> ChurnData:
    """The same history up to the cut; afterwards 4 churns (goes silent) and 3 stops calling
    0, 1, 2 and calls 5, 6, 7 every week instead.
    """
    before = bits(*range(6))
    silent = (data.u == 4) | (data.v == 4) | (data.v == 3)
    kept = np.where(silent, data.week_bits & before, data.week_bits)
    later = bits(6, 7, 8, 9)
    return replace(
        data,
        u=np.concatenate([data.u, [3, 3, 3]]),
        v=np.concatenate([data.v, [5, 6, 7]]),
        week_bits=np.concatenate([kept, [later, later, later]]),
        churn_day=np.where(np.arange(data.n) == 4, -25.0, data.churn_day),
    )


def test_communities_and_leaders_before_the_cut() -> None:
    data = two_groups()
    at = communities_at(data, CUT, GRAPH, seed=1)
    assert sorted(at.community.tolist()) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert len(set(at.community[:4])) == 1 and len(set(at.community[4:])) == 1
    assert np.flatnonzero(at.is_leader).tolist() == [0, 4]


def test_what_happens_after_the_cut_changes_nothing_at_the_cut() -> None:
    data, later = two_groups(), after_the_cut(two_groups())
    # over the whole window the change is visible: 4 no longer leads, 3 (now calling both
    # sides) does
    whole = communities_at(later, 0.0, GRAPH, seed=1)
    assert whole.is_leader[3] and not whole.is_leader[4]
    # at the cut it is not
    first, second = (communities_at(d, CUT, GRAPH, seed=1) for d in (data, later))
    assert first.community.tolist() == second.community.tolist()
    assert first.is_leader.tolist() == second.is_leader.tolist()


def test_the_leader_rule_is_the_graph_stages(contagious: tuple[Path, RunResult]) -> None:
    """community_leaders on customer_scores' own columns gives its is_leader."""
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        s = ws.table("customer_scores").df().sort_values("customer_id")
    found = community_leaders(
        s["community"].to_numpy(np.int64),
        s["on_network"].to_numpy(bool),
        s["weighted_degree"].to_numpy(np.float64),
        s["pagerank"].to_numpy(np.float64),
        cfg.graph.leaders_per_community,
    )
    assert found.sum() > 20
    np.testing.assert_array_equal(found, s["is_leader"].to_numpy(bool))


def test_stage_features_at_a_cut_ignore_the_future(
    contagious: tuple[Path, RunResult], tmp_path: Path
) -> None:
    """On generated data: the training cut's features do not move when everything after it is
    rewritten — the graph stage's communities and leaders (which see the whole window), the
    contacts after the cut, and the churn after it."""
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    copy = tmp_path / "workspace"
    shutil.copytree(cfg.workspace_path, copy)
    frames = []
    for altered in (False, True):
        with Workspace.open(copy) as ws:
            ctx = RunContext(ws.con, 0)
            if altered:
                data = load_churn_data(ctx)
                cut = -2.0 * cfg.churn.horizon_days
                first_after = int(weeks_before(data, cut)[-1]) + 1
                origin_week = ws.con.execute(
                    "SELECT (as_of::DATE - origin) // 7 FROM link_meta"
                ).fetchall()[0][0] - (len(data.week_start) - 1)
                keep = (1 << (origin_week + first_after)) - 1
                ws.con.execute(f"UPDATE link_state SET week_mask = week_mask & {keep}::HUGEINT")
                ws.con.execute(  # communities and leaders of a different network
                    "UPDATE customer_scores SET community = hash(customer_id) % 7, "
                    "is_leader = hash(customer_id) % 5 = 0"
                )
                ws.con.execute(  # nobody churns after the cut
                    "DELETE FROM churn_events WHERE timestamp > (SELECT as_of FROM link_meta) "
                    f"- INTERVAL {int(-cut)} DAY"
                )
            data = load_churn_data(ctx)
            tx = transaction_days(ctx, data)
            h = float(cfg.churn.horizon_days)
            windows = Windows.at(data, -3 * h, cfg.churn)
            groups = communities_at(data, -2 * h, cfg.graph, seed=cfg.seed)
            _, x, _ = _cut(data, tx, -2 * h, windows, cfg, groups)
            frames.append(x)
    assert (frames[0]["leader_churned"] > 0).any()
    assert (frames[0]["community_churn_rate"] > 0).any()
    pd.testing.assert_frame_equal(frames[0], frames[1])


def _leaders_with_pagerank(data: ChurnData, cut: float, graph: GraphConfig) -> np.ndarray:
    """The leader rule at the cut with PageRank always computed (what communities_at skips)."""
    weeks = tie_weeks(data, weeks_before(data, cut)).astype(np.float64)
    linked = weeks > 0
    u, v, w = data.u[linked], data.v[linked], np.log1p(weeks[linked])
    wdeg = np.bincount(u, w, minlength=data.n) + np.bincount(v, w, minlength=data.n)
    labels = communities_at(data, cut, graph, seed=1).community
    pr = pagerank(graph_from_edges(data.n, u, v, w), damping=graph.pagerank_damping)
    on = data.is_customer & (wdeg > 0)
    return community_leaders(labels, on, wdeg, pr, graph.leaders_per_community)


def test_pagerank_only_when_a_tie_decides_who_leads(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = communities.pagerank

    def counting(*args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(1)
        return real(*args, **kwargs)

    data = two_groups()
    # one leader a community: 0 and 4 have the most weighted degree, nobody ties with them
    monkeypatch.setattr(communities, "pagerank", counting)
    at = communities_at(data, CUT, GRAPH, seed=1)
    assert calls == [] and np.flatnonzero(at.is_leader).tolist() == [0, 4]
    # three a community: the third place ties (1 and 2 in one group, 5 and 6 in the other)
    three = GRAPH.model_copy(update={"leaders_per_community": 3})
    at = communities_at(data, CUT, three, seed=1)
    assert calls == [1]
    np.testing.assert_array_equal(at.is_leader, _leaders_with_pagerank(data, CUT, three))
    assert at.is_leader.sum() == 6


def test_leaders_at_every_cut_as_with_pagerank_always(contagious: tuple[Path, RunResult]) -> None:
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        data = load_churn_data(RunContext(ws.con, 0))
    graph = cfg.graph.model_copy(update={"threads": 1})
    for cut in (-60.0, -30.0, 0.0):
        at = communities_at(data, cut, graph, seed=1)
        assert at.is_leader.sum() > 20
        np.testing.assert_array_equal(at.is_leader, _leaders_with_pagerank(data, cut, graph))


def test_cut_offs_at_once_find_what_they_find_one_after_another(
    contagious: tuple[Path, RunResult],
) -> None:
    """Leiden on two threads, a cut-off each, gives each cut-off its partition of a lone run."""
    root, _ = contagious
    cfg = load_config(root / "tiewise.toml")
    with Workspace.open(cfg.workspace_path, read_only=True) as ws:
        data = load_churn_data(RunContext(ws.con, 0))
    graph = cfg.graph.model_copy(update={"threads": 1, "leaders_per_community": 3})
    cuts = [-60.0, -30.0, -30.0, 0.0, -45.0]  # a cut-off twice: the same partition twice
    alone = [communities_at(data, cut, graph, seed=5, workers=2) for cut in cuts]
    together = list(communities_at_cuts(data, cuts, graph, seed=5, workers=2))
    for one, other in zip(alone, together, strict=True):
        np.testing.assert_array_equal(one.community, other.community)
        np.testing.assert_array_equal(one.is_leader, other.is_leader)
    # the seed decides the partition here, so a generator carried on from one cut-off to the
    # next would show
    assert (communities_at(data, 0.0, graph, seed=6).community != alone[3].community).any()


def test_the_cut_offs_leiden_runs_the_churn_stages_iterations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``churn.community_iterations`` reaches Leiden at every cut-off, threaded or not."""
    asked: list[int] = []
    real = communities.leiden

    def counting(*args: Any, iterations: int, **kwargs: Any) -> Any:
        asked.append(iterations)
        return real(*args, iterations=iterations, **kwargs)

    monkeypatch.setattr(communities, "leiden", counting)
    data = two_groups()
    communities_at(data, CUT, GRAPH, seed=1)
    assert asked == [GRAPH.leiden_iterations]  # alone, the graph stage's
    for workers in (1, 2):
        asked.clear()
        found = list(
            communities_at_cuts(data, [CUT, 0.0], GRAPH, seed=1, workers=workers, iterations=1)
        )
        assert asked == [1, 1]
        assert sorted(found[0].community.tolist()) == [1, 1, 1, 1, 2, 2, 2, 2]
