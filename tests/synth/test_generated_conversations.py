"""The generator's conversations: warnings precede churn, the truth matches the files."""

from pathlib import Path

import pandas as pd
import pytest

from tiewise.ingest.sentiment import SentimentScorer
from tiewise.synth import TelcoParams, generate_telco


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("talk")
    generate_telco(TelcoParams(customers=1500, days=120, seed=4), out)
    return out


def test_warnings_are_negative_posts_in_the_weeks_before_a_churn(world: Path) -> None:
    posts = pd.read_parquet(world / "conversations.parquet")
    truth = pd.read_parquet(world / "truth" / "conversation_truth.parquet")
    churn = pd.read_parquet(world / "churn.parquet").set_index("customer_id")["timestamp"]
    both = posts.merge(truth, on="message_id")
    warn = both[both["warning"]]
    assert len(warn) > 30 and warn["negative"].all() and warn["is_customer"].all()
    lead = (warn["speaker_id"].map(churn) - warn["timestamp"]).dt.total_seconds() / 86400
    assert lead.between(1.9, 21.1).all()  # 2 to 21 days before the churn in churn.parquet
    # about 60% of the churners who could warn did
    could = churn[churn > churn.min() + pd.Timedelta(days=21)]
    share = warn["speaker_id"].isin(could.index).sum() and (
        warn.loc[warn["speaker_id"].isin(could.index), "speaker_id"].nunique() / len(could)
    )
    assert 0.45 < share < 0.75
    # the sentiment model sees the warnings as negative (they are English text)
    english = warn[warn["language"] == "en"]
    scores = SentimentScorer().score(english["text"].tolist())
    assert sum(s <= -0.05 for s in scores) / len(scores) > 0.9


def test_identities_map_most_handles_and_prospects_post_too(world: Path) -> None:
    posts = pd.read_parquet(world / "conversations.parquet")
    ids = pd.read_parquet(world / "identities.parquet")
    customers = pd.read_parquet(world / "customers.parquet")
    assert ids["customer_id"].isin(customers["customer_id"]).all()
    assert 0.7 < len(ids) / len(customers) < 0.9
    truth = pd.read_parquet(world / "truth" / "conversation_truth.parquet")
    assert (~truth["is_customer"]).sum() > 0  # off-network contacts talk: prospects
    assert posts["mentions"].notna().sum() > 0 and posts["reply_to"].notna().sum() > 0


def test_the_same_seed_gives_the_same_conversations(world: Path, tmp_path: Path) -> None:
    generate_telco(TelcoParams(customers=1500, days=120, seed=4), tmp_path)
    assert (tmp_path / "conversations.parquet").read_bytes() == (
        world / "conversations.parquet"
    ).read_bytes()


def test_no_conversations_when_switched_off(tmp_path: Path) -> None:
    result = generate_telco(
        TelcoParams(customers=300, days=30, seed=1, conversations=0.0), tmp_path
    )
    assert "conversations" not in result.files and not (tmp_path / "identities.parquet").exists()
