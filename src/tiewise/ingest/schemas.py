"""The input schemas: tiewise's column names for each input, their types and whether required.

Column names in a user's file are mapped to these in the configuration
(``[inputs.interactions.columns] from_id = "caller_msisdn"``); nothing needs renaming.
Identifier columns (``kind == "id"``, and ``"ids"``: a list of identifiers in one cell, separated
by spaces, commas or semicolons) hold personal data and are pseudonymised at ingest.

An input with one row per key (``key``: a customer, a customer's first adoption of an item, a
customer's churn) is checked for it: exact copies of a row are dropped and counted; rows that
disagree about one key are rejected (``on_conflict = "reject"``: nothing says which is right)
or the earliest is kept (``"earliest"``: the input means the first event, and the stages use
only that).  Events (interactions, transactions, engagement) have no key: the same event may
happen twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SCHEMAS", "Column", "InputSchema"]

Kind = Literal["id", "ids", "timestamp", "date", "text", "number", "integer", "boolean"]


@dataclass(frozen=True)
class Column:
    """One column of an input: its tiewise name, its kind, and whether a file must have it."""

    name: str
    kind: Kind
    required: bool
    doc: str


@dataclass(frozen=True)
class InputSchema:
    """The columns of one input table and the table it lands in."""

    name: str
    table: str
    columns: tuple[Column, ...]
    doc: str
    key: tuple[str, ...] = ()
    on_conflict: Literal["reject", "earliest"] = "reject"

    @property
    def required(self) -> tuple[str, ...]:
        """The names of the columns a file must have."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


SCHEMAS: dict[str, InputSchema] = {
    s.name: s
    for s in (
        InputSchema(
            "interactions",
            "interactions",
            (
                Column("from_id", "id", True, "Who initiated: caller, sender, referrer."),
                Column("to_id", "id", True, "Who received it."),
                Column(
                    "timestamp", "timestamp", True, "When: ISO-8601, epoch s/ms, or relative s."
                ),
                Column("channel", "text", True, "voice, sms, email, meeting, referral, ..."),
                Column("duration_s", "number", False, "Voice call or meeting length in seconds."),
                Column(
                    "direction",
                    "text",
                    False,
                    "For one-sided records (one row per subscriber and call): 'out' when from_id "
                    "initiated, 'in' when from_id received (then from and to are swapped).",
                ),
            ),
            "One row per call, message, email, meeting or referral.",
        ),
        InputSchema(
            "customers",
            "customers",
            (
                Column("customer_id", "id", True, "The customer's identifier (phone, email, ...)."),
                Column("on_network", "boolean", False, "False for known off-network contacts."),
                Column("account_id", "text", False, "The B2B account (company) of a contact."),
                Column("segment", "text", False, "Any segment label."),
                Column("signup_date", "date", False, "When the customer joined."),
                Column("plan", "text", False, "Plan, tier or product."),
                Column("monthly_fee", "number", False, "Recurring fee per month."),
            ),
            "Your customers. Interaction parties missing here are off-network prospects.",
            key=("customer_id",),
        ),
        InputSchema(
            "transactions",
            "transactions",
            (
                Column("customer_id", "id", True, "Who paid."),
                Column("timestamp", "timestamp", True, "When."),
                Column("amount", "number", True, "How much (bill, order, expansion)."),
                Column("category", "text", False, "What for."),
            ),
            "Purchases, orders or monthly bills.",
        ),
        InputSchema(
            "adoptions",
            "adoptions",
            (
                Column("customer_id", "id", True, "Who adopted."),
                Column("item", "text", True, "The product, service or content adopted."),
                Column("category", "text", False, "The item's topic: influence is per category."),
                Column("timestamp", "timestamp", True, "When they adopted it."),
            ),
            "First adoption of an item by a customer.",
            key=("customer_id", "item"),
            on_conflict="earliest",
        ),
        InputSchema(
            "churn",
            "churn_events",
            (
                Column("customer_id", "id", True, "Who left."),
                Column("timestamp", "timestamp", True, "When they left."),
            ),
            "Customers who left (ported out, cancelled).",
            key=("customer_id",),
            on_conflict="earliest",
        ),
        InputSchema(
            "engagement",
            "engagement_events",
            (
                Column("customer_id", "id", True, "Who engaged."),
                Column("timestamp", "timestamp", True, "When."),
                Column("event_type", "text", True, "live_event, web_visit, survey, webinar, ..."),
                Column("value", "number", False, "Survey score, pages viewed; default 1."),
            ),
            "Engagement behaviour: events, web visits, surveys, email opens/clicks/forwards.",
        ),
        InputSchema(
            "identities",
            "identities",
            (
                Column("customer_id", "id", True, "The customer the handle belongs to."),
                Column("handle", "id", True, "A handle the customer speaks under (@name, e-mail)."),
            ),
            "Handles (social accounts, forum names, e-mail addresses) mapped to customers.",
            key=("handle",),
        ),
        InputSchema(
            "conversations",
            "conversations",
            (
                Column(
                    "speaker",
                    "id",
                    True,
                    "Who spoke: a customer id, or a handle mapped to one by the identities input.",
                ),
                Column("timestamp", "timestamp", True, "When it was said."),
                Column("channel", "text", True, "social, forum, review, support, email, chat."),
                Column("text", "text", False, "What was said (for sentiment; not stored)."),
                Column("sentiment", "number", False, "Your own sentiment, -1 to 1 (wins)."),
                Column("language", "text", False, "The text's language (ISO code: en, fr, ...)."),
                Column("message_id", "id", False, "The message's own id."),
                Column("reply_to", "id", False, "The party (customer or handle) replied to."),
                Column(
                    "mentions",
                    "ids",
                    False,
                    "Parties mentioned, separated by spaces, commas or semicolons.",
                ),
                Column("answered", "boolean", False, "True once the company has answered it."),
            ),
            "What customers say: posts, mentions, replies, reviews, tickets, e-mails, chats.",
        ),
    )
}
