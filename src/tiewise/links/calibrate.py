"""Calibrating the link strength on pairs known to be close: which components tell them apart.

A user who knows some close pairs -- a family plan or a shared ``account_id``, a survey, referrals,
declared friendships -- can check and refit the strength on them.  :func:`fit_strength` takes the
``links`` rows (every component is a column there) and a label per row, and returns

- the ROC AUC of every component and of the simple counts a user could compute (records, calls,
  call time) and of the current strength, each on its own;
- a logistic regression on the standardised components (``ln volume`` and the others in
  :data:`COMPONENTS`), its out-of-fold ROC AUC by stratified k-fold cross-validation (seeded), and
  its weights as a strength: ``strength = volume * exp(sum_k weight_k * component_k)``, the
  regression's coefficients divided by that of ``ln volume`` -- the same ranking as the fitted
  model, in the units of the volume, so the graph stage's edge weights keep their meaning.
  Such weights go into ``[links] strength_weights``.

What the shipped default rests on (``benchmarks/bench_strength.py``): on the Copenhagen Networks
Study (calls and SMS, Facebook friendships as labels) and the SocioPatterns high-school 2013
contacts (friendship survey and Facebook as labels), no fitted combination of the components beats
the plain count of records by much out of sample, and weights fitted on one data set do worse than
counting on the other.  The default formula is therefore not fitted: the documented one with the
common contacts' factor ``1 + embeddedness`` (its form chosen on Copenhagen, +0.018 over the count
there; checked on the high school, where it gains +0.007 over the formula without it); and this
module lets a user fit and check weights on labels of their own.  The readable alternatives tried
since (relative and rank strength, neighbourhood overlap, active days, persistence, a compressed
volume; see docs/links.md) reach at best +0.026 over the count on Copenhagen held out without
losing on the high school: not enough to change the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tiewise.config import Config
from tiewise.exceptions import InputError

__all__ = [
    "BASELINES",
    "COMPONENTS",
    "StrengthFit",
    "component_matrix",
    "fit_on_workspace",
    "fit_strength",
    "known_close",
]

COMPONENTS = {  # the columns of `links` a strength can weigh, besides ln(volume)
    "reciprocity": "min(n_ab, n_ba) / max(n_ab, n_ba): both sides initiate",
    "regularity": "active weeks / weeks: steady rather than one burst",
    "recency": "2^(-days since the last contact / half-life)",
    "burstiness": "1 - active weeks / records: records bunched in few weeks",
    "duration": "ln(1 + minutes per call)",
    "channel_mix": "1 - sum of squared channel shares: more than one channel",
    "off_hours": "share of records in the evening, at night (18:00-08:00) or at a weekend",
    "embeddedness": "ln(1 + common contacts): contacts linked to both ends",
}
BASELINES = ("records", "n_voice", "voice_seconds")  # what a user could count without tiewise


def component_matrix(links: pd.DataFrame) -> pd.DataFrame:
    """``ln_volume`` and every component of :data:`COMPONENTS`, one row per link."""
    missing = [c for c in ("volume", *COMPONENTS) if c not in links.columns]
    if missing:
        raise InputError(
            f"links: the columns {missing} are missing: build the links again (`tiewise run`)."
        )
    frame = links[list(COMPONENTS)].astype(float).copy()
    frame.insert(0, "ln_volume", np.log(links["volume"].astype(float).clip(lower=1e-12)))
    return frame


@dataclass
class StrengthFit:
    """What :func:`fit_strength` found (see the module docstring)."""

    pairs: int
    positives: int
    single_auc_: dict[str, float] = field(default_factory=dict)
    fitted_auc_: float = float("nan")  # out of fold
    best_count_: str = ""
    best_count_auc_: float = float("nan")
    coefficients_: dict[str, float] = field(default_factory=dict)  # per raw unit
    weights_: dict[str, float] | None = None  # as strength_weights; None when unusable
    note_: str = ""

    def table(self) -> pd.DataFrame:
        """One row per score: its ROC AUC, and the fitted weight for the components."""
        rows = [
            {"score": k, "auc": v, "weight": (self.weights_ or {}).get(k)}
            for k, v in self.single_auc_.items()
        ]
        rows.append({"score": "fitted strength (cross-validated)", "auc": self.fitted_auc_})
        return pd.DataFrame(rows)


def _model() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def fit_strength(
    links: pd.DataFrame, labels: np.ndarray, *, folds: int = 5, seed: int = 0
) -> StrengthFit:
    """Fit strength weights on ``links`` rows labelled close (True) or not, and report.

    Parameters
    ----------
    links
        Rows of the ``links`` table (``volume``, the components, the counts, ``strength``).
    labels
        One boolean per row: is the pair known to be close?
    folds
        Folds of the stratified cross-validation (fewer when there are few positives).
    seed
        Seed of the fold split.

    Returns
    -------
    StrengthFit
        Single-score AUCs, the fitted model's out-of-fold AUC, the best count, and the weights.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> close = rng.random(400) < 0.3
    >>> links = pd.DataFrame({"volume": np.exp(rng.normal(1 + close, 1)),
    ...     "records": rng.poisson(3, 400) + 1, "n_voice": 1, "voice_seconds": 60.0,
    ...     "strength": 1.0, **{c: rng.random(400) for c in COMPONENTS}})
    >>> links["reciprocity"] += close  # close pairs call back
    >>> fit = fit_strength(links, close, seed=1)
    >>> fit.fitted_auc_ > max(fit.single_auc_.values()) - 0.02, fit.weights_["reciprocity"] > 0
    (True, True)
    """
    y = np.asarray(labels, dtype=bool)
    positives = int(y.sum())
    if len(y) != len(links):
        raise InputError(f"labels: {len(y)} labels for {len(links)} links.")
    if positives < 2 or len(y) - positives < 2:
        raise InputError(
            f"labels: {positives} of the {len(y)} linked pairs are labelled close; fitting needs "
            "at least 2 close and 2 other linked pairs. Check that the labelled ids are the "
            "workspace's (pseudonymised with the same key)."
        )
    x = component_matrix(links)
    fit = StrengthFit(pairs=len(y), positives=positives)
    scores = {name: links[name].astype(float) for name in (*BASELINES, "strength")}
    scores |= {name: x[name] for name in x.columns}
    fit.single_auc_ = {name: float(roc_auc_score(y, s)) for name, s in scores.items()}
    counts = {name: fit.single_auc_[name] for name in BASELINES}
    fit.best_count_ = max(counts, key=lambda k: counts[k])
    fit.best_count_auc_ = counts[fit.best_count_]
    k = max(2, min(folds, positives, len(y) - positives))
    out_of_fold = np.zeros(len(y))
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in split.split(x, y):
        model = _model().fit(x.iloc[train], y[train])  # type: ignore[attr-defined]
        out_of_fold[test] = model.decision_function(x.iloc[test])
    fit.fitted_auc_ = float(roc_auc_score(y, out_of_fold))
    model = _model().fit(x, y)  # type: ignore[attr-defined]
    scaler, regression = model.steps[0][1], model.steps[1][1]
    raw = regression.coef_[0] / scaler.scale_
    fit.coefficients_ = dict(zip(x.columns, (float(c) for c in raw), strict=True))
    volume = fit.coefficients_["ln_volume"]
    if volume <= 0:
        fit.note_ = (
            "the labelled pairs are not the ones with more volume (its coefficient is "
            f"{volume:.3g}): no volume-based strength fits them; the weights are not usable"
        )
    else:
        fit.weights_ = {c: round(fit.coefficients_[c] / volume, 4) for c in COMPONENTS}
        gain = fit.fitted_auc_ - fit.best_count_auc_
        fit.note_ = (
            f"the fitted strength's AUC out of sample is {fit.fitted_auc_:.3f}, "
            f"{gain:+.3f} against the best count ({fit.best_count_}, {fit.best_count_auc_:.3f})"
        )
    return fit


def known_close(
    links: pd.DataFrame,
    *,
    pairs: pd.DataFrame | None = None,
    accounts: pd.DataFrame | None = None,
    key: bytes | None = None,
) -> np.ndarray:
    """Which ``links`` rows are known to be close: listed in ``pairs``, or sharing an account.

    ``pairs`` holds raw identifiers in its first two columns (pseudonymised here with ``key``
    when the workspace is); ``accounts`` is ``customers``' ``customer_id`` and ``account_id``
    (already pseudonymised ids).  Linked pairs not known to be close count as the others.
    """
    from tiewise.ingest.pseudonym import pseudonymise

    close: set[tuple[str, str]] = set()
    if pairs is not None:
        if pairs.shape[1] < 2:
            raise InputError("labels: the file needs two columns, the two ids of a close pair.")
        first, second = (pairs.iloc[:, i].astype(str).str.strip() for i in (0, 1))
        if key is not None:
            first, second = (s.map(lambda v: pseudonymise(v, key)) for s in (first, second))
        close |= {(min(x, y), max(x, y)) for x, y in zip(first, second, strict=True)}
    shared = np.zeros(len(links), dtype=bool)
    if accounts is not None:
        account = dict(zip(accounts["customer_id"], accounts["account_id"], strict=True))
        a, b = links["a"].map(account), links["b"].map(account)
        shared = (a.notna() & (a == b)).to_numpy()
    listed = np.array([(x, y) in close for x, y in zip(links["a"], links["b"], strict=True)])
    return listed | shared


def fit_on_workspace(
    config: Config, *, labels: Path | None = None, accounts: bool = False, seed: int | None = None
) -> StrengthFit:
    """:func:`fit_strength` on the workspace's links and the user's known close pairs.

    ``labels``: a CSV of close pairs (two columns of raw ids, a header line); ``accounts``:
    customers sharing an ``account_id`` are close.  Ids are pseudonymised with the workspace's
    key when the configuration pseudonymises.
    """
    from tiewise.ingest.pseudonym import load_key
    from tiewise.store import Workspace

    pairs = None
    if labels is not None:
        if not labels.is_file():
            raise InputError(f"labels: {labels} is not a file. Give a CSV of close pairs.")
        pairs = pd.read_csv(labels, dtype=str)
    key = (
        load_key(config.resolve(config.privacy.key_file), config.privacy.key_env)
        if config.privacy.pseudonymise
        else None
    )
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        if "links" not in ws.table_names():
            raise InputError("fit-strength: the workspace has no links: run `tiewise run` first.")
        links = ws.con.execute("SELECT * FROM links ORDER BY a, b").df()
        known = None
        if accounts:
            names = ws.table_names()
            if "customers" not in names:
                raise InputError("fit-strength --accounts: the workspace has no customers table.")
            known = ws.con.execute(
                "SELECT customer_id, account_id FROM customers WHERE account_id IS NOT NULL"
            ).df()
    close = known_close(links, pairs=pairs, accounts=known, key=key)
    return fit_strength(links, close, seed=config.seed if seed is None else seed)
