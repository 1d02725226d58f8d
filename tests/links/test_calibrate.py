"""Fitting the strength on known close pairs: against the generator's hidden tie strengths."""

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tiewise.config import Config, load_config
from tiewise.ingest.load import ingest
from tiewise.links.calibrate import COMPONENTS, fit_strength, known_close
from tiewise.links.strength import build_links
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco


@pytest.fixture(scope="module")
def telco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("telco")
    generate_telco(
        TelcoParams(customers=1500, days=120, seed=5, start=datetime.date(2025, 3, 1)), out
    )
    return out


def build(folder: Path, data: Path, **links: Any) -> Config:
    text = (
        f'workspace = "{(folder / "ws").as_posix()}"\n'
        f'[inputs.interactions]\npath = "{(data / "interactions.parquet").as_posix()}"\n'
        "[privacy]\npseudonymise = false\n"
    )
    (folder / "tiewise.toml").write_text(text)
    config = load_config(folder / "tiewise.toml", links=links)
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="t") as run:
        ingest(run, config, None)
        build_links(run, config)
    return config


def strongest_quarter(links: pd.DataFrame, data: Path) -> np.ndarray:
    """The linked pairs among the generator's strongest quarter of ties (its hidden truth)."""
    truth = pd.read_parquet(data / "truth" / "edges.parquet")
    truth = truth[truth["strength"] >= truth["strength"].quantile(0.75)]
    pairs = pd.DataFrame({"x": truth["a"].astype(str), "y": truth["b"].astype(str)})
    return known_close(links, pairs=pairs)


def test_fitted_strength_does_not_lose_to_counting_on_hidden_truth(
    tmp_path: Path, telco: Path
) -> None:
    config = build(tmp_path, telco)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        links = ws.table("links").df()
    close = strongest_quarter(links, telco)
    assert 0.1 < close.mean() < 0.9
    fit = fit_strength(links, close, seed=0)
    assert fit.best_count_ in ("records", "n_voice", "voice_seconds")
    assert fit.fitted_auc_ >= fit.best_count_auc_ - 0.01, fit.note_
    assert fit.single_auc_["strength"] > 0.6
    assert set(fit.coefficients_) == {"ln_volume", *COMPONENTS}


def test_fitted_weights_in_the_config_give_that_strength(tmp_path: Path, telco: Path) -> None:
    weights = {"reciprocity": 0.8, "regularity": 1.5, "recency": -0.3, "duration": 0.2}
    config = build(tmp_path, telco, strength_weights=weights)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        links = ws.table("links").df()
    expected = links["volume"] * np.exp(sum(w * links[c] for c, w in weights.items()))
    np.testing.assert_allclose(links["strength"], expected, rtol=1e-9, atol=1e-8)  # 9 decimals
    for column in COMPONENTS:  # every component a column, within its range
        assert links[column].between(-1e-12, 8).all(), column


def test_fit_strength_command_reports_the_weights(
    tmp_path: Path, telco: Path, cli: Callable[..., Any]
) -> None:
    config = build(tmp_path, telco)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        links = ws.table("links").df()
    close = strongest_quarter(links, telco)
    labels = tmp_path / "close.csv"
    links.loc[close, ["a", "b"]].to_csv(labels, index=False)
    result = cli(
        "fit-strength", "--labels", str(labels), "--config", str(tmp_path / "tiewise.toml")
    )
    assert result.code == 0, result.err
    assert f"{int(close.sum()):,} of {len(links):,} linked pairs known to be close" in result.out
    assert "fitted strength (cross-validated)" in result.out
    missing = cli("fit-strength", "--config", str(tmp_path / "tiewise.toml"))
    assert missing.code == 2 and "--labels" in missing.err
