"""One bad value, a rejected row or a malformed line never stops a quarantine run (issue 16)."""

import datetime
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.ingest.load import IngestSummary, ingest
from tiewise.links.state import fold_interactions
from tiewise.store import Workspace

HEADER = "caller,callee,ts,channel,duration_s\n"
CALLS = """
[inputs.interactions]
path = "{path}"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
"""


def project(tmp_path: Path, sources: str) -> Path:
    config = tmp_path / "tiewise.toml"
    config.write_text(textwrap.dedent(sources), encoding="utf-8")
    return config


def calls_config(tmp_path: Path, path: str = "calls.csv") -> Path:
    return project(tmp_path, CALLS.format(path=path))


def good_lines(n: int, start: int = 0) -> str:
    """``n`` distinct calls from 2026-01-05 10:00, one a minute from minute ``start``."""
    first = datetime.datetime(2026, 1, 5, 10)
    return "".join(
        f"1,2,{first + datetime.timedelta(minutes=m):%Y-%m-%dT%H:%M:%S},voice,5\n"
        for m in range(start, start + n)
    )


def run(config_path: Path) -> tuple[Workspace, IngestSummary]:
    config = load_config(config_path)
    ws = Workspace.open(config.workspace_path, create=True)
    with ws.run(command="test") as r:
        summary = ingest(r, config, None)
        fold_interactions(r, config)  # the links stage's first step
    return ws, summary


def report(ws: Workspace) -> dict[str, tuple[Any, ...]]:
    rows = ws.con.execute("SELECT rule, rows, example, action FROM ingest_report").fetchall()
    return {r[0]: r[1:] for r in rows}


BAD_CALLS = [
    # (the bad line's timestamp and duration, the rule, the column)
    ("2026-01-05T10:00:00,voice,nan", "bad_number", "duration_s"),
    ("2026-01-05T10:00:00,voice,inf", "bad_number", "duration_s"),
    ("2026-01-05T10:00:00,voice,-Infinity", "bad_number", "duration_s"),
    ("2099-01-01,voice,5", "implausible_timestamp", "timestamp"),
    ("99999999999999999999,voice,5", "bad_timestamp", "timestamp"),
    ("nan,voice,5", "bad_timestamp", "timestamp"),
    ("inf,voice,5", "implausible_timestamp", "timestamp"),
    ("infinity,voice,5", "implausible_timestamp", "timestamp"),
]


@pytest.mark.parametrize(("bad", "rule", "column"), BAD_CALLS)
def test_a_bad_value_is_quarantined_under_its_rule_with_file_row_column(
    tmp_path: Path, bad: str, rule: str, column: str
) -> None:
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(30) + f"3,4,{bad}\n")
    ws, summary = run(calls_config(tmp_path))
    with ws:
        rejected = ws.con.execute(
            "SELECT file, row, rule, column_name FROM rejected_rows"
        ).fetchall()
        assert rejected == [(str(tmp_path / "calls.csv"), 31, rule, column)]
        assert summary.loaded["interactions"] == 30
        # the accepted records decide the as-of time, whatever the rejected one says
        as_of = ws.con.execute("SELECT as_of FROM link_meta").fetchall()[0][0]
        assert str(as_of) == "2026-01-05 10:29:00"


def test_a_rejected_future_row_does_not_move_the_analysis_date(tmp_path: Path) -> None:
    tomorrow_plus = (pd.Timestamp.now("UTC") + pd.Timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(30) + f"3,4,{tomorrow_plus},voice,5\n")
    ws, _ = run(calls_config(tmp_path))
    with ws:
        assert ws.con.execute("SELECT rule FROM rejected_rows").fetchall() == [
            ("implausible_timestamp",)
        ]
        assert str(ws.con.execute("SELECT as_of FROM link_meta").fetchall()[0][0]) == (
            "2026-01-05 10:29:00"
        )


def test_a_row_rejected_for_another_rule_does_not_move_the_analysis_date(tmp_path: Path) -> None:
    # the newest record of the file talks to itself: rejected, so it is not "as of"
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(30) + "3,3,2026-02-01,voice,5\n")
    ws, _ = run(calls_config(tmp_path))
    with ws:
        assert str(ws.con.execute("SELECT as_of FROM link_meta").fetchall()[0][0]) == (
            "2026-01-05 10:29:00"
        )


def test_nan_and_infinite_numbers_in_parquet_are_bad_numbers(tmp_path: Path) -> None:
    table = pa.table(
        {
            "caller": ["1"] * 40,
            "callee": ["2"] * 40,
            "ts": pa.array(pd.date_range("2026-01-05", periods=40, freq="h")),
            "channel": ["voice"] * 40,
            "duration_s": pa.array([60.0] * 38 + [float("nan"), float("inf")]),  # NaN, not null
        }
    )
    pq.write_table(table, tmp_path / "calls.parquet")
    ws, _ = run(calls_config(tmp_path, path="calls.parquet"))
    with ws:
        rows = ws.con.execute("SELECT row, rule, column_name FROM rejected_rows").fetchall()
        assert sorted(rows) == [(39, "bad_number", "duration_s"), (40, "bad_number", "duration_s")]


def test_malformed_line_and_a_rule_breaking_row_in_one_file(tmp_path: Path) -> None:
    body = HEADER + good_lines(60) + "1,2,oops\n" + "5,5,2026-01-05T11:00:00,voice,5\n"
    (tmp_path / "calls.csv").write_text(body)
    ws, summary = run(calls_config(tmp_path))
    with ws:
        rejected = ws.con.execute(
            "SELECT rule, row, column_name FROM rejected_rows ORDER BY rule"
        ).fetchall()
        # a malformed line by its line number; the other by its data row (malformed lines
        # are not rows)
        assert rejected == [("malformed_line", 62, None), ("self_interaction", 61, "to_id")]
    assert summary.rejected["interactions"] == 2


NAN_TRANSACTIONS = """
[inputs.interactions]
path = "calls.csv"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
[inputs.transactions]
path = "bills.csv"
"""


@pytest.mark.parametrize("amount", ["nan", "inf", "-inf", "NaN"])
def test_nan_amounts_are_bad_numbers(tmp_path: Path, amount: str) -> None:
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(3))
    bills = "customer_id,timestamp,amount\n" + "".join(
        f"{i},2026-01-0{1 + i % 5},10.5\n" for i in range(40)
    )
    (tmp_path / "bills.csv").write_text(bills + f"7,2026-01-03,{amount}\n")
    ws, summary = run(project(tmp_path, NAN_TRANSACTIONS))
    with ws:
        assert ws.con.execute(
            "SELECT row, rule, column_name, value FROM rejected_rows"
        ).fetchall() == [(41, "bad_number", "amount", amount)]
        assert ws.con.execute("SELECT count(*), sum(amount) FROM transactions").fetchall() == [
            (40, 420.0)
        ]
    assert summary.rejected["transactions"] == 1


# --- malformed lines (finding 5) ---


def test_an_unclosed_quote_is_quarantined_with_every_line_it_swallowed(tmp_path: Path) -> None:
    # a quote left open runs to the end of the file (that is what it means in CSV): the lines
    # it swallowed are rejected with their numbers, not the whole file refused
    body = HEADER + good_lines(40) + '1,"2,2026-01-05T11:00:00,voice,5\n' + good_lines(1)
    (tmp_path / "calls.csv").write_text(body)
    ws, summary = run(calls_config(tmp_path))
    with ws:
        rejected = ws.con.execute("SELECT rule, row FROM rejected_rows ORDER BY row").fetchall()
        assert rejected == [("malformed_line", 42), ("malformed_line", 43)]
    assert summary.loaded["interactions"] == 40


def test_an_unclosed_quote_near_the_start_fools_no_sniffer(tmp_path: Path) -> None:
    body = HEADER + good_lines(1) + '1,"2,2026-01-05T11:00:00,voice,5\n' + good_lines(3)
    (tmp_path / "calls.csv").write_text(body)
    with pytest.raises(InputError, match=r"4 of 5 rows .* malformed lines"):
        run(calls_config(tmp_path))


def test_a_long_unclosed_quote_is_counted_beyond_what_duckdb_shows(tmp_path: Path) -> None:
    # DuckDB keeps 10,000 characters of a rejected line; the rest is counted from the file
    body = HEADER + good_lines(20) + '1,"2,2026-01-05T11:00:00,voice,5\n' + good_lines(5000)
    (tmp_path / "calls.csv").write_text(body)
    with pytest.raises(InputError, match=r"5001 of 5021 rows"):
        run(calls_config(tmp_path))


def test_a_10_mb_line_is_rejected_with_its_real_line_number(tmp_path: Path) -> None:
    long = "1,2,2026-01-05T11:00:00,voice," + "9" * 10_000_000 + "\n"
    (tmp_path / "calls.csv").write_text(HEADER + good_lines(499) + long + good_lines(20, 499))
    ws, summary = run(calls_config(tmp_path))
    with ws:
        assert ws.con.execute("SELECT rule, row FROM rejected_rows").fetchall() == [
            ("line_too_long", 501)
        ]
        assert "line 501" in report(ws)["line_too_long"][1]
    assert summary.loaded["interactions"] == 519


def test_half_the_lines_malformed_fails_the_run(tmp_path: Path) -> None:
    lines = good_lines(40).splitlines(keepends=True)
    body = HEADER + "".join(line if i % 2 else "1,2\n" for i, line in enumerate(lines))
    (tmp_path / "calls.csv").write_text(body)
    with pytest.raises(InputError, match=r"20 of 40 rows \(50.0%\).*max_bad_share"):
        run(calls_config(tmp_path))


def test_malformed_lines_count_toward_the_share_with_bad_rows(tmp_path: Path) -> None:
    # 1 malformed line and 1 bad row of 40: 5.0%, at the limit; one more bad row: over it
    body = HEADER + good_lines(38) + "1,2\n" + "3,3,2026-01-05T11:00:00,voice,5\n"
    (tmp_path / "calls.csv").write_text(body)
    ws, _ = run(calls_config(tmp_path))
    ws.close()
    (tmp_path / "calls.csv").write_text(body + "4,4,2026-01-05T11:00:00,voice,5\n")
    with pytest.raises(InputError, match=r"3 of 41 rows"):
        run(calls_config(tmp_path))


def test_lines_that_are_not_utf8_in_a_crlf_file_count_once_each(tmp_path: Path) -> None:
    # found by the property test: DuckDB shows such a line after the previous line's "\n"
    bad = "3,4,2026-01-05T11:00:00,voice,\udce9\r\n"
    body = (HEADER + good_lines(60)).replace("\n", "\r\n") + bad + bad
    (tmp_path / "calls.csv").write_bytes(body.encode("utf-8", "surrogateescape"))
    ws, summary = run(calls_config(tmp_path))
    with ws:
        assert ws.con.execute("SELECT rule, row FROM rejected_rows ORDER BY row").fetchall() == [
            ("bad_encoding", 62),
            ("bad_encoding", 63),
        ]
    assert summary.rejected["interactions"] == 2


def test_an_unclosed_quote_over_lines_that_are_not_utf8_counts_every_line(tmp_path: Path) -> None:
    # found by the property test: DuckDB's text of the open quote hides the lines' ends there
    bad = "3,4,2026-01-05T11:00:00,voice,\udce9\n"
    body = HEADER + good_lines(80) + '1,"2,2026-01-05T11:00:00,voice,5\n' + bad + good_lines(1, 90)
    (tmp_path / "calls.csv").write_bytes((body + bad).encode("utf-8", "surrogateescape"))
    ws, summary = run(calls_config(tmp_path))
    ws.close()
    assert (summary.loaded["interactions"], summary.rejected["interactions"]) == (80, 4)


def test_rows_after_a_quote_left_open_are_listed_as_they_were_counted(tmp_path: Path) -> None:
    # found by the property test (KeyError in record_rules): a quote opened on the first data
    # line and closed by a quoted "1,5" three lines on is one malformed record (lines 2-4); the
    # rows after it are read, and the pass that lists the rule breakers must read them as the
    # pass that counted them did (DuckDB's ignore_errors skipped them, storing rejects did not)
    body = (
        HEADER
        + '1,"2,2026-01-05T11:00:00,voice,5\n'
        + "1,2,2026-01-05T11:01:00,voice,5\n"
        + '3,4,2026-01-05T11:02:00,voice,"1,5"\n'
        + "3,4,2026-01-05T11:03:00,voice,abc\n"
        + ",4,2026-01-05T11:04:00,voice,5\n"
        + "3,4,garbage,voice,5\n"
        + good_lines(200, start=10)
    )
    (tmp_path / "calls.csv").write_text(body)
    ws, summary = run(calls_config(tmp_path))
    with ws:
        rejected = ws.con.execute(
            "SELECT rule, row, column_name, value FROM rejected_rows ORDER BY rule, row"
        ).fetchall()
        assert rejected == [
            ("bad_number", 1, "duration_s", "abc"),
            ("bad_timestamp", 3, "timestamp", "garbage"),
            ("malformed_line", 2, None, None),
            ("malformed_line", 3, None, None),
            ("malformed_line", 4, None, None),
            ("missing_value", 2, "from_id", None),
        ]
        assert report(ws)["bad_number"][:2] == (
            1,
            f"{tmp_path / 'calls.csv'}, data row 1, column duration_s",
        )
        assert report(ws)["malformed_line"][:2] == (3, f"{tmp_path / 'calls.csv'}, line 2")
    assert (summary.loaded["interactions"], summary.rejected["interactions"]) == (200, 6)
