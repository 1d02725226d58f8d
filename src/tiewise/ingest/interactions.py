"""Loading interaction records at operator scale: checked, deduplicated, pseudonymised, staged.

Records are never materialised row by row in Python.  One DuckDB pass over each source checks
every rule and drops duplicates (exact copies, and the same call logged from both phones); a
larger input is cut into slices by a hash of the pair first, so that each slice's
deduplication fits in memory.  Identifiers are pseudonymised on the distinct parties only
(hashing every record would cost more than all the rest) and joined back.

What ingest leaves for the links stage, which folds it into the per-pair ``link_state`` (the
link-strength formula lives there, :mod:`tiewise.links.state`) and then drops it:

``pending_interactions``  the clean records of this load: ``from_id``, ``to_id`` (party
                          numbers), ``channel``, ``duration_s``, ``timestamp``, ``copies`` (raw
                          rows it stands for), ``two_sided`` (logged by both phones), ``missed``
``pending_parties``       each party number's pseudonym: the records carry 4-byte numbers, not
                          20-character pseudonyms, and the links stage names the pairs once
                          they are folded (11.6M pairs, not 50M records, at a million customers)
``pending_loads``         per source loaded: whether it replaces ``link_state`` (a full load) or
                          adds to it, the newest accepted record (the as-of time), and its span
                          on a full load (oldest record, rows, distinct pairs: for choosing a
                          half-life)

All three are temporary tables of the run (in memory, spilled to the workspace's ``tmp/`` folder
when large; never written to the workspace file): staging costs that folder about 25 bytes a
record for the length of one run, and the links stage of the same run drops them.
``interaction_parties`` keeps every party seen (pseudonymised), for matching conversation
speakers when there is no customers input.

``ingested_files`` remembers which files were loaded.  A run loads only files it has not seen;
when a loaded file changed or disappeared, the settings that shape the records changed (column
mapping, deduplication, the channels known, the key), or the caller asks for it (the links
stage's settings changed: :func:`tiewise.links.state.rebuild_reason`), it reloads every file.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import shutil
from dataclasses import dataclass, field, replace
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
from tiewise.store import RunContext, file_order, scalar, sql_identifier, sql_string
from tiewise.tables import check_table

__all__ = ["STAGED_COLUMNS", "load_interactions"]

STAGED_COLUMNS = "from_id, to_id, channel, duration_s, timestamp, copies, two_sided, missed"


@dataclass(frozen=True)
class _Plan:
    mode: str  # "full", "incremental" or "unchanged"
    reason: str
    loads: list[tuple[Source, list[FileStat]]]


def history_hash(config: Config, key: bytes | None) -> str:
    """A hash of everything that shapes the clean records: a change means reloading every file."""
    specs = [s.model_dump_json() for s in config.inputs.sources("interactions")]
    key_id = hmac.new(key, b"tiewise key fingerprint", hashlib.sha256).hexdigest() if key else ""
    parts = [
        *specs,
        str(config.ingest.deduplicate),
        str(config.ingest.duplicate_tolerance_s),
        str(config.ingest.duplicate_duration_tolerance_s),
        repr(sorted(config.links.channel_weights)),  # a channel without a weight is rejected
        key_id,
        "staged records",  # loads before the links stage folded them: reloaded once
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _plan(ctx: RunContext, sources: list[Source], digest: str, rebuild: str | None) -> _Plan:
    everything = [(s, list(s.files)) for s in sources]
    if not ctx.has_table("ingested_files"):
        return _Plan("full", "first load", everything)
    previous = ctx.con.execute(
        "SELECT source, path, bytes, mtime, history_hash FROM ingested_files "
        "WHERE input = 'interactions'"
    ).fetchall()
    if not previous:
        return _Plan("full", "first load", everything)
    if rebuild is not None:
        return _Plan("full", rebuild, everything)
    if not ctx.has_table("interaction_parties"):
        return _Plan("full", "the workspace was loaded by an earlier version", everything)
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
    """SQL of the source's newest accepted record: a rejected row never moves the as-of time.

    Spark's query; on DuckDB :func:`_stage` finds it in the checked rows it stages.
    """
    validated = validated_select(source, columns, config, row_numbers=False)
    return f"SELECT max(timestamp) FROM ({validated.sql}) WHERE _rule IS NULL"


def _records_sql(config: Config, rows: str, *, isolated_first: bool = True) -> str:
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

    A record with no other record of its parties and channel (either side, either direction of
    time) within ``duplicate_tolerance_s`` cannot take part in any of the three steps: it
    starts a run and a burst of its own and comes out as it went in.  So the steps (each a
    window over its records) run only on the records of a key -- parties, channel and rule,
    hashed -- whose times, sorted, have two within the tolerance, or a row without a time
    (their copies are exact); every other record is out as it came in.  A window over the
    keys' hashes and times alone (16 bytes a record) finds those keys, cheaper than sorting
    the records; a hash shared by two keys only sends more records through the steps, whose
    windows are by key: the same result.  ``rows`` is read three times: give a table.
    Without ``isolated_first`` every record takes the steps (Spark's optimiser runs out of
    memory on the split plan; the equality tests of the two engines thereby also check that
    both forms agree).
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
    columns = "_rule, from_id, to_id, channel, duration_s, timestamp, _in, _missed"
    if isolated_first:
        near_keys = f"""
        near_keys AS (
            SELECT DISTINCT _key FROM (
                SELECT _key, t, t - lag(t) OVER (PARTITION BY _key ORDER BY t) AS gap
                FROM (SELECT hash({key}) AS _key, epoch(timestamp) AS t FROM {rows})
            ) WHERE t IS NULL OR gap <= {skew}
        ),"""
        marked = f"""
            SELECT {columns} FROM {rows} r
            SEMI JOIN near_keys n ON hash({_prefixed(key, "r")}) = n._key"""
        isolated = f"""
        UNION ALL
        SELECT _rule, from_id, to_id, channel, duration_s, timestamp, CAST(1 AS BIGINT) AS copies,
               _in AS seen_in, NOT _in AS seen_out, _missed AS missed
        FROM {rows} r ANTI JOIN near_keys n ON hash({_prefixed(key, "r")}) = n._key"""
    else:
        near_keys = ""
        marked = f"SELECT {columns} FROM {rows}"
        isolated = ""
    return f"""
        WITH {near_keys} marked AS ({marked}
        ), exact AS (
            SELECT _rule, from_id, to_id, channel, duration_s, timestamp, _in,
                   count(*) AS copies, bool_or(_missed) AS missed
            FROM marked
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
        GROUP BY {key}, burst, k, CASE WHEN differ THEN _in END{isolated}
    """


def _prefixed(columns: str, alias: str) -> str:
    """``columns`` ("a, b") with a table alias ("r.a, r.b")."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def slices(ctx: RunContext, config: Config, source: Source) -> int:
    """How many slices to deduplicate ``source`` in, so that each fits in memory.

    Deduplication groups every record: a hash table far larger than the pairs, which above the
    memory limit DuckDB would spill to disk, many times slower.  Slicing the records by a hash
    of their pair keeps each slice in memory and is exact: the copies of a record, and all
    records of a pair, fall in the same slice.  The row count comes from Parquet metadata, or
    is estimated from the size of CSV files (40 bytes a line; gzip 4:1).
    """
    if not source.files:
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


BYTES_PER_RECORD = 320  # peak memory per record of one slice's deduplication


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


def span_sql(source: Source, columns: dict[str, str]) -> str:
    """SQL of the source's oldest timestamp, its rows and its distinct pairs.

    Exact, so that DuckDB and Spark give the links stage the same figures to choose a half-life
    from: one scan of three columns, grouped by pair.  Timestamps before 1990 are left out, as
    the rules reject them.
    """
    user = source.user_column("timestamp")
    typed = timestamp_sql(sql_identifier(user), columns[user], source.spec)
    ends = [
        f"CAST({sql_identifier(source.user_column(c))} AS VARCHAR)" for c in ("from_id", "to_id")
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


_EMPTY_RECORDS = (
    "SELECT NULL::INTEGER AS from_id, NULL::INTEGER AS to_id, NULL::VARCHAR AS channel, "
    "NULL::DOUBLE AS duration_s, NULL::TIMESTAMP AS timestamp, NULL::BIGINT AS copies, "
    "NULL::BOOLEAN AS two_sided, NULL::BOOLEAN AS missed WHERE false"
)
_EMPTY_PARTIES = "SELECT NULL::INTEGER AS party, NULL::VARCHAR AS id WHERE false"
_EMPTY_KEPT = (
    "SELECT NULL::VARCHAR AS from_id, NULL::VARCHAR AS to_id, NULL::TIMESTAMP AS timestamp, "
    "NULL::VARCHAR AS channel, NULL::DOUBLE AS duration_s WHERE false"
)
_EMPTY_LOADS = (
    "SELECT NULL::INTEGER AS run_id, NULL::VARCHAR AS source, NULL::BOOLEAN AS rebuild, "
    "NULL::TIMESTAMP AS newest, NULL::TIMESTAMP AS oldest, NULL::BIGINT AS rows, "
    "NULL::BIGINT AS pairs, NULL::VARCHAR AS location WHERE false"
)

_Time = datetime.datetime | None
LoadRow = tuple[int, str, bool, _Time, _Time, int, int, str | None]
"""One row of ``pending_loads``: run, source, rebuild, newest, oldest, rows, pairs, location."""


def _staging_table(ctx: RunContext, name: str, empty: str, full: bool) -> None:
    """Create the staging table ``name`` (a full load: empty it), checked as declared.

    A temporary table of the run's connection: DuckDB keeps it in memory and spills it to the
    workspace's ``tmp/`` folder, never to the workspace file (whose freed blocks would stay
    behind as free space, about 25 bytes a record), and it ends with the run.
    """
    if full or not ctx.has_table(name):
        ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE {sql_identifier(name)} AS {empty}")
        check_table(ctx.con, name, "ingest")


def stage_loads(ctx: RunContext, rows: list[LoadRow], *, full: bool) -> None:
    """Add ``rows`` to ``pending_loads`` (a full load: replace it)."""
    _staging_table(ctx, "pending_loads", _EMPTY_LOADS, full)
    ctx.con.executemany("INSERT INTO pending_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _start(ctx: RunContext, config: Config, full: bool) -> None:
    """Create the tables the records of this load go to (a full load: empty them)."""
    _staging_table(ctx, "pending_interactions", _EMPTY_RECORDS, full)
    if config.ingest.keep_interactions and (full or not ctx.has_table("interactions")):
        ctx.write_table(
            "interactions",
            _EMPTY_KEPT,
            stage="ingest",
            description="Every valid interaction record, deduplicated.",
        )
    _staging_table(ctx, "pending_parties", _EMPTY_PARTIES, full)
    # this load's parties: raw id -> party number (the raw ids never leave this table)
    ctx.con.execute("CREATE OR REPLACE TEMP TABLE _ids (id VARCHAR, party INTEGER)")


@dataclass
class _Tally:
    """What one source's records came to: raw rows per rule broken, and the valid records."""

    by_rule: dict[int, int] = field(default_factory=dict)
    total: int = 0  # raw rows, valid or not
    valid: int = 0  # distinct valid records
    duplicates: int = 0
    two_sided: int = 0
    missed: int = 0
    newest: datetime.datetime | None = None  # the newest valid record


_CHECKED_COLUMNS = "_rule, from_id, to_id, channel, duration_s, timestamp, _in, _missed"


def _stage(ctx: RunContext, config: Config, key: bytes | None, rows: str, tally: _Tally) -> None:
    """The checked ``rows``: counted, and the valid ones deduplicated and staged.

    The rows are read once, into ``_checked``; the counts per rule, the newest valid record,
    the new parties and the deduplication (:func:`_records_sql`) all read that table.  A rule
    is counted on the rows that break it (duplicates among them are not looked for: nothing
    else needs them).  Each new party gets a number (``_ids``) and its pseudonym once
    (``pending_parties``); the distinct valid records go to ``pending_interactions`` with the
    parties' numbers (and to ``interactions``, when kept, with their pseudonyms), and what they
    came to is read from what was added.
    """
    con = ctx.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS SELECT {_CHECKED_COLUMNS} FROM {rows}")
    for rule, n, newest in con.execute(
        "SELECT _rule, count(*), max(timestamp) FROM _checked GROUP BY _rule"
    ).fetchall():
        tally.total += int(n)
        if rule is not None:
            tally.by_rule[int(rule)] = tally.by_rule.get(int(rule), 0) + int(n)
        elif newest is not None and (tally.newest is None or newest > tally.newest):
            tally.newest = newest
    numbered = int(scalar(con, "SELECT coalesce(max(party), 0) FROM pending_parties"))
    con.execute(
        f"INSERT INTO _ids SELECT id, CAST({numbered} + row_number() OVER () AS INTEGER) FROM ("
        "SELECT from_id AS id FROM _checked WHERE _rule IS NULL "
        "UNION SELECT to_id FROM _checked WHERE _rule IS NULL EXCEPT SELECT id FROM _ids)"
    )
    pseudonym = "id" if key is None else hmac_sql("id", key)
    con.execute(
        f"INSERT INTO pending_parties SELECT party, {pseudonym} FROM _ids WHERE party > {numbered}"
    )
    valid = "(SELECT * FROM _checked WHERE _rule IS NULL)"
    clean = (
        "SELECT f.party AS from_id, t.party AS to_id, r.channel, r.duration_s, r.timestamp, "
        "CAST(r.copies AS BIGINT) AS copies, r.seen_in AND r.seen_out AS two_sided, r.missed "
        f"FROM ({_records_sql(config, valid)}) r "
        "JOIN _ids f ON f.id = r.from_id JOIN _ids t ON t.id = r.to_id"
    )
    if config.ingest.keep_interactions:  # read twice: computed once
        con.execute(f"CREATE OR REPLACE TEMP TABLE _clean AS {clean}")
        clean = "SELECT * FROM _clean"
    before = _staged_counts(ctx)
    con.execute(f"INSERT INTO pending_interactions ({STAGED_COLUMNS}) {clean}")
    added = [a - b for a, b in zip(_staged_counts(ctx), before, strict=True)]
    tally.valid += added[0]
    tally.duplicates += added[1]
    tally.two_sided += added[2]
    tally.missed += added[3]
    if config.ingest.keep_interactions:
        con.execute(
            "INSERT INTO interactions SELECT f.id, t.id, c.timestamp, c.channel, c.duration_s "
            "FROM _clean c JOIN pending_parties f ON f.party = c.from_id "
            "JOIN pending_parties t ON t.party = c.to_id"
        )
        con.execute("DROP TABLE _clean")
    con.execute("DROP TABLE _checked")


def _staged_counts(ctx: RunContext) -> tuple[int, int, int, int]:
    """Records, duplicates dropped, calls logged by both phones and missed calls staged so far."""
    row = ctx.con.execute(
        "SELECT count(*), coalesce(sum(copies - 1), 0), count(*) FILTER (WHERE two_sided), "
        "count(*) FILTER (WHERE missed) FROM pending_interactions"
    ).fetchall()[0]
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def _stage_in_slices(
    ctx: RunContext,
    config: Config,
    key: bytes | None,
    validated: str,
    folder: Path,
    n: int,
    tally: _Tally,
) -> None:
    """Write the checked records to ``n`` Parquet slices by pair, then stage slice by slice."""
    pair = "least(from_id, to_id), greatest(from_id, to_id)"
    ctx.con.execute(
        f"COPY (SELECT *, hash({pair}) % {n} AS _slice FROM ({validated})) "
        f"TO {sql_path(str(folder))} (FORMAT parquet, PARTITION_BY (_slice), COMPRESSION snappy)"
    )
    for i in range(n):
        part = folder / f"_slice={i}"
        if part.exists():
            rows = f"read_parquet({sql_path(str(part / '*.parquet'))}, hive_partitioning = false)"
            _stage(ctx, config, key, rows, tally)


def _load_source(
    ctx: RunContext,
    config: Config,
    key: bytes | None,
    prepared: tuple[Source, dict[str, str], str],
    summary: IngestSummary,
) -> tuple[int, int, int, _Time]:
    """Check, deduplicate and stage one source; report its rules.

    Returns (valid, rejected, total, newest valid record).
    """
    con = ctx.con
    source, columns, rejects = prepared
    n = slices(ctx, config, source)
    validated = validated_select(
        source, columns, config, row_numbers=False, rejects=rejects, carry_bad=n > 1
    )
    folder = _slice_folder(ctx, source) if n > 1 else None
    tally = _Tally()
    try:
        if folder is None:
            _stage(ctx, config, key, f"({validated.sql})", tally)
        else:
            _stage_in_slices(ctx, config, key, validated.sql, folder, n, tally)
        total = tally.total
        malformed = (
            malformed_lines(ctx, source, rejects, config, summary, total)
            if source.fmt == "csv"
            else 0
        )
        counts = tally.by_rule
        bad = 0
        if counts and folder is not None and source.fmt == "parquet":
            # The slices kept the bad rows with their row numbers and raw values: no re-read.
            every_slice = sql_path(str(folder / "*" / "*.parquet"))
            rows_sql = f"SELECT * FROM read_parquet({every_slice}, hive_partitioning = false)"
            bad = record_rules(
                ctx, source, validated, counts, total, config, summary, rows_sql, malformed
            )
        else:
            # Read again, with row numbers, exactly as the first pass read: storing the
            # malformed lines (in a table of their own, dropped: they are reported above; a
            # failed run's rollback drops it). DuckDB's ignore_errors recovers differently
            # after an unclosed quote: a pass with it can miss rows the first pass counted.
            again = f"{rejects}_again"
            detailed = validated_select(source, columns, config, row_numbers=True, rejects=again)
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
            con.execute(f"DROP TABLE IF EXISTS {again}")
            con.execute(f"DROP TABLE IF EXISTS {again}_scan")
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    add_record_counts(summary, source, total, tally.duplicates, tally.two_sided, tally.missed)
    return tally.valid, bad + malformed, total + malformed, tally.newest


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


def _record_files(ctx: RunContext, source: Source) -> None:
    ctx.con.executemany(
        "INSERT INTO _new_files VALUES (?, ?, ?, ?, ?, ?)",
        [
            ["interactions", source.label, f.path, f.bytes, f.mtime, ctx.run_id]
            for f in source.files
        ],
    )


def _profile(
    ctx: RunContext, prepared: tuple[Source, dict[str, str], str], full: bool, newest: _Time
) -> LoadRow:
    """The source's row of ``pending_loads``: its newest accepted record; on a full load its span.

    The newest record (found while staging) is the as-of time the links stage decays weights to
    (a rejected row never moves it); the span (oldest record, rows, distinct pairs) is what it
    chooses a half-life from.
    """
    source, columns, _ = prepared
    oldest, rows, pairs = None, 0, 0
    if full:
        oldest, n, m = ctx.con.execute(span_sql(source, columns)).fetchall()[0]
        rows, pairs = int(n or 0), int(m)
    return (ctx.run_id, source.label, full, newest, oldest, rows, pairs, None)


def _parties(ctx: RunContext, full: bool) -> None:
    """``interaction_parties``: every party of the valid records (this load's: pending_parties)."""
    earlier = "" if full else " UNION SELECT party FROM interaction_parties"
    ctx.write_table(
        "interaction_parties",
        f"SELECT party FROM (SELECT id AS party FROM pending_parties{earlier}) ORDER BY party",
        stage="ingest",
        description="Every party of the interaction records, pseudonymised.",
    )


def load_interactions(
    ctx: RunContext,
    config: Config,
    key: bytes | None,
    summary: IngestSummary,
    *,
    rebuild: str | None = None,
) -> None:
    """Check, deduplicate and pseudonymise the new interaction records; stage them for links.

    ``rebuild``: why every file must be read again although none changed (the links stage's
    settings changed), or None.
    """
    con = ctx.con
    sources = resolve_sources(config, "interactions")
    digest = history_hash(config, key)
    plan = _plan(ctx, sources, digest, rebuild)
    summary.mode, summary.reason = plan.mode, plan.reason
    if plan.mode == "unchanged":
        summary.loaded["interactions"] = 0
        summary.add(
            RuleCount(
                "interactions", "loaded", None, 0, None, None, "unchanged: no new interaction files"
            )
        )
        return
    full = plan.mode == "full"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _new_files (input VARCHAR, source VARCHAR, path VARCHAR, "
        "bytes BIGINT, mtime BIGINT, run_id INTEGER)"
    )
    _start(ctx, config, full)
    prepared = []
    for source, files in plan.loads:
        only_new = replace(source, files=tuple(files))
        _record_files(ctx, only_new)
        prepared.append(prepare(ctx, only_new, summary))
    valid = rejected = total = 0
    profiles = []
    for one in prepared:
        n_valid, n_rejected, n_total, newest = _load_source(ctx, config, key, one, summary)
        valid, rejected, total = valid + n_valid, rejected + n_rejected, total + n_total
        profiles.append(_profile(ctx, one, full, newest))
    stage_loads(ctx, profiles, full=full)
    if total == 0 and full:
        raise InputError(
            f"inputs.interactions: the file(s) {', '.join(s.spec.path for s in sources)} hold no "
            "rows: there is no network to build."
        )
    _parties(ctx, full)
    loaded = (
        "SELECT input, source, path, bytes, mtime, run_id, "
        f"{sql_string(digest)} AS history_hash FROM _new_files"
    )
    if not full:
        loaded = f"SELECT * FROM ingested_files UNION ALL {loaded}"
    ctx.write_table(
        "ingested_files",
        loaded,
        stage="ingest",
        description="Every interaction file loaded: path, size, time, run.",
    )
    con.execute("DROP TABLE _ids")
    con.execute("DROP TABLE _new_files")
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
