"""Real data: on the Copenhagen Networks Study, link strength separates Facebook friends from the
rest better than call counts or SMS counts alone.  The floors are the AUCs measured here (see the
README, "Link strength on real data"); a change to the formula that does worse fails."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tiewise.config import load_config
from tiewise.datasets import copenhagen_config, copenhagen_friends
from tiewise.ingest.load import ingest
from tiewise.links.evaluate import auc, pair_auc
from tiewise.links.strength import build_links
from tiewise.store import Workspace


@pytest.fixture(scope="module")
def links(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("copenhagen")
    (folder / "tiewise.toml").write_text(copenhagen_config(folder / "ws"))
    config = load_config(folder / "tiewise.toml")
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="t") as run:
        summary = ingest(run, config, None)
        build_links(run, config)
        frame = ws.table("links").df()
    assert summary.loaded["interactions"] == 3600 + 24333 - 21  # 21 exact duplicate SMS rows
    return frame


def scores(links: pd.DataFrame, column: str) -> dict[tuple[str, str], float]:
    return {(a, b): float(v) for a, b, v in zip(links.a, links.b, links[column], strict=True)}


def test_auc_matches_the_reference_implementation() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(500) < 0.3
    values = np.round(rng.random(500) + labels * 0.3, 1)  # with ties
    assert auc(values, labels) == pytest.approx(roc_auc_score(labels, values), abs=1e-12)


def test_strength_separates_friends_better_than_counts(links: pd.DataFrame) -> None:
    friends = copenhagen_friends()
    participants = {p for pair in friends for p in pair} & (set(links.a) | set(links.b))
    result = {
        c: pair_auc(scores(links, c), friends, participants)
        for c in ("n_voice", "n_sms", "strength")
    }
    assert result["strength"] >= 0.580
    assert result["strength"] > max(result["n_voice"], result["n_sms"]) + 0.01
    labels = np.array([(a, b) in set(friends) for a, b in zip(links.a, links.b, strict=True)])
    among_interacting = auc(links["strength"].to_numpy(), labels)
    assert among_interacting >= 0.590


def test_strength_beats_the_best_count_among_linked_pairs(links: pd.DataFrame) -> None:
    """Among the linked pairs of participants (Facebook friendships as labels), the default
    strength beats the best count a user could compute (records: calls + SMS) by 0.018
    (``benchmarks/bench_strength.py``); the formula's common contacts (embeddedness) give most of
    it, the formula before them +0.005.  Issue 18's bar, +0.03, is not met."""
    friends = set(copenhagen_friends())
    people = {p for pair in friends for p in pair}
    linked = links[links["a"].isin(people) & links["b"].isin(people)]
    labels = np.array([(a, b) in friends for a, b in zip(linked.a, linked.b, strict=True)])
    result = {c: auc(linked[c].to_numpy(), labels) for c in ("records", "n_voice", "strength")}
    before = linked["strength"] / (1 + linked["embeddedness"])  # the formula without structure
    assert result["strength"] >= max(result["records"], result["n_voice"]) + 0.015, result
    assert result["strength"] >= auc(before.to_numpy(), labels) + 0.01, result
