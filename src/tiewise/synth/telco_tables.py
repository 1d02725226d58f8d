"""Files of the telecom generator: the company's data and the hidden ground truth.

Data (``out/``): ``interactions``, ``customers``, ``transactions``, ``adoptions``, ``churn``,
and (with ``TelcoParams.conversations`` > 0) ``conversations`` and ``identities``.
Truth (``out/truth/``): ``nodes``, ``edges``, ``adoption_causes``, ``conversation_truth`` and
``params.json``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tiewise.shared import DAYS_PER_MONTH
from tiewise.synth._types import FloatArray, IntArray
from tiewise.synth.cascade import SPONTANEOUS
from tiewise.synth.conversations import ConversationTables, generate_conversations
from tiewise.synth.params import SynthResult
from tiewise.synth.population import PLANS, SEGMENTS, SUPER_DEGREE
from tiewise.synth.records import DAY
from tiewise.synth.world import World, day_start, monthly_bills_of, take_ids
from tiewise.synth.writer import INTERACTIONS_SCHEMA, Format, write_chunked, write_json, write_table

__all__ = ["labels", "write_data", "write_truth"]


def labels(index: IntArray, names: tuple[str, ...] | list[str]) -> pa.Array:
    """Strings ``names[index]`` as a plain Arrow string array.

    Examples
    --------
    >>> labels(np.array([1, 0]), ("a", "b")).to_pylist()
    ['b', 'a']
    """
    dictionary = pa.array(list(names), type=pa.string())
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(index, dtype=np.int32)), dictionary
    ).cast(pa.string())


def _seconds(days: FloatArray, total_days: int, *, up: bool) -> IntArray:
    """Whole seconds since the window start for times in days, kept inside the window."""
    raw = np.ceil(days * DAY) if up else np.floor(days * DAY)
    return np.clip(raw, 0, total_days * DAY - 1).astype(np.int64)


def _timestamps(start_s: int, seconds: IntArray) -> pa.Array:
    return pa.array(start_s + np.asarray(seconds, dtype=np.int64), type=pa.timestamp("s"))


def _interactions(world: World, path: Path, fmt: Format) -> int:
    rec, ids = world.records, world.ids
    start_s = day_start(world.params.start)

    def build(pos: IntArray) -> pa.Table:
        duration = rec.duration[pos]
        return pa.table(
            {
                "from_id": ids.take(pa.array(rec.src[pos])),
                "to_id": ids.take(pa.array(rec.dst[pos])),
                "timestamp": _timestamps(start_s, rec.t[pos]),
                "channel": labels(rec.sms[pos].astype(np.int32), ("voice", "sms")),
                "duration_s": pa.array(duration, type=pa.int32(), mask=duration < 0),
            },
            schema=INTERACTIONS_SCHEMA,
        )

    return write_chunked(path, INTERACTIONS_SCHEMA, fmt, rec.n, build)


def _customers(world: World) -> pa.Table:
    pop, subs = world.pop, world.subscribers
    start = np.datetime64(world.params.start.isoformat(), "D")
    signup = start - pop.tenure_days[subs].astype("timedelta64[D]")
    table = pa.table(
        {
            "customer_id": world.ids.take(pa.array(subs)),
            "on_network": pa.array(np.ones(subs.shape[0], dtype=bool)),
            "segment": labels(pop.segment[subs], SEGMENTS),
            "signup_date": pa.array(signup, type=pa.date32()),
            "plan": labels(pop.plan[subs], PLANS),
            "monthly_fee": pa.array(pop.monthly_fee[subs], type=pa.float64()),
        }
    )
    return table.sort_by("customer_id")


def _adoption_rows(world: World) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Adopter (local), product index, second of adoption, infector (local or -1)."""
    who, item, sec, infector = [], [], [], []
    for j, cascade in enumerate(world.adoptions):
        idx = np.flatnonzero(cascade.active)
        who.append(idx)
        item.append(np.full(idx.shape[0], j, dtype=np.int64))
        sec.append(_seconds(cascade.time[idx], world.params.days, up=False))
        parent = cascade.parent[idx]
        infector.append(np.where(parent == SPONTANEOUS, -1, parent))
    if not who:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    w, i, s, f = (np.concatenate(x) for x in (who, item, sec, infector))
    order = np.lexsort((i, w, s))
    return w[order], i[order], s[order], f[order]


def _transactions(world: World) -> pa.Table:
    bills = monthly_bills_of(world)
    who, item, sec, _ = _adoption_rows(world)
    price = np.array([p.price for p in world.products])
    cats = [*world.params.categories, "bill"]
    cat_index = np.array([p.category_index for p in world.products], dtype=np.int64)
    customer = np.concatenate([bills.customer, who])
    seconds = np.concatenate([bills.day * DAY, sec])
    amount = np.concatenate([bills.amount, price[item] if item.size else np.zeros(0)])
    category = np.concatenate([np.full(bills.customer.shape[0], len(cats) - 1), cat_index[item]])
    ids = world.ids.take(pa.array(world.subscribers[customer]))
    table = pa.table(
        {
            "customer_id": ids,
            "timestamp": _timestamps(day_start(world.params.start), seconds),
            "amount": pa.array(amount, type=pa.float64()),
            "category": labels(category, cats),
        }
    )
    return table.sort_by([("timestamp", "ascending"), ("customer_id", "ascending")])


def _adoptions(world: World) -> pa.Table:
    who, item, sec, _ = _adoption_rows(world)
    names = [p.name for p in world.products]
    cat_of = np.array([p.category_index for p in world.products], dtype=np.int64)
    return pa.table(
        {
            "customer_id": world.ids.take(pa.array(world.subscribers[who])),
            "item": labels(item, names),
            "category": labels(cat_of[item] if item.size else item, world.params.categories),
            "timestamp": _timestamps(day_start(world.params.start), sec),
        }
    )


def _churned(world: World) -> tuple[IntArray, IntArray]:
    idx = np.flatnonzero(world.churn.active)
    sec = _seconds(world.churn.time[idx], world.params.days, up=True)
    order = np.lexsort((idx, sec))
    return idx[order], sec[order]


def _churn(world: World) -> pa.Table:
    idx, sec = _churned(world)
    return pa.table(
        {
            "customer_id": world.ids.take(pa.array(world.subscribers[idx])),
            "timestamp": _timestamps(day_start(world.params.start), sec),
        }
    )


def write_data(world: World, out: Path, fmt: Format, result: SynthResult) -> None:
    """Write the data files a company would have.

    Parameters
    ----------
    world
        The generated world.
    out
        Output directory.
    fmt
        ``"parquet"`` or ``"csv"``.
    result
        Filled with the paths and row counts.
    """
    path = out / f"interactions.{fmt}"
    result.files["interactions"] = path
    result.counts["interactions"] = _interactions(world, path, fmt)
    builders = {
        "customers": _customers,
        "transactions": _transactions,
        "adoptions": _adoptions,
        "churn": _churn,
    }
    for name, build in builders.items():
        path = out / f"{name}.{fmt}"
        result.files[name] = path
        result.counts[name] = write_table(build(world), path, fmt)
    talk = conversation_tables(world)
    if talk is not None:
        for name, table in (
            ("conversations", talk.conversations),
            ("identities", talk.identities),
        ):
            path = out / f"{name}.{fmt}"
            result.files[name] = path
            result.counts[name] = write_table(table, path, fmt)


def conversation_tables(world: World) -> ConversationTables | None:
    """The world's conversations (None when ``TelcoParams.conversations`` is 0)."""
    params = world.params
    if params.conversations <= 0:
        return None
    return generate_conversations(
        seed=params.seed,
        days=params.days,
        start_s=day_start(params.start),
        share=params.conversations,
        subscribers=world.subscribers,
        churn_days=world.churn.time,
        future_churn_days=world.future_churn,
        persons=world.pop.n,
        edges=(world.graph.a, world.graph.b),
        ids=world.ids,
    )


def _node_index(world: World) -> IntArray:
    """Global indices of the truth nodes: subscribers and visible others, then services."""
    pop = world.pop
    seen = pop.on_network.copy()
    seen[world.graph.a] = True
    seen[world.graph.b] = True
    return np.concatenate(
        [np.flatnonzero(seen), pop.n + np.arange(world.n_service, dtype=np.int64)]
    )


def _degrees(world: World) -> IntArray:
    """Degree of every global node in the truth graph (social and service ties)."""
    size = world.pop.n + world.n_service
    ends = (world.graph.a, world.graph.b, world.service_a, world.service_b)
    return sum((np.bincount(e, minlength=size) for e in ends), np.zeros(size, dtype=np.int64))


def _nodes(world: World) -> pa.Table:
    pop, n = world.pop, world.pop.n
    node = _node_index(world)
    person = node < n
    pidx = np.where(person, node, 0)
    local = np.full(n + world.n_service, -1, dtype=np.int64)
    local[world.subscribers] = np.arange(world.subscribers.shape[0])
    lidx = local[node]
    sub = lidx >= 0
    churned = np.zeros(node.shape[0], dtype=bool)
    churned[sub] = world.churn.active[lidx[sub]]
    sec = np.zeros(node.shape[0], dtype=np.int64)
    sec[churned] = _seconds(world.churn.time[lidx[churned]], world.params.days, up=True)
    parent = np.full(node.shape[0], -1, dtype=np.int64)
    parent[churned] = world.churn.parent[lidx[churned]]
    cause = np.where(parent == SPONTANEOUS, 0, 1)
    infector = np.where(churned & (parent >= 0), world.subscribers[np.maximum(parent, 0)], -1)

    def per_person(values: FloatArray) -> pa.Array:
        return pa.array(values[pidx], type=pa.float64(), mask=~person)

    columns: dict[str, Any] = {
        "id": world.ids.take(pa.array(node)),
        "on_network": pa.array(person & pop.on_network[pidx]),
        "is_service": pa.array(~person),
        "community": pa.array(np.where(person, pop.community[pidx], -1), type=pa.int64()),
        "influence": per_person(pop.influence),
        "susceptibility": per_person(pop.susceptibility),
    }
    for c, cat in enumerate(world.params.categories):
        columns[f"taste_{cat}"] = per_person(world.taste[:, c])
    columns["true_degree"] = pa.array(_degrees(world)[node], type=pa.int64())
    columns["churn_time"] = pa.array(
        day_start(world.params.start) + sec, type=pa.timestamp("s"), mask=~churned
    )
    columns["churn_cause"] = pa.DictionaryArray.from_arrays(
        pa.array(cause.astype(np.int32), mask=~churned), pa.array(["spontaneous", "contagion"])
    ).cast(pa.string())
    columns["churn_infector"] = take_ids(world.ids, infector)
    return pa.table(columns)


def _edges(world: World) -> pa.Table:
    g, n_svc = world.graph, world.service_a.shape[0]
    a = np.concatenate([g.a, world.service_a])
    b = np.concatenate([g.b, world.service_b])
    return pa.table(
        {
            "a": world.ids.take(pa.array(a)),
            "b": world.ids.take(pa.array(b)),
            "strength": pa.array(np.concatenate([world.ties.strength, np.zeros(n_svc)])),
            "internal": pa.array(np.concatenate([g.internal, np.zeros(n_svc, dtype=bool)])),
            "records": pa.array(
                np.concatenate([world.social_counts, world.service_records]), type=pa.int64()
            ),
        }
    )


def _adoption_causes(world: World) -> pa.Table:
    who, item, sec, infector = _adoption_rows(world)
    names = [p.name for p in world.products]
    cause = (infector >= 0).astype(np.int32)
    global_infector = np.where(infector >= 0, world.subscribers[np.maximum(infector, 0)], -1)
    return pa.table(
        {
            "customer_id": world.ids.take(pa.array(world.subscribers[who])),
            "item": labels(item, names),
            "timestamp": _timestamps(day_start(world.params.start), sec),
            "cause": labels(cause, ("spontaneous", "influence")),
            "infector": take_ids(world.ids, global_infector),
        }
    )


def write_truth(world: World, out: Path, result: SynthResult) -> None:
    """Write the hidden ground truth (always Parquet) and ``params.json``.

    Parameters
    ----------
    world
        The generated world.
    out
        The ``truth`` directory.
    result
        Filled with the paths and row counts.
    """
    builders = {"nodes": _nodes, "edges": _edges, "adoption_causes": _adoption_causes}
    for name, build in builders.items():
        path = out / f"{name}.parquet"
        result.truth_files[name] = path
        result.counts[name] = write_table(build(world), path, "parquet")
    talk = conversation_tables(world)
    if talk is not None:
        path = out / "conversation_truth.parquet"
        result.truth_files["conversation_truth"] = path
        result.counts["conversation_truth"] = write_table(talk.truth, path, "parquet")
    path = out / "params.json"
    write_json({"params": world.params.as_dict(), "realised": realised_stats(world)}, path)
    result.truth_files["params"] = path


def _percentiles(values: IntArray | FloatArray) -> dict[str, float]:
    if values.size == 0:
        return {}
    qs = (10, 25, 50, 75, 90, 99, 99.9)
    return {f"p{q:g}": float(v) for q, v in zip(qs, np.percentile(values, qs), strict=True)}


def _offnet_share(world: World) -> float:
    on, g = world.pop.on_network, world.graph
    a_on, b_on = on[g.a], on[g.b]
    contacts = 2 * int((a_on & b_on).sum()) + int((a_on ^ b_on).sum())
    return float((a_on ^ b_on).sum()) / max(contacts, 1)


def _stats_graph(world: World) -> dict[str, Any]:
    pop, g = world.pop, world.graph
    social = np.bincount(g.a, minlength=pop.n) + np.bincount(g.b, minlength=pop.n)
    subs = social[world.subscribers]
    return {
        "persons_total": pop.n,
        "subscribers": int(world.subscribers.shape[0]),
        "offnet_persons_visible": int(
            (np.bincount(np.concatenate([g.a, g.b]), minlength=pop.n)[~pop.on_network] > 0).sum()
        ),
        "service_numbers": world.n_service,
        "social_edges": g.m,
        "mixing": float(1.0 - g.internal.mean()) if g.m else 0.0,
        "offnet_share": _offnet_share(world),
        "mean_contacts_subscribers": float(subs.mean()),
        "degree_percentiles_subscribers": _percentiles(subs),
        "max_degree": int(social.max()),
        "people_over_1000_contacts": int((social > SUPER_DEGREE).sum()),
        "communities": int(pop.sizes.shape[0]),
        "community_size_percentiles": _percentiles(pop.sizes),
        "max_community_size": int(pop.sizes.max()),
    }


def _stats_records(world: World) -> dict[str, Any]:
    rec, n = world.records, world.pop.n
    service = (rec.src >= n) | (rec.dst >= n)
    from_sub = service & (rec.src < n)
    per_svc = np.bincount(world.service_a - n, minlength=world.n_service)
    return {
        "records": rec.n,
        "records_per_customer": rec.n / max(1, world.subscribers.shape[0]),
        "voice": int((~rec.sms).sum()),
        "sms": int(rec.sms.sum()),
        "service_records": int(service.sum()),
        "service_reciprocity": float(from_sub.sum() / max(1, service.sum())),
        "service_distinct_callees": [int(x) for x in per_svc],
    }


def _stats_cascades(world: World) -> dict[str, Any]:
    subs = world.subscribers.shape[0]
    adoption: dict[str, Any] = {}
    for p, cascade in zip(world.products, world.adoptions, strict=True):
        active = cascade.active
        own = int((active & (cascade.parent == SPONTANEOUS)).sum())
        total = int(active.sum())
        adoption[p.name] = {
            "spontaneous": own,
            "influence": total - own,
            "total": total,
            "share_of_subscribers": total / subs,
            "virality": p.virality,
            "base_rate": p.base_rate,
            "price": p.price,
        }
    c = world.churn
    own = int((c.active & (c.parent == SPONTANEOUS)).sum())
    total = int(c.active.sum())
    months = world.params.days / DAYS_PER_MONTH
    churn = {
        "spontaneous": own,
        "contagion": total - own,
        "total": total,
        "monthly_rate": 1.0 - (1.0 - total / subs) ** (1.0 / months),
    }
    totals = {
        "spontaneous": sum(v["spontaneous"] for v in adoption.values()),
        "influence": sum(v["influence"] for v in adoption.values()),
    }
    return {"adoption_by_product": adoption, "adoption_by_cause": totals, "churn": churn}


def realised_stats(world: World) -> dict[str, Any]:
    """Statistics of what was actually generated (stored in ``params.json``).

    Parameters
    ----------
    world
        The generated world.

    Returns
    -------
    dict
        JSON-ready statistics: graph, records, adoption and churn.
    """
    stats = {**_stats_graph(world), **_stats_records(world), **_stats_cascades(world)}
    return _clean(stats)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value
