"""Loading interaction records at operator scale into per-pair state (``link_state``).

Records are never materialised row by row.  One DuckDB pass over each source checks every rule,
drops duplicates (exact copies, and the same call logged from both phones), and aggregates the
valid records per pair of parties, their weights decayed to the newest record (found by a cheap
first pass over the timestamps).  Identifiers are pseudonymised after that, on the distinct
parties only (hashing every record would cost more than all the rest).  ``link_state`` holds
everything the link-strength formula needs, in a form that new files merge into without
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

``link_meta`` holds the as-of time (the newest record) and the week origin.  When new records
arrive, the old weights are decayed to the new as-of time (one multiplication: the exponential
decay of a sum is the sum of the decays) and the week masks shifted to the new origin.

``ingested_files`` remembers which files were loaded.  A run loads only files it has not seen;
when a loaded file changed or disappeared, or the settings that shape history changed (column
mapping, deduplication, half-life, channel or duration weights, the key), it rebuilds from all
files.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.checks import (
    IngestSummary,
    RuleCount,
    malformed_lines,
    prepare,
    record_rules,
)
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.ingest.rules import timestamp_sql, validated_select
from tiewise.ingest.sources import FileStat, Source, resolve_sources, sql_path
from tiewise.store import RunContext, file_order, scalar

__all__ = ["FIXED_POINT", "MASK_WEEKS", "load_interactions"]

FIXED_POINT = 2.0**32  # sums of doubles are kept as integers of 2^-32: exact and order-free
MASK_WEEKS = 127  # weeks of activity a pair's week mask (a HUGEINT) can hold

_COUNTS = ("n_voice_ab", "n_voice_ba", "n_sms_ab", "n_sms_ba", "n_other_ab", "n_other_ba")
_STATE_AGG = (
    ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in _COUNTS)
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
_TOTAL = " + ".join(_COUNTS)
_STATE_COLUMNS = (
    "a, b, " + ", ".join(_COUNTS) + ", voice_seconds_ab, voice_seconds_ba, weight_fp, "
    "week_mask, first_ts, last_ts, duplicates, two_sided, missed, n_off_hours"
)
# Off hours: evenings, nights (18:00 to 08:00) and weekends; 1990-01-01 was a Monday.
OFF_HOURS = (
    "(hour(timestamp) < 8 OR hour(timestamp) >= 18 "
    "OR date_diff('day', DATE '1990-01-01', CAST(timestamp AS DATE)) % 7 >= 5)"
)


@dataclass(frozen=True)
class _Plan:
    mode: str  # "full", "incremental" or "unchanged"
    reason: str
    loads: list[tuple[Source, list[FileStat]]]


def history_hash(config: Config, key: bytes | None) -> str:
    """A hash of everything that shapes ``link_state``: a change means rebuilding from files."""
    specs = [s.model_dump_json() for s in config.inputs.sources("interactions")]
    key_id = hmac.new(key, b"tiewise key fingerprint", hashlib.sha256).hexdigest() if key else ""
    parts = [
        *specs,
        str(config.ingest.deduplicate),
        str(config.ingest.duplicate_tolerance_s),
        str(config.ingest.duplicate_duration_tolerance_s),
        repr(config.links.half_life_days),
        repr(sorted(config.links.channel_weights.items())),
        repr(config.links.duration_weight),
        key_id,
        "state with n_off_hours",  # the columns of link_state: older workspaces are rebuilt
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _plan(ctx: RunContext, sources: list[Source], digest: str) -> _Plan:
    everything = [(s, list(s.files)) for s in sources]
    if not (ctx.has_table("link_state") and ctx.has_table("ingested_files")):
        return _Plan("full", "first load", everything)
    previous = ctx.con.execute(
        "SELECT source, path, bytes, mtime, history_hash FROM ingested_files "
        "WHERE input = 'interactions'"
    ).fetchall()
    if not previous:
        return _Plan("full", "first load", everything)
    if any(row[4] != digest for row in previous):
        return _Plan("full", "the interactions settings or the key changed", everything)
    current = {(s.label, f.path): f for s in sources for f in s.files}
    for label, path, size, mtime, _ in previous:
        now = current.get((label, path))
        if now is None:
            return _Plan("full", f"{path} was loaded before and is no longer an input", everything)
        if (now.bytes, now.mtime) != (size, mtime):
            return _Plan("full", f"{path} changed since it was loaded", everything)
    seen = {(row[0], row[1]) for row in previous}
    loads = [(s, [f for f in s.files if (s.label, f.path) not in seen]) for s in sources]
    loads = [(s, files) for s, files in loads if files]
    if not loads:
        return _Plan("unchanged", "no new interaction files", [])
    n = sum(len(files) for _, files in loads)
    return _Plan("incremental", f"{n} new file(s) merged into earlier ones", loads)


def newest_sql(source: Source, columns: dict[str, str], config: Config) -> str:
    """SQL of the source's newest accepted record: a rejected row never moves the as-of time."""
    validated = validated_select(source, columns, config, row_numbers=False)
    return f"SELECT max(timestamp) FROM ({validated.sql}) WHERE _rule IS NULL"


def _newest(
    ctx: RunContext, source: Source, columns: dict[str, str], config: Config
) -> datetime.datetime | None:
    """The source's newest accepted record (None when it has none)."""
    row = ctx.con.execute(newest_sql(source, columns, config)).fetchall()
    return row[0][0] if row else None


def _records_sql(config: Config, rows: str) -> str:
    """SQL of the distinct records among ``rows`` (validated, normalised interaction rows).

    Copies are looked for among records of the same parties, direction and channel, in time
    order, in three steps:

    1. exact copies (same duration, time and logging side) collapse;
    2. two records from the same side are one call logged twice when the second starts while
       the first, by its duration, was still going on (one person cannot call the same person
       twice at once), within ``duplicate_tolerance_s`` and with durations within
       ``duplicate_duration_tolerance_s``: a redial (it starts after the first call ended, and
       any zero-duration attempt does) is never a copy;
    3. records logged by the two phones (``_in``: the receiver's side) are grouped into bursts
       whose gaps are at most ``duplicate_tolerance_s`` (the clocks' skew); in a burst the
       caller's k-th record and the receiver's k-th record are one call, as each phone logs each
       call once, unless their durations differ by more than the duration tolerance.  Redials
       logged by both phones thus stay separate calls, each matched with its own copy.
    """
    if not config.ingest.deduplicate:
        return f"""
            SELECT _rule, from_id, to_id, channel, duration_s, timestamp, 1 AS copies,
                   _in AS seen_in, NOT _in AS seen_out, _missed AS missed
            FROM {rows}
        """
    skew = config.ingest.duplicate_tolerance_s
    spread = config.ingest.duplicate_duration_tolerance_s
    key = "_rule, from_id, to_id, channel"
    order = "ORDER BY timestamp, duration_s"
    length = "coalesce(duration_s, 0)"
    gap = "epoch(timestamp) - epoch(lag(timestamp) OVER w)"
    continues = f"""coalesce({gap} <= {skew} AND {gap} < lag({length}) OVER w
                   AND abs({length} - lag({length}) OVER w) <= {spread}, false)"""
    running = "ROWS UNBOUNDED PRECEDING"
    return f"""
        WITH exact AS (
            SELECT _rule, from_id, to_id, channel, duration_s, timestamp, _in,
                   count(*) AS copies, bool_or(_missed) AS missed
            FROM {rows}
            GROUP BY _rule, from_id, to_id, channel, duration_s, timestamp, _in
        ), same_side AS (
            SELECT *, {continues} AS continues
            FROM exact WINDOW w AS (PARTITION BY {key}, _in {order})
        ), same_runs AS (
            SELECT *, sum(CASE WHEN continues THEN 0 ELSE 1 END) OVER w AS run
            FROM same_side WINDOW w AS (PARTITION BY {key}, _in {order} {running})
        ), same_paired AS (
            SELECT *, (row_number() OVER (PARTITION BY {key}, _in, run {order}) + 1) // 2 AS k
            FROM same_runs
        ), one_side AS (
            SELECT _rule, from_id, to_id, channel, _in, max(duration_s) AS duration_s,
                   min(timestamp) AS timestamp, sum(copies) AS copies, bool_or(missed) AS missed
            FROM same_paired GROUP BY {key}, _in, run, k
        ), gaps AS (
            SELECT *, coalesce({gap} <= {skew}, false) AS close
            FROM one_side WINDOW w AS (PARTITION BY {key} ORDER BY timestamp, _in, duration_s)
        ), bursts AS (
            SELECT *, sum(CASE WHEN close THEN 0 ELSE 1 END) OVER w AS burst
            FROM gaps WINDOW w AS (PARTITION BY {key} ORDER BY timestamp, _in, duration_s
                                   {running})
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY {key}, burst, _in {order}) AS k
            FROM bursts
        ), checked AS (
            SELECT *, max({length}) OVER m - min({length}) OVER m > {spread} AS differ
            FROM ranked WINDOW m AS (PARTITION BY {key}, burst, k)
        )
        SELECT _rule, from_id, to_id, channel,
               max(duration_s) AS duration_s, min(timestamp) AS timestamp,
               CAST(sum(copies) AS BIGINT) AS copies,
               bool_or(_in) AS seen_in, bool_or(NOT _in) AS seen_out, bool_or(missed) AS missed
        FROM checked
        GROUP BY {key}, burst, k, CASE WHEN differ THEN _in END
    """


def _pairs_sql(config: Config, frame: _Meta, records: str) -> str:
    """SQL aggregating distinct ``records`` per pair (and rule broken) into link-state columns."""
    half_life_s = frame.half_life_days * 86400.0
    weights = " ".join(f"WHEN '{c}' THEN {w!r}" for c, w in config.links.channel_weights.items())
    # Rejected rows are aggregated too (per rule, for the counts) but get no weight or week: a
    # rejected time far in the future (or infinite) would overflow them.
    weight = (
        "CASE WHEN _rule IS NULL THEN "
        f"(CASE channel {weights} ELSE 0 END)"
        f" * (1 + {config.links.duration_weight!r} * ln(1 + coalesce(duration_s, 0) / 60.0))"
        f" * pow(2, (epoch(timestamp) - epoch(TIMESTAMP '{frame.as_of}')) / {half_life_s!r})"
        " ELSE 0 END"
    )
    # floor, not //: integer division truncates, which would put days just before the origin
    # into week 0 instead of leaving them out of the mask
    days = (
        f"CASE WHEN _rule IS NULL THEN date_diff('day', DATE '{frame.origin}', "
        "CAST(timestamp AS DATE)) END"
    )
    week = f"CAST(floor({days} / 7) AS INTEGER)"
    other = "channel NOT IN ('voice', 'sms')"
    return f"""
        SELECT _rule,
               least(from_id, to_id) AS a, greatest(from_id, to_id) AS b,
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
               CAST(sum(CAST(round(({weight}) * {FIXED_POINT}) AS HUGEINT)) AS HUGEINT)
                   AS weight_fp,
               bit_or(CASE WHEN {week} BETWEEN 0 AND {MASK_WEEKS - 1}
                           THEN CAST(1 AS HUGEINT) << CAST({week} AS INTEGER)
                           ELSE CAST(0 AS HUGEINT) END) AS week_mask,
               min(timestamp) AS first_ts, max(timestamp) AS last_ts,
               CAST(sum(copies - 1) AS BIGINT) AS duplicates,
               count(*) FILTER (WHERE seen_in AND seen_out) AS two_sided,
               count(*) FILTER (WHERE missed) AS missed,
               count(*) FILTER (WHERE {OFF_HOURS}) AS n_off_hours,
               sum(copies) AS raw_rows
        FROM ({records})
        GROUP BY ALL
    """


def slices(ctx: RunContext, config: Config, source: Source) -> int:
    """How many slices to aggregate ``source`` in, so that each fits in memory.

    Deduplication groups every record: a hash table far larger than the pairs, which above the
    memory limit DuckDB would spill to disk, many times slower.  Slicing the records by a hash
    of their pair keeps each slice in memory and is exact: the copies of a record, and all
    records of a pair, fall in the same slice.  The row count comes from Parquet metadata, or
    is estimated from the size of CSV files (40 bytes a line; gzip 4:1).
    """
    if config.ingest.keep_interactions or not source.files:
        return 1
    if source.fmt == "parquet":
        files = "[" + ", ".join(sql_path(f.path) for f in source.files) + "]"
        rows = int(scalar(ctx.con, f"SELECT sum(num_rows) FROM parquet_file_metadata({files})"))
    else:
        rows = sum(f.bytes * (4 if f.path.endswith(".gz") else 1) for f in source.files) // 40
    per_slice = config.ingest.slice_rows or max(
        1_000_000, memory_limit_bytes(ctx.con) // BYTES_PER_RECORD
    )
    return max(1, -(-rows // per_slice))


BYTES_PER_RECORD = 320  # peak memory per record of one slice's deduplication and pairs


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's memory limit in bytes.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("SET memory_limit = '2GB'")
    >>> round(memory_limit_bytes(con) / 2**30, 1)  # DuckDB reports it as "1.8 GiB"
    1.8
    """
    text = str(scalar(con, "SELECT current_setting('memory_limit')")).strip()
    number, _, unit = text.partition(" ")
    scale = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
    scale |= {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    return int(float(number) * scale.get(unit.strip(), 1))


def _slice_folder(ctx: RunContext, source: Source) -> Path:
    folder = Path(str(scalar(ctx.con, "SELECT current_setting('temp_directory')")))
    folder = folder / f"tiewise-slices-{ctx.run_id}-{source.index}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def _aggregate_in_slices(
    ctx: RunContext, config: Config, frame: _Meta, validated: str, table: str, folder: Path, n: int
) -> None:
    """Write the checked records to ``n`` Parquet slices by pair, then aggregate slice by slice."""
    con = ctx.con
    pair = "least(from_id, to_id), greatest(from_id, to_id)"
    con.execute(
        f"COPY (SELECT *, hash({pair}) % {n} AS _slice FROM ({validated})) "
        f"TO {sql_path(str(folder))} (FORMAT parquet, PARTITION_BY (_slice), COMPRESSION snappy)"
    )
    created = False
    for i in range(n):
        part = folder / f"_slice={i}"
        if not part.exists():
            continue
        rows = f"read_parquet({sql_path(str(part / '*.parquet'))}, hive_partitioning = false)"
        sql = _pairs_sql(config, frame, _records_sql(config, rows))
        con.execute(
            f"INSERT INTO {table} {sql}" if created else f"CREATE TEMP TABLE {table} AS {sql}"
        )
        created = True


def _aggregate_source(
    ctx: RunContext,
    config: Config,
    prepared: tuple[Source, dict[str, str], str],
    frame: _Meta,
    summary: IngestSummary,
    table: str,
) -> tuple[int, int, int]:
    """Check and aggregate one source per pair into temp table ``table``.

    Weights are decayed to ``frame.as_of`` and weeks counted from ``frame.origin``.  Returns
    (valid, rejected, total) rows.
    """
    con = ctx.con
    source, columns, rejects = prepared
    n = slices(ctx, config, source)
    validated = validated_select(
        source, columns, config, row_numbers=False, rejects=rejects, carry_bad=n > 1
    )
    con.execute(f"DROP TABLE IF EXISTS {table}")
    folder = _slice_folder(ctx, source) if n > 1 else None
    try:
        if folder is None:
            records = _records_sql(config, f"({validated.sql})")
            if config.ingest.keep_interactions:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _records_{source.index} AS {records}")
                records = f"SELECT * FROM _records_{source.index}"
            con.execute(f"CREATE TEMP TABLE {table} AS {_pairs_sql(config, frame, records)}")
        else:
            _aggregate_in_slices(ctx, config, frame, validated.sql, table, folder, n)
        total = int(scalar(con, f"SELECT coalesce(sum(raw_rows), 0) FROM {table}"))
        malformed = (
            malformed_lines(ctx, source, rejects, config, summary, total)
            if source.fmt == "csv"
            else 0
        )
        counts = {
            int(rule): int(k)
            for rule, k in con.execute(
                f"SELECT _rule, sum(raw_rows) FROM {table} WHERE _rule IS NOT NULL GROUP BY _rule"
            ).fetchall()
        }
        bad = 0
        if counts and folder is not None and source.fmt == "parquet":
            # The slices kept the bad rows with their row numbers and raw values: no re-read.
            every_slice = sql_path(str(folder / "*" / "*.parquet"))
            rows_sql = f"SELECT * FROM read_parquet({every_slice}, hive_partitioning = false)"
            bad = record_rules(
                ctx, source, validated, counts, total, config, summary, rows_sql, malformed
            )
        else:
            detailed = validated_select(source, columns, config, row_numbers=True)
            with file_order(con):
                bad = record_rules(
                    ctx,
                    source,
                    validated,
                    counts,
                    total,
                    config,
                    summary,
                    detailed.raw_sql,
                    malformed,
                )
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    stats = con.execute(
        f"SELECT coalesce(sum({_TOTAL}), 0), coalesce(sum(duplicates), 0), "
        f"coalesce(sum(two_sided), 0), coalesce(sum(missed), 0) FROM {table} WHERE _rule IS NULL"
    ).fetchall()[0]
    valid, duplicates, two_sided, missed = (int(x) for x in stats)
    add_record_counts(summary, source, total, duplicates, two_sided, missed)
    return valid, bad + malformed, total + malformed


def add_record_counts(
    summary: IngestSummary, source: Source, total: int, duplicates: int, two_sided: int, missed: int
) -> None:
    """Report the duplicates dropped and the missed calls kept among ``total`` rows."""
    summary.dropped["interactions"] = summary.dropped.get("interactions", 0) + duplicates
    if duplicates:
        summary.add(
            RuleCount(
                "interactions",
                "duplicate_record",
                None,
                duplicates,
                duplicates / max(1, total),
                source.label,
                "dropped",
                f"{two_sided} of them the same call logged from both phones",
            )
        )
    if missed:
        summary.add(
            RuleCount(
                "interactions",
                "missed_call",
                "duration_s",
                missed,
                missed / max(1, total),
                source.label,
                "kept, duration 0",
                "a negative duration marks a missed call",
            )
        )


def half_life_line(frame: _Meta) -> RuleCount:
    """The ingest report's line saying which half-life the link weights decay with, and why."""
    return RuleCount(
        "interactions",
        "half_life",
        None,
        0,
        None,
        None,
        f"link weights decay with a half-life of {frame.half_life_days:g} days",
        frame.half_life_reason,
    )


def _record_files(ctx: RunContext, source: Source) -> None:
    ctx.con.executemany(
        "INSERT INTO _new_files VALUES (?, ?, ?, ?, ?, ?)",
        [
            ["interactions", source.label, f.path, f.bytes, f.mtime, ctx.run_id]
            for f in source.files
        ],
    )


def load_interactions(
    ctx: RunContext, config: Config, key: bytes | None, summary: IngestSummary
) -> None:
    """Load the interaction sources into ``link_state`` (and ``interactions`` if kept)."""
    con = ctx.con
    sources = resolve_sources(config, "interactions")
    digest = history_hash(config, key)
    plan = _plan(ctx, sources, digest)
    summary.mode, summary.reason = plan.mode, plan.reason
    if plan.mode == "unchanged":
        summary.loaded["interactions"] = 0
        summary.add(
            RuleCount(
                "interactions", "loaded", None, 0, None, None, "unchanged: no new interaction files"
            )
        )
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _new_files (input VARCHAR, source VARCHAR, path VARCHAR, "
        "bytes BIGINT, mtime BIGINT, run_id INTEGER)"
    )
    previous = _previous_meta(ctx) if plan.mode == "incremental" else None
    prepared = []
    for source, files in plan.loads:
        only_new = replace(source, files=tuple(files))
        _record_files(ctx, only_new)
        prepared.append(prepare(ctx, only_new, summary))
    frame = _frame(ctx, config, prepared, previous)
    parts = []
    valid = rejected = total = 0
    for one in prepared:
        table = f"_pairs_{one[0].index}"
        n_valid, n_rejected, n_total = _aggregate_source(ctx, config, one, frame, summary, table)
        valid, rejected, total = valid + n_valid, rejected + n_rejected, total + n_total
        parts.append(table)
    if total == 0 and plan.mode == "full":
        raise InputError(
            f"inputs.interactions: the file(s) {', '.join(s.spec.path for s in sources)} hold no "
            "rows: there is no network to build."
        )
    union = " UNION ALL ".join(
        f"SELECT {_STATE_COLUMNS} FROM {t} WHERE _rule IS NULL" for t in parts
    )
    if len(parts) == 1:  # one source: its pairs are already unique
        con.execute(f"CREATE OR REPLACE TEMP VIEW _pairs AS {union}")
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _pairs AS SELECT a, b, {_STATE_AGG} FROM ({union}) "
            "GROUP BY a, b"
        )
    first = scalar(con, "SELECT min(first_ts) FROM _pairs")
    if previous is not None and (first is None or previous.first_ts < first):
        first = previous.first_ts
    meta = replace(frame, first_ts=first or frame.as_of)
    summary.add(half_life_line(frame))
    new_state = _pseudonymised(ctx, key)
    if config.ingest.keep_interactions:
        _keep_records(ctx, key, [s.index for s, _ in plan.loads], append=plan.mode == "incremental")
    if previous is not None:
        new_state = _merged(config, new_state, previous, meta)
    ctx.write_table(
        "link_state",
        new_state,
        stage="ingest",
        description="Interactions per pair of parties, in mergeable form (see links).",
    )
    ctx.write_table(
        "link_meta",
        link_meta_sql(config, meta),
        stage="ingest",
        description="When the interactions start and end (as of), and the week origin.",
    )
    loaded = (
        "SELECT input, source, path, bytes, mtime, run_id, "
        f"'{digest}' AS history_hash FROM _new_files"
    )
    if plan.mode == "incremental":
        loaded = f"SELECT * FROM ingested_files UNION ALL {loaded}"
    ctx.write_table(
        "ingested_files",
        loaded,
        stage="ingest",
        description="Every input file loaded into link_state: path, size, time, run.",
    )
    con.execute(f"DROP {'VIEW' if len(parts) == 1 else 'TABLE'} _pairs")
    for t in parts:
        con.execute(f"DROP TABLE {t}")
    con.execute("DROP TABLE IF EXISTS _ids")
    summary.loaded["interactions"] = valid
    summary.rejected["interactions"] = rejected
    summary.add(
        RuleCount(
            "interactions",
            "loaded",
            None,
            valid,
            None,
            None,
            f"loaded ({plan.mode}: {plan.reason})",
        )
    )


@dataclass(frozen=True)
class _Meta:
    origin: datetime.date  # Monday of week 0 of the week masks
    as_of: datetime.datetime  # the newest record: weights are decayed to this time
    first_ts: datetime.datetime  # the oldest record
    half_life_days: float = 30.0  # the decay the weights were computed with
    half_life_reason: str = "[links] half_life_days"  # where that half-life came from


def link_meta_sql(config: Config, meta: _Meta) -> str:
    """SQL of the one row of ``link_meta``."""
    reason = meta.half_life_reason.replace("'", "''")
    return (
        f"SELECT DATE '{meta.origin}' AS origin, TIMESTAMP '{meta.as_of}' AS as_of, "
        f"TIMESTAMP '{meta.first_ts}' AS first_ts, "
        f"CAST({meta.half_life_days!r} AS DOUBLE) AS half_life_days, "
        f"'{reason}' AS half_life_reason"
    )


def read_meta(ctx: RunContext) -> _Meta:
    """``link_meta``'s row (workspaces from before the chosen half-life: the configured one)."""
    columns = set(ctx.con.execute("SELECT * FROM link_meta LIMIT 0").fetchdf().columns)
    reason = "half_life_reason" if "half_life_reason" in columns else "'[links] half_life_days'"
    origin, as_of, first_ts, half_life, why = ctx.con.execute(
        f"SELECT origin, as_of, first_ts, half_life_days, {reason} FROM link_meta"
    ).fetchall()[0]
    return _Meta(origin, as_of, first_ts, float(half_life), str(why))


def _previous_meta(ctx: RunContext) -> _Meta:
    return read_meta(ctx)


MIN_HALF_LIFE_DAYS = 7.0
RHYTHMS_PER_HALF_LIFE = 4  # a half-life spans at least this many of a pair's gaps between contacts


def span_sql(source: Source, columns: dict[str, str]) -> str:
    """SQL of the source's oldest timestamp, its rows and its distinct pairs.

    Exact, so that DuckDB and Spark choose the same half-life: one scan of three columns,
    grouped by pair.  Timestamps before 1990 are left out, as the rules reject them.
    """
    user = source.user_column("timestamp")
    typed = timestamp_sql('"' + user.replace('"', '""') + '"', columns[user], source.spec)
    ends = [
        'CAST("' + source.user_column(c).replace('"', '""') + '" AS VARCHAR)'
        for c in ("from_id", "to_id")
    ]
    return f"""
        SELECT min(first), sum(n), count(*) FROM (
            SELECT least({ends[0]}, {ends[1]}) AS x, greatest({ends[0]}, {ends[1]}) AS y,
                   min(CASE WHEN {typed} >= TIMESTAMP '1990-01-01' THEN {typed} END) AS first,
                   count(*) AS n
            FROM {source.reader(lenient=True)}
            GROUP BY least({ends[0]}, {ends[1]}), greatest({ends[0]}, {ends[1]})
        ) pairs
    """


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


def _frame(
    ctx: RunContext,
    config: Config,
    prepared: list[tuple[Source, dict[str, str], str]],
    previous: _Meta | None,
) -> _Meta:
    """The as-of time (the newest record, old or new) and the week origin for this load.

    Week masks hold MASK_WEEKS weeks from the origin: the Monday MASK_WEEKS - 7 weeks before the
    as-of day, so the newest weeks always fit and older ones fall off.
    """
    newest = [t for one in prepared if (t := _newest(ctx, one[0], one[1], config)) is not None]
    frame = frame_for(newest, previous)
    if previous is not None:  # merged into history decayed with the first load's half-life
        kept = f"{previous.half_life_reason}; kept from the first load (a full rebuild re-chooses)"
        return replace(frame, half_life_days=previous.half_life_days, half_life_reason=kept)
    spans = []
    if config.links.half_life_days is None:
        for source, columns, _ in prepared:
            oldest, rows, pairs = ctx.con.execute(span_sql(source, columns)).fetchall()[0]
            spans.append((oldest, int(rows or 0), int(pairs)))
    half_life, reason = half_life_setting(config, spans, frame.as_of)
    return replace(frame, half_life_days=half_life, half_life_reason=reason)


def frame_for(newest: list[datetime.datetime], previous: _Meta | None) -> _Meta:
    """The frame (see :func:`_frame`) given each source's newest record."""
    if previous is not None:
        newest = [*newest, previous.as_of]
    as_of = max(newest) if newest else datetime.datetime(1990, 1, 1)
    start = as_of.date() - datetime.timedelta(weeks=MASK_WEEKS - 7)
    origin = start - datetime.timedelta(days=start.weekday())
    return _Meta(origin, as_of, as_of)


def _merged(config: Config, new_state: str, previous: _Meta, meta: _Meta) -> str:
    """SQL merging the existing ``link_state`` (decayed and shifted to ``meta``) with new pairs."""
    half_life_s = previous.half_life_days * 86400.0
    elapsed = (meta.as_of - previous.as_of).total_seconds()
    shift = (meta.origin - previous.origin).days // 7
    old = f"""
        SELECT a, b, {", ".join(_COUNTS)}, voice_seconds_ab, voice_seconds_ba,
               CAST(round(weight_fp * pow(2, -{elapsed!r} / {half_life_s!r})) AS HUGEINT)
                   AS weight_fp,
               week_mask >> {shift} AS week_mask, first_ts, last_ts,
               duplicates, two_sided, missed, n_off_hours
        FROM link_state
    """
    return f"""
        SELECT a, b, {_STATE_AGG}
        FROM ({old} UNION ALL SELECT * FROM ({new_state})) GROUP BY a, b
    """


def _keep_records(ctx: RunContext, key: bytes | None, indexes: list[int], append: bool) -> None:
    """Write the valid, deduplicated records of this run to ``interactions``."""
    if key is None:
        ids = "from_id, to_id"
        joins = ""
    else:
        ids = "f.p AS from_id, t.p AS to_id"
        joins = "JOIN _ids f ON f.id = r.from_id JOIN _ids t ON t.id = r.to_id"
    select = " UNION ALL ".join(
        f"SELECT {ids}, r.timestamp, r.channel, r.duration_s FROM _records_{i} r {joins} "
        "WHERE r._rule IS NULL"
        for i in indexes
    )
    if append and ctx.has_table("interactions"):
        ctx.con.execute(f"INSERT INTO interactions {select}")
    else:
        ctx.write_table(
            "interactions",
            select,
            stage="ingest",
            description="Every valid interaction record, deduplicated.",
        )
    for i in indexes:
        ctx.con.execute(f"DROP TABLE _records_{i}")


def _pseudonymised(ctx: RunContext, key: bytes | None) -> str:
    """SQL for ``_pairs`` with pseudonyms for ids (a < b again, directions swapped)."""
    if key is None:
        return "SELECT * FROM _pairs"
    ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE _ids AS {ids_sql(key)}")
    return pseudonymised_sql()


def ids_sql(key: bytes) -> str:
    """SQL of every party of ``_pairs`` (``id``) with its pseudonym (``p``)."""
    return (
        f"SELECT id, {hmac_sql('id', key)} AS p FROM "
        "(SELECT a AS id FROM _pairs UNION SELECT b FROM _pairs)"
    )


def pseudonymised_sql() -> str:
    """SQL of ``_pairs`` with the pseudonyms of ``_ids`` (a < b again, directions swapped)."""
    swap = "pa.p > pb.p"
    return f"""
        SELECT CASE WHEN {swap} THEN pb.p ELSE pa.p END AS a,
               CASE WHEN {swap} THEN pa.p ELSE pb.p END AS b,
               CASE WHEN {swap} THEN r.n_voice_ba ELSE r.n_voice_ab END AS n_voice_ab,
               CASE WHEN {swap} THEN r.n_voice_ab ELSE r.n_voice_ba END AS n_voice_ba,
               CASE WHEN {swap} THEN r.n_sms_ba ELSE r.n_sms_ab END AS n_sms_ab,
               CASE WHEN {swap} THEN r.n_sms_ab ELSE r.n_sms_ba END AS n_sms_ba,
               CASE WHEN {swap} THEN r.n_other_ba ELSE r.n_other_ab END AS n_other_ab,
               CASE WHEN {swap} THEN r.n_other_ab ELSE r.n_other_ba END AS n_other_ba,
               CASE WHEN {swap} THEN r.voice_seconds_ba ELSE r.voice_seconds_ab END
                   AS voice_seconds_ab,
               CASE WHEN {swap} THEN r.voice_seconds_ab ELSE r.voice_seconds_ba END
                   AS voice_seconds_ba,
               r.weight_fp, r.week_mask, r.first_ts, r.last_ts,
               r.duplicates, r.two_sided, r.missed, r.n_off_hours
        FROM _pairs r JOIN _ids pa ON pa.id = r.a JOIN _ids pb ON pb.id = r.b
    """
