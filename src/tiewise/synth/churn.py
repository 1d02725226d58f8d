"""Contagious churn: subscribers leave on their own, and pull their contacts with them.

Spontaneous churn follows a hazard that depends on plan, segment, tenure and an individual
frailty (monthly churn around 2%).  A subscriber who leaves at ``T`` makes each subscriber
contact leave too, with a probability that grows with the strength of the tie and with
``churn_contagion``, after an exponential delay (mean 14 days).

The simulation may look ``lookahead`` days past the window (:data:`LOOKAHEAD_DAYS`): who leaves
in the weeks after the last day of the data is hidden truth, for the warnings such customers
post before the end (:mod:`.conversations`).  Looking ahead changes nothing inside the window:
the draws are the same and a cascade never runs backwards in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tiewise.shared import DAYS_PER_MONTH
from tiewise.synth._types import FloatArray, IntArray
from tiewise.synth.cascade import NONE, Cascade, run_cascade

__all__ = [
    "LOOKAHEAD_DAYS",
    "ChurnInputs",
    "monthly_hazard",
    "simulate_churn",
    "split_at",
    "tie_pull",
]

_PLAN_HAZARD = np.array([0.020, 0.010, 0.007])  # monthly, by plan (prepaid_s, postpaid_m/l)
_SEGMENT_HAZARD = np.array([1.0, 1.3, 0.7])  # consumer, youth, business
_FRAILTY_SD = 0.5
_CONTAGION = 0.12  # transmission rate per unit of tie pull at churn_contagion = 1
_DELAY_DAYS = 14.0
MAX_PROBABILITY = 0.5
LOOKAHEAD_DAYS = 21.0
"""How far past the window the churn is simulated (the longest lead of a public warning)."""


@dataclass(frozen=True)
class ChurnInputs:
    """What the churn model needs about the subscribers (local indices ``0 .. n-1``).

    Attributes
    ----------
    plan, segment, tenure_days
        Per subscriber.
    src, dst, strength
        Directed subscriber-to-subscriber ties (each undirected tie twice) and their strength.
    """

    plan: IntArray
    segment: IntArray
    tenure_days: IntArray
    src: IntArray
    dst: IntArray
    strength: FloatArray


def tie_pull(strength: FloatArray) -> FloatArray:
    """Saturating effect of tie strength on contagion, ``s / (s + 1)`` (mean strength is 1).

    Examples
    --------
    >>> tie_pull(np.array([0.0, 1.0, 3.0])).tolist()
    [0.0, 0.5, 0.75]
    """
    return strength / (strength + 1.0)


def monthly_hazard(
    rng: np.random.Generator, plan: IntArray, segment: IntArray, tenure_days: IntArray
) -> FloatArray:
    """Spontaneous monthly churn hazard of each subscriber.

    Parameters
    ----------
    rng
        Random generator (for the individual frailty).
    plan, segment, tenure_days
        Per subscriber.

    Returns
    -------
    numpy.ndarray
        Monthly hazard; prepaid, young and recent customers churn more.
    """
    tenure = np.where(tenure_days < 365, 1.6, np.where(tenure_days < 730, 1.2, 0.9))
    frailty = np.exp(_FRAILTY_SD * rng.standard_normal(plan.shape[0]) - _FRAILTY_SD**2 / 2)
    return _PLAN_HAZARD[plan] * _SEGMENT_HAZARD[segment] * tenure * frailty


def simulate_churn(
    rng: np.random.Generator,
    inputs: ChurnInputs,
    days: int,
    contagion: float,
    *,
    lookahead: float = 0.0,
) -> Cascade:
    """Churn times and causes of all subscribers within the window.

    Parameters
    ----------
    rng
        Random generator.
    inputs
        Subscriber attributes and ties.
    days
        Window length.
    contagion
        Scale of churn contagion (0 = none).
    lookahead
        Days simulated past the window (:func:`split_at` separates them); the random draws do
        not depend on it.

    Returns
    -------
    Cascade
        Churn time in days since the window start (``inf`` if the subscriber stays until
        ``days + lookahead``) and the contact who pulled them (or spontaneous).
    """
    n = inputs.plan.shape[0]
    hazard = monthly_hazard(rng, inputs.plan, inputs.segment, inputs.tenure_days)
    own_time = rng.exponential(DAYS_PER_MONTH / hazard)
    seeds = np.flatnonzero(own_time < days + lookahead)
    rate = _CONTAGION * contagion * tie_pull(inputs.strength)
    prob = np.minimum(MAX_PROBABILITY, -np.expm1(-rate))
    live = rng.random(prob.shape[0]) < prob
    delay = np.maximum(rng.exponential(_DELAY_DAYS, size=int(live.sum())), 1.0 / 24.0)
    return run_cascade(
        n,
        seeds,
        own_time[seeds],
        inputs.src[live],
        inputs.dst[live],
        delay,
        horizon=days + lookahead,
    )


def split_at(churn: Cascade, days: float) -> tuple[Cascade, FloatArray]:
    """The churn inside the window, and the churn times after it (``inf`` otherwise).

    Examples
    --------
    >>> c = Cascade(time=np.array([3.0, 12.0, np.inf]), parent=np.array([-1, 0, -2]))
    >>> seen, later = split_at(c, 10.0)
    >>> seen.time.tolist(), seen.parent.tolist(), later.tolist()
    ([3.0, inf, inf], [-1, -2, -2], [inf, 12.0, inf])
    """
    inside = churn.time < days
    seen = Cascade(
        time=np.where(inside, churn.time, np.inf),
        parent=np.where(inside, churn.parent, NONE).astype(np.int64),
    )
    return seen, np.where(inside, np.inf, churn.time)
