"""Customer links: who is tied to whom, and how strongly, one SQL definition for DuckDB and Spark.

The strength of the link between two parties ``a`` and ``b`` (see the README, "Link strength")::

    w(r)        = channel_weight(r) * (1 + duration_weight * ln(1 + minutes(r)))
                  * 2^(-age(r) / half_life)
    volume      = sum of w(r) over the pair's records r      (how often, how long, how recent)
    reciprocity = min(n_ab, n_ba) / max(n_ab, n_ba)          (both initiate: 1; one-sided: 0)
    regularity  = active weeks / weeks               (steady ties beat one burst; calendar
                                                      weeks, the last min(52, in the data))
    embeddedness = ln(1 + common contacts)           (friends share friends: the contacts both
                                                      a and b are linked to)
    strength    = volume * (1 + reciprocity) / 2 * (1 + regularity) / 2 * (1 + embeddedness)

Every component is kept as a column so each strength can be explained.  Ages are measured from the
newest record in the data (the "as of" time); weeks are calendar weeks (Monday to Sunday).

Service numbers and call centres -- far more distinct contacts than anyone else, almost never
called back, traffic nearly all one way -- are listed in ``service_numbers`` with the evidence,
and their links are left out of the social graph by default.

Common contacts are counted in ``link_structure`` (:func:`structure_sql`), built before ``links``:
every contact ``k`` linked to both ``a`` and ``b``, except contacts with ``service_min_contacts``
or more distinct contacts of their own (a call centre shared by everyone says nothing about a
pair).  Each triangle is found once, from its lowest-ranked corner, so the work grows with the
number of triangles rather than with the square of the busiest contacts' degrees.

Each table is one SQL query (:func:`structure_sql`, :func:`links_sql`,
:func:`service_numbers_sql`, :func:`nodes_sql`, :func:`activity_sql`, :func:`customer_weeks_sql`),
written for DuckDB.  With ``[engine] engine = "spark"`` the same queries, transpiled
(:func:`tiewise.ingest.spark.to_spark_sql`), run on Spark over the ``link_state`` Parquet that
the fold wrote there (:mod:`tiewise.links.spark`); the results come back as Parquet and are imported
with DuckDB's column types.  The week masks are read with modulo and popcount only (no shifts of a
128-bit integer), which Spark's DECIMAL masks allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiewise.config import Config
from tiewise.links.state import FIXED_POINT, fold_interactions, write_conversation_links
from tiewise.store import RunContext, scalar

__all__ = [
    "ACTIVITY_WEEKS",
    "REGULARITY_WEEKS",
    "LinkSummary",
    "activity_sql",
    "build_links",
    "customer_weeks_sql",
    "link_tables",
    "links_sql",
    "nodes_sql",
    "service_numbers_sql",
    "strength_sql",
    "structure_sql",
]

REGULARITY_WEEKS = 52  # regularity looks at most this many weeks back
ACTIVITY_WEEKS = 52  # customer_weeks holds this many weeks (the newest ones: w0..w51)

_AS_OF_WEEK = "(date_diff('day', m.origin, CAST(m.as_of AS DATE)) // 7)"
_FIRST_WEEK = "greatest(0, date_diff('day', m.origin, CAST(m.first_ts AS DATE)) // 7)"

# Both ends of every link come from ONE scan of the links, each row joined to these two rows
# (side 0: end a, side 1: end b), not from `SELECT a ... UNION ALL SELECT b ...` over the same
# subquery: DuckDB materialises a subquery read twice (a CTE, or a "common subplan" it finds
# itself) in a buffer that does not spill, and at a million customers that buffer alone
# outgrew a 6 GB memory limit.  Streamed, the rows go straight into the aggregate, which spills.
_SIDES = "(SELECT 0 AS side UNION ALL SELECT 1 AS side) sides"


def _side(at_a: str, at_b: str) -> str:
    """``at_a`` on the row of end a, ``at_b`` on the row of end b (see ``_SIDES``)."""
    return f"CASE WHEN sides.side = 0 THEN {at_a} ELSE {at_b} END"


def _pow2(k: str) -> str:
    """2^k as a HUGEINT (Spark: an exact DECIMAL(38,0), see ``tiewise.ingest.spark``)."""
    return f"(CAST(1 AS HUGEINT) << CAST({k} AS INTEGER))"


def _bit(k: str) -> str:
    """2^k as a BIGINT, for 0 <= k < 63."""
    return f"(CAST(1 AS BIGINT) << CAST({k} AS INTEGER))"


def _popcount(x: str) -> str:
    """The set bits of the HUGEINT ``x`` (Spark: the popcounts of its two 63-bit halves)."""
    return f"bit_count(CAST({x} AS HUGEINT))"


def _bits_below(mask: str, k: str) -> str:
    """How many of the bits 0..k-1 of the HUGEINT ``mask`` are set (arithmetic, no shifts)."""
    return _popcount(f"{mask} % {_pow2(k)}")


def strength_sql(weights: dict[str, float] | None) -> str:
    """SQL of the strength from the components of ``links`` (see :func:`links_sql`).

    Without ``weights``: the documented formula (its evidence: ``benchmarks/bench_strength.py``).
    With weights (``[links] strength_weights``,
    e.g. fitted by :func:`tiewise.links.calibrate.fit_strength`):
    ``volume * exp(sum_k weight_k * component_k)``.
    """
    if not weights:
        return "volume * (1 + reciprocity) / 2 * (1 + regularity) / 2 * (1 + embeddedness)"
    terms = " + ".join(f"{w!r} * {name}" for name, w in sorted(weights.items()))
    return f"round(volume * exp({terms}), 9)"


_STATE_COUNTS = [
    "n_voice_ab", "n_voice_ba", "n_sms_ab", "n_sms_ba", "n_other_ab", "n_other_ba",
    "duplicates", "two_sided", "missed", "n_off_hours",
]  # fmt: skip


def link_state_sql(with_conversations: bool, *, spark: bool = False) -> str:
    """``link_state``, with the replies and mentions of ``conversation_links`` added per pair.

    A reply or mention counts as a record on an "other" channel, with its own weight
    (``[conversations] reply_weight``, ``mention_weight``).  Each table has a row per pair, so
    on DuckDB the two are matched by a full outer join (the few pairs of ``conversation_links``
    looked up as each row of ``link_state`` streams by); on Spark, whose masks are decimals
    without a bitwise or, by summing their union per pair.  The same rows either way.
    """
    if not with_conversations:
        return "link_state"
    if not spark:
        talk = {
            "n_other_ab": "c.n_replies_ab + c.n_mentions_ab",
            "n_other_ba": "c.n_replies_ba + c.n_mentions_ba",
            "n_off_hours": "c.n_off_hours",
        }
        counts = ", ".join(
            f"CAST(coalesce(s.{c}, 0) + coalesce({talk[c]}, 0) AS BIGINT) AS {c}" if c in talk
            else f"CAST(coalesce(s.{c}, 0) AS BIGINT) AS {c}"
            for c in _STATE_COUNTS
        )  # fmt: skip
        return f"""(
        SELECT coalesce(s.a, c.a) AS a, coalesce(s.b, c.b) AS b, {counts},
               CAST(coalesce(s.voice_seconds_ab, 0.0) AS DOUBLE) AS voice_seconds_ab,
               CAST(coalesce(s.voice_seconds_ba, 0.0) AS DOUBLE) AS voice_seconds_ba,
               CAST(coalesce(s.weight_fp, 0) + coalesce(c.weight_fp, 0) AS HUGEINT) AS weight_fp,
               CAST(coalesce(s.week_mask, 0) | coalesce(c.week_mask, 0) AS HUGEINT) AS week_mask,
               least(s.first_ts, c.first_ts) AS first_ts, greatest(s.last_ts, c.last_ts) AS last_ts
        FROM link_state s FULL OUTER JOIN conversation_links c ON c.a = s.a AND c.b = s.b
    )"""
    summed = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in _STATE_COUNTS)
    return f"""(
        SELECT a, b, {summed},
               CAST(sum(voice_seconds_ab) AS DOUBLE) AS voice_seconds_ab,
               CAST(sum(voice_seconds_ba) AS DOUBLE) AS voice_seconds_ba,
               CAST(sum(weight_fp) AS HUGEINT) AS weight_fp,
               CAST(bit_or(week_mask) AS HUGEINT) AS week_mask,
               min(first_ts) AS first_ts, max(last_ts) AS last_ts
        FROM (
            SELECT a, b, n_voice_ab, n_voice_ba, n_sms_ab, n_sms_ba, n_other_ab, n_other_ba,
                   duplicates, two_sided, missed, n_off_hours, voice_seconds_ab,
                   voice_seconds_ba, weight_fp, week_mask, first_ts, last_ts
            FROM link_state
            UNION ALL
            SELECT a, b, 0, 0, 0, 0, n_replies_ab + n_mentions_ab, n_replies_ba + n_mentions_ba,
                   0, 0, 0, n_off_hours, 0.0, 0.0, weight_fp, week_mask, first_ts, last_ts
            FROM conversation_links
        ) GROUP BY a, b
    )"""


def structure_sql(config: Config, *, spark: bool = False) -> str:
    """SQL of ``link_structure``: per link with any, its common contacts (see the module doc).

    A common contact of a link ``a - b`` is a contact ``k`` linked to both: a triangle.  Each
    triangle is listed once, from its lowest-ranked corner (by number of links, then id), by
    joining the links that leave each node towards higher-ranked ones; then each side of it
    gains the opposite corner.  Ranking by degree keeps the pairs listed near the number of
    triangles: listing every two links of each contact instead grows with the square of the
    contacts' degrees (13 GB spilled at a million subscribers).  Contacts with
    ``service_min_contacts`` or more links are no one's common contact.

    On DuckDB the parties are numbered in id order first and the triangles listed by number:
    joins on integers instead of 20-character pseudonyms, the same rows (19.4 s -> 13.0 s at a
    million subscribers).  Spark keeps the ids: numbering them is a window over every party in
    one partition.
    """
    cap = config.links.service_min_contacts
    lower = "da.d < db.d OR (da.d = db.d AND l.a < l.b)"
    if spark:  # the ids as they are
        key, number, numbered, links = "node", "", "", "link_state"
    else:
        key, number, links = "i", ", row_number() OVER (ORDER BY node) AS i", "numbered"
        numbered = """, numbered AS (
            SELECT da.i AS a, db.i AS b
            FROM link_state l JOIN deg da ON da.node = l.a JOIN deg db ON db.node = l.b
        )"""
    query = f"""
        WITH deg AS (
            SELECT node, count(*) AS d{number}
            FROM (SELECT a AS node FROM link_state UNION ALL SELECT b FROM link_state) ends
            GROUP BY node
        ){numbered}, up AS (
            SELECT CASE WHEN {lower} THEN l.a ELSE l.b END AS u,
                   CASE WHEN {lower} THEN l.b ELSE l.a END AS v
            FROM {links} l JOIN deg da ON da.{key} = l.a JOIN deg db ON db.{key} = l.b
        ), triangles AS (
            SELECT p.u AS x, p.v AS y, q.v AS z
            FROM up p JOIN up q ON p.u = q.u AND p.v < q.v
            JOIN {links} l ON l.a = least(p.v, q.v) AND l.b = greatest(p.v, q.v)
        ), sides AS (
            SELECT y AS m, z AS n, x AS k FROM triangles
            UNION ALL SELECT x, y, z FROM triangles
            UNION ALL SELECT x, z, y FROM triangles
        )"""
    counted = f"""
        SELECT least(m, n) AS a, greatest(m, n) AS b, CAST(count(*) AS BIGINT) AS common_contacts
        FROM sides JOIN deg ON deg.{key} = sides.k
        WHERE deg.d < {cap}
        GROUP BY least(m, n), greatest(m, n)"""
    if spark:
        return f"{query}{counted}\n"
    return f"""{query}, counted AS ({counted}
        )
        SELECT na.node AS a, nb.node AS b, c.common_contacts
        FROM counted c JOIN deg na ON na.i = c.a JOIN deg nb ON nb.i = c.b
        """


def links_sql(
    weights: dict[str, float] | None = None,
    *,
    with_conversations: bool = False,
    spark: bool = False,
) -> str:
    """SQL of the ``links`` rows from ``link_state``, ``link_meta`` and ``link_structure``.

    ``with_conversations``: the replies and mentions of ``conversation_links`` are added to the
    pairs (:func:`link_state_sql`; ``spark``: in the form Spark runs).

    The active weeks are the set bits of the week mask in the last ``weeks`` weeks up to the
    as-of week: the bits below ``as_of_week + 1`` minus the bits below ``as_of_week - weeks + 1``
    (modulo and popcount only, so that Spark can run it on its DECIMAL masks).  Logarithms and
    powers are rounded to 9 decimals: DuckDB's and Spark's differ in the last bits.  Besides volume,
    reciprocity and regularity, every component a strength can weigh is a column:
    ``recency`` (2^(-days since the last contact / half-life)), ``burstiness`` (1 - active
    weeks / records), ``duration`` (ln(1 + minutes per call)), ``channel_mix`` (1 - the sum
    of the squared shares of voice, SMS and other records) and ``off_hours`` (the share of
    records in the evening, at night or at a weekend), ``common_contacts`` and ``embeddedness``
    (ln(1 + common contacts), see :func:`structure_sql`).
    """
    weeks = f"least({REGULARITY_WEEKS}, {_AS_OF_WEEK} - {_FIRST_WEEK} + 1)"
    active = (
        f"{_bits_below('s.week_mask', f'{_AS_OF_WEEK} + 1')} - "
        f"{_bits_below('s.week_mask', f'{_AS_OF_WEEK} - {weeks} + 1')}"
    )
    return f"""
        WITH parts AS (
            SELECT s.*, m.as_of, m.half_life_days,
                   coalesce(t.common_contacts, CAST(0 AS BIGINT)) AS common_contacts,
                   n_voice_ab + n_sms_ab + n_other_ab AS n_ab,
                   n_voice_ba + n_sms_ba + n_other_ba AS n_ba,
                   CAST({active} AS BIGINT) AS active_weeks,
                   {weeks} AS weeks,
                   CAST(weight_fp AS DOUBLE) / {FIXED_POINT} AS volume
            FROM {link_state_sql(with_conversations, spark=spark)} s CROSS JOIN link_meta m
            LEFT JOIN link_structure t ON t.a = s.a AND t.b = s.b
        ), components AS (
            SELECT a, b, n_ab + n_ba AS records,
                   n_voice_ab + n_voice_ba AS n_voice, n_sms_ab + n_sms_ba AS n_sms,
                   n_other_ab + n_other_ba AS n_other,
                   voice_seconds_ab + voice_seconds_ba AS voice_seconds,
                   n_ab, n_ba, n_voice_ab, n_voice_ba, n_sms_ab, n_sms_ba, n_other_ab, n_other_ba,
                   voice_seconds_ab, voice_seconds_ba, n_off_hours,
                   active_weeks, first_ts, last_ts, common_contacts,
                   (epoch(as_of) - epoch(last_ts)) / 86400.0 AS days_since_last,
                   volume,
                   CAST(least(n_ab, n_ba) AS DOUBLE) / greatest(n_ab, n_ba) AS reciprocity,
                   CAST(active_weeks AS DOUBLE) / weeks AS regularity,
                   round(pow(2.0, -(epoch(as_of) - epoch(last_ts)) / 86400.0 / half_life_days),
                         9) AS recency
            FROM parts
        ), scored AS (
            SELECT *,
                   greatest(0.0, 1 - CAST(active_weeks AS DOUBLE) / records) AS burstiness,
                   round(ln(1 + CASE WHEN n_voice > 0 THEN voice_seconds / 60.0 / n_voice
                                     ELSE 0 END), 9) AS duration,
                   1 - (pow(n_voice, 2) + pow(n_sms, 2) + pow(n_other, 2)) / pow(records, 2)
                       AS channel_mix,
                   CAST(n_off_hours AS DOUBLE) / records AS off_hours,
                   round(ln(1 + common_contacts), 9) AS embeddedness
            FROM components
        )
        SELECT *, {strength_sql(weights)} AS strength FROM scored
        """


_REASON = (
    "{} distinct contacts (99th percentile of all numbers: {}); only {}% of them ever contact it "
    "back; {}% of its records are {}; {} s per record on average"
)


def service_numbers_sql(config: Config) -> str:
    """SQL of ``service_numbers`` (with the evidence) from ``links``."""
    cfg = config.links
    return f"""
        WITH ends AS (
            SELECT {_side("a", "b")} AS id, {_side("n_ab", "n_ba")} AS sent,
                   {_side("n_ba", "n_ab")} AS received, voice_seconds, records
            FROM links CROSS JOIN {_SIDES}
        ), per AS (
            SELECT id, count(*) AS contacts,
                   avg(CAST(sent > 0 AND received > 0 AS DOUBLE)) AS reciprocated,
                   sum(sent) / sum(sent + received) AS outbound_share,
                   sum(voice_seconds) / greatest(1, sum(records)) AS seconds_per_record
            FROM ends GROUP BY id
        ), population AS (SELECT quantile_cont(contacts, 0.99) AS p99 FROM per)
        SELECT id AS customer_id, contacts, reciprocated, outbound_share, seconds_per_record,
               format('{_REASON}',
                      contacts, round(p99)::INTEGER, round(100 * reciprocated, 1),
                      round(100 * greatest(outbound_share, 1 - outbound_share))::INTEGER,
                      CASE WHEN outbound_share >= 0.5 THEN 'outbound' ELSE 'inbound' END,
                      round(seconds_per_record)::INTEGER) AS reason
        FROM per, population
        WHERE contacts >= {cfg.service_min_contacts}
          AND reciprocated <= {cfg.service_max_reciprocity!r}
          AND greatest(outbound_share, 1 - outbound_share) >= {cfg.service_min_one_way_share!r}
        ORDER BY contacts DESC
        """


def nodes_sql(has_customers: bool) -> str:
    """SQL of ``nodes`` from ``links``, ``service_numbers`` and (if there are any) ``customers``.

    ``customers`` needs only ``customer_id`` and ``on_network``.
    """
    on_net = "coalesce(c.on_network, c.customer_id IS NOT NULL)" if has_customers else "true"
    join = "LEFT JOIN customers c ON c.customer_id = p.customer_id" if has_customers else ""
    return f"""
        WITH parties AS (SELECT DISTINCT {_side("a", "b")} AS customer_id
                         FROM links CROSS JOIN {_SIDES}
                         {"UNION SELECT customer_id FROM customers" if has_customers else ""})
        SELECT p.customer_id, {on_net} AS on_network,
               s.customer_id IS NOT NULL AS is_service
        FROM parties p {join} LEFT JOIN service_numbers s ON s.customer_id = p.customer_id
        ORDER BY p.customer_id
        """


def _social_state() -> str:
    """``link_state`` without the links of service numbers (they are not social ties)."""
    return """
        SELECT s.* FROM link_state s
        LEFT JOIN service_numbers x ON x.customer_id = s.a
        LEFT JOIN service_numbers y ON y.customer_id = s.b
        WHERE x.customer_id IS NULL AND y.customer_id IS NULL
    """


def _ends(columns: dict[str, str]) -> str:
    """Every social link from both of its ends: ``id`` and the link's ``columns`` seen from it.

    ``columns`` maps each output name to its expression seen from end ``a``; seen from ``b``,
    ``_ab`` and ``_ba`` swap.
    """
    seen = []
    for name, expr in columns.items():
        swapped = expr.replace("_ab", "_@@").replace("_ba", "_ab").replace("_@@", "_ba")
        seen.append(f"{expr if swapped == expr else _side(expr, swapped)} AS {name}")
    return (
        f"SELECT {_side('s.a', 's.b')} AS id, {', '.join(seen)} "
        f"FROM ({_social_state()}) s CROSS JOIN {_SIDES}"
    )


def activity_sql() -> str:
    """SQL of ``customer_activity``: each party's own contact behaviour, from its social links.

    Out (``_out``) is what the party initiated; in what its contacts initiated.  Service
    numbers' links are left out, as in the graph.
    """
    sides = {
        "voice_out": "n_voice_ab",
        "voice_in": "n_voice_ba",
        "sms_out": "n_sms_ab",
        "sms_in": "n_sms_ba",
        "other_out": "n_other_ab",
        "other_in": "n_other_ba",
        "voice_seconds_out": "voice_seconds_ab",
        "voice_seconds_in": "voice_seconds_ba",
        "first_ts": "first_ts",
        "last_ts": "last_ts",
        "week_mask": "week_mask",
    }
    return f"""
        SELECT e.id AS customer_id, count(*) AS contacts,
               CAST(sum(voice_out + sms_out + other_out) AS BIGINT) AS records_out,
               CAST(sum(voice_in + sms_in + other_in) AS BIGINT) AS records_in,
               CAST(sum(voice_out) AS BIGINT) AS voice_out,
               CAST(sum(voice_in) AS BIGINT) AS voice_in,
               CAST(sum(sms_out) AS BIGINT) AS sms_out, CAST(sum(sms_in) AS BIGINT) AS sms_in,
               CAST(sum(other_out) AS BIGINT) AS other_out,
               CAST(sum(other_in) AS BIGINT) AS other_in,
               CAST(sum(voice_seconds_out) AS DOUBLE) AS voice_seconds_out,
               CAST(sum(voice_seconds_in) AS DOUBLE) AS voice_seconds_in,
               min(first_ts) AS first_ts, max(last_ts) AS last_ts,
               CAST({_popcount("bit_or(week_mask)")} AS BIGINT) AS active_weeks
        FROM ({_ends(sides)}) e
        GROUP BY e.id
        ORDER BY customer_id
        """


def customer_weeks_sql() -> str:
    """SQL of ``customer_weeks``: each party's contacts active in each of the newest weeks.

    One row per party with social links; column ``w<i>`` counts its contacts active in the
    ``i``-th week before the as-of week (``w0``: the as-of week itself, ``w51``: 51 weeks
    before), weeks numbered from ``link_meta.origin`` as in the week masks.  Week ``k`` of a
    pair is active when bit ``k`` of its mask is set.  The mask's newest 52 weeks are cut out
    once per pair as a BIGINT ``recent`` (two modulos and one exact division of the 128-bit
    mask, which Spark's DECIMAL masks allow), bit ``j`` of it being week ``low + j`` of the
    mask; each week's bit is then read from ``recent`` with 64-bit arithmetic
    (``recent mod 2^(j+1) >= 2^j``), not from the mask: 104 modulos of a 128-bit integer per
    pair took most of the stage's time.  One row of 52 counters per party, not one row per
    party and week: the aggregation holds a tenth of the state (measured with
    ``benchmarks/bench_sizing.py``).  The flags are computed once per pair, then counted at
    both of its ends (``_SIDES``).  ``count`` of a flag, not ``sum`` of it as an integer:
    DuckDB's sum keeps a 128-bit total per group and counter, and with 52 counters at 1M
    parties the aggregate spilled 7 GB and took 53 s where count's took 8 s and fitted in
    0.5 GB.
    """
    last = ACTIVITY_WEEKS - 1
    low = f"greatest(0, aw - {last})"  # the mask's week that is bit 0 of `recent`
    recent = (
        f"CAST((week_mask % {_pow2('aw + 1')} - week_mask % {_pow2(low)}) // {_pow2(low)} "
        "AS BIGINT)"
    )
    flags, counts = [], []
    for i in range(ACTIVITY_WEEKS):
        j = f"greatest(0, top - {i})"  # the bit of `recent` that is week aw - i
        flags.append(f"aw >= {i} AND recent % {_bit(f'{j} + 1')} >= {_bit(j)} AS f{i}")
        counts.append(f"CAST(count(CASE WHEN f{i} THEN 1 END) AS INTEGER) AS w{i}")
    columns = ", ".join(f"f{i}" for i in range(ACTIVITY_WEEKS))
    state = f"""
        SELECT a, b, {", ".join(flags)}
        FROM (SELECT a, b, aw, least(aw, {last}) AS top, {recent} AS recent
              FROM (SELECT s.a, s.b, s.week_mask, {_AS_OF_WEEK} AS aw
                    FROM ({_social_state()}) s, link_meta m))
    """
    return f"""
        SELECT id AS customer_id, {", ".join(counts)}
        FROM (SELECT {_side("a", "b")} AS id, {columns} FROM ({state}) state CROSS JOIN {_SIDES})
        GROUP BY id
        ORDER BY customer_id
        """


_DESCRIPTIONS = {
    "link_structure": "Per link with any: its common contacts (contacts linked to both ends; "
    "contacts with service_min_contacts or more links left out).",
    "links": "Undirected links (a < b) with every strength component and the strength.",
    "service_numbers": "Service numbers and call centres, with the evidence; left out of the "
    "graph.",
    "nodes": "Every party: customers (on-network) and their off-network contacts.",
    "customer_activity": "Per party: contacts, records and call time out and in, first and last "
    "contact, active weeks (service numbers' links left out).",
    "customer_weeks": "Per party: contacts active in each of the 52 newest weeks (w0 = the as-of "
    "week, w1 the week before, ...); service numbers' links left out.",
}


def link_tables(
    config: Config, has_customers: bool, with_conversations: bool = False
) -> list[tuple[str, str, str]]:
    """(name, SQL, description) of every table of the links stage, in the order they are built.

    ``with_conversations``: replies and mentions (``conversation_links``) are links too.
    """
    links = links_sql(
        config.links.strength_weights,
        with_conversations=with_conversations,
        spark=config.engine.engine == "spark",
    )
    return [
        (
            "link_structure",
            structure_sql(config, spark=config.engine.engine == "spark"),
            _DESCRIPTIONS["link_structure"],
        ),
        ("links", links, _DESCRIPTIONS["links"]),
        ("service_numbers", service_numbers_sql(config), _DESCRIPTIONS["service_numbers"]),
        ("nodes", nodes_sql(has_customers), _DESCRIPTIONS["nodes"]),
        ("customer_activity", activity_sql(), _DESCRIPTIONS["customer_activity"]),
        ("customer_weeks", customer_weeks_sql(), _DESCRIPTIONS["customer_weeks"]),
    ]


@dataclass(frozen=True)
class LinkSummary:
    """Counts describing the links built."""

    links: int
    nodes: int
    on_network: int
    service_numbers: int
    engine: str = "duckdb"
    half_life_days: float | None = None  # the decay of the record weights
    half_life_reason: str = ""  # where that half-life came from


def build_links(ctx: RunContext, config: Config) -> LinkSummary:
    """Build ``links``, ``links_directed``, ``service_numbers``, ``nodes`` and the activity tables.

    First the records ingest staged are folded into ``link_state`` and ``link_meta``
    (:func:`tiewise.links.state.fold_interactions`), and the replies and mentions of
    ``conversations`` into ``conversation_links``.  ``links`` is a table on either engine (on
    Spark every table is computed there and imported).  It was a view over ``link_state`` on
    DuckDB until issue 19: at a million subscribers each read of it computed the strength of
    11.6M pairs again (their week masks' bit counts, the common contacts' join: 4.5 s), and a
    run reads it about ten times; written once, it takes 16 s.
    """
    con = ctx.con
    meta = fold_interactions(ctx, config)
    write_conversation_links(ctx, config)
    # replies and mentions join the links when there are any (an empty join is still a join
    # on every read of the view)
    talk = ctx.has_table("conversation_links") and bool(
        scalar(con, "SELECT count(*) > 0 FROM conversation_links")
    )
    tables = link_tables(config, ctx.has_table("customers"), talk)
    if config.engine.engine == "spark":
        from tiewise.links.spark import link_tables_on_spark  # PySpark is optional

        link_tables_on_spark(ctx, config, tables)
    else:
        for name, sql, description in tables:
            ctx.write_table(name, sql, stage="links", description=description)
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
    nodes, on_network, service = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE on_network), count(*) FILTER (WHERE is_service) "
        "FROM nodes"
    ).fetchall()[0]
    links = int(scalar(con, "SELECT count(*) FROM links"))
    return LinkSummary(
        links=links,
        nodes=int(nodes),
        on_network=int(on_network),
        service_numbers=int(service),
        engine=config.engine.engine,
        half_life_days=meta.half_life_days,
        half_life_reason=meta.half_life_reason,
    )
