"""End to end on generated telco data: the pipeline recovers what the generator hid."""

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tiewise.config import load_config
from tiewise.graph.quality import nmi
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.pipeline import RunResult, StageMemory, run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

KEY_HEX = "5a" * 32


@pytest.fixture(scope="module")
def telco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("telco")
    generate_telco(TelcoParams(customers=8_000, days=60, seed=11), out / "data")
    return out


def run(folder: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[RunResult, Path]:
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    from tiewise.config import template

    config_path = folder / f"{name}.toml"
    text = template(folder / "data", config_dir=folder)
    text = text.replace('workspace = "workspace"', f'workspace = "{name}"')
    text = text.replace('path = "report.html"', f'path = "{name}.html"')
    config_path.write_text(text)
    return run_pipeline(load_config(config_path)), config_path


def test_pipeline_recovers_the_generators_communities_and_service_numbers(
    telco: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, config_path = run(telco, monkeypatch, "first")
    key = bytes.fromhex(KEY_HEX)
    truth = pd.read_parquet(telco / "data" / "truth" / "nodes.parquet")
    truth["pseudonym"] = [pseudonymise(i, key) for i in truth["id"]]
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        scores = ws.table("customer_scores").df()
        service = set(ws.table("service_numbers").df()["customer_id"])
    merged = scores.merge(truth, left_on="customer_id", right_on="pseudonym")
    assert len(merged) == len(scores)  # every party is a generated person or service number
    people = merged[~merged["is_service_y"]]
    score = nmi(people["community_x"].to_numpy(), people["community_y"].to_numpy())
    assert score >= 0.8, f"NMI {score:.3f} against the true communities"
    assert service == set(truth.loc[truth["is_service"], "pseudonym"])
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        # the sorted adjacency is every analysed link (service numbers' left out) from both ends
        adjacency = ws.con.execute(
            "SELECT na.customer_id AS one, nb.customer_id AS other, a.strength "
            "FROM network_adjacency a JOIN network_nodes na ON na.node = a.node "
            "JOIN network_nodes nb ON nb.node = a.contact"
        ).df()
        links = ws.con.execute(
            "SELECT a, b, strength FROM links WHERE strength > 0 AND a NOT IN "
            "(SELECT customer_id FROM service_numbers) AND b NOT IN "
            "(SELECT customer_id FROM service_numbers)"
        ).df()
        nodes = ws.con.execute("SELECT customer_id FROM network_nodes ORDER BY node").df()
        stored = ws.con.execute("SELECT node FROM network_adjacency ORDER BY rowid").df()["node"]
    assert nodes["customer_id"].tolist() == sorted(scores["customer_id"])
    assert stored.is_monotonic_increasing and len(adjacency) == 2 * len(links) > 0
    both = pd.concat([links, links.rename(columns={"a": "b", "b": "a"})], ignore_index=True).merge(
        adjacency, left_on=["a", "b"], right_on=["one", "other"], how="outer"
    )
    assert both["strength_x"].notna().all() and both["strength_y"].notna().all()
    np.testing.assert_allclose(both["strength_y"], both["strength_x"], rtol=1e-12)
    assert result.report_path.is_file()
    html = result.report_path.read_text()
    assert "Community 1 " in html and "<svg" in html
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        meta = ws.con.execute("SELECT half_life_days, half_life_reason FROM link_meta").df()
    days, why = meta.iloc[0]
    assert f"link weights decay with a half-life of {days:g} days ({why})" in html
    for fetch in ('src="http', "src='http", 'href="http', "<link ", "@import", "url(http"):
        assert fetch not in html  # opens offline: nothing is fetched
    assert len(result.top_customers) == 10
    assert all(" in community " in r["reason"] for r in result.top_customers)
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        stages = json.loads(ws.runs()[0]["stages"])  # where the run spent its time and memory
    assert [s["stage"] for s in stages] == list(result.seconds)
    assert [s["seconds"] for s in stages] == list(result.seconds.values())
    assert all(s["peak_rss_bytes"] > 50 * 2**20 for s in stages)  # Python and the libraries
    # processor time of every thread: nothing runs without it, and the machine's cores bound it
    cores = os.cpu_count() or 1
    assert all(0 < s["cpu_seconds"] <= cores * s["seconds"] + 0.5 for s in stages)


# what records the run itself (ids, times, paths), not its results
_RUN_RECORDS = {"runs", "ingested_files", "table_changes"}


def test_same_data_and_seed_give_the_same_results(
    telco: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, path_a = run(telco, monkeypatch, "again_a")
    second, path_b = run(telco, monkeypatch, "again_b")
    frames: list[dict[str, pd.DataFrame]] = []
    for path in (path_a, path_b):
        with Workspace.open(load_config(path).workspace_path, read_only=True) as ws:
            names = sorted(t.name for t in ws.tables() if t.name not in _RUN_RECORDS)
            frames.append({name: ws.con.execute(
                f"SELECT * FROM {name} ORDER BY ALL").df() for name in names})  # fmt: skip
    assert sorted(frames[0]) == sorted(frames[1]) and "customer_value" in frames[0]
    for name, frame in frames[0].items():  # every result table, bit for bit
        pd.testing.assert_frame_equal(frame, frames[1][name], check_exact=True, obj=name)
    assert first.top_customers == second.top_customers


def test_a_rerun_keeps_community_ids_and_records_the_changes(
    telco: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, config_path = run(telco, monkeypatch, "stable")
    first = None
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        first = ws.table("customer_scores").order("customer_id").df()[["customer_id", "community"]]
    second, _ = run(telco, monkeypatch, "stable")
    with Workspace.open(load_config(config_path).workspace_path, read_only=True) as ws:
        again = ws.table("customer_scores").order("customer_id").df()[["customer_id", "community"]]
        changes = ws.con.execute(
            "SELECT DISTINCT event FROM community_changes WHERE run_id = ? AND level = 0",
            [second.run_id],
        ).fetchall()
        levels = ws.con.execute("SELECT count(DISTINCT level) FROM community_levels").fetchall()
    pd.testing.assert_frame_equal(first, again)
    assert changes == [("kept",)]
    assert levels == [(3,)]


def test_stage_memory_sees_a_step_that_sets_the_peak_and_one_that_does_not() -> None:
    size = 300 * 2**20
    with StageMemory() as first:
        block = np.ones(size // 8)  # touched: resident
        # held past a sample: in a long test session the process's high-water mark may already
        # be above this step's, and then only the sampler can see it
        time.sleep(0.3)
        del block
    with StageMemory() as second:  # below the high-water mark the first step set
        block = np.ones(size // 16)
        time.sleep(0.3)  # the sampler's interval is 0.05 s
        del block
    with StageMemory() as idle:
        pass
    assert first.peak_bytes is not None and second.peak_bytes is not None
    assert idle.peak_bytes is not None
    assert first.peak_bytes - idle.peak_bytes > 0.9 * size
    assert 0.4 * size < second.peak_bytes - idle.peak_bytes < 0.7 * size


def test_rerun_stage_says_run_first_and_records_the_last_runs_inputs(project: Path) -> None:
    """One way to rerun a stage, one error ("run `tiewise run` first") for each thing missing."""
    from tiewise.exceptions import NotRunError
    from tiewise.pipeline import StageRun, rerun_stage

    config = load_config(project / "tiewise.toml")
    ran: list[int] = []

    def stage(run: object) -> int:
        ran.append(1)
        return 42

    def rerun(**options: Any) -> StageRun[int]:
        return rerun_stage(config, stage, description="test stage", **options)

    with pytest.raises(NotRunError, match=r"no workspace at .*run `tiewise run` first"):
        rerun()
    with Workspace.open(config.workspace_path, create=True):
        pass
    with pytest.raises(NotRunError, match=r"holds no complete run: run `tiewise run` first\."):
        rerun()
    with Workspace.open(config.workspace_path) as ws, ws.run(command="t", inputs={"x": 1}) as r:
        r.con.execute("CREATE TABLE nodes AS SELECT 1 AS n")
    with pytest.raises(NotRunError, match=r"has no customer_scores table: run `tiewise run`"):
        rerun(needs=("nodes", "customer_scores"))
    assert ran == []  # the stage never ran on a workspace without what it reads
    done = rerun(needs=("nodes",), command="tiewise again")
    assert (done.summary, done.report_path, ran) == (42, None, [1])
    assert set(done.seconds) == {"test stage"}
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        runs = ws.runs()
    assert [(r["command"], r["status"]) for r in runs] == [
        ("tiewise again", "ok"),
        ("rerun", "failed"),
        ("t", "ok"),
    ]
    assert runs[0]["inputs"] == runs[2]["inputs"]  # the data is the last run's
