"""The influence stage: who moves others, per category, the seeds that move most, network value.

The work is split by concern: :mod:`~tiewise.influence.data` reads adoptions,
:mod:`~tiewise.influence.measure` shuffles once and estimates adoptions caused,
:mod:`~tiewise.influence.scores` writes the scores and tests with their reasons,
:mod:`~tiewise.influence.seeds` fits the cascade and chooses seeds, and
:mod:`~tiewise.influence.netvalue` values what a customer's adoptions cause.

Tables written:

``influence_scores``
    One row per customer and category (and ``'all'``): adoptions caused beyond homophily and
    the base rate (the headline ``influence_score``, with a 90% interval), the conversion rate,
    followers against shuffled timing, lead times, the structural score, the basis and reason.
``influence_tests``
    Per category: the window test and the test of order (any lag), their shuffles and p-values,
    whether influence is shown, and a warning where the window cannot see a follow.
``influence_links``
    Per directed link: actions, propagations and the probabilities of Goyal et al.'s models; the
    probability the cascade uses.
``influence_validation``
    ROC AUC of each link model for predicting who adopts after the training period.
``seed_sets`` / ``spread_curve``
    Seeds per category with the reason and basis (the influence cascade, or a structural
    fallback where no influence is shown), and for shown categories the expected reach of the
    first k with its interval and out-of-sample check, next to top-degree's.
``network_value`` / ``network_value_categories``
    Per customer (and category): the value of the adoptions this customer's own adoptions cause
    over the value stage's horizon, with the arithmetic in the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from tiewise.config import Config
from tiewise.exceptions import ConfigError
from tiewise.graph.centrality import core_number, pagerank
from tiewise.graph.network import Network, load_network, seeded_apart
from tiewise.influence.data import (
    Adoptions,
    adoption_values,
    costs_and_exclusions,
    load_adoptions,
)
from tiewise.influence.imm import weighted_cascade
from tiewise.influence.linkprob import LinkCounts, Validation, fit_links, validate
from tiewise.influence.measure import Measured, measure
from tiewise.influence.netvalue import network_values
from tiewise.influence.scores import ALL, score_frame, test_frame, write_scores
from tiewise.influence.seeds import (
    Cascades,
    ReachCheck,
    SeedInputs,
    cascades,
    reach_check,
    seed_rows,
)
from tiewise.influence.structural import collective_influence, leaderrank
from tiewise.influence.timing import Pairs, linked_pairs
from tiewise.shared import DAYS_PER_MONTH, FloatArray
from tiewise.store import RunContext, frame_query

__all__ = ["InfluenceSummary", "analyse_influence", "select_seeds", "structural_score"]

_STATIC = ("bernoulli", "jaccard", "partial_credit")


@dataclass
class InfluenceSummary:
    """Headline figures of the influence stage."""

    customers: int
    adoptions: int
    categories: list[str] = field(default_factory=list)
    influence_detected: list[str] = field(default_factory=list)
    link_model: str = "weighted_cascade"
    link_auc: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, float] = field(default_factory=dict)  # category -> expected reach (shown)
    seed_interval: dict[str, tuple[float, float]] = field(default_factory=dict)  # its 90%
    network_value_total: float = 0.0
    value_basis: str = ""
    time_resolution: str = ""
    window_days: float = 0.0
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None
    imm_shortfall: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Categories whose seeds hold the guarantee only for a larger epsilon than configured
    (the RR-set cap bound): category -> (epsilon reached, RR sets drawn)."""


def structural_score(net: Network, method: str) -> FloatArray:
    """The configured structural spreading score of every node."""
    if method == "contacts":
        return net.degree().astype(np.float64)
    if method == "pagerank":
        return pagerank(net.to_networkit())
    if method == "k_shell":
        return core_number(net.to_networkit()).astype(np.float64)
    if method == "collective_influence":
        return collective_influence(net.n, net.u, net.v)
    if method == "leaderrank":
        return leaderrank(net.n, net.u, net.v)
    raise ConfigError(f"[influence] structural = {method!r} is not a known method")


@dataclass
class _Prepared:
    """Everything the scores, seeds and network values are computed from."""

    net: Network
    adoptions: Adoptions | None
    measured: Measured | None
    counts: LinkCounts | None
    model: str
    validation: Validation | None
    structural: FloatArray
    detected: dict[str, bool] = field(default_factory=lambda: {ALL: False})
    pairs: Pairs | None = None
    window: float = 0.0
    targets: dict[str, float] | None = None
    check: ReachCheck | None = None


def _earlier_tests(
    ctx: RunContext, ad: Adoptions
) -> tuple[dict[str, bool], float, dict[str, float], ReachCheck] | None:
    """The last influence run's verdicts, window, caused per adoption and reach check."""
    if not ctx.has_table("influence_tests"):
        return None
    names = ["reach_check", "reach_check_low", "reach_check_high"]
    if not set(names) <= set(ctx.columns("influence_tests")):
        return None
    rows = ctx.con.execute(
        "SELECT category, influence_detected, window_days, caused_per_adoption, "
        f"{', '.join(names)} FROM influence_tests"
    ).fetchall()
    if sorted(str(r[0]) for r in rows) != sorted(ad.categories):
        return None
    shown = {str(r[0]): bool(r[1]) for r in rows}
    per = {str(r[0]): float(r[3] or 0.0) for r in rows}
    n = np.bincount(ad.category, minlength=len(ad.categories)).astype(np.float64)
    on = [i for i, c in enumerate(ad.categories) if shown[c]]
    total = sum(per[ad.categories[i]] * n[i] for i in on)
    targets = {**per, ALL: total / max(float(n[on].sum()), 1.0)}
    checked = [r for r in rows if r[4] is not None]
    check = ReachCheck(*({str(r[0]): float(r[4 + i]) for r in checked} for i in range(3)))
    return {**shown, ALL: any(shown.values())}, float(rows[0][2]), targets, check


def _prepare(ctx: RunContext, config: Config, *, reuse_tests: bool = False) -> _Prepared:
    """Network, adoptions, the timing evidence and learned link counts.

    With ``reuse_tests`` (choosing seeds on a workspace the stage already ran on) the verdicts
    of ``influence_tests`` are taken as they are instead of shuffling again.
    """
    cfg = config.influence
    net = load_network(
        ctx,
        exclude_service=config.links.exclude_service_numbers,
        log_weight=config.graph.edge_weight == "log_strength",
        directed=cfg.link_direction and not reuse_tests,  # reused tests need no directions
    )
    # the structural score needs the network only: it runs on a thread of its own beside the
    # tests (numba and SciPy's products release the GIL; nothing in it draws random numbers)
    pending = seeded_apart([partial(structural_score, net, cfg.structural)], seed=None, workers=1)
    ad = load_adoptions(ctx)
    if ad is None:
        return _Prepared(net, None, None, None, "weighted_cascade", None, next(pending))
    earlier = _earlier_tests(ctx, ad) if reuse_tests else None
    directed = _directed(net) if earlier is None and cfg.link_direction else None
    ctx.release_buffers()  # the network is in numpy now; DuckDB's copy of its pages can go
    m, check = None, None
    if earlier is None:
        m = measure(
            net, ad, window=cfg.window_days, significance=cfg.significance,
            min_shuffles=cfg.min_shuffles, max_shuffles=cfg.shuffles, seed=config.seed,
            prior_shape=cfg.prior_shape, directed=directed,
        )  # fmt: skip
        pairs = m.pairs
        window = m.scale.window
        shown = {c: bool(d) for c, d in zip(ad.categories, m.detected, strict=True)}
        detected = {**shown, ALL: any(shown.values())}
        targets = _chain_targets(ad, m)
    else:
        detected, window, targets, check = earlier
        pairs = linked_pairs(net.n, net.u, net.v, ad.node, ad.item)
    counts = fit_links(net.n, net.u, net.v, ad.node, ad.time, pairs, window=window)
    lo, hi = float(ad.time.min()), float(ad.time.max())
    val = validate(
        net.n, net.u, net.v, ad.node, ad.item, ad.time, pairs,
        window=window, cut=lo + cfg.train_share * (hi - lo), strength=cfg.link_prior,
    )  # fmt: skip
    scored = {k: val.auc[k] for k in _STATIC if not math.isnan(val.auc[k])}
    model = max(scored, key=lambda k: scored[k]) if scored else "bernoulli"
    if m is not None:
        check = reach_check(net, ad, model, detected, m.population_follows, pairs, window, config)
    structural = next(pending)
    return _Prepared(
        net, ad, m, counts, model, val, structural, detected, pairs, window, targets, check
    )


def _directed(net: Network) -> sp.csr_matrix | None:
    """Records from each node to each other (``[i, j]``: i contacted j), when links say so."""
    if net.records is None:
        return None
    ab, ba = net.records
    rows = np.concatenate([net.u, net.v])
    cols = np.concatenate([net.v, net.u])
    records = np.concatenate([ab, ba]).astype(np.float64)
    return sp.csr_matrix((records, (rows, cols)), shape=(net.n, net.n))


def _cascades(p: _Prepared, config: Config) -> tuple[Cascades, FloatArray]:
    return cascades(p.net, p.adoptions, p.counts, p.model, p.detected, p.targets, config)


def _chain_targets(ad: Adoptions, m: Measured) -> dict[str, float]:
    """Adoptions caused per adoption, chains included, per category and over shown ones."""
    per = np.bincount(ad.category, m.population_descendants, len(ad.categories))
    n = np.bincount(ad.category, minlength=len(ad.categories)).astype(np.float64)
    out = {c: float(per[i] / max(n[i], 1.0)) for i, c in enumerate(ad.categories)}
    shown = m.detected
    out[ALL] = float(per[shown].sum() / max(n[shown].sum(), 1.0))
    return out


def _seed_inputs(
    ctx: RunContext, p: _Prepared, casc: Cascades, followers: FloatArray, config: Config
) -> SeedInputs:
    cost, excluded = costs_and_exclusions(ctx, p.net, config)
    return SeedInputs(p.net, p.adoptions, casc, cost, excluded, followers, p.structural, p.check)


def _check_frame(check: ReachCheck | None) -> pd.DataFrame:
    """``reach_check`` and its interval per category (the categories checked)."""
    got = check or ReachCheck({}, {}, {})
    return pd.DataFrame(
        {
            "category": pd.Series(list(got.ratio), dtype="object"),
            "reach_check": pd.Series(list(got.ratio.values()), dtype="float64"),
            "reach_check_low": pd.Series([got.low[c] for c in got.ratio], dtype="float64"),
            "reach_check_high": pd.Series([got.high[c] for c in got.ratio], dtype="float64"),
        }
    )


def _validation_frame(val: Validation) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": list(val.auc),
            "roc_auc": list(val.auc.values()),
            "trained_until": pd.to_datetime(val.cut * 86400.0, unit="s"),
            "candidates": val.candidates,
            "adopters": val.adopters,
        }
    )


def _write_links(
    ctx: RunContext, net: Network, counts: LinkCounts | None, prob: FloatArray
) -> None:
    """Write ``influence_links``.

    The numbers come from numpy and the ids are joined in DuckDB, so Python never holds a string
    column of every directed link.
    """
    src = np.concatenate([net.u, net.v])
    dst = np.concatenate([net.v, net.u])
    keep = net.on_network[dst]
    columns: dict[str, Any] = {
        "src": src[keep],
        "dst": dst[keep],
        "p_weighted_cascade": weighted_cascade(net.n, src, dst)[keep],
        "probability": prob[keep],
    }
    if counts is not None:
        columns["source_adoptions"] = counts.actions_src[keep].astype(np.int64)
        columns["propagations"] = counts.propagations[keep].astype(np.int64)
        columns["partial_credit"] = counts.credit[keep]
        columns["mean_delay_days"] = counts.mean_delay[keep]
        for m in _STATIC:
            columns[f"p_{m}"] = counts.probability(m)[keep]
    rows = frame_query(
        ctx.con,
        "_influence_links",
        pa.table(columns),
        """
        SELECT s.customer_id AS source, t.customer_id AS target, l.* EXCLUDE (src, dst)
        FROM _influence_links l JOIN _node_index s ON s.idx = l.src
                                JOIN _node_index t ON t.idx = l.dst
        ORDER BY source, target
        """,
    )
    ctx.write_table(
        "influence_links",
        rows,
        stage="influence",
        description="Per directed link: propagations and learned influence probabilities.",
    )


def _write_network_values(
    ctx: RunContext, p: _Prepared, scores: pd.DataFrame, config: Config,
    summary: InfluenceSummary,
) -> None:  # fmt: skip
    ad = p.adoptions
    assert ad is not None
    values, basis = adoption_values(ctx, ad)
    assert p.measured is not None
    by_category = network_values(
        p.net, ad, p.measured, scores, values, config.value.horizon_months * DAYS_PER_MONTH,
    )  # fmt: skip
    summary.network_value_total = float(by_category["network_value"].sum())
    summary.value_basis = basis
    columns = ", ".join(c for c in by_category.columns if c != "node")
    rows = frame_query(  # the ids joined in by DuckDB, not held as Python strings
        ctx.con,
        "_network_value_rows",
        by_category,
        f"""
        SELECT n.customer_id, {columns}
        FROM _network_value_rows r JOIN _node_index n ON n.idx = r.node
        ORDER BY n.customer_id, r.category
        """,
    )
    ctx.write_table(
        "network_value_categories",
        rows,
        stage="influence",
        description="Per customer and category: expected adoptions, adoptions each causes, value.",
    )
    del by_category, rows
    months = config.value.horizon_months
    ctx.write_table(
        "network_value",
        f"""
        SELECT customer_id, sum(network_value ORDER BY category) AS network_value,
               sum(caused_value ORDER BY category) AS caused_value,
               sum(expected_adoptions ORDER BY category) AS expected_adoptions,
               CASE WHEN sum(network_value) = 0 THEN
                   'no network value: ' || CASE WHEN max(caused_per_adoption) = 0
                       THEN 'no category shows influence'
                       ELSE 'this customer''s adoptions are not expected to cause any' END
               ELSE format('value of the adoptions this customer''s own adoptions are expected '
                           || 'to cause in others over {months} months: {{:,.2f}} = ',
                           sum(network_value ORDER BY category))
                    || string_agg(format('{{}}: {{:.2f}} expected adoptions x {{:.3f}} caused per '
                                         || 'adoption (chains included) x {{:.2f}} this '
                                         || 'customer''s pull x {{:,.2f}} per adoption',
                                         category, expected_adoptions, caused_per_adoption,
                                         pull, adoption_value), '; ' ORDER BY category)
                        FILTER (WHERE network_value > 0)
               END AS reason
        FROM network_value_categories
        GROUP BY customer_id
        ORDER BY network_value DESC, customer_id
        """,
        stage="influence",
        description=(
            "Per customer: network value over the value horizon, adoption value = "
            f"{basis}; only categories that show influence."
        ),
    )


def analyse_influence(ctx: RunContext, config: Config) -> InfluenceSummary:
    """Measure influence, learn link probabilities, choose seeds and compute network values."""
    cfg = config.influence
    p = _prepare(ctx, config)
    net, ad, m = p.net, p.adoptions, p.measured
    scores = score_frame(net, ad, m, p.structural)
    summary = InfluenceSummary(
        customers=int(net.on_network.sum()),
        adoptions=0 if ad is None else len(ad.node),
        categories=[] if ad is None else list(ad.categories),
        link_model=p.model,
    )
    if ad is None:
        summary.skipped = (
            "no adoptions input: influence from timing, link learning and the tests were "
            "skipped; scores and seeds are a structural fallback"
        )
    write_scores(
        ctx,
        scores,
        summary.categories,
        m.scale.window if m is not None else 0.0,
        cfg.structural,
        description="Per customer and category: adoptions caused beyond homophily, evidence, "
        "reason.",
    )
    # what the rest of the stage reads, by node number: the evidence is in the table now
    scores = pd.DataFrame(
        {
            "node": scores["node"].to_numpy(),
            "category": np.array([*summary.categories, ALL], dtype=object)[scores["cat"]],
            "followers": scores["followers"].to_numpy(),
            "influence_score": scores["influence_score"].to_numpy(),
        }
    )
    casc, prob = _cascades(p, config)
    if ad is not None and m is not None:
        tests = test_frame(ad, m, cfg.significance)
        if len(casc.calibration):
            tests = tests.merge(
                casc.calibration[["category", "link_scale", "caused_per_adoption"]],
                on="category",
                how="left",
            )
            tests = tests.merge(_check_frame(p.check), on="category", how="left")
        summary.influence_detected = tests.loc[tests["influence_detected"], "category"].tolist()
        summary.time_resolution = m.scale.label
        summary.window_days = m.scale.window
        summary.warnings = [w for w in tests["warning"] if isinstance(w, str)]
        ctx.write_table(
            "influence_tests",
            tests,
            stage="influence",
            description="Per category: the window test and the test of order against shuffled "
            "timing (homophily control).",
        )
    _write_links(ctx, net, p.counts, prob)
    if p.validation is not None:
        summary.link_auc = dict(p.validation.auc)
        ctx.write_table(
            "influence_validation",
            _validation_frame(p.validation),
            stage="influence",
            description="ROC AUC of the link models on the period after training.",
        )
    followers = np.zeros(net.n)
    rows = scores[scores["category"] == ALL]
    followers[rows["node"].to_numpy()] = rows["followers"].to_numpy()
    state = _seed_inputs(ctx, p, casc, followers, config)
    ctx.release_buffers()  # the pages the links were joined and sorted in, before the RR sets
    seed_frames, curves = [], []
    for category in [*summary.categories, ALL] if summary.categories else [ALL]:
        s, c = seed_rows(state, config, category, cfg.seeds, cfg.budget)
        seed_frames.append(s)
        curves.append(c)
        if len(c):
            summary.seeds[category] = float(c["expected_reach"].iloc[-1])
            summary.seed_interval[category] = (
                float(c["reach_low"].iloc[-1]),
                float(c["reach_high"].iloc[-1]),
            )
        reached = s["epsilon"].max() if len(s) else float("nan")
        if np.isfinite(reached) and reached > cfg.epsilon * (1 + 1e-9):
            summary.imm_shortfall[category] = (float(reached), int(s["rr_sets"].max()))
    ctx.write_table(
        "seed_sets",
        pd.concat(seed_frames, ignore_index=True),
        stage="influence",
        description="Seeds per category with their basis, expected reach and the reason.",
    )
    ctx.write_table(
        "spread_curve",
        _curve_frame(curves),
        stage="influence",
        description="Expected reach of the first k seeds with its interval, next to top "
        "degree's (categories that show influence only).",
    )
    if ad is None:
        summary.value_basis = "none: network value needs adoption events (no adoptions input)"
    else:
        _write_network_values(ctx, p, scores, config, summary)
    return summary


_CURVE = ["category", "k", "expected_reach", "reach_low", "reach_high", "model_reach",
          "top_degree_reach", "reach_check", "cumulative_cost", "targets"]  # fmt: skip


def _curve_frame(curves: list[pd.DataFrame]) -> pd.DataFrame:
    present = [c for c in curves if len(c)]
    if present:
        return pd.concat(present, ignore_index=True)[_CURVE]
    return pd.DataFrame({c: pd.Series(dtype="string" if c == "category" else "float64")
                         for c in _CURVE})  # fmt: skip


def select_seeds(
    ctx: RunContext, config: Config, *, category: str, k: int, budget: float | None = None
) -> pd.DataFrame:
    """Seeds for one category (``'all'`` for any) written into ``seed_sets``.

    Rows of other categories in ``seed_sets`` and ``spread_curve`` are kept.
    """
    p = _prepare(ctx, config, reuse_tests=True)
    casc, _ = _cascades(p, config)
    followers = np.zeros(p.net.n)
    if ctx.has_table("influence_scores"):
        rows = ctx.con.execute(
            "SELECT n.idx, s.followers FROM influence_scores s JOIN _node_index n "
            "USING (customer_id) WHERE s.category = 'all'"
        ).fetchnumpy()
        followers[rows["idx"]] = rows["followers"]
    state = _seed_inputs(ctx, p, casc, followers, config)
    seeds, curve = seed_rows(state, config, category, k, budget)
    for name, frame in (("seed_sets", seeds), ("spread_curve", curve)):
        if ctx.has_table(name):
            kept = ctx.con.execute(f"SELECT * FROM {name} WHERE category <> ?", [category]).df()
            frame = pd.concat([kept, frame], ignore_index=True) if len(frame) else kept
            frame = frame.sort_values(["category", frame.columns[1]], kind="stable")
        if name == "spread_curve":
            frame = _curve_frame([frame])
        ctx.write_table(
            name, frame, stage="influence", description=f"IMM {name.replace('_', ' ')}."
        )
    return seeds
