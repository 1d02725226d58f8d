"""The per-pair state of the links stage: the records ingest staged, folded into ``link_state``.

Ingest reads, checks, deduplicates and pseudonymises the interaction records and stages them:
the clean records in ``pending_interactions`` with numbers for parties, named by
``pending_parties`` (on Spark, with pseudonyms, as Parquet where ``pending_loads.location``
says), and one row per source loaded in ``pending_loads`` (its newest accepted record, and its
span for choosing a half-life).  Here the link-strength formula turns them into
``link_state``, one row per pair of parties, in a form that later loads merge into without
re-reading history:

``n_voice_ab``, ``n_voice_ba``  voice calls initiated by ``a`` (the smaller id) and by ``b``;
                                likewise ``n_sms_*`` and ``n_other_*`` (email, meeting, ...)
``voice_seconds_ab``, ``_ba``   total call time each way
``weight_fp``                   Σ channel_weight · (1 + duration_weight · ln(1 + minutes))
                                · 2^(-(as_of − t) / half-life), in fixed point (2^-32)
``week_mask``                   bit k set when the pair was in contact in week k after the origin
``first_ts``, ``last_ts``       first and last record
``duplicates``, ``two_sided``, ``missed``  records dropped as copies; calls logged from both sides;
                                missed calls (negative duration) kept with duration 0
``n_off_hours``                 records in the evening, at night (18:00-08:00) or at a weekend

``link_meta`` holds the as-of time (the newest record), the week origin, the half-life and a
fingerprint of the ``[links]`` settings the weights were computed with.  When new records
arrive, the old weights are decayed to the new as-of time (one multiplication: the exponential
decay of a sum is the sum of the decays) and the week masks shifted to the new origin.  The
staged records are dropped once folded, in the same transaction: the workspace keeps no record
(unless ``[ingest] keep_interactions``), only the pairs.

When the formula's settings (``half_life_days``, ``channel_weights``, ``duration_weight``)
changed since ``link_state`` was built, the pairs cannot be recomputed from themselves:
:func:`rebuild_reason` says so, and the pipeline then has ingest re-read every file.
``conversation_links`` puts the replies and mentions of ``conversations`` in the same form.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, replace

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.store import RunContext, scalar, sql_identifier, sql_string

__all__ = [
    "FIXED_POINT",
    "MASK_WEEKS",
    "OFF_HOURS",
    "LinkMeta",
    "choose_half_life",
    "conversation_links_sql",
    "fold_interactions",
    "formula_fingerprint",
    "frame_for",
    "half_life_setting",
    "link_meta_sql",
    "named_pairs_sql",
    "pairs_sql",
    "read_meta",
    "rebuild_reason",
]

FIXED_POINT = 2.0**32  # sums of doubles are kept as integers of 2^-32: exact and order-free
MASK_WEEKS = 127  # weeks of activity a pair's week mask (a HUGEINT) can hold
MIN_HALF_LIFE_DAYS = 7.0
RHYTHMS_PER_HALF_LIFE = 4  # a half-life spans at least this many of a pair's gaps between contacts

COUNTS = ("n_voice_ab", "n_voice_ba", "n_sms_ab", "n_sms_ba", "n_other_ab", "n_other_ba")
STATE_AGG = (
    ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in COUNTS)
    + """,
    CAST(sum(voice_seconds_ab) AS DOUBLE) AS voice_seconds_ab,
    CAST(sum(voice_seconds_ba) AS DOUBLE) AS voice_seconds_ba,
    CAST(sum(weight_fp) AS HUGEINT) AS weight_fp,
    bit_or(week_mask) AS week_mask,
    min(first_ts) AS first_ts, max(last_ts) AS last_ts,
    CAST(sum(duplicates) AS BIGINT) AS duplicates, CAST(sum(two_sided) AS BIGINT) AS two_sided,
    CAST(sum(missed) AS BIGINT) AS missed,
    CAST(sum(n_off_hours) AS BIGINT) AS n_off_hours
"""
)
# Off hours: evenings, nights (18:00 to 08:00) and weekends; 1990-01-01 was a Monday.
OFF_HOURS = (
    "(hour(timestamp) < 8 OR hour(timestamp) >= 18 "
    "OR date_diff('day', DATE '1990-01-01', CAST(timestamp AS DATE)) % 7 >= 5)"
)
PENDING = ("pending_interactions", "pending_parties", "pending_loads")


@dataclass(frozen=True)
class LinkMeta:
    """``link_meta``'s row: the frame the weights and week masks are computed in."""

    origin: datetime.date  # Monday of week 0 of the week masks
    as_of: datetime.datetime  # the newest record: weights are decayed to this time
    first_ts: datetime.datetime  # the oldest record
    half_life_days: float = 30.0  # the decay the weights were computed with
    half_life_reason: str = "[links] half_life_days"  # where that half-life came from


@dataclass(frozen=True)
class _Load:
    """One row of ``pending_loads``: a source ingest staged records of."""

    rebuild: bool
    newest: datetime.datetime | None
    oldest: datetime.datetime | None
    rows: int
    pairs: int
    location: str | None


def formula_fingerprint(config: Config) -> str:
    """A hash of the ``[links]`` settings that shape ``link_state``'s weights."""
    cfg = config.links
    parts = [
        repr(cfg.half_life_days),
        repr(sorted(cfg.channel_weights.items())),
        repr(cfg.duration_weight),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def rebuild_reason(ctx: RunContext, config: Config) -> str | None:
    """Why ``link_state`` must be rebuilt from every file (None: it can be kept or merged into).

    The pipeline asks before ingest: the pairs cannot be recomputed from themselves when the
    formula's settings changed, and the records are not kept.
    """
    if not ctx.has_table("link_state") or not ctx.has_table("link_meta"):
        loaded = ctx.has_table("ingested_files") and scalar(
            ctx.con, "SELECT count(*) FROM ingested_files WHERE input = 'interactions'"
        )
        return "link_state is missing" if loaded else None
    if "formula" not in ctx.columns("link_meta"):
        return "link_state was built by an earlier version"
    if scalar(ctx.con, "SELECT formula FROM link_meta") != formula_fingerprint(config):
        return (
            "the [links] weight settings (half_life_days, channel_weights, duration_weight) changed"
        )
    return None


def link_meta_sql(config: Config, meta: LinkMeta) -> str:
    """SQL of the one row of ``link_meta``."""
    return (
        f"SELECT DATE '{meta.origin}' AS origin, TIMESTAMP '{meta.as_of}' AS as_of, "
        f"TIMESTAMP '{meta.first_ts}' AS first_ts, "
        f"CAST({meta.half_life_days!r} AS DOUBLE) AS half_life_days, "
        f"{sql_string(meta.half_life_reason)} AS half_life_reason, "
        f"{sql_string(formula_fingerprint(config))} AS formula"
    )


def read_meta(ctx: RunContext) -> LinkMeta:
    """``link_meta``'s row (workspaces from before the chosen half-life: the configured one)."""
    columns = ctx.columns("link_meta")
    reason = "half_life_reason" if "half_life_reason" in columns else "'[links] half_life_days'"
    origin, as_of, first_ts, half_life, why = ctx.con.execute(
        f"SELECT origin, as_of, first_ts, half_life_days, {reason} FROM link_meta"
    ).fetchall()[0]
    return LinkMeta(origin, as_of, first_ts, float(half_life), str(why))


def choose_half_life(
    first: datetime.datetime, as_of: datetime.datetime, rows: int, pairs: int
) -> tuple[float, str]:
    """The decay half-life (days) for data spanning ``first`` to ``as_of``, and why.

    History is kept: the half-life is the data's span, so the oldest record still counts half
    as much as the newest (a fixed 30 days put 98% of an 804-day e-mail log's weight on its last
    60 days and lost its departments), and at least ``RHYTHMS_PER_HALF_LIFE`` times the contact
    rhythm -- the average days between a pair's contacts, span / (records per pair - 1) -- so
    that a sparse log, where most pairs are seen once or twice, does not rank ties by their age
    alone.  Never below a week.  How recent a tie's last contact is stays a separate component
    of the strength (``days_since_last``).

    Examples
    --------
    >>> t = datetime.datetime(2024, 1, 1)
    >>> choose_half_life(t, t + datetime.timedelta(days=804), 200_000, 10_000)[0]
    804.0
    >>> choose_half_life(t, t + datetime.timedelta(days=60), 15_000, 10_000)[0]
    240.0
    """
    span = max(0.0, (as_of - first).total_seconds() / 86400.0)
    per_pair = rows / max(1, pairs)
    rhythm = span / max(1.0, per_pair - 1.0)
    half_life = round(max(span, RHYTHMS_PER_HALF_LIFE * rhythm, MIN_HALF_LIFE_DAYS), 1)
    reason = (
        f"chosen from the data: it spans {span:.0f} days, a pair is in contact every "
        f"{rhythm:.1f} days on average ({per_pair:.1f} records a pair); half-life = the larger "
        f"of the span, {RHYTHMS_PER_HALF_LIFE} x that rhythm and {MIN_HALF_LIFE_DAYS:.0f} days, "
        f"so the oldest record counts {2 ** (-span / half_life):.0%} of the newest "
        "(set [links] half_life_days to override)"
    )
    return half_life, reason


def half_life_setting(
    config: Config, spans: list[tuple[datetime.datetime | None, int, int]], as_of: datetime.datetime
) -> tuple[float, str]:
    """The configured half-life, or one chosen from each source's (oldest, rows, pairs)."""
    if config.links.half_life_days is not None:
        return config.links.half_life_days, "set in [links] half_life_days"
    known = [s for s in spans if s[0] is not None]
    if not known:
        return 30.0, "no dated records: 30 days"
    first = min(s[0] for s in known if s[0] is not None)
    return choose_half_life(first, as_of, sum(s[1] for s in known), sum(s[2] for s in known))


def frame_for(newest: list[datetime.datetime], previous: LinkMeta | None) -> LinkMeta:
    """The as-of time (the newest record, old or new) and the week origin for a fold.

    Week masks hold MASK_WEEKS weeks from the origin: the Monday MASK_WEEKS - 7 weeks before the
    as-of day, so the newest weeks always fit and older ones fall off.
    """
    if previous is not None:
        newest = [*newest, previous.as_of]
    as_of = max(newest) if newest else datetime.datetime(1990, 1, 1)
    start = as_of.date() - datetime.timedelta(weeks=MASK_WEEKS - 7)
    origin = start - datetime.timedelta(days=start.weekday())
    return LinkMeta(origin, as_of, as_of)


def _weight_sql(config: Config, frame: LinkMeta) -> str:
    """SQL of one record's weight: channel, duration and age (decayed to ``frame.as_of``)."""
    half_life_s = frame.half_life_days * 86400.0
    weights = " ".join(
        f"WHEN {sql_string(c)} THEN {w!r}" for c, w in config.links.channel_weights.items()
    )
    return (
        f"(CASE channel {weights} ELSE 0 END)"
        f" * (1 + {config.links.duration_weight!r} * ln(1 + coalesce(duration_s, 0) / 60.0))"
        f" * pow(2, (epoch(timestamp) - epoch(TIMESTAMP '{frame.as_of}')) / {half_life_s!r})"
    )


def pairs_sql(config: Config, frame: LinkMeta, records: str) -> str:
    """SQL aggregating staged ``records`` (see ``pending_interactions``) per pair of parties.

    Weights are decayed to ``frame.as_of`` and weeks counted from ``frame.origin``.
    """
    # floor, not //: integer division truncates, which would put days just before the origin
    # into week 0 instead of leaving them out of the mask
    days = f"date_diff('day', DATE '{frame.origin}', CAST(timestamp AS DATE))"
    week = f"CAST(floor({days} / 7) AS INTEGER)"
    other = "channel NOT IN ('voice', 'sms')"
    return f"""
        SELECT least(from_id, to_id) AS a, greatest(from_id, to_id) AS b,
               count(*) FILTER (WHERE channel = 'voice' AND from_id < to_id) AS n_voice_ab,
               count(*) FILTER (WHERE channel = 'voice' AND from_id > to_id) AS n_voice_ba,
               count(*) FILTER (WHERE channel = 'sms' AND from_id < to_id) AS n_sms_ab,
               count(*) FILTER (WHERE channel = 'sms' AND from_id > to_id) AS n_sms_ba,
               count(*) FILTER (WHERE {other} AND from_id < to_id) AS n_other_ab,
               count(*) FILTER (WHERE {other} AND from_id > to_id) AS n_other_ba,
               CAST(coalesce(sum(duration_s) FILTER (WHERE channel = 'voice' AND from_id < to_id),
                             0) AS DOUBLE) AS voice_seconds_ab,
               CAST(coalesce(sum(duration_s) FILTER (WHERE channel = 'voice' AND from_id > to_id),
                             0) AS DOUBLE) AS voice_seconds_ba,
               CAST(sum(CAST(round(({_weight_sql(config, frame)}) * {FIXED_POINT}) AS HUGEINT))
                    AS HUGEINT) AS weight_fp,
               bit_or(CASE WHEN {week} BETWEEN 0 AND {MASK_WEEKS - 1}
                           THEN CAST(1 AS HUGEINT) << CAST({week} AS INTEGER)
                           ELSE CAST(0 AS HUGEINT) END) AS week_mask,
               min(timestamp) AS first_ts, max(timestamp) AS last_ts,
               CAST(sum(copies - 1) AS BIGINT) AS duplicates,
               count(*) FILTER (WHERE two_sided) AS two_sided,
               count(*) FILTER (WHERE missed) AS missed,
               count(*) FILTER (WHERE {OFF_HOURS}) AS n_off_hours
        FROM ({records})
        GROUP BY ALL
    """


_DIRECTED = (*COUNTS, "voice_seconds_ab", "voice_seconds_ba")


def named_pairs_sql(pairs: str, parties: str) -> str:
    """SQL of ``pairs`` (from :func:`pairs_sql` over records of party numbers) named by pseudonym.

    ``parties`` maps each number (``party``) to its pseudonym (``id``).  ``a`` is the smaller
    pseudonym, and a pair whose numbers are ordered the other way has its counts by direction
    swapped: the rows :func:`pairs_sql` gives over the pseudonyms themselves.  Aggregating
    4-byte numbers and naming the pairs afterwards joins 11.6M pairs instead of 100M record
    ends at a million customers.
    """
    swapped = ", ".join(
        f"CASE WHEN na.id < nb.id THEN s.{c} ELSE s.{c[:-2] + c[-2:][::-1]} END AS {c}"
        for c in _DIRECTED
    )
    return f"""
        SELECT least(na.id, nb.id) AS a, greatest(na.id, nb.id) AS b, {swapped},
               s.weight_fp, s.week_mask, s.first_ts, s.last_ts, s.duplicates, s.two_sided,
               s.missed, s.n_off_hours
        FROM ({pairs}) s JOIN {parties} na ON na.party = s.a JOIN {parties} nb ON nb.party = s.b
    """


def _merged_sql(new_state: str, previous: LinkMeta, meta: LinkMeta) -> str:
    """SQL merging the existing ``link_state`` (decayed and shifted to ``meta``) with new pairs."""
    half_life_s = previous.half_life_days * 86400.0
    elapsed = (meta.as_of - previous.as_of).total_seconds()
    shift = (meta.origin - previous.origin).days // 7
    old = f"""
        SELECT a, b, {", ".join(COUNTS)}, voice_seconds_ab, voice_seconds_ba,
               CAST(round(weight_fp * pow(2, -{elapsed!r} / {half_life_s!r})) AS HUGEINT)
                   AS weight_fp,
               week_mask >> {shift} AS week_mask, first_ts, last_ts,
               duplicates, two_sided, missed, n_off_hours
        FROM link_state
    """
    return f"""
        SELECT a, b, {STATE_AGG}
        FROM ({old} UNION ALL SELECT * FROM ({new_state})) GROUP BY a, b
    """


def _loads(ctx: RunContext) -> list[_Load]:
    if not ctx.has_table("pending_loads"):
        return []
    rows = ctx.con.execute(
        "SELECT rebuild, newest, oldest, rows, pairs, location FROM pending_loads ORDER BY run_id"
    ).fetchall()
    return [_Load(bool(r[0]), r[1], r[2], int(r[3] or 0), int(r[4] or 0), r[5]) for r in rows]


def _drop(ctx: RunContext, name: str) -> None:
    """Remove table ``name`` and its entry in the workspace's table list."""
    ctx.con.execute(f"DROP TABLE IF EXISTS {sql_identifier(name)}")
    ctx.con.execute("DELETE FROM _tiewise_tables WHERE name = ?", [name])


def fold_interactions(ctx: RunContext, config: Config) -> LinkMeta:
    """Fold the records ingest staged into ``link_state`` and ``link_meta``; drop them.

    A first load, or one ingest marked as a rebuild, replaces ``link_state``; later loads merge
    into it, decayed with the half-life of the first.  Nothing staged: ``link_state`` is kept
    as it is.  Returns the frame the weights are computed in (``link_meta``'s row).

    Raises
    ------
    InputError
        Nothing staged and no ``link_state``; or the formula's settings changed and nothing was
        re-read (the pipeline re-reads the files then: see :func:`rebuild_reason`).
    """
    loads = _loads(ctx)
    has_state = ctx.has_table("link_state") and ctx.has_table("link_meta")
    if not loads:
        if not has_state:
            raise InputError("no interactions in the workspace: ingest them first (`tiewise run`).")
        stale = rebuild_reason(ctx, config)
        if stale is not None:
            raise InputError(
                f"{stale} since link_state was built, and the records are not kept: run "
                "`tiewise run`, which re-reads the interaction files."
            )
        return read_meta(ctx)
    rebuild = any(load.rebuild for load in loads) or not has_state
    previous = None if rebuild else read_meta(ctx)
    if previous is not None and (stale := rebuild_reason(ctx, config)) is not None:
        raise InputError(
            f"{stale}: new records cannot be merged into link_state. Run `tiewise run`, which "
            "re-reads every interaction file."
        )
    frame = frame_for([x.newest for x in loads if x.newest is not None], previous)
    if previous is not None:  # merged into history decayed with the first load's half-life
        kept = f"{previous.half_life_reason}; kept from the first load (a full rebuild re-chooses)"
        frame = replace(frame, half_life_days=previous.half_life_days, half_life_reason=kept)
    else:
        spans = [(x.oldest, x.rows, x.pairs) for x in loads]
        half_life, reason = half_life_setting(config, spans, frame.as_of)
        frame = replace(frame, half_life_days=half_life, half_life_reason=reason)
    spark = [x.location for x in loads if x.location is not None]
    if spark:
        from tiewise.links.spark import fold_on_spark  # PySpark is optional

        if previous is not None:
            raise InputError(
                "records staged on Spark cannot be merged into an existing link_state: "
                'run again with engine = "spark" (it reads every record) or "duckdb".'
            )
        first = fold_on_spark(ctx, config, frame, spark)
    else:
        con = ctx.con
        state = named_pairs_sql(
            pairs_sql(config, frame, "SELECT * FROM pending_interactions"), "pending_parties"
        )
        if previous is not None:  # the new pairs first: the oldest record is among them or older
            con.execute(f"CREATE OR REPLACE TEMP TABLE _pairs AS {state}")
            first = scalar(con, "SELECT min(first_ts) FROM _pairs")
            state = _merged_sql("SELECT * FROM _pairs", previous, frame)
        ctx.write_table(
            "link_state",
            state,
            stage="links",
            description="Interactions per pair of parties, in mergeable form.",
        )
        if previous is None:
            first = scalar(con, "SELECT min(first_ts) FROM link_state")
        con.execute("DROP TABLE IF EXISTS _pairs")
    if previous is not None and (first is None or previous.first_ts < first):
        first = previous.first_ts
    meta = replace(frame, first_ts=first or frame.as_of)
    ctx.write_table(
        "link_meta",
        link_meta_sql(config, meta),
        stage="links",
        description="When the interactions start and end (as of), the week origin, the "
        "half-life and the settings the weights were computed with.",
    )
    for name in PENDING:
        _drop(ctx, name)
    return meta


def conversation_links_sql(config: Config, has_customers: bool) -> str:
    """SQL of ``conversation_links``: the replies and mentions of ``conversations`` per pair.

    Every reply and mention between two parties the network knows (customers, and parties of
    ``link_state``) is a record between speaker and party, weighted ``[conversations]
    reply_weight`` and ``mention_weight`` and decayed with the interactions' half-life to their
    as-of time, in link-state form.
    """
    cfg = config.conversations
    off = "(hour(timestamp) >= 18 OR hour(timestamp) < 8 OR isodow(timestamp) >= 6)"
    customers = (
        "UNION SELECT customer_id FROM customers WHERE coalesce(on_network, true)"
        if has_customers
        else ""
    )
    week = "CAST(floor(date_diff('day', m.origin, CAST(r.timestamp AS DATE)) / 7) AS INTEGER)"
    return f"""
        WITH parties AS (
            SELECT a AS id FROM link_state UNION SELECT b FROM link_state {customers}
        ), records AS (
            SELECT speaker AS from_id, reply_to AS to_id, timestamp, 'reply' AS kind
            FROM conversations WHERE reply_to IS NOT NULL AND {cfg.reply_weight!r} > 0
            UNION ALL
            SELECT speaker, unnest(mentions), timestamp, 'mention'
            FROM conversations WHERE len(mentions) > 0 AND {cfg.mention_weight!r} > 0
        ), valid AS (
            SELECT r.*, CASE kind WHEN 'reply' THEN {cfg.reply_weight!r}
                                  ELSE {cfg.mention_weight!r} END
                        * pow(2, least(0, epoch(r.timestamp) - epoch(m.as_of))
                                 / (m.half_life_days * 86400.0)) AS weight,
                   {week} AS week
            FROM records r, link_meta m
            WHERE r.from_id <> r.to_id
              AND r.from_id IN (SELECT id FROM parties) AND r.to_id IN (SELECT id FROM parties)
        )
        SELECT least(from_id, to_id) AS a, greatest(from_id, to_id) AS b,
               count(*) FILTER (WHERE kind = 'reply' AND from_id < to_id) AS n_replies_ab,
               count(*) FILTER (WHERE kind = 'reply' AND from_id > to_id) AS n_replies_ba,
               count(*) FILTER (WHERE kind = 'mention' AND from_id < to_id) AS n_mentions_ab,
               count(*) FILTER (WHERE kind = 'mention' AND from_id > to_id) AS n_mentions_ba,
               CAST(sum(CAST(round(weight * {FIXED_POINT}) AS HUGEINT)) AS HUGEINT) AS weight_fp,
               bit_or(CASE WHEN week BETWEEN 0 AND {MASK_WEEKS - 1}
                           THEN CAST(1 AS HUGEINT) << week ELSE CAST(0 AS HUGEINT) END)
                   AS week_mask,
               min(timestamp) AS first_ts, max(timestamp) AS last_ts,
               count(*) FILTER (WHERE {off}) AS n_off_hours
        FROM valid GROUP BY ALL ORDER BY a, b
        """


def write_conversation_links(ctx: RunContext, config: Config) -> None:
    """Write ``conversation_links`` (or drop it: no conversations, or both weights 0)."""
    cfg = config.conversations
    if not ctx.has_table("conversations") or (cfg.reply_weight == 0 and cfg.mention_weight == 0):
        _drop(ctx, "conversation_links")
        return
    ctx.write_table(
        "conversation_links",
        conversation_links_sql(config, ctx.has_table("customers")),
        stage="links",
        description="Replies and mentions per pair of parties: a channel of the network.",
    )
