"""The graph stage's community levels, compared with direct runs as `graph.compare_levels` says."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tiewise.graph.stage as graph_stage
from tiewise.config import Config
from tiewise.graph.network import Network
from tiewise.store import Workspace


def _planted(n: int = 120, seed: int = 3) -> Network:
    """Six groups of 20, dense inside and sparse between."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) // 20
    u, v = np.triu_indices(n, 1)
    p = np.where(group[u] == group[v], 0.4, 0.01)
    keep = rng.random(len(u)) < p
    return Network(
        ids=np.array([f"c{i:03d}" for i in range(n)], dtype=object),
        on_network=np.ones(n, dtype=bool),
        u=u[keep].astype(np.int64),
        v=v[keep].astype(np.int64),
        weight=np.ones(int(keep.sum())),
        channels={},
    )


@pytest.mark.parametrize("setting", ["auto", True, False, "auto, above the limit"])
def test_levels_are_compared_with_direct_runs_as_the_setting_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: bool | str
) -> None:
    net = _planted()
    if setting == "auto, above the limit":
        monkeypatch.setattr(graph_stage, "COMPARE_LEVELS_UP_TO", len(net.u) - 1)
        setting = "auto"
    config = Config.model_validate({"graph": {"compare_levels": setting, "stable_ids": False}})
    with Workspace.open(tmp_path / "ws", create=True) as ws, ws.run(command="t") as run:
        _, _, _, quality = graph_stage._levels(run, net, config)
    main, others = quality.iloc[0], quality.iloc[1:]
    assert main["comparison"] == "a direct run" and pd.isna(main["direct_modularity"])
    compared = setting is True or (
        setting == "auto" and len(net.u) <= graph_stage.COMPARE_LEVELS_UP_TO
    )
    if compared:
        assert (others["comparison"] == "with a direct run at the same resolution").all()
        traded = others["direct_modularity"] - others["modularity"]
        np.testing.assert_allclose(others["modularity_traded"], traded)
    else:
        assert others["direct_modularity"].isna().all()
        assert others["modularity_traded"].isna().all()
        why = "false" if setting is False else f"{len(net.u):,} links, above the"
        assert others["comparison"].str.contains(why, regex=False).all()
