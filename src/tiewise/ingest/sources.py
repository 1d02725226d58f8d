"""Input sources: which files an input names, how DuckDB reads them, what columns they have."""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tiewise.config import Config, InputSpec
from tiewise.exceptions import InputError
from tiewise.ingest.schemas import SCHEMAS, InputSchema

__all__ = ["FileStat", "Source", "fingerprint_inputs", "resolve_sources", "sql_path"]


@dataclass(frozen=True)
class FileStat:
    """A file's identity for change detection: path, size and modification time."""

    path: str
    bytes: int
    mtime: int


@dataclass(frozen=True)
class Source:
    """One configured source of an input: its specification and the files it names."""

    schema: InputSchema
    index: int
    spec: InputSpec
    files: tuple[FileStat, ...]
    fmt: str
    label: str  # how the configuration names it, e.g. "inputs.interactions[2]"

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
        the file); with ``rejects``, malformed lines (wrong column count, bad encoding) go to
        the DuckDB table of that name instead of failing the read.
        """
        chosen = files if files is not None else list(self.files)
        paths = "[" + ", ".join(sql_path(f.path) for f in chosen) + "]"
        if self.fmt == "parquet":
            return (
                f"read_parquet({paths}, filename = true, file_row_number = true, "
                "union_by_name = true)"
            )
        options = ["header = true", "all_varchar = true", "filename = true"]
        if self.spec.delimiter:
            options.append(f"delim = {_literal(self.spec.delimiter)}")
        if self.spec.encoding != "utf-8":
            options.append(f"encoding = {_literal(self.spec.encoding)}")
        if lenient:  # for sniffing the columns: a malformed line must not confuse the sniffer
            options.append("ignore_errors = true")
        elif rejects:
            options += [
                "store_rejects = true",
                f"rejects_table = '{rejects}'",
                f"rejects_scan = '{rejects}_scan'",
            ]
        return f"read_csv({paths}, {', '.join(options)})"

    def columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        """The columns DuckDB sees in the source (name -> type), checked once per source."""
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
    return "'" + text.replace("'", "''") + "'"


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
