"""Validation rules and the typed, checked view of a source, as DuckDB SQL.

Each rule has a name, the column it concerns, a SQL condition on the row, what was expected and
how to fix it.  A row breaks the first rule whose condition holds; its number goes to ``_rule``.
The rules (docs/inputs.md, "Validation"):

``missing_value``        a required column is empty
``bad_timestamp`` ...    a value that does not parse as its type (``bad_number``, ``bad_date``, ...)
``implausible_timestamp`` before ``[ingest] earliest_date`` (1990 by default) or more than a day
    in the future
``bad_direction``        a direction that is neither in nor out
``self_interaction``     a party interacting with itself
``unknown_channel``      a channel with no weight in ``[links.channel_weights]``
``absurd_duration``      over 24 hours
``sentiment_out_of_range``  conversations: a given sentiment outside -1..1
``self_reply``           conversations: a speaker replying to themselves
``unknown_channel``      (conversations) a channel not in ``[conversations] channels``

Normalisations that are not errors: a negative duration is a missed call (kept, duration 0); a
record logged from the receiver's side (direction ``in``) has its parties swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiewise.config import Config, InputSpec
from tiewise.ingest.schemas import Column
from tiewise.ingest.sources import Source
from tiewise.store import sql_identifier, sql_string

__all__ = [
    "CASE_KEPT",
    "IN_WORDS",
    "OUT_WORDS",
    "Rule",
    "Validated",
    "timestamp_sql",
    "validated_select",
]

MAX_DURATION_S = 24 * 3600
_MAX_DOUBLE = "1.7976931348623157e308"  # NaN and the infinities lie outside ±this
# Text columns kept in the user's own case (the others, vocabularies matched against settings
# such as channel weights and engagement weights, are lower-cased).
CASE_KEPT = ("category", "item", "segment", "plan", "account_id", "text")
IN_WORDS = ("in", "i", "incoming", "mtc", "terminating", "received", "inbound")
OUT_WORDS = ("out", "o", "outgoing", "moc", "originating", "sent", "outbound")


@dataclass(frozen=True)
class Rule:
    """A named validation rule."""

    name: str
    column: str
    condition: str
    expected: str
    fix: str


@dataclass(frozen=True)
class Validated:
    """A SELECT giving ``_file``, ``_row``, the typed columns and ``_rule`` for every row."""

    sql: str  # the rows as later stages use them (interactions: normalised)
    raw_sql: str  # the rows with their raw values too (``_raw_<column>``), for rejected rows
    rules: tuple[Rule, ...]
    present: tuple[Column, ...]

    def rule_name_sql(self, code: str = "_rule") -> str:
        """SQL mapping a rule number to its name."""
        cases = " ".join(f"WHEN {i} THEN '{r.name}'" for i, r in enumerate(self.rules))
        return f"CASE {code} {cases} END" if self.rules else "NULL"

    def rule_column_sql(self, code: str = "_rule") -> str:
        """SQL mapping a rule number to the column it concerns."""
        cases = " ".join(f"WHEN {i} THEN '{r.column}'" for i, r in enumerate(self.rules))
        return f"CASE {code} {cases} END" if self.rules else "NULL"


def timestamp_sql(col: str, source_type: str, spec: InputSpec) -> str:
    """SQL turning ``col`` into a naive UTC TIMESTAMP (NULL when it does not parse)."""
    # Numbers out of range (1e20, nan, inf) give NULL, a bad_timestamp, never an overflow.
    numeric = f"TRY_CAST({col} AS DOUBLE)"
    epoch_s = f"make_timestamp(TRY_CAST({numeric} * 1000000 AS BIGINT))"
    epoch_ms = f"make_timestamp(TRY_CAST({numeric} * 1000 AS BIGINT))"
    if spec.timestamp_format == "relative_s":
        # at most 10,000 years from the origin, so that adding it cannot overflow
        offset = f"to_microseconds(TRY_CAST({numeric} * 1e6 AS BIGINT))"
        within = f"abs({numeric}) < 3.2e11"
        return (
            f"(CASE WHEN {within} THEN TRY_CAST('{spec.origin or ''}' AS TIMESTAMP) + {offset} END)"
        )
    if "%" in spec.timestamp_format:  # a strptime pattern, e.g. "%d/%m/%Y %H:%M"
        pattern = sql_string(spec.timestamp_format)
        return f"try_strptime(trim(CAST({col} AS VARCHAR)), {pattern})"
    if spec.timestamp_format == "epoch_s":
        return epoch_s
    if spec.timestamp_format == "epoch_ms":
        return epoch_ms
    iso = f"CAST(TRY_CAST(CAST({col} AS VARCHAR) AS TIMESTAMPTZ) AS TIMESTAMP)"
    if spec.timestamp_format == "iso":
        return iso
    if source_type.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({col} AS TIMESTAMP)"
    if source_type in ("BIGINT", "INTEGER", "DOUBLE", "HUGEINT", "UBIGINT", "FLOAT"):
        return f"CASE WHEN abs({numeric}) >= 1e11 THEN {epoch_ms} ELSE {epoch_s} END"
    guess = f"CASE WHEN abs({numeric}) >= 1e11 THEN {epoch_ms} ELSE {epoch_s} END"
    return f"coalesce({iso}, {guess})"


def _typed_sql(column: Column, col: str, source_type: str, spec: InputSpec) -> str:
    if column.kind in ("id", "ids"):
        return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    if column.kind == "timestamp":
        return timestamp_sql(col, source_type, spec)
    if column.kind == "date":
        return f"TRY_CAST({col} AS DATE)"
    if column.kind == "number":  # finite only: nan and inf are bad numbers
        number = f"TRY_CAST({col} AS DOUBLE)"
        return f"(CASE WHEN {number} BETWEEN -{_MAX_DOUBLE} AND {_MAX_DOUBLE} THEN {number} END)"
    if column.kind == "integer":
        return f"TRY_CAST({col} AS BIGINT)"
    if column.kind == "boolean":
        return f"TRY_CAST({col} AS BOOLEAN)"
    if column.name in CASE_KEPT:  # names a user reads and types back: kept as given
        return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    return f"NULLIF(lower(trim(CAST({col} AS VARCHAR))), '')"


def _generic_rules(
    present: list[Column], types: dict[str, str], earliest: str = "1990-01-01"
) -> list[Rule]:
    rules: list[Rule] = []
    for c in present:
        raw = f"_raw_{c.name}"
        text = types[c.name] == "VARCHAR"  # typed columns (Parquet) cannot hold blank text
        empty = f"({raw} IS NULL OR trim({raw}) = '')" if text else f"{raw} IS NULL"
        if text and c.kind in ("id", "ids", "text"):
            # the typed value is the trimmed text, NULL when blank: the same test, trimmed once
            empty = f"{c.name} IS NULL"
        if c.required:
            rules.append(
                Rule(
                    "missing_value",
                    c.name,
                    empty,
                    f"a value in required column {c.name}",
                    "fill it in, or drop the row",
                )
            )
        if c.kind not in ("id", "ids", "text"):
            rules.append(
                Rule(
                    f"bad_{c.kind}",
                    c.name,
                    f"NOT {empty} AND {c.name} IS NULL",
                    "a finite number" if c.kind == "number" else f"a {c.kind}",
                    (
                        "fix the value, or give the input its timestamp_format, e.g. "
                        'timestamp_format = "%d/%m/%Y %H:%M" for 31/01/2026 14:05'
                    )
                    if c.kind == "timestamp"
                    else f"fix the value, or set the {c.kind} format in the configuration",
                )
            )
        if c.kind == "timestamp":
            rules.append(
                Rule(
                    "implausible_timestamp",
                    c.name,
                    f"({c.name} < TIMESTAMP '{earliest}' OR "
                    f"{c.name} > now()::TIMESTAMP + INTERVAL 1 DAY)",
                    f"a time between {earliest} ([ingest] earliest_date) and tomorrow",
                    "check the unit (seconds vs milliseconds) or the origin of relative times; "
                    "for historic data set [ingest] earliest_date",
                )
            )
    return rules


def _interaction_rules(present: list[Column], config: Config) -> list[Rule]:
    names = {c.name for c in present}
    allowed = ", ".join(f"'{k}'" for k in config.links.channel_weights)
    words = ", ".join(f"'{w}'" for w in IN_WORDS + OUT_WORDS)
    rules = []
    if "direction" in names:
        rules.append(
            Rule(
                "bad_direction",
                "direction",
                f"direction IS NOT NULL AND direction NOT IN ({words})",
                "in or out (or MOC/MTC, incoming/outgoing)",
                "map the direction column's values, or remove the mapping",
            )
        )
    rules += [
        Rule(
            "self_interaction",
            "to_id",
            "from_id = to_id",
            "two different parties",
            "drop the row: a number contacting itself is not a social tie",
        ),
        Rule(
            "unknown_channel",
            "channel",
            f"channel NOT IN ({allowed})",
            f"one of {allowed}",
            "add the channel with a weight to [links.channel_weights]",
        ),
    ]
    if "duration_s" in names:
        rules.append(
            Rule(
                "absurd_duration",
                "duration_s",
                f"duration_s > {MAX_DURATION_S}",
                "a duration of at most 24 hours",
                "check the unit (seconds are expected)",
            )
        )
    return rules


def _conversation_rules(present: list[Column], config: Config) -> list[Rule]:
    names = {c.name for c in present}
    allowed = ", ".join(f"'{k}'" for k in config.conversations.channels)
    rules = [
        Rule(
            "unknown_channel",
            "channel",
            f"channel NOT IN ({allowed})",
            f"one of {allowed}",
            "map the channel's values, or add it to [conversations] channels",
        )
    ]
    if "sentiment" in names:
        rules.append(
            Rule(
                "sentiment_out_of_range",
                "sentiment",
                "sentiment NOT BETWEEN -1 AND 1",
                "a sentiment from -1 (negative) to 1 (positive)",
                "rescale your scores to -1..1 (e.g. stars: (stars - 3) / 2), or drop the mapping",
            )
        )
    if "reply_to" in names:
        rules.append(
            Rule(
                "self_reply",
                "reply_to",
                "reply_to = speaker",
                "a reply to another party",
                "drop reply_to for a speaker continuing their own thread",
            )
        )
    return rules


def validated_select(
    source: Source,
    source_columns: dict[str, str],
    config: Config,
    *,
    row_numbers: bool = True,
    rejects: str | None = None,
    carry_bad: bool = False,
) -> Validated:
    """Build the checked SELECT of one source (its columns were checked by the caller).

    For interactions it also normalises: ``from_id``/``to_id`` are swapped on records logged
    from the receiver's side, ``_missed`` marks missed calls (negative durations, then set to 0),
    ``_in`` tells which side logged the record.  With ``carry_bad`` the normalised rows also
    carry, for rows that break a rule only, the file, row number and raw values (as text) that
    ``rejected_rows`` needs, so a later pass need not read the input again.
    """
    spec = source.spec
    present: list[Column] = []
    types: dict[str, str] = {}
    selects = []
    if source.fmt == "parquet":
        selects += ["filename AS _file", "file_row_number + 1 AS _row"]
    elif row_numbers:
        # A streaming row_number() follows the input order (the caller keeps insertion order);
        # one partitioned by file would sort, and number a parallel read's rows arbitrarily.
        selects += ["filename AS _file", "row_number() OVER () AS _rn"]
    else:
        selects += ["filename AS _file", "NULL::BIGINT AS _row"]
    for c in source.schema.columns:
        if c.name in spec.constants:
            raw = sql_string(spec.constants[c.name])
            kind = "VARCHAR"
        elif source.user_column(c.name) in source_columns:
            raw = sql_identifier(source.user_column(c.name))
            kind = source_columns[source.user_column(c.name)]
        else:
            continue
        present.append(c)
        types[c.name] = kind
        selects.append(f"{raw} AS _raw_{c.name}")
        selects.append(f"{_typed_sql(c, raw, kind, spec)} AS {c.name}")
    rules = _generic_rules(present, types, config.ingest.earliest_date.isoformat())
    if source.schema.name == "interactions":
        rules += _interaction_rules(present, config)
    if source.schema.name == "conversations":
        rules += _conversation_rules(present, config)
    case = " ".join(f"WHEN {r.condition} THEN {i}" for i, r in enumerate(rules))
    inner = f"SELECT {', '.join(selects)} FROM {source.reader(rejects=rejects)}"
    if source.fmt != "parquet" and row_numbers:
        inner = (
            f"SELECT * EXCLUDE (_rn), _rn - min(_rn) OVER (PARTITION BY _file) + 1 AS _row "
            f"FROM ({inner})"
        )
    checked = f"SELECT *, CASE {case or 'WHEN false THEN 0'} ELSE NULL END AS _rule FROM ({inner})"
    used = (
        _normalised_interactions(checked, present, carry_bad)
        if source.schema.name == "interactions"
        else (checked)
    )
    return Validated(used, checked, tuple(rules), tuple(present))


def _normalised_interactions(checked: str, present: list[Column], carry_bad: bool) -> str:
    names = {c.name for c in present}
    if carry_bad:
        bad = [("_file", "_file"), ("_row", "_row")]
        bad += [(f"_raw_{c.name}", f"CAST(_raw_{c.name} AS VARCHAR)") for c in present]
        carried = "".join(
            f"CASE WHEN _rule IS NOT NULL THEN {sql} END AS {name}, " for name, sql in bad
        )
    else:
        carried = "_file, _row, "
    words = ", ".join(f"'{w}'" for w in IN_WORDS)
    is_in = f"coalesce(direction IN ({words}), false)" if "direction" in names else "false"
    duration = "duration_s" if "duration_s" in names else "NULL::DOUBLE"
    return f"""
        SELECT {carried}_rule,
               CASE WHEN {is_in} THEN to_id ELSE from_id END AS from_id,
               CASE WHEN {is_in} THEN from_id ELSE to_id END AS to_id,
               timestamp, channel,
               CASE WHEN {duration} < 0 THEN 0 ELSE {duration} END AS duration_s,
               coalesce({duration} < 0, false) AS _missed,
               {is_in} AS _in
        FROM ({checked})
    """
