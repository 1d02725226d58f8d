"""What the generated customers say in public and to the company, with the truth behind it.

A share of the subscribers (``TelcoParams.conversations``) talk: each at their own rate
(gamma-distributed, a few talk a lot), on social media, forums and review sites under a handle,
and to the company by support ticket, chat or e-mail under their number.  Most posts are
neutral or positive; a tenth of a talker's posts are negative whatever happens (everyday
grumbling).  A subscriber who churns gives **a public warning** with probability 0.6: one to
three negative posts in the 2 to 21 days before leaving (talkers and silent subscribers alike:
a warning is often the first post).  So do the subscribers who leave in the three weeks *after*
the window (:data:`.churn.LOOKAHEAD_DAYS`): their warnings posted up to the last day are in the
data, their churn is not -- the customers the response queue exists to catch.  Those warnings
come from their own random stream, so every other post is the same with or without them (only
the message numbers, in time order, shift).  ``truth/conversation_truth.parquet`` says which
posts are warnings, when their speaker churned or will churn (``churn_timestamp``) and whether
that is after the window (``churn_after_window``, not in ``churn.parquet``).

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
    future_churn_days: np.ndarray | None = None,
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
    future_churn_days
        Churn day after the window (``inf``: none) of each subscriber: their warnings posted
        before the last day are in the data, their churn is not.
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
    warner, at = _warnings(rng, churned, churn_days)
    keep = at >= 0
    speakers.append(subscribers[warner[keep]])
    times.append(at[keep])
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
    seconds = _seconds(np.concatenate(times), days)
    order = np.lexsort((person, seconds))
    person = person[order]
    graph = (starts, ends)
    posts = _draw(
        rng,
        (person, seconds[order], np.concatenate(negative)[order]),
        np.concatenate(warning)[order],
        on[person],
        ids,
        graph,
    )
    known = subscribers[rng.random(n) < 0.8]
    if future_churn_days is not None:
        # warnings of customers who leave after the window, from their own stream: the rest
        # of the data is the same with or without them
        later = stream(seed, "conversations/future warnings")
        leavers = np.flatnonzero(np.isfinite(future_churn_days))
        warner, at = _warnings(later, leavers, future_churn_days)
        keep = (at >= 0) & (at < days)  # a warning after the last day is not in the data
        person, seconds = subscribers[warner[keep]], _seconds(at[keep], days)
        order = np.lexsort((person, seconds))
        person, yes = person[order], np.ones(len(order), dtype=bool)
        ahead = _draw(later, (person, seconds[order], yes), yes, on[person], ids, graph)
        posts = _merge(posts, ahead)
    identities = pa.table(
        {
            "customer_id": ids.take(pa.array(known)),
            "handle": pa.array([handle(int(p)) for p in known], type=pa.string()),
        }
    )
    local = np.full(persons, -1, dtype=np.int64)
    local[subscribers] = np.arange(n)
    is_sub = posts["is_sub"]
    sub = np.maximum(local[posts["person"]], 0)
    churn_of = np.where(is_sub, churn_days[sub], np.inf)
    future_of = np.full(len(sub), np.inf)
    if future_churn_days is not None:
        future_of = np.where(is_sub, future_churn_days[sub], np.inf)
    after = np.isfinite(future_of)
    churn_of = np.where(after, future_of, churn_of)
    churn_s = np.where(np.isfinite(churn_of), start_s + np.ceil(churn_of * DAY), np.nan)
    conversations = _table(posts, start_s)
    truth = pa.table(
        {
            "message_id": conversations["message_id"],
            "speaker_id": pa.array(posts["phone"], type=pa.string()),
            "is_customer": pa.array(is_sub),
            "negative": pa.array(posts["negative"]),
            "spanish": pa.array(posts["spanish"]),
            "warning": pa.array(posts["warning"]),
            "churn_timestamp": pa.array(
                churn_s.astype("datetime64[s]"), type=pa.timestamp("s"), mask=np.isnan(churn_s)
            ),
            "churn_after_window": pa.array(after),
        }
    )
    return ConversationTables(conversations, identities, truth)


def _warnings(
    rng: np.random.Generator, leavers: IntArray, churn_days: np.ndarray
) -> tuple[IntArray, np.ndarray]:
    """Who of ``leavers`` warns, and when: 1 to 3 posts 2 to 21 days before their churn."""
    warns = leavers[rng.random(len(leavers)) < WARNING_PROBABILITY]
    k = rng.integers(1, 4, len(warns))
    who = np.repeat(warns, k)
    return who, churn_days[who] - rng.uniform(*_WARNING_DAYS, len(who))


def _seconds(days_since_start: np.ndarray, days: int) -> IntArray:
    return np.clip(np.floor(days_since_start * DAY), 0, days * DAY - 1).astype(np.int64)


Posts = dict[str, np.ndarray]


def _draw(
    rng: np.random.Generator,
    who: tuple[IntArray, IntArray, np.ndarray],
    warning: np.ndarray,
    is_sub: np.ndarray,
    ids: pa.StringArray,
    graph: tuple[IntArray, IntArray],
) -> Posts:
    """Channel, language, text, mention, reply and answered flag of posts sorted by time.

    ``who`` is the person, second and negativity of each post.
    """
    person, seconds, neg = who
    starts, ends = graph
    m = len(person)
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
    # mentions and replies: a random contact of the speaker, by handle
    degree = starts[person + 1] - starts[person]
    pick = starts[person] + np.floor(rng.random(m) * np.maximum(degree, 1)).astype(np.int64)
    contact = np.where(degree > 0, ends[np.minimum(pick, len(ends) - 1)], -1)
    social = public & (degree > 0)
    mention = social & (rng.random(m) < 1 / 3)
    reply = social & ~mention & (rng.random(m) < 0.2)
    return {
        "person": person,
        "seconds": seconds,
        "negative": neg,
        "warning": warning,
        "is_sub": is_sub,
        "channel": channel,
        "spanish": spanish,
        "text": text,
        "phone": phone,
        "speaker": np.where(public, handles, phone),
        "mention": mention,
        "reply": reply,
        "contact": np.array([handle(int(c)) if c >= 0 else "" for c in contact], dtype=object),
        "answered": rng.random(m) < 1 / 3,
    }


def _merge(first: Posts, second: Posts) -> Posts:
    """Both sets of posts in one time order (``first``'s first at equal times)."""
    both = {k: np.concatenate([first[k], second[k]]) for k in first}
    source = np.repeat([0, 1], [len(first["person"]), len(second["person"])])
    order = np.lexsort((source, both["person"], both["seconds"]))
    return {k: v[order] for k, v in both.items()}


def _table(posts: Posts, start_s: int) -> pa.Table:
    """The ``conversations`` table (message ids in time order)."""
    message_id = np.array([f"m{i:08d}" for i in range(len(posts["person"]))], dtype=object)
    return pa.table(
        {
            "message_id": pa.array(message_id, type=pa.string()),
            "speaker": pa.array(posts["speaker"], type=pa.string()),
            "timestamp": pa.array(start_s + posts["seconds"], type=pa.timestamp("s")),
            "channel": pa.array(posts["channel"], type=pa.string()),
            "text": pa.array(posts["text"], type=pa.string()),
            "language": pa.array(np.where(posts["spanish"], "es", "en"), type=pa.string()),
            "reply_to": pa.array(posts["contact"], type=pa.string(), mask=~posts["reply"]),
            "mentions": pa.array(posts["contact"], type=pa.string(), mask=~posts["mention"]),
            "answered": pa.array(posts["answered"]),
        }
    )
