"""The business-to-business generator: :func:`generate_b2b`.

A vendor sells to ``accounts`` (companies); each account has contacts (people) who e-mail and
meet their colleagues (a heavy-tailed LFR-style graph inside each account) and, rarely, people
in other accounts (partners, former colleagues).  Every contact has a hidden *advocacy* trait
(an account-level component plus an individual one) and a role.  Advocacy drives references,
high survey scores, live events, e-mail forwards, referrals of new prospects and, through the
account's mean advocacy, expansion revenue; ``advocacy_effect = 0`` switches all of that off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiewise.exceptions import InputError
from tiewise.synth._rng import stream
from tiewise.synth._types import FloatArray, IntArray
from tiewise.synth.ids import digits
from tiewise.synth.network import Graph, lfr_graph
from tiewise.synth.params import B2BParams, SynthResult
from tiewise.synth.records import (
    DAY,
    PROFILE_BUSINESS,
    PROFILE_SERVICE,
    draw_days,
    draw_hours,
)
from tiewise.synth.telco import prepare_dir, quiet
from tiewise.synth.telco_tables import labels
from tiewise.synth.world import Progress, day_start, time_order
from tiewise.synth.writer import INTERACTIONS_SCHEMA, Format, write_json, write_table

__all__ = ["EVENT_TYPES", "ROLES", "TIERS", "generate_b2b"]

ROLES = ("exec", "it", "user")
_ROLE_SHARES = (0.10, 0.25, 0.65)
_ROLE_DEGREE = np.array([1.5, 1.1, 0.9])
TIERS = ("starter", "professional", "enterprise")
_SEAT_FEE = np.array([19.0, 49.0, 119.0])
CHANNELS = ("email", "meeting", "referral")
_MEETING_SHARE = 0.12
_REFERRALS_PER_YEAR = 0.25
# event type: (events per contact-year, advocacy slope, role multipliers exec/it/user)
EVENT_TYPES: dict[str, tuple[float, float, tuple[float, float, float]]] = {
    "live_event": (0.8, 0.8, (1.5, 1.0, 0.8)),
    "web_visit": (12.0, 0.2, (0.6, 1.3, 1.0)),
    "support_query": (3.0, -0.4, (0.3, 2.0, 0.9)),
    "survey": (0.7, 0.0, (0.8, 1.0, 1.0)),
    "reference": (0.25, 1.3, (2.0, 1.0, 0.6)),
    "webinar": (1.5, 0.5, (0.5, 1.4, 1.0)),
    "whitepaper": (1.0, 0.3, (1.2, 1.3, 0.8)),
    "email_open": (25.0, 0.3, (0.7, 1.0, 1.1)),
    "email_click": (5.0, 0.5, (0.7, 1.1, 1.0)),
    "email_forward": (0.8, 1.0, (1.2, 1.0, 0.9)),
}


@dataclass(frozen=True)
class Contacts:
    """The contacts of all accounts (index order random).

    Attributes
    ----------
    account
        Account of each contact.
    sizes
        Contacts per account.
    role
        Index into :data:`ROLES`.
    seniority
        Latent seniority (higher for executives).
    advocacy
        Hidden advocacy trait (standard normal).
    tier
        Product tier of each account (index into :data:`TIERS`).
    account_tenure
        Days between each account's signup and the window start.
    """

    account: IntArray
    sizes: IntArray
    role: IntArray
    seniority: FloatArray
    advocacy: FloatArray
    tier: IntArray
    account_tenure: IntArray

    @property
    def n(self) -> int:
        """Number of contacts."""
        return int(self.account.shape[0])


def _account_sizes(rng: np.random.Generator, accounts: int, mean: float) -> IntArray:
    sigma = 0.9
    raw = mean * np.exp(sigma * rng.standard_normal(accounts) - sigma**2 / 2.0)
    return np.maximum(3, np.round(raw)).astype(np.int64)


def _contacts(rng: np.random.Generator, p: B2BParams) -> Contacts:
    sizes = _account_sizes(rng, p.accounts, p.contacts_per_account)
    account = rng.permutation(np.repeat(np.arange(p.accounts, dtype=np.int64), sizes))
    role = rng.choice(len(ROLES), size=int(account.shape[0]), p=_ROLE_SHARES).astype(np.int64)
    seniority = np.array([2.0, 1.0, 0.0])[role] + 0.5 * rng.standard_normal(account.shape[0])
    mood = 0.7 * rng.standard_normal(p.accounts)  # how happy each account is with the vendor
    advocacy = (mood[account] + rng.standard_normal(account.shape[0])) / math.sqrt(1.49)
    size_rank = np.log(sizes) + 0.5 * rng.standard_normal(p.accounts)
    tier = np.searchsorted(np.quantile(size_rank, [0.5, 0.85]), size_rank).astype(np.int64)
    tenure = np.minimum(rng.exponential(3 * 365.25, size=p.accounts), 15 * 365.25)
    return Contacts(
        account=account,
        sizes=sizes,
        role=role,
        seniority=seniority,
        advocacy=advocacy,
        tier=tier,
        account_tenure=tenure.astype(np.int64),
    )


def _colleague_graph(rng: np.random.Generator, c: Contacts, p: B2BParams) -> Graph:
    sigma = 0.8
    raw = p.mean_colleagues * np.exp(sigma * rng.standard_normal(c.n) - sigma**2 / 2.0)
    raw = raw * _ROLE_DEGREE[c.role] / float(np.mean(_ROLE_DEGREE[c.role]))
    # nobody has more colleagues than their account can hold (75% of it, as in the telco model)
    room = np.maximum(1.0, 0.75 * (c.sizes[c.account] - 1) / (1.0 - p.mixing))
    raw = np.minimum(raw, room)
    degree = np.clip(np.floor(raw + rng.random(c.n)), 1, None).astype(np.int64)
    return lfr_graph(rng, degree, c.account, c.sizes, p.mixing)


def _contact_ids(rng: np.random.Generator, c: Contacts) -> pa.StringArray:
    width = max(6, len(str(c.n)))
    number = rng.permutation(c.n)
    acct = _account_ids(c.sizes.shape[0]).take(pa.array(c.account))
    parts = [pa.scalar("c"), digits(number, width), pa.scalar("@"), acct, pa.scalar(".example")]
    return pc.binary_join_element_wise(*parts, "").cast(pa.string())


def _account_ids(n: int, offset: int = 0) -> pa.StringArray:
    width = max(4, len(str(offset + n)))
    body = digits(np.arange(offset, offset + n), width)
    return pc.binary_join_element_wise(pa.scalar("acct"), body, "").cast(pa.string())


@dataclass(frozen=True)
class B2BRecords:
    """Interactions of the contacts (global index: contacts, then prospects).

    Attributes
    ----------
    src, dst
        Initiator and receiver.
    t
        Seconds since the window start.
    channel
        Index into :data:`CHANNELS`.
    duration
        Meeting seconds, ``-1`` otherwise.
    """

    src: IntArray
    dst: IntArray
    t: IntArray
    channel: IntArray
    duration: IntArray


def _times(
    rng: np.random.Generator,
    n: int,
    days: int,
    first_weekday: int,
    profile: IntArray | None = None,
) -> IntArray:
    """Seconds since the window start: business days and hours (office hours for meetings)."""
    if profile is None:
        profile = np.full(n, PROFILE_BUSINESS, dtype=np.int64)
    day = draw_days(rng, rng.uniform(0.0, days, size=n), profile, first_weekday, days)
    return day * DAY + draw_hours(rng, profile) * 3600 + rng.integers(0, 3600, size=n)


def _colleague_records(
    rng: np.random.Generator, c: Contacts, g: Graph, p: B2BParams
) -> tuple[B2BRecords, IntArray]:
    z = rng.standard_normal(g.m)
    strength = np.exp(z + 0.8 * g.internal + 0.3 * (c.role[g.a] == c.role[g.b]))
    strength /= strength.mean()
    target = p.records_per_contact * c.n
    scale = max(0.0, (target - g.m) / max(float(strength.sum()), 1e-12))
    counts = 1 + rng.poisson(scale * strength)
    rec = np.repeat(np.arange(g.m), counts)
    share_a = rng.beta(2.0, 2.0, size=g.m)  # who writes more on this tie
    senior_a = c.seniority[g.a] > c.seniority[g.b]
    meeting = rng.random(rec.shape[0]) < _MEETING_SHARE
    # meetings are organised by the more senior person more often
    a_first = np.where(
        meeting,
        rng.random(rec.shape[0]) < np.where(senior_a[rec], 0.7, 0.3),
        rng.random(rec.shape[0]) < share_a[rec],
    )
    src = np.where(a_first, g.a[rec], g.b[rec])
    dst = np.where(a_first, g.b[rec], g.a[rec])
    minutes = rng.choice(
        np.array([15, 30, 45, 60, 90]), size=rec.shape[0], p=[0.15, 0.4, 0.1, 0.3, 0.05]
    )
    records = B2BRecords(
        src=src,
        dst=dst,
        t=_times(
            rng,
            rec.shape[0],
            p.days,
            p.start.weekday(),
            np.where(meeting, PROFILE_SERVICE, PROFILE_BUSINESS),
        ),
        channel=meeting.astype(np.int64),
        duration=np.where(meeting, minutes * 60, -1),
    )
    return records, counts


def _activity(c: Contacts, base: float, slope: float, effect: float, days: int) -> FloatArray:
    return base * days / 365.25 * np.exp(slope * effect * c.advocacy - (slope * effect) ** 2 / 2)


def _referrals(rng: np.random.Generator, c: Contacts, p: B2BParams) -> tuple[B2BRecords, IntArray]:
    """Referrals of new prospects; returns the records and each prospect's account id."""
    rate = _activity(c, _REFERRALS_PER_YEAR, 1.2, p.advocacy_effect, p.days)
    counts = rng.poisson(rate)
    who = np.repeat(np.arange(c.n), counts)
    k = who.shape[0]
    # prospects work at another customer account or at a new company
    other = (c.account[who] + rng.integers(1, p.accounts, size=k)) % p.accounts
    new_company = p.accounts + rng.integers(0, max(1, p.accounts), size=k)
    prospect_account = np.where(rng.random(k) < 0.5, other, new_company)
    records = B2BRecords(
        src=who,
        dst=c.n + np.arange(k),
        t=_times(rng, k, p.days, p.start.weekday()),
        channel=np.full(k, 2, dtype=np.int64),
        duration=np.full(k, -1, dtype=np.int64),
    )
    return records, prospect_account


def _engagement(rng: np.random.Generator, c: Contacts, p: B2BParams) -> pa.Table:
    who_parts, type_parts, value_parts = [], [], []
    for j, (name, (base, slope, role_mult)) in enumerate(EVENT_TYPES.items()):
        rate = _activity(c, base, slope, p.advocacy_effect, p.days) * np.array(role_mult)[c.role]
        counts = rng.poisson(rate)
        who = np.repeat(np.arange(c.n), counts)
        value: FloatArray
        if name == "survey":
            score = 6.5 + 1.8 * p.advocacy_effect * c.advocacy[who]
            value = np.clip(np.round(score + 1.2 * rng.standard_normal(who.shape[0])), 0, 10)
        elif name == "web_visit":
            value = 1.0 + rng.poisson(3.0, size=who.shape[0])
        else:
            value = np.ones(who.shape[0])
        who_parts.append(who)
        type_parts.append(np.full(who.shape[0], j, dtype=np.int64))
        value_parts.append(value.astype(np.float64))
    who = np.concatenate(who_parts)
    kind = np.concatenate(type_parts)
    value = np.concatenate(value_parts)
    t = _times(rng, who.shape[0], p.days, p.start.weekday())
    order = time_order(t)
    return pa.table(
        {
            "customer_id": pa.array(who[order]),
            "timestamp": pa.array(t[order]),
            "event_type": labels(kind[order], tuple(EVENT_TYPES)),
            "value": pa.array(value[order], type=pa.float64()),
        }
    )


def _account_members(c: Contacts) -> tuple[IntArray, IntArray]:
    """Contacts sorted by account, and the start of each account in that order."""
    order = np.argsort(c.account, kind="stable")
    starts = np.cumsum(c.sizes) - c.sizes
    return order, starts


def _pick_member(
    rng: np.random.Generator, c: Contacts, account: IntArray, score: FloatArray
) -> IntArray:
    """For each event of ``account``, the member with the highest ``score + Gumbel`` noise."""
    order, starts = _account_members(c)
    k = account.shape[0]
    best = np.full(k, -1, dtype=np.int64)
    best_val = np.full(k, -np.inf)
    for _ in range(3):  # best of three random members
        pos = starts[account] + (rng.random(k) * c.sizes[account]).astype(np.int64)
        cand = order[pos]
        val = score[cand] - np.log(-np.log(rng.random(k)))
        better = val > best_val
        best = np.where(better, cand, best)
        best_val = np.where(better, val, best_val)
    return best


def _transactions(rng: np.random.Generator, c: Contacts, p: B2BParams) -> pa.Table:
    n_acc = p.accounts
    years = p.days / 365.25
    seats = c.sizes * (1.0 + rng.gamma(2.0, 0.5, size=n_acc))
    annual = seats * _SEAT_FEE[c.tier] * 12.0
    # licence renewal once a year, at the account's anniversary
    renew_day = (-c.account_tenure) % 365
    lic_acc = np.flatnonzero(renew_day < p.days)
    lic_amount = annual[lic_acc] * np.exp(0.05 * rng.standard_normal(lic_acc.shape[0]))
    buyer_score = np.where(c.role == 0, 3.0, 0.0) + c.seniority
    lic_who = _pick_member(rng, c, lic_acc, buyer_score)
    # expansions follow the account's mean advocacy
    mean_adv = np.bincount(c.account, weights=c.advocacy, minlength=n_acc) / c.sizes
    rate = 0.6 * years * np.exp(1.2 * p.advocacy_effect * mean_adv)
    exp_acc = np.repeat(np.arange(n_acc), rng.poisson(rate))
    exp_amount = annual[exp_acc] * rng.lognormal(math.log(0.15), 0.6, size=exp_acc.shape[0])
    exp_who = _pick_member(rng, c, exp_acc, 1.5 * c.advocacy)
    svc_acc = np.repeat(np.arange(n_acc), rng.poisson(0.8 * years, size=n_acc))
    svc_amount = rng.lognormal(math.log(2500.0), 0.5, size=svc_acc.shape[0])
    svc_who = _pick_member(rng, c, svc_acc, np.where(c.role == 1, 2.0, 0.0))
    who = np.concatenate([lic_who, exp_who, svc_who])
    amount = np.round(np.concatenate([lic_amount, exp_amount, svc_amount]), 2)
    category = np.concatenate(
        [np.zeros(lic_who.shape[0]), np.ones(exp_who.shape[0]), np.full(svc_who.shape[0], 2)]
    ).astype(np.int64)
    day = np.concatenate(
        [renew_day[lic_acc], rng.integers(0, p.days, size=exp_who.shape[0] + svc_who.shape[0])]
    )
    t = day * DAY + rng.integers(9 * 3600, 17 * 3600, size=day.shape[0])
    order = time_order(t)
    return pa.table(
        {
            "customer_id": pa.array(who[order]),
            "timestamp": pa.array(t[order]),
            "amount": pa.array(amount[order], type=pa.float64()),
            "category": labels(category[order], ("license", "expansion", "services")),
        }
    )


def _with_ids(table: pa.Table, ids: pa.StringArray, start_s: int) -> pa.Table:
    """Replace the contact index and second columns by ids and timestamps."""
    who = table.column("customer_id").to_numpy()
    secs = table.column("timestamp").to_numpy()
    table = table.set_column(0, "customer_id", ids.take(pa.array(who)))
    return table.set_column(
        1, "timestamp", pa.array(start_s + secs.astype(np.int64), type=pa.timestamp("s"))
    )


def _customers(
    c: Contacts, ids: pa.StringArray, p: B2BParams, rng: np.random.Generator
) -> pa.Table:
    start = np.datetime64(p.start.isoformat(), "D")
    joined = (c.account_tenure[c.account] * rng.random(c.n)).astype(np.int64)
    discount = rng.choice(np.array([0.0, 0.1, 0.2]), size=c.n, p=[0.6, 0.3, 0.1])
    table = pa.table(
        {
            "customer_id": ids,
            "on_network": pa.array(np.ones(c.n, dtype=bool)),
            "account_id": _account_ids(p.accounts).take(pa.array(c.account)),
            "segment": labels(c.role, ROLES),
            "signup_date": pa.array(start - joined.astype("timedelta64[D]"), type=pa.date32()),
            "plan": labels(c.tier[c.account], TIERS),
            "monthly_fee": pa.array(np.round(_SEAT_FEE[c.tier[c.account]] * (1 - discount), 2)),
        }
    )
    return table.sort_by("customer_id")


def _interactions(recs: list[B2BRecords], ids: pa.StringArray, start_s: int) -> pa.Table:
    src = np.concatenate([r.src for r in recs])
    dst = np.concatenate([r.dst for r in recs])
    t = np.concatenate([r.t for r in recs])
    channel = np.concatenate([r.channel for r in recs])
    duration = np.concatenate([r.duration for r in recs]).astype(np.int32)
    o = time_order(t)
    return pa.table(
        {
            "from_id": ids.take(pa.array(src[o])),
            "to_id": ids.take(pa.array(dst[o])),
            "timestamp": pa.array(start_s + t[o].astype(np.int64), type=pa.timestamp("s")),
            "channel": labels(channel[o], CHANNELS),
            "duration_s": pa.array(duration[o], type=pa.int32(), mask=duration[o] < 0),
        },
        schema=INTERACTIONS_SCHEMA,
    )


def _prospect_ids(rng: np.random.Generator, account: IntArray, n_accounts: int) -> pa.Array:
    k = account.shape[0]
    number = rng.permutation(k)
    acct = _account_ids(2 * n_accounts).take(pa.array(account))
    parts = [
        pa.scalar("p"),
        digits(number, max(6, len(str(k)))),
        pa.scalar("@"),
        acct,
        pa.scalar(".example"),
    ]
    return pc.binary_join_element_wise(*parts, "").cast(pa.string())


def _spearman(x: FloatArray, y: FloatArray) -> float:
    def ranks(v: FloatArray) -> FloatArray:
        order = np.argsort(v, kind="stable")
        r = np.empty(v.shape[0])
        r[order] = np.arange(v.shape[0])
        # average ranks of ties
        _, inv, cnt = np.unique(v, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        return (sums / cnt)[inv]

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def generate_b2b(
    params: B2BParams,
    out: Path,
    *,
    fmt: Format = "parquet",
    progress: Progress | None = None,
) -> SynthResult:
    """Generate a B2B vendor's contact, interaction, engagement and order data with truth.

    Parameters
    ----------
    params
        Model parameters (see :class:`B2BParams`).
    out
        Output directory (created if missing).
    fmt
        Format of the data files: ``"parquet"`` or ``"csv"``.  Truth files are always Parquet.
    progress
        Optional callback ``progress(step_name, fraction)`` called at each major step.

    Returns
    -------
    SynthResult
        Paths of the written files and their row counts.

    Raises
    ------
    InputError
        If the parameters, the format or the output directory are unusable.
    """
    if not isinstance(params, B2BParams):
        raise InputError(f"params must be a B2BParams, got {type(params).__name__}")
    if fmt not in ("parquet", "csv"):
        raise InputError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out = prepare_dir(out)
    report: Progress = progress if progress is not None else quiet
    seed, p = params.seed, params
    report("contacts", 0.0)
    c = _contacts(stream(seed, "b2b/contacts"), p)
    report("graph", 0.2)
    g = _colleague_graph(stream(seed, "b2b/graph"), c, p)
    report("interactions", 0.4)
    colleague, edge_counts = _colleague_records(stream(seed, "b2b/records"), c, g, p)
    referral, prospect_acc = _referrals(stream(seed, "b2b/referrals"), c, p)
    ids = _contact_ids(stream(seed, "b2b/ids"), c)
    all_ids = pa.concat_arrays(
        [ids, _prospect_ids(stream(seed, "b2b/prospects"), prospect_acc, p.accounts)]
    )
    start_s = day_start(p.start)
    report("writing", 0.6)
    data = {
        "interactions": _interactions([colleague, referral], all_ids, start_s),
        "customers": _customers(c, ids, p, stream(seed, "b2b/customers")),
        "engagement": _with_ids(_engagement(stream(seed, "b2b/engagement"), c, p), ids, start_s),
        "transactions": _with_ids(
            _transactions(stream(seed, "b2b/transactions"), c, p), ids, start_s
        ),
    }
    result = SynthResult(out=out)
    for name, table in data.items():
        path = out / f"{name}.{fmt}"
        result.files[name] = path
        result.counts[name] = write_table(table, path, fmt)
    report("truth", 0.9)
    _write_truth(c, g, ids, all_ids, referral, data, p, out / "truth", result, edge_counts)
    report("done", 1.0)
    return result


def _write_truth(
    c: Contacts,
    g: Graph,
    ids: pa.StringArray,
    all_ids: pa.StringArray,
    referral: B2BRecords,
    data: dict[str, pa.Table],
    p: B2BParams,
    out: Path,
    result: SynthResult,
    edge_counts: IntArray,
) -> None:
    degree = np.bincount(g.a, minlength=c.n) + np.bincount(g.b, minlength=c.n)
    nodes = pa.table(
        {
            "id": ids,
            "account": _account_ids(p.accounts).take(pa.array(c.account)),
            "advocacy": pa.array(c.advocacy),
            "role": labels(c.role, ROLES),
            "seniority": pa.array(c.seniority),
            "true_degree": pa.array(degree, type=pa.int64()),
        }
    )
    edges = pa.table(
        {
            "a": ids.take(pa.array(g.a)),
            "b": ids.take(pa.array(g.b)),
            "internal": pa.array(g.internal),
            "records": pa.array(edge_counts, type=pa.int64()),
        }
    )
    for name, table in (("nodes", nodes), ("edges", edges)):
        path = out / f"{name}.parquet"
        result.truth_files[name] = path
        result.counts[name] = write_table(table, path, "parquet")
    eng = data["engagement"]
    kinds = eng.column("event_type").to_numpy(zero_copy_only=False)
    who = np.asarray(
        pc.index_in(eng.column("customer_id"), value_set=ids).to_numpy(zero_copy_only=False)
    )
    refs = np.bincount(who[kinds == "reference"], minlength=c.n)
    referrals = np.bincount(referral.src, minlength=c.n)
    stats: dict[str, Any] = {
        "contacts": c.n,
        "colleague_edges": g.m,
        "mixing": float(1.0 - g.internal.mean()) if g.m else 0.0,
        "mean_degree": float(degree.mean()),
        "records": data["interactions"].num_rows,
        "referrals": int(referral.src.shape[0]),
        "events_by_type": {k: int((kinds == k).sum()) for k in EVENT_TYPES},
        "spearman_advocacy_references_referrals": round(
            _spearman(c.advocacy, (refs + referrals).astype(np.float64)), 6
        ),
    }
    path = out / "params.json"
    write_json({"params": p.as_dict(), "realised": stats}, path)
    result.truth_files["params"] = path
