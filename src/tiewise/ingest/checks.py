"""What every source goes through before its rows are used.

Column checks, counting the rules broken, examples, the strict and quarantine policies, and the
``rejected_rows`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.rules import Validated
from tiewise.ingest.sources import FileStat, Source
from tiewise.store import RunContext

__all__ = [
    "IngestSummary",
    "RuleCount",
    "check_columns",
    "malformed_lines",
    "prepare",
    "record_rules",
    "usable_files",
]


@dataclass
class RuleCount:
    """One line of the ingest report."""

    input: str
    rule: str
    column: str | None
    rows: int
    share: float | None
    example: str | None
    action: str
    expected: str | None = None


@dataclass
class IngestSummary:
    """What ingest loaded, dropped and rejected."""

    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    lines: list[RuleCount] = field(default_factory=list)
    mode: str = "full"
    reason: str = ""

    def add(self, line: RuleCount) -> None:
        """Add a line to the report."""
        self.lines.append(line)


def prepare(
    ctx: RunContext, source: Source, summary: IngestSummary
) -> tuple[Source, dict[str, str], str]:
    """The source narrowed to its non-empty files, its columns (checked), and a rejects table.

    Every source goes through this before it is read: empty files are reported, a missing
    required column stops the run, and CSV lines DuckDB cannot parse go to the rejects table.
    """
    source = replace(source, files=tuple(usable_files(source, summary)))
    columns = source.columns(ctx.con)
    check_columns(source, columns)
    return source, columns, f"_rejects_{source.schema.name}_{source.index}"


def usable_files(source: Source, summary: IngestSummary) -> list[FileStat]:
    """The source's non-empty files; empty ones are reported, all empty is an error."""
    empty = [f for f in source.files if f.bytes == 0]
    for f in empty:
        summary.add(
            RuleCount(
                source.schema.name,
                "empty_file",
                None,
                0,
                None,
                f.path,
                "skipped",
                "a file with at least one row",
            )
        )
    usable = [f for f in source.files if f.bytes > 0]
    if not usable:
        raise InputError(f"{source.label}: every file is empty ({source.files[0].path}, ...).")
    return usable


def check_columns(source: Source, columns: dict[str, str]) -> None:
    """Stop with the file, the column and the mapping key when a required column is missing."""
    for c in source.schema.columns:
        if not c.required or c.name in source.spec.constants:
            continue
        user_col = source.user_column(c.name)
        if user_col not in columns:
            found = ", ".join(k for k in columns if k not in ("filename", "file_row_number"))
            raise InputError(
                f"{source.files[0].path}: required column {user_col!r} ({c.doc}) is missing; "
                f"the file has: {found}. Set {source.label}.columns.{c.name} = "
                '"<your column>" in the configuration'
                + (" (or a constant in .constants)." if c.kind == "text" else ".")
            )


def _where(source: Source, file: str, row: int | None, column: str | None) -> str:
    kind = "row" if source.fmt == "parquet" else "data row"
    place = f"{file}, {kind} {row}" if row is not None else file
    return place + (f", column {source.user_column(column)}" if column else "")


def _shown(con: Any, validated: Validated, code: int) -> str:
    """The offending value of the first row breaking rule ``code``, quoted (never an id)."""
    rule = validated.rules[code]
    present = {c.name: c for c in validated.present}
    if rule.column not in present or present[rule.column].kind == "id":
        return ""  # identifiers are personal data: not echoed
    found = con.execute(
        f"SELECT CAST(_raw_{rule.column} AS VARCHAR) FROM _bad_rows WHERE _rule = ? "
        "ORDER BY _file, _row LIMIT 1",
        [code],
    ).fetchall()
    if not found or found[0][0] is None:
        return ""
    value = str(found[0][0])
    return f" = {value[:80]!r}"


def malformed_lines(
    ctx: RunContext,
    source: Source,
    rejects: str,
    config: Config,
    summary: IngestSummary,
    total: int,
) -> int:
    """Report CSV lines DuckDB could not split into the header's columns (or decode)."""
    con = ctx.con
    try:
        rows = con.execute(
            f"SELECT s.file_path, r.line, min(CAST(r.error_type AS VARCHAR)) FROM {rejects} r "
            f"JOIN {rejects}_scan s USING (scan_id, file_id) GROUP BY s.file_path, r.line "
            "ORDER BY s.file_path, r.line"
        ).fetchall()
    except duckdb.CatalogException:
        return 0
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects}")
        con.execute(f"DROP TABLE IF EXISTS {rejects}_scan")
    if not rows:
        return 0
    by_rule: dict[str, list[tuple[str, int]]] = {}
    for path, line, error in rows:
        rule = (
            "bad_encoding"
            if "ENCODING" in str(error) or "UNICODE" in str(error)
            else ("malformed_line")
        )
        by_rule.setdefault(rule, []).append((path, int(line)))
    for rule, hits in by_rule.items():
        where = f"{hits[0][0]}, line {hits[0][1]}"
        expected = (
            "text in the configured encoding"
            if rule == "bad_encoding"
            else "as many fields as the header has"
        )
        if config.ingest.policy == "strict":
            raise InputError(
                f"{where}: rule {rule} broken: expected {expected}. Fix the file, set `encoding` "
                "or `delimiter`, or use policy = 'quarantine' to set such lines aside."
            )
        summary.add(
            RuleCount(
                source.schema.name,
                rule,
                None,
                len(hits),
                len(hits) / max(1, total),
                where,
                "rejected",
                expected,
            )
        )
    if not ctx.has_table("rejected_rows"):
        _create_rejected(ctx)
    con.executemany(
        "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, NULL, NULL)",
        [
            [source.schema.name, source.label, p, line, rule]
            for rule, hits in by_rule.items()
            for p, line in hits
        ],
    )
    return len(rows)


def _create_rejected(ctx: RunContext) -> None:
    ctx.write_table(
        "rejected_rows",
        "SELECT ''::VARCHAR AS input, ''::VARCHAR AS source, ''::VARCHAR AS file, "
        "0::BIGINT AS row, ''::VARCHAR AS rule, ''::VARCHAR AS column_name, ''::VARCHAR AS value "
        "WHERE false",
        stage="ingest",
        description="Rows and lines set aside by validation: file, row, rule, column "
        "(and the value, except for identifiers).",
    )


def record_rules(
    ctx: RunContext,
    source: Source,
    validated: Validated,
    counts: dict[int, int],
    total: int,
    config: Config,
    summary: IngestSummary,
    rows_sql: str,
) -> int:
    """Apply the policy to the rows that broke rules; fill ``rejected_rows``; return how many.

    ``counts`` maps rule numbers to rows; ``rows_sql`` selects ``_file, _row, _rule`` and the
    typed and raw columns of the bad rows (with row numbers), read only when there are some.
    """
    bad = sum(counts.values())
    if not bad:
        return 0
    con = ctx.con
    name = source.schema.name
    # One pass over the input picks out the bad rows; everything else reads that small table.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bad_rows AS SELECT * FROM ({rows_sql}) "
        "WHERE _rule IS NOT NULL"
    )
    examples: dict[int, tuple[Any, ...]] = {
        int(code): (file, row)
        for code, file, row in con.execute(
            "SELECT _rule, arg_min(_file, (_file, _row)), arg_min(_row, (_file, _row)) "
            "FROM _bad_rows GROUP BY _rule"
        ).fetchall()
    }
    if config.ingest.policy == "strict":
        code = min(examples, key=lambda k: (examples[k][0], examples[k][1]))
        rule = validated.rules[code]
        file, row = examples[code]
        raise InputError(
            f"{_where(source, file, row, rule.column)}{_shown(con, validated, code)}: rule "
            f"{rule.name} broken: expected "
            f"{rule.expected}. Fix: {rule.fix}. ({counts[code]} row(s) break it; use "
            "policy = 'quarantine' to set them aside instead.)"
        )
    for code, n in sorted(counts.items()):
        rule = validated.rules[code]
        file, row = examples[code]
        summary.add(
            RuleCount(
                name,
                rule.name,
                rule.column,
                n,
                n / total,
                _where(source, file, row, rule.column),
                "rejected",
                rule.expected,
            )
        )
    if bad / total > config.ingest.max_bad_share:
        worst = max(counts, key=lambda k: counts[k])
        rule = validated.rules[worst]
        file, row = examples[worst]
        raise InputError(
            f"{source.label}: {bad} of {total} rows ({bad / total:.1%}) break validation rules, "
            f"more than ingest.max_bad_share = {config.ingest.max_bad_share}. Most common: "
            f"{rule.name} (e.g. {_where(source, file, row, rule.column)}"
            f"{_shown(con, validated, worst)}; expected "
            f"{rule.expected}). Fix the input, or raise the limit."
        )
    if not ctx.has_table("rejected_rows"):
        _create_rejected(ctx)
    ids = {c.name for c in validated.present if c.kind == "id"}
    value_cases = " ".join(
        f"WHEN {i} THEN CAST(_raw_{r.column} AS VARCHAR)"
        for i, r in enumerate(validated.rules)
        if r.column not in ids and any(c.name == r.column for c in validated.present)
    )
    value = f"CASE _rule {value_cases} END" if value_cases else "NULL"
    con.execute(
        f"INSERT INTO rejected_rows SELECT '{name}', '{source.label}', _file, _row, "
        f"{validated.rule_name_sql()}, {validated.rule_column_sql()}, left({value}, 200) "
        "FROM _bad_rows"
    )
    con.execute("DROP TABLE _bad_rows")
    return bad
