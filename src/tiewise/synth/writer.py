"""Writing tables as Parquet (row groups) or CSV, deterministically.

Interactions can be tens of millions of rows; they are converted to Arrow and written chunk by
chunk so that no giant data frame is ever built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tiewise.synth._types import IntArray

__all__ = [
    "INTERACTIONS_SCHEMA",
    "Format",
    "TableWriter",
    "write_chunked",
    "write_json",
    "write_table",
]

Format = Literal["parquet", "csv"]
ROW_GROUP = 1_000_000

INTERACTIONS_SCHEMA = pa.schema(
    [
        ("from_id", pa.string()),
        ("to_id", pa.string()),
        ("timestamp", pa.timestamp("s")),
        ("channel", pa.string()),
        ("duration_s", pa.int32()),
    ]
)


class TableWriter:
    """Append Arrow tables with one schema to a Parquet or CSV file.

    Parameters
    ----------
    path
        Target file.
    schema
        Schema of every chunk.
    fmt
        ``"parquet"`` or ``"csv"``.
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: Format) -> None:
        self.path = path
        self.rows = 0
        self._schema = schema
        self._writer: pq.ParquetWriter | pacsv.CSVWriter
        if fmt == "parquet":
            self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        else:
            self._writer = pacsv.CSVWriter(path, schema)

    def write(self, table: pa.Table) -> None:
        """Append one chunk (written as one Parquet row group)."""
        table = table.cast(self._schema)
        if isinstance(self._writer, pq.ParquetWriter):
            self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        else:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_table(table: pa.Table, path: Path, fmt: Format) -> int:
    """Write one table in row groups and return its row count.

    Parameters
    ----------
    table
        The table.
    path
        Target file.
    fmt
        ``"parquet"`` or ``"csv"``.

    Returns
    -------
    int
        Rows written.
    """
    with TableWriter(path, table.schema, fmt) as writer:
        for batch in table.to_batches(max_chunksize=ROW_GROUP):
            writer.write(pa.Table.from_batches([batch], schema=table.schema))
        if table.num_rows == 0:
            writer.write(table)
    return table.num_rows


def write_chunked(
    path: Path,
    schema: pa.Schema,
    fmt: Format,
    n: int,
    build: Callable[[IntArray], pa.Table],
) -> int:
    """Write ``n`` rows built chunk by chunk from row positions.

    Parameters
    ----------
    path
        Target file.
    schema
        Schema of the table.
    fmt
        ``"parquet"`` or ``"csv"``.
    n
        Number of rows.
    build
        Builds the Arrow table of the rows at the given positions.

    Returns
    -------
    int
        Rows written.
    """
    with TableWriter(path, schema, fmt) as writer:
        for lo in range(0, max(n, 1), ROW_GROUP):
            writer.write(build(np.arange(lo, min(n, lo + ROW_GROUP))))
    return n


def write_json(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as stable, indented JSON."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
