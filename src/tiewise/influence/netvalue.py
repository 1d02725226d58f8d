"""Network value: the value of the adoptions a customer's own adoptions cause in others.

Per customer ``u`` and category ``c`` where influence is shown::

    network_value = expected_adoptions × caused_per_adoption_c × pull_u × adoption_value_c

* ``expected_adoptions``: ``u``'s adoptions in the category over the value stage's horizon
  (gamma–Poisson empirical Bayes from the observed period, :func:`expected_adoptions`);
* ``caused_per_adoption_c``: adoptions one adoption causes in the category, chains included
  (the excess of chains of follows over shuffled timing per adoption,
  :func:`tiewise.influence.seeds.cascades`);
* ``pull_u``: how much ``u`` moves others against the category's average, from the headline
  score — ``u``'s adoptions caused per adoption over the category's (customers without adoptions
  in the category: their customer contacts against the average adopter's);
* ``adoption_value_c``: the value of one adoption (mean transaction amount of the category).

``caused_value`` is the same over the observed period (the adoptions ``u`` made), the figure
the generator's truth can check.  Categories without shown influence carry no network value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from tiewise.graph.network import Network
from tiewise.influence.data import Adoptions, customer_contacts

__all__ = ["DAYS_PER_MONTH", "expected_adoptions", "network_values"]

FloatArray = npt.NDArray[np.float64]
DAYS_PER_MONTH = 30.4375


def expected_adoptions(counts: FloatArray, ratio: float) -> FloatArray:
    """Expected adoptions in a future period, per customer, from their counts in the past one.

    Gamma–Poisson empirical Bayes: each customer's adoption rate is drawn from a gamma whose
    shape ``α`` comes from the counts' over-dispersion (method of moments, ``α = m² / (s² − m)``),
    so the posterior mean rate is ``(α + x) / (α / m + 1)`` per past period; ``ratio`` is the
    length of the future period over the past one.  Without over-dispersion every customer gets
    the mean.

    Examples
    --------
    >>> expected_adoptions(np.array([0.0, 0.0, 0.0, 4.0]), 2.0).round(3).tolist()
    [0.667, 0.667, 0.667, 6.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = float(counts.mean()) if len(counts) else 0.0
    if m <= 0:
        return np.zeros_like(counts)
    v = float(counts.var())
    if v <= m:
        return np.full_like(counts, m * ratio)
    alpha = m * m / (v - m)
    return ratio * (alpha + counts) / (alpha / m + 1.0)


def network_values(
    net: Network,
    ad: Adoptions,
    scores: pd.DataFrame,
    calibration: pd.DataFrame,
    values: FloatArray,
    horizon_days: float,
) -> pd.DataFrame:
    """Per customer × category: the arithmetic of network value (see the module docstring).

    ``scores`` is ``influence_scores`` with a ``node`` column; ``calibration`` has
    ``category`` and ``caused_per_adoption`` (0 where influence is not shown).
    """
    on = np.flatnonzero(net.on_network)
    span = max(float(ad.time.max() - ad.time.min()), 1.0)
    contacts = customer_contacts(net).astype(np.float64)
    per_adoption = dict(
        zip(calibration["category"], calibration["caused_per_adoption"], strict=True)
    )
    parts = []
    for c, name in enumerate(ad.categories):
        rows = scores[scores["category"] == name]
        caused = np.zeros(net.n)
        caused[rows["node"].to_numpy()] = rows["influence_score"].to_numpy()
        past = np.bincount(ad.node[ad.category == c], minlength=net.n).astype(np.float64)
        adopters = past > 0
        mean_rate = caused[adopters].sum() / max(past[adopters].sum(), 1.0)
        mean_contacts = float((contacts * past)[adopters].sum() / max(past[adopters].sum(), 1.0))
        pull = np.where(
            adopters,
            np.divide(caused, past * mean_rate, out=np.zeros(net.n), where=past * mean_rate > 0),
            contacts / max(mean_contacts, 1e-9),
        )
        d = float(per_adoption.get(name, 0.0)) if mean_rate > 0 else 0.0
        future = expected_adoptions(past[on], horizon_days / span)
        each = d * pull[on] * values[c]
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": pd.Series(net.ids[on], dtype="string"),
                    "category": name,
                    "adoptions": past[on].astype(np.int64),
                    "adoptions_caused": caused[on],
                    "expected_adoptions": future,
                    "caused_per_adoption": d,
                    "pull": pull[on],
                    "adoption_value": values[c],
                    "value_per_adoption": each,
                    "caused_value": past[on] * each,
                    "network_value": future * each,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
