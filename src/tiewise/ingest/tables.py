"""Loading the snapshot inputs (customers, transactions, adoptions, churn, engagement).

They are read whole at every run, checked, pseudonymised, and written to their tables.
"""

from __future__ import annotations

from tiewise.config import Config
from tiewise.ingest.checks import (
    IngestSummary,
    RuleCount,
    malformed_lines,
    prepare,
    record_rules,
)
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.ingest.rules import validated_select
from tiewise.ingest.schemas import Column, InputSchema
from tiewise.ingest.sources import Source, resolve_sources
from tiewise.store import RunContext, file_order, scalar

__all__ = ["load_table", "sql_type"]


def sql_type(column: Column) -> str:
    """The DuckDB type a column is stored as."""
    return {
        "id": "VARCHAR",
        "text": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "number": "DOUBLE",
        "integer": "BIGINT",
        "boolean": "BOOLEAN",
    }[column.kind]


def _load_source(
    ctx: RunContext, config: Config, key: bytes | None, source: Source, summary: IngestSummary
) -> None:
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
        return
    counts = dict(
        con.execute(
            f"SELECT _rule, count(*) FROM {checked} WHERE _rule IS NOT NULL GROUP BY _rule"
        ).fetchall()
    )
    bad = record_rules(
        ctx, source, validated, counts, total, config, summary, f"SELECT * FROM {checked}"
    )
    schema = source.schema
    present = {c.name for c in validated.present}
    outputs = []
    for c in schema.columns:
        if c.name not in present:
            outputs.append(f"NULL::{sql_type(c)} AS {c.name}")
        elif c.kind == "id" and key is not None:
            outputs.append(f"{hmac_sql(c.name, key)} AS {c.name}")
        else:
            outputs.append(c.name)
    select = f"SELECT {', '.join(outputs)} FROM {checked} WHERE _rule IS NULL"
    if schema.table not in ctx.written:
        ctx.write_table(schema.table, select, stage="ingest", description=schema.doc)
    else:
        con.execute(f"INSERT INTO {schema.table} {select}")
    con.execute(f"DROP TABLE {checked}")
    summary.loaded[schema.name] = summary.loaded.get(schema.name, 0) + total - bad
    summary.rejected[schema.name] = summary.rejected.get(schema.name, 0) + bad + malformed


def load_table(
    ctx: RunContext,
    config: Config,
    key: bytes | None,
    schema: InputSchema,
    summary: IngestSummary,
) -> None:
    """Load every source of a snapshot input into its table."""
    for source in resolve_sources(config, schema.name):
        _load_source(ctx, config, key, source, summary)
    if schema.table not in ctx.written:  # every source was empty: no stale table from before
        empty = ", ".join(f"NULL::{sql_type(c)} AS {c.name}" for c in schema.columns)
        ctx.write_table(
            schema.table, f"SELECT {empty} WHERE false", stage="ingest", description=schema.doc
        )
    if schema.name in summary.loaded:
        summary.add(
            RuleCount(
                schema.name, "loaded", None, summary.loaded[schema.name], None, None, "loaded"
            )
        )
