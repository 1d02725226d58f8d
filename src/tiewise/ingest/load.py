"""Ingest: load every configured input into the workspace, checked and pseudonymised.

Interactions go through :mod:`tiewise.ingest.interactions` (deduplicated and staged for the
links stage, incremental); the snapshot inputs through :mod:`tiewise.ingest.tables`.  Every rule
broken, every duplicate dropped and every fix applied is counted in ``ingest_report``; bad rows
go to ``rejected_rows`` (``quarantine``) or stop the run at the first one (``strict``).  All of
it happens inside the run's transaction: nothing half-loaded ever reaches the result tables.
"""

from __future__ import annotations

from typing import Any

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.checks import IngestSummary
from tiewise.ingest.conversations import CONVERSATION_TABLES, load_conversations
from tiewise.ingest.interactions import load_interactions
from tiewise.ingest.schemas import SCHEMAS
from tiewise.ingest.sources import fingerprint_inputs
from tiewise.ingest.tables import load_table
from tiewise.store import RunContext, sql_string

__all__ = ["IngestSummary", "fingerprint_inputs", "ingest"]

_REPORT_COLUMNS = ("input", "rule", "column", "rows", "share", "example", "action", "expected")


def ingest(
    ctx: RunContext, config: Config, key: bytes | None, *, rebuild: str | None = None
) -> IngestSummary:
    """Load every configured input into the workspace.

    Parameters
    ----------
    ctx
        The run (its transaction).
    config
        The configuration; ``config.inputs`` names the files.
    key
        The pseudonymisation key, or None to keep raw identifiers (explicit opt-out).
    rebuild
        Why every interaction file must be read again although none changed (the links
        stage's settings changed: :func:`tiewise.links.state.rebuild_reason`), or None.

    Returns
    -------
    IngestSummary
        Rows loaded and rejected per input, and every line of the ingest report.
    """
    if not config.inputs.sources("interactions"):
        raise InputError(
            "no [inputs.interactions] in the configuration: tiewise needs interaction records "
            "to build the network. See `tiewise init` for a template."
        )
    ctx.con.execute("SET TimeZone = 'UTC'")
    ctx.con.execute("DROP TABLE IF EXISTS rejected_rows")
    ctx.con.execute("DELETE FROM _tiewise_tables WHERE name = 'rejected_rows'")
    summary = IngestSummary()
    if config.engine.engine == "spark":
        from tiewise.ingest.spark import load_interactions_spark  # PySpark is optional

        load_interactions_spark(ctx, config, key, summary)
    else:
        load_interactions(ctx, config, key, summary, rebuild=rebuild)
    for name, schema in SCHEMAS.items():
        if name not in ("interactions", *CONVERSATION_TABLES) and config.inputs.sources(name):
            load_table(ctx, config, key, schema, summary)
    load_conversations(ctx, config, key, summary)
    values = ", ".join(
        "(" + ", ".join(_literal(getattr(line, k)) for k in _REPORT_COLUMNS) + ")"
        for line in summary.lines
    )
    ctx.write_table(
        "ingest_report",
        "SELECT input::VARCHAR AS input, rule::VARCHAR AS rule, column_name::VARCHAR AS "
        "column_name, rows::BIGINT AS rows, share::DOUBLE AS share, example::VARCHAR AS example, "
        "action::VARCHAR AS action, expected::VARCHAR AS expected "
        f"FROM (VALUES {values}) AS t(input, rule, column_name, rows, share, example, action, "
        "expected)",
        stage="ingest",
        description="What ingest loaded, dropped, fixed and rejected, per input and rule.",
    )
    return summary


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    return sql_string(str(value))
