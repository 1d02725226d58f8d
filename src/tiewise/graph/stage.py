"""The graph stage: communities, centrality and leaders, written to the workspace.

Tables written:

``customer_scores``
    One row per party: community, contacts, strength-weighted degree, PageRank, their percentiles,
    rank inside the community, whether a leader, and the reason in words.
``communities``
    One row per community: size, on-network members, internal and external links, density,
    conductance, mean tie strength and its leaders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tiewise.config import Config
from tiewise.graph.centrality import pagerank, rank_within
from tiewise.graph.communities import leiden
from tiewise.graph.network import Network, load_network
from tiewise.store import RunContext

__all__ = ["GraphSummary", "analyse_network"]


@dataclass(frozen=True)
class GraphSummary:
    """Headline figures of the graph stage."""

    nodes: int
    links: int
    communities: int
    modularity: float


def _percentile(values: np.ndarray) -> np.ndarray:
    """Share of values strictly below each value, in percent (ties share the lower rank)."""
    order = np.sort(values)
    return 100.0 * np.searchsorted(order, values, side="left") / max(1, len(values))


def _community_table(net: Network, labels: np.ndarray, wdeg: np.ndarray) -> pa.Table:
    k = int(labels.max()) + 1 if len(labels) else 1
    lu, lv = labels[net.u], labels[net.v]
    same = lu == lv
    size = np.bincount(labels, minlength=k)
    on_net = np.bincount(labels, net.on_network.astype(np.float64), minlength=k)
    internal = np.bincount(lu[same], minlength=k)
    internal_w = np.bincount(lu[same], net.weight[same], minlength=k)
    external = np.bincount(lu[~same], minlength=k) + np.bincount(lv[~same], minlength=k)
    cut_w = np.bincount(lu[~same], net.weight[~same], minlength=k) + np.bincount(
        lv[~same], net.weight[~same], minlength=k
    )
    volume = np.bincount(labels, wdeg, minlength=k)
    total = volume.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(size > 1, 2.0 * internal / (size * (size - 1.0)), 0.0)
        conductance = np.where(
            np.minimum(volume, total - volume) > 0, cut_w / np.minimum(volume, total - volume), 0.0
        )
        mean_tie = np.where(internal > 0, internal_w / internal, 0.0)
    ids = np.arange(1, k)
    return pa.table(
        {
            "community": ids,
            "size": size[1:],
            "on_network_members": on_net[1:].astype(np.int64),
            "internal_links": internal[1:],
            "external_links": external[1:],
            "density": density[1:],
            "conductance": conductance[1:],
            "mean_tie_strength": mean_tie[1:],
        }
    )


def analyse_network(ctx: RunContext, config: Config) -> GraphSummary:
    """Find communities and leaders; write ``customer_scores`` and ``communities``."""
    net = load_network(
        ctx,
        exclude_service=config.links.exclude_service_numbers,
        log_weight=config.graph.edge_weight == "log_strength",
    )
    graph = net.to_networkit()
    cfg = config.graph
    found = leiden(
        graph,
        resolution=cfg.resolution,
        iterations=cfg.leiden_iterations,
        seed=config.seed,
        threads=cfg.threads,
    )
    labels = found.labels_
    degree = net.degree()
    wdeg = net.weighted_degree()
    pr = pagerank(graph, damping=cfg.pagerank_damping)
    # Leaders are customers: rank on-network members inside their community; others get no rank.
    ranked = rank_within(np.where(net.on_network, labels, 0), wdeg, pr)
    rank = np.where(net.on_network, ranked, -1)
    scores = pa.table(
        {
            "customer_id": pa.array(net.ids.tolist(), pa.string()),
            "on_network": net.on_network,
            "community": labels,
            "contacts": degree,
            "weighted_degree": wdeg,
            "pagerank": pr,
            "weighted_degree_pct": _percentile(wdeg),
            "pagerank_pct": _percentile(pr),
            "rank_in_community": rank,
        }
    )
    ctx.con.register("_scores", scores)
    ctx.con.register("_communities", _community_table(net, labels, wdeg))
    n_leaders = cfg.leaders_per_community
    ctx.write_table(
        "customer_scores",
        f"""
        SELECT s.customer_id, s.on_network, n.is_service, s.community, c.size AS community_size,
               s.contacts, s.weighted_degree, s.pagerank,
               s.weighted_degree_pct, s.pagerank_pct,
               CASE WHEN s.rank_in_community > 0 THEN s.rank_in_community END AS rank_in_community,
               s.rank_in_community BETWEEN 1 AND {n_leaders} AND c.size >= 3 AS is_leader,
               CASE
                 WHEN n.is_service THEN 'service number: left out of the social graph'
                 WHEN NOT s.on_network THEN format(
                   'off-network contact in community {{}} ({{}} members): {{}} contacts among '
                   'the customers, tie strength {{}}', s.community, c.size, s.contacts,
                   round(s.weighted_degree, 1))
                 ELSE format(
                   '{{}} community {{}} ({{}} members): rank {{}} of {{}} customers there by tie '
                   'strength {{}} (top {{}}% overall), {{}} contacts, PageRank top {{}}%',
                   CASE WHEN s.rank_in_community <= {n_leaders} AND c.size >= 3
                        THEN 'leads' ELSE 'member of' END,
                   s.community, c.size, s.rank_in_community, c.on_network_members,
                   round(s.weighted_degree, 1),
                   greatest(0.1, round(100 - s.weighted_degree_pct, 1)), s.contacts,
                   greatest(0.1, round(100 - s.pagerank_pct, 1)))
               END AS reason
        FROM _scores s JOIN nodes n USING (customer_id)
        JOIN _communities c ON c.community = s.community
        ORDER BY s.community, s.rank_in_community NULLS LAST, s.customer_id
        """,
        stage="graph",
        description="Per party: community, contacts, link strength, PageRank, rank and reason.",
    )
    ctx.write_table(
        "communities",
        f"""
        SELECT c.*, (SELECT string_agg(customer_id, ' ' ORDER BY rank_in_community)
                     FROM _scores s WHERE s.community = c.community
                       AND s.rank_in_community BETWEEN 1 AND {n_leaders}) AS leaders
        FROM _communities c ORDER BY c.community
        """,
        stage="graph",
        description="Per community: size, links inside and out, density, conductance, leaders.",
    )
    ctx.con.unregister("_scores")
    ctx.con.unregister("_communities")
    return GraphSummary(
        nodes=net.n,
        links=len(net.u),
        communities=int(labels.max()) if len(labels) else 0,
        modularity=found.modularity_,
    )
