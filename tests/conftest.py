"""Shared fixtures: small hand-made projects and a helper that runs the command line."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pytest

from tiewise.cli import main
from tiewise.config import load_config, template
from tiewise.pipeline import RunResult, run_pipeline
from tiewise.synth import TelcoParams, generate_telco


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


# --- the churn tests: generated telco data through the whole pipeline ---

CHURN_KEY_HEX = "6b" * 32
CHURN_SEED = 1


class RunTelco(Protocol):
    def __call__(
        self,
        root: Path,
        contagion: float,
        monkeypatch: pytest.MonkeyPatch,
        *,
        customers: int = ...,
        days: int = ...,
        records: float = ...,
        seed: int = ...,
    ) -> RunResult: ...


def _run_telco(
    root: Path,
    contagion: float,
    monkeypatch: pytest.MonkeyPatch,
    *,
    customers: int = 20_000,
    days: int = 180,
    records: float = 25.0,
    seed: int = CHURN_SEED,
) -> RunResult:
    monkeypatch.setenv("TIEWISE_KEY", CHURN_KEY_HEX)
    generate_telco(
        TelcoParams(
            customers=customers,
            days=days,
            seed=seed,
            churn_contagion=contagion,
            records_per_customer=records,
        ),
        root / "data",
    )
    text = template(root / "data", config_dir=root)
    text = text.replace("levels = [1.0, 4.0]", "levels = []")
    text = text.replace("betweenness_samples = 16", "betweenness_samples = 0")
    text = text.replace("eval_cuts = 3", "eval_cuts = 1")
    # churn reads customer_value (the value stage), not the influence stage's network value
    text = text.replace("[influence]\nenabled = true", "[influence]\nenabled = false")
    (root / "tiewise.toml").write_text(text)
    return run_pipeline(load_config(root / "tiewise.toml"))


@pytest.fixture(scope="session")
def run_telco() -> RunTelco:
    """``run_telco(root, contagion, monkeypatch, customers=, days=, records=, seed=)``."""
    return _run_telco


@pytest.fixture(scope="session")
def contagious(
    tmp_path_factory: pytest.TempPathFactory, run_telco: RunTelco
) -> tuple[Path, RunResult]:
    """20,000 subscribers over 180 days with contagious churn, through the whole pipeline."""
    root = tmp_path_factory.mktemp("contagious")
    with pytest.MonkeyPatch.context() as mp:
        return root, run_telco(root, 1.0, mp)


# --- running the tests on several processes (pytest-xdist, `make test`) ---

# Session fixtures that run a whole pipeline: the files whose tests use one of them run in one
# process, so that it is built once; every other file runs in one process too (its module
# fixtures are built once).
_SHARED = {"contagious": "churn", "hostile": "serve", "plain": "serve", "spark_settings": "spark"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for ``--dist loadgroup``: the costly session fixture a file uses, else the file."""
    group: dict[str, str] = {}
    for item in items:
        file = item.nodeid.split("::", 1)[0]
        names = set(getattr(item, "fixturenames", ()))
        shared = [name for name in _SHARED if name in names]
        if shared or file not in group:
            group[file] = _SHARED[shared[0]] if shared else group.get(file, file)
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group[item.nodeid.split("::", 1)[0]]))
