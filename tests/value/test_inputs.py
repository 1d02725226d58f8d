"""Bad inputs to the value stage: clear errors or the documented treatment."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tiewise.config import load_config
from tiewise.store import Workspace

INPUTS = """
[inputs.transactions]
path = "data/transactions.csv"
[inputs.churn]
path = "data/churn.csv"
"""


def _write(project: Path, *, refund: bool = False, late: bool = False) -> None:
    rng = np.random.default_rng(1)
    ids = [f"4479{x:06d}" for x in range(200)]  # customers 200-249 never buy
    rows = []
    for i, cid in enumerate(ids):
        for k in range(1 + i % 4):
            day = pd.Timestamp("2026-01-02") + pd.Timedelta(days=int(rng.integers(0, 55)) + k)
            rows.append((cid, day.isoformat(), round(float(rng.gamma(2.0, 15.0)) + 1, 2)))
    if refund:
        rows.append((ids[3], "2026-02-20T10:00:00", -12.5))
    churn = [(ids[10], "2026-01-05T00:00:00"), (ids[11], "2026-02-27T00:00:00")]
    if late:  # a purchase two months after its customer left
        rows.append((ids[10], "2026-03-01T00:00:00", 20.0))
    else:
        rows = [r for r in rows if not (r[0] == ids[10] and r[1] > "2026-01-05")]
    pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).to_csv(
        project / "data" / "transactions.csv", index=False
    )
    pd.DataFrame(churn, columns=["customer_id", "timestamp"]).to_csv(
        project / "data" / "churn.csv", index=False
    )
    with (project / "tiewise.toml").open("a", encoding="utf-8") as f:
        f.write(INPUTS)


def _value(project: Path) -> pd.DataFrame:
    with Workspace.open(load_config(project / "tiewise.toml").workspace_path, read_only=True) as ws:
        return ws.table("customer_value").df().set_index("customer_id")


def test_clean_purchases_and_customers_without_history(
    project: Path, cli: Callable[..., Any]
) -> None:
    _write(project)
    result = cli("run", "--config", str(project / "tiewise.toml"))
    assert result.code == 0, result.err
    assert "Value (bgnbd" in result.out
    cv = _value(project)
    assert len(cv) == 250
    never = cv[cv["purchases"] == 0]
    buyers = pd.read_csv(project / "data" / "transactions.csv")["customer_id"].nunique()
    assert len(never) == 250 - buyers >= 50
    assert (never["clv"] == 0).all() and never["p_alive"].isna().all()
    assert never["reason"].str.contains("no purchase yet").all()
    assert (cv.loc[cv["purchases"] > 0, "clv"] > 0).all()


def test_negative_amounts_stop_the_run_and_leave_the_workspace(
    project: Path, cli: Callable[..., Any]
) -> None:
    _write(project, refund=True)
    result = cli("run", "--config", str(project / "tiewise.toml"))
    assert result.code == 2
    message = " ".join(result.err.split())
    assert "transactions: 1 rows have a negative amount" in message
    assert 'negative_amounts = "net"' in message
    assert "Traceback" not in result.err
    with Workspace.open(load_config(project / "tiewise.toml").workspace_path, read_only=True) as ws:
        assert "customer_value" not in {t.name for t in ws.tables()}


def test_negative_amounts_netted_when_configured(project: Path, cli: Callable[..., Any]) -> None:
    _write(project, refund=True)
    with (project / "tiewise.toml").open("a", encoding="utf-8") as f:
        f.write('\n[value]\nnegative_amounts = "net"\n')
    result = cli("run", "--config", str(project / "tiewise.toml"))
    assert result.code == 0, result.err
    assert "negative amounts (refunds) netted" in result.out
    tx = pd.read_csv(project / "data" / "transactions.csv")
    cv = _value(project)
    # spend to date is net of the refund; ids in the workspace are pseudonyms, so compare totals
    assert cv["historical_spend"].sum() == pytest.approx(tx["amount"].sum())


def test_purchases_after_churn_are_an_error_or_dropped(
    project: Path, cli: Callable[..., Any]
) -> None:
    _write(project, late=True)
    config = str(project / "tiewise.toml")
    result = cli("run", "--config", config)
    assert result.code == 2
    message = " ".join(result.err.split())
    assert "1 rows are dated more than 31 days after their customer's churn date" in message
    assert 'after_churn = "drop"' in message
    with (project / "tiewise.toml").open("a", encoding="utf-8") as f:
        f.write('\n[value]\nafter_churn = "drop"\nmodel = "bgnbd"\n')
    result = cli("run", "--config", config)
    assert result.code == 0, result.err
    assert "1 transactions after churn dropped" in result.out


def test_value_command_needs_a_workspace(project: Path, cli: Callable[..., Any]) -> None:
    result = cli("value", "--config", str(project / "tiewise.toml"))
    assert result.code == 2
    assert "run `tiewise run` first" in " ".join(result.err.split())


def test_sbg_without_churn_input_is_a_usage_error(project: Path, cli: Callable[..., Any]) -> None:
    config = str(project / "tiewise.toml")
    with (project / "tiewise.toml").open("a", encoding="utf-8") as f:
        f.write('\n[value]\nmodel = "sbg"\n')
    result = cli("run", "--config", config)
    assert result.code == 2
    assert "needs the churn input" in " ".join(result.err.split())
