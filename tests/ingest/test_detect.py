from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tiewise.config import load_config, template
from tiewise.ingest.detect import detect_inputs, guess_timestamp_format


def _write(folder: Path, name: str, frame: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        frame.to_parquet(folder / name, index=False)
    else:
        frame.to_csv(folder / name, index=False)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["31/01/2026 14:05", "01/02/2026 09:30"], "%d/%m/%Y %H:%M"),
        (["01/31/2026 14:05:10", "02/01/2026 09:30:00"], "%m/%d/%Y %H:%M:%S"),
        (["31.01.2026", "01.02.2026"], "%d.%m.%Y"),
        (["2026-01-31T14:05:00Z", "1767225600"], "auto"),
        (["yesterday", "31/01/2026"], None),
    ],
)
def test_timestamp_formats_are_read_from_the_values(values, expected) -> None:
    assert guess_timestamp_format(values) == expected


def test_files_with_their_own_names_are_wired_to_every_input(tmp_path: Path) -> None:
    calls = pd.DataFrame(
        {
            "A_NUMBER": ["4479001", "4479002"],
            "B_NUMBER": ["4479002", "4479003"],
            "CALL_START": ["31/01/2026 14:05", "01/02/2026 09:30"],
            "DURATION": ["60", "12"],
        }
    )
    _write(tmp_path, "calls.csv", calls)
    _write(
        tmp_path,
        "texts.parquet",
        pd.DataFrame({"src": ["1", "2"], "dst": ["2", "3"], "ts": ["2026-01-01", "2026-01-02"]}),
    )
    _write(tmp_path, "subscribers.csv", pd.DataFrame({"msisdn": ["1"], "Tariff": ["S"]}))
    _write(
        tmp_path,
        "orders.csv",
        pd.DataFrame({"cust_id": ["1"], "date": ["2026-01-01"], "value": ["9.5"]}),
    )
    _write(
        tmp_path,
        "export_2026.csv",  # a name that says nothing: its columns say adoptions
        pd.DataFrame({"MSISDN": ["1"], "Product": ["x"], "when": ["2026-01-01 10:00"]}),
    )
    _write(tmp_path, "notes.csv", pd.DataFrame({"remark": ["hello"]}))
    found = detect_inputs(tmp_path)
    by_file = {f.path.name: f for f in found.files}
    call = by_file["calls.csv"]
    assert call.input == "interactions"
    assert call.columns == {
        "from_id": "A_NUMBER",
        "to_id": "B_NUMBER",
        "timestamp": "CALL_START",
        "duration_s": "DURATION",
    }
    assert call.timestamp_format == "%d/%m/%Y %H:%M"
    assert call.constants == {"channel": "voice"}
    assert by_file["texts.parquet"].constants == {"channel": "sms"}
    assert by_file["subscribers.csv"].columns == {"customer_id": "msisdn", "plan": "Tariff"}
    assert by_file["orders.csv"].input == "transactions"
    assert by_file["orders.csv"].columns["amount"] == "value"
    assert by_file["export_2026.csv"].input == "adoptions"
    assert by_file["export_2026.csv"].columns["timestamp"] == "when"
    assert by_file["notes.csv"].input is None
    said = "\n".join(found.lines())
    assert "notes.csv: not used" in said
    assert "No file for: churn, engagement, identities, conversations." in said

    # The configuration written from it loads, with both interaction files as sources.
    path = tmp_path / "proj" / "tiewise.toml"
    path.parent.mkdir()
    path.write_text(template(tmp_path, config_dir=path.parent, detected=found.specs()))
    cfg = load_config(path)
    sources = cfg.inputs.sources("interactions")
    assert [Path(s.path).name for s in sources] == ["calls.csv", "texts.parquet"]
    assert sources[0].timestamp_format == "%d/%m/%Y %H:%M"
    assert sources[0].columns["from_id"] == "A_NUMBER"
    assert cfg.inputs.sources("churn") == []
    assert cfg.inputs.sources("adoptions")[0].columns["item"] == "Product"


def test_a_file_missing_a_required_column_is_reported_not_wired(tmp_path: Path) -> None:
    _write(tmp_path, "churn.csv", pd.DataFrame({"msisdn": ["1"], "reason": ["price"]}))
    found = detect_inputs(tmp_path)
    (churn,) = found.files
    assert churn.input == "churn"
    assert churn.missing == ["timestamp"]
    assert "churn" not in found.specs()
    assert "could not find required column(s) timestamp" in "\n".join(found.lines())


def _day_first_project(root: Path) -> Path:
    """Calls with A_NUMBER/B_NUMBER and day/month/year times, and customers with an msisdn."""
    from tests.conftest import write_interactions

    data = root / "data"
    data.mkdir(parents=True)
    calls = write_interactions(data / "raw.csv")
    (data / "raw.csv").unlink()
    when = pd.to_datetime(calls["when"])
    pd.DataFrame(
        {
            "A_NUMBER": calls["caller"],
            "B_NUMBER": calls["callee"],
            "CALL_START": when.dt.strftime("%d/%m/%Y %H:%M"),
            "type": calls["kind"],
            "DURATION": calls["secs"],
        }
    ).to_csv(data / "calls.csv", index=False)
    pd.DataFrame({"msisdn": [f"4479{x:06d}" for x in range(250)]}).to_csv(
        data / "subscribers.csv", index=False
    )
    return data


def test_a_run_on_detected_files_needs_no_edit_and_quotes_a_bad_time(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEWISE_KEY", "00" * 16 + "22" * 16)
    data = _day_first_project(tmp_path)
    config = tmp_path / "tiewise.toml"
    init = cli("init", "--data", str(data), str(config))
    assert init.code == 0, init.err
    assert "timestamp_format = '%d/%m/%Y %H:%M'" in init.out
    assert "channel <- type" in init.out
    run = cli("run", "--config", str(config))
    assert run.code == 0, run.err
    # A skipped stage is a warning that names the setting enabling it.
    assert "Warning: churn skipped" in run.err and "[inputs.churn]" in run.err
    from tiewise.store import Workspace

    with Workspace.open(tmp_path / "workspace", read_only=True) as ws:
        first, last = ws.con.execute("SELECT first_ts, as_of FROM link_meta").fetchall()[0]
    assert (first.year, first.month) == (2026, 1)  # read day first: 60 days from 1 January
    assert (last - first).days >= 55

    # A time the pattern cannot read stops a strict run with the value quoted.
    frame = pd.read_csv(data / "calls.csv", dtype=str)
    frame.loc[7, "CALL_START"] = "2026-31-01 14:05"
    frame.to_csv(data / "calls.csv", index=False)
    text = config.read_text().replace('policy = "quarantine"', 'policy = "strict"', 1)
    config.write_text(text)
    bad = cli("run", "--config", str(config))
    assert bad.code == 2
    assert "'2026-31-01 14:05'" in bad.err and "CALL_START" in bad.err
    assert "timestamp_format" in bad.err
