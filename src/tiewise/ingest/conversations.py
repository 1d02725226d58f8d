"""Loading what customers say: the ``conversations`` input, its speakers and its sentiment.

A conversation row is one post, mention, reply, review, support ticket, e-mail or chat: who
spoke (``speaker``), when, on which channel, and optionally its text, a sentiment, its language,
the party it replies to and the parties it mentions.  It is checked like every input (named
rules, quarantine) and its identifiers — speaker, message id, reply-to and every mention — are
pseudonymised with the workspace's key.

**Speakers to customers.**  A speaker is a customer when the speaker is a ``customer_id`` of the
customers input (an on-network one), or a handle that the ``identities`` input maps to one;
without a customers input, when the speaker is a party of the interactions (the network's
people, as everywhere else without it).  The match is recorded (``matched_by``).  Every other
speaker is a prospect: their rows keep ``customer_id`` NULL and they are summed up, apart, in
``conversation_prospects``.  Reply-to and mentions are mapped through the identities too, so a
link lands on the customer's node whatever handle named them.

**Sentiment.**  A sentiment in the input always wins (``sentiment_source = 'given'``).  Else a
text in a language VADER covers (English; a row without a language takes
``[conversations] default_language``) is scored by VADER (:mod:`tiewise.ingest.sentiment`,
``'vader'``); a text in another language is marked ``'not covered'`` and gets none; a row
without text gets none (``'no text'``).  The text itself is not stored.

**Links.**  Who replies to or mentions whom is a channel of the network: the links stage turns
every reply and mention between two parties the network knows into a record between speaker
and party (``conversation_links``, :mod:`tiewise.links.state`), so communities and influence
see public conversation where calls are unknown.  A handle matched to no one is in another id
space than the interactions' numbers (the same person would be two nodes): its replies and
mentions make no links, and its speaker stays in ``conversation_prospects``.

Tables written: ``identities`` (with that input), ``conversations``,
``conversation_prospects``.
"""

from __future__ import annotations

import pandas as pd

from tiewise.config import Config
from tiewise.ingest.checks import IngestSummary, RuleCount
from tiewise.ingest.schemas import SCHEMAS
from tiewise.ingest.sentiment import MODEL, SentimentScorer, covered
from tiewise.ingest.tables import load_table
from tiewise.store import RunContext, frame_query, scalar, temp_table

__all__ = ["CONVERSATION_TABLES", "load_conversations"]

CONVERSATION_TABLES = ("identities", "conversations", "conversation_prospects")
_INPUT = "_conversations_input"


def _drop(ctx: RunContext, name: str) -> None:
    """Remove a table an earlier run wrote from an input that is no longer configured."""
    ctx.con.execute(f"DROP TABLE IF EXISTS {name}")
    ctx.con.execute("DELETE FROM _tiewise_tables WHERE name = ?", [name])


def load_conversations(
    ctx: RunContext, config: Config, key: bytes | None, summary: IngestSummary
) -> None:
    """Load the identities and conversations inputs (when configured) into their tables."""
    con = ctx.con
    if config.inputs.sources("identities"):
        load_table(ctx, config, key, SCHEMAS["identities"], summary)
    else:
        _drop(ctx, "identities")
    if not config.inputs.sources("conversations"):
        for name in ("conversations", "conversation_prospects"):
            _drop(ctx, name)
        return
    load_table(ctx, config, key, SCHEMAS["conversations"], summary, into=_INPUT)
    _sentiment(ctx, config, summary)
    identities = ctx.has_table("identities")
    mapped = (
        "SELECT handle, customer_id FROM identities"
        if identities
        else ("SELECT NULL::VARCHAR AS handle, NULL::VARCHAR AS customer_id WHERE false")
    )
    if ctx.has_table("customers"):
        known = "SELECT customer_id FROM customers WHERE coalesce(on_network, true)"
        direct = "customer_id"
    else:  # no customers input: the network's parties are the customers
        known = "SELECT party AS customer_id FROM interaction_parties"
        direct = "network"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _handles AS {mapped}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _known AS SELECT DISTINCT * FROM ({known})")
    ctx.write_table(
        "conversations",
        f"""
        SELECT c.speaker,
               CASE WHEN k.customer_id IS NOT NULL THEN c.speaker
                    WHEN h.customer_id IS NOT NULL AND kh.customer_id IS NOT NULL
                    THEN h.customer_id END AS customer_id,
               CASE WHEN k.customer_id IS NOT NULL THEN '{direct}'
                    WHEN h.customer_id IS NOT NULL AND kh.customer_id IS NOT NULL
                    THEN 'identities' END AS matched_by,
               c.message_id, c.timestamp, c.channel, c.language,
               s.sentiment, s.sentiment_source,
               coalesce(r.customer_id, c.reply_to) AS reply_to,
               coalesce(m.mentions, c.mentions) AS mentions,
               coalesce(c.answered, false) AS answered
        FROM (SELECT rowid AS _id, * FROM {_INPUT}) c
        JOIN _sentiment s USING (_id)
        LEFT JOIN (
            SELECT _id, list(coalesce(h.customer_id, x.party) ORDER BY x.pos) AS mentions
            FROM (SELECT rowid AS _id, unnest(mentions) AS party,
                         generate_subscripts(mentions, 1) AS pos FROM {_INPUT}) x
            LEFT JOIN _handles h ON h.handle = x.party
            GROUP BY _id
        ) m USING (_id)
        LEFT JOIN _known k ON k.customer_id = c.speaker
        LEFT JOIN _handles h ON h.handle = c.speaker
        LEFT JOIN _known kh ON kh.customer_id = h.customer_id
        LEFT JOIN _handles r ON r.handle = c.reply_to
        ORDER BY c.timestamp, c.speaker, c.message_id
        """,
        stage="ingest",
        description="What customers say: one row per conversation, speaker matched to a "
        "customer or left a prospect, with its sentiment and where that came from.",
    )
    threshold = config.conversations.negative_threshold
    ctx.write_table(
        "conversation_prospects",
        f"""
        SELECT speaker, count(*) AS messages,
               count(*) FILTER (WHERE sentiment <= {threshold!r}) AS negative_messages,
               avg(sentiment ORDER BY message_id) AS mean_sentiment,  -- in one order: the same bits
               string_agg(DISTINCT channel, ', ' ORDER BY channel) AS channels,
               min(timestamp) AS first_ts, max(timestamp) AS last_ts
        FROM conversations WHERE customer_id IS NULL
        GROUP BY speaker ORDER BY messages DESC, speaker
        """,
        stage="ingest",
        description="Speakers matched to no customer: prospects, kept apart from the customers.",
    )
    for name in (_INPUT, "_sentiment", "_handles", "_known"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    matched = int(scalar(con, "SELECT count(*) FROM conversations WHERE customer_id IS NOT NULL"))
    total = int(scalar(con, "SELECT count(*) FROM conversations"))
    summary.add(
        RuleCount(
            "conversations",
            "prospect_speaker",
            "speaker",
            total - matched,
            (total - matched) / max(total, 1),
            None,
            "kept apart: conversation_prospects",
            "a speaker who is a customer (customers input) or a handle in the identities input",
        )
    )


def _sentiment(ctx: RunContext, config: Config, summary: IngestSummary) -> None:
    """``_sentiment``: per input row (``_id``), the sentiment and where it came from."""
    con = ctx.con
    default = config.conversations.default_language
    rows = con.execute(
        f"SELECT rowid AS _id, sentiment, text, coalesce(language, ?) AS language FROM {_INPUT}",
        [default],
    ).df()
    given = rows["sentiment"].notna()
    has_text = rows["text"].notna() & (rows["text"].astype(str).str.strip() != "")
    ok = rows["language"].map(lambda x: covered(x if isinstance(x, str) else None)).astype(bool)
    score = ~given & has_text & ok
    source = pd.Series("no text", index=rows.index, dtype=object)
    source[~given & has_text & ~ok] = "not covered"
    source[score] = "vader"
    source[given] = "given"
    sentiment = rows["sentiment"].to_numpy(dtype=float, na_value=float("nan")).copy()
    if score.any():
        texts = rows.loc[score, "text"].astype(str).tolist()
        sentiment[score.to_numpy()] = SentimentScorer().score(texts)
    frame = pd.DataFrame(
        {"_id": rows["_id"], "sentiment": sentiment, "sentiment_source": source.astype(str)}
    )
    typed = frame_query(
        con,
        "_sentiment_frame",
        frame,
        "SELECT _id::BIGINT AS _id, sentiment::DOUBLE AS sentiment, "
        "sentiment_source::VARCHAR AS sentiment_source FROM _sentiment_frame",
    )
    temp_table(con, "_sentiment", typed)
    uncovered = int((source == "not covered").sum())
    if uncovered:
        summary.add(
            RuleCount(
                "conversations",
                "language_not_covered",
                "language",
                uncovered,
                uncovered / max(len(rows), 1),
                None,
                "kept without sentiment (marked 'not covered', never guessed)",
                f"a language the sentiment model covers ({MODEL}), or your own sentiment",
            )
        )
