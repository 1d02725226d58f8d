"""DuckDB running out of memory: a clear error naming the setting to raise and its value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiewise.store import Workspace


@pytest.mark.parametrize("limit", ["16MB"])
def test_out_of_memory_names_the_setting_and_keeps_the_workspace(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    monkeypatch.chdir(project)
    assert cli("run").code == 0
    config = project / "tiewise.toml"
    config.write_text(config.read_text() + f'\n[engine]\nmemory_limit = "{limit}"\n')
    result = cli("run")
    assert result.code == 2, result.err
    assert "Internal error" not in result.err and "Traceback" not in result.err
    message = " ".join(result.err.split())
    assert "raise `memory_limit` under [engine]" in message
    assert f'memory_limit = "{limit}"' in message  # the value it has now
    with Workspace.open(project / "workspace", read_only=True) as ws:
        runs = ws.runs()
    assert [r["status"] for r in runs] == ["failed", "ok"]
