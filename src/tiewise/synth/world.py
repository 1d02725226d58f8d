"""The generated telecom world, in memory: :func:`build_world`.

Steps (each a module of this package): people and communities (:mod:`.population`), the
LFR-style contact graph (:mod:`.network`), tie strengths (:mod:`.ties`), contagious churn
(:mod:`.churn`), product adoption with homophily and influence (:mod:`.adoption`), interaction
records (:mod:`.records`) and bills (:mod:`.revenue`).  The operator only sees ties with at
least one subscriber, so ties between two people of other operators are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiewise.synth._rng import stream
from tiewise.synth._types import BoolArray, FloatArray, IntArray
from tiewise.synth.adoption import Product, make_products, simulate_adoption, tastes
from tiewise.synth.cascade import Cascade
from tiewise.synth.churn import LOOKAHEAD_DAYS, ChurnInputs, simulate_churn, split_at
from tiewise.synth.ids import phone_numbers
from tiewise.synth.network import Graph, lfr_graph
from tiewise.synth.params import TelcoParams
from tiewise.synth.population import SEGMENTS, Population, make_population
from tiewise.synth.records import (
    PROFILE_BUSINESS,
    PROFILE_PERSONAL,
    PROFILE_YOUTH,
    SERVICE_CALLS_PER_CALLEE,
    Records,
    SocialTies,
    retention,
    service_reach,
    service_records,
    social_records,
)
from tiewise.synth.revenue import Bills, monthly_bills
from tiewise.synth.ties import Ties, tie_strengths

__all__ = [
    "Progress",
    "World",
    "build_world",
    "day_start",
    "monthly_bills_of",
    "take_ids",
    "time_order",
]

Progress = Callable[[str, float], None]


@dataclass
class World:
    """Everything generated, before it is written.

    Attributes
    ----------
    params
        The parameters.
    pop
        The persons.
    graph, ties
        Visible social ties (at least one subscriber) and their strengths.
    subscribers
        Person index of each subscriber (local index = position).
    churn
        Churn cascade over the subscribers (inside the window: what the data shows).
    future_churn
        Churn time of each subscriber who leaves in the :data:`.churn.LOOKAHEAD_DAYS` after the
        window (``inf`` otherwise): hidden truth, only their warnings show in the data.
    products, adoptions
        Products and their adoption cascades over the subscribers.
    taste
        Taste per person and category.
    n_service
        Number of service numbers (global indices ``pop.n ..``).
    service_a, service_b, service_records
        Service ties (service node, subscriber node) and their realised records.
    social_counts
        Realised records per social tie.
    records
        All records, sorted by time.
    ids
        Phone number of every global node index.
    """

    params: TelcoParams
    pop: Population
    graph: Graph
    ties: Ties
    subscribers: IntArray
    churn: Cascade
    future_churn: FloatArray
    products: list[Product]
    adoptions: list[Cascade]
    taste: FloatArray
    n_service: int
    service_a: IntArray
    service_b: IntArray
    service_records: IntArray
    social_counts: IntArray
    records: Records
    ids: pa.StringArray


def _visible(graph: Graph, on: BoolArray) -> Graph:
    keep = on[graph.a] | on[graph.b]
    return Graph(a=graph.a[keep], b=graph.b[keep], internal=graph.internal[keep])


def _subscriber_ties(
    graph: Graph, ties: Ties, local: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Directed subscriber-to-subscriber ties (both directions) in local indices."""
    both = (local[graph.a] >= 0) & (local[graph.b] >= 0)
    u, v = local[graph.a[both]], local[graph.b[both]]
    s = ties.strength[both]
    return np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([s, s])


def _tie_profiles(segment: IntArray, graph: Graph) -> IntArray:
    sa, sb = segment[graph.a], segment[graph.b]
    youth, business = SEGMENTS.index("youth"), SEGMENTS.index("business")
    return np.where(
        (sa == business) & (sb == business),
        PROFILE_BUSINESS,
        np.where((sa == youth) | (sb == youth), PROFILE_YOUTH, PROFILE_PERSONAL),
    ).astype(np.int64)


def _global_ids(seed: int, on: BoolArray, n_service: int) -> pa.StringArray:
    """Phone number of every global node index (persons, then service numbers)."""
    n = on.shape[0]
    n_on = int(on.sum())
    phones = phone_numbers(stream(seed, "ids"), n_on, n - n_on, n_service)
    position = np.empty(n + n_service, dtype=np.int64)
    position[np.flatnonzero(on)] = np.arange(n_on)
    position[np.flatnonzero(~on)] = n_on + np.arange(n - n_on)
    position[n:] = n + np.arange(n_service)
    return phones.take(pa.array(position))


def _record_scale(
    target: float, strength: FloatArray, keep: FloatArray, service_expected: float
) -> float:
    """Records per unit of strength so that the expected total hits ``target``."""
    social_target = target - service_expected - float(keep.sum())
    return max(0.0, social_target / max(float((strength * keep).sum()), 1e-12))


def build_world(params: TelcoParams, report: Progress) -> World:
    """Generate the whole telecom world in memory.

    Parameters
    ----------
    params
        Parameters.
    report
        Progress callback.

    Returns
    -------
    World
        The generated world, records sorted by time.
    """
    seed, days = params.seed, params.days
    report("population", 0.0)
    pop = make_population(
        stream(seed, "population"),
        params.customers,
        params.offnet_share,
        params.mixing,
        params.mean_contacts,
    )
    report("graph", 0.05)
    graph = _visible(
        lfr_graph(stream(seed, "graph"), pop.degree, pop.community, pop.sizes, params.mixing),
        pop.on_network,
    )
    ties = tie_strengths(stream(seed, "ties"), graph, pop.n)
    subscribers = np.flatnonzero(pop.on_network)
    local = np.full(pop.n, -1, dtype=np.int64)
    local[subscribers] = np.arange(subscribers.shape[0])
    src, dst, strength = _subscriber_ties(graph, ties, local)

    report("churn", 0.2)
    churn, future_churn = split_at(
        simulate_churn(
            stream(seed, "churn"),
            ChurnInputs(
                plan=pop.plan[subscribers],
                segment=pop.segment[subscribers],
                tenure_days=pop.tenure_days[subscribers],
                src=src,
                dst=dst,
                strength=strength,
            ),
            days,
            params.churn_contagion,
            lookahead=LOOKAHEAD_DAYS,
        ),
        days,
    )

    report("adoption", 0.25)
    taste = tastes(
        stream(seed, "taste"),
        pop.community,
        pop.sizes.shape[0],
        len(params.categories),
        params.homophily,
    )
    products = make_products(stream(seed, "products"), params.products, params.categories, days)
    adoptions = [
        simulate_adoption(
            stream(seed, f"adoption/{p.name}"),
            p,
            taste[subscribers, p.category_index],
            pop.influence[subscribers],
            pop.susceptibility[subscribers],
            src,
            dst,
            strength,
            days,
            params.influence,
            churn.time,
        )
        for p in products
    ]
    del src, dst, strength

    report("interactions", 0.35)
    churn_person = np.full(pop.n, np.inf)
    churn_person[subscribers] = churn.time
    first_weekday = params.start.weekday()
    n_service = params.n_service
    reach = service_reach(stream(seed, "service"), n_service, params.customers)
    service_ids = pop.n + np.arange(n_service, dtype=np.int64)
    svc_recs, svc_a, svc_b, svc_counts = service_records(
        stream(seed, "service-records"),
        service_ids,
        reach,
        subscribers,
        churn.time,
        days,
        first_weekday,
    )
    keep = retention(churn_person[graph.a], days) * retention(churn_person[graph.b], days)
    service_expected = SERVICE_CALLS_PER_CALLEE * float(retention(churn_person[svc_b], days).sum())
    scale = _record_scale(
        params.records_per_customer * params.customers, ties.strength, keep, service_expected
    )
    social = SocialTies(
        a=graph.a,
        b=graph.b,
        strength=ties.strength,
        z=ties.z,
        profile=_tie_profiles(pop.segment, graph),
        churn_a=churn_person[graph.a],
        churn_b=churn_person[graph.b],
    )
    del keep
    recs, social_counts = social_records(
        stream(seed, "records"), social, scale, days, first_weekday
    )
    report("sorting", 0.6)
    records = _sorted(Records.concat([recs, svc_recs]))
    del recs, svc_recs
    return World(
        params=params,
        pop=pop,
        graph=graph,
        ties=ties,
        subscribers=subscribers,
        churn=churn,
        future_churn=future_churn,
        products=products,
        adoptions=adoptions,
        taste=taste,
        n_service=n_service,
        service_a=svc_a,
        service_b=svc_b,
        service_records=svc_counts,
        social_counts=social_counts,
        records=records,
        ids=_global_ids(seed, pop.on_network, n_service),
    )


def _sorted(records: Records) -> Records:
    order = time_order(records.t)
    return Records(
        src=records.src[order],
        dst=records.dst[order],
        t=records.t[order],
        sms=records.sms[order],
        duration=records.duration[order],
    )


def time_order(t: IntArray) -> IntArray:
    """Stable sort order of non-negative integer times (packs time and position in one key).

    Examples
    --------
    >>> time_order(np.array([5, 1, 5, 0])).tolist()
    [3, 1, 0, 2]
    """
    n = t.shape[0]
    bits = max(1, int(n).bit_length())
    key = (t.astype(np.int64) << bits) | np.arange(n, dtype=np.int64)
    key.sort()
    return key & ((1 << bits) - 1)


def monthly_bills_of(world: World) -> Bills:
    """Bills of all subscribers, from their realised activity."""
    pop, rec = world.pop, world.records
    n_nodes = pop.n + world.n_service
    local = np.full(n_nodes, -1, dtype=np.int64)
    local[world.subscribers] = np.arange(world.subscribers.shape[0])
    subs = world.subscribers
    return monthly_bills(
        stream(world.params.seed, "bills"),
        world.params.start,
        world.params.days,
        pop.plan[subs],
        pop.monthly_fee[subs],
        world.churn.time,
        local[rec.src],
        local[rec.dst],
        rec.t // 86_400,
    )


def day_start(start: dt.date) -> int:
    """Epoch seconds of the window start (naive UTC)."""
    return (start - dt.date(1970, 1, 1)).days * 86_400


def take_ids(ids: pa.StringArray, index: IntArray) -> pa.Array:
    """Ids at the given global indices (``-1`` gives null)."""
    mask = index < 0
    safe = np.where(mask, 0, index)
    taken = ids.take(pa.array(safe))
    if mask.any():
        return pc.if_else(pa.array(~mask), taken, pa.scalar(None, pa.string()))
    return taken
