"""Product adoption: homophily (shared community tastes) plus social influence.

Each person has a taste per product category: a community-level component (weighted by
``homophily``) plus individual noise, standardised.  A subscriber adopts a product spontaneously
with a logistic probability increasing in that taste, at a uniform time in the window, so
friends adopt the same things without influencing each other.  On top, an adopter ``u``
converts each subscriber contact ``v`` with probability
``1 - exp(-k * influence * virality_j * influence_u * susceptibility_v * pull(strength))``
(at most 0.5) after a gamma delay with mean 7 days.  Influence stops at churn: a subscriber who
left can neither adopt nor convert.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tiewise.synth._types import FloatArray, IntArray
from tiewise.synth.cascade import Cascade, run_cascade
from tiewise.synth.churn import MAX_PROBABILITY, tie_pull

__all__ = ["Product", "intercept_for_rate", "make_products", "simulate_adoption", "tastes"]

_TASTE_EFFECT = 1.5  # logit slope of spontaneous adoption on taste
_CONTAGION = 0.17  # transmission rate scale at influence = 1 and virality = 1
_DELAY_SHAPE, _DELAY_MEAN = 2.0, 7.0
_MIN_DELAY = 1.0 / 24.0  # an hour at least between two adoptions
_VIRALITY = (1.0, 0.15)  # alternating: social products and mostly spontaneous ones
_PRICES = {"devices": 349.0, "streaming": 59.0, "roaming": 25.0}
_DEFAULT_PRICE = 49.0


@dataclass(frozen=True)
class Product:
    """An adoptable product.

    Attributes
    ----------
    name
        E.g. ``"p0_devices"``.
    category
        Its category.
    category_index
        Position of the category in the parameters' ``categories``.
    virality
        Multiplier of the contagion (1 = social product, 0.15 = mostly spontaneous).
    base_rate
        Share of subscribers who would adopt spontaneously within the window.
    price
        One-off purchase price.
    """

    name: str
    category: str
    category_index: int
    virality: float
    base_rate: float
    price: float


def make_products(
    rng: np.random.Generator, products: int, categories: tuple[str, ...], days: int
) -> list[Product]:
    """Define the products, spread round-robin over the categories.

    Parameters
    ----------
    rng
        Random generator (spontaneous rates and prices).
    products
        Number of products.
    categories
        Category names.
    days
        Window length; spontaneous rates are per 90 days and scale with the window.

    Returns
    -------
    list of Product
        Products ``p0_<cat0>, p1_<cat1>, ...``; even ones are social, odd ones mostly
        spontaneous.
    """
    rates = rng.uniform(0.05, 0.10, size=products)
    price_noise = rng.uniform(0.8, 1.25, size=products)
    scale = min(1.0, days / 90.0) ** 0.5
    out = []
    for j in range(products):
        cat = categories[j % len(categories)]
        out.append(
            Product(
                name=f"p{j}_{cat}",
                category=cat,
                category_index=j % len(categories),
                virality=_VIRALITY[j % 2],
                base_rate=float(rates[j] * scale),
                price=round(_PRICES.get(cat, _DEFAULT_PRICE) * float(price_noise[j]), 2),
            )
        )
    return out


def tastes(
    rng: np.random.Generator,
    community: IntArray,
    n_comm: int,
    n_categories: int,
    homophily: float,
) -> FloatArray:
    """Standard-normal tastes per person and category with a community component.

    The community share of the taste variance is ``h^2 / (1 + h^2)`` for homophily ``h``.

    Parameters
    ----------
    rng
        Random generator.
    community
        Community per person.
    n_comm
        Number of communities.
    n_categories
        Number of categories.
    homophily
        Weight of the community component.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(persons, categories)``.
    """
    shared = rng.standard_normal((n_comm, n_categories))
    own = rng.standard_normal((community.shape[0], n_categories))
    return (homophily * shared[community] + own) / math.sqrt(1.0 + homophily**2)


def intercept_for_rate(rate: float, slope: float) -> float:
    """Logit intercept ``a`` with ``E[sigmoid(a + slope * Z)] = rate`` for standard normal Z.

    Examples
    --------
    >>> abs(round(intercept_for_rate(0.5, 1.5), 6))
    0.0
    """
    z, w = np.polynomial.hermite_e.hermegauss(48)
    w = w / w.sum()
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float(w @ (0.5 * (1.0 + np.tanh(0.5 * (mid + slope * z))))) < rate:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def simulate_adoption(
    rng: np.random.Generator,
    product: Product,
    taste: FloatArray,
    influence: FloatArray,
    susceptibility: FloatArray,
    src: IntArray,
    dst: IntArray,
    strength: FloatArray,
    days: int,
    scale: float,
    deadline: FloatArray,
) -> Cascade:
    """Adoption times and causes of one product among the subscribers.

    Parameters
    ----------
    rng
        Random generator.
    product
        The product.
    taste
        Each subscriber's taste for the product's category.
    influence, susceptibility
        Hidden traits per subscriber.
    src, dst, strength
        Directed subscriber ties and their strength.
    days
        Window length.
    scale
        The ``influence`` parameter (0 = no social influence at all).
    deadline
        Churn time per subscriber (``inf`` if none).

    Returns
    -------
    Cascade
        Adoption time (days) and infector per subscriber.
    """
    n = taste.shape[0]
    a = intercept_for_rate(product.base_rate, _TASTE_EFFECT)
    p_own = 0.5 * (1.0 + np.tanh(0.5 * (a + _TASTE_EFFECT * taste)))
    seeds = np.flatnonzero(rng.random(n) < p_own)
    seed_time = rng.uniform(0.0, days, size=seeds.shape[0])
    rate = (
        _CONTAGION
        * scale
        * product.virality
        * influence[src]
        * susceptibility[dst]
        * tie_pull(strength)
    )
    prob = np.minimum(MAX_PROBABILITY, -np.expm1(-rate))
    live = rng.random(prob.shape[0]) < prob
    delay = np.maximum(
        rng.gamma(_DELAY_SHAPE, _DELAY_MEAN / _DELAY_SHAPE, size=int(live.sum())), _MIN_DELAY
    )
    return run_cascade(
        n, seeds, seed_time, src[live], dst[live], delay, horizon=days, deadline=deadline
    )
