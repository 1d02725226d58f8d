"""Loading the snapshot inputs (customers, transactions, adoptions, churn, engagement).

They are read whole at every run, checked, and staged with their file and row; an input with a
key (:mod:`tiewise.ingest.schemas`) then has its exact copies dropped and its conflicting rows
rejected or resolved, so that no key is ever joined twice; what is left is pseudonymised and
written to its table.
"""

from __future__ import annotations

from typing import Any

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.checks import (
    IngestSummary,
    RuleCount,
    check_bad_share,
    create_rejected,
    malformed_lines,
    prepare,
    record_rules,
    shown_value_sql,
)
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.ingest.rules import validated_select
from tiewise.ingest.schemas import Column, InputSchema
from tiewise.ingest.sources import Source, resolve_sources
from tiewise.store import RunContext, file_order, scalar, sql_string

__all__ = ["load_table", "sql_type"]


def sql_type(column: Column) -> str:
    """The DuckDB type a column is stored as."""
    return {
        "id": "VARCHAR",
        "ids": "VARCHAR",  # a list in one cell while staged (a VARCHAR[] once pseudonymised)
        "text": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "number": "DOUBLE",
        "integer": "BIGINT",
        "boolean": "BOOLEAN",
    }[column.kind]


def _staged(name: str) -> str:
    return f"_staged_{name}"


def _exists(ctx: RunContext, temp_table: str) -> bool:
    sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary"
    return bool(scalar(ctx.con, sql, [temp_table]))


def _load_source(
    ctx: RunContext, config: Config, source: Source, summary: IngestSummary
) -> tuple[int, int]:
    """Check one source and stage its good rows (raw ids); return (rows and lines, rejected)."""
    con = ctx.con
    source, columns, rejects = prepare(ctx, source, summary)
    validated = validated_select(source, columns, config, rejects=rejects)
    checked = f"_checked_{source.schema.name}"
    with file_order(con):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {checked} AS {validated.raw_sql}")
    total = int(scalar(con, f"SELECT count(*) FROM {checked}"))
    malformed = (
        malformed_lines(ctx, source, rejects, config, summary, total) if source.fmt == "csv" else 0
    )
    if total == 0:
        summary.add(
            RuleCount(
                source.schema.name,
                "empty_input",
                None,
                0,
                None,
                source.label,
                "skipped",
                "at least one row",
            )
        )
        con.execute(f"DROP TABLE {checked}")
        check_bad_share(source.label, config, 0, "", malformed, total)
        return malformed, malformed
    counts = dict(
        con.execute(
            f"SELECT _rule, count(*) FROM {checked} WHERE _rule IS NOT NULL GROUP BY _rule"
        ).fetchall()
    )
    bad = record_rules(
        ctx,
        source,
        validated,
        counts,
        total,
        config,
        summary,
        f"SELECT * FROM {checked}",
        malformed,
    )
    present = {c.name for c in validated.present}
    outputs = [
        c.name if c.name in present else f"NULL::{sql_type(c)} AS {c.name}"
        for c in source.schema.columns
    ]
    select = (
        f"SELECT _file, _row, {sql_string(source.label)} AS _source, {', '.join(outputs)} "
        f"FROM {checked} WHERE _rule IS NULL"
    )
    staged = _staged(source.schema.name)
    if _exists(ctx, staged):
        con.execute(f"INSERT INTO {staged} {select}")
    else:
        con.execute(f"CREATE TEMP TABLE {staged} AS {select}")
    con.execute(f"DROP TABLE {checked}")
    return total + malformed, bad + malformed


def output_sql(column: Column, key: bytes | None) -> str:
    """The stored value of a staged column: identifiers pseudonymised, lists split.

    An ``ids`` cell (``"@ann, @bob"``) becomes a list of identifiers, each pseudonymised.
    """
    if column.kind == "ids":
        parts = f"list_filter(string_split_regex({column.name}, '[\\s,;]+'), lambda x: x <> '')"
        return parts if key is None else f"list_transform({parts}, lambda x: {hmac_sql('x', key)})"
    if column.kind == "id" and key is not None:
        return hmac_sql(column.name, key)
    return column.name


def load_table(
    ctx: RunContext,
    config: Config,
    key: bytes | None,
    schema: InputSchema,
    summary: IngestSummary,
    *,
    into: str | None = None,
) -> None:
    """Load every source of a snapshot input into its table (one row per key, if it has one).

    With ``into`` the rows go to that temporary table instead, for a later step to finish.
    """
    con = ctx.con
    staged = _staged(schema.name)
    con.execute(f"DROP TABLE IF EXISTS {staged}")
    seen = rejected = 0
    for source in resolve_sources(config, schema.name):
        n_seen, n_rejected = _load_source(ctx, config, source, summary)
        seen, rejected = seen + n_seen, rejected + n_rejected
    has_rows = _exists(ctx, staged)
    dropped = 0
    if has_rows and schema.key:
        dropped, conflicting = _one_row_per_key(ctx, config, schema, summary, seen, rejected)
        rejected += conflicting
    outputs = [f"{output_sql(c, key)} AS {c.name}" for c in schema.columns]
    if has_rows:
        select = f"SELECT {', '.join(outputs)} FROM {staged}"
    else:  # every source was empty: no stale table from before
        empty = ", ".join(
            f"NULL::{'VARCHAR[]' if c.kind == 'ids' else sql_type(c)} AS {c.name}"
            for c in schema.columns
        )
        select = f"SELECT {empty} WHERE false"
    if into is None:
        loaded = ctx.write_table(schema.table, select, stage="ingest", description=schema.doc)
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {select}")
        loaded = int(scalar(con, f"SELECT count(*) FROM {into}"))
    con.execute(f"DROP TABLE IF EXISTS {staged}")
    summary.loaded[schema.name] = loaded
    summary.rejected[schema.name] = rejected
    summary.dropped[schema.name] = dropped
    summary.add(RuleCount(schema.name, "loaded", None, loaded, None, None, "loaded"))


def _one_row_per_key(
    ctx: RunContext,
    config: Config,
    schema: InputSchema,
    summary: IngestSummary,
    seen: int,
    rejected: int,
) -> tuple[int, int]:
    """Apply the key rule to the staged rows; return (rows dropped, rows rejected).

    Exact copies (equal in every column, after typing) are dropped and counted
    (``duplicate_row``).  Rows that still share a key disagree about it: with ``on_conflict =
    "reject"`` all of them are rejected (``conflicting_key``, with the first column they
    disagree on), with ``"earliest"`` the earliest is kept and the others dropped
    (``repeated_key``).
    """
    con = ctx.con
    staged = _staged(schema.name)
    every = ", ".join(c.name for c in schema.columns)
    key = ", ".join(schema.key)
    in_order = "ORDER BY _file, _row"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _copies AS SELECT _file, _row, _source FROM {staged} "
        f"QUALIFY row_number() OVER (PARTITION BY {every} {in_order}) > 1"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM {staged} "
        f"QUALIFY row_number() OVER (PARTITION BY {every} {in_order}) = 1"
    )
    per_key = f"one row per {' and '.join(schema.key)}"
    copies = _report(ctx, summary, schema, "duplicate_row", "_copies", seen, "dropped", per_key)
    con.execute("DROP TABLE _copies")
    others = [c for c in schema.columns if c.name not in schema.key]
    if schema.on_conflict == "earliest":
        order = f"ORDER BY timestamp, {in_order.removeprefix('ORDER BY ')}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _later AS SELECT _file, _row, _source FROM {staged} "
            f"QUALIFY row_number() OVER (PARTITION BY {key} {order}) > 1"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM {staged} "
            f"QUALIFY row_number() OVER (PARTITION BY {key} {order}) = 1"
        )
        later = _report(
            ctx,
            summary,
            schema,
            "repeated_key",
            "_later",
            seen,
            "dropped: the earliest is kept",
            per_key,
        )
        con.execute("DROP TABLE _later")
        return copies + later, 0
    differs = " ".join(
        f"WHEN count(DISTINCT {c.name}) > 1 OR count({c.name}) NOT IN (0, count(*)) THEN '{c.name}'"
        for c in others
    )
    values = " ".join(f"WHEN '{c.name}' THEN CAST(s.{c.name} AS VARCHAR)" for c in others)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _conflicts AS
        SELECT s._file, s._row, s._source, k._column,
               {shown_value_sql(f"CASE k._column {values} END")} AS _value
        FROM {staged} s JOIN (
            SELECT {key}, CASE {differs} END AS _column FROM {staged}
            GROUP BY {key} HAVING count(*) > 1
        ) k USING ({key})
        """
    )
    expected = f"{per_key} (rows for one disagree; which is right is unknown)"
    conflicting = _report(
        ctx, summary, schema, "conflicting_key", "_conflicts", seen, "rejected", expected
    )
    if conflicting:
        first = con.execute(
            "SELECT _file, _row, _column FROM _conflicts ORDER BY _file, _row LIMIT 1"
        ).fetchall()[0]
        where = f"{first[0]}, data row {first[1]}, column {first[2]}"
        if config.ingest.policy == "strict":
            raise InputError(
                f"{where}: rule conflicting_key broken: expected {per_key}; {conflicting} rows "
                f"share a {key} with another that differs. Keep one row per {key}, or use "
                "policy = 'quarantine' to set them aside instead."
            )
        check_bad_share(
            f"inputs.{schema.name}",
            config,
            rejected + conflicting,
            f"conflicting_key (e.g. {where})",
            0,
            seen,
        )
        if not ctx.has_table("rejected_rows"):
            create_rejected(ctx)
        con.execute(
            f"INSERT INTO rejected_rows SELECT '{schema.name}', _source, _file, _row, "
            "'conflicting_key', _column, _value FROM _conflicts"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM {staged} s "
            "ANTI JOIN _conflicts c USING (_file, _row, _source)"
        )
    con.execute("DROP TABLE _conflicts")
    return copies, conflicting


def _report(
    ctx: RunContext,
    summary: IngestSummary,
    schema: InputSchema,
    rule: str,
    table: str,
    seen: int,
    action: str,
    expected: str,
) -> int:
    """Add the ingest report's line for the rows of ``table`` (file, row); return how many."""
    rows: tuple[Any, ...] = ctx.con.execute(
        f"SELECT count(*), arg_min(_file, (_file, _row)), arg_min(_row, (_file, _row)) FROM {table}"
    ).fetchall()[0]
    n = int(rows[0])
    if n:
        where = f"{rows[1]}, data row {rows[2]}"
        key = ", ".join(schema.key)
        summary.add(RuleCount(schema.name, rule, key, n, n / max(1, seen), where, action, expected))
    return n
