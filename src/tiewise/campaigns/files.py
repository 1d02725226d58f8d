"""Campaign files a CRM can load: targets apart from the control, with the key holder's own ids.

A campaign table holds pseudonyms and both arms.  :func:`write_campaign_files` writes the target
arm to one file and, when asked, the control arm to another (never mixed: uploading the target
file must not contact the control group).  Given the key holder's customer list (phone numbers,
e-mails, CRM ids), it pseudonymises the list's identifier column with the workspace key, exactly
as ingest did, and joins: every row of the file then carries the list's own columns, so it goes
straight into the CRM.  The raw identifiers are joined in memory and written only to the output
file; the workspace never sees them.

Formats by suffix: ``.csv``, ``.parquet`` (``.pq``) and ``.xlsx`` (a real Excel workbook,
written row by row with XlsxWriter in constant memory, read with openpyxl); any other suffix is
refused.  Text is always written as text: a cell starting with ``=`` (a customer list's name
field, a raw identifier) never becomes a formula, nor an address a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import pandas as pd
import pyarrow as pa
import xlsxwriter

from tiewise.exceptions import InputError
from tiewise.ingest.pseudonym import hmac_sql
from tiewise.store import sql_identifier

__all__ = [
    "FORMATS",
    "CampaignFiles",
    "read_frame",
    "write_campaign_files",
    "write_frame",
    "write_xlsx",
]

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
# and ".csv.gz" (gzipped CSV)
EXCEL_MAX_ROWS = 1_048_575  # one row of the sheet is the header


@dataclass(frozen=True)
class CampaignFiles:
    """What was written: files, rows, and how many targets the customer list did not cover."""

    targets_file: Path
    targets: int
    control_file: Path | None
    controls: int
    attached: str | None  # the customer list's identifier column, when ids were attached
    without_ids: int  # listed customers the customer list did not cover


def file_format(path: Path, what: str = "output file") -> str:
    """The format a file's suffix names; a clear error for any other suffix."""
    name = path.name.lower()
    fmt = "csv" if name.endswith(".csv.gz") else FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{what} {path}: unknown suffix {path.suffix or '(none)'!r}; use .csv, .csv.gz, "
            ".parquet or .xlsx."
        )
    return fmt


_EXCEL_OPTIONS = {
    "constant_memory": True,  # each row is written out as soon as the next one starts
    "in_memory": True,  # no temporary files (they would hold personal data on disk)
    "strings_to_formulas": False,  # "=HYPERLINK(...)" in a name field stays text
    "strings_to_urls": False,
    "strings_to_numbers": False,  # "0041..." ids keep their zeros
    "nan_inf_to_errors": True,  # NaN shows as #NUM!, not an error while writing
    "remove_timezone": True,  # Excel has no time zones: times are written as stored (UTC)
    "default_date_format": "yyyy-mm-dd hh:mm:ss",
}


def _excel_value(value: Any) -> Any:
    """A cell's value: numbers, text, booleans and times as they are; anything else as text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "isoformat") or hasattr(value, "as_integer_ratio"):
        return value  # datetime, date, time, timedelta, Decimal: XlsxWriter writes them
    return str(value)


def write_xlsx(table: pa.Table, target: str | Path | IO[bytes], sheet: str) -> None:
    """Write ``table`` as one sheet of an Excel workbook: header, then a row per record.

    Raises :class:`ValueError` when the rows do not fit in a sheet.
    """
    if table.num_rows > EXCEL_MAX_ROWS:
        raise ValueError(
            f"{table.num_rows:,} rows do not fit in an Excel sheet ({EXCEL_MAX_ROWS:,} at most)"
        )
    workbook = xlsxwriter.Workbook(target, _EXCEL_OPTIONS)
    try:
        worksheet = workbook.add_worksheet(sheet)
        worksheet.write_row(0, 0, table.column_names)
        row = 1
        for batch in table.to_batches(max_chunksize=16_384):
            for values in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                worksheet.write_row(row, 0, [_excel_value(v) for v in values])
                row += 1
    finally:
        workbook.close()


def write_frame(frame: pd.DataFrame, path: Path, fmt: str | None = None) -> Path:
    """Write ``frame`` as CSV, Parquet or a real Excel workbook (atomically).

    The format is ``fmt``, else the suffix's; a name ending in ``.gz`` is gzipped CSV.
    """
    fmt = fmt or file_format(path)
    if path.is_dir():
        raise InputError(f"cannot write to {path}: it is a folder; name a file.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        gzip = path.name.lower().endswith(".gz")
        frame.to_csv(tmp, index=False, compression="gzip" if gzip else None)
    elif fmt == "parquet":
        frame.to_parquet(tmp, index=False)
    else:
        try:
            write_xlsx(pa.Table.from_pandas(frame, preserve_index=False), tmp, "list")
        except ValueError as exc:
            raise InputError(f"{path}: {exc}; write .csv or .parquet instead.") from None
    tmp.replace(path)
    return path


def read_frame(path: Path, what: str = "file") -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file with every column as text (ids keep leading zeros)."""
    if not path.is_file():
        raise InputError(f"{what} {path}: no such file.")
    fmt = file_format(path, what)
    try:
        if fmt == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        if fmt == "parquet":
            return pd.read_parquet(path).astype("string").fillna("").astype(str)
        return pd.read_excel(path, dtype=str, engine="openpyxl").fillna("")
    except (ValueError, OSError) as exc:
        raise InputError(f"{what} {path}: cannot read it as {fmt}: {exc}.") from None


def write_campaign_files(
    listing: pd.DataFrame,
    out: Path,
    *,
    control_out: Path | None = None,
    customers: Path | None = None,
    id_column: str = "customer_id",
    key: bytes | None = None,
) -> CampaignFiles:
    """Write a campaign's target arm to ``out`` and its control arm to ``control_out``.

    Parameters
    ----------
    listing
        The campaign table (``rank``, ``customer_id``, ``arm``, ``score``, ..., ``reason``).
    out, control_out
        The files; the control arm is written only when ``control_out`` is given.
    customers
        The key holder's customer list (CSV, Parquet or Excel) whose ``id_column`` holds the
        identifiers the inputs had; its columns are added to every row that matches.
    id_column
        The identifier column of ``customers``.
    key
        The workspace's pseudonymisation key (None: the workspace keeps raw identifiers).
    """
    file_format(out)
    if control_out is not None:
        file_format(control_out)
        if control_out.resolve() == out.resolve():
            raise InputError(f"--control-out {control_out} is the targets file: name another.")
    frame = listing.drop(columns=["arm"])
    without = 0
    if customers is not None:
        frame, without = _attach(frame, customers, id_column, key)
    arm = listing["arm"].to_numpy()
    targets = frame[arm == "target"].reset_index(drop=True)
    controls = frame[arm == "control"].reset_index(drop=True)
    write_frame(targets, out)
    if control_out is not None:
        write_frame(controls, control_out)
    return CampaignFiles(
        out,
        len(targets),
        control_out,
        len(controls),
        id_column if customers is not None else None,
        without,
    )


def _attach(
    frame: pd.DataFrame, customers: Path, id_column: str, key: bytes | None
) -> tuple[pd.DataFrame, int]:
    """The listing with the customer list's columns after ``rank``; rows it did not cover."""
    people = read_frame(customers, "--customers")
    if id_column not in people.columns:
        raise InputError(
            f"--customers {customers}: no column {id_column!r} (columns: "
            f"{', '.join(map(str, people.columns))}). Name the identifier column with "
            "--id-column."
        )
    con = duckdb.connect()  # in memory: the raw identifiers never reach the workspace
    try:
        con.register("_people", people)
        column = sql_identifier(id_column)
        pseudonym = hmac_sql(f"trim({column})", key) if key is not None else column
        keyed = con.execute(
            f"SELECT {pseudonym} AS _tiewise_id, * FROM _people WHERE trim({column}) <> ''"
        ).df()
    finally:
        con.close()
    keyed = keyed.drop_duplicates("_tiewise_id", keep="first")
    extra = [c for c in keyed.columns if c != "_tiewise_id"]
    clash = [c for c in extra if c in frame.columns]
    keyed = keyed.rename(columns={c: f"{c}_crm" for c in clash})
    joined = frame.merge(keyed, how="left", left_on="customer_id", right_on="_tiewise_id")
    joined = joined.drop(columns=["_tiewise_id"])
    shown = [f"{c}_crm" if c in clash else c for c in extra]
    first = ["rank", *shown]
    joined = joined[first + [c for c in joined.columns if c not in first]]
    missing = int(joined[shown[0]].isna().sum()) if shown else len(joined)
    return joined, missing
