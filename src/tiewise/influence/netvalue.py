"""Network value: the value of the adoptions a customer's own adoptions cause in others.

Per customer ``u`` and category ``c`` where influence is shown::

    network_value = expected_adoptions × caused_per_adoption_c × pull_u × adoption_value_c

* ``expected_adoptions``: ``u``'s adoptions in the category over the value stage's horizon
  (gamma–Poisson empirical Bayes from the observed period, :func:`expected_adoptions`);
* ``caused_per_adoption_c``: adoptions one adoption causes in the category, chains included:
  every follow credited with the population's probability that a follow of its item, lag and
  tie class is caused (a follower's causes adding up to at most one), and each adoption's
  descendants summed through those follows
  (:func:`tiewise.influence.measure.chain_descendants`), per adoption of the category;
* ``pull_u``: how much ``u`` moves others against the category's average — the same chains
  with each follow credited as in the headline score (``u``'s own multiplier), ``u``'s
  descendants per adoption over the category's (customers without adoptions in the category:
  their customer contacts against the average adopter's);
* ``adoption_value_c``: the value of one adoption (mean transaction amount of the category).

``caused_value`` is the same over the observed period (the adoptions ``u`` made), the figure
the generator's truth can check.  Categories without shown influence carry no network value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tiewise.graph.network import Network
from tiewise.influence.data import Adoptions, customer_contacts
from tiewise.influence.measure import Measured
from tiewise.shared import FloatArray

__all__ = ["expected_adoptions", "network_values"]


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
    measured: Measured,
    scores: pd.DataFrame,
    values: FloatArray,
    horizon_days: float,
) -> pd.DataFrame:
    """Per customer × category: the arithmetic of network value (see the module docstring).

    The category's level comes from ``measured.population_descendants``, each customer's pull
    from ``measured.descendants`` (see :class:`tiewise.influence.measure.Measured`);
    ``scores`` holds ``node``, ``category`` and ``influence_score`` of ``influence_scores``.
    The rows name customers by node number (``node``), in node order within each category:
    a million customers' ids as Python strings, three times over, were the stage's largest
    frame.
    """
    on = np.flatnonzero(net.on_network)
    span = max(float(ad.time.max() - ad.time.min()), 1.0)
    contacts = customer_contacts(net).astype(np.float64)
    parts = []
    for c, name in enumerate(ad.categories):
        rows = scores[scores["category"] == name]
        headline = np.zeros(net.n)
        headline[rows["node"].to_numpy()] = rows["influence_score"].to_numpy()
        mine = ad.category == c
        past = np.bincount(ad.node[mine], minlength=net.n).astype(np.float64)
        chains = np.bincount(ad.node[mine], measured.descendants[mine], net.n)
        adopters = past > 0
        d = float(measured.population_descendants[mine].sum() / max(past.sum(), 1.0))
        mean = float(chains.sum() / max(past.sum(), 1.0))
        mean_contacts = float((contacts * past)[adopters].sum() / max(past[adopters].sum(), 1.0))
        pull = np.where(
            adopters,
            np.divide(chains, past * mean, out=np.zeros(net.n), where=past * mean > 0),
            contacts / max(mean_contacts, 1e-9),
        )
        future = expected_adoptions(past[on], horizon_days / span)
        each = d * pull[on] * values[c]
        parts.append(
            pd.DataFrame(
                {
                    "node": on,
                    "category": name,
                    "adoptions": past[on].astype(np.int64),
                    "adoptions_caused": headline[on],
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
