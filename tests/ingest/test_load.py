import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.ingest.load import ingest
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.store import Workspace

KEY = bytes(range(32))


def setup(
    tmp_path: Path,
    rows: list[dict[str, Any]] | str,
    extra: str = "",
    name: str = "calls.csv",
    ingest: str = "",
) -> Path:
    data = tmp_path / name
    if isinstance(rows, str):
        data.write_text(rows, encoding="utf-8")
    else:
        pd.DataFrame(rows).to_csv(data, index=False)
    config = tmp_path / "tiewise.toml"
    config.write_text(
        textwrap.dedent(f"""
        [inputs.interactions]
        path = "{name}"
        [inputs.interactions.columns]
        from_id = "caller"
        to_id = "callee"
        timestamp = "ts"
        {extra}
        [ingest]
        keep_interactions = true
        {ingest}
    """),
        encoding="utf-8",
    )
    return config


def load(config_path: Path, key: bytes | None = KEY, **overrides: Any) -> Workspace:
    config = load_config(config_path, **overrides)
    ws = Workspace.open(config.workspace_path, create=True)
    with ws.run(command="test") as run:
        ingest(run, config, key)
    return ws


def call(
    a: str,
    b: str,
    ts: object = "2026-01-05T10:00:00",
    channel: str = "voice",
    duration: object = 60,
) -> dict[str, Any]:
    return {"caller": a, "callee": b, "ts": ts, "channel": channel, "duration_s": duration}


GOOD = [call("111", "222"), call("222", "111", "2026-01-06T11:00:00", "sms", None)]


def test_missing_required_column_names_file_column_and_mapping_key(tmp_path: Path) -> None:
    config = setup(tmp_path, [{"caller": "1", "ts": "2026-01-01", "channel": "sms"}])
    with pytest.raises(InputError) as info:
        load(config)
    message = str(info.value)
    assert "calls.csv" in message and "'callee'" in message
    assert "inputs.interactions.columns.to_id" in message


def test_unknown_mapping_key(tmp_path: Path) -> None:
    config = setup(tmp_path, GOOD, extra='caller_id = "x"')
    with pytest.raises(InputError, match="unknown tiewise column"):
        load(config)


def test_no_matching_file(tmp_path: Path) -> None:
    config = setup(tmp_path, GOOD)
    (tmp_path / "calls.csv").unlink()
    with pytest.raises(InputError, match="no file matches"):
        load(config)


def test_empty_file(tmp_path: Path) -> None:
    config = setup(tmp_path, "caller,callee,ts,channel\n")
    with pytest.raises(InputError, match="hold no rows"):
        load(config)


def test_strict_policy_stops_at_the_first_bad_row_with_file_row_column(tmp_path: Path) -> None:
    rows = [*GOOD, call("333", "444", "not a date"), call("555", "555")]
    config = setup(tmp_path, rows, ingest='policy = "strict"')
    with pytest.raises(InputError) as info:
        load(config)
    message = str(info.value)
    assert "calls.csv, data row 3" in message and "column ts" in message
    assert "bad_timestamp" in message and "quarantine" in message


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        (call("333", "444", "2026-02-30T10:00:00"), "bad_timestamp"),
        (call("", "444"), "missing_value"),
        (call("333", "333"), "self_interaction"),
        (call("333", "444", channel="pigeon"), "unknown_channel"),
        (call("333", "444", duration=90000), "absurd_duration"),
        (call("333", "444", duration="long"), "bad_number"),
    ],
)
def test_quarantine_sets_bad_rows_aside_with_their_rule(
    tmp_path: Path, bad: dict[str, Any], rule: str
) -> None:
    many = [call("111", "222", f"2026-01-05T10:{m:02d}:00") for m in range(40)]
    config = setup(tmp_path, [*many, bad])
    with load(config, ingest={"max_bad_share": 0.5, "keep_interactions": True}) as ws:
        rejected = ws.table("rejected_rows").fetchall()
        assert [(r[0], r[3], r[4]) for r in rejected] == [("interactions", 41, rule)]
        report = ws.con.execute(
            "SELECT rule, rows, example FROM ingest_report WHERE action = 'rejected'"
        ).fetchall()
        assert report[0][:2] == (rule, 1) and "data row 41" in report[0][2]
        assert ws.table("interactions").count("*").fetchall() == [(40,)]


def test_too_many_bad_rows_stop_the_run_and_keep_nothing(tmp_path: Path) -> None:
    config = setup(tmp_path, [*GOOD, call("1", "1"), call("2", "2")])
    with pytest.raises(InputError, match=r"2 of 4 rows \(50.0%\).*self_interaction"):
        load(config)
    with Workspace.open(tmp_path / "workspace") as ws:
        assert ws.tables() == []


def test_missed_call_with_negative_duration_is_kept_as_zero(tmp_path: Path) -> None:
    config = setup(tmp_path, [call("1", "2", duration=-1), call("2", "1", duration=30)])
    with load(config) as ws:
        assert ws.con.execute(
            "SELECT duration_s FROM interactions ORDER BY duration_s"
        ).fetchall() == [(0.0,), (30.0,)]


@pytest.mark.parametrize(
    ("values", "extra", "expected"),
    [
        (["2026-01-05T10:00:00+02:00", "2026-01-05 08:00:00"], "", "2026-01-05 08:00:00"),
        (["1767607200", "1767607200000"], "", "2026-01-05 10:00:00"),
        (
            ["3600", "3600"],
            'timestamp_format = "relative_s"\norigin = "2026-01-05T09:00:00"',
            "2026-01-05 10:00:00",
        ),
    ],
)
def test_timestamp_formats(tmp_path: Path, values: list[str], extra: str, expected: str) -> None:
    rows = [call("1", "2", values[0]), call("2", "1", values[1])]
    config = setup(tmp_path, rows)
    text = config.read_text().replace(
        "[inputs.interactions.columns]", f"{extra}\n[inputs.interactions.columns]"
    )
    config.write_text(text)
    with load(config) as ws:
        got = ws.con.execute(
            "SELECT DISTINCT strftime(timestamp, '%Y-%m-%d %H:%M:%S') FROM interactions"
        ).fetchall()
        assert got == [(expected,)]


def test_identifiers_are_pseudonymised_consistently_and_never_stored_raw(tmp_path: Path) -> None:
    config = setup(tmp_path, GOOD)
    pd.DataFrame({"customer_id": ["111"], "plan": ["gold"]}).to_csv(tmp_path / "c.csv", index=False)
    config.write_text(config.read_text() + '\n[inputs.customers]\npath = "c.csv"\n')
    with load(config) as ws:
        ids = ws.con.execute(
            "SELECT from_id FROM interactions UNION SELECT customer_id FROM customers"
        ).fetchall()
        assert {i[0] for i in ids} == {pseudonymise("111", KEY), pseudonymise("222", KEY)}
        for table in ("interactions", "customers"):
            dump = ws.table(table).df().astype(str).to_string()
            assert "111" not in dump.replace(pseudonymise("111", KEY), "")


def test_raw_ids_are_kept_only_when_asked(tmp_path: Path) -> None:
    with load(setup(tmp_path, GOOD), key=None) as ws:
        assert {r[0] for r in ws.con.execute("SELECT from_id FROM interactions").fetchall()} == {
            "111",
            "222",
        }
        # each kept record keeps its own direction (staged by party number, named back)
        kept = "SELECT from_id, to_id, channel FROM interactions ORDER BY ALL"
        assert ws.con.execute(kept).fetchall() == [("111", "222", "voice"), ("222", "111", "sms")]


def test_parquet_and_glob_over_many_files(tmp_path: Path) -> None:
    (tmp_path / "cdr").mkdir()
    for day in (1, 2, 3):
        frame = pd.DataFrame([call("1", "2", f"2026-01-0{day}T10:00:00")])
        frame["ts"] = pd.to_datetime(frame["ts"])
        frame.to_parquet(tmp_path / "cdr" / f"2026-01-0{day}.parquet")
    config = setup(tmp_path, GOOD)
    config.write_text(
        config.read_text().replace('path = "calls.csv"', 'path = "cdr/2026-*.parquet"')
    )
    with load(config) as ws:
        assert ws.table("interactions").count("*").fetchall() == [(3,)]


def test_snapshot_inputs_check_dates_booleans_and_numbers(tmp_path: Path) -> None:
    config = setup(tmp_path, GOOD)
    rows = ["customer_id,on_network,signup_date,monthly_fee"]
    rows += [f"{i},true,2024-01-{i % 28 + 1:02d},25.0" for i in range(40)]
    rows += ["900,maybe,2024-01-01,25", "901,false,2024-13-45,25", "902,true,2024-01-01,lots"]
    (tmp_path / "customers.csv").write_text("\n".join(rows) + "\n")
    config.write_text(config.read_text() + '\n[inputs.customers]\npath = "customers.csv"\n')
    with load(config, ingest={"keep_interactions": True, "max_bad_share": 0.2}) as ws:
        rejected = ws.con.execute(
            "SELECT rule, row, column_name, value FROM rejected_rows WHERE input = 'customers' "
            "ORDER BY row"
        ).fetchall()
        assert rejected == [
            ("bad_boolean", 41, "on_network", "maybe"),
            ("bad_date", 42, "signup_date", "2024-13-45"),
            ("bad_number", 43, "monthly_fee", "lots"),
        ]
        assert ws.table("customers").count("*").fetchall() == [(40,)]
