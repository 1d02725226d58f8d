"""Shared fixtures: small hand-made projects and a helper that runs the command line."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tiewise.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `tiewise ARGS...` in-process; return exit code and captured output."""

    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_interactions(
    path: Path, *, n: int = 3000, people: int = 300, seed: int = 0
) -> pd.DataFrame:
    """A small call/SMS log between `people` numbers arranged in rings of friends."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, people, n)
    b = (a + rng.integers(1, 8, n)) % people
    ts = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 60 * 86400, n), unit="s")
    channel = rng.choice(["voice", "sms"], n)
    duration = np.where(channel == "voice", rng.integers(1, 600, n), np.nan)
    frame = pd.DataFrame(
        {
            "caller": [f"4479{x:06d}" for x in a],
            "callee": [f"4479{x:06d}" for x in b],
            "when": ts.strftime("%Y-%m-%dT%H:%M:%S"),
            "kind": channel,
            "secs": duration,
        }
    )
    frame.to_csv(path, index=False)
    return frame


CONFIG = """
seed = 1
workspace = "workspace"
[inputs.interactions]
path = "data/calls.csv"
[inputs.interactions.columns]
from_id = "caller"
to_id = "callee"
timestamp = "when"
channel = "kind"
duration_s = "secs"
[inputs.customers]
path = "data/customers.csv"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with data/calls.csv, data/customers.csv and tiewise.toml; the key in the env."""
    monkeypatch.setenv("TIEWISE_KEY", "00" * 16 + "11" * 16)
    data = tmp_path / "data"
    data.mkdir()
    write_interactions(data / "calls.csv")
    pd.DataFrame({"customer_id": [f"4479{x:06d}" for x in range(250)]}).to_csv(
        data / "customers.csv", index=False
    )
    (tmp_path / "tiewise.toml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return tmp_path


# Spark in local mode, one session for the whole test run (starting one takes 10-30 s).
SPARK_TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


@pytest.fixture(scope="session")
def spark_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TOML lines of an [engine] running Spark in local[2]; skips without Java or PySpark."""
    import os
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark tests need Java 17+ (no java on PATH, JAVA_HOME unset)")
    pytest.importorskip("pyspark", reason="Spark tests need PySpark: pip install 'tiewise[spark]'")
    from tiewise.config import EngineConfig
    from tiewise.ingest.spark import spark_session

    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    engine = EngineConfig(engine="spark", spark_master="local[2]", spark_conf=SPARK_TEST_CONF)
    session = spark_session(engine, warehouse=str(warehouse))
    conf = ", ".join(f'"{k}" = "{v}"' for k, v in SPARK_TEST_CONF.items())
    yield f'engine = "spark"\nspark_master = "local[2]"\nspark_conf = {{ {conf} }}\n'
    session.stop()
