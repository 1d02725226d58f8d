"""What the generated customers say in public and to the company, with the truth behind it.

A share of the subscribers (``TelcoParams.conversations``) talk: each at their own rate
(gamma-distributed, a few talk a lot), on social media, forums and review sites under a handle,
and to the company by support ticket, chat or e-mail under their number.  Most posts are
neutral or positive; a tenth of a talker's posts are negative whatever happens (everyday
grumbling).  A subscriber who churns gives **a public warning** with probability 0.6: one to
three negative posts in the 2 to 21 days before leaving (talkers and silent subscribers alike:
a warning is often the first post).  ``truth/conversation_truth.parquet`` says which posts are
warnings and when their speaker churned.

Social posts mention a contact's handle a third of the time; a fifth of them reply to one.  A
handle of 80% of the subscribers is in ``identities`` (the company's CRM knows it); the others'
posts come from speakers the company cannot match.  Off-network contacts of the subscribers
post too (prospects).  A twentieth of the texts are in Spanish (``language = 'es'``), which the
sentiment model does not cover.  A third of the posts are answered already.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tiewise.synth._rng import stream
from tiewise.synth._types import IntArray
from tiewise.synth.records import DAY

__all__ = ["ConversationTables", "generate_conversations", "handle"]

WARNING_PROBABILITY = 0.6
_WARNING_DAYS = (2.0, 21.0)
_NEGATIVE_SHARE = 0.1
_SPANISH_SHARE = 0.05
_POSITIVE = (
    "Love the new plan, great value!",
    "Really happy with the coverage here :)",
    "Thanks for the quick fix, awesome support",
    "Best network I have had, fast and reliable",
    "Great deal on the new phone, very pleased",
)
_NEUTRAL = (
    "Does the plan include roaming in France?",
    "What time does the shop open on Saturday",
    "Switching my bill to paperless",
    "Anyone tried the new streaming bundle?",
    "Upgrading my phone next month",
)
_NEGATIVE = (
    "Worst service ever. Dropped calls all week, I am done",
    "Terrible support, nobody answers. Looking at other providers",
    "Ridiculous bill again!!! Not happy at all",
    "No signal at home for days, this is useless",
    "Awful experience, cancelling my contract soon",
)
_SPANISH = (
    "El servicio es malo, quiero cambiar",
    "Muy contento con la cobertura",
    "No tengo señal desde ayer",
)
_PUBLIC = ("social", "forum", "review")
_PRIVATE = ("support", "chat", "email")


def handle(person: int) -> str:
    """The public handle of a person (by index).

    >>> handle(42)
    '@u0000042'
    """
    return f"@u{person:07d}"


class ConversationTables:
    """The generated ``conversations``, ``identities`` and truth tables (Arrow)."""

    def __init__(self, conversations: pa.Table, identities: pa.Table, truth: pa.Table) -> None:
        self.conversations = conversations
        self.identities = identities
        self.truth = truth


def generate_conversations(
    *,
    seed: int,
    days: int,
    start_s: int,
    share: float,
    subscribers: IntArray,
    churn_days: np.ndarray,
    persons: int,
    edges: tuple[IntArray, IntArray],
    ids: pa.StringArray,
) -> ConversationTables:
    """Generate the conversations of the subscribers (person indices ``subscribers``).

    Parameters
    ----------
    seed, days, start_s
        The generator's seed, window length and its start (epoch seconds).
    share
        Share of the subscribers who talk regularly.
    subscribers, churn_days
        Person index and churn day (``inf``: stays) of each subscriber.
    persons
        Number of persons (subscribers and off-network contacts).
    edges
        The visible contact graph (person indices).
    ids
        Phone number of every person.
    """
    rng = stream(seed, "conversations")
    n = len(subscribers)
    on = np.zeros(persons, dtype=bool)
    on[subscribers] = True
    # contacts of every person (for mentions and replies)
    a, b = edges
    order = np.argsort(np.concatenate([a, b]), kind="stable")
    ends = np.concatenate([b, a])[order]
    starts = np.searchsorted(np.concatenate([a, b])[order], np.arange(persons + 1))

    speakers: list[IntArray] = []
    times: list[np.ndarray] = []
    negative: list[np.ndarray] = []
    warning: list[np.ndarray] = []
    # everyday talk: talkers at a gamma-distributed rate (per 30 days), until they leave
    talker = rng.random(n) < share
    rate = rng.gamma(0.7, 2.0 / 0.7, n) * talker
    alive_days = np.minimum(churn_days, days)
    counts = rng.poisson(rate * np.maximum(alive_days, 0) / 30.0)
    who = np.repeat(np.arange(n), counts)
    when = rng.random(len(who)) * alive_days[who]
    speakers.append(subscribers[who])
    times.append(when)
    negative.append(rng.random(len(who)) < _NEGATIVE_SHARE)
    warning.append(np.zeros(len(who), dtype=bool))
    # warnings before churn
    churned = np.flatnonzero(np.isfinite(churn_days) & (churn_days > _WARNING_DAYS[0]))
    warns = churned[rng.random(len(churned)) < WARNING_PROBABILITY]
    k = rng.integers(1, 4, len(warns))
    who = np.repeat(warns, k)
    when = churn_days[who] - rng.uniform(*_WARNING_DAYS, len(who))
    keep = when >= 0
    speakers.append(subscribers[who[keep]])
    times.append(when[keep])
    negative.append(np.ones(int(keep.sum()), dtype=bool))
    warning.append(np.ones(int(keep.sum()), dtype=bool))
    # off-network contacts talk too: prospects
    off = np.flatnonzero(~on & (np.diff(starts) > 0))
    off_talk = off[rng.random(len(off)) < share / 2]
    counts = rng.poisson(days / 30.0, len(off_talk))
    who = np.repeat(off_talk, counts)
    speakers.append(who)
    times.append(rng.random(len(who)) * days)
    negative.append(rng.random(len(who)) < _NEGATIVE_SHARE)
    warning.append(np.zeros(len(who), dtype=bool))

    person = np.concatenate(speakers)
    t = np.concatenate(times)
    neg = np.concatenate(negative)
    warn = np.concatenate(warning)
    m = len(person)
    seconds = np.clip(np.floor(t * DAY), 0, days * DAY - 1).astype(np.int64)
    order = np.lexsort((person, seconds))
    person, seconds, neg, warn = person[order], seconds[order], neg[order], warn[order]
    is_sub = on[person]
    public = (~is_sub) | (rng.random(m) < 0.7)
    channel = np.where(
        public,
        np.array(_PUBLIC)[rng.integers(0, 3, m)],
        np.array(_PRIVATE)[rng.integers(0, 3, m)],
    )
    spanish = rng.random(m) < _SPANISH_SHARE
    pool_pos, pool_neu, pool_neg = (np.array(x) for x in (_POSITIVE, _NEUTRAL, _NEGATIVE))
    mood = rng.random(m)
    text = np.where(
        neg,
        pool_neg[rng.integers(0, len(pool_neg), m)],
        np.where(
            mood < 0.5,
            pool_pos[rng.integers(0, len(pool_pos), m)],
            pool_neu[rng.integers(0, len(pool_neu), m)],
        ),
    )
    text = np.where(spanish, np.array(_SPANISH)[rng.integers(0, len(_SPANISH), m)], text)
    phone = np.asarray(ids.take(pa.array(person)).to_pylist(), dtype=object)
    handles = np.array([handle(int(p)) for p in person], dtype=object)
    speaker = np.where(public, handles, phone)
    # mentions and replies: a random contact of the speaker, by handle
    degree = starts[person + 1] - starts[person]
    pick = starts[person] + np.floor(rng.random(m) * np.maximum(degree, 1)).astype(np.int64)
    contact = np.where(degree > 0, ends[np.minimum(pick, len(ends) - 1)], -1)
    social = public & (degree > 0)
    mention = social & (rng.random(m) < 1 / 3)
    reply = social & ~mention & (rng.random(m) < 0.2)
    contact_handle = np.array([handle(int(c)) if c >= 0 else "" for c in contact], dtype=object)
    message_id = np.array([f"m{i:08d}" for i in range(m)], dtype=object)
    conversations = pa.table(
        {
            "message_id": pa.array(message_id, type=pa.string()),
            "speaker": pa.array(speaker, type=pa.string()),
            "timestamp": pa.array(start_s + seconds, type=pa.timestamp("s")),
            "channel": pa.array(channel, type=pa.string()),
            "text": pa.array(text, type=pa.string()),
            "language": pa.array(np.where(spanish, "es", "en"), type=pa.string()),
            "reply_to": pa.array(contact_handle, type=pa.string(), mask=~reply),
            "mentions": pa.array(contact_handle, type=pa.string(), mask=~mention),
            "answered": pa.array(rng.random(m) < 1 / 3),
        }
    )
    known = subscribers[rng.random(n) < 0.8]
    identities = pa.table(
        {
            "customer_id": ids.take(pa.array(known)),
            "handle": pa.array([handle(int(p)) for p in known], type=pa.string()),
        }
    )
    local = np.full(persons, -1, dtype=np.int64)
    local[subscribers] = np.arange(n)
    churn_of = np.where(is_sub, churn_days[np.maximum(local[person], 0)], np.inf)
    churn_s = np.where(np.isfinite(churn_of), start_s + np.ceil(churn_of * DAY), np.nan)
    truth = pa.table(
        {
            "message_id": pa.array(message_id, type=pa.string()),
            "speaker_id": pa.array(phone, type=pa.string()),
            "is_customer": pa.array(is_sub),
            "negative": pa.array(neg),
            "spanish": pa.array(spanish),
            "warning": pa.array(warn),
            "churn_timestamp": pa.array(
                churn_s.astype("datetime64[s]"), type=pa.timestamp("s"), mask=np.isnan(churn_s)
            ),
        }
    )
    return ConversationTables(conversations, identities, truth)
