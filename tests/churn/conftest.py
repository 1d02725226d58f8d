"""Shared by the churn tests: generate telco data and run the whole pipeline on it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest

from tiewise.config import load_config, template
from tiewise.pipeline import RunResult, run_pipeline
from tiewise.synth import TelcoParams, generate_telco

KEY_HEX = "6b" * 32
SEED = 1


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


def _run(
    root: Path,
    contagion: float,
    monkeypatch: pytest.MonkeyPatch,
    *,
    customers: int = 20_000,
    days: int = 180,
    records: float = 25.0,
    seed: int = SEED,
) -> RunResult:
    monkeypatch.setenv("TIEWISE_KEY", KEY_HEX)
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
    (root / "tiewise.toml").write_text(text)
    return run_pipeline(load_config(root / "tiewise.toml"))


@pytest.fixture(scope="session")
def run_telco() -> RunTelco:
    """``run_telco(root, contagion, monkeypatch, customers=, days=, records=, seed=)``."""
    return _run


@pytest.fixture(scope="session")
def contagious(
    tmp_path_factory: pytest.TempPathFactory, run_telco: RunTelco
) -> tuple[Path, RunResult]:
    """20,000 subscribers over 180 days with contagious churn, through the whole pipeline."""
    root = tmp_path_factory.mktemp("contagious")
    with pytest.MonkeyPatch.context() as mp:
        return root, run_telco(root, 1.0, mp)
