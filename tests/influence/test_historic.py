"""Historic adoption data: dates before 1990 are accepted when the configuration says so."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tiewise.config import load_config
from tiewise.exceptions import InputError
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace


def test_a_diffusion_study_from_the_1960s_loads_with_an_earlier_earliest_date(
    project: Path,
) -> None:
    calls = pd.read_csv(project / "data" / "calls.csv")
    calls["when"] = (pd.to_datetime(calls["when"]) - pd.DateOffset(years=60)).dt.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    calls.to_csv(project / "data" / "calls.csv", index=False)
    path = project / "tiewise.toml"
    base = path.read_text()
    path.write_text(base + "[influence]\nenabled = false\n")
    with pytest.raises(InputError, match=r"earliest_date"):
        run_pipeline(load_config(path))
    historic = "[ingest]\nearliest_date = 1950-01-01\n[influence]\nenabled = false\n"
    path.write_text(base.replace('workspace = "workspace"', 'workspace = "ws2"') + historic)
    run_pipeline(load_config(path))
    with Workspace.open(load_config(path).workspace_path, read_only=True) as ws:
        kept = ws.con.execute("SELECT count(*) FROM links").fetchone()
        tables = {t.name for t in ws.tables()}
    assert kept is not None and kept[0] > 0
    assert "rejected_rows" not in tables
