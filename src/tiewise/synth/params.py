"""Parameters of the synthetic generators and the result they return.

The parameter classes validate themselves on construction and raise
:class:`tiewise.exceptions.InputError` with a message that says what was expected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiewise.exceptions import InputError

__all__ = ["B2BParams", "SynthResult", "TelcoParams"]


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise InputError(message)


def _check_int(name: str, value: object, minimum: int) -> None:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        f"{name} must be an integer >= {minimum}, got {value!r}",
    )


def _check_real(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    real = isinstance(value, int | float) and not isinstance(value, bool)
    ok = real and math.isfinite(float(value))  # type: ignore[arg-type]
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    _require(ok, f"{name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")


def _check_start(value: object) -> dt.date:
    _require(
        isinstance(value, dt.date),
        f"start must be a datetime.date such as date(2026, 1, 1), got {value!r}",
    )
    assert isinstance(value, dt.date)
    return dt.date(value.year, value.month, value.day)


@dataclass(frozen=True, kw_only=True)
class TelcoParams:
    """Parameters of the telecom operator generator (:func:`tiewise.synth.generate_telco`).

    Attributes
    ----------
    customers
        Number of on-network subscribers.
    days
        Length of the observation window in days.
    seed
        Non-negative seed; the same parameters and seed give byte-identical files.
    start
        First day of the window (timestamps are naive UTC).
    mixing
        LFR-style mixing: share of each person's ties outside their community.
    mean_contacts
        Mean number of distinct contacts per person.
    offnet_share
        Share of the subscribers' contacts who are with other operators.
    service_numbers
        Number of call-centre numbers; ``None`` means ``max(3, customers // 20_000)``.
    records_per_customer
        Target mean number of interaction records per subscriber over the window.
    products
        Number of adoptable products, spread round-robin over ``categories``.
    categories
        Product categories.
    influence
        Scale of the adoption contagion; 0 means no social influence (homophily only).
    churn_contagion
        Scale of the churn contagion; 0 means churn is independent of contacts.
    homophily
        Strength of the community-level taste similarity (0 = tastes are individual).
    conversations
        Share of the subscribers who talk in public and to the company (0: no conversations
        files; :mod:`tiewise.synth.conversations`).
    """

    customers: int = 100_000
    days: int = 90
    seed: int = 0
    start: dt.date = dt.date(2026, 1, 1)
    mixing: float = 0.2
    mean_contacts: float = 14.0
    offnet_share: float = 1 / 3
    service_numbers: int | None = None
    records_per_customer: float = 50.0
    products: int = 6
    categories: tuple[str, ...] = ("devices", "streaming", "roaming")
    influence: float = 1.0
    churn_contagion: float = 1.0
    homophily: float = 1.0
    conversations: float = 0.15

    def __post_init__(self) -> None:
        _check_int("customers", self.customers, 200)
        _check_int("days", self.days, 7)
        _require(self.days <= 3660, f"days must be at most 3660, got {self.days!r}")
        _check_int("seed", self.seed, 0)
        object.__setattr__(self, "start", _check_start(self.start))
        _check_real("mixing", self.mixing, 0.0, 1.0, high_open=True)
        _check_real("mean_contacts", self.mean_contacts, 2.0, 500.0)
        _check_real("offnet_share", self.offnet_share, 0.0, 0.9)
        if self.service_numbers is not None:
            _check_int("service_numbers", self.service_numbers, 0)
            _require(
                self.service_numbers <= 100_000,
                f"service_numbers must be at most 100000, got {self.service_numbers!r}",
            )
        _check_real("records_per_customer", self.records_per_customer, 1.0, 100_000.0)
        _check_int("products", self.products, 0)
        cats = self.categories
        _require(
            isinstance(cats, tuple)
            and len(cats) > 0
            and all(isinstance(c, str) and c.isidentifier() for c in cats)
            and len(set(cats)) == len(cats),
            "categories must be a non-empty tuple of distinct identifier-like strings such as "
            f"('devices', 'streaming'), got {cats!r}",
        )
        _check_real("influence", self.influence, 0.0, 100.0)
        _check_real("churn_contagion", self.churn_contagion, 0.0, 100.0)
        _check_real("homophily", self.homophily, 0.0, 100.0)
        _check_real("conversations", self.conversations, 0.0, 1.0)
        _require(
            self.customers <= 50_000_000,
            f"customers must be at most 50000000, got {self.customers!r}",
        )

    @property
    def n_service(self) -> int:
        """Number of service numbers after applying the default."""
        if self.service_numbers is None:
            return max(3, self.customers // 20_000)
        return self.service_numbers

    def as_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-ready values (dates as ISO strings)."""
        return _as_json_dict(self)


@dataclass(frozen=True, kw_only=True)
class B2BParams:
    """Parameters of the business-to-business generator (:func:`tiewise.synth.generate_b2b`).

    Attributes
    ----------
    accounts
        Number of customer companies.
    contacts_per_account
        Mean number of contacts (people) per account; sizes are heavy-tailed.
    days
        Length of the observation window in days.
    seed
        Non-negative seed; the same parameters and seed give byte-identical files.
    start
        First day of the window.
    mean_colleagues
        Mean number of colleagues a contact interacts with.
    mixing
        Share of a contact's links that go to other accounts (partners, former colleagues).
    records_per_contact
        Target mean number of email and meeting records per contact over the window.
    advocacy_effect
        How strongly the hidden advocacy trait drives behaviour (0 = not at all).
    """

    accounts: int = 500
    contacts_per_account: float = 40.0
    days: int = 365
    seed: int = 0
    start: dt.date = dt.date(2025, 1, 1)  # a year of records that ends in the past
    mean_colleagues: float = 8.0
    mixing: float = 0.03
    records_per_contact: float = 80.0
    advocacy_effect: float = 1.0

    def __post_init__(self) -> None:
        _check_int("accounts", self.accounts, 2)
        _require(
            self.accounts <= 1_000_000, f"accounts must be at most 1000000, got {self.accounts!r}"
        )
        _check_real("contacts_per_account", self.contacts_per_account, 2.0, 10_000.0)
        _check_int("days", self.days, 7)
        _require(self.days <= 3660, f"days must be at most 3660, got {self.days!r}")
        _check_int("seed", self.seed, 0)
        object.__setattr__(self, "start", _check_start(self.start))
        _check_real("mean_colleagues", self.mean_colleagues, 1.0, 500.0)
        _check_real("mixing", self.mixing, 0.0, 1.0, high_open=True)
        _check_real("records_per_contact", self.records_per_contact, 1.0, 100_000.0)
        _check_real("advocacy_effect", self.advocacy_effect, 0.0, 100.0)

    def as_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-ready values (dates as ISO strings)."""
        return _as_json_dict(self)


def _as_json_dict(params: TelcoParams | B2BParams) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


@dataclass
class SynthResult:
    """What a generator wrote.

    Attributes
    ----------
    out
        The output directory.
    files
        Data files a company would have, by logical name (``"interactions"``, ...).
    truth_files
        Hidden ground-truth files under ``out/truth``, by logical name.
    counts
        Number of rows of each data and truth file, by logical name.
    """

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    truth_files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
