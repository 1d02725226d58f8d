"""Every workspace table, declared once: the stage that writes it, its grain and typed columns.

The stages exchange tables by name in the workspace (:mod:`tiewise.store`).  This module is the
floor plan of that exchange:

* :data:`TABLES` -- each table's name, writing stage, grain (what one row is), meaning, and its
  columns with their DuckDB types and meanings.  A column or table that exists only under some
  condition (an optional input, a setting) says so in ``when``.
* :data:`STAGES` -- the stages in the order the data travels, each with the tables it reads.  A
  stage reads only tables written by itself or an earlier stage (``tests/test_tables.py``
  checks the declarations, and records the tables each stage's SQL touches in a pipeline run).

:meth:`tiewise.store.RunContext.write_table` checks every table it writes against its
declaration (:func:`check_table`): a missing, extra or mistyped column, or a table written by
another stage than declared, is a :class:`TableContractError` naming the table and columns.  A
column that holds no value at all (every row NULL, e.g. an empty input) takes its declared type,
and a timestamp of another resolution (pandas chooses it by the data) becomes a ``TIMESTAMP``.
A table not declared here is written with an :class:`UnregisteredTableWarning` -- an error in the
tests (warnings are errors there), so a new table must be declared before it can land.  Scratch
tables and test stand-ins are written with ``check=False``.

``python -m tiewise.tables`` prints the reference (``docs/tables.md``) generated from here;
``python -m tiewise.tables --write`` updates that file.

Examples
--------
>>> table("customer_scores").stage, table("customer_scores").grain
('graph', 'party (customer or contact)')
>>> table("campaign_acquisition").name
'campaign_<name>'
>>> table("no_such_table") is None
True
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tiewise.exceptions import TiewiseError

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "STAGES",
    "TABLES",
    "Column",
    "Stage",
    "Table",
    "TableContractError",
    "UnregisteredTableWarning",
    "check_table",
    "markdown",
    "stage_order",
    "table",
]


class TableContractError(TiewiseError):
    """A stage wrote a table that differs from its declaration in :mod:`tiewise.tables`."""


class UnregisteredTableWarning(UserWarning):
    """A table was written that :mod:`tiewise.tables` does not declare (an error in the tests)."""


@dataclass(frozen=True)
class Column:
    """One column: its name, DuckDB type (as ``DESCRIBE`` shows it) and meaning.

    ``when``: the condition under which the column exists (None: always).  A name with a
    ``<placeholder>`` (``email_<signal>``) declares a family of columns named by the settings.
    """

    name: str
    type: str
    meaning: str
    when: str | None = None
    pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        found = None
        if "<" in self.name:
            found = re.compile("^" + re.sub(r"<[a-z_]+>", "[a-z0-9_]+", self.name) + "$")
        object.__setattr__(self, "pattern", found)


@dataclass(frozen=True)
class Table:
    """One workspace table (or view) and its columns.

    ``name`` may hold one placeholder, ``<name>``, for a family of tables (``campaign_<name>``).
    ``when``: the condition under which the table is written (None: every full run).
    """

    name: str
    stage: str
    grain: str
    meaning: str
    columns: tuple[Column, ...]
    when: str | None = None
    view: bool = False
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = "^" + re.escape(self.name).replace("<name>", "[a-z0-9_]+") + "$"
        object.__setattr__(self, "pattern", re.compile(regex))
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: a column is declared twice")

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    def declared(self, column: str) -> Column | None:
        """The declaration of ``column``: by name, else by a ``<placeholder>`` pattern."""
        exact = next((c for c in self.columns if c.name == column), None)
        if exact is not None:
            return exact
        matches = [c for c in self.columns if c.pattern and c.pattern.match(column)]
        return max(matches, key=lambda c: len(c.name), default=None)  # the most specific

    def problems(self, actual: Sequence[tuple[str, str]]) -> list[str]:
        """What differs between the declared columns and ``actual`` ((name, type) pairs)."""
        present = dict(actual)
        missing = [
            c.name
            for c in self.columns
            if c.when is None and not c.pattern and c.name not in present
        ]
        extra, mistyped = [], []
        for name, kind in actual:
            column = self.declared(name)
            if column is None:
                extra.append(name)
            elif kind != column.type:
                mistyped.append(f"{name} is {kind}, declared {column.type}")
        found = []
        if missing:
            found.append(f"missing columns: {', '.join(missing)}")
        if extra:
            found.append(f"undeclared columns: {', '.join(extra)}")
        if mistyped:
            found.append(f"mistyped columns: {'; '.join(mistyped)}")
        return found


@dataclass(frozen=True)
class Stage:
    """A stage of the data's journey and the tables it reads (it writes those declaring it)."""

    name: str
    reads: tuple[str, ...]


_ONLY = re.compile(r"\s*\[only (?P<when>[^\]]+)\]$")


def _columns(text: str) -> tuple[Column, ...]:
    """Columns from lines of ``name  TYPE  meaning``; an indented line continues the meaning.

    A meaning ending in ``[only CONDITION]`` declares a column that exists only then.

    >>> _columns('''
    ...     a  BIGINT   The count.
    ...     b  DOUBLE   Its share of
    ...                 the total. [only with the input]
    ... ''')[1]
    Column(name='b', type='DOUBLE', meaning='Its share of the total.', when='with the input')
    """
    rows: list[list[str]] = []
    lines = [line for line in text.splitlines() if line.strip()]
    margin = min(len(line) - len(line.lstrip()) for line in lines)
    for line in lines:
        if line[margin] == " ":
            rows[-1][2] += " " + line.strip()
        else:
            name, kind, meaning = line.split(maxsplit=2)
            rows.append([name, kind, meaning])
    columns = []
    for name, kind, meaning in rows:
        only = _ONLY.search(meaning)
        when = only["when"] if only else None
        columns.append(Column(name, kind, meaning[: only.start()] if only else meaning, when))
    return tuple(columns)


STAGES: tuple[Stage, ...] = (
    Stage("ingest", ()),
    Stage(
        "links",
        (
            "conversations",
            "customers",
            "ingested_files",
            "pending_interactions",
            "pending_loads",
            "pending_parties",
        ),
    ),
    Stage("graph", ("churn_events", "links", "nodes", "transactions")),
    Stage("influence", ("adoptions", "customers", "links", "nodes", "transactions")),
    Stage(
        "value",
        (
            "adoptions",
            "churn_events",
            "communities",
            "customer_scores",
            "customers",
            "engagement_events",
            "link_meta",
            "links",
            "network_value",
            "transactions",
        ),
    ),
    Stage(
        "churn",
        (
            "churn_events",
            "conversations",
            "customer_scores",
            "customer_value",
            "customer_weeks",
            "customers",
            "link_meta",
            "link_state",
            "nodes",
            "transactions",
        ),
    ),
    Stage("pipeline", ()),
    Stage(
        "campaigns",
        (
            "adoptions",
            "churn_events",
            "churn_scores",
            "conversations",
            "customer_scores",
            "customer_value",
            "influence_scores",
            "influence_tests",
            "links",
            "nodes",
            "retention_priority",
            "seed_sets",
        ),
    ),
    Stage(
        "report",
        (
            "campaign_uplift",
            "campaigns",
            "churn_evaluation",
            "churn_lift",
            "churn_scores",
            "churn_triggers",
            "communities",
            "community_changes",
            "conversation_prospects",
            "conversations",
            "customer_scores",
            "customer_value",
            "customers",
            "engagement_weights",
            "influence_scores",
            "influence_tests",
            "ingest_report",
            "link_meta",
            "links",
            "nodes",
            "retention_cohorts",
            "retention_priority",
            "response_queue",
            "run_warnings",
            "service_numbers",
            "spread_curve",
            "value_models",
            "value_segments",
        ),
    ),
)
"""The stages in the order the data travels, with the tables each reads."""


TABLES: tuple[Table, ...] = (
    Table(
        "interactions",
        "ingest",
        "valid interaction record",
        "Every valid interaction record, deduplicated, pseudonymised.",
        _columns("""
        from_id     VARCHAR    Who initiated: caller, sender, referrer.
        to_id       VARCHAR    Who received it.
        timestamp   TIMESTAMP  When it happened.
        channel     VARCHAR    voice, sms, email, meeting, referral, ...
        duration_s  DOUBLE     Call or meeting length in seconds.
        """),
        when="with `ingest.keep_interactions = true`",
    ),
    Table(
        "customers",
        "ingest",
        "customer (input row)",
        (
            "The customers input, typed and pseudonymised. Interaction parties missing here are "
            "off-network prospects."
        ),
        _columns("""
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        on_network   BOOLEAN  True for the operator's own customers, false for off-network
                              contacts.
        account_id   VARCHAR  The B2B account (company) of a contact.
        segment      VARCHAR  The input's segment label.
        signup_date  DATE     When the customer joined.
        plan         VARCHAR  Plan, tier or product (the customers input).
        monthly_fee  DOUBLE   Recurring fee per month (the customers input).
        """),
        when="with the customers input",
    ),
    Table(
        "transactions",
        "ingest",
        "transaction (input row)",
        "Purchases, orders or monthly bills, typed and pseudonymised.",
        _columns("""
        customer_id  VARCHAR    The customer's (or contact's) identifier, pseudonymised at ingest.
        timestamp    TIMESTAMP  When it happened.
        amount       DOUBLE     How much (bill, order, expansion; negative = refund).
        category     VARCHAR    What for.
        """),
        when="with the transactions input",
    ),
    Table(
        "adoptions",
        "ingest",
        "adoption (input row)",
        "First adoption of an item by a customer.",
        _columns("""
        customer_id  VARCHAR    The customer's (or contact's) identifier, pseudonymised at ingest.
        item         VARCHAR    The product, service or content adopted.
        category     VARCHAR    The item's topic: influence is measured per category.
        timestamp    TIMESTAMP  When the customer adopted it.
        """),
        when="with the adoptions input",
    ),
    Table(
        "churn_events",
        "ingest",
        "churn event (input row)",
        "Customers who left (ported out, cancelled).",
        _columns("""
        customer_id  VARCHAR    The customer's (or contact's) identifier, pseudonymised at ingest.
        timestamp    TIMESTAMP  When the customer left.
        """),
        when="with the churn input",
    ),
    Table(
        "engagement_events",
        "ingest",
        "engagement event (input row)",
        "Engagement behaviour: events, web visits, surveys, email opens/clicks/forwards.",
        _columns("""
        customer_id  VARCHAR    The customer's (or contact's) identifier, pseudonymised at ingest.
        timestamp    TIMESTAMP  When it happened.
        event_type   VARCHAR    live_event, web_visit, survey, webinar, email_open, ...
        value        DOUBLE     Survey score, pages viewed; default 1.
        """),
        when="with the engagement input",
    ),
    Table(
        "identities",
        "ingest",
        "handle (input row)",
        "Handles (social accounts, forum names, e-mail addresses) mapped to customers.",
        _columns("""
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        handle       VARCHAR  A handle the customer speaks under, pseudonymised at ingest.
        """),
        when="with the identities input",
    ),
    Table(
        "conversations",
        "ingest",
        "conversation (input row)",
        (
            "What customers say: one row per post, mention, reply, review, ticket, e-mail or "
            "chat, its speaker matched to a customer or left a prospect, with its sentiment."
        ),
        _columns("""
        speaker           VARCHAR    Who spoke (customer id or handle), pseudonymised at ingest.
        customer_id       VARCHAR    The customer who spoke; NULL for a prospect (a speaker
                                     matched to no customer).
        matched_by        VARCHAR    How the speaker was matched: customer_id (customers input),
                                     identities (a handle), network (an interaction party, without
                                     a customers input); NULL for a prospect.
        message_id        VARCHAR    The message's own id, pseudonymised at ingest.
        timestamp         TIMESTAMP  When it was said.
        channel           VARCHAR    social, forum, review, support, email, chat.
        language          VARCHAR    The language the input gave (NULL: `conversations.
                                     default_language` was assumed).
        sentiment         DOUBLE     -1 (negative) to 1 (positive); NULL when none could be given.
        sentiment_source  VARCHAR    given (the input's own, which always wins), vader (VADER's
                                     compound score of the text), not covered (a language VADER
                                     does not cover: not guessed), no text.
        reply_to          VARCHAR    The party replied to (mapped through identities).
        mentions          VARCHAR[]  The parties mentioned (mapped through identities).
        answered          BOOLEAN    The company has answered it (the input's answered column;
                                     false without it).
        """),
        when="with the conversations input",
    ),
    Table(
        "conversation_prospects",
        "ingest",
        "speaker matched to no customer",
        "Speakers who are not customers: prospects, kept apart from the customers.",
        _columns("""
        speaker            VARCHAR    The speaker, pseudonymised at ingest.
        messages           BIGINT     Conversations of the speaker.
        negative_messages  BIGINT     Of which negative (sentiment at most
                                      `conversations.negative_threshold`).
        mean_sentiment     DOUBLE     Mean sentiment of those with one.
        channels           VARCHAR    The channels the speaker used.
        first_ts           TIMESTAMP  The first conversation's time.
        last_ts            TIMESTAMP  The last conversation's time.
        """),
        when="with the conversations input",
    ),
    Table(
        "conversation_links",
        "links",
        "pair of parties (a < b) who replied to or mentioned each other",
        (
            "Replies and mentions per pair, in link-state form: the links stage adds them to "
            "the interaction pairs as a channel of the network."
        ),
        _columns("""
        a              VARCHAR    One party of the pair (a < b).
        b              VARCHAR    The other party.
        n_replies_ab   BIGINT     Replies from a to b.
        n_replies_ba   BIGINT     Replies from b to a.
        n_mentions_ab  BIGINT     Mentions of b by a.
        n_mentions_ba  BIGINT     Mentions of a by b.
        weight_fp      HUGEINT    Decayed weight (`conversations.reply_weight`, `mention_weight`,
                                  the interactions' half-life) in fixed point, as of
                                  `link_meta.as_of`.
        week_mask      HUGEINT    Bit k set when the pair spoke in week k from `link_meta.origin`.
        first_ts       TIMESTAMP  The first reply or mention.
        last_ts        TIMESTAMP  The last one.
        n_off_hours    BIGINT     Replies and mentions in the evening, at night or at a weekend.
        """),
        when="with the conversations input (replies or mentions, weights above 0)",
    ),
    Table(
        "pending_interactions",
        "ingest",
        "valid interaction record, deduplicated",
        (
            "The clean records of this run's load, staged for the links stage, which folds them "
            "into link_state and drops the table in the same run."
        ),
        _columns("""
        from_id     INTEGER    Who initiated: caller, sender, referrer (a pending_parties number).
        to_id       INTEGER    Who received it (a pending_parties number).
        channel     VARCHAR    voice, sms, email, meeting, referral, ...
        duration_s  DOUBLE     Call or meeting length in seconds (missed calls: 0).
        timestamp   TIMESTAMP  When it happened (the earliest of its copies).
        copies      BIGINT     Raw rows this record stands for (1 + the duplicates dropped).
        two_sided   BOOLEAN    Logged by both phones.
        missed      BOOLEAN    A missed call (a negative duration in the input).
        """),
        when="a temporary table of a run that loads interaction files (dropped by links)",
    ),
    Table(
        "pending_parties",
        "ingest",
        "party of this run's staged records",
        (
            "The pseudonym of each party number in pending_interactions: the links stage folds "
            "the records by number and names the pairs; it drops the table in the same run."
        ),
        _columns("""
        party  INTEGER  The number pending_interactions carries.
        id     VARCHAR  The party's id (pseudonymised).
        """),
        when="a temporary table of a run that loads interaction files (dropped by links)",
    ),
    Table(
        "pending_loads",
        "ingest",
        "interaction source loaded in a run",
        (
            "What the staged records are: per source, whether they replace link_state or add to "
            "it, the newest record and the span the links stage chooses a half-life from."
        ),
        _columns("""
        run_id    INTEGER    The run that loaded them.
        source    VARCHAR    Which source of the input.
        rebuild   BOOLEAN    Every file was read: the records replace link_state.
        newest    TIMESTAMP  The newest accepted record (rejected rows never move it).
        oldest    TIMESTAMP  The oldest record since 1990, valid or not (full loads).
        rows      BIGINT     Rows read, valid or not (full loads; else 0).
        pairs     BIGINT     Distinct pairs of raw identifiers (full loads; else 0).
        location  VARCHAR    Where the records are: NULL for pending_interactions, else the
                             Parquet folder Spark wrote them to.
        """),
        when="a temporary table of a run that loads interaction files (dropped by links)",
    ),
    Table(
        "interaction_parties",
        "ingest",
        "party of the interactions",
        "Every party of the valid interaction records (for matching conversation speakers).",
        _columns("""
        party  VARCHAR  The party's id (pseudonymised).
        """),
    ),
    Table(
        "link_state",
        "links",
        "pair of parties (a < b)",
        (
            "Interactions per pair, in mergeable form: the links stage folds each load's records "
            "into it and computes strengths from it."
        ),
        _columns("""
        a                 VARCHAR    One party of the pair (a < b).
        b                 VARCHAR    The other party.
        n_voice_ab        BIGINT     Voice records from a to b.
        n_voice_ba        BIGINT     Voice records from b to a.
        n_sms_ab          BIGINT     SMS from a to b.
        n_sms_ba          BIGINT     SMS from b to a.
        n_other_ab        BIGINT     Records on other channels from a to b.
        n_other_ba        BIGINT     Records on other channels from b to a.
        voice_seconds_ab  DOUBLE     Voice seconds of calls from a to b.
        voice_seconds_ba  DOUBLE     Voice seconds of calls from b to a.
        weight_fp         HUGEINT    Decayed record weight (channel, duration, age) in fixed point,
                                     as of `link_meta.as_of`.
        week_mask         HUGEINT    Bit k set when the pair was in contact in week k from
                                     `link_meta.origin`.
        first_ts          TIMESTAMP  The first record's time.
        last_ts           TIMESTAMP  The last record's time.
        duplicates        BIGINT     Repeated records dropped (exact copies, the same call logged
                                     twice).
        two_sided         BIGINT     Records seen from both sides (one-sided input: both
                                     subscribers' logs).
        missed            BIGINT     Records without a connection (missed calls).
        n_off_hours       BIGINT     Records in the evening, at night (18:00-08:00) or at a weekend.
        """),
    ),
    Table(
        "link_meta",
        "links",
        "(one row)",
        (
            "When the interactions start and end (as of), the week origin of the masks, the "
            "half-life used."
        ),
        _columns("""
        origin            DATE       The Monday of week 0 of the week masks.
        as_of             TIMESTAMP  The newest record's time: ages and weeks count back from it.
        first_ts          TIMESTAMP  The oldest record's time.
        half_life_days    DOUBLE     The half-life (days) the decayed weights were computed with.
        half_life_reason  VARCHAR    Where that half-life came from (`[links] half_life_days`, or
                                     chosen from the data; kept from the first load).
        formula           VARCHAR    Fingerprint of the `[links]` settings the weights were
                                     computed with (half_life_days, channel_weights,
                                     duration_weight): a change rebuilds link_state.
        """),
    ),
    Table(
        "ingested_files",
        "ingest",
        "loaded interaction file",
        (
            "Every interaction file loaded: path, size, time, run (an incremental load skips "
            "those already here)."
        ),
        _columns("""
        input         VARCHAR  The input (interactions, customers, transactions, ...).
        source        VARCHAR  Which source of the input (its index or path pattern).
        path          VARCHAR  The file.
        bytes         BIGINT   Its size in bytes when loaded.
        mtime         BIGINT   Its modification time when loaded (ns since the epoch).
        run_id        INTEGER  The run that loaded it.
        history_hash  VARCHAR  Fingerprint of the files loaded before it (an incremental load
                               checks it).
        """),
    ),
    Table(
        "ingest_report",
        "ingest",
        "input x rule",
        "What ingest loaded, dropped, fixed and rejected, per input and rule.",
        _columns("""
        input        VARCHAR  The input (interactions, customers, transactions, ...).
        rule         VARCHAR  The rule (or 'loaded').
        column_name  VARCHAR  The column concerned.
        rows         BIGINT   Rows concerned.
        share        DOUBLE   Their share of the input's rows.
        example      VARCHAR  An example value (never an identifier).
        action       VARCHAR  What ingest did: loaded, dropped, fixed, rejected, skipped.
        expected     VARCHAR  What the rule expects.
        """),
    ),
    Table(
        "rejected_rows",
        "ingest",
        "bad row or line of the latest run",
        "Rows and lines set aside by validation: file, row, rule, column and value.",
        _columns("""
        input        VARCHAR  The input (interactions, customers, transactions, ...).
        source       VARCHAR  Which source of the input (its index or path pattern).
        file         VARCHAR  The file the row came from.
        row          BIGINT   Its row (or line) number in the file.
        rule         VARCHAR  The rule it broke.
        column_name  VARCHAR  The column at fault.
        value        VARCHAR  The bad value (blank for identifiers: never stored).
        """),
    ),
    Table(
        "link_structure",
        "links",
        "unordered pair (a < b) with at least one common contact",
        (
            "Per link: its common contacts, the contacts linked to both ends (contacts with "
            "`service_min_contacts` or more links left out)."
        ),
        _columns("""
        a                VARCHAR  One party of the pair (a < b).
        b                VARCHAR  The other party.
        common_contacts  BIGINT   Contacts linked to both a and b.
        """),
    ),
    Table(
        "links",
        "links",
        "unordered pair (a < b)",
        (
            "Undirected links with every strength component and the strength, computed from "
            "link_state."
        ),
        _columns("""
        a                 VARCHAR    One party of the pair (a < b).
        b                 VARCHAR    The other party.
        records           BIGINT     Interaction records.
        n_voice           BIGINT     Voice records.
        n_sms             BIGINT     SMS records.
        n_other           BIGINT     Records on other channels.
        voice_seconds     DOUBLE     Total voice call time in seconds.
        n_ab              BIGINT     Records from a to b.
        n_ba              BIGINT     Records from b to a.
        n_voice_ab        BIGINT     Voice records from a to b.
        n_voice_ba        BIGINT     Voice records from b to a.
        n_sms_ab          BIGINT     SMS from a to b.
        n_sms_ba          BIGINT     SMS from b to a.
        n_other_ab        BIGINT     Other records from a to b.
        n_other_ba        BIGINT     Other records from b to a.
        voice_seconds_ab  DOUBLE     Voice seconds from a to b.
        voice_seconds_ba  DOUBLE     Voice seconds from b to a.
        n_off_hours       BIGINT     Records in the evening, at night (18:00-08:00) or at a weekend.
        active_weeks      BIGINT     Calendar weeks with contact (of the last 52).
        first_ts          TIMESTAMP  The first record's time.
        last_ts           TIMESTAMP  The last record's time.
        days_since_last   DOUBLE     Days from the last record to the as-of time.
        volume            DOUBLE     Sum of the records' decayed weights (how often, how long, how
                                     recent).
        reciprocity       DOUBLE     min(n_ab, n_ba) / max(n_ab, n_ba): 1 when both initiate, 0
                                     one-sided.
        regularity        DOUBLE     Active weeks / weeks in the data (at most the last 52).
        recency           DOUBLE     2^(-days since the last contact / half-life).
        burstiness        DOUBLE     1 - active weeks / records.
        duration          DOUBLE     ln(1 + minutes per call).
        channel_mix       DOUBLE     1 - the sum of the squared shares of voice, SMS and other
                                     records.
        off_hours         DOUBLE     Share of the records in the evening, at night or at a weekend.
        common_contacts   BIGINT     Contacts linked to both a and b (those with
                                     `service_min_contacts` or more links left out).
        embeddedness      DOUBLE     ln(1 + common_contacts): friends share friends.
        strength          DOUBLE     The strength: volume weighted by the components (see
                                     `[links] strength_weights`).
        """),
    ),
    Table(
        "links_directed",
        "links",
        "ordered pair",
        "Directed links: who contacts whom, how often per channel, for how long.",
        _columns("""
        from_id        VARCHAR  Who initiated.
        to_id          VARCHAR  Who received.
        records        BIGINT   Interaction records.
        n_voice        BIGINT   Voice records.
        n_sms          BIGINT   SMS records.
        n_other        BIGINT   Records on other channels.
        voice_seconds  DOUBLE   Total voice call time in seconds.
        """),
        view=True,
    ),
    Table(
        "service_numbers",
        "links",
        "service number",
        "Service numbers and call centres, with the evidence; left out of the graph by default.",
        _columns("""
        customer_id         VARCHAR  The customer's (or contact's) identifier, pseudonymised at
                                     ingest.
        contacts            BIGINT   Distinct parties in contact with the number.
        reciprocated        DOUBLE   Share of its contacts who were also contacted back.
        outbound_share      DOUBLE   Share of its records that it initiated (or received, whichever
                                     is larger).
        seconds_per_record  DOUBLE   Mean voice seconds per record.
        reason              VARCHAR  Why: the figures behind this row, in plain words.
        """),
    ),
    Table(
        "nodes",
        "links",
        "party",
        "Every party: customers (on-network) and their off-network contacts.",
        _columns("""
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        on_network   BOOLEAN  True for the operator's own customers, false for off-network
                              contacts.
        is_service   BOOLEAN  A service number or call centre (see `service_numbers`).
        """),
    ),
    Table(
        "customer_activity",
        "links",
        "party with a social link",
        (
            "Contacts, records and call time out and in, first and last contact, active weeks "
            "(service numbers' links left out)."
        ),
        _columns("""
        customer_id        VARCHAR    The customer's (or contact's) identifier, pseudonymised at
                                      ingest.
        contacts           BIGINT     Distinct parties linked to the customer.
        records_out        BIGINT     Records the party initiated.
        records_in         BIGINT     Records the party received.
        voice_out          BIGINT     Voice calls made.
        voice_in           BIGINT     Voice calls received.
        sms_out            BIGINT     SMS sent.
        sms_in             BIGINT     SMS received.
        other_out          BIGINT     Other records initiated.
        other_in           BIGINT     Other records received.
        voice_seconds_out  DOUBLE     Seconds of calls made.
        voice_seconds_in   DOUBLE     Seconds of calls received.
        first_ts           TIMESTAMP  The first record's time.
        last_ts            TIMESTAMP  The last record's time.
        active_weeks       BIGINT     Calendar weeks with any contact (of the last 52).
        """),
    ),
    Table(
        "customer_weeks",
        "links",
        "party with a social link",
        (
            "Contacts active in each of the 52 newest calendar weeks (service numbers' links left "
            "out)."
        ),
        _columns("""
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        w0           INTEGER  Contacts active in the as-of week (Monday to Sunday).
        """)
        + tuple(
            Column(
                f"w{k}",
                "INTEGER",
                f"Contacts active {k} week{'s' if k > 1 else ''} before the as-of week.",
            )
            for k in range(1, 52)
        ),
    ),
    Table(
        "customer_scores",
        "graph",
        "party (customer or contact)",
        "Community, centrality, role, leaders and the reason, per party of the graph.",
        _columns("""
        customer_id          VARCHAR  The customer's (or contact's) identifier, pseudonymised at
                                      ingest.
        on_network           BOOLEAN  True for the operator's own customers, false for off-network
                                      contacts.
        is_service           BOOLEAN  A service number or call centre (see `service_numbers`).
        community            BIGINT   Community id at the main level (stable across runs with
                                      `graph.stable_ids`).
        community_size       BIGINT   Parties in the community.
        contacts             BIGINT   Distinct parties linked to the customer.
        contacts_voice       BIGINT   Distinct parties linked by voice calls.
        contacts_sms         BIGINT   Distinct parties linked by SMS.
        contacts_other       BIGINT   Distinct parties linked by other channels (email, meeting,
                                      referral, ...).
        super_connector      BOOLEAN  Contacts at or above `graph.super_connector_percentile`.
        weighted_degree      DOUBLE   Sum of the graph's edge weights (ln(1 + strength) by
                                      default).
        pagerank             DOUBLE   PageRank on the weighted graph.
        eigenvector          DOUBLE   Eigenvector centrality.
        core_number          BIGINT   k-core number.
        clustering           DOUBLE   Local clustering coefficient.
        betweenness          DOUBLE   Approximate betweenness (`graph.betweenness_samples`; NULL
                                      when 0).
        within_z             DOUBLE   Within-community degree z-score (Guimera-Amaral roles).
        participation        DOUBLE   Participation coefficient: how evenly the customer's tie
                                      strength spreads over communities (0 = all in one).
        role                 BIGINT   Guimera-Amaral role number (R1-R7).
        role_name            VARCHAR  The role's name (ultra-peripheral, connector hub, ...).
        business_role        VARCHAR  The role in business words (leader, bridge, member, ...).
        weighted_degree_pct  DOUBLE   Percentile of weighted_degree (0-100).
        pagerank_pct         DOUBLE   Percentile of pagerank (0-100).
        betweenness_pct      DOUBLE   Percentile of betweenness (0-100).
        rank_in_community    BIGINT   Rank by weighted degree, then PageRank, within the community
                                      (communities of at least 3).
        is_leader            BOOLEAN  Among the top `graph.leaders_per_community` of a community of
                                      at least 3.
        reason               VARCHAR  Why: the figures behind this row, in plain words.
        """),
    ),
    Table(
        "communities",
        "graph",
        "community (main level)",
        "Size, cohesion, churn and revenue of each community, its leaders and bridges.",
        _columns("""
        community           BIGINT   Community id at the main level (stable across runs with
                                     `graph.stable_ids`).
        size                BIGINT   Parties in the community.
        on_network_members  BIGINT   Of which customers (on-network).
        internal_links      BIGINT   Links inside the community.
        external_links      BIGINT   Links to other communities.
        density             DOUBLE   Internal links / possible pairs.
        conductance         DOUBLE   Strength leaving the community / its total strength.
        mean_tie_strength   DOUBLE   Mean strength of its internal links.
        on_network_share    DOUBLE   on_network_members / size.
        churn_rate          DOUBLE   Share of its customers who churned. [only with the churn
                                     input]
        revenue             DOUBLE   Sum of its members' transactions. [only with the transactions
                                     input]
        leaders             VARCHAR  Its leaders' ids, space-separated, in rank order.
        bridges             BIGINT   Members with links to other communities.
        """),
    ),
    Table(
        "community_levels",
        "graph",
        "party x level",
        "Each party's community at every resolution (0 = main level).",
        _columns("""
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        level        BIGINT   Community level (0 = the main level, then `graph.levels` in order).
        resolution   DOUBLE   Leiden resolution of that level.
        community    BIGINT   The party's community at that level.
        """),
    ),
    Table(
        "community_level_quality",
        "graph",
        "community level",
        (
            "How each level was built (the main level directly, the others nested around it), "
            "its modularity, and a direct run's at the same resolution (what nesting trades)."
        ),
        _columns("""
        level               BIGINT   Community level (0 = the main level, then `graph.levels`).
        resolution          DOUBLE   Leiden resolution of that level.
        built               VARCHAR  How the level was built (directly, or nested in the main
                                     level).
        communities         BIGINT   Communities at the level.
        modularity          DOUBLE   Their modularity.
        direct_communities  DOUBLE   Communities of a direct run at the same resolution (NULL
                                     when not compared).
        direct_modularity   DOUBLE   That run's modularity (NULL when not compared).
        modularity_traded   DOUBLE   direct_modularity - modularity: what nesting costs.
        comparison          VARCHAR  Whether the level is a direct run, was compared with one,
                                     or why not (`graph.compare_levels`).
        """),
    ),
    Table(
        "community_changes",
        "graph",
        "community x level of this run",
        "How this run's communities continue, split or merge the previous run's.",
        _columns("""
        run_id              BIGINT   The run that found the change.
        event               VARCHAR  kept, split, merged, new or dissolved.
        community           BIGINT   The community in this run.
        previous_community  BIGINT   The matching community of the previous run.
        shared              BIGINT   Members the two share.
        share_of_previous   DOUBLE   shared / size of the previous community.
        share_of_new        DOUBLE   shared / size of the new community.
        level               BIGINT   Community level (0 = the main level, then `graph.levels` in
                                     order).
        resolution          DOUBLE   Leiden resolution of that level.
        """),
    ),
    Table(
        "network_nodes",
        "graph",
        "party",
        "Each party's node number in the network the graph stage analysed.",
        _columns("""
        node         BIGINT   The party's node number (0, 1, ... in customer_id order).
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        """),
    ),
    Table(
        "network_adjacency",
        "graph",
        "link x end (each link twice)",
        (
            "The network the graph stage analysed, each link from both ends, sorted by node: a "
            "party's contacts are one run of rows (links to service numbers are left out with "
            "`links.exclude_service_numbers`)."
        ),
        _columns("""
        node      BIGINT  One end's node number (network_nodes.node).
        contact   BIGINT  The other end's node number.
        strength  DOUBLE  The link's strength (links.strength).
        """),
    ),
    Table(
        "influence_scores",
        "influence",
        "customer x category (and 'all')",
        "Adoptions each customer caused beyond homophily, the evidence, the basis and the reason.",
        _columns("""
        customer_id           VARCHAR  The customer's (or contact's) identifier, pseudonymised at
                                       ingest.
        category              VARCHAR  The product category (influence is measured per category;
                                       'all' = any item).
        rank                  BIGINT   Position in the list (1 = first): by influence_score, then
                                       structural_score.
        influence_score       DOUBLE   Adoptions the customer caused beyond homophily and the base
                                       rate (posterior mean; 0 where influence is not shown).
        influence_low         DOUBLE   5% bound of the adoptions caused.
        influence_high        DOUBLE   95% bound of the adoptions caused.
        influence_multiplier  DOUBLE   The customer's pull against an average customer's (1).
        conversion_rate       DOUBLE   Share of exposed contacts the customer converts
                                       (multiplier x the category's rate).
        influence_shown       BOOLEAN  Whether the category's tests show influence.
        adoptions             BIGINT   Items the customer adopted.
        contacts              BIGINT   The customer's contacts.
        customer_contacts     BIGINT   Of which customers.
        followers             DOUBLE   Contacts who adopted the same item within the window after
                                       the customer (a tie counts half).
        followers_expected    DOUBLE   Followers expected with shuffled adoption times (homophily
                                       control).
        excess_followers      DOUBLE   followers - followers_expected.
        p_value               DOUBLE   One-sided permutation p-value of the customer's followers.
        median_lead_days      DOUBLE   Median days by which the customer preceded the followers.
        lead_days             VARCHAR  The five shortest leads in days.
        structural_score      DOUBLE   Structural spreading score (`influence.structural`).
        structural_top_pct    DOUBLE   Top percentage by structural_score.
        basis                 VARCHAR  adoption timing, or structural fallback (and why).
        reason                VARCHAR  Why: the figures behind this row, in plain words.
        """),
        when="when `influence.enabled` (the default)",
    ),
    Table(
        "influence_tests",
        "influence",
        "category",
        "The window test and the test of order against shuffled timing (homophily control).",
        _columns("""
        category              VARCHAR  The product category.
        adopters              BIGINT   Adoptions of items of the category.
        items                 BIGINT   Items adopted.
        linked_adopter_pairs  BIGINT   Linked pairs who both adopted the same item.
        follows               DOUBLE   Pairs of linked adopters at most the window apart.
        follows_expected      DOUBLE   The same with shuffled adoption times.
        window_p_value        DOUBLE   Sequential Monte-Carlo p-value of the window test.
        order_statistic       DOUBLE   Earlier-adopting contacts of adopters beyond those still at
                                       risk (test of order at any lag).
        order_expected        DOUBLE   The same with shuffled adoption times.
        order_p_value         DOUBLE   Sequential Monte-Carlo p-value of the test of order.
        p_value               DOUBLE   min(1, 2 x the smaller of the two).
        shuffles              BIGINT   Shuffles done.
        window_days           DOUBLE   The follow window in days (from the data's resolution when
                                       unset).
        time_resolution       VARCHAR  How finely adoption dates are recorded.
        influence_detected    BOOLEAN  p_value below `influence.significance`.
        adoptions_caused      DOUBLE   Adoptions caused in the category (0 when not shown).
        excess                DOUBLE   follows - follows_expected.
        ratio                 DOUBLE   follows / follows_expected.
        warning               VARCHAR  Why the window may see no follow, else NULL.
        reason                VARCHAR  Why: the figures behind this row, in plain words.
        link_scale            DOUBLE   The calibrated scale of the learned link probabilities.
                                       [only with adoptions to calibrate on]
        caused_per_adoption   DOUBLE   Adoptions an adoption caused, chains of credited follows
                                       included (0 without shown influence). [only with adoptions
                                       to calibrate on]
        reach_check           DOUBLE   Out of sample, what the adoptions after the cut caused over
                                       what the cascade fitted before it predicts (NULL: not
                                       checked). [only with adoptions to calibrate on]
        reach_check_low       DOUBLE   Its 90% interval, low end. [only with adoptions to
                                       calibrate on]
        reach_check_high      DOUBLE   Its 90% interval, high end. [only with adoptions to
                                       calibrate on]
        """),
        when="when `influence.enabled` and there are adoptions",
    ),
    Table(
        "influence_links",
        "influence",
        "directed link into a customer",
        "Influence probabilities of each link, learned from adoption timing.",
        _columns("""
        source              VARCHAR  The influencer.
        target              VARCHAR  The influenced customer.
        p_weighted_cascade  DOUBLE   Weighted-cascade probability: the link's share of the target's
                                     in-strength.
        probability         DOUBLE   The probability the cascade uses.
        source_adoptions    BIGINT   Adoptions by the source. [only with the adoptions input]
        propagations        BIGINT   Adoptions that followed along this link. [only with the
                                     adoptions input]
        partial_credit      DOUBLE   Goyal et al.'s partial credit of the link. [only with the
                                     adoptions input]
        mean_delay_days     DOUBLE   Mean days between the source's and the target's adoptions.
                                     [only with the adoptions input]
        p_bernoulli         DOUBLE   Bernoulli link probability (propagations / source adoptions).
                                     [only with the adoptions input]
        p_jaccard           DOUBLE   Jaccard link probability. [only with the adoptions input]
        p_partial_credit    DOUBLE   Partial-credit link probability. [only with the adoptions
                                     input]
        """),
        when="when `influence.enabled`",
    ),
    Table(
        "influence_validation",
        "influence",
        "link model",
        "ROC AUC of the link models on the period after training.",
        _columns("""
        model          VARCHAR       The link model (weighted cascade, Bernoulli, Jaccard, ...).
        roc_auc        DOUBLE        Area under the ROC curve on held-out data.
        trained_until  TIMESTAMP     The end of the training period.
        candidates     BIGINT        Customer x item candidates in the test period.
        adopters       BIGINT        Of which adopted.
        """),
        when="when `influence.enabled` and adoptions allow a validation period",
    ),
    Table(
        "seed_sets",
        "influence",
        "category x seed",
        (
            "Seeds per category: IMM on the fitted cascade where influence is shown, else a "
            "structural fallback (`tiewise seeds` replaces a category's rows)."
        ),
        _columns("""
        category         VARCHAR  The product category ('all' = any item).
        rank             BIGINT   Position in the list (1 = first).
        customer_id      VARCHAR  The customer's identifier, pseudonymised at ingest.
        basis            VARCHAR  influence cascade, or structural fallback.
        cost             DOUBLE   The seed's cost (`influence.cost`; 1 each by default).
        cumulative_cost  DOUBLE   Cost of the seeds up to this one.
        marginal_reach   DOUBLE   Expected adopters this seed adds (NULL for a fallback).
        model_reach      DOUBLE   The cascade model's reach of the seeds up to this one.
        expected_reach   DOUBLE   model_reach x its out-of-sample check (NULL for a fallback).
        reach_low        DOUBLE   Low end of the reach (sampling and out-of-sample intervals).
        reach_high       DOUBLE   High end of the reach.
        rr_sets          BIGINT   Reverse-reachable sets IMM sampled to choose the seeds.
        epsilon          DOUBLE   The approximation guarantee for these seeds, IMM's or the one a
                                  fresh sample certifies if smaller: reach >= (1 - 1/e - epsilon)
                                  x optimum (0: certified above 1 - 1/e).
        reason           VARCHAR  Why: the figures behind this row, in plain words.
        """),
        when="when `influence.enabled`",
    ),
    Table(
        "spread_curve",
        "influence",
        "category (that shows influence) x k",
        "Expected reach of the first k seeds with its interval, next to the top-degree heuristic.",
        _columns("""
        category          VARCHAR  The product category ('all' = any item).
        k                 BIGINT   Seeds.
        expected_reach    DOUBLE   Expected adopters reached by the first k seeds (out-of-sample
                                   adjusted).
        reach_low         DOUBLE   Low end of the reach.
        reach_high        DOUBLE   High end of the reach.
        model_reach       DOUBLE   The cascade model's reach.
        top_degree_reach  DOUBLE   The same for the k customers with most contacts.
        reach_check       DOUBLE   Out-of-sample ratio of observed to predicted reach.
        cumulative_cost   DOUBLE   Cost of the seeds up to this one.
        targets           BIGINT   Customers the cascade can reach.
        """),
        when="when `influence.enabled`",
    ),
    Table(
        "network_value",
        "influence",
        "customer",
        "The value of the adoptions each customer's own adoptions are expected to cause.",
        _columns("""
        customer_id         VARCHAR  The customer's identifier, pseudonymised at ingest.
        network_value       DOUBLE   Value of the adoptions the customer's own adoptions are
                                     expected to cause over the value horizon.
        caused_value        DOUBLE   The same over the observed period.
        expected_adoptions  DOUBLE   The customer's expected adoptions over the horizon, all
                                     categories.
        reason              VARCHAR  The arithmetic, in plain words.
        """),
        when="when `influence.enabled` and there are adoptions",
    ),
    Table(
        "network_value_categories",
        "influence",
        "customer x category",
        "The arithmetic of network value per category.",
        _columns("""
        customer_id          VARCHAR  The customer's identifier, pseudonymised at ingest.
        category             VARCHAR  The product category.
        adoptions            BIGINT   The customer's adoptions in the category.
        adoptions_caused     DOUBLE   The headline: adoptions the customer caused (influence_score).
        expected_adoptions   DOUBLE   The customer's expected adoptions over the value horizon.
        caused_per_adoption  DOUBLE   Adoptions one adoption causes in the category, chains
                                      included (0 where influence is not shown).
        pull                 DOUBLE   The customer's adoptions caused per adoption over the
                                      category's mean.
        adoption_value       DOUBLE   Value of one adoption in the category.
        value_per_adoption   DOUBLE   caused_per_adoption x pull x adoption_value.
        caused_value         DOUBLE   adoptions x value_per_adoption (the observed period).
        network_value        DOUBLE   expected_adoptions x value_per_adoption.
        """),
        when="when `influence.enabled` and there are adoptions",
    ),
    Table(
        "customer_value",
        "value",
        "customer",
        "Spend, CLV, P(alive), network and true value, social value, segment and the reason.",
        _columns("""
        customer_id           VARCHAR  The customer's (or contact's) identifier, pseudonymised at
                                       ingest.
        historical_spend      DOUBLE   Sum of the customer's transactions to date.
        purchases             BIGINT   Distinct purchase days.
        sbg_model             VARCHAR  Which sBG model valued the customer (its `sbg_group_by`
                                       value, or pooled). [only with the sBG model]
        tenure_months         BIGINT   Months subscribed. [only with the sBG model]
        monthly_revenue       DOUBLE   Revenue per month: median monthly spend, else monthly_fee.
                                       [only with the sBG model]
        p_alive               DOUBLE   P(alive): BG/NBD's probability, or 1/0 for subscribers (NULL
                                       without a purchase).
        p_renew_next          DOUBLE   sBG's chance of renewing next month. [only with the sBG
                                       model]
        expected_months       DOUBLE   Discounted months expected in the horizon (sBG). [only with
                                       the sBG model]
        clv                   DOUBLE   Customer lifetime value over `value.horizon_months` (the
                                       value stage).
        model_reason          VARCHAR  The financial model's figures, in words.
        network_value         DOUBLE   Value of the adoptions the customer's own adoptions are
                                       expected to cause (the influence stage; 0 without it).
        true_value            DOUBLE   clv + network_value.
        adoptions_decayed     DOUBLE   Recency-decayed count of product adoptions. [only with the
                                       adoptions input and without engagement]
        categories            DOUBLE   Categories adopted in. [only with the adoptions input and
                                       without engagement]
        knowledge_basis       VARCHAR  What social_knowledge is computed from (engagement score,
                                       product adoptions).
        social_knowledge      DOUBLE   Knowledge and involvement in the category (percentile).
        tie_strength          DOUBLE   Sum of the customer's link strengths.
        participation         DOUBLE   Participation coefficient: how evenly the customer's tie
                                       strength spreads over communities (0 = all in one).
        community_tightness   DOUBLE   1 - conductance of the customer's community.
        contacts              BIGINT   Distinct parties linked to the customer.
        contacts_voice        BIGINT   Distinct parties linked by voice calls.
        contacts_sms          BIGINT   Distinct parties linked by SMS.
        contacts_other        BIGINT   Distinct parties linked by other channels (email, meeting,
                                       referral, ...).
        social_connections    DOUBLE   Mean percentile of tie strength, community tightness and
                                       participation.
        social_reach          DOUBLE   Percentile of the sum over channels of ln(1 + contacts on
                                       the channel).
        social_value          DOUBLE   Weighted mean of the social parts (`value.social_weights`).
        social_percentile     DOUBLE   Percentile of social_value.
        financial_percentile  DOUBLE   Percentile of clv.
        segment               VARCHAR  Value segment: Ambassador, Influencer, High spender or
                                       Other.
        reason                VARCHAR  Why: the figures behind this row, in plain words.
        churned               BOOLEAN  The customer churned (the churn input). [only with the churn
                                       input]
        frequency             DOUBLE   Repeat purchase days (BG/NBD). [only with the BG/NBD model]
        recency               DOUBLE   From the first to the last purchase, in `value.unit_days`
                                       (BG/NBD). [only with the BG/NBD model]
        T                     DOUBLE   From the first purchase to the calibration end, in
                                       `value.unit_days` (BG/NBD). [only with the BG/NBD model]
        expected_purchases    DOUBLE   Purchases expected in the horizon (BG/NBD). [only with the
                                       BG/NBD model]
        expected_spend        DOUBLE   Expected spend per purchase (Gamma-Gamma). [only with the
                                       BG/NBD model]
        engagement_points     DOUBLE   Decayed, weighted engagement points. [only with the
                                       engagement input]
        engagement_events     BIGINT   Engagement events. [only with the engagement input]
        top_behaviour         VARCHAR  The event type that earned most points. [only with the
                                       engagement input]
        engagement_log_odds   DOUBLE   The learned engagement model's log-odds. [only with
                                       `value.learn_weights_from`]
        engagement_score      DOUBLE   Percentile of the engagement points (or log-odds). [only
                                       with the engagement input]
        colleagues_linked     BIGINT   Linked contacts in the same account. [only with the
                                       engagement input and customers' account_id]
        colleagues_moved      BIGINT   Linked colleagues who did the same thing within
                                       `value.reach_window_days` after the contact. [only with the
                                       engagement input and customers' account_id]
        email_<signal>        BIGINT   Engagement events of the signal's type
                                       (`value.email_event_types`: opens, clicks, forwards). [only
                                       with the engagement input]
        email_<signal>_pct    DOUBLE   Percentile of email_<signal>. [only with the engagement
                                       input]
        top_<signal>          BOOLEAN  email_<signal>_pct at or above `value.email_top_percentile`.
                                       [only with the engagement input]
        """),
    ),
    Table(
        "value_segments",
        "value",
        "segment",
        "Customers, total and mean value, churn rate and cut-offs per value segment.",
        _columns("""
        segment              VARCHAR  Value segment: Ambassador, Influencer, High spender or Other.
        customers            BIGINT   Customers in the segment.
        share                DOUBLE   Their share of all customers.
        total_clv            DOUBLE   Sum of clv.
        total_network_value  DOUBLE   Sum of network_value.
        total_true_value     DOUBLE   Sum of true_value.
        mean_true_value      DOUBLE   Mean true_value.
        historical_spend     DOUBLE   Sum of historical spend.
        mean_social_value    DOUBLE   Mean social_value.
        churn_rate           DOUBLE   Share of the customers who churned (with the churn input).
        definition           VARCHAR  The segment's rule with the cut-offs.
        """),
    ),
    Table(
        "value_models",
        "value",
        "model parameter",
        "Fitted parameters of the value models, log-likelihood, customers.",
        _columns("""
        model            VARCHAR  BG/NBD, Gamma-Gamma or sBG (with its group).
        parameter        VARCHAR  The parameter's name (r, alpha, a, b, p, q, gamma, ...).
        value            DOUBLE   Its fitted value.
        log_likelihood   DOUBLE   The fit's log-likelihood.
        customers        BIGINT   Customers the model was fitted on.
        calibration_end  VARCHAR  The last day the model learned from.
        """),
        when="when a financial model was fitted (`value.model` not none)",
    ),
    Table(
        "engagement_weights",
        "value",
        "engagement event type",
        "Weight per engagement event type (configured or learned, with AUC).",
        _columns("""
        event_type         VARCHAR  The engagement event type.
        weight             DOUBLE   Points per event.
        source             VARCHAR  config, or learned from the outcome.
        coefficient        DOUBLE   The logistic regression's coefficient. [only with
                                    `value.learn_weights_from`]
        holdout_auc        DOUBLE   The model's ROC AUC on a stratified 30% hold-out. [only with
                                    `value.learn_weights_from`]
        outcome_customers  BIGINT   Customers with the outcome. [only with
                                    `value.learn_weights_from`]
        """),
        when="with the engagement input",
    ),
    Table(
        "retention_cohorts",
        "value",
        "signup-year cohort",
        "Subscribers, churned, observed and fitted monthly retention (sBG).",
        _columns("""
        cohort                      BIGINT   Signup year.
        subscribers                 BIGINT   Subscribers of the cohort.
        churned                     BIGINT   Of which churned in the window.
        subscriber_months           DOUBLE   Months subscribed in the window.
        fitted_monthly_retention    DOUBLE   The sBG model's monthly retention for the cohort.
        observed_monthly_retention  DOUBLE   1 - churned / subscriber months.
        """),
        when="with the sBG model",
    ),
    Table(
        "churn_triggers",
        "churn",
        "trigger",
        "Dated departures from each customer's own rhythm, with the evidence.",
        _columns("""
        customer_id   VARCHAR       The customer's (or contact's) identifier, pseudonymised at
                                    ingest.
        trigger       VARCHAR       usage_drop, silent, purchase_overdue, p_alive, negative_post or
                                    complaint_burst.
        trigger_date  TIMESTAMP     When the departure began.
        observed      DOUBLE        The observed figure (recent usage, days silent, ...).
        usual         DOUBLE        The customer's usual figure.
        change        DOUBLE        observed vs usual, as a relative change.
        evidence      VARCHAR       The observations behind the trigger, in words.
        """),
        when="with the customers and churn inputs",
    ),
    Table(
        "churn_scores",
        "churn",
        "current customer",
        "P(churn), behavioural and social signals, expected loss and the reason.",
        _columns("""
        customer_id               VARCHAR  The customer's (or contact's) identifier, pseudonymised
                                           at ingest.
        p_churn                   DOUBLE   Probability of churning within `churn.horizon_days`
                                           (calibrated model).
        tenure_days               DOUBLE   Days since signup.
        plan                      VARCHAR  Plan, tier or product (the customers input).
        segment                   VARCHAR  Value segment: Ambassador, Influencer, High spender or
                                           Other.
        monthly_fee               DOUBLE   Recurring fee per month (the customers input).
        contacts_active           DOUBLE   Contacts in the recent weeks.
        usage_recent              DOUBLE   Active contacts a week in the last `churn.recent_weeks`.
        usage_baseline            DOUBLE   Active contacts a week before them (own baseline).
        usage_ratio               DOUBLE   usage_recent / usage_baseline.
        weeks_since_active        DOUBLE   Weeks since the last week with a contact.
        active_week_share         DOUBLE   Share of weeks with a contact.
        purchases                 DOUBLE   Distinct purchase days.
        purchase_interval         DOUBLE   Mean days between purchase days (at least three).
        days_since_purchase       DOUBLE   Days since the last purchase.
        purchase_overdue          DOUBLE   days_since_purchase / purchase_interval.
        spend_recent              DOUBLE   Spend in the recent window.
        longest_gap               DOUBLE   Longest gap between purchases before, in days.
        churned_contacts_recent   DOUBLE   Contacts who churned in the last `churn.social_days`.
        strong_contacts           DOUBLE   Contacts in touch in at least half of the weeks.
        strong_churned_recent     DOUBLE   Of which churned in the last `churn.social_days`.
        churned_share_recent      DOUBLE   Tie-weighted share of contacts who churned recently.
        churn_exposure            DOUBLE   Sum over recently churned contacts of the tie's pull x
                                           exp(-days / `churn.exposure_days`).
        churned_contacts_longer   DOUBLE   Contacts who churned in the last `churn.community_days`.
        churned_share_longer      DOUBLE   Tie-weighted share of them.
        community_churn_rate      DOUBLE   Churn rate of the customer's community (as at the cut-
                                           off) over `churn.community_days`.
        leader_churned            DOUBLE   1 when a leader of the customer's community churned.
        spreading_activation      DOUBLE   Energy received from recent churners (Dasgupta et al.
                                           2008).
        contacts_known            DOUBLE   Contacts seen before the cut-off.
        days_since_contact_churn  DOUBLE   Days since the latest contact who churned.
        is_leader                 BOOLEAN  A community leader (customer_scores).
        negative_posts_recent     DOUBLE   Negative conversations in the last `churn.recent_weeks`.
                                           [only with the conversations input]
        posts_recent              DOUBLE   Conversations in the last `churn.recent_weeks`. [only
                                           with the conversations input]
        posts_usual               DOUBLE   The customer's usual number in as many days, from the
                                           weeks before. [only with the conversations input]
        posts_ratio               DOUBLE   (posts_recent + 1) / (posts_usual + 1). [only with the
                                           conversations input]
        sentiment_recent          DOUBLE   Mean sentiment of the recent conversations. [only with
                                           the conversations input]
        triggers                  VARCHAR  The customer's churn triggers, comma-separated (see
                                           `churn_triggers`).
        clv                       DOUBLE   clv from customer_value.
        network_value             DOUBLE   network_value from customer_value.
        expected_loss             DOUBLE   p_churn x (clv + network_value): what losing the
                                           customer is expected to cost.
        reason                    VARCHAR  Why: the figures behind this row, in plain words.
        """),
        when="with the customers and churn inputs",
    ),
    Table(
        "retention_priority",
        "churn",
        "customer (top `churn.priority_size`)",
        "Customers ranked by expected loss = P(churn) x (clv + network value).",
        _columns("""
        rank           BIGINT   Position in the list (1 = first).
        customer_id    VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        p_churn        DOUBLE   Probability of churning within `churn.horizon_days` (calibrated
                                model).
        clv            DOUBLE   clv from customer_value.
        network_value  DOUBLE   Value of the adoptions the customer's own adoptions are expected to
                                cause (the influence stage; 0 without it).
        expected_loss  DOUBLE   p_churn x (clv + network_value): what losing the customer is
                                expected to cost.
        triggers       VARCHAR  The customer's churn triggers, comma-separated (see
                                `churn_triggers`).
        reason         VARCHAR  Why: the figures behind this row, in plain words.
        """),
        when="with the customers and churn inputs",
    ),
    Table(
        "churn_evaluation",
        "churn",
        "model",
        "Out-of-time ROC AUC and top-decile lift with and without social features.",
        _columns("""
        model            VARCHAR  behaviour, behaviour + social, spreading activation alone,
                                  (with conversations) behaviour + conversations, behaviour +
                                  social + conversations, selected.
        roc_auc          DOUBLE   Out-of-time ROC AUC, averaged over the test cut-offs.
        top_decile_lift  DOUBLE   Churn rate in the top 10% of scores / the average.
        brier            DOUBLE   Brier score of the probabilities.
        calibration      VARCHAR  How the probabilities were calibrated: on 3 folds (three
                                  boosters averaged) or, from 10,000 churners in the training
                                  rows, on a held-out fifth (`churn.calibration_rows`); empty
                                  for spreading activation.
        customers        BIGINT   Customers scored, summed over the test cut-offs.
        churners         BIGINT   Of which churned within the horizon.
        horizon_days     BIGINT   The horizon (`churn.horizon_days`).
        """),
        when="with the customers and churn inputs",
    ),
    Table(
        "churn_lift",
        "churn",
        "model x share targeted",
        "Cumulative lift and churners captured by share targeted, per model.",
        _columns("""
        targeted_share     DOUBLE   Share of customers targeted, highest scores first.
        lift               DOUBLE   Churn rate among the targeted / the overall churn rate.
        churners_captured  DOUBLE   Share of the churners among them.
        model              VARCHAR  The model this row is about.
        """),
        when="with the customers and churn inputs",
    ),
    Table(
        "run_warnings",
        "pipeline",
        "stage the last run skipped",
        "Stages the last run skipped, why, and the setting that enables each (in the report).",
        _columns("""
        stage   VARCHAR  The skipped stage or part (churn, customer lifetime value, ...).
        reason  VARCHAR  Why it was skipped.
        enable  VARCHAR  The input or setting that enables it.
        """),
    ),
    Table(
        "response_queue",
        "campaigns",
        "open conversation (top `conversations.queue_size`)",
        (
            "Open conversations (unanswered, by customers, in the last "
            "`conversations.open_days`) ranked by what is at stake, with the reason in words."
        ),
        _columns("""
        rank                        BIGINT     Position in the queue (1 = answer first).
        customer_id                 VARCHAR    The customer who spoke, pseudonymised at ingest.
        message_id                  VARCHAR    The conversation's message id, pseudonymised.
        timestamp                   TIMESTAMP  When it was said.
        channel                     VARCHAR    social, forum, review, support, email, chat.
        sentiment                   DOUBLE     -1 to 1; NULL when unknown.
        sentiment_source            VARCHAR    given, vader, not covered or no text.
        segment                     VARCHAR    Value segment (customer_value).
        true_value                  DOUBLE     true_value from customer_value.
        p_churn                     DOUBLE     P(churn) from churn_scores.
        churn_risk_ratio            DOUBLE     p_churn / the mean P(churn).
        influencer_label            VARCHAR    The speaker's influence, in words.
        contacts                    DOUBLE     The speaker's contacts (customer_scores): who hears
                                               it.
        followers_of_last_adoption  DOUBLE     Contacts who adopted the item of the speaker's last
                                               adoption in the influence window after it.
        score                       DOUBLE     (negativity + floor) x recency x value x risk x reach
                                               (each 1 when unknown; see the README).
        value_at_stake              DOUBLE     p_churn x true_value.
        expected_value_protected    DOUBLE     value_at_stake x `conversations.response_effect`
                                               (an assumption until measured).
        reason                      VARCHAR    Why: the figures behind this row, in plain words.
        """),
        when="with the conversations input",
    ),
    Table(
        "campaign_<name>",
        "campaigns",
        "listed customer",
        (
            "A campaign list (`tiewise campaign`): ranked customers, arm and reason; the columns "
            "after `score` depend on the kind."
        ),
        _columns("""
        rank                     BIGINT   Position in the list (1 = first).
        customer_id              VARCHAR  The customer's (or contact's) identifier, pseudonymised
                                          at ingest.
        arm                      VARCHAR  'target' (contact) or 'control' (hold out, to measure
                                          uplift); drawn by a seeded hash.
        score                    DOUBLE   The list's ranking score (higher first).
        customer_contacts        BIGINT   Customers among the prospect's contacts (acquisition).
                                          [only acquisition lists]
        influencer_contacts      BIGINT   Influencers among them (acquisition). [only acquisition
                                          lists]
        tie_strength             DOUBLE   Strength of the prospect's ties to customers
                                          (acquisition). [only acquisition lists]
        influencer_tie_strength  DOUBLE   Of which to influencers (acquisition). [only acquisition
                                          lists]
        reason                   VARCHAR  Why: the figures behind this row, in plain words.
        category                 VARCHAR  The seed set's category (crosssell). [only crosssell
                                          lists]
        cost                     DOUBLE   The seed's cost (crosssell). [only crosssell lists]
        cumulative_cost          DOUBLE   Cost up to this seed (crosssell). [only crosssell lists]
        marginal_reach           DOUBLE   Expected adopters the seed adds (crosssell). [only
                                          crosssell lists]
        expected_reach           DOUBLE   Expected adopters up to this seed (crosssell). [only
                                          crosssell lists]
        basis                    VARCHAR  influence cascade, or structural fallback (crosssell).
                                          [only crosssell lists]
        model_reach              DOUBLE   The cascade model's reach up to this seed (crosssell).
                                          [only crosssell lists]
        reach_low                DOUBLE   Low end of the reach (crosssell). [only crosssell lists]
        reach_high               DOUBLE   High end of the reach (crosssell). [only crosssell
                                          lists]
        rr_sets                  BIGINT   The seeds' reverse-reachable sets (crosssell). [only
                                          crosssell lists]
        epsilon                  DOUBLE   The seeds' certified guarantee (crosssell). [only
                                          crosssell lists]
        offnet_contacts          BIGINT   Off-network contacts of the customer (referral). [only
                                          referral lists]
        offnet_tie_strength      DOUBLE   Strength of the ties to them (referral). [only referral
                                          lists]
        influencer_label         VARCHAR  The customer's influence percentile, in words. [only
                                          referral and vip lists]
        clv                      DOUBLE   clv (retention). [only retention lists]
        expected_loss            DOUBLE   Expected loss (retention). [only retention lists]
        network_value            DOUBLE   network_value (retention). [only retention lists]
        p_churn                  DOUBLE   P(churn) (retention, response). [only retention and
                                          response lists]
        value_at_risk            DOUBLE   clv + network_value: what leaving would cost (retention).
                                          [only retention lists]
        triggers                 VARCHAR  Churn triggers (retention). [only retention lists]
        true_value               DOUBLE   true_value from customer_value (vip, response). [only vip
                                          and response lists]
        community                BIGINT   The customer's community (vip). [only vip lists]
        contacts                 BIGINT   The customer's contacts (vip). [only vip lists]
        message_id               VARCHAR  The conversation to answer (response). [only response
                                          lists]
        channel                  VARCHAR  Its channel (response). [only response lists]
        sentiment                DOUBLE   Its sentiment (response). [only response lists]
        segment                  VARCHAR  Value segment (response). [only response lists]
        value_at_stake           DOUBLE   P(churn) x true value (response). [only response lists]
        expected_value_protected DOUBLE   Value at stake x the assumed response effect (response).
                                          [only response lists]
        """),
        when="by `tiewise campaign` (and `tiewise demo`)",
    ),
    Table(
        "campaigns",
        "campaigns",
        "campaign",
        "Every campaign list built in the workspace.",
        _columns("""
        campaign       VARCHAR    The campaign's name (its list is table `campaign_<name>`).
        kind           VARCHAR    acquisition, referral, crosssell, retention or vip.
        category       VARCHAR    The crosssell category (NULL for other kinds).
        size           INTEGER    The size asked for.
        listed         INTEGER    Customers listed (targets and controls).
        controls       INTEGER    Customers held out (arm = control).
        control_share  DOUBLE     The share held out (`campaigns.control_share`).
        seed           INTEGER    The seed of the arm draw.
        basis          VARCHAR    What the list is ranked by.
        run_id         INTEGER    The run that built the list.
        created_at     TIMESTAMP  When it was built.
        """),
        when="by `tiewise campaign`",
    ),
    Table(
        "campaign_responses",
        "campaigns",
        "campaign x listed customer",
        "Responses per listed customer and campaign (missing = did not respond).",
        _columns("""
        campaign     VARCHAR  The campaign's name (its list is table `campaign_<name>`).
        customer_id  VARCHAR  The customer's (or contact's) identifier, pseudonymised at ingest.
        arm          VARCHAR  'target' (contact) or 'control' (hold out, to measure uplift); drawn
                              by a seeded hash.
        responded    BOOLEAN  Whether the listed customer responded (missing from the file = no).
        value        DOUBLE   The response's value (the --value-column; 0 when absent).
        """),
        when="by `tiewise responses`",
    ),
    Table(
        "campaign_uplift",
        "campaigns",
        "campaign",
        "Response and uplift against the control group, per campaign.",
        _columns("""
        campaign               VARCHAR    The campaign's name (its list is table
                                          `campaign_<name>`).
        targets                INTEGER    Customers to contact (arm = target).
        target_responders      INTEGER    Targets who responded.
        target_rate            DOUBLE     Response rate of the targets.
        controls               INTEGER    Customers held out (arm = control).
        control_responders     INTEGER    Controls who responded.
        control_rate           DOUBLE     Response rate of the controls.
        uplift                 DOUBLE     target_rate - control_rate.
        ci_low                 DOUBLE     95% confidence interval of the uplift: low end.
        ci_high                DOUBLE     High end.
        p_value                DOUBLE     Two-sided p-value of the difference.
        responders_not_listed  INTEGER    Responders in the file who were not on the list.
        value_per_target       DOUBLE     Mean response value per target.
        value_per_control      DOUBLE     Mean response value per control.
        loaded_at              TIMESTAMP  When the responses were loaded.
        """),
        when="by `tiewise responses`",
    ),
)
"""Every workspace table, in the order the data travels."""


def table(name: str) -> Table | None:
    """The declaration of table ``name`` (None when it is not declared)."""
    found = _BY_NAME.get(name)
    if found is not None:
        return found
    return next((t for t in TABLES if "<name>" in t.name and t.pattern.match(name)), None)


_BY_NAME = {t.name: t for t in TABLES}


def stage_order(stage: str) -> int:
    """The position of ``stage`` in the data's journey (ingest = 0)."""
    return [s.name for s in STAGES].index(stage)


def check_table(con: duckdb.DuckDBPyConnection, name: str, stage: str) -> None:
    """Check table (or view) ``name``, just written by ``stage``, against its declaration.

    Columns holding no value are given their declared type.  Raises
    :class:`TableContractError` naming the table and what differs; warns with
    :class:`UnregisteredTableWarning` when the table is not declared.
    """
    declared = table(name)
    if declared is None:
        warnings.warn(
            f"table {name!r} (stage {stage}) is not declared in tiewise.tables: declare its "
            "stage, grain and columns there (then `python -m tiewise.tables --write`).",
            UnregisteredTableWarning,
            stacklevel=3,
        )
        return
    if declared.stage != stage:
        raise TableContractError(
            f"table {name!r} was written by stage {stage!r}, but tiewise.tables declares it as "
            f"written by {declared.stage!r}."
        )
    actual = [(r[0], r[1]) for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
    if not declared.view:
        actual = _retype_empty(con, name, declared, actual)
    problems = declared.problems(actual)
    if problems:
        raise TableContractError(
            f"table {name!r} (stage {stage}) does not match its declaration in tiewise.tables: "
            + "; ".join(problems)
            + ". Fix the stage, or the declaration (then `python -m tiewise.tables --write`)."
        )


def _retype_empty(
    con: duckdb.DuckDBPyConnection, name: str, declared: Table, actual: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Give columns that hold no value (all NULL) their declared type.

    Timestamps in seconds, milliseconds or nanoseconds (pandas chooses by the data) become
    ``TIMESTAMP`` (microseconds).
    """
    types = {c: d.type for c, _ in actual if (d := declared.declared(c)) is not None}
    wrong = [c for c, kind in actual if c in types and kind != types[c]]
    if not wrong:
        return actual
    counts = con.execute(
        "SELECT " + ", ".join(f'count("{c}")' for c in wrong) + f' FROM "{name}"'
    ).fetchone()
    empty = {c for c, n in zip(wrong, counts or (), strict=True) if n == 0}
    for c in empty:
        con.execute(f'ALTER TABLE "{name}" ALTER "{c}" TYPE {types[c]} USING NULL')
    kinds = dict(actual)
    clock = {c for c in wrong if types[c] == "TIMESTAMP" and kinds[c] in _TIMESTAMPS} - empty
    for c in clock:
        con.execute(f'ALTER TABLE "{name}" ALTER "{c}" TYPE TIMESTAMP')
    return [(c, types[c] if c in empty | clock else kind) for c, kind in actual]


_TIMESTAMPS = {"TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}  # e.g. from pandas


def markdown() -> str:
    """The table reference, ``docs/tables.md``, generated from :data:`TABLES`."""
    lines = [
        "# Workspace tables",
        "",
        "Generated from `src/tiewise/tables.py` by `python -m tiewise.tables --write`: edit that.",
        "Every table a run writes is checked against this declaration (see that module).",
        "",
        "| stage | reads |",
        "|---|---|",
    ]
    lines += [f"| {s.name} | {', '.join(f'`{r}`' for r in s.reads) or '—'} |" for s in STAGES]
    for stage in STAGES:
        for t in (t for t in TABLES if t.stage == stage.name):
            kind = " (view)" if t.view else ""
            lines += ["", f"## `{t.name}`{kind}", "", t.meaning, ""]
            lines.append(f"Stage: {t.stage}. One row per {t.grain}.")
            if t.when:
                lines.append(f"Written {t.when}.")
            lines += ["", "| column | type | meaning |", "|---|---|---|"]
            for c in t.columns:
                when = f" (only {c.when})" if c.when else ""
                lines.append(f"| `{c.name}` | {c.type} | {c.meaning}{when} |")
    return "\n".join(lines) + "\n"


DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or with ``--write`` write it to ``docs/tables.md``."""
    args = sys.argv[1:] if argv is None else argv
    text = markdown()
    if "--write" in args:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
