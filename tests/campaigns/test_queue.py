"""The response queue: open conversations ranked by what is at stake, a list with a control arm."""

from pathlib import Path

import pandas as pd
import pytest

from tiewise.campaigns.stage import create_campaign
from tiewise.config import load_config, template
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("queue")
    generate_telco(TelcoParams(customers=1500, days=120, seed=6), root / "data")
    path = root / "tiewise.toml"
    path.write_text(template(root / "data", config_dir=root))
    config = load_config(path, seed=2)
    run_pipeline(config, keep_raw_ids=True)
    return path


def test_the_queue_holds_open_conversations_of_current_customers(workspace: Path) -> None:
    config = load_config(workspace)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        queue = ws.con.execute("SELECT * FROM response_queue ORDER BY rank").df()
        conv = ws.con.execute("SELECT * FROM conversations").df()
        churned = set(ws.con.execute("SELECT customer_id FROM churn_events").df()["customer_id"])
    assert len(queue) > 20 and queue["rank"].tolist() == list(range(1, len(queue) + 1))
    assert queue["score"].is_monotonic_decreasing
    newest = conv["timestamp"].max()
    assert (queue["timestamp"] > newest - pd.Timedelta(days=14)).all()
    assert queue["customer_id"].notna().all() and not set(queue["customer_id"]) & churned
    answered = set(conv.loc[conv["answered"], "message_id"])
    assert not set(queue["message_id"]) & answered
    assert queue["reason"].str.contains("true value").all()
    assert queue["reason"].str.contains(r"churn risk \d+\.\dx average").all()


def test_complaints_of_valuable_risky_customers_come_first(workspace: Path) -> None:
    config = load_config(workspace)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        queue = ws.con.execute("SELECT * FROM response_queue ORDER BY rank").df()
    negative = queue["sentiment"] <= -0.05
    n = int(negative.sum())
    assert n >= 5
    # most complaints are at the top, though a neutral post of a valuable, risky customer may
    # come before a mild complaint of an ordinary one
    assert negative.head(2 * n).sum() >= 0.8 * n
    top = queue.head(n)
    assert top["value_at_stake"].median() > queue["value_at_stake"].median()
    first = queue.iloc[0]
    assert queue.loc[negative, "reason"].str.startswith("negative ").all()
    assert first["expected_value_protected"] == pytest.approx(
        0.25 * first["p_churn"] * first["true_value"]
    )


def test_the_response_campaign_has_one_row_per_customer_and_a_control_arm(
    workspace: Path,
) -> None:
    config = load_config(workspace)
    with Workspace.open(config.workspace_path) as ws, ws.run(command="test") as run:
        summary = create_campaign(run, config, "response", size=60)
        rows = run.con.execute("SELECT * FROM campaign_response ORDER BY rank").df()
    assert summary.targets + summary.controls == len(rows) > 0
    assert rows["customer_id"].is_unique and summary.controls > 0
    assert rows["reason"].str.len().min() > 20
