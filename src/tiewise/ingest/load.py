"""Load the configured inputs into the workspace: read, map columns, type, validate, pseudonymise.

Each input is read by DuckDB (CSV with any delimiter, gzip, Parquet, globs over many files), its
columns are mapped to tiewise's names (:mod:`tiewise.ingest.schemas`), typed, and checked against
named rules.  Rows that break a rule go to ``rejected_rows`` with the rule, file, row and column
(``quarantine`` policy), or stop the run at the first one (``strict``).  Every rule's count and an
example go to ``ingest_report``.  Identifier columns are replaced by keyed-hash pseudonyms unless
pseudonymisation is switched off.  All of it happens inside the run's transaction: nothing
half-loaded ever reaches the result tables.
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tiewise.config import Config, InputSpec
from tiewise.exceptions import InputError
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.ingest.schemas import SCHEMAS, Column, InputSchema
from tiewise.store import RunContext, scalar

__all__ = ["IngestSummary", "fingerprint_inputs", "ingest", "resolve_files"]

MAX_DURATION_S = 24 * 3600


@dataclass
class IngestSummary:
    """What ingest loaded and rejected, per input."""

    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)


def resolve_files(spec: InputSpec, config: Config, name: str) -> list[Path]:
    """The files an input's path (or glob) names, sorted; an error when there are none."""
    pattern = config.resolve(spec.path)
    files = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
    files = [f for f in files if f.is_file()]
    if not files:
        raise InputError(
            f"inputs.{name}.path = {spec.path!r}: no file matches {pattern}. "
            "Check the path (relative paths are relative to the configuration file)."
        )
    return files


def fingerprint_inputs(config: Config) -> dict[str, Any]:
    """Path, size and modification time of every input file, with one hash per input."""
    out: dict[str, Any] = {}
    for name in SCHEMAS:
        spec = getattr(config.inputs, name)
        if spec is None:
            continue
        files = resolve_files(spec, config, name)
        stats = [(str(f), f.stat().st_size, int(f.stat().st_mtime)) for f in files]
        digest = hashlib.sha256(repr(stats).encode()).hexdigest()[:16]
        out[name] = {"files": len(files), "bytes": sum(s[1] for s in stats), "hash": digest}
    return out


def _format(spec: InputSpec, files: list[Path]) -> str:
    if spec.format != "auto":
        return spec.format
    suffixes = {"".join(f.suffixes[-2:]) if f.suffix == ".gz" else f.suffix for f in files}
    if suffixes <= {".parquet", ".pq"}:
        return "parquet"
    if all(s.startswith((".csv", ".tsv", ".txt")) or s.endswith(".gz") for s in suffixes):
        return "csv"
    raise InputError(
        f"cannot tell the format of {files[0]} from its name; set format = 'csv' or 'parquet'."
    )


def _reader(spec: InputSpec, files: list[Path], fmt: str) -> str:
    paths = "[" + ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files) + "]"
    if fmt == "parquet":
        return f"read_parquet({paths}, filename = true, union_by_name = true)"
    delim = f", delim = '{spec.delimiter}'" if spec.delimiter else ""
    return f"read_csv({paths}, header = true, all_varchar = true, filename = true{delim})"


def _source_columns(con: duckdb.DuckDBPyConnection, reader: str, file: Path) -> dict[str, str]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            f"{file}: cannot be read ({first}). Check that it is a valid CSV/Parquet file in "
            "UTF-8, and the delimiter."
        ) from None
    return {r[0]: r[1] for r in rows}


def _timestamp_sql(col: str, source_type: str, spec: InputSpec) -> str:
    """A SQL expression turning column ``col`` into a naive UTC TIMESTAMP (NULL if unparsable)."""
    numeric = f"TRY_CAST({col} AS DOUBLE)"
    epoch_s = f"make_timestamp(CAST({numeric} * 1000000 AS BIGINT))"
    epoch_ms = f"make_timestamp(CAST({numeric} * 1000 AS BIGINT))"
    if spec.timestamp_format == "relative_s":
        origin = spec.origin or ""
        offset = f"to_microseconds(CAST({numeric} * 1e6 AS BIGINT))"
        return f"(TRY_CAST('{origin}' AS TIMESTAMP) + {offset})"
    if spec.timestamp_format == "epoch_s":
        return epoch_s
    if spec.timestamp_format == "epoch_ms":
        return epoch_ms
    iso = f"CAST(TRY_CAST(CAST({col} AS VARCHAR) AS TIMESTAMPTZ) AS TIMESTAMP)"
    if spec.timestamp_format == "iso":
        return iso
    if source_type.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({col} AS TIMESTAMP)"
    guess = f"CASE WHEN abs({numeric}) >= 1e11 THEN {epoch_ms} ELSE {epoch_s} END"
    return f"coalesce({iso}, {guess})"


def _typed_sql(column: Column, col: str, source_type: str, spec: InputSpec) -> str:
    if column.kind == "id":
        return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    if column.kind == "timestamp":
        return _timestamp_sql(col, source_type, spec)
    if column.kind == "date":
        return f"TRY_CAST({col} AS DATE)"
    if column.kind == "number":
        return f"TRY_CAST({col} AS DOUBLE)"
    if column.kind == "integer":
        return f"TRY_CAST({col} AS BIGINT)"
    if column.kind == "boolean":
        return f"TRY_CAST({col} AS BOOLEAN)"
    return f"NULLIF(lower(trim(CAST({col} AS VARCHAR))), '')"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Rule:
    name: str
    column: str
    condition: str
    expected: str
    fix: str


def _rules(schema: InputSchema, present: list[Column], config: Config) -> list[_Rule]:
    """The validation rules of one input, in the order they are checked (first broken wins)."""
    rules: list[_Rule] = []
    for c in present:
        raw, typed = f"_raw_{c.name}", c.name
        if c.required:
            rules.append(
                _Rule(
                    "missing_value",
                    c.name,
                    f"{raw} IS NULL OR trim(CAST({raw} AS VARCHAR)) = ''",
                    f"a value in required column {c.name}",
                    "fill it in or drop the row",
                )
            )
        if c.kind != "id" and c.kind != "text":
            rules.append(
                _Rule(
                    f"bad_{c.kind}",
                    c.name,
                    f"{raw} IS NOT NULL AND trim(CAST({raw} AS VARCHAR)) <> '' AND {typed} IS NULL",
                    f"a {c.kind}",
                    f"fix the value or set the {c.kind} format in the config",
                )
            )
    if schema.name == "interactions":
        allowed = ", ".join(f"'{k}'" for k in config.links.channel_weights)
        rules += [
            _Rule(
                "self_interaction",
                "to_id",
                "from_id = to_id",
                "two different parties",
                "drop the row (a number calling itself)",
            ),
            _Rule(
                "unknown_channel",
                "channel",
                f"channel NOT IN ({allowed})",
                f"one of {allowed}",
                "add the channel to [links.channel_weights]",
            ),
        ]
        if any(c.name == "duration_s" for c in present):
            rules.append(
                _Rule(
                    "absurd_duration",
                    "duration_s",
                    f"duration_s > {MAX_DURATION_S}",
                    "a duration of at most 24 hours",
                    "check the unit (seconds expected)",
                )
            )
    return rules


def _load_one(
    ctx: RunContext,
    config: Config,
    key: bytes | None,
    schema: InputSchema,
    spec: InputSpec,
    summary: IngestSummary,
) -> None:
    con = ctx.con
    files = resolve_files(spec, config, schema.name)
    fmt = _format(spec, files)
    reader = _reader(spec, files, fmt)
    source = _source_columns(con, reader, files[0])
    unknown = set(spec.columns) - {c.name for c in schema.columns}
    if unknown:
        allowed = ", ".join(c.name for c in schema.columns)
        raise InputError(
            f"inputs.{schema.name}.columns: unknown tiewise column(s) {sorted(unknown)}; "
            f"allowed: {allowed}."
        )
    present: list[Column] = []
    for c in schema.columns:
        user_col = spec.columns.get(c.name, c.name)
        if user_col in source:
            present.append(c)
        elif c.required:
            found = ", ".join(k for k in source if k != "filename")
            raise InputError(
                f"{files[0]}: required column {user_col!r} ({c.doc}) is missing; the file has: "
                f'{found}. Set inputs.{schema.name}.columns.{c.name} = "<your column>" in the '
                "configuration."
            )
    selects = ["filename AS _file", "row_number() OVER (PARTITION BY filename) AS _row"]
    for c in present:
        user_col = spec.columns.get(c.name, c.name)
        raw = _quote(user_col)
        selects.append(f"{raw} AS _raw_{c.name}")
        selects.append(f"{_typed_sql(c, raw, source[user_col], spec)} AS {c.name}")
    rules = _rules(schema, present, config)
    rule_case = " ".join(f"WHEN {r.condition} THEN {i}" for i, r in enumerate(rules))
    checked = f"_checked_{schema.name}"
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {checked} AS SELECT *, "
            f"CASE {rule_case or 'WHEN false THEN 0'} ELSE NULL END AS _rule "
            f"FROM (SELECT {', '.join(selects)} FROM {reader})"
        )
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            f"{schema.name} ({files[0].parent}): reading failed: {first}. Check encoding (UTF-8), "
            "delimiter and quoting."
        ) from None
    total = int(scalar(con, f"SELECT count(*) FROM {checked}"))
    if total == 0:
        raise InputError(f"inputs.{schema.name}: the file(s) {spec.path!r} hold no rows.")
    counts = dict(
        con.execute(
            f"SELECT _rule, count(*) FROM {checked} WHERE _rule IS NOT NULL GROUP BY _rule"
        ).fetchall()
    )
    bad = sum(counts.values())
    for i, rule in enumerate(rules):
        n = int(counts.get(i, 0))
        if n == 0:
            continue
        example = con.execute(
            f"SELECT _file, _row FROM {checked} WHERE _rule = {i} ORDER BY _file, _row LIMIT 1"
        ).fetchall()[0]
        where = (
            f"{example[0]}, row {example[1]}, column {spec.columns.get(rule.column, rule.column)}"
        )
        if config.ingest.policy == "strict":
            raise InputError(
                f"{where}: rule {rule.name} broken: expected {rule.expected}. Fix: {rule.fix}. "
                f"({n} row(s) break it; use policy = 'quarantine' to set them aside instead.)"
            )
        summary.rules.append(
            {
                "input": schema.name,
                "rule": rule.name,
                "column": rule.column,
                "rows": n,
                "share": n / total,
                "example": where,
                "action": "rejected",
                "expected": rule.expected,
            }
        )
    if bad / total > config.ingest.max_bad_share:
        worst = max(summary.rules, key=lambda r: r["rows"] if r["input"] == schema.name else -1)
        raise InputError(
            f"inputs.{schema.name}: {bad} of {total} rows ({bad / total:.1%}) break validation "
            f"rules, more than ingest.max_bad_share = {config.ingest.max_bad_share}. Most common: "
            f"{worst['rule']} (e.g. {worst['example']}). Fix the input or raise the limit."
        )
    if bad:
        cases = " ".join(f"WHEN {i} THEN '{r.name}'" for i, r in enumerate(rules))
        cols = " ".join(f"WHEN {i} THEN '{r.column}'" for i, r in enumerate(rules))
        if not ctx.has_table("rejected_rows"):
            ctx.write_table(
                "rejected_rows",
                "SELECT ''::VARCHAR AS input, ''::VARCHAR AS file, 0::BIGINT AS row, "
                "''::VARCHAR AS rule, ''::VARCHAR AS column WHERE false",
                stage="ingest",
                description="Rows set aside by validation, with the rule broken.",
            )
        con.execute(
            f"INSERT INTO rejected_rows SELECT '{schema.name}', _file, _row, "
            f"CASE _rule {cases} END, CASE _rule {cols} END FROM {checked} WHERE _rule IS NOT NULL"
        )
    outputs = []
    for c in present:
        if c.kind == "id" and key is not None:
            outputs.append(f"{hmac_sql(c.name, key)} AS {c.name}")
        elif schema.name == "interactions" and c.name == "duration_s":
            # A missed or failed call is often logged with a negative duration: keep it, as 0.
            outputs.append("greatest(duration_s, 0) AS duration_s")
        else:
            outputs.append(c.name)
    for c in schema.columns:
        if c not in present:
            outputs.append(f"NULL::{_sql_type(c)} AS {c.name}")
    ctx.write_table(
        schema.table,
        f"SELECT {', '.join(outputs)} FROM {checked} WHERE _rule IS NULL",
        stage="ingest",
        description=schema.doc,
    )
    con.execute(f"DROP TABLE {checked}")
    summary.loaded[schema.name] = total - bad
    summary.rejected[schema.name] = bad


def _sql_type(column: Column) -> str:
    return {
        "id": "VARCHAR",
        "text": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "number": "DOUBLE",
        "integer": "BIGINT",
        "boolean": "BOOLEAN",
    }[column.kind]


def ingest(ctx: RunContext, config: Config, key: bytes | None) -> IngestSummary:
    """Load every configured input into the workspace.

    Parameters
    ----------
    ctx
        The run (its transaction).
    config
        The configuration; ``config.inputs`` names the files.
    key
        The pseudonymisation key, or None to keep raw identifiers (explicit opt-out).

    Returns
    -------
    IngestSummary
        Rows loaded and rejected per input and the broken rules.
    """
    if config.inputs.interactions is None:
        raise InputError(
            "no [inputs.interactions] in the configuration: tiewise needs interaction records "
            "to build the network. See `tiewise init` for a template."
        )
    summary = IngestSummary()
    ctx.con.execute("SET TimeZone = 'UTC'")
    for name, schema in SCHEMAS.items():
        spec = getattr(config.inputs, name)
        if spec is not None:
            _load_one(ctx, config, key, schema, spec, summary)
    rows = [
        {
            "input": n,
            "rule": "loaded",
            "column": None,
            "rows": summary.loaded[n],
            "share": None,
            "example": None,
            "action": "loaded",
            "expected": None,
        }
        for n in summary.loaded
    ] + summary.rules
    values = ", ".join(
        "("
        + ", ".join(
            _literal(r[k])
            for k in ("input", "rule", "column", "rows", "share", "example", "action", "expected")
        )
        + ")"
        for r in rows
    )
    ctx.write_table(
        "ingest_report",
        f"SELECT * FROM (VALUES {values}) AS t(input, rule, column_name, rows, share, example, "
        "action, expected)",
        stage="ingest",
        description="Rows loaded per input and every validation rule broken.",
    )
    return summary


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
