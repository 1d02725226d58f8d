"""Paths are data, never SQL: quotes, semicolons and glob characters in file and folder names."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tiewise.store import Workspace, sql_read_path

# Each would run a second statement (writing pwned.csv) if the name were pasted into SQL.
INJECTIONS = [
    "x.csv' (FORMAT CSV); COPY (SELECT 42 AS pwned) TO 'pwned.csv' (FORMAT CSV); --.csv",
    "a';COPY (SELECT 42 AS pwned) TO 'pwned.csv';'.csv",
    "it's; DROP TABLE runs; --.parquet",
]


@pytest.fixture
def numbers(tmp_path: Path) -> Path:
    """A workspace with one table, ``numbers`` (0..9)."""
    path = tmp_path / "ws"
    with Workspace.open(path, create=True) as ws, ws.run(command="numbers") as run:
        run.write_table(
            "numbers",
            "SELECT range AS n FROM range(10)",
            stage="t",
            description="numbers",
            check=False,
        )
    return path


@pytest.mark.parametrize("name", INJECTIONS)
def test_export_writes_exactly_the_named_file(
    name: str, numbers: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    result = cli("export", "numbers", name, "--workspace", str(numbers))
    assert result.code == 0, result.err
    assert os.listdir(out) == [name]
    frame = pd.read_parquet(name) if name.endswith(".parquet") else pd.read_csv(name)
    assert frame["n"].tolist() == list(range(10))
    with Workspace.open(numbers, read_only=True) as ws:
        assert [r["command"] for r in ws.runs()] == ["numbers"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("list.json", None), ("list", None), ("list.csv", "parquet")],
)
def test_export_refuses_names_it_cannot_write(
    name: str, fmt: str | None, numbers: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["export", "numbers", name, "--workspace", str(numbers)]
    result = cli(*args, *(["--format", fmt] if fmt else []))
    assert result.code == 2, result.err
    assert ".csv" in result.err and "Traceback" not in result.err
    assert not (tmp_path / name).exists()
    assert not list(tmp_path.glob(".tiewise-export-*"))


def test_export_csv_gz_and_an_explicit_format(
    numbers: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("export", "numbers", "n.csv.gz", "-w", str(numbers)).code == 0
    with gzip.open(tmp_path / "n.csv.gz", "rt") as f:
        assert f.readline().strip() == "n"
    assert cli("export", "numbers", "n.txt", "--format", "csv", "-w", str(numbers)).code == 0
    assert (tmp_path / "n.txt").read_text().splitlines()[:2] == ["n", "0"]


def test_a_project_in_a_folder_named_like_sql(
    project: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workspace, inputs, report and export all under a folder with ' and ; in its name."""
    hostile = tmp_path / "it's; DROP TABLE runs; --"
    shutil.copytree(project, hostile)
    calls = hostile / "data" / "o'neil; calls.csv"
    (hostile / "data" / "calls.csv").rename(calls)
    config = hostile / "tiewise.toml"
    config.write_text(
        config.read_text().replace("data/calls.csv", "data/o'neil; calls.csv"), encoding="utf-8"
    )
    monkeypatch.chdir(hostile)
    result = cli("run")
    assert result.code == 0, result.err
    assert cli("export", "links", "it's; links.parquet").code == 0
    assert len(pd.read_parquet(hostile / "it's; links.parquet")) > 0
    with Workspace.open(hostile / "workspace", read_only=True) as ws:
        (run,) = ws.runs()
        assert run["status"] == "ok"
        loaded = ws.con.execute(
            "SELECT rows FROM ingest_report WHERE input = 'interactions' AND rule = 'loaded'"
        ).fetchall()
    assert loaded == [(3000,)]  # every line of o'neil; calls.csv


def test_a_file_read_is_exactly_that_file(tmp_path: Path) -> None:
    """DuckDB expands * ? [..] in paths it reads; sql_read_path keeps them literal."""
    for name, value in (("r[1].csv", 1), ("r1.csv", 2), ("r*.csv", 3), ("r?.csv", 4)):
        (tmp_path / name).write_text(f"x\n{value}\n")
    con = duckdb.connect()
    for name, value in (("r[1].csv", 1), ("r*.csv", 3), ("r?.csv", 4)):
        rows = con.execute(f"SELECT x FROM read_csv({sql_read_path(tmp_path / name)})").fetchall()
        assert rows == [(value,)], name
