"""Customer links: who is tied to whom, and how strongly, computed in one DuckDB pass.

The strength of the link between two parties ``a`` and ``b`` (see the README, "Link strength")::

    w(r)        = channel_weight(r) * (1 + duration_weight * ln(1 + minutes(r)))
                  * 2^(-age(r) / half_life)
    volume      = sum of w(r) over the pair's records r      (how often, how long, how recent)
    reciprocity = min(n_ab, n_ba) / max(n_ab, n_ba)          (both initiate: 1; one-sided: 0)
    regularity  = active weeks / weeks               (steady ties beat one burst; calendar
                                                      weeks, the last min(52, in the data))
    strength    = volume * (1 + reciprocity) / 2 * (1 + regularity) / 2

Every component is kept as a column so each strength can be explained.  Ages are measured from the
newest record in the data (the "as of" time); weeks are calendar weeks (Monday to Sunday).

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

__all__ = ["REGULARITY_WEEKS", "LinkSummary", "build_links"]

REGULARITY_WEEKS = 52  # regularity looks at most this many weeks back


@dataclass(frozen=True)
class LinkSummary:
    """Counts describing the links built."""

    links: int
    nodes: int
    on_network: int
    service_numbers: int


def build_links(ctx: RunContext, config: Config) -> LinkSummary:
    """Build ``links``, ``links_directed``, ``service_numbers`` and ``nodes`` from ``link_state``.

    ``links`` is a view: its strength components are a few arithmetic operations per pair over
    ``link_state``, cheaper to compute when read than to store.
    """
    con = ctx.con
    if not ctx.has_table("link_state"):
        raise InputError("no interactions in the workspace: ingest them first (`tiewise run`).")
    as_of_week = "(date_diff('day', m.origin, CAST(m.as_of AS DATE)) // 7)"
    first_week = "greatest(0, date_diff('day', m.origin, CAST(m.first_ts AS DATE)) // 7)"
    weeks = f"least({REGULARITY_WEEKS}, {as_of_week} - {first_week} + 1)"
    window = (
        f"((s.week_mask >> CAST({as_of_week} - {weeks} + 1 AS INTEGER)) "
        f"& ((CAST(1 AS HUGEINT) << CAST({weeks} AS INTEGER)) - 1))"
    )
    ctx.write_view(
        "links",
        f"""
        WITH parts AS (
            SELECT s.*, m.as_of,
                   n_voice_ab + n_sms_ab + n_other_ab AS n_ab,
                   n_voice_ba + n_sms_ba + n_other_ba AS n_ba,
                   CAST(bit_count({window}) AS BIGINT) AS active_weeks,
                   {weeks} AS weeks,
                   CAST(weight_fp AS DOUBLE) / {FIXED_POINT} AS volume
            FROM link_state s, link_meta m
        )
        SELECT a, b, n_ab + n_ba AS records,
               n_voice_ab + n_voice_ba AS n_voice, n_sms_ab + n_sms_ba AS n_sms,
               n_other_ab + n_other_ba AS n_other,
               voice_seconds_ab + voice_seconds_ba AS voice_seconds,
               n_ab, n_ba, n_voice_ab, n_voice_ba, n_sms_ab, n_sms_ba, n_other_ab, n_other_ba,
               voice_seconds_ab, voice_seconds_ba,
               active_weeks, first_ts, last_ts,
               (epoch(as_of) - epoch(last_ts)) / 86400.0 AS days_since_last,
               volume,
               CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba) AS reciprocity,
               CAST(active_weeks AS DOUBLE) / weeks AS regularity,
               volume * (1 + CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba)) / 2
                      * (1 + CAST(active_weeks AS DOUBLE) / weeks) / 2 AS strength
        FROM parts
        """,
        stage="links",
        description="Undirected links (a < b) with every strength component and the strength.",
    )
    direction = """
        SELECT {x} AS from_id, {y} AS to_id, n_{ab} AS records, n_voice_{ab} AS n_voice,
               n_sms_{ab} AS n_sms, n_other_{ab} AS n_other, voice_seconds_{ab} AS voice_seconds
        FROM links WHERE n_{ab} > 0
    """
    ctx.write_view(
        "links_directed",
        direction.format(x="a", y="b", ab="ab")
        + " UNION ALL "
        + direction.format(x="b", y="a", ab="ba"),
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
    nodes, on_network, service = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE on_network), count(*) FILTER (WHERE is_service) "
        "FROM nodes"
    ).fetchall()[0]
    links = int(scalar(con, "SELECT count(*) FROM links"))
    return LinkSummary(
        links=links, nodes=int(nodes), on_network=int(on_network), service_numbers=int(service)
    )
