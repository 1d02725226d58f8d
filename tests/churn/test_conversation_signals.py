"""Conversations as churn signals, against the generator's truth (warnings before a churn).

Uses the session's contagious world (20,000 subscribers over 180 days, ``conftest.contagious``),
whose generator also wrote conversations: 60% of the churners post one to three negative
warnings in the 2-21 days before leaving, among everyday posts (a tenth of them negative).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tiewise.churn.conversations import conversation_days, conversation_triggers
from tiewise.churn.data import load_churn_data
from tiewise.churn.features import population
from tiewise.config import load_config
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.pipeline import RunResult
from tiewise.store import Workspace

CHURN_KEY_HEX = "6b" * 32  # conftest's key of the contagious world


def test_the_conversation_features_pass_the_gate_and_raise_the_auc(
    contagious: tuple[Path, RunResult],
) -> None:
    _, result = contagious
    assert result.churn is not None and result.churn.skipped is None
    ev = result.churn.evaluation
    assert result.churn.conversations_used and (result.churn.conversations_z or 0) > 1.645
    assert float(ev["behaviour + conversations"]["auc"] or 0) > (
        float(ev["behaviour"]["auc"] or 0) + 0.01
    )


def test_triggers_find_the_warnings_that_preceded_a_churn(
    contagious: tuple[Path, RunResult],
) -> None:
    root, _ = contagious
    config = load_config(root / "tiewise.toml")
    key = bytes.fromhex(CHURN_KEY_HEX)
    posts = pd.read_parquet(root / "data" / "conversations.parquet")
    truth = pd.read_parquet(root / "data" / "truth" / "conversation_truth.parquet")
    truth = truth.merge(posts[["message_id", "timestamp", "language"]], on="message_id")
    with Workspace.open(config.workspace_path) as ws, ws.run(command="test") as run:
        data = load_churn_data(run)
        talk = conversation_days(run, data, config.conversations.negative_threshold)
        assert talk is not None
        cut, recent = -60.0, 14.0
        alive = population(data, cut)
        found = conversation_triggers(talk, data, alive, cut, recent_days=recent)
    warned = set(found.loc[found["trigger"] == "negative_post", "customer_id"])
    # truth: English warnings in the 14 days before the cut by customers still there at the cut
    day = (truth["timestamp"] - pd.Timestamp(data.as_of)).dt.total_seconds() / 86400
    alive_ids = set(data.ids[alive])
    truth["pseudonym"] = [pseudonymise(x, key) for x in truth["speaker_id"]]
    window = truth[
        truth["warning"]
        & (truth["language"] == "en")
        & (day <= cut)
        & (day > cut - recent)
        & truth["pseudonym"].isin(alive_ids)
    ]
    assert len(window) > 20
    recall = window["pseudonym"].isin(warned).mean()
    assert recall > 0.9  # VADER reads the English warnings as negative
    # the triggered customers churn far more often in the next 30 days than the others
    churn = data.churn_day[alive]
    left = (churn > cut) & (churn <= cut + 30)
    hit = np.isin(data.ids[alive], list(warned))
    assert left[hit].mean() > 3 * left[~hit].mean()


def test_on_the_last_day_the_triggers_flag_who_warned_and_leaves_after_it(
    contagious: tuple[Path, RunResult],
) -> None:
    """The as-of triggers against the planted warnings of churns after the last day.

    Measured on this world and on its 5,000-subscriber sibling (same seed): every such English
    warning of the last 14 days by a matched customer triggers ``negative_post``; 31% and 19%
    of the triggered customers are such warners, 56 and 55 times their share of the customers.
    """
    root, _ = contagious
    config = load_config(root / "tiewise.toml")
    key = bytes.fromhex(CHURN_KEY_HEX)
    truth = pd.read_parquet(root / "data" / "truth" / "conversation_truth.parquet")
    planted = truth[truth["warning"] & truth["churn_after_window"]]
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        talk = ws.con.execute(
            "SELECT customer_id, message_id, timestamp, language FROM conversations "
            "WHERE customer_id IS NOT NULL"
        ).df()
        flagged = set(
            ws.con.execute(
                "SELECT customer_id FROM churn_triggers WHERE trigger = 'negative_post'"
            ).df()["customer_id"]
        )
        customers = int(ws.con.execute("SELECT count(*) FROM churn_scores").fetchone()[0])
    as_of = talk["timestamp"].max()
    warned = {pseudonymise(m, key) for m in planted["message_id"]}
    recent = talk[
        talk["message_id"].isin(warned)
        & (talk["language"] == "en")
        & (talk["timestamp"] > as_of - pd.Timedelta(days=14))
    ]
    target = set(recent["customer_id"])
    assert len(target) >= 40
    assert len(target & flagged) / len(target) > 0.9
    warners = {pseudonymise(s, key) for s in planted["speaker_id"]}
    assert len(flagged & warners) / len(flagged) > 20 * len(warners) / customers
