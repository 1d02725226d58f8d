"""One row per key in the snapshot inputs: copies dropped and counted, conflicts rejected."""

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from tiewise.config import load_config, template
from tiewise.exceptions import InputError
from tiewise.ingest.load import IngestSummary, ingest
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

CONFIG = """
[inputs.interactions]
path = "calls.csv"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
[inputs.customers]
path = "customers*.csv"
[inputs.adoptions]
path = "adoptions.csv"
[inputs.churn]
path = "churn.csv"
[ingest]
{ingest}
"""


def write(tmp_path: Path, customers: str, ingest_options: str = "") -> Path:
    (tmp_path / "calls.csv").write_text(
        "caller,callee,ts,channel\n1,2,2026-01-05T10:00:00,voice\n2,3,2026-01-05T11:00:00,sms\n"
    )
    (tmp_path / "customers.csv").write_text(customers)
    (tmp_path / "adoptions.csv").write_text(
        "customer_id,item,category,timestamp\n"
        "1,phone,devices,2026-01-03\n"
        "1,phone,devices,2026-01-01\n"  # the first adoption is the one kept
        "1,phone,devices,2026-01-01\n"  # an exact copy
        "2,phone,devices,2026-01-02\n"
    )
    (tmp_path / "churn.csv").write_text(
        "customer_id,timestamp\n3,2026-02-01\n3,2026-01-20\n3,2026-02-01\n"
    )
    config = tmp_path / "tiewise.toml"
    config.write_text(textwrap.dedent(CONFIG.format(ingest=ingest_options)))
    return config


def run(config_path: Path) -> tuple[Workspace, IngestSummary]:
    config = load_config(config_path)
    ws = Workspace.open(config.workspace_path, create=True)
    with ws.run(command="test") as r:
        summary = ingest(r, config, None)
    return ws, summary


CUSTOMERS = "customer_id,plan,monthly_fee\n" + "".join(
    f"{i},plan_{i % 3},{10 + i}\n" for i in range(1, 41)
)


def test_exact_copies_are_dropped_and_counted(tmp_path: Path) -> None:
    repeated = "".join(f"{i},plan_{i % 3},{10 + i}.0\n" for i in range(1, 11)) * 5  # 50 copies
    ws, summary = run(write(tmp_path, CUSTOMERS + repeated))
    with ws:
        assert ws.con.execute("SELECT count(*), sum(monthly_fee) FROM customers").fetchall() == [
            (40, sum(10 + i for i in range(1, 41)))
        ]
        line = ws.con.execute(
            "SELECT rows, action, example FROM ingest_report "
            "WHERE input = 'customers' AND rule = 'duplicate_row'"
        ).fetchall()
        assert line == [(50, "dropped", f"{tmp_path / 'customers.csv'}, data row 41")]
    assert summary.loaded["customers"] == 40 and summary.dropped["customers"] == 50
    assert summary.rejected["customers"] == 0


def test_copies_across_files_of_one_input_are_dropped(tmp_path: Path) -> None:
    config = write(tmp_path, CUSTOMERS)
    (tmp_path / "customers-2.csv").write_text(CUSTOMERS)
    ws, summary = run(config)
    with ws:
        assert ws.con.execute("SELECT count(*) FROM customers").fetchall() == [(40,)]
    assert summary.dropped["customers"] == 40


def test_conflicting_rows_of_one_customer_are_rejected_with_the_column(tmp_path: Path) -> None:
    conflicting = "7,plan_9,17\n"  # customer 7 is on plan_1 in row 7
    ws, summary = run(write(tmp_path, CUSTOMERS + conflicting))
    with ws:
        assert ws.con.execute("SELECT count(*) FROM customers").fetchall() == [(39,)]
        rejected = ws.con.execute(
            "SELECT row, rule, column_name, value FROM rejected_rows ORDER BY row"
        ).fetchall()
        assert rejected == [
            (7, "conflicting_key", "plan", "plan_1"),
            (41, "conflicting_key", "plan", "plan_9"),
        ]
    assert summary.rejected["customers"] == 2


def test_a_phone_number_in_a_conflicting_column_is_not_stored(tmp_path: Path) -> None:
    ws, _ = run(write(tmp_path, CUSTOMERS + "7,+44 7700 900123,17\n"))
    with ws:
        values = [r[0] for r in ws.con.execute("SELECT value FROM rejected_rows").fetchall()]
        assert "+44 7700 900123" not in values and "(withheld: may be an identifier)" in values


def test_conflicts_count_toward_the_bad_share_and_stop_a_strict_run(tmp_path: Path) -> None:
    many = "".join(f"{i},plan_9,1\n" for i in range(1, 4))  # 6 of 43 rows conflict: 14%
    with pytest.raises(InputError, match=r"inputs.customers: 6 of 43 rows .*conflicting_key"):
        run(write(tmp_path, CUSTOMERS + many))
    (tmp_path / "workspace").rename(tmp_path / "failed")
    with pytest.raises(InputError, match=r"customers.csv, data row 1, column plan: rule "):
        run(write(tmp_path, CUSTOMERS + "1,plan_9,11\n", 'policy = "strict"'))


def test_the_earliest_adoption_and_churn_of_a_key_are_kept(tmp_path: Path) -> None:
    ws, summary = run(write(tmp_path, CUSTOMERS))
    with ws:
        adoptions = ws.con.execute(
            "SELECT customer_id, item, CAST(timestamp AS DATE)::VARCHAR FROM adoptions ORDER BY 1"
        ).fetchall()
        assert adoptions == [("1", "phone", "2026-01-01"), ("2", "phone", "2026-01-02")]
        churn = ws.con.execute(
            "SELECT customer_id, CAST(timestamp AS DATE)::VARCHAR FROM churn_events"
        )
        assert churn.fetchall() == [("3", "2026-01-20")]
        report = dict(
            ws.con.execute(
                "SELECT input || ':' || rule, rows FROM ingest_report "
                "WHERE rule IN ('duplicate_row', 'repeated_key')"
            ).fetchall()
        )
        assert report == {
            "adoptions:duplicate_row": 1,
            "adoptions:repeated_key": 1,
            "churn:duplicate_row": 1,
            "churn:repeated_key": 1,
        }
    assert summary.dropped == {"interactions": 0, "customers": 0, "adoptions": 2, "churn": 2}


def test_repeated_customers_change_no_money_in_the_whole_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16's finding: 50 repeated rows doubled customer_value rows and lifetime value."""
    monkeypatch.setenv("TIEWISE_KEY", "5a" * 32)
    generate_telco(TelcoParams(customers=600, days=60, seed=3), tmp_path / "data")
    text = template(tmp_path / "data", config_dir=tmp_path)
    text = text.replace("[influence]\nenabled = true", "[influence]\nenabled = false")
    text = text.replace("levels = [1.0, 4.0]", "levels = []")
    text = text.replace("betweenness_samples = 16", "betweenness_samples = 0")
    text = text.replace("eval_cuts = 3", "eval_cuts = 1")
    (tmp_path / "tiewise.toml").write_text(text)

    def value() -> tuple[int, float, int]:
        result = run_pipeline(load_config(tmp_path / "tiewise.toml"))
        with Workspace.open(tmp_path / "workspace", read_only=True) as ws:
            n, clv = ws.con.execute("SELECT count(*), sum(clv) FROM customer_value").fetchall()[0]
        return n, clv, result.ingest.dropped.get("customers", 0)

    before = value()
    customers = pd.read_parquet(tmp_path / "data" / "customers.parquet")
    pd.concat([customers, customers.head(50)]).to_parquet(tmp_path / "data" / "customers.parquet")
    after = value()
    assert before[2] == 0 and after[2] == 50
    assert after[0] == before[0]
    assert after[1] == pytest.approx(before[1], rel=1e-9)
