"""The B2B generator against its specification."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiewise.exceptions import InputError
from tiewise.synth import B2BParams, SynthResult, generate_b2b

START = B2BParams().start  # the default window: a year that has already ended
DAYS = 365


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return generate_b2b(B2BParams(accounts=200, seed=5), tmp_path_factory.mktemp("b2b"))


@pytest.fixture(scope="module")
def frames(run: SynthResult) -> dict[str, pd.DataFrame]:
    paths = {**run.files, "nodes": run.truth_files["nodes"]}
    return {k: pq.read_table(p).to_pandas() for k, p in paths.items()}


TS = "timestamp"
SCHEMAS = {
    "interactions": {
        "from_id": "string",
        "to_id": "string",
        "timestamp": TS,
        "channel": "string",
        "duration_s": "int32",
    },
    "customers": {
        "customer_id": "string",
        "on_network": "bool",
        "account_id": "string",
        "segment": "string",
        "signup_date": "date32[day]",
        "plan": "string",
        "monthly_fee": "double",
    },
    "engagement": {
        "customer_id": "string",
        "timestamp": TS,
        "event_type": "string",
        "value": "double",
    },
    "transactions": {
        "customer_id": "string",
        "timestamp": TS,
        "amount": "double",
        "category": "string",
    },
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema(run: SynthResult, name: str) -> None:
    schema = pq.read_schema(run.files[name])
    assert schema.names == list(SCHEMAS[name])
    for field in schema:
        if SCHEMAS[name][field.name] == TS:
            assert pa.types.is_timestamp(field.type) and field.type.tz is None
        else:
            assert str(field.type) == SCHEMAS[name][field.name]
    assert pq.read_metadata(run.files[name]).num_rows == run.counts[name]


def test_values(frames: dict[str, pd.DataFrame]) -> None:
    cust, rec, eng = frames["customers"], frames["interactions"], frames["engagement"]
    assert cust["customer_id"].is_unique
    assert cust["customer_id"].str.fullmatch(r"c\d{6}@acct\d{4}\.example").all()
    assert (cust["customer_id"].str.split("@").str[1].str[:8] == cust["account_id"]).all()
    assert set(cust["segment"]) == {"exec", "it", "user"}
    assert set(rec["channel"]) == {"email", "meeting", "referral"}
    meeting = rec["channel"] == "meeting"
    assert rec.loc[meeting, "duration_s"].notna().all()
    assert rec.loc[~meeting, "duration_s"].isna().all()
    referral = rec[rec["channel"] == "referral"]
    assert not referral["to_id"].isin(cust["customer_id"]).any()
    assert referral["from_id"].isin(cust["customer_id"]).all()
    expected = {
        "live_event",
        "web_visit",
        "support_query",
        "survey",
        "reference",
        "webinar",
        "whitepaper",
        "email_open",
        "email_click",
        "email_forward",
    }
    assert set(eng["event_type"]) == expected
    survey = eng.loc[eng["event_type"] == "survey", "value"]
    assert survey.between(0, 10).all()
    for name in ("interactions", "engagement", "transactions"):
        ts = frames[name]["timestamp"]
        assert ts.min() >= pd.Timestamp(START)
        assert ts.max() < pd.Timestamp(START) + pd.Timedelta(days=DAYS)
        assert ts.is_monotonic_increasing
    assert set(frames["transactions"]["category"]) == {"license", "expansion", "services"}
    assert (frames["transactions"]["amount"] > 0).all()


def test_colleague_links_stay_mostly_inside_accounts(frames: dict[str, pd.DataFrame]) -> None:
    rec = frames["interactions"]
    rec = rec[rec["channel"] != "referral"]
    account = frames["customers"].set_index("customer_id")["account_id"]
    same = rec["from_id"].map(account) == rec["to_id"].map(account)
    assert same.mean() > 0.85


def test_advocacy_drives_references_and_referrals(
    run: SynthResult, frames: dict[str, pd.DataFrame]
) -> None:
    nodes = frames["nodes"].set_index("id")
    eng, rec = frames["engagement"], frames["interactions"]
    refs = eng[eng["event_type"] == "reference"].groupby("customer_id").size()
    referrals = rec[rec["channel"] == "referral"].groupby("from_id").size()
    count = refs.reindex(nodes.index, fill_value=0) + referrals.reindex(nodes.index, fill_value=0)
    rho = nodes["advocacy"].rank().corr(count.rank())
    assert rho > 0.3
    survey = eng[eng["event_type"] == "survey"]
    rho_survey = survey["customer_id"].map(nodes["advocacy"]).corr(survey["value"])
    assert rho_survey > 0.3
    stats = json.loads(run.truth_files["params"].read_text())["realised"]
    assert stats["spearman_advocacy_references_referrals"] > 0.3


def test_expansion_follows_account_advocacy(frames: dict[str, pd.DataFrame]) -> None:
    nodes = frames["nodes"]
    mean_adv = nodes.groupby("account")["advocacy"].mean()
    tx = frames["transactions"]
    account = frames["customers"].set_index("customer_id")["account_id"]
    exp = tx[tx["category"] == "expansion"].groupby(tx["customer_id"].map(account)).size()
    exp = exp.reindex(mean_adv.index, fill_value=0)
    assert mean_adv.rank().corr(exp.rank()) > 0.2


def test_truth_nodes(frames: dict[str, pd.DataFrame]) -> None:
    nodes = frames["nodes"]
    assert list(nodes.columns) == ["id", "account", "advocacy", "role", "seniority", "true_degree"]
    assert set(nodes["id"]) == set(frames["customers"]["customer_id"])
    assert abs(nodes["advocacy"].mean()) < 0.1 and 0.8 < nodes["advocacy"].std() < 1.2
    assert nodes["true_degree"].max() > 4 * nodes["true_degree"].median()


def test_no_advocacy_effect_removes_the_link(tmp_path: Path) -> None:
    result = generate_b2b(B2BParams(accounts=150, seed=2, advocacy_effect=0.0), tmp_path)
    nodes = pq.read_table(result.truth_files["nodes"]).to_pandas().set_index("id")
    eng = pq.read_table(result.files["engagement"]).to_pandas()
    refs = eng[eng["event_type"] == "reference"].groupby("customer_id").size()
    count = refs.reindex(nodes.index, fill_value=0)
    assert abs(nodes["advocacy"].rank().corr(count.rank())) < 0.1


def _digest(result: SynthResult) -> dict[str, str]:
    files = {**result.files, **result.truth_files}
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}


def test_deterministic(tmp_path: Path) -> None:
    p = B2BParams(accounts=60, days=90, seed=9)
    first = _digest(generate_b2b(p, tmp_path / "a"))
    assert first == _digest(generate_b2b(p, tmp_path / "b"))
    other = _digest(generate_b2b(B2BParams(accounts=60, days=90, seed=10), tmp_path / "c"))
    assert all(first[k] != other[k] for k in first)


def test_csv(tmp_path: Path) -> None:
    result = generate_b2b(B2BParams(accounts=20, days=30), tmp_path, fmt="csv")
    assert {p.suffix for p in result.files.values()} == {".csv"}
    assert len(pd.read_csv(result.files["engagement"])) == result.counts["engagement"]


@pytest.mark.parametrize(
    "kwargs", [{"accounts": 1}, {"contacts_per_account": 0.5}, {"mixing": 1.5}, {"days": 3}]
)
def test_bad_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="must be"):
        B2BParams(**kwargs)


def test_degree_heavy_tail_inside_accounts(frames: dict[str, pd.DataFrame]) -> None:
    deg = frames["nodes"]["true_degree"].to_numpy()
    assert np.percentile(deg, 99) > 3 * np.median(deg)


def test_the_default_window_lies_in_the_past() -> None:
    """Ingest rejects records dated after tomorrow, so generated data must not reach past today."""
    params = B2BParams()
    assert params.start + dt.timedelta(days=params.days) <= dt.date.today()
