"""Input sources: which files an input names, how DuckDB reads them, what columns they have."""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

from tiewise.config import Config, InputSpec
from tiewise.exceptions import InputError
from tiewise.ingest.schemas import SCHEMAS, InputSchema
from tiewise.store import sql_string

__all__ = ["Dialect", "FileStat", "Source", "fingerprint_inputs", "resolve_sources", "sql_path"]

_DELIMITERS = (",", ";", "\t", "|")
_HEAD_BYTES = 1 << 20  # how much of a file the fallback sniffer reads for the first line


@dataclass(frozen=True)
class FileStat:
    """A file's identity for change detection: path, size and modification time."""

    path: str
    bytes: int
    mtime: int


@dataclass(frozen=True)
class Dialect:
    """How a CSV source splits into fields: delimiter, quote, escape, and its columns' names."""

    delimiter: str
    quote: str
    escape: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """One configured source of an input: its specification and the files it names."""

    schema: InputSchema
    index: int
    spec: InputSpec
    files: tuple[FileStat, ...]
    fmt: str
    label: str  # how the configuration names it, e.g. "inputs.interactions[2]"
    dialect: Dialect | None = None  # CSV: set by :meth:`sniffed`, then every read uses it

    def user_column(self, name: str) -> str:
        """The column of the user's file that holds tiewise column ``name``."""
        return self.spec.columns.get(name, name)

    def reader(
        self,
        files: list[FileStat] | None = None,
        rejects: str | None = None,
        lenient: bool = False,
    ) -> str:
        """A DuckDB table function reading ``files`` (default: all) with ``filename``.

        CSV is read as text (tiewise types each column itself, so one bad value does not fail
        the file) in the :class:`Dialect` found once by :meth:`sniffed`, never sniffed again: a
        malformed line (wrong field count, an unclosed quote, over 2 MB, bad encoding) then
        goes to the DuckDB table ``rejects`` with its line number, or with no ``rejects`` is
        skipped (the pass that stores the rejects counts it), instead of failing the read or
        changing how the other lines are split.

        The two ways do not give the same rows: after an unclosed quote that a later quote
        closes, DuckDB's ``ignore_errors`` may skip rows that storing the rejects reads.  Reads
        whose rows must match another's (counting, then listing the rule breakers) all store
        rejects, each in a table of its own.
        """
        chosen = files if files is not None else list(self.files)
        paths = "[" + ", ".join(sql_path(f.path) for f in chosen) + "]"
        if self.fmt == "parquet":
            return (
                f"read_parquet({paths}, filename = true, file_row_number = true, "
                "union_by_name = true)"
            )
        options = [f"header = {str(self.spec.header).lower()}", "filename = true"]
        if self.spec.encoding != "utf-8":
            options.append(f"encoding = {_literal(self.spec.encoding)}")
        if self.dialect is None:  # sniffing the dialect
            options.append("all_varchar = true")
            if self.spec.delimiter:
                options.append(f"delim = {_literal(self.spec.delimiter)}")
            if lenient:  # a malformed line must not confuse the sniffer
                options.append("ignore_errors = true")
            return f"read_csv({paths}, {', '.join(options)})"
        d = self.dialect
        columns = ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in d.names)
        options += [
            "auto_detect = false",
            f"delim = {_literal(d.delimiter)}",
            f"quote = {_literal(d.quote)}",
            f"escape = {_literal(d.escape)}",
            f"columns = {{{columns}}}",
        ]
        if rejects:
            options += [
                "store_rejects = true",
                f"rejects_table = '{rejects}'",
                f"rejects_scan = '{rejects}_scan'",
            ]
        else:
            options.append("ignore_errors = true")
        return f"read_csv({paths}, {', '.join(options)})"

    def sniffed(self) -> Source:
        """The source with its CSV :class:`Dialect` (Parquet: unchanged).

        DuckDB's sniffer reads a sample of the first file.  One malformed line can fool it (an
        unclosed quote makes it pick another delimiter, a line over its buffer makes it fail
        on "line 1"); then the first line itself says the columns: split by the configured
        delimiter, else by whichever of , ; tab | it holds most.  Quoting is always the
        standard double quote, so an unclosed quote is a malformed line, not a new dialect.
        """
        if self.fmt != "csv" or self.dialect is not None:
            return self
        options = [sql_path(self.files[0].path), f"header = {str(self.spec.header).lower()}"]
        if self.spec.delimiter:
            options.append(f"delim = {_literal(self.spec.delimiter)}")
        if self.spec.encoding != "utf-8":
            options.append(f"encoding = {_literal(self.spec.encoding)}")
        try:  # on a connection of its own: a failure must not abort the run's transaction
            with duckdb.connect() as own:
                rows = own.execute(
                    f"SELECT Delimiter, Escape, Columns FROM sniff_csv({', '.join(options)})"
                ).fetchall()
            delimiter, escape, columns = rows[0]
            names = tuple(str(c["name"]) for c in columns)
        except duckdb.Error:
            delimiter, escape, names = "", "", ()
        line = self._first_line()
        fooled = len(names) <= 1 and any(c in line for c in _DELIMITERS)
        if not names or fooled or len(names) != len(self._names(line, delimiter)[1]):
            # the sniffer failed, split the header on the wrong character, or skipped lines
            delimiter, names = self._names(line, self.spec.delimiter)
        if escape not in ('"', "\\"):
            escape = '"'
        return replace(self, dialect=Dialect(delimiter, '"', escape, names))

    def _first_line(self) -> str:
        """The first line of the first file (at most 1 MB of it)."""
        path = Path(self.files[0].path)
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        encoding = {"utf-8": "utf-8-sig", "utf-16": "utf-16"}.get(self.spec.encoding, "latin-1")
        try:
            with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
                return str(fh.readline(_HEAD_BYTES)).rstrip("\r\n")
        except OSError as exc:
            raise InputError(f"{self.label}: cannot read {path}: {exc}.") from None

    def _names(self, line: str, delimiter: str | None) -> tuple[str, tuple[str, ...]]:
        """The delimiter (by default the likeliest) and the column names, from the first line."""
        delimiter = delimiter or max(_DELIMITERS, key=line.count)
        fields = next(csv.reader([line], delimiter=delimiter), [])
        if not self.spec.header:
            return delimiter, tuple(f"column{i}" for i in range(len(fields)))
        names: list[str] = []
        for i, name in enumerate(fields):  # as DuckDB names blank and repeated columns
            name = name.strip() or f"column{i}"
            names.append(name if name not in names else f"{name}_{i}")
        return delimiter, tuple(names)

    def columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        """The columns DuckDB sees in the source (name -> type), checked once per source."""
        if self.dialect is not None:
            return dict.fromkeys(self.dialect.names, "VARCHAR")
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM {self.reader(lenient=True)}").fetchall()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            raise InputError(
                f"{self.label}: cannot read {self.files[0].path}: {first}. Check that it is a "
                f"valid {self.fmt.upper()} file, its encoding (set `encoding`) and delimiter."
            ) from None
        return {r[0]: r[1] for r in rows}


def sql_path(path: str) -> str:
    """A file path as a SQL string literal."""
    return _literal(Path(path).as_posix())


def _literal(text: str) -> str:
    return sql_string(text)


def _format(spec: InputSpec, files: list[Path], label: str) -> str:
    if spec.format != "auto":
        return spec.format
    kinds = set()
    for f in files:
        name = f.name.lower()
        if name.endswith((".parquet", ".pq")):
            kinds.add("parquet")
        elif name.endswith((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".gz")):
            kinds.add("csv")
        else:
            kinds.add("?")
    if len(kinds) == 1 and "?" not in kinds:
        return kinds.pop()
    raise InputError(
        f"{label}: cannot tell the format of {files[0]} from the file names "
        f"({', '.join(sorted({f.suffix or f.name for f in files}))}); set format = 'csv' or "
        "'parquet'."
    )


def resolve_sources(config: Config, name: str) -> list[Source]:
    """The sources of input ``name`` with their files; a clear error when a path matches none."""
    schema = SCHEMAS[name]
    out = []
    for index, spec in enumerate(config.inputs.sources(name)):
        label = f"inputs.{name}" + (
            f"[{index + 1}]" if len(config.inputs.sources(name)) > 1 else ""
        )
        pattern = config.resolve(spec.path)
        paths = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        paths = [p for p in paths if p.is_file()]
        if not paths:
            raise InputError(
                f"{label}.path = {spec.path!r}: no file matches {pattern}. Check the path "
                "(relative paths are relative to the configuration file)."
            )
        unknown = (set(spec.columns) | set(spec.constants)) - {c.name for c in schema.columns}
        if unknown:
            allowed = ", ".join(c.name for c in schema.columns)
            raise InputError(
                f"{label}: unknown tiewise column(s) {sorted(unknown)} in columns/constants; "
                f"allowed: {allowed}."
            )
        stats = tuple(
            FileStat(str(p.resolve()), p.stat().st_size, int(p.stat().st_mtime)) for p in paths
        )
        out.append(Source(schema, index, spec, stats, _format(spec, paths, label), label))
    return out


def fingerprint_inputs(config: Config) -> dict[str, Any]:
    """Number, total size and a hash of (path, size, mtime) of every input's files."""
    out: dict[str, Any] = {}
    for name in SCHEMAS:
        sources = resolve_sources(config, name)
        if not sources:
            continue
        stats = [f for s in sources for f in s.files]
        digest = hashlib.sha256(repr(stats).encode()).hexdigest()[:16]
        out[name] = {"files": len(stats), "bytes": sum(f.bytes for f in stats), "hash": digest}
    return out
