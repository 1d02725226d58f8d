"""The Spark engine gives the same tables as DuckDB: generated data, messy data, the SQL pieces."""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
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
SERVICE = "SELECT * FROM service_numbers ORDER BY customer_id"
NODES = "SELECT * FROM nodes ORDER BY customer_id"
ACTIVITY = "SELECT * FROM customer_activity ORDER BY customer_id"
WEEKS = "SELECT * FROM customer_weeks ORDER BY customer_id"
REPORT = "SELECT input, rule, column_name, rows FROM ingest_report ORDER BY input, rule"
FULL_REPORT = (
    "SELECT input, rule, column_name, rows, share, example, action, expected FROM ingest_report "
    "WHERE rule <> 'loaded' ORDER BY ALL"
)
REJECTED = "SELECT * FROM rejected_rows ORDER BY ALL"


@pytest.mark.slow  # the longest test of `make test`; the messy-data parity test stays in it
def test_generated_data_gives_identical_tables_on_spark_and_duckdb(
    tmp_path: Path, spark_settings: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_telco(TelcoParams(customers=1_000, days=45, seed=5), tmp_path / "data")
    text = template(tmp_path / "data", config_dir=tmp_path)
    # call centres here have tens of callers, not the 500 of an operator's
    text = text.replace("service_min_contacts = 500", "service_min_contacts = 20")
    workspaces = both_engines(tmp_path, text, spark_settings, monkeypatch)
    state = assert_same(workspaces, STATE)
    assert len(state) > 1_000 and state["weight_fp"].min() > 0
    links = assert_same(workspaces, LINKS)
    assert links["strength"].gt(0).all()
    # the rest of the links stage ran on Spark too, from the same SQL; links is a table on
    # both engines (imported from Spark there)
    for workspace in workspaces.values():
        kinds = "SELECT table_type AS kind FROM information_schema.tables WHERE table_name = "
        assert table(workspace, kinds + "'links'")["kind"].tolist() == ["BASE TABLE"]
    service = assert_same(workspaces, SERVICE)
    assert len(service) >= 1 and service["reason"].str.contains("distinct contacts").all()
    nodes = assert_same(workspaces, NODES)
    assert nodes["is_service"].sum() == len(service) and (~nodes["on_network"]).sum() > 0
    activity = assert_same(workspaces, ACTIVITY)
    weeks = assert_same(workspaces, WEEKS)
    active = [c for c in weeks.columns if c.startswith("w") and weeks[c].sum() > 0]
    assert activity["active_weeks"].max() >= 6 and len(active) >= 6  # 45 days of data
    assert not set(service["customer_id"]) & set(activity["customer_id"])
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
    rest = pd.concat([frame.iloc[3000:], other_side]).sample(frac=1, random_state=6)
    rest.iloc[17, 1] = rest.iloc[17, 0]  # a self-interaction in the Parquet file
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
    from pyspark.sql import SparkSession

    messy_calls(tmp_path)
    # 64 kB splits: the CSV file is read by several tasks, and its row numbers still come out
    small_splits = '"spark.sql.files.maxPartitionBytes" = "65536", "spark.ui.enabled"'
    settings = spark_settings.replace('"spark.ui.enabled"', small_splits)
    try:
        workspaces = both_engines(tmp_path, MESSY, settings, monkeypatch)
        session = SparkSession.getActiveSession()
        assert session is not None
        assert session.conf.get("spark.sql.files.maxPartitionBytes") == "65536"
        csv = session.read.option("header", "true").csv(str(tmp_path / "calls_a.csv"))
        assert csv.rdd.getNumPartitions() >= 3
    finally:
        active = SparkSession.getActiveSession()
        if active is not None:
            active.conf.unset("spark.sql.files.maxPartitionBytes")
    state = assert_same(workspaces, STATE)
    masks = [int(m) for m in state["week_mask"]]
    assert max(masks) >= 2**63  # weeks in the high half of the 127-bit masks
    assert state["duplicates"].sum() > 0 and state["two_sided"].sum() > 0
    assert state["missed"].sum() > 0
    links = assert_same(workspaces, LINKS)
    assert links["regularity"].between(0, 1).all()
    assert links["active_weeks"].max() >= 5
    for sql in (SERVICE, NODES, ACTIVITY):
        assert_same(workspaces, sql)
    weeks = assert_same(workspaces, WEEKS)
    assert all(weeks[f"w{i}"].sum() > 0 for i in range(52))  # two years: all 52 weeks
    # the bad rows themselves, by file and row number, and the report's examples
    rejected = assert_same(workspaces, REJECTED)
    assert len(rejected) == 8 and rejected["row"].min() >= 1
    assert rejected["file"].str.endswith(".parquet").sum() == 1
    assert set(rejected["value"].dropna()) >= {"not a time", "pigeon", "999999.0", "sideways"}
    assert_same(workspaces, FULL_REPORT)
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


def test_replies_and_mentions_join_the_links_on_spark(spark: Any) -> None:
    """``link_state`` plus ``conversation_links``, summed per pair, as on DuckDB (masks of 127
    bits included)."""
    from tiewise.ingest.spark import to_spark_sql
    from tiewise.links.spark import small_view
    from tiewise.links.strength import link_state_sql

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t = "TIMESTAMP '2026-01-05 10:00:00'"
    counts = ", ".join(f"{n} AS {c}" for n, c in enumerate(
        ["n_voice_ab", "n_voice_ba", "n_sms_ab", "n_sms_ba", "n_other_ab", "n_other_ba",
         "duplicates", "two_sided", "missed", "n_off_hours"], start=1))  # fmt: skip
    con.execute(
        f"""CREATE TABLE link_state AS
        SELECT * REPLACE (a || '' AS a) FROM (
            SELECT x AS a, 'z' AS b, {counts}, 12.5 AS voice_seconds_ab,
                   3.0 AS voice_seconds_ba, CAST(4294967296 * 3 AS HUGEINT) AS weight_fp,
                   (CAST(1 AS HUGEINT) << 100) | 5 AS week_mask, {t} AS first_ts,
                   {t} + INTERVAL 3 DAY AS last_ts
            FROM (VALUES ('p'), ('q')) v(x))"""
    )
    con.execute(
        f"""CREATE TABLE conversation_links AS
        SELECT x AS a, y AS b, 2 AS n_replies_ab, 0 AS n_replies_ba, 1 AS n_mentions_ab,
               3 AS n_mentions_ba, CAST(4294967296 AS HUGEINT) AS weight_fp,
               (CAST(1 AS HUGEINT) << 120) | 2 AS week_mask, {t} - INTERVAL 9 DAY AS first_ts,
               {t} AS last_ts, 1 AS n_off_hours
        FROM (VALUES ('p', 'z'), ('r', 's')) v(x, y)"""
    )
    for name in ("link_state", "conversation_links"):
        small_view(spark, con, name)

    def plain(values: Any) -> tuple[Any, ...]:
        return tuple(
            x if isinstance(x, float | str | datetime.datetime) else int(x) for x in values
        )

    # DuckDB's form (a full outer join) against Spark's (a union summed per pair)
    on_duckdb = f"SELECT * FROM {link_state_sql(True)} ORDER BY a, b"
    on_spark = f"SELECT * FROM {link_state_sql(True, spark=True)} ORDER BY a, b"
    expected = [plain(r) for r in con.execute(on_duckdb).fetchall()]
    assert expected == [plain(r) for r in con.execute(on_spark).fetchall()]
    got = [plain(r) for r in spark.sql(to_spark_sql(on_spark)).collect()]
    assert got == expected
    assert len(expected) == 3 and expected[0][-3] == (1 << 120) | (1 << 100) | 7


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


# --------------------------------------------------------------------------- Spark Connect
# tiewise as a thin client of a Spark server.  A Connect server (the start-connect-server.sh
# script inside the PySpark wheel) is started in local[2], bound to 127.0.0.1 on a free port,
# and the whole pipeline runs with engine.spark_remote = "sc://127.0.0.1:<port>".  Skipped, with
# the reason, without Java, without the Connect client's packages (gRPC), or when the server
# does not come up within two minutes.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a Spark Connect server on 127.0.0.1; yield its sc:// URL; stop it."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark Connect needs Java 17+ (no java on PATH, JAVA_HOME unset)")
    pyspark = pytest.importorskip("pyspark")
    pytest.importorskip(
        "grpc", reason="the Spark Connect client needs pip install 'pyspark[connect]'"
    )
    home = Path(pyspark.__file__).parent
    script = home / "sbin" / "start-connect-server.sh"
    if not script.exists():
        pytest.skip(f"no Connect server script in the PySpark wheel ({script})")
    logs = tmp_path_factory.mktemp("connect-logs")
    port = _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(logs),
        "SPARK_PID_DIR": str(logs),
        "SPARK_CONF_DIR": str(logs),
    }
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("connect-warehouse")),
    }
    args = [str(script), "--wait", "--master", "local[2]"]
    for k, v in conf.items():
        args += ["--conf", f"{k}={v}"]
    out = (logs / "server.out").open("wb")
    server = subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.poll() is not None:
                text = (logs / "server.out").read_text(errors="replace")[-800:]
                pytest.skip(f"the Spark Connect server stopped at start: {text}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(1)
        else:
            pytest.skip("the Spark Connect server did not listen within 120 s")
        yield f"sc://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the script and the JVM it started
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        out.close()


@pytest.mark.slow
def test_messy_data_through_spark_connect_equals_duckdb(
    tmp_path: Path, connect_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line as a thin client: a fresh process (PySpark allows no Connect session
    beside the test run's local one), its tables equal to DuckDB's."""
    import sys

    messy_calls(tmp_path)
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
    body = MESSY.replace('path = "report.html"', 'path = "duckdb.html"')
    (tmp_path / "duckdb.toml").write_text(
        body.replace('workspace = "workspace"', 'workspace = "ws_duckdb"')
    )
    run_pipeline(load_config(tmp_path / "duckdb.toml"))
    body = MESSY.replace('path = "report.html"', 'path = "spark.html"')
    body = body.replace(
        'engine = "duckdb"\n', f'engine = "spark"\nspark_remote = "{connect_url}"\n'
    )
    (tmp_path / "spark.toml").write_text(
        body.replace('workspace = "workspace"', 'workspace = "ws_spark"')
    )
    tiewise = Path(sys.executable).parent / "tiewise"
    done = subprocess.run(
        [str(tiewise), "run", "--config", str(tmp_path / "spark.toml")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TIEWISE_KEY": KEY_HEX},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workspaces = {"duckdb": tmp_path / "ws_duckdb", "spark": tmp_path / "ws_spark"}
    state = assert_same(workspaces, STATE)
    assert len(state) > 500
    for sql in (LINKS, NODES, ACTIVITY, WEEKS, REJECTED, FULL_REPORT):
        assert_same(workspaces, sql)
    assert (tmp_path / "ws_spark" / "spark-output" / "links").is_dir()
