"""The workspace: one folder holding one DuckDB database file with every input and result table.

A run writes all its tables in one transaction (:meth:`Workspace.run`).  If it fails or is
interrupted -- an exception, Ctrl-C, SIGTERM, even ``kill -9`` -- the transaction is never
committed, so the workspace keeps the previous complete results, and the next command says so
(:meth:`Workspace.recover`).  The ``runs`` table records every run: id, command, config hash,
input fingerprints, start, end, status, versions.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d, Workspace.open(d, create=True) as ws:
...     with ws.run(command="example") as run:
...         n = run.write_table("numbers", "SELECT range AS n FROM range(3)", stage="example",
...                         description="three numbers", check=False)
...     [t.name for t in ws.tables()], ws.table("numbers").count("*").fetchall()[0][0]
(['numbers'], 3)
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from tiewise import interrupts
from tiewise.exceptions import InputError, NotRunError, ResourceError, WorkspaceError
from tiewise.tables import check_table

__all__ = [
    "EXPORT_SUFFIXES",
    "RunContext",
    "TableInfo",
    "Workspace",
    "default_memory_limit",
    "exact_sum",
    "export_format",
    "file_order",
    "frame_query",
    "frame_rows",
    "frame_table",
    "memory_advice",
    "release_buffers",
    "scalar",
    "sql_identifier",
    "sql_path",
    "sql_read_path",
    "sql_string",
    "temp_table",
    "versions",
]

DB_FILE = "tiewise.duckdb"
EXPORT_SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
"""The file names ``export`` writes, and the format each means."""
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_INTERNAL = {"runs", "_tiewise_tables", "_tiewise_settings"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    command VARCHAR NOT NULL,
    config_hash VARCHAR,
    inputs JSON,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    status VARCHAR NOT NULL,
    error VARCHAR,
    versions JSON,
    pid INTEGER,
    host VARCHAR,
    stages JSON
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS stages JSON;
CREATE TABLE IF NOT EXISTS _tiewise_tables (
    name VARCHAR PRIMARY KEY,
    stage VARCHAR NOT NULL,
    run_id INTEGER NOT NULL,
    description VARCHAR NOT NULL,
    written_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS _tiewise_settings (
    name VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
"""


def versions() -> dict[str, str]:
    """Versions of tiewise, Python and the engines, as recorded with every run."""
    found = {"python": platform.python_version()}
    for package in ("tiewise", "duckdb", "networkit", "igraph", "numpy", "pandas"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def exact_sum(expr: str, where: str | None = None) -> str:
    """SQL for a sum (of amounts, tie strengths) that is the same on every run.

    DuckDB sums DOUBLEs on several threads in whatever order they meet the rows, so the last
    bits of ``sum(amount)`` change from run to run; summed as ``DECIMAL(38, 6)`` (each value to
    the millionth) the total is exact.  ``where``: the aggregate's ``FILTER`` condition.

    Examples
    --------
    >>> exact_sum("t.amount")
    'CAST(sum(CAST(t.amount AS DECIMAL(38, 6))) AS DOUBLE)'
    >>> exact_sum("s", "w > 1")
    'CAST(sum(CAST(s AS DECIMAL(38, 6))) FILTER (WHERE w > 1) AS DOUBLE)'
    """
    condition = f" FILTER (WHERE {where})" if where else ""
    return f"CAST(sum(CAST({expr} AS DECIMAL(38, 6))){condition} AS DOUBLE)"


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal: the one place text from outside is quoted for SQL.

    DuckDB cannot bind a parameter where a file name goes (``COPY ... TO``, ``SET``), so every
    path or name from outside that reaches SQL goes through this (or :func:`sql_path`,
    :func:`sql_read_path`): each ``'`` doubled, nothing else special inside the quotes, so a
    ``';`` in a file name stays part of the name.

    Examples
    --------
    >>> sql_string("x.csv' (FORMAT CSV); COPY (SELECT 1) TO 'y.csv'; --")
    "'x.csv'' (FORMAT CSV); COPY (SELECT 1) TO ''y.csv''; --'"
    """
    if "\0" in text:
        raise InputError(f"{text!r}: a NUL character cannot be part of a name or path.")
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a column or table name from outside or from data).

    Each ``"`` doubled, so any column name of a user's file -- spaces, quotes, keywords --
    names that column and nothing else.

    Examples
    --------
    >>> sql_identifier('order "date"; DROP TABLE x')
    '"order ""date""; DROP TABLE x"'
    """
    if "\0" in name:
        raise InputError(f"{name!r}: a NUL character cannot be part of a column or table name.")
    return '"' + name.replace('"', '""') + '"'


def sql_path(path: str | Path) -> str:
    """A local path that DuckDB writes or uses as given (``COPY ... TO``, ``temp_directory``).

    Made absolute first, so DuckDB never reads it as a URL (``s3://``) or expands a ``~``.
    """
    return sql_string(Path(path).absolute().as_posix())


_GLOB = re.compile(r"([*?\[])")


def sql_read_path(path: str | Path) -> str:
    """One local file for DuckDB to read (``read_csv``, ``read_parquet``): exactly that file.

    DuckDB expands ``*``, ``?`` and ``[...]`` in the paths it reads, so ``calls[1].csv`` would
    read ``calls1.csv``; each is wrapped in brackets (``[[]``), which matches it literally.

    Examples
    --------
    >>> sql_read_path("/data/calls[1]*.csv")
    "'/data/calls[[]1][*].csv'"
    """
    return sql_string(_GLOB.sub(r"[\1]", Path(path).absolute().as_posix()))


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The first value of the first row of ``sql`` (None when no row); the result is consumed."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


@contextmanager
def file_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep rows in the order they are read (files, for row numbers within a file; frames).

    The setting comes back as it was, so blocks nest.
    """
    before = bool(scalar(con, "SELECT current_setting('preserve_insertion_order')"))
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(before).lower()}")


def frame_rows(con: duckdb.DuckDBPyConnection, frame: Any) -> duckdb.DuckDBPyRelation:
    """A pandas or arrow ``frame`` as a relation (what :func:`frame_query` says about it holds)."""
    return con.from_arrow(frame) if isinstance(frame, pa.Table) else con.from_df(frame)


def frame_query(
    con: duckdb.DuckDBPyConnection, name: str, frame: Any, sql: str
) -> duckdb.DuckDBPyRelation:
    """``sql``, in which ``name`` is the pandas or arrow ``frame``, as a relation.

    Read it (``.df()``), write it (:meth:`RunContext.write_table`) or copy it into a temporary
    table (:func:`temp_table`).  Not ``con.register``: DuckDB keeps a frame registered inside a
    transaction alive, with a copy of it, until the transaction ends, unregistered or not, and a
    run is one transaction; at a million customers the frames kept that way held 2.7 GB after the
    influence stage, through the value and churn stages.  A view over a frame keeps it the same
    way.  A relation holds the frame only as long as Python holds the relation.

    Examples
    --------
    >>> import pandas as pd
    >>> con = duckdb.connect()
    >>> frame_query(con, "_f", pd.DataFrame({"x": [1, 2]}), "SELECT sum(x) AS s FROM _f").fetchall()
    [(3,)]
    """
    relation = frame_rows(con, frame).query(name, sql)
    assert relation is not None, "a query gives a relation"
    return relation


def temp_table(con: duckdb.DuckDBPyConnection, name: str, rows: duckdb.DuckDBPyRelation) -> None:
    """``rows`` copied, in their order, into the temporary table ``name`` (replaced if there).

    A temporary table dropped inside a transaction keeps its memory until the transaction ends,
    in DuckDB's pool (where :func:`release_buffers` can spill it), not in Python's heap.
    """
    typed = zip(rows.columns, rows.types, strict=True)
    columns = ", ".join(f"{sql_identifier(c)} {t}" for c, t in typed)
    with file_order(con):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {sql_identifier(name)} ({columns})")
        rows.insert_into(name)


@contextmanager
def frame_table(con: duckdb.DuckDBPyConnection, name: str, frame: Any) -> Iterator[None]:
    """``frame`` as the temporary table ``name`` while the block runs (:func:`temp_table`).

    Examples
    --------
    >>> import pandas as pd
    >>> con = duckdb.connect()
    >>> with frame_table(con, "_ids", pd.DataFrame({"id": [3, 1, 2]})):
    ...     con.execute("SELECT list(id) FROM _ids").fetchall()
    [([3, 1, 2],)]
    >>> con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_ids'").fetchall()
    [(0,)]
    """
    temp_table(con, name, frame_rows(con, frame))
    try:
        yield
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{sql_identifier(name)}")


def export_format(out: str | Path, fmt: str | None = None) -> Literal["csv", "parquet"]:
    """The format :meth:`Workspace.export` writes ``out`` in: from its suffix, or ``fmt``.

    Raises
    ------
    InputError
        ``out`` ends in another suffix (e.g. ``.xlsx``) and no ``fmt`` is given, or its
        suffix contradicts ``fmt``, or it is a folder.
    """
    target = Path(out)
    lower = target.name.lower()
    by_suffix = next((f for s, f in EXPORT_SUFFIXES.items() if lower.endswith(s)), None)
    if fmt not in (None, "csv", "parquet"):
        raise InputError(f"export format must be csv or parquet, got {fmt!r}.")
    if by_suffix is None and fmt is None:
        raise InputError(
            f"cannot export to {target}: tiewise writes CSV or Parquet, and the file name "
            f"must end in {', '.join(EXPORT_SUFFIXES)} (or give --format csv|parquet)."
        )
    if by_suffix is not None and fmt is not None and by_suffix != fmt:
        raise InputError(f"cannot export to {target} as {fmt}: the name says {by_suffix}.")
    if target.is_dir():
        raise InputError(f"cannot export to {target}: it is a folder; name a file.")
    return "parquet" if (fmt or by_suffix) == "parquet" else "csv"


_REWRITING = DB_FILE + ".rewrite"


def _fresh_temp(folder: Path, read_only: bool) -> Path:
    """The folder DuckDB spills to, readable by the owner only, cleared of what others left.

    Spill files and ingest slices hold raw identifiers while a run lasts; a process killed
    with ``kill -9`` leaves them behind, so every command clears them when it opens the
    workspace: everything in ``tmp/`` but the folders of readers still running (a writer holds
    the workspace alone, so whatever a writer left is stale).  A reader spills to a folder of
    its own, ``tmp/reader-<pid>``, as other readers may share the workspace.
    """
    tmp = folder / "tmp"
    try:
        tmp.mkdir(mode=0o700, exist_ok=True)
        tmp.chmod(0o700)
    except OSError:
        if not read_only:
            raise
        # a workspace others own, read here: spill to a private folder of the system's
        return Path(tempfile.mkdtemp(prefix="tiewise-reader-"))
    for entry in tmp.iterdir():
        owner = entry.name.removeprefix("reader-")
        if owner != entry.name and owner.isdigit() and _pid_alive(int(owner)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with suppress(OSError):  # another user's file in a shared workspace
                entry.unlink(missing_ok=True)
    if not read_only:
        return tmp
    own = tmp / f"reader-{os.getpid()}"
    own.mkdir(mode=0o700, exist_ok=True)
    return own


def default_memory_limit(share: float = 0.25) -> str | None:
    """DuckDB's memory limit when ``[engine] memory_limit`` is unset: a quarter of the memory.

    DuckDB fills its pool up to the limit (it is a cache) and spills beyond it, while the rest
    of the process -- the graph in NetworKit, the influence stage's reverse-reachable sets, the
    churn models -- cannot spill and grows with the customers.  At a million customers on a
    24 GB machine, half the memory for DuckDB (11.7 GiB) made a whole run peak at 12.3 GiB,
    and 6 GB at 6.9 GiB (docs/scale.md).  None where the system does not say.

    Examples
    --------
    >>> default_memory_limit() is None or default_memory_limit().endswith("MiB")
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return f"{int(total * share) // 2**20}MiB" if total > 0 else None


def memory_advice(error: str, limit: object, threads: object) -> str:
    """What to do when DuckDB runs out of memory: raise ``[engine] memory_limit``.

    ``error`` is DuckDB's message (its first line says how much it held and failed to get).
    """
    first = error.splitlines()[0] if error else "out of memory"
    return (
        f"the run needs more memory than DuckDB may use: {first}. DuckDB's limit is {limit} "
        f"with {threads} threads; raise `memory_limit` under [engine] in the configuration "
        '(e.g. memory_limit = "2GB"; the process uses more than the limit, see docs/workspace.md, '
        '"Memory"), or lower [engine] threads. Nothing this run wrote was kept.'
    )


RELEASE_LIMIT = "64MB"
"""DuckDB's memory limit for the moment :func:`release_buffers` hands its buffers back."""


def release_buffers(con: duckdb.DuckDBPyConnection, limit: str | None) -> None:
    """Hand DuckDB's buffer pool back to the system, then allow it ``limit`` again.

    DuckDB keeps the pages a query read (the network's links and nodes: gigabytes at a million
    customers) until it needs the room, so a stage that has read what it needs and goes on with
    numpy would hold them beside its own arrays.  Lowering the memory limit evicts them at once;
    the pool fills again only as later queries read.  Pages of the database file are dropped;
    what the run wrote and has not committed is dropped too when already in the file, or else
    written to the workspace's ``tmp/`` folder, and read back when needed (a cost measured in
    docs/scale.md).

    The limit is changed on a cursor of its own: were DuckDB unable to free enough, the error
    would end that cursor's statement, not the run's transaction, and the limit is set back
    whatever happens.  ``limit`` is the workspace's ``SET memory_limit`` value (None: DuckDB's
    default, restored with ``RESET``).

    Examples
    --------
    >>> con = duckdb.connect()
    >>> con.execute("SET memory_limit = '1GB'") and None
    >>> release_buffers(con, "1GB")
    >>> scalar(con, "SELECT current_setting('memory_limit')")
    '953.6 MiB'
    """
    spare = con.cursor()
    try:
        with suppress(duckdb.OutOfMemoryException):  # it evicted what it could all the same
            spare.execute(f"SET memory_limit = {sql_string(RELEASE_LIMIT)}")
    finally:
        try:
            if limit:
                spare.execute(f"SET memory_limit = {sql_string(limit)}")
            else:
                spare.execute("RESET memory_limit")
        finally:
            spare.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class TableInfo:
    """A result or input table in the workspace."""

    name: str
    stage: str
    rows: int | None  # None: a view, not counted (counting runs its query)
    run_id: int
    description: str


class RunContext:
    """What a stage sees during a run: the connection and a way to write tables."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, run_id: int, memory_limit: str | None = None
    ) -> None:
        self.con = con
        self.run_id = run_id
        self.memory_limit = memory_limit  # DuckDB's limit as set (None: DuckDB's default)
        self.written: list[str] = []

    def release_buffers(self) -> None:
        """Hand DuckDB's buffer pool back before work outside DuckDB (:func:`release_buffers`)."""
        release_buffers(self.con, self.memory_limit)

    def write_table(
        self,
        name: str,
        source: str | duckdb.DuckDBPyRelation | Any,
        *,
        stage: str,
        description: str,
        params: list[Any] | None = None,
        check: bool = True,
    ) -> int:
        """Create or replace table ``name`` from SQL, a relation, a data frame or an arrow table.

        Returns the number of rows written.  The table becomes visible to others only when the
        run commits.  Its columns are checked against its declaration in :mod:`tiewise.tables`
        (:func:`tiewise.tables.check_table`); ``check=False`` skips that, for scratch tables and
        test stand-ins only.
        """
        if not _NAME.match(name) or name in _INTERNAL:
            raise ValueError(f"invalid table name {name!r}")
        if self._is_view(name):
            self.con.execute(f'DROP VIEW "{name}"')
        if isinstance(source, str):
            self.con.execute(f'CREATE OR REPLACE TABLE "{name}" AS {source}', params or [])
        elif isinstance(source, duckdb.DuckDBPyRelation):
            # not through a view: a view over a frame (a relation from frame_query) keeps the
            # frame in memory until the run commits
            self.con.execute(f'DROP TABLE IF EXISTS "{name}"')
            source.create(name)
        else:
            # a frame is stored in its own order (a ranking, a priority list), so that a rerun
            # stores and exports the same rows in the same order (SQL sorts with ORDER BY)
            rows = frame_rows(self.con, source)
            with file_order(self.con):
                self.con.execute(f'DROP TABLE IF EXISTS "{name}"')
                rows.create(name)
        if check:
            check_table(self.con, name, stage)
        self.con.execute(
            "INSERT OR REPLACE INTO _tiewise_tables VALUES (?, ?, ?, ?, ?)",
            [name, stage, self.run_id, description, _now()],
        )
        self.written.append(name)
        return int(scalar(self.con, f'SELECT count(*) FROM "{name}"'))

    def write_view(
        self, name: str, sql: str, *, stage: str, description: str, check: bool = True
    ) -> None:
        """Create or replace view ``name``: a table computed from others when it is read.

        Checked against :mod:`tiewise.tables` as :meth:`write_table` checks tables.
        """
        if not _NAME.match(name) or name in _INTERNAL:
            raise ValueError(f"invalid view name {name!r}")
        if self.has_table(name):  # it was a table in an earlier version of the workspace
            self.con.execute(f'DROP TABLE "{name}"')
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
        if check:
            check_table(self.con, name, stage)
        self.con.execute(
            "INSERT OR REPLACE INTO _tiewise_tables VALUES (?, ?, ?, ?, ?)",
            [name, stage, self.run_id, description, _now()],
        )
        self.written.append(name)

    def _is_view(self, name: str) -> bool:
        sql = "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main'"
        return bool(scalar(self.con, sql, [name]))

    def has_table(self, name: str) -> bool:
        """Whether table ``name`` exists (including ones written earlier in this run)."""
        sql = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'"
        return bool(scalar(self.con, sql, [name]))

    def columns(self, name: str) -> set[str]:
        """The column names of table ``name`` (empty when it does not exist)."""
        sql = (
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'"
        )
        return {str(r[0]) for r in self.con.execute(sql, [name]).fetchall()}


class Workspace:
    """A tiewise workspace: a folder with one DuckDB database.

    Use :meth:`open` to get one; it is a context manager that closes the database.
    """

    def __init__(
        self,
        path: Path,
        con: duckdb.DuckDBPyConnection,
        *,
        read_only: bool,
        memory_limit: str | None = None,
    ) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only
        self._settings: list[str] = []  # the SET statements a reconnection repeats
        self.memory_limit = memory_limit  # as configured ([engine] memory_limit), or None
        self.duckdb_memory_limit: str | None = None  # as set: configured or default, or None

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = False,
        read_only: bool = False,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> Workspace:
        """Open the workspace in folder ``path``.

        Parameters
        ----------
        path
            The workspace folder.
        create
            Create the folder and database if missing; otherwise a missing workspace is an error.
        read_only
            Open without the write lock, so several readers (report, explorer) can share it.
        memory_limit, threads
            DuckDB limits, e.g. ``"4GB"``; beyond the memory limit DuckDB spills to
            ``path/tmp``.
        """
        folder = Path(path)
        db = folder / DB_FILE
        if not db.exists():
            if not create:
                raise NotRunError(
                    f"no workspace at {folder} (no {DB_FILE} there)",
                    then=", with a configuration whose `workspace` points here, or check the path",
                )
            folder.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(db), read_only=read_only and db.exists())
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WorkspaceError(
                    f"the workspace {folder} is in use by another tiewise process. Wait for it "
                    "to finish, or stop it; an interrupted run leaves the previous results intact."
                ) from None
            raise WorkspaceError(f"cannot open workspace {folder}: {exc}") from None
        settings = [f"SET temp_directory = {sql_path(_fresh_temp(folder, read_only))}"]
        # Results never rely on the order rows are stored in (queries sort where it matters);
        # not keeping it lets big loads stream and spill instead of running out of memory.
        settings.append("SET preserve_insertion_order = false")
        limit = memory_limit or (None if read_only else default_memory_limit())
        if limit:
            settings.append(f"SET memory_limit = {sql_string(limit)}")
        if threads:
            settings.append(f"SET threads = {int(threads)}")
        for setting in settings:
            con.execute(setting)
        if not (read_only and db.exists()):
            con.execute(_SCHEMA)
            (folder / _REWRITING).unlink(missing_ok=True)  # a rewrite that was interrupted
        ws = cls(folder, con, read_only=read_only, memory_limit=memory_limit)
        ws._settings = settings
        ws.duckdb_memory_limit = limit
        return ws

    def __enter__(self) -> Workspace:
        return self

    def setting(self, name: str) -> str | None:
        """A workspace setting recorded by a run (e.g. ``identifiers``), or None."""
        try:
            return scalar(self.con, "SELECT value FROM _tiewise_settings WHERE name = ?", [name])
        except duckdb.CatalogException:  # a workspace from before settings were recorded
            return None

    def rewrite(self) -> None:
        """Copy the database into a new file and put it in the old one's place.

        Dropping a table frees its pages but leaves their bytes in the file until they are
        reused: after switching from raw identifiers to pseudonyms, the raw ones could still be
        read from the file.  The copy holds only the current tables.  The swap is atomic; if the
        process dies before it, the old file stays and the partial copy is removed on the next
        open.
        """
        db = self.path / DB_FILE
        fresh = self.path / _REWRITING
        fresh.unlink(missing_ok=True)
        name = str(scalar(self.con, "SELECT current_database()"))
        self.con.execute(f"ATTACH {sql_path(fresh)} AS _tiewise_fresh")
        try:
            self.con.execute(f'COPY FROM DATABASE "{name}" TO _tiewise_fresh')
        finally:
            self.con.execute("DETACH _tiewise_fresh")
        self.con.close()
        os.replace(fresh, db)
        self.con = duckdb.connect(str(db))
        for setting in self._settings:
            self.con.execute(setting)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self.con.close()

    # -- reading ---------------------------------------------------------------------------

    _WRITTEN = (
        "SELECT t.name, t.stage, t.run_id, t.description FROM _tiewise_tables t "
        "WHERE t.name IN (SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
        "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main') "
        "ORDER BY t.written_at, t.name"
    )

    def table_names(self) -> set[str]:
        """The names of the tables that runs have written (nothing counted: cheap at any size)."""
        return {str(row[0]) for row in self.con.execute(self._WRITTEN).fetchall()}

    def tables(self, *, count_views: bool = True) -> list[TableInfo]:
        """The tables that runs have written, with their stage, row count and description.

        Every table is counted, and every view unless ``count_views`` is false (counting a view
        runs its query: ``links_directed`` takes seconds at a million subscribers; its ``rows``
        is then None).  Use :meth:`table_names` to ask what exists.
        """
        rows = self.con.execute(self._WRITTEN).fetchall()
        views = {
            str(r[0])
            for r in self.con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main'"
            ).fetchall()
        }
        out = []
        for name, stage, run_id, description in rows:
            count = (
                None
                if name in views and not count_views
                else int(scalar(self.con, f"SELECT count(*) FROM {sql_identifier(name)}"))
            )
            out.append(TableInfo(name, stage, count, run_id, description))
        return out

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        """The table ``name`` as a DuckDB relation (``.df()``, ``.arrow()``, ``.fetchall()``)."""
        known = self.table_names() | {"runs"}
        if name not in known:
            hint = ", ".join(sorted(known)) or "none yet: run `tiewise run` first"
            raise WorkspaceError(f"no table {name!r} in workspace {self.path}. Tables: {hint}.")
        return self.con.table(sql_identifier(name))

    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first."""
        cur = self.con.execute("SELECT * FROM runs ORDER BY run_id DESC")
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def record_stages(
        self,
        run_id: int,
        seconds: Mapping[str, float],
        peaks: Mapping[str, int | None],
        cpu: Mapping[str, float] | None = None,
    ) -> None:
        """Where a run spent its time and memory, in ``runs.stages``.

        A JSON list in the order the steps ran: ``{"stage", "seconds", "cpu_seconds",
        "peak_rss_bytes"}`` (``cpu_seconds``: processor time of every thread of the process
        during the step, so ``cpu_seconds / seconds`` is the number of cores it kept busy;
        ``peak_rss_bytes``: the process's peak resident memory during the step, Python and
        every library included; null where the system does not say).
        """
        stages = [
            {
                "stage": name,
                "seconds": spent,
                "cpu_seconds": (cpu or {}).get(name),
                "peak_rss_bytes": peaks.get(name),
            }
            for name, spent in seconds.items()
        ]
        self.con.execute(
            "UPDATE runs SET stages = ? WHERE run_id = ?", [json.dumps(stages), run_id]
        )

    def last_complete_run(self) -> dict[str, Any] | None:
        """The newest run whose results were committed, or None."""
        return next((r for r in self.runs() if r["status"] == "ok"), None)

    def export(
        self, name: str, out: str | Path, *, fmt: Literal["csv", "parquet"] | None = None
    ) -> Path:
        """Write table ``name`` to ``out`` as CSV or Parquet (from the suffix, or ``fmt``).

        The file appears whole or not at all (written beside it, then renamed).

        Raises
        ------
        InputError
            As :func:`export_format`.
        WorkspaceError
            No table ``name``.
        """
        self.table(name)  # raises a clear error when missing
        target = Path(out)
        chosen = export_format(target, fmt)
        target.parent.mkdir(parents=True, exist_ok=True)
        if chosen == "parquet":
            option = "FORMAT PARQUET"
        else:
            gzip = target.name.lower().endswith(".gz")
            option = f"FORMAT CSV, HEADER, COMPRESSION {'GZIP' if gzip else 'NONE'}"
        tmp = target.with_name(f".tiewise-export-{os.getpid()}.tmp")
        try:
            with file_order(self.con):  # the rows as stored: the same file on every rerun
                self.con.execute(f'COPY "{name}" TO {sql_path(tmp)} ({option})')
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    def out_of_memory(self, exc: BaseException) -> ResourceError:
        """The error for DuckDB running out of memory: the setting to raise and its value."""
        try:
            limit = scalar(self.con, "SELECT current_setting('memory_limit')")
            threads = scalar(self.con, "SELECT current_setting('threads')")
        except duckdb.Error:
            limit, threads = "unknown", "unknown"
        if self.memory_limit:
            limit = f'{limit} (memory_limit = "{self.memory_limit}")'
        else:
            limit = f"{limit} (memory_limit not set: tiewise's default, a quarter of the memory)"
        return ResourceError(memory_advice(str(exc), limit, threads))

    # -- writing ---------------------------------------------------------------------------

    def recover(self) -> str | None:
        """Mark runs that died without cleaning up; say what the workspace now holds.

        Returns a message for the user when the last run did not complete, else None.
        """
        if self.read_only:
            stale = [r for r in self.runs() if r["status"] == "running"]
        else:
            stale = []
            host = socket.gethostname()
            for r in self.runs():
                if r["status"] != "running":
                    continue
                if r["host"] == host and r["pid"] and _pid_alive(int(r["pid"])):
                    continue  # genuinely running elsewhere
                self.con.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ?, "
                    "error = 'the process ended before the run completed' WHERE run_id = ?",
                    [_now(), r["run_id"]],
                )
                for scratch in (self.path / "tmp").glob(f"tiewise-*-{r['run_id']}-*"):
                    shutil.rmtree(scratch, ignore_errors=True)  # a dead run's slices
                stale.append(r)
        runs = self.runs()
        if not runs or runs[0]["status"] == "ok":
            return None
        last = runs[0]
        done = self.last_complete_run()
        kept = (
            f"the workspace holds the results of run {done['run_id']} ({done['command']}, "
            f"finished {done['ended_at']:%Y-%m-%d %H:%M})"
            if done
            else "the workspace holds no complete results yet"
        )
        state = "was interrupted" if last["status"] in ("interrupted", "running") else "failed"
        why = f": {last['error']}" if last["error"] and state == "failed" else ""
        run = f"Run {last['run_id']} ({last['command']})"
        return f"{run} {state}{why}; nothing it wrote was kept, {kept}."

    @contextmanager
    def run(
        self,
        *,
        command: str,
        config_hash: str | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> Iterator[RunContext]:
        """Run a command's writes in one transaction, recorded in ``runs``.

        On success the tables and the run's status ``ok`` commit together.  On any exception
        (including KeyboardInterrupt and SystemExit) everything is rolled back, the run is marked
        ``failed`` or ``interrupted`` and the exception propagates.
        """
        if self.read_only:
            raise WorkspaceError(f"workspace {self.path} was opened read-only")
        run_id = int(scalar(self.con, "SELECT coalesce(max(run_id), 0) + 1 FROM runs"))
        self.con.execute(
            "INSERT INTO runs (run_id, command, config_hash, inputs, started_at, ended_at, "
            "status, error, versions, pid, host) "
            "VALUES (?, ?, ?, ?, ?, NULL, 'running', NULL, ?, ?, ?)",
            [
                run_id,
                command,
                config_hash,
                json.dumps(dict(inputs or {}), default=str),
                _now(),
                json.dumps(versions()),
                os.getpid(),
                socket.gethostname(),
            ],
        )
        spare = self.con.cursor()  # for the watchdog, while this connection is busy
        self.con.execute("BEGIN TRANSACTION")
        ctx = RunContext(self.con, run_id, self.duckdb_memory_limit)
        committed = False
        try:
            with interrupts.watch_run(spare, run_id):
                yield ctx
                with interrupts.committing(run_id):  # never after a signal, never cut short
                    self.con.execute(
                        "UPDATE runs SET status = 'ok', ended_at = ? WHERE run_id = ?",
                        [_now(), run_id],
                    )
                    self.con.execute("COMMIT")
                    committed = True
        except BaseException as exc:
            if committed:  # a signal arrived during the commit: the results are kept
                spare.close()
                raise
            signum = interrupts.received()
            interrupted = signum is not None or isinstance(exc, KeyboardInterrupt | SystemExit)
            status = "interrupted" if interrupted else "failed"
            if signum is not None:
                message = signal.Signals(signum).name
            else:
                message = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
            try:  # the exception that stopped the run is the one to report, not a follow-on
                self.con.execute("ROLLBACK")
                self.con.execute(
                    "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE run_id = ?",
                    [status, _now(), message, run_id],
                )
            except duckdb.Error:
                pass  # uncommitted all the same; the next command's recover() marks the run
            finally:
                spare.close()
            if isinstance(exc, duckdb.OutOfMemoryException) and signum is None:
                raise self.out_of_memory(exc) from exc
            raise
        spare.close()
        self.con.execute("CHECKPOINT")
