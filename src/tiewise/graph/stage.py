"""The graph stage: communities at several resolutions, centrality, roles and leaders.

Tables written:

``customer_scores``
    One row per party: community, contacts (per channel; super-connectors flagged), tie strength,
    PageRank, eigenvector, k-core shell, local clustering, approximate betweenness, within-community
    degree z-score and participation coefficient, Guimerà-Amaral role and business role, rank inside
    the community, whether a leader, and the reason in words.
``communities``
    One row per community of the main level: size, on-network members, links inside and out,
    density, conductance, mean tie strength, churn rate and revenue (when those inputs exist),
    leaders and bridges.
``community_levels``
    Each party's community at every resolution (level 0 is the main one).
``community_level_quality``
    One row per level: how it was built (the main level directly; the others nested around it),
    its communities and modularity, and a direct run's at the same resolution: what nesting trades.
``community_changes``
    How the communities of this run relate to the previous run's: kept, split, merged, new,
    dissolved (see :mod:`tiewise.graph.stable`).
``network_nodes``, ``network_adjacency``
    The network this stage analysed, for lookups by party: each party's node number (the order
    of ``customer_id``), and each link twice (once from each end) sorted by node, so one
    party's contacts are a contiguous run of rows (what the explorer draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from tiewise.config import COMPARE_LEVELS_UP_TO, Config
from tiewise.graph.centrality import (
    approximate_betweenness,
    core_number,
    eigenvector,
    local_clustering,
    pagerank,
    rank_within,
)
from tiewise.graph.communities import Communities, leiden_cpm, leiden_levels
from tiewise.graph.network import Network, load_network, seeded_apart
from tiewise.graph.roles import (
    ROLE_NAMES,
    business_role,
    participation_coefficient,
    role,
    within_module_z,
)
from tiewise.graph.stable import stable_ids
from tiewise.store import RunContext, exact_sum, file_order, frame_table

__all__ = ["GraphSummary", "analyse_network"]


@dataclass(frozen=True)
class GraphSummary:
    """Headline figures of the graph stage."""

    nodes: int
    links: int
    communities: int
    modularity: float
    levels: int


def _percentile(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Share of values strictly below each value, in percent (ties share the lower rank)."""
    order = np.sort(values)
    return 100.0 * np.searchsorted(order, values, side="left") / max(1, len(values))


def _comparison(net: Network, config: Config) -> str | None:
    """Why the further levels are not compared with direct runs; None when they are."""
    setting = config.graph.compare_levels
    if setting is False:
        return "not run (graph.compare_levels = false)"
    links = len(net.u)
    if setting == "auto" and links > COMPARE_LEVELS_UP_TO:
        return (
            f"not run: {links:,} links, above the {COMPARE_LEVELS_UP_TO:,} up to which "
            'graph.compare_levels = "auto" compares (set it to true to compare)'
        )
    return None


def _detect(
    net: Network, config: Config, resolutions: list[float], *, compare: bool, seeded: bool
) -> list[Communities]:
    """Leiden's communities at every resolution (``seeded``: NetworKit's seed is set already)."""
    cfg = config.graph
    if cfg.objective == "cpm":
        return [
            leiden_cpm(net.n, net.u, net.v, net.weight, resolution=r, seed=config.seed)
            for r in resolutions
        ]
    return leiden_levels(
        net.graph,
        net.u,
        net.v,
        net.weight,
        resolutions,
        main=0,
        iterations=cfg.leiden_iterations,
        seed=None if seeded else config.seed,
        threads=cfg.threads,
        compare=compare,
    )


def _previous_levels(ctx: RunContext) -> pd.DataFrame | None:
    if not ctx.has_table("community_levels"):
        return None
    return ctx.con.execute("SELECT customer_id, level, community FROM community_levels").df()


def _levels(
    ctx: RunContext, net: Network, config: Config, *, seeded: bool = False
) -> tuple[list[npt.NDArray[np.int64]], float, pd.DataFrame, pd.DataFrame]:
    """Communities at every resolution, with stable ids; their changes since the last run.

    Also how each level was built and what nesting cost against a direct run (one row a level).
    """
    resolutions = [config.graph.resolution, *config.graph.levels]
    previous = _previous_levels(ctx) if config.graph.stable_ids else None
    skipped = _comparison(net, config)
    labels, changes, quality = [], [], []
    modularity = 0.0
    for level, (resolution, found) in enumerate(
        zip(
            resolutions,
            _detect(net, config, resolutions, compare=skipped is None, seeded=seeded),
            strict=True,
        )
    ):
        if level == 0:
            modularity = found.modularity_
        direct = found.direct_modularity_
        comparison: str | None = skipped
        if found.built == "direct":
            comparison = "a direct run"
        elif direct is not None:
            comparison = "with a direct run at the same resolution"
        quality.append(
            {
                "level": level,
                "resolution": resolution,
                "built": found.built,
                "communities": len(np.unique(found.labels_)),
                "modularity": found.modularity_,
                "direct_communities": found.direct_communities_,
                "direct_modularity": direct,
                "modularity_traded": None if direct is None else direct - found.modularity_,
                "comparison": comparison,
            }
        )
        before = None
        if previous is not None:
            before = previous[previous["level"] == level][["customer_id", "community"]]
        stable = stable_ids(net.ids, found.labels_, before)
        labels.append(stable.labels_)
        changes.append(stable.changes_.assign(level=level, resolution=resolution))
    return labels, modularity, pd.concat(changes, ignore_index=True), pd.DataFrame(quality)


def _community_table(
    net: Network, labels: npt.NDArray[np.int64], wdeg: npt.NDArray[np.float64]
) -> pa.Table:
    ids, dense = np.unique(labels, return_inverse=True)
    k = len(ids)
    lu, lv = dense[net.u], dense[net.v]
    same = lu == lv
    size = np.bincount(dense, minlength=k)
    on_net = np.bincount(dense, net.on_network.astype(np.float64), minlength=k)
    internal = np.bincount(lu[same], minlength=k)
    internal_w = np.bincount(lu[same], net.weight[same], minlength=k)
    external = np.bincount(lu[~same], minlength=k) + np.bincount(lv[~same], minlength=k)
    cut_w = np.bincount(lu[~same], net.weight[~same], minlength=k) + np.bincount(
        lv[~same], net.weight[~same], minlength=k
    )
    volume = np.bincount(dense, wdeg, minlength=k)
    total = volume.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(size > 1, 2.0 * internal / (size * (size - 1.0)), 0.0)
        smaller = np.minimum(volume, total - volume)
        conductance = np.where(smaller > 0, cut_w / smaller, 0.0)
        mean_tie = np.where(internal > 0, internal_w / internal, 0.0)
    return pa.table(
        {
            "community": ids,
            "size": size,
            "on_network_members": on_net.astype(np.int64),
            "internal_links": internal,
            "external_links": external,
            "density": density,
            "conductance": conductance,
            "mean_tie_strength": mean_tie,
        }
    )


def _centralities(net: Network, config: Config) -> dict[str, Any]:
    """The measures that need no communities, each node's (betweenness None: not asked for)."""
    graph, workers = net.graph, config.engine.threads
    samples = config.graph.betweenness_samples
    return {
        "pagerank": pagerank(graph, damping=config.graph.pagerank_damping, workers=workers),
        "betweenness": (
            approximate_betweenness(net.n, net.u, net.v, samples=samples, seed=config.seed)
            if samples
            else None
        ),
        "eigenvector": eigenvector(graph, workers=workers),
        "core_number": core_number(graph, workers=workers),
        "clustering": local_clustering(graph, workers=workers),
    }


def _scores(
    net: Network, labels: npt.NDArray[np.int64], central: dict[str, Any], config: Config
) -> pa.Table:
    cfg = config.graph
    degree = net.degree()
    wdeg = net.weighted_degree()
    pr, betweenness = central["pagerank"], central["betweenness"]
    z = within_module_z(net.u, net.v, labels)
    p = participation_coefficient(net.u, net.v, labels)
    roles = role(z, p)
    threshold = np.percentile(degree, cfg.super_connector_percentile) if net.n else 0
    ranked = rank_within(np.where(net.on_network, labels, 0), wdeg, pr)
    return pa.table(
        {
            "customer_id": pa.array(net.ids.tolist(), pa.string()),
            "on_network": net.on_network,
            "community": labels,
            "contacts": degree,
            "contacts_voice": net.contacts_by("voice"),
            "contacts_sms": net.contacts_by("sms"),
            "contacts_other": net.contacts_by("other"),
            "super_connector": (degree > threshold) & (degree >= 10),
            "weighted_degree": wdeg,
            "pagerank": pr,
            "eigenvector": central["eigenvector"],
            "core_number": central["core_number"],
            "clustering": central["clustering"],
            "betweenness": betweenness
            if betweenness is not None
            else pa.nulls(net.n, pa.float64()),
            "within_z": z,
            "participation": p,
            "role": roles,
            "role_name": pa.array([ROLE_NAMES[r] for r in roles.tolist()], pa.string()),
            "business_role": pa.array(business_role(roles).tolist(), pa.string()),
            "weighted_degree_pct": _percentile(wdeg),
            "pagerank_pct": _percentile(pr),
            "betweenness_pct": (
                _percentile(betweenness)
                if betweenness is not None
                else pa.nulls(net.n, pa.float64())
            ),
            "rank_in_community": np.where(net.on_network, ranked, -1),
        }
    )


_REASON = """
CASE
  WHEN n.is_service THEN 'service number: left out of the social graph'
  WHEN NOT s.on_network THEN format(
    'off-network contact (a prospect) in community {{}} ({{}} members): {{}} contacts among the '
    || 'customers, tie strength {{}}', s.community, c.size, s.contacts, round(s.weighted_degree, 1))
  ELSE format(
    '{{}} in community {{}} ({{}} members; {{}}: z={{}}, P={{}}): rank {{}} of {{}} customers '
    || 'there by tie strength {{}} (top {{}}% overall), {{}} contacts{{}}, PageRank top {{}}%{{}}',
    CASE WHEN s.rank_in_community <= {leaders} AND c.size >= 3 THEN 'leader'
         ELSE s.business_role END,
    s.community, c.size, s.role_name, round(s.within_z, 1), round(s.participation, 2),
    s.rank_in_community, c.on_network_members, round(s.weighted_degree, 1),
    greatest(0.1, round(100 - s.weighted_degree_pct, 1)), s.contacts,
    CASE WHEN s.super_connector THEN ' (super-connector)' ELSE '' END,
    greatest(0.1, round(100 - s.pagerank_pct, 1)),
    CASE WHEN s.business_role = 'bridge' AND s.betweenness_pct IS NOT NULL
         THEN format(', betweenness top {{}}%',
         greatest(0.1, round(100 - s.betweenness_pct, 1))) ELSE '' END)
END
"""


def _community_extras(ctx: RunContext) -> tuple[str, str]:
    """SQL columns and joins for churn rate and revenue per community, when the inputs exist."""
    columns, joins = [], []
    if ctx.has_table("churn_events"):
        columns.append("coalesce(ch.churned, 0) * 1.0 / c.on_network_members AS churn_rate")
        joins.append(
            "LEFT JOIN (SELECT s.community, count(DISTINCT e.customer_id) AS churned "
            "FROM _scores s JOIN churn_events e USING (customer_id) GROUP BY 1) ch "
            "ON ch.community = c.community"
        )
    if ctx.has_table("transactions"):
        columns.append("coalesce(rv.revenue, 0) AS revenue")
        joins.append(
            f"LEFT JOIN (SELECT s.community, {exact_sum('t.amount')} AS revenue "
            "FROM _scores s JOIN transactions t USING (customer_id) GROUP BY 1) rv "
            "ON rv.community = c.community"
        )
    return "".join(", " + c for c in columns), " ".join(joins)


def _write_adjacency(ctx: RunContext, net: Network, *, log_weight: bool) -> None:
    """``network_nodes`` and ``network_adjacency``: the analysed network, sorted by party.

    Each link appears from both ends; the rows are stored in node order (a stable sort keeps
    each node's contacts in contact order), so DuckDB's per-block minimum and maximum skip every
    block but the one or two holding a party's contacts.  Strength is the links' own
    (``exp(weight) - 1`` when the stage weighs by ``ln(1 + strength)``).
    """
    node = np.concatenate([net.u, net.v])
    order = np.argsort(node, kind="stable")
    strength = np.expm1(net.weight) if log_weight else net.weight
    nodes = pa.table(
        {
            "node": pa.array(np.arange(net.n, dtype=np.int64)),
            "customer_id": pa.array(net.ids.tolist(), pa.string()),
        }
    )
    adjacency = pa.table(
        {
            "node": pa.array(node[order]),
            "contact": pa.array(np.concatenate([net.v, net.u])[order]),
            "strength": pa.array(np.concatenate([strength, strength])[order]),
        }
    )
    with file_order(ctx.con):  # stored in this order (the workspace otherwise need not keep it)
        ctx.write_table(
            "network_nodes",
            nodes,
            stage="graph",
            description="Each party's node number in the analysed network (in customer_id order).",
        )
        ctx.write_table(
            "network_adjacency",
            adjacency,
            stage="graph",
            description="Each link of the analysed network from both ends, sorted by node.",
        )


def _write_scores(
    ctx: RunContext, scores: pd.DataFrame, communities: pd.DataFrame, leaders: int
) -> None:
    """``customer_scores`` and ``communities`` from the stage's two frames, joined in DuckDB.

    The frames are copied into temporary tables for the two statements (not con.register,
    which would keep them until the run commits: tiewise.store.frame_query).
    """
    con = ctx.con
    with frame_table(con, "_scores", scores), frame_table(con, "_communities", communities):
        ctx.write_table(
            "customer_scores",
            f"""
            SELECT s.customer_id, s.on_network, n.is_service, s.community,
                   c.size AS community_size, s.* EXCLUDE (customer_id, on_network, community,
                                                           rank_in_community),
                   CASE WHEN s.rank_in_community > 0 THEN s.rank_in_community END
                       AS rank_in_community,
                   s.rank_in_community BETWEEN 1 AND {leaders} AND c.size >= 3 AS is_leader,
                   {_REASON.format(leaders=leaders)} AS reason
            FROM _scores s JOIN nodes n USING (customer_id)
            JOIN _communities c ON c.community = s.community
            ORDER BY s.community, s.rank_in_community NULLS LAST, s.customer_id
            """,
            stage="graph",
            description="Per party: community, contacts, centralities, role, rank and the reason.",
        )
        extras, joins = _community_extras(ctx)
        ctx.write_table(
            "communities",
            f"""
            SELECT c.*, c.on_network_members * 1.0 / c.size AS on_network_share{extras},
                   l.leaders, coalesce(br.bridges, 0) AS bridges
            FROM _communities c
            LEFT JOIN (SELECT community, string_agg(customer_id, ' ' ORDER BY rank_in_community)
                       AS leaders FROM _scores WHERE rank_in_community BETWEEN 1 AND {leaders}
                       GROUP BY community) l ON l.community = c.community
            LEFT JOIN (SELECT community, count(*) AS bridges FROM _scores
                       WHERE business_role = 'bridge' GROUP BY community) br
                   ON br.community = c.community
            {joins}
            ORDER BY c.size DESC, c.community
            """,
            stage="graph",
            description="Per community: size, links, density, conductance, churn, revenue, "
            "leaders.",
        )


def analyse_network(ctx: RunContext, config: Config) -> GraphSummary:
    """Find communities, centrality, roles and leaders; write the graph stage's tables."""
    net = load_network(
        ctx,
        exclude_service=config.links.exclude_service_numbers,
        log_weight=config.graph.edge_weight == "log_strength",
    )
    # the network is in numpy now: DuckDB's pool (the links stage's tables, just written) can go
    ctx.release_buffers()
    # The measures that need no communities run on a thread of their own while Leiden (one
    # thread, for reproducibility) finds them.  NetworKit is seeded once, before either starts
    # (seeded_apart), so Leiden draws what it would alone after nk.setSeed(config.seed); the
    # centralities draw nothing from it (betweenness' sources come from numpy).
    _ = net.graph  # built here, not by both threads at once
    central = seeded_apart([partial(_centralities, net, config)], seed=config.seed, workers=1)
    levels, modularity, changes, quality = _levels(ctx, net, config, seeded=True)
    labels = levels[0]
    _write_scores(
        ctx,
        _scores(net, labels, next(central), config),
        _community_table(net, labels, net.weighted_degree()),
        config.graph.leaders_per_community,
    )
    resolutions = [config.graph.resolution, *config.graph.levels]
    level_frame = pa.table(
        {
            "customer_id": pa.array(np.tile(net.ids, len(levels)).tolist(), pa.string()),
            "level": np.repeat(np.arange(len(levels)), net.n),
            "resolution": np.repeat(np.asarray(resolutions, dtype=np.float64), net.n),
            "community": np.concatenate(levels) if levels else np.zeros(0, dtype=np.int64),
        }
    )
    ctx.write_table(
        "community_levels",
        level_frame,
        stage="graph",
        description="Each party's community at every resolution (0 = main level).",
    )
    ctx.write_table(
        "community_level_quality",
        pa.Table.from_pandas(quality, preserve_index=False),
        stage="graph",
        description="Per level: how it was built (the main level directly, the others nested "
        "around it), its modularity, and a direct run's at the same resolution (what nesting "
        "trades).",
    )
    changes.insert(0, "run_id", ctx.run_id)
    ctx.write_table(
        "community_changes",
        changes,
        stage="graph",
        description="How this run's communities continue, split or merge the last's.",
    )
    _write_adjacency(ctx, net, log_weight=config.graph.edge_weight == "log_strength")
    return GraphSummary(
        nodes=net.n,
        links=len(net.u),
        communities=len(np.unique(labels)),
        modularity=modularity,
        levels=len(levels),
    )
