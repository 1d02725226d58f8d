"""The generator's conversations: warnings precede churn, the truth matches the files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tiewise.ingest.sentiment import SentimentScorer
from tiewise.synth import TelcoParams, generate_telco
from tiewise.synth.churn import LOOKAHEAD_DAYS, ChurnInputs, simulate_churn, split_at
from tiewise.synth.conversations import generate_conversations
from tiewise.synth.telco_tables import conversation_tables
from tiewise.synth.world import build_world, day_start


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
    warn = both[both["warning"] & ~both["churn_after_window"]]
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


def test_some_warnings_precede_a_churn_after_the_last_day(world: Path) -> None:
    posts = pd.read_parquet(world / "conversations.parquet")
    truth = pd.read_parquet(world / "truth" / "conversation_truth.parquet")
    churn = pd.read_parquet(world / "churn.parquet")
    customers = pd.read_parquet(world / "customers.parquet")
    both = posts.merge(truth, on="message_id")
    end = pd.Timestamp(TelcoParams(customers=1500, days=120, seed=4).start) + pd.Timedelta(days=120)
    assert both["timestamp"].max() < end
    ahead = both[both["churn_after_window"]]
    warn = ahead[ahead["warning"]]
    assert warn["speaker_id"].nunique() >= 5 and warn["negative"].all()
    assert (ahead["churn_timestamp"] >= end).all()
    assert (ahead["churn_timestamp"] < end + pd.Timedelta(days=21)).all()
    lead = (warn["churn_timestamp"] - warn["timestamp"]).dt.total_seconds() / 86400
    assert lead.between(1.9, 21.1).all()
    # still customers as far as the data tells: no churn row, in the customer file
    assert not set(ahead["speaker_id"]) & set(churn["customer_id"])
    assert set(ahead["speaker_id"]) <= set(customers["customer_id"])
    # the observed churners' posts are not flagged
    gone = both["speaker_id"].isin(churn["customer_id"])
    assert not (both["churn_after_window"] & gone).any()


def test_the_future_warnings_leave_every_other_post_as_it_was() -> None:
    params = TelcoParams(customers=800, days=90, seed=3)
    world = build_world(params, lambda _step, _share: None)
    withf = conversation_tables(world)
    assert withf is not None
    without = generate_conversations(
        seed=params.seed,
        days=params.days,
        start_s=day_start(params.start),
        share=params.conversations,
        subscribers=world.subscribers,
        churn_days=world.churn.time,
        persons=world.pop.n,
        edges=(world.graph.a, world.graph.b),
        ids=world.ids,
    )
    new = withf.conversations.to_pandas().merge(withf.truth.to_pandas(), on="message_id")
    old = without.conversations.to_pandas().merge(without.truth.to_pandas(), on="message_id")
    future = new["warning"] & new["churn_after_window"]
    assert future.sum() > 0 and not old["churn_after_window"].any()
    drop = ["message_id", "churn_timestamp", "churn_after_window"]
    assert new[~future].drop(columns=drop).reset_index(drop=True).equals(old.drop(columns=drop))
    assert withf.identities.equals(without.identities)


def test_looking_past_the_window_leaves_the_churn_inside_it_as_it_was() -> None:
    rng = np.random.default_rng(0)
    n, m = 3000, 12000
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = src != dst
    inputs = ChurnInputs(
        plan=rng.integers(0, 3, n),
        segment=rng.integers(0, 3, n),
        tenure_days=rng.integers(0, 2000, n),
        src=np.concatenate([src[keep], dst[keep]]),
        dst=np.concatenate([dst[keep], src[keep]]),
        strength=np.tile(rng.exponential(1.0, int(keep.sum())), 2),
    )
    plain = simulate_churn(np.random.default_rng(5), inputs, 90, 3.0)
    seen, later = split_at(
        simulate_churn(np.random.default_rng(5), inputs, 90, 3.0, lookahead=LOOKAHEAD_DAYS), 90
    )
    assert np.array_equal(seen.time, plain.time) and np.array_equal(seen.parent, plain.parent)
    assert np.isfinite(later).sum() > 10 and (later[np.isfinite(later)] >= 90).all()
    assert not (np.isfinite(later) & np.isfinite(seen.time)).any()


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
