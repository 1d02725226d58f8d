"""The links stage's fold of the records ingest staged: reloads, refusals, nothing left behind.

The weights themselves are checked record by record against a plain-Python reference in
``test_strength.py``; here, what happens around them from one run to the next.
"""

from pathlib import Path

import pandas as pd
import pytest

from tiewise.config import Config, load_config
from tiewise.exceptions import InputError
from tiewise.ingest.checks import IngestSummary
from tiewise.ingest.load import ingest
from tiewise.links.state import MASK_WEEKS, PENDING, fold_interactions, rebuild_reason
from tiewise.links.strength import LinkSummary, build_links
from tiewise.store import Workspace

HEADER = "caller,callee,ts,channel,duration_s\n"
DAY1 = HEADER + "1,2,2026-01-05T10:00:00,voice,60\n2,3,2026-01-05T12:00:00,sms,\n"
DAY2 = HEADER + "1,2,2026-02-06T10:00:00,voice,30\n3,1,2026-02-06T12:00:00,sms,\n"


def config_for(folder: Path, half_life: float | None = 10.0, workspace: str = "ws") -> Config:
    return load_config(
        None,
        workspace=str(folder / workspace),
        inputs={
            "interactions": {
                "path": str(folder / "cdr" / "*.csv"),
                "columns": {"from_id": "caller", "to_id": "callee", "timestamp": "ts"},
            }
        },
        links={"half_life_days": half_life},
    )


def write_day(folder: Path, name: str, text: str) -> None:
    (folder / "cdr").mkdir(exist_ok=True)
    (folder / "cdr" / name).write_text(text)


def pipeline(config: Config) -> tuple[IngestSummary, LinkSummary]:
    """Ingest and links as ``tiewise run`` chains them."""
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="t") as run:
        ingested = ingest(run, config, None, rebuild=rebuild_reason(run, config))
        return ingested, build_links(run, config)


def state(config: Config) -> pd.DataFrame:
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        return ws.con.execute("SELECT * FROM link_state ORDER BY a, b").df()


def test_the_staged_records_are_gone_once_folded_and_links_wrote_the_state(
    tmp_path: Path,
) -> None:
    write_day(tmp_path, "d1.csv", DAY1)
    config = config_for(tmp_path)
    pipeline(config)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        names = {t for (t,) in ws.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        writers = dict(ws.con.execute("SELECT name, stage FROM _tiewise_tables").fetchall())
        parties = ws.con.execute("SELECT party FROM interaction_parties").fetchall()
    assert not set(PENDING) & names
    assert not set(PENDING) & set(writers)
    assert writers["link_state"] == writers["link_meta"] == "links"
    assert writers["ingested_files"] == "ingest"
    assert sorted(p for (p,) in parties) == ["1", "2", "3"]


def test_a_change_of_the_weight_settings_reloads_every_file(tmp_path: Path) -> None:
    write_day(tmp_path, "d1.csv", DAY1)
    write_day(tmp_path, "d2.csv", DAY2)
    first, links = pipeline(config_for(tmp_path, half_life=10.0))
    assert first.mode == "full" and links.half_life_days == 10.0
    before = state(config_for(tmp_path))
    again, _ = pipeline(config_for(tmp_path, half_life=10.0))
    assert again.mode == "unchanged"
    pd.testing.assert_frame_equal(state(config_for(tmp_path)), before)
    changed, links = pipeline(config_for(tmp_path, half_life=20.0))
    assert changed.mode == "full" and "[links] weight settings" in changed.reason
    assert links.half_life_days == 20.0
    # the same as a workspace built with 20 days from the start
    fresh = config_for(tmp_path, half_life=20.0, workspace="fresh")
    pipeline(fresh)
    after = state(config_for(tmp_path, half_life=20.0))
    pd.testing.assert_frame_equal(after, state(fresh))
    # a slower decay keeps more of every record but the newest
    assert (after["weight_fp"] >= before["weight_fp"]).all()
    assert (after["weight_fp"] > before["weight_fp"]).sum() == 2


def test_links_alone_refuses_settings_it_cannot_apply_without_the_records(
    tmp_path: Path,
) -> None:
    write_day(tmp_path, "d1.csv", DAY1)
    pipeline(config_for(tmp_path, half_life=10.0))
    changed = config_for(tmp_path, half_life=20.0)
    with (
        pytest.raises(InputError, match=r"weight settings .* re-reads the interaction files"),
        Workspace.open(changed.workspace_path) as ws,
        ws.run(command="t") as run,
    ):
        fold_interactions(run, changed)


def test_an_interrupted_run_leaves_state_and_files_as_they_were(tmp_path: Path) -> None:
    write_day(tmp_path, "d1.csv", DAY1)
    config = config_for(tmp_path)
    pipeline(config)
    before = state(config)
    write_day(tmp_path, "d2.csv", DAY2)
    with (
        pytest.raises(KeyboardInterrupt),
        Workspace.open(config.workspace_path) as ws,
        ws.run(command="t") as run,
    ):
        assert ingest(run, config, None).mode == "incremental"
        assert run.has_table("pending_interactions")
        raise KeyboardInterrupt  # between ingest and links
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        names = {t for (t,) in ws.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        files = ws.con.execute("SELECT count(*) FROM ingested_files").fetchall()[0][0]
    assert not set(PENDING) & names
    assert files == 1
    pd.testing.assert_frame_equal(state(config), before)
    # the next run loads the new file, once
    ingested, _ = pipeline(config)
    assert ingested.mode == "incremental" and ingested.loaded["interactions"] == 2
    assert int(state(config)[["n_voice_ab", "n_voice_ba", "n_sms_ab", "n_sms_ba"]].sum().sum()) == 4


def test_records_just_before_the_week_origin_stay_out_of_the_week_mask(tmp_path: Path) -> None:
    newest = pd.Timestamp("2026-03-04 12:00")  # a Wednesday
    start = (newest - pd.Timedelta(weeks=MASK_WEEKS - 7)).normalize()
    origin = start - pd.Timedelta(days=start.weekday())  # the Monday of week 0
    rows = [
        ("4479000001", "4479000002", newest),
        ("4479000001", "4479000002", origin - pd.Timedelta(days=3)),  # 3 days before week 0
        ("4479000003", "4479000004", newest),
        ("4479000003", "4479000004", origin + pd.Timedelta(days=1)),  # inside week 0
    ]
    frame = pd.DataFrame(rows, columns=["caller", "callee", "ts"])
    frame = frame.assign(channel="sms", duration_s=None)
    write_day(tmp_path, "calls.csv", frame.to_csv(index=False))
    config = config_for(tmp_path)
    pipeline(config)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        assert ws.con.execute("SELECT origin FROM link_meta").fetchall()[0][0] == origin.date()
        masks = [r[0] for r in ws.con.execute("SELECT week_mask FROM link_state").fetchall()]
    last_week = (newest.normalize() - origin).days // 7
    assert sorted(masks) == sorted([1 << last_week, (1 << last_week) | 1])
