"""Per-link influence probabilities learned from the action log (Goyal, Bonchi & Lakshmanan 2010).

An action (adoption of an item) *propagates* from ``v`` to its contact ``u`` when ``u`` performs
it within ``window`` days after ``v``.  With ``A_v`` the actions of ``v``, ``A_v2u`` the
propagations ``v → u``, ``A_v|u`` the actions of either, the static models are

- Bernoulli: ``p_vu = A_v2u / A_v``;
- Jaccard: ``p_vu = A_v2u / A_v|u``;
- partial credit: each propagation to ``u`` gives ``1 / |S|`` credit to each of the ``|S|``
  contacts it could have come from, ``p_vu = credit_v2u / A_v``;

and the continuous-time (time-decayed) model discounts ``p_vu`` by ``exp(−Δt / τ_vu)`` where
``τ_vu`` is the mean observed delay on that link.  A customer exposed to contacts ``S`` who
acted already adopts with ``1 − Π_{v ∈ S} (1 − p_vu)`` (the paper's general threshold model
with independent influences).

:func:`fit_links` counts, :func:`validate` fits on the adoptions before a cut and ranks who adopts
after it (ROC AUC), against the number of contacts who adopted (the contacts-only baseline).

References
----------
A. Goyal, F. Bonchi, L. V. S. Lakshmanan, "Learning influence probabilities in social networks",
WSDM 2010.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from tiewise.influence.timing import Pairs
from tiewise.shared import FloatArray, IntArray

__all__ = ["LINK_MODELS", "LinkCounts", "Validation", "auc", "fit_links", "validate"]


LINK_MODELS = ("bernoulli", "jaccard", "partial_credit", "time_decayed")
"""The models of Goyal et al. that :func:`validate` compares."""


@dataclass(frozen=True)
class LinkCounts:
    """Counts and probabilities per directed link ``src → dst`` (both directions of every link).

    Attributes
    ----------
    src, dst
        Directed links.
    actions_src
        ``A_v``: adoptions of the source.
    actions_either
        ``A_v|u``: items adopted by source or target.
    propagations
        ``A_v2u``: adoptions the target made within the window after the source.
    credit
        Partial credit for those propagations.
    mean_delay
        Mean delay of the propagations in days (NaN without any).
    """

    src: IntArray
    dst: IntArray
    actions_src: FloatArray
    actions_either: FloatArray
    propagations: FloatArray
    credit: FloatArray
    mean_delay: FloatArray

    def probability(
        self, model: str, *, prior: FloatArray | float | None = None, strength: float = 0.0
    ) -> FloatArray:
        """Probability per link under ``model`` (time-decayed: its undiscounted part).

        With a ``prior`` (e.g. :meth:`base_rate`), the estimate is pulled towards it by
        ``strength`` pseudo-actions: ``(A_v · p + strength · prior) / (A_v + strength)``, so a
        link whose source never acted gets the prior.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            if model == "jaccard":
                p = self.propagations / self.actions_either
            elif model == "partial_credit":
                p = self.credit / self.actions_src
            else:
                p = self.propagations / self.actions_src
        p = np.clip(np.nan_to_num(p, nan=0.0, posinf=0.0), 0.0, 1.0)
        if prior is None or strength <= 0:
            return p
        return (self.actions_src * p + strength * prior) / (self.actions_src + strength)

    def base_rate(self) -> float:
        """Population propagation rate: all propagations over all source actions (per link)."""
        return float(self.propagations.sum() / max(float(self.actions_src.sum()), 1.0))


def _propagations(
    u: IntArray, node: IntArray, time: FloatArray, pairs: Pairs, window: float
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per propagation: its directed link (leader → follower), delay and the follower's credit.

    Directed links are numbered as :class:`LinkCounts` holds them: link ``e`` from ``u[e]`` is
    ``e``, from ``v[e]`` is ``e + len(u)``.
    """
    a, b, link = pairs
    delay = time[b] - time[a]
    forward = (delay > 0) & (delay <= window)
    backward = (-delay > 0) & (-delay <= window)
    lead = np.concatenate([a[forward], b[backward]])
    follow = np.concatenate([b[forward], a[backward]])
    link = np.concatenate([link[forward], link[backward]])
    at = link + len(u) * (node[lead] != u[link])
    credit = 1.0 / np.bincount(follow, minlength=len(node))[follow]
    return at, np.abs(time[follow] - time[lead]), credit


def fit_links(
    n: int,
    u: IntArray,
    v: IntArray,
    node: IntArray,
    time: FloatArray,
    pairs: Pairs,
    *,
    window: float,
) -> LinkCounts:
    """Count actions and propagations on every link, in both directions.

    Parameters
    ----------
    n
        Number of nodes.
    u, v
        Undirected links.
    node, time
        Adoption rows (one per node and item): who adopted, when.
    pairs
        Linked adopters of the same item (:func:`~tiewise.influence.timing.linked_pairs` on
        the same ``u``, ``v``).
    window
        Longest delay that counts as a propagation.
    """
    src = np.concatenate([u, v]).astype(np.int64)
    dst = np.concatenate([v, u]).astype(np.int64)
    acts = np.bincount(node, minlength=n).astype(np.float64)
    # items both ends adopted: each pair counts once on its link, in both directions
    shared = np.bincount(pairs.link, minlength=len(u)).astype(np.float64)
    at, delay, credit = _propagations(u, node, time, pairs, window)
    prop = np.bincount(at, minlength=len(src)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_delay = np.where(prop > 0, np.bincount(at, delay, minlength=len(src)) / prop, np.nan)
    return LinkCounts(
        src=src,
        dst=dst,
        actions_src=acts[src],
        actions_either=acts[src] + acts[dst] - np.concatenate([shared, shared]),
        propagations=prop,
        credit=np.asarray(np.bincount(at, credit, minlength=len(src)), dtype=np.float64),
        mean_delay=mean_delay,
    )


def auc(score: FloatArray, label: npt.NDArray[np.bool_]) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``: ties count half).

    NaN when ``label`` holds one class only (no validation possible), where scikit-learn raises.

    Examples
    --------
    >>> auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    >>> auc(np.array([0.1, 0.4]), np.array([True, True]))
    nan
    """
    if label.all() or not label.any():
        return float("nan")
    return float(roc_auc_score(label, score))


@dataclass(frozen=True)
class Validation:
    """Out-of-period check of the link models.

    Attributes
    ----------
    cut
        Training period ends here (days).
    candidates
        (customer, item) pairs exposed before the cut: a contact adopted, they had not.
    adopters
        How many of them adopted after the cut.
    auc
        ROC AUC per model, plus ``contacts`` (number of contacts who adopted).
    """

    cut: float
    candidates: int
    adopters: int
    auc: dict[str, float]


def validate(
    n: int,
    u: IntArray,
    v: IntArray,
    node: IntArray,
    item: IntArray,
    time: FloatArray,
    pairs: Pairs,
    *,
    window: float,
    cut: float,
    strength: float = 1.0,
) -> Validation:
    """Fit on adoptions before ``cut``; predict which exposed customers adopt after it.

    Every model's probabilities are pulled towards the population's propagation rate by
    ``strength`` pseudo-actions (as the cascade uses them), so that links without history are
    not all 0.  (Pulling towards the weighted cascade's ``1 / in-degree`` instead ranked worse
    than chance on the generator's data: it penalises well-connected customers, who adopt more.)
    """
    before = time < cut
    rows = np.flatnonzero(before)
    counts = fit_links(n, u, v, node[rows], time[rows], pairs.among(before), window=window)
    items = int(item.max()) + 1 if len(item) else 1
    # exposures: every contact of every adopter before the cut
    src = counts.src
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    deg = np.diff(indptr)
    lead_rows = rows[deg[node[rows]] > 0]
    reps = deg[node[lead_rows]]
    starts = indptr[node[lead_rows]]
    offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    link = order[np.repeat(starts, reps) + offs]
    lead = np.repeat(lead_rows, reps)
    target = counts.dst[link]
    key = target * items + item[lead]
    adopted_before = np.unique(node[rows] * items + item[rows])
    after = ~before
    adopted_after = np.unique(node[after] * items + item[after])
    exposed = ~np.isin(key, adopted_before)
    key, link, lead = key[exposed], link[exposed], lead[exposed]
    cand, inverse = np.unique(key, return_inverse=True)
    label = np.isin(cand, adopted_after)
    scores: dict[str, FloatArray] = {
        "contacts": np.bincount(inverse, minlength=len(cand)).astype(np.float64)
    }
    tau = np.nan_to_num(counts.mean_delay, nan=window)
    for model in LINK_MODELS:
        p = counts.probability(model, prior=counts.base_rate(), strength=strength)[link]
        if model == "time_decayed":
            p = p * np.exp(-(cut - time[lead]) / np.maximum(tau[link], 1e-9))
        survive = np.bincount(inverse, np.log1p(-np.minimum(p, 1 - 1e-12)), minlength=len(cand))
        scores[model] = -np.expm1(survive)
    return Validation(
        cut=float(cut),
        candidates=len(cand),
        adopters=int(label.sum()),
        auc={name: auc(s, label) for name, s in scores.items()},
    )
