"""The Spark engine gives the same tables as DuckDB: generated data, messy data, the SQL pieces."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from tiewise.config import load_config, template
from tiewise.pipeline import run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

pytestmark = pytest.mark.spark

KEY_HEX = "5a" * 32


def both_engines(
    folder: Path, text: str, spark_settings: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Path]:
    """Run the pipeline on DuckDB and on Spark; return each workspace."""
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    out = {}
    for engine in ("duckdb", "spark"):
        body = text.replace('workspace = "workspace"', f'workspace = "ws_{engine}"')
        body = body.replace('path = "report.html"', f'path = "{engine}.html"')
        if engine == "spark":
            body = body.replace('engine = "duckdb"\n', spark_settings)
            assert 'engine = "spark"' in body
        path = folder / f"{engine}.toml"
        path.write_text(body, encoding="utf-8")
        config = load_config(path)
        run_pipeline(config)
        out[engine] = config.workspace_path
    return out


def table(workspace: Path, sql: str) -> pd.DataFrame:
    with Workspace.open(workspace, read_only=True) as ws:
        return ws.con.execute(sql).df()


def assert_same(workspaces: dict[str, Path], sql: str) -> pd.DataFrame:
    duck, spark = (table(workspaces[e], sql) for e in ("duckdb", "spark"))
    assert list(duck.dtypes) == list(spark.dtypes)
    pd.testing.assert_frame_equal(duck, spark, check_exact=True)
    return duck


STATE = "SELECT * FROM link_state ORDER BY a, b"
LINKS = "SELECT * FROM links ORDER BY a, b"
REPORT = "SELECT input, rule, column_name, rows FROM ingest_report ORDER BY input, rule"


def test_generated_data_gives_identical_tables_on_spark_and_duckdb(
    tmp_path: Path, spark_settings: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_telco(TelcoParams(customers=1_000, days=45, seed=5), tmp_path / "data")
    text = template(tmp_path / "data", config_dir=tmp_path)
    workspaces = both_engines(tmp_path, text, spark_settings, monkeypatch)
    state = assert_same(workspaces, STATE)
    assert len(state) > 1_000 and state["weight_fp"].min() > 0
    links = assert_same(workspaces, LINKS)
    assert links["strength"].gt(0).all()
    assert_same(workspaces, "SELECT * FROM link_meta")
    assert_same(workspaces, REPORT)
    # The graph stage ran on the imported link_state, here, and found the same structure.
    scores = assert_same(
        workspaces,
        "SELECT customer_id, community, contacts, weighted_degree, core_number, pagerank "
        "FROM customer_scores "
        "ORDER BY customer_id",
    )
    assert len(scores) > 500


def messy_calls(folder: Path) -> None:
    """Two sources over two years (both halves of the week masks), duplicates and bad rows."""
    rng = np.random.default_rng(3)
    n = 4_000
    people = [f"4479{x:06d}" for x in range(120)]
    a = rng.integers(0, 120, n)
    b = (a + rng.integers(1, 6, n)) % 120
    start = pd.Timestamp("2024-03-01")
    seconds = rng.integers(0, 730 * 86400, n) + rng.random(n).round(3)
    ts = start + pd.to_timedelta(seconds, unit="s")
    channel = rng.choice(["voice", "sms", "email"], n, p=[0.6, 0.3, 0.1])
    duration = np.where(channel == "voice", rng.integers(-5, 900, n), np.nan)
    frame = pd.DataFrame(
        {
            "caller": [people[i] for i in a],
            "callee": [people[i] for i in b],
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3],
            "channel": channel,
            "duration_s": duration,
            "dir": rng.choice(["out", "MOC", "in", "MTC", ""], n),
        }
    )
    copies = frame.sample(400, random_state=1)  # exact duplicates
    near = frame.sample(300, random_state=2).copy()  # logged again within the tolerance
    near["ts"] = (pd.to_datetime(near["ts"]) + pd.Timedelta(seconds=2)).dt.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    other_side = frame.sample(300, random_state=4).copy()  # the same call from the other phone
    other_side[["caller", "callee"]] = other_side[["callee", "caller"]].to_numpy()
    other_side["dir"] = np.where(other_side["dir"].isin(["in", "MTC"]), "out", "in")
    bad = pd.DataFrame(
        [
            ("4479000001", "4479000002", "not a time", "voice", 10, "out"),
            ("", "4479000009", "2025-01-01T00:00:00", "sms", np.nan, "out"),
            ("4479000003", "4479000003", "2025-01-02T00:00:00", "voice", 5, "out"),
            ("4479000004", "4479000007", "2025-01-03T00:00:00", "pigeon", 3, "out"),
            ("4479000005", "4479000008", "1970-01-01T00:00:00", "sms", np.nan, "out"),
            ("4479000006", "4479000010", "2025-01-04T00:00:00", "voice", 999_999, "out"),
            ("4479000011", "4479000012", "2025-01-05T00:00:00", "sms", np.nan, "sideways"),
        ],
        columns=list(frame.columns),
    )
    csv = pd.concat([frame.iloc[:3000], copies, near, bad]).sample(frac=1, random_state=5)
    csv.to_csv(folder / "calls_a.csv", index=False)
    rest = pd.concat([frame.iloc[3000:], other_side])
    rest.assign(duration_s=rest["duration_s"].astype("float64")).to_parquet(
        folder / "calls_b.parquet", index=False
    )


MESSY = """
workspace = "workspace"
[[inputs.interactions]]
path = "calls_a.csv"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
direction = "dir"
[[inputs.interactions]]
path = "calls_b.parquet"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "ts"
direction = "dir"
[ingest]
duplicate_tolerance_s = 7
max_bad_share = 0.2
[engine]
engine = "duckdb"
[report]
path = "report.html"
"""


def test_messy_data_gives_identical_tables_on_spark_and_duckdb(
    tmp_path: Path, spark_settings: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messy_calls(tmp_path)
    workspaces = both_engines(tmp_path, MESSY, spark_settings, monkeypatch)
    state = assert_same(workspaces, STATE)
    masks = [int(m) for m in state["week_mask"]]
    assert max(masks) >= 2**63  # weeks in the high half of the 127-bit masks
    assert state["duplicates"].sum() > 0 and state["two_sided"].sum() > 0
    assert state["missed"].sum() > 0
    assert_same(workspaces, LINKS)
    report = assert_same(workspaces, REPORT).groupby("rule")["rows"].sum()
    for rule in (
        "bad_timestamp",
        "implausible_timestamp",
        "missing_value",
        "self_interaction",
        "unknown_channel",
        "absurd_duration",
        "bad_direction",
        "duplicate_record",
    ):
        assert report[rule] >= 1, rule


@pytest.fixture
def spark(spark_settings: str) -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


@pytest.mark.parametrize(
    "sql",
    [
        # 127-bit masks: bit_or over both 63-bit halves, shifts into the high half
        "SELECT g, bit_or(CAST(1 AS HUGEINT) << CAST(k AS INTEGER)) AS m FROM t GROUP BY g",
        # epoch keeps fractions of seconds; time_bucket counts from DuckDB's origin
        "SELECT k, epoch(ts) AS e FROM t",
        "SELECT count(*) AS n FROM t GROUP BY time_bucket(INTERVAL '7 seconds', ts)",
        "SELECT k, date_diff('day', DATE '2026-01-05', CAST(ts AS DATE)) // 7 AS w FROM t",
    ],
)
def test_transpiled_sql_gives_duckdbs_answer(spark: Any, sql: str) -> None:
    from tiewise.ingest.spark import to_spark_sql

    base = datetime.datetime(2026, 1, 1, 0, 0, 3, 250_000)
    rows = [(k % 3, k, base + datetime.timedelta(seconds=37.5 * k)) for k in range(126)]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE t (g BIGINT, k BIGINT, ts TIMESTAMP)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    spark.createDataFrame(rows, "g long, k long, ts timestamp_ntz").createOrReplaceTempView("t")

    def plain(values: Any) -> tuple[Any, ...]:
        return tuple(x if isinstance(x, float) else int(x) for x in values)

    expected = sorted(plain(r) for r in con.execute(sql).fetchall())
    got = sorted(plain(r) for r in spark.sql(to_spark_sql(sql)).collect())
    assert got == expected
    assert len(expected) > 1


def test_a_spark_input_that_does_not_exist_is_a_clear_input_error(
    tmp_path: Path, spark_settings: str
) -> None:
    from tiewise.exceptions import InputError
    from tiewise.ingest.load import ingest

    missing = tmp_path / "nowhere" / "calls-*.parquet"
    (tmp_path / "tiewise.toml").write_text(
        '[inputs.interactions]\npath = "calls.parquet"\n'
        '[inputs.interactions.columns]\nfrom_id = "caller"\nto_id = "callee"\ntimestamp = "ts"\n'
        f'[engine]\n{spark_settings}spark_input = "{missing}"\n'
    )
    config = load_config(tmp_path / "tiewise.toml")
    with (
        Workspace.open(config.workspace_path, create=True) as ws,
        ws.run(command="test") as run,
        pytest.raises(InputError, match=r"engine.spark_input: Spark cannot read"),
    ):
        ingest(run, config, None)
