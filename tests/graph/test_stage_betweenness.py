"""The graph stage when betweenness is not asked for (``graph.betweenness_samples = 0``)."""

from __future__ import annotations

from pathlib import Path

from tiewise.config import load_config
from tiewise.pipeline import RunResult
from tiewise.store import Workspace


def test_betweenness_not_asked_for_is_null_not_zero(contagious: tuple[Path, RunResult]) -> None:
    # the session's contagious world runs with betweenness_samples = 0 (conftest)
    root, _ = contagious
    config = load_config(root / "tiewise.toml")
    assert config.graph.betweenness_samples == 0
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        nulls, rows, bridges, said, missing = ws.con.execute(
            """
            SELECT count(*) FILTER (WHERE betweenness IS NULL AND betweenness_pct IS NULL),
                   count(*), count(*) FILTER (WHERE business_role = 'bridge'),
                   count(*) FILTER (WHERE reason LIKE '%betweenness%'),
                   count(*) FILTER (WHERE reason IS NULL)
            FROM customer_scores
            """
        ).fetchone()
    assert nulls == rows > 0
    assert bridges > 0  # bridges' reasons would name their betweenness: they do not make it up
    assert said == 0 and missing == 0
