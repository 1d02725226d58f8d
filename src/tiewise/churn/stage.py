"""The churn stage: behaviour triggers, social churn signals, a calibrated model, retention list.

Time split (``H = churn.horizon_days``, days relative to the data's as-of time):

* evaluation, rolling out of time: the features at ``-H`` are scored by models trained on the
  features at ``-2H`` (stacked with ``-3H``, ... up to ``train_cuts`` cut-offs as the history
  allows) with the churn in the horizon after each; likewise ``-2H`` by models trained from
  ``-3H`` on, up to ``eval_cuts`` test cut-offs; the figures of each test cut-off, averaged,
  are in ``churn_evaluation`` and ``churn_lift``;
* the model used today is trained on the cut-offs from ``-H`` on and scores every current
  customer at ``0``.

Every cut-off's features look back over the same number of weeks, and its social windows over
the same number of days, as the earliest one can (:class:`Windows`).  Communities and leaders
are found again at every cut-off from the weeks before it (:mod:`tiewise.churn.communities`):
``customer_scores`` describes the whole window, churn after the cut-off included.

Social features enter today's model only when they lower the held-out log-loss on the training
cuts significantly (paired z > 1.645, one-sided 5%, on half of the customers held out): on data
where churn does not spread they add noise, not signal.

Tables written: ``churn_triggers``, ``churn_scores``, ``retention_priority``,
``churn_evaluation``, ``churn_lift``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.churn.communities import CutCommunities, communities_at_cuts
from tiewise.churn.conversations import (
    CONVERSATION_FEATURES,
    conversation_days,
    conversation_features,
    conversation_triggers,
)
from tiewise.churn.data import (
    MAX_WEEKS,
    ChurnData,
    FloatArray,
    load_churn_data,
    transaction_days,
)
from tiewise.churn.features import (
    BEHAVIOUR_FEATURES,
    CATEGORICAL,
    SOCIAL_FEATURES,
    CutFeatures,
    behaviour,
    social,
    weeks_before,
)
from tiewise.churn.model import (
    ChurnModel,
    calibration_rows,
    evaluate,
    fit_predict,
    lift_curve,
)
from tiewise.churn.triggers import find_triggers
from tiewise.config import ChurnConfig, Config
from tiewise.shared import DAYS_PER_MONTH
from tiewise.store import RunContext

__all__ = ["ChurnSummary", "analyse_churn", "feature_gate", "social_gate"]

_MIN_WEEKS = 2
_GATE_Z = 1.645  # one-sided 5%


@dataclass(frozen=True)
class ChurnSummary:
    """Headline figures of the churn stage (``skipped`` says why when it could not run)."""

    skipped: str | None = None
    customers: int = 0
    churn_rate: float = 0.0
    triggers: int = 0
    evaluation: dict[str, dict[str, float | None]] = field(default_factory=dict)
    social_used: bool = False
    social_z: float = 0.0
    value_basis: str = ""
    conversations_used: bool = False
    conversations_z: float | None = None  # None: no conversations input


def _skip(reason: str) -> ChurnSummary:
    return ChurnSummary(skipped=reason)


@dataclass(frozen=True)
class Windows:
    """How far back every cut-off's features look: what the earliest cut-off can see.

    A feature that looks back further at the later cut-offs than at the earliest one would
    describe something else when scored than what the model learnt from (e.g. 60 days of
    churned contacts against 30), so the weeks of usage and the social windows are cut to the
    history the earliest cut-off has.
    """

    lookback_weeks: int
    social_days: float
    community_days: float

    @classmethod
    def at(cls, data: ChurnData, earliest: float, cfg: ChurnConfig) -> Windows:
        """The windows when the earliest cut-off used is ``earliest``."""
        history = max(earliest - data.data_start, 1.0)
        return cls(
            lookback_weeks=len(weeks_before(data, earliest)),
            social_days=min(float(cfg.social_days), history),
            community_days=min(float(cfg.community_days), history),
        )


def _cut(
    data: ChurnData,
    tx: pd.DataFrame | None,
    cut: float,
    windows: Windows,
    config: Config,
    groups: CutCommunities,
    talk: pd.DataFrame | None = None,
) -> tuple[CutFeatures, pd.DataFrame, FloatArray]:
    """Features at ``cut`` (``groups``: the communities before it) and the churn after."""
    cfg = config.churn
    feats = behaviour(
        data, tx, cut, recent_weeks=cfg.recent_weeks, lookback_weeks=windows.lookback_weeks
    )
    soc = social(
        data,
        feats,
        groups.community,
        groups.is_leader,
        social_days=windows.social_days,
        community_days=windows.community_days,
        spread_factor=cfg.spread_factor,
        spread_iterations=cfg.spread_iterations,
        exposure_days=cfg.exposure_days,
    )
    churn = data.churn_day[feats.index]
    y = ((churn > cut) & (churn <= cut + cfg.horizon_days)).astype(np.float64)
    frame = feats.frame.join(soc)
    if talk is not None:
        said = conversation_features(
            talk,
            feats.index,
            cut,
            recent_days=7.0 * cfg.recent_weeks,
            lookback_days=7.0 * windows.lookback_weeks,
        )
        frame = frame.join(said.set_index(frame.index))
    return feats, frame, y


def _model(features: list[str], cfg: ChurnConfig, seed: int, jobs: int = 1) -> ChurnModel:
    return ChurnModel(
        jobs=jobs,
        features=features,
        categorical=CATEGORICAL,
        max_iter=cfg.max_iter,
        learning_rate=cfg.learning_rate,
        calibration=cfg.calibration,
        calibration_rows=cfg.calibration_rows,
        seed=seed,
        threads=cfg.threads,
        increasing=SOCIAL_FEATURES,
    )


def _calibration_rows(cfg: ChurnConfig, y: FloatArray) -> ChurnConfig:
    """``cfg`` with ``calibration_rows`` decided once for every model of the run.

    ``"auto"`` is decided (:func:`~tiewise.churn.model.calibration_rows`) on the first
    evaluation's training rows ``y``: today's model, trained on more rows, is then calibrated as
    the evaluation measured.
    """
    rows = calibration_rows(cfg.calibration_rows, y)
    return cfg.model_copy(update={"calibration_rows": rows})


def _stack(
    parts: list[tuple[CutFeatures, pd.DataFrame, FloatArray]],
) -> tuple[pd.DataFrame, FloatArray, npt.NDArray[np.int64]]:
    """Rows of several cut-offs stacked: features, labels and the customer of each row."""
    frame = pd.concat([x for _, x, _ in parts], ignore_index=True)
    y = np.concatenate([y for _, _, y in parts])
    who = np.concatenate([f.index for f, _, _ in parts])
    return frame, y, who


def social_gate(
    frame: pd.DataFrame,
    y: FloatArray,
    who: npt.NDArray[np.int64],
    cfg: ChurnConfig,
    seed: int,
    jobs: int = 1,
    held_out: dict[tuple[str, ...], FloatArray] | None = None,
) -> tuple[bool, float]:
    """Whether the social features lower held-out log-loss significantly (paired z > 1.645).

    Half of the customers (seeded; all rows of a customer on the same side) train a model with
    and one without the social features; on the other half, ``z`` is the mean per-row log-loss
    difference over its standard error.
    """
    return feature_gate(
        frame, y, who, cfg, seed, BEHAVIOUR_FEATURES, SOCIAL_FEATURES, jobs, held_out
    )


def feature_gate(
    frame: pd.DataFrame,
    y: FloatArray,
    who: npt.NDArray[np.int64],
    cfg: ChurnConfig,
    seed: int,
    base: list[str],
    extra: list[str],
    jobs: int = 1,
    held_out: dict[tuple[str, ...], FloatArray] | None = None,
) -> tuple[bool, float]:
    """Whether adding ``extra`` to ``base`` lowers held-out log-loss significantly (z > 1.645).

    As :func:`social_gate`, for any set of features (the conversation features use it).
    ``held_out`` keeps the held-out probabilities of each feature set across calls on the same
    rows and seed: the conversations' gate starts from the model the social gate kept, already
    fitted on the same half.
    """
    rng = np.random.default_rng(seed)
    side = rng.random(int(who.max()) + 1 if len(who) else 0) < 0.5
    held = side[who]
    if y[~held].sum() < 5 or y[held].sum() < 5:
        return False, 0.0
    known = {} if held_out is None else held_out
    sets = [tuple(base), tuple(base + extra)]
    todo = [cols for cols in sets if cols not in known]
    fitted = fit_predict(
        [_model(list(cols), cfg, seed) for cols in todo], frame[~held], y[~held], frame[held], jobs
    )
    known.update(zip(todo, fitted, strict=True))
    eps = 1e-6
    yh = y[held]
    losses = []
    for cols in sets:
        p = np.clip(known[cols], eps, 1 - eps)
        losses.append(-(yh * np.log(p) + (1 - yh) * np.log(1 - p)))
    diff = losses[0] - losses[1]
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    z = float(diff.mean() / se) if se > 0 else 0.0
    return z > _GATE_Z, z


def _value(
    ctx: RunContext, data: ChurnData, feats: CutFeatures, tx: pd.DataFrame | None, cfg: ChurnConfig
) -> tuple[pd.DataFrame, str, pd.Series | None]:
    """Per current customer: clv, network value and the basis, and P(alive) when known."""
    ids = data.ids[feats.index]
    if ctx.has_table("customer_value"):
        cv = ctx.con.execute(
            "SELECT customer_id, clv, coalesce(network_value, 0) AS network_value, p_alive "
            "FROM customer_value"
        ).df()
        cv = cv.drop_duplicates("customer_id").set_index("customer_id")
        out = pd.DataFrame(
            {
                "clv": cv["clv"].reindex(ids).fillna(0.0).to_numpy(),
                "network_value": cv["network_value"].reindex(ids).fillna(0.0).to_numpy(),
            }
        )
        out["value_note"] = [
            f"value {c + v:,.0f} = clv {c:,.0f} + network value {v:,.0f} (customer_value)"
            for c, v in zip(out["clv"], out["network_value"], strict=True)
        ]
        return out, "customer_value (clv + network_value)", cv["p_alive"].astype(float)
    # Without the value stage: monthly revenue x expected remaining months.
    span_months = max(-data.data_start / DAYS_PER_MONTH, 1e-9)
    fee = data.monthly_fee[feats.index]
    revenue = np.zeros(data.n)
    if tx is not None and not tx.empty:
        revenue = np.bincount(tx["idx"], tx["amount"], minlength=data.n) / span_months
    monthly = np.where(np.isnan(fee), revenue[feats.index], fee)
    source = np.where(np.isnan(fee), "revenue", "monthly fee")
    # the plan's observed monthly churn rate
    plan = data.plan
    customers = data.is_customer
    churned = customers & np.isfinite(data.churn_day) & (data.churn_day > data.data_start)
    groups = np.maximum(plan, 0) if (plan >= 0).any() else np.zeros(data.n, np.int64)
    k = int(groups.max()) + 1
    members = np.bincount(groups[customers], minlength=k).astype(np.float64)
    lost = np.bincount(groups[churned], minlength=k).astype(np.float64)
    overall = lost.sum() / max(members.sum(), 1.0) / span_months
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(lost > 0, lost / members / span_months, overall)
    rate = np.where(rate > 0, rate, np.nan)
    months = np.minimum(cfg.max_value_months, 1.0 / rate[groups[feats.index]])
    months = np.where(np.isnan(months), cfg.max_value_months, months)
    out = pd.DataFrame({"clv": monthly * months, "network_value": np.zeros(len(ids))})
    out["value_note"] = [
        f"value {v:,.0f} = {m:,.2f} a month ({s}) x {mo:.0f} expected months; no customer_value "
        "table: clv estimated, network value unknown"
        for v, m, s, mo in zip(out["clv"], monthly, source, months, strict=True)
    ]
    basis = "monthly revenue x expected remaining months (no customer_value table)"
    return out, basis, None


def _ago(days: float) -> str:
    """``days`` ago in words.

    Examples
    --------
    >>> [_ago(0.4), _ago(1.2), _ago(6.0), _ago(float("nan"))]
    ['less than a day ago', '1 day ago', '6 days ago', 'unknown']
    """
    if not np.isfinite(days):
        return "unknown"
    whole = int(days)
    if whole < 1:
        return "less than a day ago"
    return "1 day ago" if whole == 1 else f"{whole} days ago"


def _joined(triggers: pd.DataFrame, ids: pd.Series) -> npt.NDArray[np.object_]:
    """Each customer's triggers joined by ", " in the order of ``triggers``; NaN when none.

    One pass over the rows (a pandas ``groupby(...).agg(", ".join)`` calls Python per group:
    6 s for 156k customers at 1M).

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["b", "a", "b"], "trigger": ["x", "y", "z"]})
    >>> _joined(t, pd.Series(["a", "b", "c"])).tolist()
    ['y', 'x, z', nan]
    """
    joined: dict[str, str] = {}
    for cid, what in zip(triggers["customer_id"].tolist(), triggers["trigger"].tolist(),
                         strict=True):  # fmt: skip
        before = joined.get(cid)
        joined[cid] = what if before is None else f"{before}, {what}"
    return pd.Series(joined, dtype=object).reindex(ids.to_numpy()).to_numpy()


def _reasons(
    frame: pd.DataFrame,
    cfg: ChurnConfig,
    windows: Windows,
    base_rate: float,
    social_used: bool,
    talk_used: bool = False,
) -> list[str]:
    """The reason of every row, built column by column (a dict per row costs gigabytes at 1M)."""
    n = len(frame)
    parts: list[list[str]] = [[] for _ in range(n)]

    def col(name: str) -> npt.NDArray[np.float64]:
        return frame[name].to_numpy(np.float64, na_value=np.nan)

    def add(mask: npt.NDArray[np.bool_], texts: Any) -> None:
        for i, text in zip(np.flatnonzero(mask).tolist(), texts, strict=True):
            parts[i].append(text)

    p = col("p_churn")
    add(
        np.ones(n, dtype=bool),
        (
            f"P(churn within {cfg.horizon_days} days) {x:.1%} ({x / base_rate:.1f}x average)"
            for x in p.tolist()
        ),
    )
    ratio, base = col("usage_ratio"), col("usage_baseline")
    down = (base >= 1.0) & (ratio <= 1.0 - cfg.usage_drop / 2)
    add(down, (f"usage down {100 * (1 - x):.0f}% vs own baseline" for x in ratio[down].tolist()))
    silent = col("weeks_since_active") >= 2
    add(silent, (f"no contact for {7 * x:.0f} days" for x in col("weeks_since_active")[silent]))
    triggers = frame["triggers"].fillna("").astype(str)
    overdue = triggers.str.contains("purchase_overdue", regex=False).to_numpy()
    add(
        overdue,
        (
            f"no purchase for {d:.0f} days (usually every {i:.0f})"
            for d, i in zip(
                col("days_since_purchase")[overdue], col("purchase_interval")[overdue], strict=True
            )
        ),
    )
    strong, n_strong = col("strong_churned_recent"), col("strong_contacts")
    any_recent, known = col("churned_contacts_recent"), col("contacts_known")
    latest, exposure = col("days_since_contact_churn"), col("churn_exposure")
    has_strong = strong > 0
    add(
        has_strong,
        (
            f"{a:.0f} of {b:.0f} strong contacts churned in {windows.social_days:.0f} days "
            f"(latest {_ago(d)}; exposure {e:.2f})"
            for a, b, d, e in zip(
                strong[has_strong],
                n_strong[has_strong],
                latest[has_strong],
                exposure[has_strong],
                strict=True,
            )
        ),
    )
    weak = ~has_strong & (any_recent > 0)
    add(
        weak,
        (
            f"{a:.0f} of {b:.0f} contacts churned in {windows.social_days:.0f} days "
            f"(latest {_ago(d)}; exposure {e:.2f})"
            for a, b, d, e in zip(
                any_recent[weak], known[weak], latest[weak], exposure[weak], strict=True
            )
        ),
    )
    leader_gone = col("leader_churned") > 0
    text = f"a leader of their community churned in {windows.community_days:.0f} days"
    add(leader_gone, [text] * int(leader_gone.sum()))
    leader = frame["is_leader"].to_numpy(bool)
    add(leader, ["community leader"] * int(leader.sum()))
    if not social_used:
        unused = (any_recent > 0) | leader_gone
        note = "(social signals not used by the model: no significant gain here)"
        add(unused, [note] * int(unused.sum()))
    if "negative_posts_recent" in frame.columns:
        said = col("negative_posts_recent")
        complained = said > 0
        days = 7 * cfg.recent_weeks
        note = "" if talk_used else " (not used by the model: no significant gain here)"
        add(
            complained,
            (
                f"{x:.0f} negative conversation{'s' if x > 1 else ''} in the last {days} days{note}"
                for x in said[complained].tolist()
            ),
        )
    add(np.ones(n, dtype=bool), frame["value_note"].tolist())
    return ["; ".join(x) for x in parts]


def analyse_churn(ctx: RunContext, config: Config) -> ChurnSummary:
    """Triggers, social churn signals, the calibrated model and the retention priority list."""
    cfg = config.churn
    for table in ("customers", "churn_events", "link_state", "link_meta"):
        if not ctx.has_table(table):
            what = "churn input" if table == "churn_events" else f"{table} table"
            return _skip(f"no {what}: churn needs customers, churn events and interactions")
    data = load_churn_data(ctx)
    tx = transaction_days(ctx, data)
    talk = conversation_days(ctx, data, config.conversations.negative_threshold)
    ctx.release_buffers()  # what the models learn from is in numpy now
    h = float(cfg.horizon_days)
    # cut-offs -H, -2H, ..., -KH: the earliest needs _MIN_WEEKS of history, the others 4
    k_max = 1
    while k_max < cfg.train_cuts + cfg.eval_cuts:
        weeks = len(weeks_before(data, -(k_max + 1) * h))
        if weeks < (_MIN_WEEKS if k_max == 1 else max(_MIN_WEEKS, 4)):
            break
        k_max += 1
    if k_max < 2:
        need = 2 * cfg.horizon_days + 7 * (_MIN_WEEKS + 1)
        return _skip(
            f"the data covers {-data.data_start:.0f} days; the time split needs about {need} "
            f"(two horizons of {cfg.horizon_days} days and {_MIN_WEEKS} weeks of history): "
            "lower churn.horizon_days or load more history"
        )
    windows = Windows.at(data, -k_max * h, cfg)
    seed = config.seed
    jobs = config.engine.threads or os.cpu_count() or 1  # calibration folds fitted at once
    # every cut-off's communities (-H, -2H, ..., then today's), found on threads of their own
    # while the features of those already found are computed
    cuts = [-k * h for k in range(1, k_max + 1)] + [0.0]
    groups = communities_at_cuts(
        data, cuts, config.graph, seed=seed, workers=jobs, iterations=cfg.community_iterations
    )
    at = {
        k: _cut(data, tx, -k * h, windows, config, next(groups), talk) for k in range(1, k_max + 1)
    }

    def stack(first: int) -> tuple[pd.DataFrame, FloatArray, npt.NDArray[np.int64]]:
        return _stack([at[k] for k in range(first, min(k_max, first + cfg.train_cuts - 1) + 1)])

    # rolling out-of-time evaluation: each test cut -jH scored by models trained on the cuts
    # before it
    both = BEHAVIOUR_FEATURES + SOCIAL_FEATURES
    sets = {"behaviour": BEHAVIOUR_FEATURES, "behaviour + social": both}
    if talk is not None:
        sets["behaviour + conversations"] = BEHAVIOUR_FEATURES + CONVERSATION_FEATURES
        sets["behaviour + social + conversations"] = both + CONVERSATION_FEATURES
    pooled: dict[str, list[FloatArray]] = {name: [] for name in sets}
    pooled["spreading activation alone"] = []
    calibrated: dict[str, set[str]] = {name: set() for name in sets}
    labels = []
    gate = stack(2)  # the first evaluation's training rows, and the gates'
    cfg = _calibration_rows(cfg, gate[1])
    for j in range(1, min(cfg.eval_cuts, k_max - 1) + 1):
        x_train, y_train, _ = gate if j == 1 else stack(j + 1)
        _, x_test, y_test = at[j]
        models = [_model(cols, cfg, seed) for cols in sets.values()]
        predicted = fit_predict(models, x_train, y_train, x_test, jobs)
        for name, fitted, p in zip(sets, models, predicted, strict=True):
            pooled[name].append(p)
            calibrated[name].add(fitted.calibrated_by_)
        pooled["spreading activation alone"].append(x_test["spreading_activation"].to_numpy())
        labels.append(y_test)
    # each test cut-off is judged on its own (their churn rates differ), then averaged
    evaluation: dict[str, dict[str, float | None]] = {}
    curves = []
    for name, parts in pooled.items():
        probability = name in sets
        each = [evaluate(y, p, probability=probability) for y, p in zip(labels, parts, strict=True)]
        evaluation[name] = {
            "auc": float(np.mean([e.auc for e in each])),
            "lift": float(np.mean([e.lift for e in each])),
            "brier": float(np.mean([e.brier for e in each])) if probability else None,
        }
        curve = pd.concat([lift_curve(y, p) for y, p in zip(labels, parts, strict=True)])
        curves.append(curve.groupby("targeted_share", as_index=False).mean().assign(model=name))
    y_eval = np.concatenate(labels)
    del x_train, y_train, x_test
    x_gate, y_gate, g_gate = gate
    del gate
    held_out: dict[tuple[str, ...], FloatArray] = {}
    social_used, z = social_gate(x_gate, y_gate, g_gate, cfg, seed, jobs, held_out)
    cols = both if social_used else BEHAVIOUR_FEATURES
    talk_used, talk_z = False, None
    if talk is not None:
        talk_used, talk_z = feature_gate(
            x_gate, y_gate, g_gate, cfg, seed, cols, CONVERSATION_FEATURES, jobs, held_out
        )
    del x_gate, y_gate, g_gate, held_out
    chosen = ("behaviour + social" if social_used else "behaviour") + (
        " + conversations" if talk_used else ""
    )
    evaluation["selected"] = evaluation[chosen]
    calibration = {name: "; ".join(sorted(ways)) for name, ways in calibrated.items()}
    calibration["selected"] = calibration[chosen]
    cols = cols + CONVERSATION_FEATURES if talk_used else cols

    # today's model: fit on the cuts from -H on, each with the churn that followed; score at 0
    x_fit, y_fit, _ = stack(1)
    y_test = at[1][2]
    at.clear()  # the cut-offs' frames live on in x_fit; one copy is enough
    f_now, x_now, _ = _cut(data, tx, 0.0, windows, config, next(groups), talk)
    (p_now,) = fit_predict([_model(cols, cfg, seed)], x_fit, y_fit, x_now, jobs)
    del x_fit, y_fit
    base_rate = float(max(y_test.mean(), 1e-9))

    value, basis, p_alive = _value(ctx, data, f_now, tx, cfg)
    # the triggers (and the evidence in the reasons) use all the history there is
    f_all = behaviour(data, tx, 0.0, recent_weeks=cfg.recent_weeks, lookback_weeks=MAX_WEEKS)
    triggers = find_triggers(
        data,
        f_all,
        p_alive,
        recent_weeks=cfg.recent_weeks,
        recency_factor=cfg.recency_factor,
        usage_drop=cfg.usage_drop,
        p_alive_threshold=cfg.p_alive_threshold,
    )
    if talk is not None:
        said = conversation_triggers(
            talk, data, f_now.index, 0.0, recent_days=7.0 * cfg.recent_weeks
        )
        if len(said):
            triggers = pd.concat([triggers, said], ignore_index=True).sort_values(
                ["trigger_date", "customer_id", "trigger"], ignore_index=True
            )
    scores = x_now.copy()
    for name in BEHAVIOUR_FEATURES:
        scores[name] = f_all.frame[name].to_numpy()
    scores.insert(0, "customer_id", data.ids[f_now.index].astype(str))
    scores.insert(1, "p_churn", p_now)
    scores["plan"] = [data.plan_names[c] if c >= 0 else None for c in data.plan[f_now.index]]
    scores["segment"] = [
        data.segment_names[c] if c >= 0 else None for c in data.segment[f_now.index]
    ]
    scores["is_leader"] = data.is_leader[f_now.index]
    scores["triggers"] = _joined(triggers, scores["customer_id"])
    scores["clv"] = value["clv"].to_numpy()
    scores["network_value"] = value["network_value"].to_numpy()
    scores["value_note"] = value["value_note"].to_numpy()
    scores["expected_loss"] = scores["p_churn"] * (scores["clv"] + scores["network_value"])
    scores["reason"] = _reasons(scores, cfg, windows, base_rate, social_used, talk_used)
    scores = scores.drop(columns=["value_note"]).sort_values(
        ["expected_loss", "customer_id"], ascending=[False, True], ignore_index=True
    )
    _write(ctx, scores, triggers, evaluation, calibration, curves, y_eval, cfg)
    return ChurnSummary(
        customers=len(scores),
        churn_rate=float(y_test.mean()),
        triggers=len(triggers),
        evaluation=evaluation,
        social_used=social_used,
        social_z=z,
        value_basis=basis,
        conversations_used=talk_used,
        conversations_z=talk_z,
    )


def _write(
    ctx: RunContext,
    scores: pd.DataFrame,
    triggers: pd.DataFrame,
    evaluation: dict[str, dict[str, float | None]],
    calibration: dict[str, str],
    curves: list[pd.DataFrame],
    y_test: FloatArray,
    cfg: ChurnConfig,
) -> None:
    ctx.write_table(
        "churn_triggers",
        triggers,
        stage="churn",
        description="Dated departures from each customer's own rhythm, with the evidence.",
    )
    ctx.write_table(
        "churn_scores",
        scores,
        stage="churn",
        description="Per current customer: P(churn), behavioural and social signals, expected "
        "loss and the reason.",
    )
    top = scores.head(cfg.priority_size)
    priority = pd.DataFrame(
        {
            "rank": np.arange(1, len(top) + 1),
            "customer_id": top["customer_id"],
            "p_churn": top["p_churn"],
            "clv": top["clv"],
            "network_value": top["network_value"],
            "expected_loss": top["expected_loss"],
            "triggers": top["triggers"],
            "reason": top["reason"],
        }
    )
    ctx.write_table(
        "retention_priority",
        priority,
        stage="churn",
        description="Customers ranked by expected loss = P(churn) x (clv + network value).",
    )
    rows = [
        {
            "model": name,
            "roc_auc": s["auc"],
            "top_decile_lift": s["lift"],
            "brier": s["brier"],
            "calibration": calibration.get(name),
            "customers": len(y_test),
            "churners": int(y_test.sum()),
            "horizon_days": cfg.horizon_days,
        }
        for name, s in evaluation.items()
    ]
    ctx.write_table(
        "churn_evaluation",
        pd.DataFrame(rows),
        stage="churn",
        description="Out-of-time ROC AUC and top-decile lift with and without social features.",
    )
    ctx.write_table(
        "churn_lift",
        pd.concat(curves, ignore_index=True),
        stage="churn",
        description="Cumulative lift and churners captured by share targeted, per model.",
    )
