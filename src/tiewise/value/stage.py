"""The value stage: what each customer is worth, financially and socially, and the segments.

Tables written:

``customer_value``
    One row per customer: historical spend, the lifetime value forecast (``clv``, discounted over
    ``value.horizon_months``) and the model's figures behind it, ``p_alive``, network value (from
    the influence stage's ``network_value``, else 0), ``true_value = clv + network_value``,
    engagement score, email signals, reach inside the account, the three parts of social value and
    their combination, financial and social percentiles, the segment and the reason in words.
``value_segments``
    One row per segment (Ambassador, Influencer, High spender, Other): customers, share, total and
    mean value, churn rate (with the churn input), and the cut-offs that define it.
``value_models``
    The fitted parameters of each model, with the log-likelihood and the customers fitted.
``engagement_weights``
    The weight of each engagement event type, from the configuration or learned (coefficient,
    hold-out AUC), when the engagement input exists.
``retention_cohorts``
    With the sBG model: per signup-year cohort, subscribers observed, churned, and observed
    against fitted monthly retention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tiewise.config import Config, ValueConfig
from tiewise.exceptions import ConvergenceError, InputError
from tiewise.shared import DAYS_PER_MONTH
from tiewise.store import RunContext, exact_sum, scalar
from tiewise.value.advocacy import (
    LearnedWeights,
    account_reach,
    email_signals,
    engagement_scores,
    learn_weights,
    learned_scores,
    percentile,
)
from tiewise.value.clv import clv_from_summary
from tiewise.value.rfm import rfm_summary
from tiewise.value.sbg import ShiftedBetaGeometric
from tiewise.value.segments import SEGMENTS, assign_segments, social_value

__all__ = ["ValueSummary", "analyse_value"]

STAGE = "value"


@dataclass(frozen=True)
class ValueSummary:
    """Headline figures of the value stage."""

    customers: int
    model: str
    total_clv: float
    total_true_value: float
    segments: dict[str, int]
    parameters: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _universe(ctx: RunContext) -> pd.DataFrame:
    """The customers to value: the customers input, else the on-network parties."""
    unknown = (
        "NULL::DATE AS signup_date, NULL::DOUBLE AS monthly_fee, NULL::VARCHAR AS account_id, "
        "NULL::VARCHAR AS plan, NULL::VARCHAR AS segment"
    )
    if ctx.has_table("customers"):
        frame = ctx.con.execute(
            "SELECT customer_id, signup_date, monthly_fee, account_id, plan, segment "
            "FROM customers WHERE coalesce(on_network, true) ORDER BY customer_id"
        ).df()
    elif ctx.has_table("customer_scores"):
        frame = ctx.con.execute(
            f"SELECT customer_id, {unknown} FROM customer_scores "
            "WHERE on_network AND NOT is_service ORDER BY customer_id"
        ).df()
    elif ctx.has_table("transactions"):
        frame = ctx.con.execute(
            f"SELECT DISTINCT customer_id, {unknown} FROM transactions ORDER BY customer_id"
        ).df()
    else:
        raise InputError(
            "value: no customers to value -- configure [inputs.customers], [inputs.transactions] "
            "or [inputs.interactions]."
        )
    if frame.empty:
        raise InputError("value: the customers table is empty; there is no one to value.")
    return frame


def _as_of(ctx: RunContext) -> dt.datetime:
    parts = []
    if ctx.has_table("link_meta"):
        parts.append("(SELECT max(as_of) FROM link_meta)")
    for table in ("transactions", "engagement_events", "churn_events", "adoptions"):
        if ctx.has_table(table):
            parts.append(f"(SELECT max(timestamp) FROM {table})")
    value = scalar(ctx.con, f"SELECT greatest({', '.join(parts)})") if parts else None
    return pd.Timestamp(value).to_pydatetime() if value is not None else dt.datetime(1970, 1, 1)


def _window_start(ctx: RunContext) -> dt.datetime | None:
    parts = []
    if ctx.has_table("link_meta"):
        parts.append("(SELECT min(first_ts) FROM link_meta)")
    for table in ("transactions", "churn_events"):
        if ctx.has_table(table):
            parts.append(f"(SELECT min(timestamp) FROM {table})")
    value = scalar(ctx.con, f"SELECT least({', '.join(parts)})") if parts else None
    return pd.Timestamp(value).to_pydatetime() if value is not None else None


def _prepare_transactions(ctx: RunContext, cfg: ValueConfig, notes: list[str]) -> bool:
    """Check the transactions' business rules; leave the usable ones in temp table ``_vtx``."""
    if not ctx.has_table("transactions"):
        return False
    con = ctx.con
    negative = con.execute(
        "SELECT count(*), min(amount), arg_min(timestamp, amount) FROM transactions "
        "WHERE amount < 0"
    ).fetchall()[0]
    if negative[0] and cfg.negative_amounts == "error":
        raise InputError(
            f"transactions: {negative[0]:,} rows have a negative amount (e.g. {negative[1]} on "
            f"{negative[2]}), column amount; the value models expect purchases >= 0. If they are "
            'refunds, set [value] negative_amounts = "net" to net them against the same '
            "customer's purchases of that day; otherwise remove them from the input."
        )
    if negative[0]:
        notes.append(f"{negative[0]:,} negative amounts (refunds) netted per customer and day")
    grace = f"INTERVAL (CAST({cfg.churn_grace_days * 86400} AS BIGINT)) SECOND"
    late = "FALSE"
    if ctx.has_table("churn_events"):
        late = (
            "coalesce(t.timestamp > (SELECT min(c.timestamp) FROM churn_events c "
            f"WHERE c.customer_id = t.customer_id) + {grace}, false)"
        )
        after = con.execute(
            f"SELECT count(*), min(t.timestamp) FROM transactions t WHERE {late}"
        ).fetchall()[0]
        if after[0] and cfg.after_churn == "error":
            raise InputError(
                f"transactions: {after[0]:,} rows are dated more than {cfg.churn_grace_days:g} "
                f"days after their customer's churn date (the earliest {after[1]}), columns "
                "customer_id and timestamp against the churn input. A customer who left cannot "
                "buy: check that the churn and transaction inputs use the same ids and time zone, "
                'or set [value] after_churn = "drop" to ignore those rows.'
            )
        if after[0]:
            notes.append(f"{after[0]:,} transactions after churn dropped")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vtx AS SELECT t.customer_id, t.timestamp, t.amount, "
        f"t.category FROM transactions t WHERE NOT ({late})"
    )
    return True


def _choose_model(ctx: RunContext, cfg: ValueConfig, has_tx: bool) -> str:
    if cfg.model != "auto":
        return cfg.model
    if ctx.has_table("customers") and ctx.has_table("churn_events"):
        share = scalar(
            ctx.con,
            "SELECT avg(CASE WHEN signup_date IS NOT NULL AND monthly_fee IS NOT NULL "
            "THEN 1.0 ELSE 0.0 END) FROM customers",
        )
        if share is not None and share >= 0.5:
            return "sbg"
    return "bgnbd" if has_tx else "none"


def _history(ctx: RunContext, has_tx: bool) -> pd.DataFrame:
    if not has_tx:
        return pd.DataFrame({"customer_id": [], "historical_spend": [], "purchases": []})
    return ctx.con.execute(
        f"SELECT customer_id, {exact_sum('amount')} AS historical_spend, count(*) AS purchases "
        "FROM _vtx GROUP BY customer_id"
    ).df()


def _bgnbd(
    ctx: RunContext, cfg: ValueConfig, universe: pd.DataFrame, has_tx: bool
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, float]]:
    if not has_tx:
        raise InputError(
            'value.model = "bgnbd" needs the transactions input; configure [inputs.transactions] '
            'or set [value] model = "sbg" or "none".'
        )
    end = (
        dt.date.fromisoformat(cfg.calibration_end)
        if cfg.calibration_end
        else pd.Timestamp(scalar(ctx.con, "SELECT max(timestamp) FROM _vtx")).date()
    )
    # refunds are netted per day; a day whose net is not positive is not a purchase
    ctx.con.execute(
        "CREATE OR REPLACE TEMP VIEW _vdays AS SELECT customer_id, CAST(timestamp AS DATE) AS "
        f"timestamp, {exact_sum('amount')} AS amount FROM _vtx GROUP BY ALL "
        f"HAVING {exact_sum('amount')} > 0"
    )
    rfm = rfm_summary(ctx.con, "_vdays", calibration_end=end, unit_days=cfg.unit_days)
    if rfm.empty:
        raise InputError(
            f"transactions: no purchase with a positive amount up to {end}; the BG/NBD model "
            "needs purchases (check value.calibration_end and the amounts)."
        )
    fit = clv_from_summary(
        rfm,
        months=cfg.horizon_months,
        monthly_discount=cfg.monthly_discount,
        unit_days=cfg.unit_days,
        margin=cfg.margin,
    )
    rfm, bg, gg = fit.customers, fit.purchases, fit.spend
    x, t_x, T = (rfm[c].to_numpy(np.float64) for c in ("frequency", "recency", "T"))
    spend = rfm["expected_spend"].to_numpy(np.float64)
    gg_params = gg.params_ if gg is not None else {}
    unit = "weeks" if cfg.unit_days == 7 else f"units of {cfg.unit_days:g} days"
    rfm["model_reason"] = [
        f"BG/NBD: {int(f)} repeat purchase days in {age:.1f} {unit} since the first, the last "
        f"{age - rec:.1f} {unit} ago; P(alive) {p:.2f}; {e:.2f} purchases expected in "
        f"{cfg.horizon_months} months at {s:.2f} each"
        for f, rec, age, p, e, s in zip(
            x, t_x, T, rfm["p_alive"], rfm["expected_purchases"], spend, strict=True
        )
    ]
    params = {**bg.params_, **{f"gg_{k}": v for k, v in gg_params.items()}}
    models = [
        {
            "model": "BG/NBD",
            "parameter": k,
            "value": v,
            "log_likelihood": bg.log_likelihood_,
            "customers": bg.n_customers_,
            "calibration_end": str(end),
        }
        for k, v in bg.params_.items()
    ]
    if gg is not None:
        models += [
            {
                "model": "Gamma-Gamma",
                "parameter": k,
                "value": v,
                "log_likelihood": gg.log_likelihood_,
                "customers": gg.n_customers_,
                "calibration_end": str(end),
            }
            for k, v in gg_params.items()
        ]
    keep = [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "model_reason",
    ]
    out = universe[["customer_id"]].merge(rfm[keep], on="customer_id", how="left", indicator=True)
    missing = (out.pop("_merge") == "left_only").to_numpy()
    out["frequency"] = out["frequency"].astype(np.float64)  # NaN without a purchase
    if not np.isfinite(out.loc[~missing, "clv"]).all():
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items())
        raise ConvergenceError(
            f"BG/NBD: the fitted parameters ({shown}) "
            "give no finite forecast for some customers; the purchase data may be too short or "
            "too regular for the model (try value.unit_days or a later value.calibration_end)."
        )
    out.loc[missing, "clv"] = 0.0
    out.loc[missing, "model_reason"] = (
        "no purchase yet: BG/NBD starts at a customer's first purchase, so no forecast (clv 0)"
    )
    return out, models, params


def _sbg(
    ctx: RunContext, cfg: ValueConfig, universe: pd.DataFrame, has_tx: bool
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, float], pd.DataFrame]:
    con = ctx.con
    if not ctx.has_table("churn_events"):
        raise InputError(
            'value.model = "sbg" needs the churn input (who left, when); configure '
            '[inputs.churn] or set [value] model = "bgnbd".'
        )
    as_of = pd.Timestamp(_as_of(ctx))
    start = pd.Timestamp(_window_start(ctx) or as_of)
    churn = con.execute(
        "SELECT customer_id, min(timestamp) AS churned_at FROM churn_events GROUP BY 1"
    ).df()
    frame = universe.merge(churn, on="customer_id", how="left")
    day = np.timedelta64(1, "D")
    start_day = (start.to_datetime64() - np.datetime64("1970-01-01")) / day
    end_day = (as_of.to_datetime64() - np.datetime64("1970-01-01")) / day
    signup = (
        pd.to_datetime(frame["signup_date"]).to_numpy("datetime64[s]") - np.datetime64("1970-01-01")
    ) / day
    no_signup = int(np.isnan(signup).sum())
    signup = np.minimum(np.where(np.isnan(signup), start_day, signup), end_day)
    churned_at = pd.to_datetime(frame["churned_at"])
    churn_day = (churned_at.to_numpy("datetime64[s]") - np.datetime64("1970-01-01")) / day
    entered = np.floor(np.maximum(start_day - signup, 0.0) / DAYS_PER_MONTH)
    completed = np.floor((end_day - signup) / DAYS_PER_MONTH)
    dead = ~np.isnan(churn_day)
    left_in = np.where(dead, np.floor((churn_day - signup) / DAYS_PER_MONTH) + 1, 0.0)
    before_window = dead & (left_in <= entered)
    usable = ~before_window
    last = np.where(dead, left_in, completed)
    model = ShiftedBetaGeometric().fit(entered[usable], last[usable], dead[usable])
    # one model per group (plan, say) with enough churn to fit it; the others use the pooled one
    group = np.full(len(frame), "all", dtype=object)
    fitted: dict[str, ShiftedBetaGeometric] = {"all": model}
    by = cfg.sbg_group_by
    if by and by in frame and frame[by].notna().any():
        labels = frame[by].astype("string").fillna("unknown").to_numpy(dtype=object)
        for label in sorted(set(labels)):
            pick = (labels == label) & usable
            if int((dead & pick).sum()) >= cfg.sbg_min_churned:
                fitted[f"{by}={label}"] = ShiftedBetaGeometric().fit(
                    entered[pick], last[pick], dead[pick]
                )
                group[labels == label] = f"{by}={label}"
    months = np.zeros(len(frame))
    renew = np.zeros(len(frame))
    first_retention = np.zeros(len(frame))
    for name, m in fitted.items():
        pick = group == name
        months[pick] = m.expected_remaining_periods(
            completed[pick], horizon=cfg.horizon_months, discount=cfg.monthly_discount
        )
        renew[pick] = m.retention(completed[pick] + 1)
        first_retention[pick] = m.retention(entered[pick] + 1)
    # revenue per month: the median monthly spend over the months with transactions (robust to
    # one-off purchases such as a handset), else the plan's monthly fee
    fee = frame["monthly_fee"].to_numpy(float)
    revenue = fee.copy()
    source = np.where(np.isnan(fee), "none", "monthly fee")
    if has_tx:
        spend = con.execute(
            "SELECT customer_id, median(spent) AS spent FROM (SELECT customer_id, "
            f"date_trunc('month', timestamp) AS m, {exact_sum('amount')} AS spent FROM _vtx "
            "GROUP BY ALL) "
            "GROUP BY 1"
        ).df()
        spent = frame[["customer_id"]].merge(spend, on="customer_id", how="left")["spent"]
        ok = spent.notna().to_numpy()
        revenue = np.where(ok, spent.to_numpy(float), revenue)
        source = np.where(ok, "median monthly spend", source)
    revenue = np.nan_to_num(revenue, nan=0.0)
    clv = np.where(dead, 0.0, cfg.margin * revenue * months)
    reasons = [
        f"left on {c:%Y-%m-%d}: no future value"
        if d
        else f"sBG ({g}): subscribed {int(n)} months; {r:.2f}/month ({src}); "
        f"{k:.2f} discounted months expected in the next {cfg.horizon_months}; "
        f"P(renew next month) {p:.3f}"
        for d, c, g, n, r, src, k, p in zip(
            dead, churned_at, group, completed, revenue, source, months, renew, strict=True
        )
    ]
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "sbg_model": group.astype(str),
            "tenure_months": completed.astype(np.int64),
            "monthly_revenue": revenue,
            "p_alive": np.where(dead, 0.0, 1.0),
            "p_renew_next": np.where(dead, np.nan, renew),
            "expected_months": np.where(dead, 0.0, months),
            "clv": clv,
            "model_reason": reasons,
        }
    )
    models = [
        {
            "model": "sBG" if name == "all" else f"sBG ({name})",
            "parameter": k,
            "value": v,
            "log_likelihood": m.log_likelihood_,
            "customers": m.n_subscribers_,
            "calibration_end": f"{as_of:%Y-%m-%d}",
        }
        for name, m in fitted.items()
        for k, v in m.params_.items()
    ]
    cohort = pd.DataFrame(
        {
            "cohort": (np.datetime64("1970-01-01") + signup.astype("timedelta64[D]"))
            .astype("datetime64[Y]")
            .astype(np.int64)
            + 1970,
            "observed": usable,
            "churned": dead & usable,
            "exposure": np.where(usable, np.where(dead, left_in, completed) - entered, 0.0),
            "fitted": first_retention,
        }
    )
    cohorts = (
        cohort[cohort["observed"]]
        .groupby("cohort")
        .agg(
            subscribers=("observed", "size"),
            churned=("churned", "sum"),
            subscriber_months=("exposure", "sum"),
            fitted_monthly_retention=("fitted", "mean"),
        )
        .reset_index()
    )
    cohorts["observed_monthly_retention"] = 1.0 - cohorts["churned"] / cohorts[
        "subscriber_months"
    ].clip(lower=1.0)
    notes = []
    if no_signup:
        notes.append(
            f"{no_signup:,} customers without signup_date taken to join at the window start"
        )
    if before_window.any():
        notes.append(f"{int(before_window.sum()):,} customers who left before the window ignored")
    out.attrs["notes"] = notes
    return out, models, model.params_, cohorts


def _social_inputs(
    ctx: RunContext, config: Config, universe: pd.DataFrame, as_of: dt.datetime
) -> tuple[pd.DataFrame, LearnedWeights | None, pd.DataFrame | None]:
    """Engagement, email signals, reach, knowledge and connection inputs per customer."""
    cfg = config.value
    con = ctx.con
    ids = universe["customer_id"]
    out = universe[["customer_id"]].copy()
    learned: LearnedWeights | None = None
    weights_table: pd.DataFrame | None = None
    if ctx.has_table("engagement_events"):
        scores = engagement_scores(con, cfg, as_of)
        out = out.merge(scores, on="customer_id", how="left")
        out["engagement_points"] = out["engagement_points"].fillna(0.0)
        out["engagement_events"] = out["engagement_events"].fillna(0).astype(np.int64)
        basis = out["engagement_points"].to_numpy(float)
        if cfg.learn_weights_from:
            learned = learn_weights(
                con, ids, cfg, as_of, config.seed, has_transactions=ctx.has_table("transactions")
            )
            basis = learned_scores(con, ids, learned, cfg, as_of)
            out["engagement_log_odds"] = basis
        out["engagement_score"] = percentile(basis)
        types = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT event_type FROM engagement_events ORDER BY 1"
            ).fetchall()
        ]
        weights_table = pd.DataFrame(
            {
                "event_type": types,
                "weight": [cfg.engagement_weights.get(t, 0.0) for t in types],
                "source": "config",
            }
        )
        if learned is not None:
            weights_table["source"] = f"learned from {learned.outcome}"
            weights_table["coefficient"] = [learned.coefficients.get(t) for t in types]
            weights_table["weight"] = weights_table["coefficient"]
            weights_table["holdout_auc"] = learned.auc
            weights_table["outcome_customers"] = learned.positives
        out = out.merge(email_signals(con, ids, cfg), on="customer_id", how="left")
        knowledge = out["engagement_score"].to_numpy(float)
        out["knowledge_basis"] = "engagement score"
    elif ctx.has_table("adoptions"):
        decayed = (
            f"pow(2.0, -greatest(0, date_diff('second', e.timestamp, "
            f"TIMESTAMP '{as_of:%Y-%m-%d %H:%M:%S}')) / 86400.0 / "
            f"{cfg.engagement_half_life_days})"
        )
        adopted = con.execute(
            f"""
            SELECT e.customer_id, {exact_sum(decayed)} AS adoptions_decayed,
                   count(DISTINCT coalesce(e.category, e.item)) AS categories
            FROM adoptions e GROUP BY 1
            """
        ).df()
        out = out.merge(adopted, on="customer_id", how="left")
        knowledge = percentile(out["adoptions_decayed"].fillna(0.0).to_numpy(float))
        out["knowledge_basis"] = "product adoptions"
    else:
        knowledge = np.full(len(out), np.nan)
        out["knowledge_basis"] = None
    out["social_knowledge"] = knowledge
    if (
        ctx.has_table("link_state")
        and "account_id" in universe
        and universe["account_id"].notna().any()
    ):
        reach = account_reach(con, cfg)
        out = out.merge(reach, on="customer_id", how="left")
        for c in ("colleagues_linked", "colleagues_moved"):
            out[c] = out[c].fillna(0).astype(np.int64)
    if ctx.has_table("customer_scores"):
        tight = "1 - c.conductance" if "conductance" in ctx.columns("communities") else "NULL"
        graph = con.execute(
            f"""
            SELECT s.customer_id, s.weighted_degree AS tie_strength, s.participation,
                   {tight} AS community_tightness, s.contacts,
                   s.contacts_voice, s.contacts_sms, s.contacts_other
            FROM customer_scores s LEFT JOIN communities c USING (community)
            """
        ).df()
        out = out.merge(graph, on="customer_id", how="left")
    return out, learned, weights_table


def analyse_value(ctx: RunContext, config: Config) -> ValueSummary:
    """Value every customer financially and socially, segment them; write the value tables."""
    cfg = config.value
    notes: list[str] = []
    universe = _universe(ctx)
    has_tx = _prepare_transactions(ctx, cfg, notes)
    model = _choose_model(ctx, cfg, has_tx)
    as_of = _as_of(ctx)
    models: list[dict[str, Any]] = []
    params: dict[str, float] = {}
    cohorts = None
    if model == "bgnbd":
        financial, models, params = _bgnbd(ctx, cfg, universe, has_tx)
    elif model == "sbg":
        financial, models, params, cohorts = _sbg(ctx, cfg, universe, has_tx)
        notes.extend(financial.attrs.get("notes", []))
    else:
        financial = universe[["customer_id"]].assign(
            clv=0.0, p_alive=np.nan, model_reason="no financial model (value.model = none)"
        )
    history = _history(ctx, has_tx)
    frame = universe[["customer_id"]].merge(history, on="customer_id", how="left")
    frame["historical_spend"] = frame["historical_spend"].fillna(0.0)
    frame["purchases"] = frame["purchases"].fillna(0).astype(np.int64)
    frame = frame.merge(financial, on="customer_id", how="left")
    if ctx.has_table("network_value"):
        nv = ctx.con.execute(
            "SELECT customer_id, sum(network_value) AS network_value FROM network_value GROUP BY 1"
        ).df()
        frame = frame.merge(nv, on="customer_id", how="left")
        frame["network_value"] = frame["network_value"].fillna(0.0)
        network_note = "from the influence stage"
    else:
        frame["network_value"] = 0.0
        network_note = "0: no network_value table (influence stage not run)"
    frame["true_value"] = frame["clv"] + frame["network_value"]
    social, learned, weights_table = _social_inputs(ctx, config, universe, as_of)
    frame = frame.merge(social, on="customer_id", how="left")
    frame = social_value(frame, cfg)
    basis = "clv" if model != "none" else "historical_spend"
    frame = assign_segments(frame, cfg, basis=basis, network_note=network_note)
    if ctx.has_table("churn_events"):
        churned = ctx.con.execute("SELECT DISTINCT customer_id FROM churn_events").df()
        frame["churned"] = frame["customer_id"].isin(set(churned["customer_id"]))
    ctx.write_table(
        "customer_value",
        frame.sort_values("customer_id").reset_index(drop=True),
        stage=STAGE,
        description="Per customer: spend, CLV, P(alive), network and true value, social value, "
        "segment and the reason.",
    )
    ctx.write_table(
        "value_segments",
        _segment_table(frame, cfg),
        stage=STAGE,
        description="Per segment: customers, total and mean value, churn rate, cut-offs.",
    )
    if models:
        ctx.write_table(
            "value_models",
            pd.DataFrame(models),
            stage=STAGE,
            description="Fitted parameters of the value models, log-likelihood, customers.",
        )
    if weights_table is not None:
        ctx.write_table(
            "engagement_weights",
            weights_table,
            stage=STAGE,
            description="Weight per engagement event type (configured or learned, with AUC).",
        )
    if cohorts is not None:
        ctx.write_table(
            "retention_cohorts",
            cohorts,
            stage=STAGE,
            description="Per signup-year cohort: subscribers, churned, observed and fitted "
            "monthly retention (sBG).",
        )
    if learned is not None:
        notes.append(
            f"engagement weights learned from {learned.outcome}: hold-out AUC {learned.auc:.3f} "
            f"({learned.positives:,} of {learned.customers:,} customers with the outcome)"
        )
    counts = frame["segment"].value_counts()
    return ValueSummary(
        customers=len(frame),
        model=model,
        total_clv=float(frame["clv"].sum()),
        total_true_value=float(frame["true_value"].sum()),
        segments={s: int(counts.get(s, 0)) for s in SEGMENTS},
        parameters=params,
        notes=notes,
    )


def _segment_table(frame: pd.DataFrame, cfg: ValueConfig) -> pd.DataFrame:
    rows = []
    n = len(frame)
    for name in SEGMENTS:
        part = frame[frame["segment"] == name]
        row: dict[str, Any] = {
            "segment": name,
            "customers": len(part),
            "share": len(part) / n if n else 0.0,
            "total_clv": float(part["clv"].sum()),
            "total_network_value": float(part["network_value"].sum()),
            "total_true_value": float(part["true_value"].sum()),
            "mean_true_value": float(part["true_value"].mean()) if len(part) else 0.0,
            "historical_spend": float(part["historical_spend"].sum()),
            "mean_social_value": float(part["social_value"].mean()) if len(part) else 0.0,
            "churn_rate": (
                float(part["churned"].mean()) if "churned" in part and len(part) else None
            ),
            "definition": {
                "Ambassador": f"financial >= p{cfg.financial_cutoff:g} and social >= "
                f"p{cfg.social_cutoff:g}",
                "Influencer": f"social >= p{cfg.social_cutoff:g}, financial below "
                f"p{cfg.financial_cutoff:g}",
                "High spender": f"financial >= p{cfg.financial_cutoff:g}, social below "
                f"p{cfg.social_cutoff:g}",
                "Other": "both below their cut-offs",
            }[name],
        }
        rows.append(row)
    return pd.DataFrame(rows)
