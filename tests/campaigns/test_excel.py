"""Excel files tiewise writes: text stays text (no formulas, no links), every type reads back."""

import datetime as dt
import io
import math
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from tiewise.campaigns.files import read_frame, write_frame, write_xlsx
from tiewise.exceptions import InputError


def test_every_type_reads_back_and_text_is_never_a_formula() -> None:
    when = dt.datetime(2026, 3, 1, 12, 30, 5)
    table = pa.table(
        {
            "customer_id": ["=HYPERLINK(\"http://x\",\"y\")", "0041790000000", "+cmd|' /c calc'!A0"],
            "url": ["http://example.org/a", "mailto:a@b.c", None],
            "n": pa.array([1, None, -3], pa.int64()),
            "x": [0.5, math.nan, 2.25],
            "flag": [True, False, None],
            "when": pa.array([when, None, when], pa.timestamp("us")),
            "day": pa.array([dt.date(2026, 3, 1), None, dt.date(2025, 1, 31)], pa.date32()),
            "amount": pa.array([Decimal("12.50"), None, Decimal("0.01")], pa.decimal128(10, 2)),
            "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
        }
    )
    sink = io.BytesIO()
    write_xlsx(table, sink, "customers")
    sheet = openpyxl.load_workbook(io.BytesIO(sink.getvalue())).active
    assert sheet is not None and sheet.title == "customers"
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]] == table.column_names
    ids = [r[0] for r in rows[1:]]
    assert [c.value for c in ids] == table["customer_id"].to_pylist()
    assert {c.data_type for c in ids} == {"s"}  # text: not a formula ('f'), not a number
    assert [r[1].value for r in rows[1:]] == ["http://example.org/a", "mailto:a@b.c", None]
    assert not any(r[1].hyperlink for r in rows[1:])
    assert [r[2].value for r in rows[1:]] == [1, None, -3]
    assert rows[1][3].value == 0.5 and rows[2][3].value == "=#NUM!"  # NaN: an error, not 0
    assert [r[4].value for r in rows[1:]] == [True, False, None]
    assert rows[1][5].value == when and rows[2][5].value is None
    assert rows[1][6].value == dt.datetime(2026, 3, 1)  # Excel holds dates as date-times
    assert [r[7].value for r in rows[1:]] == [12.5, None, 0.01]
    assert rows[1][8].value == "['a', 'b']"  # what Excel cannot hold is written as text


def test_too_many_rows_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tiewise.campaigns.files.EXCEL_MAX_ROWS", 2)
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    with pytest.raises(InputError, match=r"3 rows do not fit in an Excel sheet .*\.parquet"):
        write_frame(frame, tmp_path / "list.xlsx")
    assert not (tmp_path / "list.xlsx").exists()
    assert list(tmp_path.iterdir()) == []  # the unfinished file is not left behind


def test_a_list_written_as_excel_reads_back_as_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"customer_id": ["007", "=1+1"], "rank": ["1", "2"]})
    path = write_frame(frame, tmp_path / "list.xlsx")
    pd.testing.assert_frame_equal(read_frame(path), frame)
