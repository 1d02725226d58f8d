"""Customer links: who is tied to whom, and how strongly, computed in one DuckDB pass.

The strength of the link between two parties ``a`` and ``b`` (see the README, "Link strength")::

    w(r)        = channel_weight(r) * (1 + duration_weight * ln(1 + minutes(r)))
                  * 2^(-age(r) / half_life)
    volume      = sum of w(r) over the pair's records r      (how often, how long, how recent)
    reciprocity = min(n_ab, n_ba) / max(n_ab, n_ba)          (both initiate: 1; one-sided: 0)
    regularity  = distinct active weeks / weeks in the data  (steady ties beat one burst)
    strength    = volume * (1 + reciprocity) / 2 * (1 + regularity) / 2

Every component is kept as a column so each strength can be explained.  Ages are measured from the
newest record in the data (the "as of" time).

Service numbers and call centres -- far more distinct contacts than anyone else, almost never
called back, traffic nearly all one way -- are listed in ``service_numbers`` with the evidence,
and their links are left out of the social graph by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.store import RunContext, scalar

__all__ = ["LinkSummary", "build_links"]

_SCALE = 2.0**32


@dataclass(frozen=True)
class LinkSummary:
    """Counts describing the links built."""

    links: int
    nodes: int
    on_network: int
    service_numbers: int


def _record_weight_sql(config: Config) -> str:
    cases = " ".join(
        f"WHEN '{channel}' THEN {weight!r}"
        for channel, weight in config.links.channel_weights.items()
    )
    dw = config.links.duration_weight
    hl = config.links.half_life_days
    return (
        f"(CASE channel {cases} ELSE 0 END)"
        f" * (1 + {dw!r} * ln(1 + coalesce(duration_s, 0) / 60.0))"
        f" * pow(2, -(epoch(as_of) - epoch(timestamp)) / 86400.0 / {hl!r})"
    )


def _exact_sum(expr: str) -> str:
    """Sum a non-negative DOUBLE expression in fixed point (2^-32), independent of order.

    Parallel threads add up records in any order; in fixed point the result is the same bits.
    """
    return f"CAST(sum(CAST(round(({expr}) * {_SCALE}) AS HUGEINT)) AS DOUBLE) / {_SCALE}"


def build_links(ctx: RunContext, config: Config) -> LinkSummary:
    """Build ``nodes``, ``service_numbers``, ``links_directed`` and ``links``."""
    con = ctx.con
    if not ctx.has_table("interactions"):
        raise InputError("no interactions in the workspace: ingest them first (`tiewise run`).")
    weeks = scalar(
        con,
        "SELECT greatest(1, ceil((epoch(max(timestamp)) - epoch(min(timestamp))) / 604800.0)) "
        "FROM interactions",
    )
    weight = _record_weight_sql(config)
    ctx.write_table(
        "links_directed",
        f"""
        WITH base AS (
            SELECT *, (SELECT max(timestamp) FROM interactions) AS as_of FROM interactions
        )
        SELECT from_id, to_id,
               count(*) AS records,
               count(*) FILTER (WHERE channel = 'voice') AS n_voice,
               count(*) FILTER (WHERE channel = 'sms') AS n_sms,
               count(*) FILTER (WHERE channel NOT IN ('voice', 'sms')) AS n_other,
               CAST(coalesce(sum(duration_s) FILTER (WHERE channel = 'voice'), 0) AS DOUBLE)
                   AS voice_seconds,
               {_exact_sum(weight)} AS volume,
               min(timestamp) AS first_ts, max(timestamp) AS last_ts
        FROM base GROUP BY from_id, to_id
        """,
        stage="links",
        description="Directed links: who contacts whom, per channel, with the decayed volume.",
    )
    ctx.write_table(
        "links",
        f"""
        WITH pairs AS (
            SELECT least(from_id, to_id) AS a, greatest(from_id, to_id) AS b,
                   from_id < to_id AS a_initiated, *
            FROM interactions
        ), base AS (SELECT *, (SELECT max(timestamp) FROM interactions) AS as_of FROM pairs),
        agg AS (
            SELECT a, b,
                   count(*) AS records,
                   count(*) FILTER (WHERE channel = 'voice') AS n_voice,
                   count(*) FILTER (WHERE channel = 'sms') AS n_sms,
                   count(*) FILTER (WHERE channel NOT IN ('voice', 'sms')) AS n_other,
                   CAST(coalesce(sum(duration_s) FILTER (WHERE channel = 'voice'), 0) AS DOUBLE)
                       AS voice_seconds,
                   count(*) FILTER (WHERE a_initiated) AS n_ab,
                   count(*) FILTER (WHERE NOT a_initiated) AS n_ba,
                   count(DISTINCT CAST(timestamp AS DATE)) AS active_days,
                   count(DISTINCT date_trunc('week', timestamp)) AS active_weeks,
                   min(timestamp) AS first_ts, max(timestamp) AS last_ts,
                   any_value(as_of) AS as_of,
                   {_exact_sum(weight)} AS volume
            FROM base GROUP BY a, b
        )
        SELECT a, b, records, n_voice, n_sms, n_other, voice_seconds, n_ab, n_ba,
               active_days, active_weeks, first_ts, last_ts,
               (epoch(as_of) - epoch(last_ts)) / 86400.0 AS days_since_last,
               volume,
               CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba) AS reciprocity,
               least(1.0, active_weeks / {weeks!r}) AS regularity,
               volume * (1 + CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba)) / 2
                      * (1 + least(1.0, active_weeks / {weeks!r})) / 2 AS strength
        FROM agg
        """,
        stage="links",
        description="Undirected links (a < b) with every strength component and the strength.",
    )
    cfg = config.links
    ctx.write_table(
        "service_numbers",
        f"""
        WITH ends AS (
            SELECT a AS id, b AS other, n_ab AS sent, n_ba AS received, voice_seconds, records
            FROM links
            UNION ALL
            SELECT b, a, n_ba, n_ab, voice_seconds, records FROM links
        ), per AS (
            SELECT id, count(*) AS contacts,
                   avg(CASE WHEN sent > 0 AND received > 0 THEN 1.0 ELSE 0.0 END) AS reciprocated,
                   sum(sent) / sum(sent + received) AS outbound_share,
                   sum(voice_seconds) / greatest(1, sum(records)) AS seconds_per_record
            FROM ends GROUP BY id
        ), population AS (SELECT quantile_cont(contacts, 0.99) AS p99 FROM per)
        SELECT id AS customer_id, contacts, reciprocated, outbound_share, seconds_per_record,
               format('{{}} distinct contacts (99th percentile of all numbers: {{}}); only {{}}% '
                      'of them ever contact it back; {{}}% of its records are {{}}; {{}} s per '
                      'record on average',
                      contacts, round(p99)::INTEGER, round(100 * reciprocated, 1),
                      round(100 * greatest(outbound_share, 1 - outbound_share))::INTEGER,
                      CASE WHEN outbound_share >= 0.5 THEN 'outbound' ELSE 'inbound' END,
                      round(seconds_per_record)::INTEGER) AS reason
        FROM per, population
        WHERE contacts >= {cfg.service_min_contacts}
          AND reciprocated <= {cfg.service_max_reciprocity!r}
          AND greatest(outbound_share, 1 - outbound_share) >= {cfg.service_min_one_way_share!r}
        ORDER BY contacts DESC
        """,
        stage="links",
        description="Service numbers and call centres, with the evidence; left out of the graph.",
    )
    has_customers = ctx.has_table("customers")
    on_net = "coalesce(c.on_network, c.customer_id IS NOT NULL)" if has_customers else "true"
    join = "LEFT JOIN customers c ON c.customer_id = p.customer_id" if has_customers else ""
    ctx.write_table(
        "nodes",
        f"""
        WITH parties AS (SELECT a AS customer_id FROM links UNION SELECT b FROM links
                         {"UNION SELECT customer_id FROM customers" if has_customers else ""})
        SELECT p.customer_id, {on_net} AS on_network,
               s.customer_id IS NOT NULL AS is_service
        FROM parties p {join} LEFT JOIN service_numbers s ON s.customer_id = p.customer_id
        ORDER BY p.customer_id
        """,
        stage="links",
        description="Every party: customers (on-network) and their off-network contacts.",
    )
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE on_network), count(*) FILTER (WHERE is_service) "
        "FROM nodes"
    ).fetchall()[0]
    links = int(scalar(con, "SELECT count(*) FROM links"))
    return LinkSummary(
        links=links, nodes=counts[0], on_network=counts[1], service_numbers=counts[2]
    )
