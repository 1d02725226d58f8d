"""What every source goes through before its rows are used.

Column checks, counting the rules broken, examples, the strict and quarantine policies, and the
``rejected_rows`` table.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.rules import Validated
from tiewise.ingest.sources import FileStat, Source
from tiewise.store import RunContext

__all__ = [
    "WITHHELD",
    "IngestSummary",
    "RuleCount",
    "check_bad_share",
    "check_columns",
    "create_rejected",
    "malformed_lines",
    "prepare",
    "record_rules",
    "shown_value_sql",
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
    dropped: dict[str, int] = field(default_factory=dict)  # duplicates (loaded, kept once)
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
    source = replace(source, files=tuple(usable_files(source, summary))).sniffed()
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
    if rule.column not in present or present[rule.column].kind in ("id", "ids"):
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
    """Report the CSV lines DuckDB could not split into the columns (or decode); return how many.

    A line that breaks the dialect (wrong field count, over DuckDB's 2 MB line limit, bytes
    that are not text in the encoding) is one line; an unclosed quote runs to the end of the
    file (that is what the quote means), and every line it swallowed is counted and listed
    with its own number.
    """
    con = ctx.con
    try:
        rows = con.execute(
            f"""
            SELECT file, line, error, cut FROM (
                SELECT s.file_path AS file, CAST(r.line AS BIGINT) AS first,
                       min(CAST(r.error_type AS VARCHAR)) AS error,
                       max(length(r.csv_line)) >= {_SHOWN_LINE} AS cut,
                       CAST(max(length(t) - length(replace(t, chr(10), ''))) AS BIGINT) AS swallowed
                FROM (SELECT *, trim(csv_line, chr(13) || chr(10)) AS t FROM {rejects}) r
                JOIN {rejects}_scan s USING (scan_id, file_id)
                GROUP BY s.file_path, r.line
            ), LATERAL (SELECT unnest(range(first, first + swallowed + 1)) AS line)
            ORDER BY file, line
            """
        ).fetchall()
    except duckdb.CatalogException:
        return 0
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects}")
        con.execute(f"DROP TABLE IF EXISTS {rejects}_scan")
    if not rows:
        return 0
    hits_of = [(str(path), int(line), _line_rule(str(error))) for path, line, error, _ in rows]
    # DuckDB shows an unclosed quote's text cut at 10,000 characters, and with any bytes in it
    # that are not text in the encoding replaced, newlines included: count such lines instead
    open_quotes = [r for r in rows if r[3] or "UNQUOTED" in str(r[2])]
    if open_quotes:
        hits_of += _beyond_shown(source, total, hits_of, open_quotes[-1])
    by_rule: dict[str, list[tuple[str, int]]] = {}
    for path, line, rule_name in hits_of:
        by_rule.setdefault(rule_name, []).append((path, line))
    for rule, hits in by_rule.items():
        where = f"{hits[0][0]}, line {hits[0][1]}"
        expected = _LINE_RULES[rule]
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
                len(hits) / max(1, total + len(hits_of)),
                where,
                "rejected",
                expected,
            )
        )
    if not ctx.has_table("rejected_rows"):
        create_rejected(ctx)
    con.executemany(
        "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, NULL, NULL)",
        [
            [source.schema.name, source.label, p, line, rule]
            for rule, hits in by_rule.items()
            for p, line in hits
        ],
    )
    return len(hits_of)


_SHOWN_LINE = 10_000  # DuckDB keeps this many characters of a rejected line


def _beyond_shown(
    source: Source, total: int, hits: list[tuple[str, int, str]], last_cut: tuple[Any, ...]
) -> list[tuple[str, int, str]]:
    """The lines an unclosed quote swallowed beyond what DuckDB shows of the rejected line.

    DuckDB keeps 10,000 characters of a rejected line, and replaces bytes that are not text
    (a newline after them too), so the text of a quote left open can hide how many lines it
    ran over.  They are what is left of the files' lines after the header,
    the rows read and the lines already counted; they are listed after the quote's last shown
    line (exact for one such quote in a source, which is the usual case).
    """
    lines = sum(_count_lines(Path(f.path)) for f in source.files)
    headers = len(source.files) if source.spec.header else 0
    missing = lines - headers - total - len(hits)
    path = str(last_cut[0])
    last = max(line for p, line, _ in hits if p == path)
    return [(path, last + i, "malformed_line") for i in range(1, missing + 1)]


def _count_lines(path: Path) -> int:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    count, last = 0, b"\n"
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


_LINE_RULES = {
    "malformed_line": "as many fields as the header has, quotes closed",
    "line_too_long": "a line under 2 MB",
    "bad_encoding": "text in the configured encoding",
}


def _line_rule(error: str) -> str:
    if "ENCODING" in error or "UNICODE" in error:
        return "bad_encoding"
    if "LINE SIZE" in error:
        return "line_too_long"
    return "malformed_line"


def create_rejected(ctx: RunContext) -> None:
    """Create the (empty) ``rejected_rows`` table."""
    ctx.write_table(
        "rejected_rows",
        "SELECT ''::VARCHAR AS input, ''::VARCHAR AS source, ''::VARCHAR AS file, "
        "0::BIGINT AS row, ''::VARCHAR AS rule, ''::VARCHAR AS column_name, ''::VARCHAR AS value "
        "WHERE false",
        stage="ingest",
        description="Rows and lines set aside by validation: file, row, rule, column "
        "(and the value, except for identifiers).",
    )


WITHHELD = "(withheld: may be an identifier)"


def shown_value_sql(expr: str) -> str:
    """SQL of a rejected value as ``rejected_rows`` may keep it: never one that may identify.

    A value that looks like a phone number (7 to 15 digits, with spaces, dashes, parentheses
    or a leading +) or an e-mail address is replaced by a marker, whatever its column: a
    mis-mapped column can hold phone numbers.  ISO dates are kept.

    Examples
    --------
    >>> import duckdb
    >>> values = ["+44 7900 123456", "a@b.org", "2026-01-05T10:00:00", "nan", "90000"]
    >>> sql = f"SELECT {shown_value_sql('v')} FROM unnest(?) AS t(v)"
    >>> [r[0] for r in duckdb.execute(sql, [values]).fetchall()]
    ['(withheld: may be an identifier)', '(withheld: may be an identifier)', \
'2026-01-05T10:00:00', 'nan', '90000']
    """
    digits = f"regexp_replace(trim({expr}), '^[+]|[ ()-]', '', 'g')"
    looks = (
        f"(contains({expr}, '@') OR (regexp_full_match({digits}, '[0-9]{{7,15}}') "
        f"AND NOT regexp_matches({expr}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')))"
    )
    return f"CASE WHEN {looks} THEN '{WITHHELD}' ELSE left({expr}, 200) END"


def record_rules(
    ctx: RunContext,
    source: Source,
    validated: Validated,
    counts: dict[int, int],
    total: int,
    config: Config,
    summary: IngestSummary,
    rows_sql: str,
    malformed: int = 0,
) -> int:
    """Apply the policy to the rows that broke rules; fill ``rejected_rows``; return how many.

    ``counts`` maps rule numbers to rows; ``rows_sql`` selects ``_file, _row, _rule`` and the
    typed and raw columns of the bad rows (with row numbers), read only when there are some.
    ``total`` rows were read besides ``malformed`` lines (already reported): together they are
    held against ``max_bad_share``.
    """
    bad = sum(counts.values())
    if not bad:
        check_bad_share(source.label, config, 0, "", malformed, total)
        return 0
    con = ctx.con
    name = source.schema.name
    # One pass over the input picks out the bad rows; everything else reads that small table.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bad_rows AS SELECT * FROM ({rows_sql}) "
        "WHERE _rule IS NOT NULL"
    )
    found = con.execute(
        "SELECT _rule, count(*), arg_min(_file, (_file, _row)), arg_min(_row, (_file, _row)) "
        "FROM _bad_rows GROUP BY _rule"
    ).fetchall()
    listed = {int(code): int(n) for code, n, _, _ in found}
    if listed != counts:
        # The rows were counted by one read and are listed by another: they must agree, or
        # rejected_rows would not hold the rows rejected.  A bug, not a property of the input.
        raise RuntimeError(
            f"{source.label}: rows breaking each rule counted {counts}, listed {listed}: "
            f"two reads of {source.files[0].path} disagree. Please report it with the file."
        )
    examples: dict[int, tuple[Any, ...]] = {int(code): (file, row) for code, _, file, row in found}
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
    worst = max(sorted(counts), key=lambda k: counts[k])  # a tie: the first rule, every run
    rule = validated.rules[worst]
    file, row = examples[worst]
    example = (
        f"{rule.name} (e.g. {_where(source, file, row, rule.column)}"
        f"{_shown(con, validated, worst)}; expected {rule.expected})"
    )
    check_bad_share(source.label, config, bad, example, malformed, total)
    if not ctx.has_table("rejected_rows"):
        create_rejected(ctx)
    ids = {c.name for c in validated.present if c.kind in ("id", "ids")}
    value_cases = " ".join(
        f"WHEN {i} THEN CAST(_raw_{r.column} AS VARCHAR)"
        for i, r in enumerate(validated.rules)
        if r.column not in ids and any(c.name == r.column for c in validated.present)
    )
    value = shown_value_sql(f"CASE _rule {value_cases} END") if value_cases else "NULL"
    con.execute(
        f"INSERT INTO rejected_rows SELECT '{name}', '{source.label}', _file, _row, "
        f"{validated.rule_name_sql()}, {validated.rule_column_sql()}, {value} "
        "FROM _bad_rows"
    )
    con.execute("DROP TABLE _bad_rows")
    return bad


def check_bad_share(
    label: str, config: Config, bad: int, worst: str, malformed: int, total: int
) -> None:
    """Stop the run when more than ``max_bad_share`` of a source's rows and lines are bad.

    ``bad`` rows broke rules, ``worst`` describes the most common; ``malformed`` lines could
    not be split into columns, besides the ``total`` rows read.
    """
    seen = total + malformed
    if not seen or (bad + malformed) / seen <= config.ingest.max_bad_share:
        return
    if malformed > bad:
        worst = "malformed lines (their numbers are in rejected_rows)"
    raise InputError(
        f"{label}: {bad + malformed} of {seen} rows ({(bad + malformed) / seen:.1%}) "
        f"break validation rules, more than ingest.max_bad_share = "
        f"{config.ingest.max_bad_share}. Most common: {worst}. Fix the input, or raise the limit."
    )
