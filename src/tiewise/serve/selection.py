"""The customer list: filters from a query string, one parameterised SQL query, sorted and paged.

A :class:`Selection` is what an analyst picked on the customer list page (or followed from a
chart): a value segment, a business role, a community, a churn-risk band, an influence category
and ranges of scores.  :func:`selection_sql` turns it into SQL over the tables the workspace
holds (columns of later stages are used when present and left out when not), with every value
bound as a parameter.  The same query feeds the page, the JSON and the downloads, so a file holds
exactly the rows the page lists, with the reasons the stages wrote.

Churn-risk bands are relative: ``high`` is the top 10% of customers by churn probability (riskier
than at least 90% of the scored customers: a percent rank of 0.9 or more, ties kept together),
``medium`` the next 20%, ``low`` the rest (the churn evaluation's own yardstick is the top decile).

Examples
--------
>>> s = parse_selection({"segment": "Ambassador", "min_clv": "100", "sort": "clv"})
>>> s.segment, s.ranges, s.sort, s.descending
('Ambassador', {'clv': (100.0, None)}, 'clv', True)
>>> s.query_string()
'segment=Ambassador&min_clv=100.0&sort=clv'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from tiewise.store import sql_identifier

__all__ = [
    "BANDS",
    "COLUMNS",
    "RANGE_COLUMNS",
    "RiskCuts",
    "Selection",
    "SelectionError",
    "SelectionQuery",
    "available_columns",
    "band_case",
    "influencer_condition",
    "parse_selection",
    "risk_cuts_sql",
    "selection_query",
    "selection_sql",
]

#: Churn-risk bands: (name, lowest percent rank of p_churn, highest).
BANDS = {"high": (0.9, 1.01), "medium": (0.7, 0.9), "low": (-0.01, 0.7)}

#: The list's columns: (name, table, source column).  A column is shown when its table has it.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("customer_id", "customer_scores", "customer_id"),
    ("segment", "customer_value", "segment"),
    ("business_role", "customer_scores", "business_role"),
    ("is_leader", "customer_scores", "is_leader"),
    ("community", "customer_scores", "community"),
    ("community_size", "customer_scores", "community_size"),
    ("contacts", "customer_scores", "contacts"),
    ("tie_strength", "customer_scores", "weighted_degree"),
    ("clv", "customer_value", "clv"),
    ("network_value", "customer_value", "network_value"),
    ("true_value", "customer_value", "true_value"),
    ("social_value", "customer_value", "social_value"),
    ("financial_percentile", "customer_value", "financial_percentile"),
    ("social_percentile", "customer_value", "social_percentile"),
    ("p_churn", "churn_scores", "p_churn"),
    ("churn_band", "churn_scores", "p_churn"),
    ("expected_loss", "churn_scores", "expected_loss"),
    ("influence_category", "influence_scores", "category"),
    ("influence_score", "influence_scores", "influence_score"),
    ("influence_low", "influence_scores", "influence_low"),
    ("influence_high", "influence_scores", "influence_high"),
    ("network_reason", "customer_scores", "reason"),
    ("value_reason", "customer_value", "reason"),
    ("churn_reason", "churn_scores", "reason"),
    ("influence_reason", "influence_scores", "reason"),
)
_ALIAS = {
    "customer_scores": "s",
    "customer_value": "v",
    "churn_scores": "c",
    "influence_scores": "i",
}
#: Columns a range (``min_<name>``, ``max_<name>``) may filter and the list may be sorted by.
RANGE_COLUMNS = (
    "contacts",
    "tie_strength",
    "community_size",
    "clv",
    "network_value",
    "true_value",
    "social_value",
    "financial_percentile",
    "social_percentile",
    "p_churn",
    "expected_loss",
    "influence_score",
)
_SORTS = ("customer_id", *RANGE_COLUMNS)
_MAX_TEXT = 200


class SelectionError(ValueError):
    """A filter the customer list cannot apply (the page answers 400 with this message)."""


@dataclass(frozen=True)
class Selection:
    """What the analyst picked: filters, ranges, sort order."""

    segment: str | None = None
    role: str | None = None
    community: int | None = None
    churn_band: str | None = None
    influence: str | None = None
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    sort: str | None = None
    descending: bool = True

    def query_string(self, **changes: Any) -> str:
        """The selection as URL parameters (with ``changes`` applied), for links and downloads."""
        s = replace(self, **changes) if changes else self
        params: list[tuple[str, Any]] = []
        for name in ("segment", "role", "community", "churn_band", "influence"):
            value = getattr(s, name)
            if value is not None:
                params.append((name, value))
        for column, (low, high) in s.ranges.items():
            if low is not None:
                params.append((f"min_{column}", low))
            if high is not None:
                params.append((f"max_{column}", high))
        if s.sort:
            params.append(("sort", s.sort))
        if not s.descending:
            params.append(("order", "asc"))
        return urlencode(params)

    def describe(self) -> list[str]:
        """The filters in words, for the page's heading."""
        words = []
        if self.segment:
            words.append(f"segment {self.segment}")
        if self.role:
            words.append(f"role {self.role}")
        if self.community is not None:
            words.append(f"community {self.community}")
        if self.churn_band:
            words.append(f"churn risk {self.churn_band}")
        if self.influence:
            words.append(f"influencers in {self.influence}")
        for column, (low, high) in self.ranges.items():
            if low is not None and high is not None:
                words.append(f"{column} from {low:g} to {high:g}")
            elif low is not None:
                words.append(f"{column} ≥ {low:g}")
            elif high is not None:
                words.append(f"{column} ≤ {high:g}")
        return words


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if len(value) > _MAX_TEXT:
        raise SelectionError(f"{name}: at most {_MAX_TEXT} characters")
    return value


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SelectionError(f"{name}: a number is expected, got {text[:40]!r}") from None
    if not math.isfinite(value):
        raise SelectionError(f"{name}: a finite number is expected")
    return value


def parse_selection(params: Mapping[str, str]) -> Selection:
    """A :class:`Selection` from query parameters; :class:`SelectionError` for a bad one."""
    community = _text(params, "community")
    band = _text(params, "churn_band")
    if band is not None and band not in BANDS:
        raise SelectionError(f"churn_band: one of {', '.join(BANDS)} is expected")
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for column in RANGE_COLUMNS:
        low, high = params.get(f"min_{column}", ""), params.get(f"max_{column}", "")
        if low.strip() or high.strip():
            ranges[column] = (
                _number(f"min_{column}", low) if low.strip() else None,
                _number(f"max_{column}", high) if high.strip() else None,
            )
    sort = _text(params, "sort")
    if sort is not None and sort not in _SORTS:
        raise SelectionError(f"sort: one of {', '.join(_SORTS)} is expected")
    order = params.get("order", "desc").strip() or "desc"
    if order not in ("asc", "desc"):
        raise SelectionError("order: asc or desc is expected")
    community_id: int | None = None
    if community is not None:
        try:
            community_id = int(community)
        except ValueError:
            raise SelectionError("community: a whole number is expected") from None
        if abs(community_id) >= 2**63:
            raise SelectionError("community: out of range")
    return Selection(
        segment=_text(params, "segment"),
        role=_text(params, "role"),
        community=community_id,
        churn_band=band,
        influence=_text(params, "influence"),
        ranges=ranges,
        sort=sort,
        descending=order == "desc",
    )


def available_columns(columns: Mapping[str, list[str]], selection: Selection) -> list[str]:
    """The list's columns this workspace can fill (influence columns only for a category)."""
    shown = []
    for name, table, source in COLUMNS:
        if table == "influence_scores" and selection.influence is None:
            continue
        if source in columns.get(table, []):
            shown.append(name)
    return shown


def influencer_condition(columns: list[str], alias: str = "i") -> str:
    """Who counts as an influencer in a category, from what the influence stage wrote.

    The interval of caused adoptions above zero when the stage gives one (``influence_low``);
    else more followers than shuffled timing explains at p <= 0.05; else a positive score.
    """
    if "influence_low" in columns:
        return f"{alias}.influence_low > 0"
    if {"p_value", "excess_followers"} <= set(columns):
        return f"{alias}.excess_followers > 0 AND {alias}.p_value <= 0.05"
    return f"{alias}.influence_score > 0"


#: The lowest churn probability in each band (``risk_cuts``): see :func:`risk_cuts_sql`.
RiskCuts = Mapping[str, float | None]


def risk_cuts_sql() -> str:
    """SQL for each band's lowest ``p_churn`` (one row, a column per band; NULL: band empty).

    The percent rank only grows with ``p_churn``, so "percent rank >= low" is exactly
    "``p_churn`` >= the lowest ``p_churn`` ranked at least ``low``": one pass over the scores
    while the workspace is open instead of a window over every customer on every page.
    """
    cuts = ", ".join(
        f"min(p_churn) FILTER (WHERE r >= {low}) AS {band}" for band, (low, _) in BANDS.items()
    )
    return (
        f"SELECT {cuts} FROM (SELECT p_churn, percent_rank() OVER (ORDER BY p_churn) AS r "
        "FROM churn_scores WHERE p_churn IS NOT NULL)"
    )


def _at_least(cut: float | None) -> str:
    # a string cast reads back the very double (a bare literal would go through DECIMAL)
    return "FALSE" if cut is None else f"c.p_churn >= '{float(cut)!r}'::DOUBLE"


def _band_condition(band: str, cuts: RiskCuts) -> str:
    high = BANDS[band][1]
    above = next((b for b, (lo, _) in BANDS.items() if lo == high), None)
    condition = _at_least(cuts.get(band))
    if above is not None and cuts.get(above) is not None:
        condition += f" AND NOT {_at_least(cuts[above])}"
    return condition


def band_case(cuts: RiskCuts) -> str:
    """SQL naming the risk band of ``c.p_churn`` (NULL without a probability)."""
    whens = " ".join(f"WHEN {_band_condition(b, cuts)} THEN '{b}'" for b in BANDS)
    return f"CASE WHEN c.p_churn IS NULL THEN NULL {whens} END"


@dataclass(frozen=True)
class SelectionQuery:
    """A selection as SQL pieces: every row (:attr:`sql`), one page's keys, and the count.

    Parameters bind in order: ``params`` serve every query here.
    """

    select: list[str]
    joins: dict[str, str]  # alias -> JOIN clause, in join order
    filter_aliases: set[str]  # the joins a filter needs (the count and the keys need only them)
    where: list[str]
    order: str
    sort_alias: str | None
    sort_select: str | None  # the sort column as the keys query selects it
    params: list[Any]
    columns: list[str]

    def _from(self, aliases: set[str] | None = None) -> str:
        joins = [j for a, j in self.joins.items() if aliases is None or a in aliases]
        return f"FROM customer_scores s {' '.join(joins)} WHERE {' AND '.join(self.where)}"

    @property
    def sql(self) -> str:
        """Every row of the selection, every column, sorted."""
        return f"SELECT {', '.join(self.select)} {self._from()} ORDER BY {self.order}"

    def count_sql(self) -> str:
        """How many rows the selection picks (joining only what a filter needs)."""
        return f"SELECT count(*) {self._from(self.filter_aliases)}"

    def keys_sql(self) -> str:
        """The ids of one page (``LIMIT ? OFFSET ?`` follow the params), in the list's order.

        Joins only what the filters and the sort need: the wide columns (the reasons) are read
        for the page's rows alone (:meth:`rows_sql`).
        """
        needed = self.filter_aliases | ({self.sort_alias} if self.sort_alias else set())
        head = ", ".join(["s.customer_id", *([self.sort_select] if self.sort_select else [])])
        return f"SELECT {head} {self._from(needed)} ORDER BY {self.order} LIMIT ? OFFSET ?"

    def rows_sql(self) -> str:
        """Every column of the rows whose ids are bound last (a list), in the list's order."""
        return (
            f"SELECT {', '.join(self.select)} {self._from()} "
            f"AND s.customer_id IN (SELECT unnest(?)) ORDER BY {self.order}"
        )


def selection_sql(
    columns: Mapping[str, list[str]], selection: Selection, risk_cuts: RiskCuts
) -> tuple[str, list[Any], list[str]]:
    """SQL for every row of the selection, sorted: (sql, parameters, column names).

    ``columns`` maps each workspace table to its columns.  Needs ``customer_scores``; a filter
    on a table the workspace does not hold is a :class:`SelectionError`.  ``risk_cuts`` (from
    :func:`risk_cuts_sql`) places the churn bands.
    """
    query = selection_query(columns, selection, risk_cuts)
    return query.sql, query.params, query.columns


def selection_query(
    columns: Mapping[str, list[str]], selection: Selection, risk_cuts: RiskCuts
) -> SelectionQuery:
    """The selection as a :class:`SelectionQuery` (see :func:`selection_sql`)."""
    if "customer_id" not in columns.get("customer_scores", []):
        raise SelectionError("this workspace has no customer scores yet: run `tiewise run`")
    shown = available_columns(columns, selection)
    spec = {name: (table, source) for name, table, source in COLUMNS}

    def need(table: str, column: str, what: str) -> None:
        if column not in columns.get(table, []):
            raise SelectionError(f"{what}: this workspace has no {table}.{column}")

    select = []
    for name in shown:
        table, source = spec[name]
        alias = _ALIAS[table]
        if name == "churn_band":
            select.append(f"{band_case(risk_cuts)} AS churn_band")
        else:
            select.append(f"{alias}.{sql_identifier(source)} AS {sql_identifier(name)}")
    used = {_ALIAS[spec[n][0]] for n in shown}
    filters: set[str] = set()
    where = ["s.on_network", "NOT s.is_service"]
    params: list[Any] = []
    if selection.segment is not None:
        need("customer_value", "segment", "segment")
        where.append("v.segment = ?")
        params.append(selection.segment)
        filters.add("v")
    if selection.role is not None:
        need("customer_scores", "business_role", "role")
        where.append("s.business_role = ?")
        params.append(selection.role)
    if selection.community is not None:
        where.append("s.community = ?")
        params.append(selection.community)
    if selection.churn_band is not None:
        need("churn_scores", "p_churn", "churn_band")
        where.append(_band_condition(selection.churn_band, risk_cuts))
        filters.add("c")
    for column, (low_value, high_value) in selection.ranges.items():
        table, source = spec[column]
        need(table, source, f"min_{column}/max_{column}")
        alias = _ALIAS[table]
        filters.add(alias)
        if low_value is not None:
            where.append(f"{alias}.{sql_identifier(source)} >= ?")
            params.append(low_value)
        if high_value is not None:
            where.append(f"{alias}.{sql_identifier(source)} <= ?")
            params.append(high_value)
    used |= filters
    joins: dict[str, str] = {}
    if "v" in used:
        joins["v"] = "LEFT JOIN customer_value v ON v.customer_id = s.customer_id"
    if "c" in used:
        joins["c"] = "LEFT JOIN churn_scores c ON c.customer_id = s.customer_id"
    influence_params: list[Any] = []
    if selection.influence is not None:
        need("influence_scores", "category", "influence")
        joins["i"] = (
            "JOIN influence_scores i ON i.customer_id = s.customer_id AND i.category = ? "
            f"AND {influencer_condition(columns['influence_scores'])}"
        )
        filters.add("i")
        influence_params.append(selection.influence)
    elif "i" in used:
        raise SelectionError("influence_score: choose an influence category first")
    default = next((c for c in ("true_value", "tie_strength") if c in shown), None)
    sort = selection.sort or ("influence_score" if selection.influence else default)
    sort_alias = sort_select = None
    if sort is not None and sort != "customer_id":
        table, source = spec[sort]
        if table == "influence_scores" and selection.influence is None:
            raise SelectionError(f"sort by {sort}: choose an influence category first")
        if source not in columns.get(table, []):
            raise SelectionError(f"sort: this workspace has no {table}.{source}")
        direction = "DESC" if selection.descending else "ASC"
        order = f"{sql_identifier(sort)} {direction} NULLS LAST, customer_id"
        sort_alias = _ALIAS[table]
        sort_select = f"{sort_alias}.{sql_identifier(source)} AS {sql_identifier(sort)}"
    else:
        order = "customer_id" + ("" if sort is None or not selection.descending else " DESC")
    return SelectionQuery(
        select=select,
        joins={a: joins[a] for a in ("v", "c", "i") if a in joins},
        filter_aliases=filters,
        where=where,
        order=order,
        sort_alias=sort_alias,
        sort_select=sort_select,
        params=influence_params + params,
        columns=shown,
    )
