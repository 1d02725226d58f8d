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
from tiewise.ingest.interactions import FIXED_POINT
from tiewise.store import RunContext, scalar

__all__ = ["LinkSummary", "build_links"]


@dataclass(frozen=True)
class LinkSummary:
    """Counts describing the links built."""

    links: int
    nodes: int
    on_network: int
    service_numbers: int


def _weight_sql(config: Config) -> str:
    """SQL for the decayed, channel- and duration-weighted volume of one ``link_days`` row."""
    cases = " ".join(
        f"WHEN '{channel}' THEN {weight!r}"
        for channel, weight in config.links.channel_weights.items()
    )
    dw = config.links.duration_weight
    half_life_s = config.links.half_life_days * 86400.0
    return (
        f"(CASE channel {cases} ELSE 0 END)"
        f" * (decay_fp + {dw!r} * log_decay_fp) / {FIXED_POINT}"
        f" * pow(2, -(epoch(as_of) - epoch(day)) / {half_life_s!r})"
    )


def _exact_sum(expr: str) -> str:
    """Sum a non-negative DOUBLE expression in fixed point (2^-32), independent of order.

    Parallel threads add up rows in any order; in fixed point the result is the same bits.
    """
    return f"CAST(sum(CAST(round(({expr}) * {FIXED_POINT}) AS HUGEINT)) AS DOUBLE) / {FIXED_POINT}"


def build_links(ctx: RunContext, config: Config) -> LinkSummary:
    """Build ``links``, ``links_directed``, ``service_numbers`` and ``nodes`` from ``link_days``."""
    con = ctx.con
    if not ctx.has_table("link_days"):
        raise InputError("no interactions in the workspace: ingest them first (`tiewise run`).")
    weeks = scalar(
        con,
        "SELECT greatest(1, ceil((epoch(max(last_ts)) - epoch(min(first_ts))) / 604800.0)) "
        "FROM link_days",
    )
    ctx.write_table(
        "links",
        f"""
        WITH p AS (SELECT max(last_ts) AS as_of FROM link_days),
        agg AS (
            SELECT a, b,
                   sum(n_ab + n_ba) AS records,
                   coalesce(sum(n_ab + n_ba) FILTER (WHERE channel = 'voice'), 0) AS n_voice,
                   coalesce(sum(n_ab + n_ba) FILTER (WHERE channel = 'sms'), 0) AS n_sms,
                   coalesce(sum(n_ab + n_ba) FILTER (WHERE channel NOT IN ('voice', 'sms')), 0)
                       AS n_other,
                   CAST(coalesce(sum(seconds_ab + seconds_ba) FILTER (WHERE channel = 'voice'), 0)
                       AS DOUBLE) AS voice_seconds,
                   sum(n_ab) AS n_ab, sum(n_ba) AS n_ba,
                   count(DISTINCT day) AS active_days,
                   count(DISTINCT date_trunc('week', day)) AS active_weeks,
                   min(first_ts) AS first_ts, max(last_ts) AS last_ts,
                   any_value(as_of) AS as_of,
                   {_exact_sum(_weight_sql(config))} AS volume
            FROM link_days, p GROUP BY a, b
        )
        SELECT a, b, CAST(records AS BIGINT) AS records, CAST(n_voice AS BIGINT) AS n_voice,
               CAST(n_sms AS BIGINT) AS n_sms, CAST(n_other AS BIGINT) AS n_other,
               voice_seconds, CAST(n_ab AS BIGINT) AS n_ab, CAST(n_ba AS BIGINT) AS n_ba,
               active_days, active_weeks, first_ts, last_ts,
               (epoch(as_of) - epoch(last_ts)) / 86400.0 AS days_since_last,
               volume,
               CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba) AS reciprocity,
               least(1.0, active_weeks / {weeks!r}) AS regularity,
               volume * (1 + CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba)) / 2
                      * (1 + least(1.0, active_weeks / {weeks!r})) / 2 AS strength
        FROM agg
        ORDER BY a, b
        """,
        stage="links",
        description="Undirected links (a < b) with every strength component and the strength.",
    )
    directed = """
        SELECT {src} AS from_id, {dst} AS to_id,
               CAST(sum({n}) AS BIGINT) AS records,
               CAST(coalesce(sum({n}) FILTER (WHERE channel = 'voice'), 0) AS BIGINT) AS n_voice,
               CAST(coalesce(sum({n}) FILTER (WHERE channel = 'sms'), 0) AS BIGINT) AS n_sms,
               CAST(coalesce(sum({n}) FILTER (WHERE channel NOT IN ('voice', 'sms')), 0)
                   AS BIGINT) AS n_other,
               CAST(coalesce(sum({s}) FILTER (WHERE channel = 'voice'), 0) AS DOUBLE)
                   AS voice_seconds,
               count(DISTINCT day) FILTER (WHERE {n} > 0) AS active_days
        FROM link_days GROUP BY {src}, {dst} HAVING sum({n}) > 0
    """
    ctx.write_table(
        "links_directed",
        directed.format(src="a", dst="b", n="n_ab", s="seconds_ab")
        + " UNION ALL "
        + directed.format(src="b", dst="a", n="n_ba", s="seconds_ba")
        + " ORDER BY from_id, to_id",
        stage="links",
        description="Directed links: who contacts whom, how often per channel, for how long.",
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
