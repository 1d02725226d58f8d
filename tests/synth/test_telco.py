"""The telecom generator against its own specification, on a 20k-subscriber instance."""

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
from tiewise.synth import SynthResult, TelcoParams, generate_telco

CUSTOMERS = 20_000
DAYS = 60
START = dt.date(2026, 1, 1)
END = pd.Timestamp(START) + pd.Timedelta(days=DAYS)


def _generate(root: Path, name: str, **kwargs: Any) -> SynthResult:
    params = TelcoParams(**{"customers": CUSTOMERS, "days": DAYS, "seed": 7, **kwargs})
    return generate_telco(params, root / name)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("telco")


@pytest.fixture(scope="module")
def run(root: Path) -> SynthResult:
    return _generate(root, "default")


@pytest.fixture(scope="module")
def null_run(root: Path) -> SynthResult:
    return _generate(root, "null", influence=0.0, churn_contagion=0.0)


def _read(result: SynthResult, name: str) -> pd.DataFrame:
    path = result.files.get(name) or result.truth_files[name]
    return pq.read_table(path).to_pandas()


@pytest.fixture(scope="module")
def realised(run: SynthResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run.truth_files["params"].read_text())["realised"]
    return data


@pytest.fixture(scope="module")
def frames(run: SynthResult) -> dict[str, pd.DataFrame]:
    names = [*run.files, "nodes", "edges", "adoption_causes"]
    return {name: _read(run, name) for name in names}


def _digest(result: SynthResult) -> dict[str, str]:
    files = {**result.files, **result.truth_files}
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}


# --- schemas -------------------------------------------------------------------------------

TS = "timestamp"

DATA_SCHEMAS = {
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
        "segment": "string",
        "signup_date": "date32[day]",
        "plan": "string",
        "monthly_fee": "double",
    },
    "transactions": {
        "customer_id": "string",
        "timestamp": TS,
        "amount": "double",
        "category": "string",
    },
    "adoptions": {"customer_id": "string", "item": "string", "category": "string", "timestamp": TS},
    "churn": {"customer_id": "string", "timestamp": TS},
    "nodes": {
        "id": "string",
        "on_network": "bool",
        "is_service": "bool",
        "community": "int64",
        "influence": "double",
        "susceptibility": "double",
        "taste_devices": "double",
        "taste_streaming": "double",
        "taste_roaming": "double",
        "true_degree": "int64",
        "churn_time": TS,
        "churn_cause": "string",
        "churn_infector": "string",
    },
    "edges": {
        "a": "string",
        "b": "string",
        "strength": "double",
        "internal": "bool",
        "records": "int64",
    },
    "adoption_causes": {
        "customer_id": "string",
        "item": "string",
        "timestamp": TS,
        "cause": "string",
        "infector": "string",
    },
}


@pytest.mark.parametrize("name", sorted(DATA_SCHEMAS))
def test_schema_is_exactly_the_contract(run: SynthResult, name: str) -> None:
    path = run.files.get(name) or run.truth_files[name]
    schema = pq.read_schema(path)
    assert schema.names == list(DATA_SCHEMAS[name])
    for field in schema:
        expected = DATA_SCHEMAS[name][field.name]
        if expected == TS:
            # Parquet has no seconds unit: whole seconds are stored as naive milliseconds
            assert pa.types.is_timestamp(field.type) and field.type.tz is None
        else:
            assert str(field.type) == expected, field.name
    assert pq.read_metadata(path).num_rows == run.counts[name]


def test_result_lists_every_file(run: SynthResult) -> None:
    assert set(run.files) == {
        "interactions", "customers", "transactions", "adoptions", "churn", "conversations",
        "identities",
    }  # fmt: skip
    truth = {"nodes", "edges", "adoption_causes", "conversation_truth", "params"}
    assert set(run.truth_files) == truth
    assert all(p.exists() for p in [*run.files.values(), *run.truth_files.values()])
    assert run.files["interactions"].name == "interactions.parquet"


def test_timestamps_inside_window_whole_seconds(frames: dict[str, pd.DataFrame]) -> None:
    for name in ("interactions", "adoptions", "churn", "transactions", "adoption_causes"):
        ts = frames[name]["timestamp"]
        assert ts.min() >= pd.Timestamp(START) and ts.max() < END, name
        assert (ts.dt.microsecond == 0).all()
    assert frames["interactions"]["timestamp"].is_monotonic_increasing


def test_interaction_values(frames: dict[str, pd.DataFrame]) -> None:
    rec = frames["interactions"]
    assert set(rec["channel"].unique()) == {"voice", "sms"}
    sms = rec["channel"] == "sms"
    assert rec.loc[sms, "duration_s"].isna().all()
    voice = rec.loc[~sms, "duration_s"]
    assert voice.notna().all() and (voice >= 1).all()
    assert 40 <= voice.median() <= 120
    assert 0.1 < sms.mean() < 0.6
    assert (rec["from_id"] != rec["to_id"]).all()


def test_phone_numbers(frames: dict[str, pd.DataFrame]) -> None:
    nodes, cust = frames["nodes"], frames["customers"]
    assert nodes["id"].is_unique and cust["customer_id"].is_unique
    assert len(cust) == CUSTOMERS and cust["on_network"].all()
    on = nodes[nodes["on_network"]]
    assert set(on["id"]) == set(cust["customer_id"])
    assert on["id"].str.fullmatch(r"4479\d{8}").all()
    off = nodes[~nodes["on_network"] & ~nodes["is_service"]]
    assert off["id"].str.fullmatch(r"44(77|75|74)\d{8}").all()
    svc = nodes[nodes["is_service"]]
    assert svc["id"].str.fullmatch(r"0800\d{6}").all() and (svc["community"] == -1).all()
    # every record has at least one subscriber
    rec = frames["interactions"]
    subs = set(cust["customer_id"])
    assert (rec["from_id"].isin(subs) | rec["to_id"].isin(subs)).all()


def test_id_order_carries_no_community_information(frames: dict[str, pd.DataFrame]) -> None:
    on = frames["nodes"][frames["nodes"]["on_network"]].sort_values("id")
    same = (on["community"].to_numpy()[1:] == on["community"].to_numpy()[:-1]).mean()
    assert same < 0.05


# --- network -----------------------------------------------------------------------------------


def _social(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    nodes = frames["nodes"].set_index("id")
    edges = frames["edges"]
    service = nodes["is_service"]
    return edges[~edges["a"].map(service) & ~edges["b"].map(service)]


def test_degree_distribution_is_heavy_tailed(frames: dict[str, pd.DataFrame]) -> None:
    people = frames["nodes"][~frames["nodes"]["is_service"]]
    deg = people["true_degree"].to_numpy()
    assert deg.max() >= 1000
    subs = people.loc[people["on_network"], "true_degree"].to_numpy()
    assert 12.0 <= subs.mean() <= 16.5
    assert np.percentile(subs, 99) >= 5 * np.median(subs)
    # Hill estimator of the tail index over the top 1% (power law exponent ~2.4 -> alpha ~1.4)
    top = np.sort(subs)[-len(subs) // 100 :]
    alpha = 1.0 / np.mean(np.log(top / top[0]))
    assert 0.8 < alpha < 2.5


def test_mixing_and_offnet_share(frames: dict[str, pd.DataFrame], realised: dict[str, Any]) -> None:
    social = _social(frames)
    mixing = 1.0 - social["internal"].mean()
    assert abs(mixing - 0.2) < 0.05
    assert abs(realised["mixing"] - mixing) < 1e-6
    on = frames["nodes"].set_index("id")["on_network"]
    a_on, b_on = social["a"].map(on).to_numpy(), social["b"].map(on).to_numpy()
    assert (a_on | b_on).all()  # no tie between two other-operator people
    offnet = (a_on ^ b_on).sum() / (2 * (a_on & b_on).sum() + (a_on ^ b_on).sum())
    assert abs(offnet - 1 / 3) < 0.05
    assert abs(realised["offnet_share"] - offnet) < 1e-6


def test_internal_ties_are_stronger(frames: dict[str, pd.DataFrame]) -> None:
    social = _social(frames)
    by = social.groupby("internal")["strength"].median()
    assert by[True] > 1.5 * by[False]
    # records grow with strength
    rho = social["strength"].rank().corr(social["records"].rank())
    assert rho > 0.4


def test_communities_are_heavy_tailed(frames: dict[str, pd.DataFrame]) -> None:
    people = frames["nodes"][~frames["nodes"]["is_service"]]
    sizes = people.groupby("community").size()
    assert len(sizes) > 300
    assert sizes.max() >= 20 * sizes.median()


def test_service_numbers(frames: dict[str, pd.DataFrame], realised: dict[str, Any]) -> None:
    rec = frames["interactions"]
    svc = set(frames["nodes"].loc[frames["nodes"]["is_service"], "id"])
    assert len(svc) == max(3, CUSTOMERS // 20_000)
    out = rec[rec["from_id"].isin(svc)]
    back = rec[rec["to_id"].isin(svc)]
    callees = out.groupby("from_id")["to_id"].nunique()
    assert len(callees) == len(svc) and (callees >= 1000).all()
    assert len(back) / (len(out) + len(back)) < 0.1
    hours = out["timestamp"].dt.hour
    assert ((hours >= 8) & (hours <= 18)).mean() > 0.95
    assert realised["service_numbers"] == len(svc)


def test_records_volume(frames: dict[str, pd.DataFrame], realised: dict[str, Any]) -> None:
    n = len(frames["interactions"])
    assert abs(n - 50 * CUSTOMERS) < 0.2 * 50 * CUSTOMERS
    assert realised["records"] == n
    assert frames["edges"]["records"].sum() == n


def test_diurnal_and_weekly_profile(frames: dict[str, pd.DataFrame]) -> None:
    ts = frames["interactions"]["timestamp"]
    hours = ts.dt.hour.value_counts(normalize=True)
    assert hours.loc[[2, 3, 4]].sum() < 0.02
    assert hours.loc[[12, 19]].min() > 2 * hours.loc[[3, 4]].max()
    weekday = ts.dt.day_of_week.value_counts(normalize=True)
    assert weekday.loc[6] < weekday.loc[2]


def test_strong_ties_are_regular_and_weak_ties_bursty(frames: dict[str, pd.DataFrame]) -> None:
    rec = frames["interactions"]
    social = _social(frames)
    busy = social[social["records"].between(8, 16)]  # compare ties of similar volume
    strong = busy["strength"] >= busy["strength"].quantile(0.8)
    key = lambda a, b: np.minimum(a, b) + "|" + np.maximum(a, b)  # noqa: E731
    rec_key = key(rec["from_id"].to_numpy(), rec["to_id"].to_numpy())
    days = pd.Series(rec["timestamp"].dt.floor("D").to_numpy(), index=rec_key)
    tie_key = pd.Index(key(busy["a"].to_numpy(), busy["b"].to_numpy()))
    days = days[days.index.isin(tie_key)]
    distinct = days.groupby(level=0).nunique().reindex(tie_key).to_numpy()
    span = days.groupby(level=0).agg(lambda d: (d.max() - d.min()).days).reindex(tie_key)
    s = strong.to_numpy()
    assert np.nanmean(distinct[s]) > np.nanmean(distinct[~s]) + 1.0
    assert np.nanmean(span.to_numpy()[s]) > np.nanmean(span.to_numpy()[~s]) + 5.0


def test_influence_trait_partly_follows_degree(frames: dict[str, pd.DataFrame]) -> None:
    on = frames["nodes"][frames["nodes"]["on_network"]]
    r = np.corrcoef(np.log(on["influence"]), np.log(on["true_degree"].clip(lower=1)))[0, 1]
    assert 0.15 < r < 0.45


# --- churn ---------------------------------------------------------------------------------------


def test_churn_rate_and_no_activity_after_churn(
    frames: dict[str, pd.DataFrame], realised: dict[str, Any]
) -> None:
    churn = frames["churn"]
    assert churn["customer_id"].is_unique
    assert 0.01 < realised["churn"]["monthly_rate"] < 0.035
    assert set(churn["customer_id"]) <= set(frames["customers"]["customer_id"])
    when = churn.set_index("customer_id")["timestamp"]
    rec = frames["interactions"]
    for col in ("from_id", "to_id"):
        t_churn = rec[col].map(when)
        assert not (rec["timestamp"] > t_churn).any()
    bills = frames["transactions"]
    bills = bills[bills["category"] == "bill"]
    assert (bills["amount"] > 0).all()
    assert not (bills["timestamp"] >= bills["customer_id"].map(when)).any()


def test_activity_declines_before_churn(frames: dict[str, pd.DataFrame]) -> None:
    churn = frames["churn"].set_index("customer_id")["timestamp"]
    late = churn[churn > pd.Timestamp(START) + pd.Timedelta(days=45)]
    rec = frames["interactions"]
    rec = rec[rec["from_id"].isin(late.index)]
    before = (late.loc[rec["from_id"]].to_numpy() - rec["timestamp"].to_numpy()) / np.timedelta64(
        1, "D"
    )
    assert (before >= 0).all()
    # records in the last week before churn are rarer than 3-4 weeks before
    assert ((before >= 0) & (before < 7)).sum() < ((before >= 21) & (before < 28)).sum()


def test_churn_truth_matches_churn_file(frames: dict[str, pd.DataFrame]) -> None:
    nodes = frames["nodes"]
    churned = nodes[nodes["churn_time"].notna()].set_index("id")
    when = frames["churn"].set_index("customer_id")["timestamp"]
    assert set(churned.index) == set(when.index)
    assert (churned.loc[when.index, "churn_time"] == when).all()
    assert set(churned["churn_cause"]) == {"spontaneous", "contagion"}
    contagion = churned[churned["churn_cause"] == "contagion"]
    assert contagion["churn_infector"].notna().all()
    infector_time = contagion["churn_infector"].map(churned["churn_time"])
    assert (infector_time <= contagion["churn_time"]).all()


def _share_with_churned_strong_contact(result: SynthResult) -> float:
    nodes = _read(result, "nodes").set_index("id")
    edges = _read(result, "edges")
    edges = edges[edges["strength"] > 0]
    strong = edges[edges["strength"] >= edges["strength"].quantile(0.75)]
    churn = nodes["churn_time"].dropna()
    pairs = pd.concat(
        [strong[["a", "b"]], strong[["b", "a"]].set_axis(["a", "b"], axis=1)], ignore_index=True
    )
    pairs = pairs[pairs["a"].isin(churn.index) & pairs["b"].isin(churn.index)]
    pulled = pairs[pairs["b"].map(churn) < pairs["a"].map(churn)]["a"].unique()
    return len(pulled) / len(churn)


def test_churn_contagion_clusters_churners(run: SynthResult, null_run: SynthResult) -> None:
    with_contagion = _share_with_churned_strong_contact(run)
    without = _share_with_churned_strong_contact(null_run)
    assert with_contagion > without + 0.05
    causes = _read(null_run, "nodes")["churn_cause"].dropna()
    assert set(causes) == {"spontaneous"}


# --- adoption --------------------------------------------------------------------------------


def test_adoption_volume_and_causes(
    frames: dict[str, pd.DataFrame], realised: dict[str, Any]
) -> None:
    adoptions, causes = frames["adoptions"], frames["adoption_causes"]
    assert len(adoptions) == len(causes)
    assert not adoptions.duplicated(["customer_id", "item"]).any()
    share = adoptions.groupby("item").size() / CUSTOMERS
    assert len(share) == 6 and share.between(0.02, 0.25).all()
    assert set(adoptions["category"]) == {"devices", "streaming", "roaming"}
    influenced = (causes["cause"] == "influence").mean()
    assert 0.25 < influenced < 0.55
    assert realised["adoption_by_cause"]["influence"] == (causes["cause"] == "influence").sum()


def test_infector_adopted_before_infectee_and_is_a_contact(
    frames: dict[str, pd.DataFrame],
) -> None:
    causes = frames["adoption_causes"]
    when = causes.set_index(["customer_id", "item"])["timestamp"]
    inf = causes[causes["cause"] == "influence"]
    assert inf["infector"].notna().all()
    assert causes.loc[causes["cause"] == "spontaneous", "infector"].isna().all()
    t_infector = when.reindex(pd.MultiIndex.from_arrays([inf["infector"], inf["item"]]))
    assert (t_infector.to_numpy() < inf["timestamp"].to_numpy()).all()
    edges = frames["edges"]
    ties = set(zip(edges["a"], edges["b"], strict=True))
    pairs = zip(inf["infector"], inf["customer_id"], strict=True)
    assert all((u, v) in ties or (v, u) in ties for u, v in pairs)


def test_no_influence_means_homophily_only(null_run: SynthResult) -> None:
    causes = _read(null_run, "adoption_causes")
    assert len(causes) > 0
    assert set(causes["cause"]) == {"spontaneous"} and causes["infector"].isna().all()
    # homophily remains: members of one community share tastes
    nodes = _read(null_run, "nodes")
    people = nodes[~nodes["is_service"]]
    between = people.groupby("community")["taste_devices"].mean().var()
    assert between > 0.1


def test_adopters_do_not_adopt_after_churn(frames: dict[str, pd.DataFrame]) -> None:
    when = frames["churn"].set_index("customer_id")["timestamp"]
    adoptions = frames["adoptions"]
    t_churn = adoptions["customer_id"].map(when)
    assert not (adoptions["timestamp"] >= t_churn).any()


def test_purchases_appear_in_transactions(frames: dict[str, pd.DataFrame]) -> None:
    tx = frames["transactions"]
    assert set(tx["category"]) == {"bill", "devices", "streaming", "roaming"}
    assert (tx.loc[tx["category"] != "bill"].shape[0]) == len(frames["adoptions"])
    assert (tx["amount"] > 0).all()
    assert tx["timestamp"].is_monotonic_increasing


# --- determinism, formats, arguments -----------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    p = TelcoParams(customers=3000, days=30, seed=11)
    first = _digest(generate_telco(p, tmp_path / "a"))
    second = _digest(generate_telco(p, tmp_path / "b"))
    assert first == second
    other = _digest(generate_telco(TelcoParams(customers=3000, days=30, seed=12), tmp_path / "c"))
    assert all(first[k] != other[k] for k in first)


def test_csv_format_and_progress(tmp_path: Path) -> None:
    steps: list[tuple[str, float]] = []
    result = generate_telco(
        TelcoParams(customers=2000, days=14, seed=3),
        tmp_path,
        fmt="csv",
        progress=lambda step, f: steps.append((step, f)),
    )
    assert result.files["interactions"].name == "interactions.csv"
    frame = pd.read_csv(result.files["interactions"])
    assert list(frame.columns) == list(DATA_SCHEMAS["interactions"])
    assert len(frame) == result.counts["interactions"]
    assert pd.to_datetime(frame["timestamp"]).is_monotonic_increasing
    fractions = [f for _, f in steps]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(steps) >= 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": 10},
        {"days": 0},
        {"mixing": 1.0},
        {"mixing": -0.1},
        {"offnet_share": 1.0},
        {"seed": -1},
        {"categories": ()},
        {"influence": -1.0},
        {"start": "2026-01-01"},
        {"service_numbers": -2},
        {"records_per_customer": float("nan")},
    ],
)
def test_bad_parameters_raise_input_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="must be"):
        TelcoParams(**kwargs)


def test_bad_format_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="fmt"):
        generate_telco(TelcoParams(customers=500), tmp_path, fmt="xlsx")  # type: ignore[arg-type]


def test_zero_service_numbers_and_products(tmp_path: Path) -> None:
    result = generate_telco(
        TelcoParams(customers=1000, days=14, service_numbers=0, products=0), tmp_path
    )
    assert result.counts["adoptions"] == 0
    nodes = pq.read_table(result.truth_files["nodes"]).to_pandas()
    assert not nodes["is_service"].any()


def test_bills_follow_plan_fee_and_activity(frames: dict[str, pd.DataFrame]) -> None:
    tx, cust = frames["transactions"], frames["customers"].set_index("customer_id")
    bills = tx[tx["category"] == "bill"]
    extra = bills.groupby("customer_id")["amount"].mean() - cust["monthly_fee"]
    calls = frames["interactions"].groupby("from_id").size()
    extra = extra.dropna()
    assert (extra.abs() < cust.loc[extra.index, "monthly_fee"] * 10).all()
    rho = extra.rank().corr(calls.reindex(extra.index, fill_value=0).rank())
    assert rho > 0.3
    assert set(cust["plan"]) == {"prepaid_s", "postpaid_m", "postpaid_l"}
    assert set(cust["segment"]) == {"consumer", "youth", "business"}
    assert (cust["signup_date"] < START).all()


def test_the_cli_sets_records_per_customer(tmp_path: Path, cli: Any) -> None:
    counts = {}
    for per in ("20", "60"):
        out = tmp_path / per
        made = cli("synth", "telco", "--out", str(out), "--customers", "400",
                   "--records-per-customer", per)  # fmt: skip
        assert made.code == 0, made.err
        counts[per] = pq.read_metadata(out / "interactions.parquet").num_rows
    assert counts["20"] == pytest.approx(400 * 20, rel=0.25)
    assert counts["60"] == pytest.approx(400 * 60, rel=0.25)
