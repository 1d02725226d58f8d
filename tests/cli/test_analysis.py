"""The rerun commands (`value`, `churn`, `influence`, `seeds`) share one way in and one error."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("command", ["value", "churn", "influence", "seeds", "report"])
def test_every_rerun_says_run_first_on_a_fresh_project(
    command: str, project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    result = cli(command)
    message = " ".join(result.err.split())
    assert result.code == 2, result.err
    assert "run `tiewise run` first" in message
    assert "Traceback" not in result.err
    assert not (project / "workspace" / "tiewise.duckdb").exists()  # nothing was created
