"""Reading a folder of inputs for ``tiewise init --data``: which file and column is which.

The timestamps' format is read too.
Each CSV or Parquet file's header and first rows are read (DuckDB, everything as text).  The
file's name says which input it is (``calls.csv`` and ``sms.csv`` are interactions,
``subscribers.parquet`` customers, ...); when it does not, its columns do (two party columns and a
time: interactions; an item: adoptions; an amount: transactions).  Columns are matched by name
(``caller``/``callee``, ``A_NUMBER``/``B_NUMBER``, ``src``/``dst``, ``ts``, ``msisdn``, ...) and
checked by content: a timestamp must parse, a duration must be a number.  Timestamps that are
neither ISO-8601 nor epoch numbers get a pattern (``%d/%m/%Y %H:%M``) tried on every sampled value.

Nothing is guessed silently: :class:`Detection` lists what was mapped, from what, and what was
not, and ``tiewise init`` prints it.

Examples
--------
>>> guess_timestamp_format(["31/01/2026 14:05", "01/02/2026 09:30"])
'%d/%m/%Y %H:%M'
>>> guess_timestamp_format(["2026-01-31T14:05:00", "2026-02-01 09:30:00"])
'auto'
>>> normalise("A_NUMBER"), normalise("Caller-MSISDN")
('anumber', 'callermsisdn')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from tiewise.config import InputSpec
from tiewise.ingest.schemas import SCHEMAS
from tiewise.store import sql_string

__all__ = [
    "Detection",
    "FileMapping",
    "detect_inputs",
    "guess_timestamp_format",
    "normalise",
]

SAMPLE_ROWS = 200
SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")

# File names (normalised, singular or plural) -> the input they hold, and for interaction logs
# of one channel the channel every row has.
_FILE_NAMES: dict[str, tuple[str, str | None]] = {
    **dict.fromkeys(
        ("interaction", "cdr", "cdrs", "log", "logs", "records", "traffic", "edges", "links"),
        ("interactions", None),
    ),
    **dict.fromkeys(("call", "calls", "voice", "calllog", "calllogs"), ("interactions", "voice")),
    **dict.fromkeys(("sms", "text", "texts", "message", "messages"), ("interactions", "sms")),
    **dict.fromkeys(("email", "emails", "mail", "mails"), ("interactions", "email")),
    **dict.fromkeys(("meeting", "meetings"), ("interactions", "meeting")),
    **dict.fromkeys(("referral", "referrals", "invites"), ("interactions", "referral")),
    **dict.fromkeys(
        ("customer", "subscriber", "client", "member", "user", "contact", "account", "people"),
        ("customers", None),
    ),
    **dict.fromkeys(
        (
            "transaction",
            "purchase",
            "order",
            "bill",
            "billing",
            "payment",
            "sale",
            "revenue",
            "invoice",
            "spend",
        ),
        ("transactions", None),
    ),
    **dict.fromkeys(
        ("adoption", "activation", "product", "productadoption", "subscription", "uptake"),
        ("adoptions", None),
    ),
    **dict.fromkeys(
        (
            "churn",
            "churner",
            "churned",
            "cancellation",
            "portout",
            "disconnection",
            "leaver",
            "deactivation",
        ),
        ("churn", None),
    ),
    **dict.fromkeys(("engagement", "activity", "event", "touchpoint"), ("engagement", None)),
}

# tiewise column -> names (normalised) a file may give it, best first.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "from_id": (
        "fromid", "from", "caller", "callerid", "callingnumber", "calling", "anumber", "aparty",
        "anum", "msisdna", "src", "source", "sourceid", "sender", "senderid", "originator",
        "orig", "fromnumber", "frommsisdn", "callermsisdn", "msisdn", "a", "referrer", "inviter",
        "party1", "user1", "node1", "u",
    ),
    "to_id": (
        "toid", "to", "callee", "calleeid", "callednumber", "called", "bnumber", "bparty", "bnum",
        "msisdnb", "dst", "dest", "destination", "target", "targetid", "recipient", "receiver",
        "tonumber", "tomsisdn", "calleemsisdn", "othernumber", "otherparty", "b", "referee",
        "invitee", "party2", "user2", "node2", "v",
    ),
    "timestamp": (
        "timestamp", "ts", "time", "datetime", "eventtime", "starttime", "start", "calltime",
        "calldate", "date", "createdat", "occurredat", "at", "when", "eventdate",
        "transactiondate", "orderdate", "purchasedate", "adoptiondate", "adoptedat", "churndate",
        "churnedat", "leftat", "enddate", "cancellationdate", "activationdate",
    ),
    "channel": ("channel", "type", "calltype", "kind", "medium", "service", "recordtype"),
    "duration_s": (
        "durations", "duration", "durationsec", "durationseconds", "seconds", "secs",
        "callduration", "length", "dur",
    ),
    "direction": ("direction", "dir", "inout", "calldirection"),
    "customer_id": (
        "customerid", "customer", "custid", "cust", "msisdn", "subscriber", "subscriberid",
        "clientid", "client", "userid", "user", "memberid", "contactid", "contact", "phone",
        "phonenumber", "number", "email", "id",
    ),
    "on_network": ("onnetwork", "onnet", "isonnet", "isonnetwork", "internal"),
    "account_id": ("accountid", "account", "company", "companyid", "organisation", "org"),
    "segment": ("segment", "customersegment", "tier", "group"),
    "signup_date": (
        "signupdate", "signup", "joined", "joindate", "activationdate", "startdate",
        "since", "createdat",
    ),
    "plan": ("plan", "tariff", "priceplan", "product", "package"),
    "monthly_fee": ("monthlyfee", "fee", "monthlycharge", "arpu", "mrc", "monthlyprice"),
    "amount": (
        "amount", "value", "revenue", "price", "total", "spend", "charge", "bill", "sum",
        "ordervalue", "net",
    ),
    "category": ("category", "cat", "topic", "productcategory", "genre", "family", "line"),
    "item": (
        "item", "itemid", "product", "productid", "sku", "offer", "service", "title", "bundle",
    ),
    "event_type": ("eventtype", "event", "type", "activity", "action", "kind", "channel"),
    "value": ("value", "score", "points", "count", "pages"),
}  # fmt: skip

_PATTERNS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d/%m/%y %H:%M",
    "%m/%d/%y %H:%M",
    "%d/%m/%y",
    "%m/%d/%y",
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def normalise(name: str) -> str:
    """A column or file name lower-cased with everything but letters and digits removed."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_timestamp_format(values: Iterable[str]) -> str | None:
    """The ``timestamp_format`` that reads every value, or None when none does.

    ``'auto'`` for ISO-8601 and epoch numbers (tiewise reads both without help), else the first
    strptime pattern that parses every value (day-first before month-first when both do).
    """
    sample = [v.strip() for v in values if v is not None and v.strip()]
    if not sample:
        return None
    if all(_ISO.match(v) or _NUMBER.match(v) for v in sample):
        return "auto"
    for pattern in _PATTERNS:
        try:
            for v in sample:
                datetime.strptime(v, pattern)
        except ValueError:
            continue
        return pattern
    return None


@dataclass
class FileMapping:
    """One file: the input it feeds, how its columns map, what could not be mapped."""

    path: Path
    fmt: str
    input: str | None
    columns: dict[str, str] = field(default_factory=dict)  # tiewise name -> file column
    constants: dict[str, str] = field(default_factory=dict)
    timestamp_format: str = "auto"
    unused: list[str] = field(default_factory=list)  # file columns nothing maps to
    missing: list[str] = field(default_factory=list)  # required tiewise columns not found
    notes: list[str] = field(default_factory=list)
    why: str = ""  # why this file is this input

    @property
    def usable(self) -> bool:
        """True when the file can be wired: an input is known and no required column lacks."""
        return self.input is not None and not self.missing


@dataclass
class Detection:
    """Every file of a folder, mapped or not."""

    folder: Path
    files: list[FileMapping]

    def inputs(self) -> dict[str, list[FileMapping]]:
        """The usable files per input, in file-name order."""
        out: dict[str, list[FileMapping]] = {}
        for f in self.files:
            if f.usable and f.input is not None:
                out.setdefault(f.input, []).append(f)
        return out

    def specs(self) -> dict[str, list[InputSpec]]:
        """The usable files as configuration sources, per input."""
        return {
            name: [
                InputSpec(
                    path=str(f.path),
                    columns=f.columns,
                    constants=f.constants,
                    timestamp_format=f.timestamp_format,
                )
                for f in files
            ]
            for name, files in self.inputs().items()
        }

    def lines(self) -> list[str]:
        """What was mapped and what not, in sentences for the terminal."""
        out = []
        for f in self.files:
            if f.input is None:
                out.append(f"{f.path.name}: not used ({f.why}).")
                continue
            mapped = ", ".join(
                f"{tw} <- {col}" if tw != col else tw for tw, col in f.columns.items()
            )
            state = "mapped" if f.usable else "NOT wired"
            line = f"{f.path.name}: {state} as {f.input} ({f.why}); columns: {mapped or 'none'}"
            if f.constants:
                fixed = (f'{k} = "{v}" for every row' for k, v in f.constants.items())
                line += "; " + ", ".join(fixed)
            if f.timestamp_format != "auto":
                line += f"; timestamp_format = {f.timestamp_format!r}"
            out.append(line + ".")
            if f.missing:
                out.append(
                    f"  could not find required column(s) {', '.join(f.missing)}: map them by "
                    f"hand in [inputs.{f.input}.columns]."
                )
            if f.unused:
                out.append(f"  not used: {', '.join(f.unused)}.")
            out.extend(f"  note: {n}" for n in f.notes)
        wired = self.inputs()
        absent = [name for name in SCHEMAS if name not in wired]
        if absent:
            out.append("No file for: " + ", ".join(absent) + ".")
        return out


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(SUFFIXES)
    )


def _stem(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _sample(
    con: duckdb.DuckDBPyConnection, path: Path
) -> tuple[str, list[str], list[list[str | None]]]:
    quoted = sql_string(path.as_posix())
    if path.name.lower().endswith((".parquet", ".pq")):
        fmt, reader = "parquet", f"read_parquet({quoted})"
    else:
        fmt, reader = "csv", f"read_csv({quoted}, all_varchar = true, header = true)"
    cur = con.execute(f"SELECT * FROM {reader} LIMIT {SAMPLE_ROWS}")
    names = [d[0] for d in cur.description or []]
    rows = cur.fetchall()
    columns = [[None if r[i] is None else str(r[i]) for r in rows] for i in range(len(names))]
    return fmt, names, columns


def _input_from_name(stem: str) -> tuple[str | None, str | None]:
    """The input and channel a file name says, trying each word of the name."""
    words = [w for w in re.split(r"[^a-z0-9]+", stem) if w]
    for candidate in (normalise(stem), *reversed(words), *words):
        for form in (candidate, candidate.rstrip("s"), candidate.removesuffix("es")):
            if form in _FILE_NAMES:
                return _FILE_NAMES[form]
    if stem in SCHEMAS:
        return stem, None
    return None, None


def _is_number(values: list[str | None]) -> bool:
    present = [v for v in values if v not in (None, "")]
    return bool(present) and all(_NUMBER.match(v.strip()) for v in present if v is not None)


def _map_columns(
    input_name: str, names: list[str], values: dict[str, list[str | None]]
) -> tuple[dict[str, str], str, list[str]]:
    """The mapping (tiewise column -> file column), the timestamp format, and notes."""
    schema = SCHEMAS[input_name]
    by_norm: dict[str, str] = {}
    for n in names:
        by_norm.setdefault(normalise(n), n)
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    notes: list[str] = []
    ts_format = "auto"
    # Required columns first, so that e.g. `msisdn` goes to from_id before customer_id needs it.
    order = sorted(schema.columns, key=lambda c: not c.required)
    for column in order:
        for synonym in _SYNONYMS.get(column.name, (normalise(column.name),)):
            original = by_norm.get(synonym)
            if original is None or original in taken:
                continue
            sample = [v for v in values[original] if v not in (None, "")]
            if column.kind in ("timestamp", "date"):
                guessed = guess_timestamp_format([v for v in sample if v is not None])
                if guessed is None:
                    continue
                if column.kind == "timestamp":
                    ts_format = guessed
            if column.kind in ("number", "integer") and not _is_number(values[original]):
                continue
            mapping[column.name] = original
            taken.add(original)
            break
    # By content: a required timestamp no name matched is the one column that parses as one.
    for column in schema.columns:
        if column.kind != "timestamp" or column.name in mapping:
            continue
        candidates = []
        for n in names:
            if n in taken:
                continue
            sample = [v for v in values[n] if v not in (None, "")]
            guessed = guess_timestamp_format([v for v in sample if v is not None])
            if guessed is not None and not _is_number(values[n]):
                candidates.append((n, guessed))
        if len(candidates) == 1:
            n, ts_format = candidates[0]
            mapping[column.name] = n
            taken.add(n)
            notes.append(f"{n} holds the timestamps (its values parse as dates and times).")
    if ts_format not in ("auto",) and "timestamp" in mapping:
        notes.append(
            f"timestamps like {next(v for v in values[mapping['timestamp']] if v)!r} are read "
            f"as {ts_format} (day/month order: check it)."
            if ts_format.startswith(("%d/%m", "%m/%d"))
            else f"timestamps are read with the pattern {ts_format}."
        )
    return mapping, ts_format, notes


def _by_columns(names: list[str]) -> str | None:
    """The input a file's columns say it is, when its name did not."""
    norm = {normalise(n) for n in names}

    def has(column: str) -> bool:
        return any(s in norm for s in _SYNONYMS[column])

    if has("from_id") and has("to_id"):
        return "interactions"
    if has("item"):
        return "adoptions"
    if has("event_type") and has("customer_id") and has("timestamp"):
        return "engagement"
    if has("amount") and has("customer_id"):
        return "transactions"
    return None


def _map_file(con: duckdb.DuckDBPyConnection, path: Path) -> FileMapping:
    try:
        fmt, names, columns = _sample(con, path)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        return FileMapping(path, "?", None, why=f"cannot read it: {first}")
    values = dict(zip(names, columns, strict=True))
    input_name, channel = _input_from_name(_stem(path))
    why = "its name"
    if input_name is None:
        input_name = _by_columns(names)
        why = "its columns"
    if input_name is None:
        return FileMapping(
            path, fmt, None, unused=names, why="neither its name nor its columns say which input"
        )
    mapping, ts_format, notes = _map_columns(input_name, names, values)
    found = FileMapping(path, fmt, input_name, mapping, timestamp_format=ts_format, why=why)
    found.notes.extend(notes)
    schema = SCHEMAS[input_name]
    if input_name == "interactions" and "channel" not in mapping:
        found.constants["channel"] = channel or "voice"
        if channel is None:
            found.notes.append(
                "no channel column: every record counts as a voice call (set constants.channel)."
            )
    elif input_name == "interactions" and channel is not None and "channel" in mapping:
        pass  # the file's own channel column wins over its name
    found.missing = [c for c in schema.required if c not in mapping and c not in found.constants]
    found.unused = [n for n in names if n not in mapping.values()]
    if input_name == "churn" and "timestamp" not in mapping:
        found.notes.append("a churn file needs the date each customer left.")
    return found


def detect_inputs(folder: Path) -> Detection:
    """Read every CSV/Parquet file in ``folder`` and map it to an input and its columns.

    Parameters
    ----------
    folder
        The folder of input files (not searched recursively).

    Returns
    -------
    Detection
        One :class:`FileMapping` per file, usable or not, with what was mapped and why.
    """
    con = duckdb.connect()
    try:
        return Detection(folder, [_map_file(con, p) for p in _files(folder)])
    finally:
        con.close()
