"""Interaction records (calls and texts) of every tie and of the service numbers.

Per tie, the number of records over the window is ``1 + Poisson(c * strength)``: a tie exists
because the two people were in contact, and stronger ties talk more.  ``c`` is chosen so that
the expected total, after the churn effects below, is ``records_per_customer * customers``.

* **Who calls:** each tie has an initiation share ``Beta(k/2, k/2)`` whose concentration ``k``
  grows with strength: both parties call on strong ties, weak ties are often one-sided.
* **Channel:** each tie has an SMS share (Beta); ties involving young people text more.
* **Duration:** voice calls are lognormal (median 60-90 s, longer on strong ties), 8% are very
  short (missed calls, voicemail).
* **When:** each tie has a set of active days around a random centre; strong ties spread over
  the whole window on many distinct days, weak ties are bursty (few days close together).
  Days follow a weekday/weekend profile and hours a diurnal profile (personal, youth, business
  or office hours for services).
* **Churn:** a churner's records thin out over the 30 days before they leave (kept with
  probability falling from 1 to 0.25) and stop at the churn time.
* **Service numbers** call thousands of subscribers (2-10% each), in office hours, in short
  calls, with almost no call-backs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tiewise.synth._types import BoolArray, FloatArray, IntArray

__all__ = [
    "PROFILE_BUSINESS",
    "PROFILE_PERSONAL",
    "PROFILE_SERVICE",
    "PROFILE_YOUTH",
    "Records",
    "SocialTies",
    "draw_days",
    "draw_hours",
    "keep_probability",
    "retention",
    "service_records",
    "social_records",
]

DAY = 86_400
RAMP_DAYS = 30.0
RAMP_FLOOR = 0.25
PROFILE_PERSONAL, PROFILE_YOUTH, PROFILE_BUSINESS, PROFILE_SERVICE = 0, 1, 2, 3

_HOURS = np.array(
    [
        [
            0.3,
            0.15,
            0.08,
            0.06,
            0.06,
            0.15,
            0.5,
            1.2,
            1.8,
            2.2,
            2.5,
            2.8,
            3.1,
            3.0,
            2.7,
            2.7,
            2.9,
            3.3,
            3.7,
            3.9,
            3.7,
            3.1,
            2.2,
            1.1,
        ],
        [
            1.0,
            0.5,
            0.25,
            0.12,
            0.08,
            0.08,
            0.2,
            0.6,
            1.1,
            1.5,
            1.8,
            2.1,
            2.5,
            2.5,
            2.4,
            2.6,
            3.0,
            3.4,
            3.8,
            4.2,
            4.5,
            4.4,
            3.6,
            2.3,
        ],
        [
            0.1,
            0.05,
            0.03,
            0.03,
            0.05,
            0.1,
            0.4,
            1.5,
            3.5,
            4.5,
            4.6,
            4.4,
            3.4,
            3.8,
            4.3,
            4.3,
            4.0,
            3.2,
            2.0,
            1.2,
            0.8,
            0.6,
            0.4,
            0.2,
        ],
        [
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.2,
            3.0,
            4.0,
            4.0,
            3.5,
            2.5,
            3.5,
            3.8,
            3.5,
            2.5,
            0.3,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ],
    ]
)
_HOUR_CDF: FloatArray = np.cumsum(_HOURS / _HOURS.sum(axis=1, keepdims=True), axis=1)
# weight of each weekday (Monday first) by profile, relative to the busiest day
_WEEKDAYS = np.array(
    [
        [1.0, 1.0, 1.0, 1.0, 1.05, 0.9, 0.8],
        [1.0, 1.0, 1.0, 1.0, 1.1, 1.05, 0.95],
        [1.0, 1.0, 1.0, 1.0, 0.95, 0.35, 0.2],
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.25, 0.0],
    ]
)
_WEEKDAYS = _WEEKDAYS / _WEEKDAYS.max(axis=1, keepdims=True)
_SMS_MEAN = np.array([0.25, 0.55, 0.15, 0.12])
_SHORT_CALL = 0.08
_MAX_CALL_S = 4 * 3600
_CHUNK_RECORDS = 4_000_000


@dataclass(frozen=True)
class Records:
    """Interaction records (unsorted).

    Attributes
    ----------
    src, dst
        Initiator and receiver (global node index).
    t
        Seconds since the window start.
    sms
        Whether the record is a text (else a voice call).
    duration
        Call seconds, ``-1`` for texts.
    """

    src: IntArray
    dst: IntArray
    t: IntArray
    sms: BoolArray
    duration: IntArray

    @property
    def n(self) -> int:
        """Number of records."""
        return int(self.t.shape[0])

    @staticmethod
    def concat(parts: list[Records]) -> Records:
        """Concatenate record batches."""
        return Records(
            src=np.concatenate([p.src for p in parts]),
            dst=np.concatenate([p.dst for p in parts]),
            t=np.concatenate([p.t for p in parts]),
            sms=np.concatenate([p.sms for p in parts]),
            duration=np.concatenate([p.duration for p in parts]),
        )


@dataclass(frozen=True)
class SocialTies:
    """Per-tie inputs of the record model.

    Attributes
    ----------
    a, b
        Endpoints (global node index).
    strength, z
        Latent strength and standardised log-strength.
    profile
        Time profile (personal, youth or business).
    churn_a, churn_b
        Churn time of each endpoint in days (``inf`` if none).
    """

    a: IntArray
    b: IntArray
    strength: FloatArray
    z: FloatArray
    profile: IntArray
    churn_a: FloatArray
    churn_b: FloatArray


def keep_probability(days_left: FloatArray) -> FloatArray:
    """Probability that a record ``days_left`` days before a churn is kept.

    Examples
    --------
    >>> keep_probability(np.array([-1.0, 0.0, 15.0, 30.0, np.inf])).tolist()
    [0.0, 0.25, 0.625, 1.0, 1.0]
    """
    ramp = RAMP_FLOOR + (1.0 - RAMP_FLOOR) * np.clip(days_left, 0.0, RAMP_DAYS) / RAMP_DAYS
    return np.where(days_left < 0.0, 0.0, ramp)


def retention(churn: FloatArray, days: int) -> FloatArray:
    """Expected share of uniformly timed records kept, given a churn time (days, may be inf).

    Examples
    --------
    >>> retention(np.array([np.inf, 0.0, 60.0]), 60).round(4).tolist()
    [1.0, 0.0, 0.8125]
    """
    t = np.minimum(churn, 1e12)
    full = np.clip(t - RAMP_DAYS, 0.0, days)
    lo = np.clip(t - RAMP_DAYS, 0.0, days)
    hi = np.clip(t, 0.0, days)
    slope = (1.0 - RAMP_FLOOR) / RAMP_DAYS
    ramp = RAMP_FLOOR * (hi - lo) + slope * ((t - lo) ** 2 - (t - hi) ** 2) / 2.0
    return np.where(np.isinf(churn), 1.0, (full + ramp) / days)


def draw_hours(rng: np.random.Generator, profile: IntArray) -> IntArray:
    """Hour of day of each record from its profile's diurnal curve."""
    u = rng.random(int(profile.shape[0]))
    hour = np.empty(profile.shape[0], dtype=np.int64)
    for p in range(_HOUR_CDF.shape[0]):
        sel = profile == p
        hour[sel] = np.searchsorted(_HOUR_CDF[p], u[sel], side="right")
    return np.minimum(hour, 23)


def draw_days(
    rng: np.random.Generator,
    draw: FloatArray,
    profile: IntArray,
    first_weekday: int,
    days: int,
) -> IntArray:
    """Turn candidate days into days that follow the weekday profile.

    A candidate rejected by the profile's weekday weight moves by up to three days and is
    tested again (four rounds), which keeps bursts in place while thinning weekends.
    """
    day = np.clip(np.floor(draw), 0, days - 1).astype(np.int64)
    for _ in range(4):
        weight = _WEEKDAYS[profile, (first_weekday + day) % 7]
        bad = rng.random(day.shape[0]) >= weight
        if not bad.any():
            break
        shift = rng.integers(-3, 4, size=int(bad.sum()))
        day[bad] = np.clip(day[bad] + shift, 0, days - 1)
    return day


def reflect_days(x: FloatArray, days: int) -> FloatArray:
    """Fold times that fall outside ``[0, days)`` back inside, as a mirror would."""
    x = np.abs(x)
    x = np.where(x >= days, 2 * days - x - 1e-6, x)
    return np.clip(x, 0.0, days - 1e-6)


def _durations(rng: np.random.Generator, median: FloatArray, sigma: float) -> IntArray:
    n = median.shape[0]
    secs = median * np.exp(sigma * rng.standard_normal(n))
    short = rng.random(n) < _SHORT_CALL
    secs = np.where(short, rng.uniform(1.0, 11.0, size=n), secs)
    return np.clip(np.round(secs), 1, _MAX_CALL_S).astype(np.int32)


def _thin_for_churn(
    rng: np.random.Generator, t: IntArray, churn_a: FloatArray, churn_b: FloatArray
) -> BoolArray:
    days = t / DAY
    keep = keep_probability(churn_a - days) * keep_probability(churn_b - days)
    return rng.random(t.shape[0]) < keep


def _edge_chunks(counts: IntArray) -> Iterator[tuple[int, int]]:
    csum = np.cumsum(counts)
    bounds = np.searchsorted(csum, np.arange(_CHUNK_RECORDS, int(csum[-1]), _CHUNK_RECORDS))
    edges = np.unique(np.r_[0, bounds + 1, counts.shape[0]])
    for lo, hi in itertools.pairwise(edges):
        yield int(lo), int(hi)


def _social_chunk(
    rng: np.random.Generator,
    ties: SocialTies,
    lo: int,
    hi: int,
    counts: IntArray,
    days: int,
    first_weekday: int,
) -> tuple[Records, IntArray]:
    sl = slice(lo, hi)
    n_e = counts[sl]
    z = ties.z[sl]
    m = hi - lo
    # active days: strong ties spread over many days across the window, weak ties are bursty
    spread = 1.0 / (1.0 + np.exp(-(0.3 + 1.2 * z)))
    n_active = 1 + rng.binomial(n_e - 1, spread)
    width = np.maximum(3.0, days / (1.0 + np.exp(-(-0.5 + 1.5 * z))))
    centre = rng.uniform(0.0, days, size=m)
    slot_edge = np.repeat(np.arange(m), n_active)
    raw = centre[slot_edge] + (rng.random(slot_edge.shape[0]) - 0.5) * width[slot_edge]
    profile = ties.profile[sl]
    slot_day = draw_days(rng, reflect_days(raw, days), profile[slot_edge], first_weekday, days)
    slot_start = np.cumsum(n_active) - n_active
    rec_edge = np.repeat(np.arange(m), n_e)
    slot = slot_start[rec_edge] + (rng.random(rec_edge.shape[0]) * n_active[rec_edge]).astype(
        np.int64
    )
    day = slot_day[slot]
    t = day * DAY + draw_hours(rng, profile[rec_edge]) * 3600 + rng.integers(0, 3600, rec_edge.size)
    # who initiates
    k = 2.0 * np.exp(0.7 * z)
    share_a = rng.beta(k / 2.0, k / 2.0)
    a_calls = rng.random(rec_edge.shape[0]) < share_a[rec_edge]
    src = np.where(a_calls, ties.a[sl][rec_edge], ties.b[sl][rec_edge])
    dst = np.where(a_calls, ties.b[sl][rec_edge], ties.a[sl][rec_edge])
    # channel and duration
    mean = _SMS_MEAN[profile]
    sms_share = rng.beta(3.0 * mean, 3.0 * (1.0 - mean))
    sms = rng.random(rec_edge.shape[0]) < sms_share[rec_edge]
    median = 60.0 * np.exp(0.3 * z)
    duration = np.where(sms, -1, _durations(rng, median[rec_edge], 0.9)).astype(np.int32)
    keep = _thin_for_churn(rng, t, ties.churn_a[sl][rec_edge], ties.churn_b[sl][rec_edge])
    realised = np.bincount(rec_edge[keep], minlength=m)
    batch = Records(
        src=src[keep].astype(np.int32),
        dst=dst[keep].astype(np.int32),
        t=t[keep].astype(np.int32),
        sms=sms[keep],
        duration=duration[keep],
    )
    return batch, realised


def social_records(
    rng: np.random.Generator, ties: SocialTies, scale: float, days: int, first_weekday: int
) -> tuple[Records, IntArray]:
    """Generate the records of all social ties.

    Parameters
    ----------
    rng
        Random generator.
    ties
        Tie inputs.
    scale
        Expected records per unit of strength beyond the first record.
    days
        Window length.
    first_weekday
        Weekday of the window's first day (Monday = 0).

    Returns
    -------
    tuple
        The records and the realised record count per tie.
    """
    counts = 1 + rng.poisson(scale * ties.strength)
    parts: list[Records] = []
    realised: list[IntArray] = []
    for lo, hi in _edge_chunks(counts):
        batch, per_edge = _social_chunk(rng, ties, lo, hi, counts, days, first_weekday)
        parts.append(batch)
        realised.append(per_edge)
    return Records.concat(parts), np.concatenate(realised)


SERVICE_CALLS_PER_CALLEE = 1.4
_CALLBACK = 0.04
_SERVICE_SMS = 0.15


def service_reach(rng: np.random.Generator, n_service: int, customers: int) -> IntArray:
    """Number of distinct subscribers each service number contacts (2-10%, at least 1,150).

    Examples
    --------
    >>> service_reach(np.random.default_rng(0), 2, 500).tolist()
    [500, 500]
    """
    frac = rng.uniform(0.02, 0.10, size=n_service)
    reach = np.maximum(np.round(frac * customers), min(1150, customers))
    return np.minimum(reach, customers).astype(np.int64)


def service_records(
    rng: np.random.Generator,
    service_ids: IntArray,
    reach: IntArray,
    subscribers: IntArray,
    churn: FloatArray,
    days: int,
    first_weekday: int,
) -> tuple[Records, IntArray, IntArray, IntArray]:
    """Generate the calls between service numbers and subscribers.

    Parameters
    ----------
    rng
        Random generator.
    service_ids
        Global node index of each service number.
    reach
        Number of distinct subscribers each one contacts.
    subscribers
        Global node index of each subscriber.
    churn
        Churn time (days) of each subscriber, ``inf`` if none.
    days
        Window length.
    first_weekday
        Weekday of the window's first day.

    Returns
    -------
    tuple
        Records, and the service tie list: service node, subscriber node, realised records.
    """
    callee_local = np.concatenate(
        [np.zeros(0, dtype=np.int64)]
        + [rng.choice(subscribers.shape[0], size=int(r), replace=False) for r in reach]
    ).astype(np.int64)
    tie_svc = np.repeat(service_ids, reach)
    m = tie_svc.shape[0]
    counts = 1 + rng.poisson(SERVICE_CALLS_PER_CALLEE - 1.0, size=m)
    # campaigns: each number works through a few campaigns, calling back within days
    n_campaigns = 4
    centres = rng.uniform(0.0, days, size=(service_ids.shape[0], n_campaigns))
    owner = np.repeat(np.arange(service_ids.shape[0]), reach)
    first = centres[owner, rng.integers(0, n_campaigns, size=m)]
    rec = np.repeat(np.arange(m), counts)
    raw = first[rec] + rng.exponential(4.0, size=rec.shape[0])
    profile = np.full(rec.shape[0], PROFILE_SERVICE)
    day = draw_days(rng, reflect_days(raw, days), profile, first_weekday, days)
    t = day * DAY + draw_hours(rng, profile) * 3600 + rng.integers(0, 3600, size=rec.shape[0])
    callee = subscribers[callee_local]
    back = rng.random(rec.shape[0]) < _CALLBACK
    src = np.where(back, callee[rec], tie_svc[rec])
    dst = np.where(back, tie_svc[rec], callee[rec])
    sms = (rng.random(rec.shape[0]) < _SERVICE_SMS) & ~back
    duration = np.where(sms, -1, _durations(rng, np.full(rec.shape[0], 45.0), 0.8)).astype(np.int32)
    keep = _thin_for_churn(rng, t, churn[callee_local][rec], np.full(rec.shape[0], np.inf))
    realised = np.bincount(rec[keep], minlength=m)
    batch = Records(
        src=src[keep].astype(np.int32),
        dst=dst[keep].astype(np.int32),
        t=t[keep].astype(np.int32),
        sms=sms[keep],
        duration=duration[keep],
    )
    return batch, tie_svc, callee, realised
