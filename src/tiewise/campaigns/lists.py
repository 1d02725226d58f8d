"""Campaign target lists: whom to approach for acquisition, referral, cross-sell, retention, VIP.

Each list is built from the tables the earlier stages wrote, ranked by one score, and carries the
reason for every customer in words.  Where a stage's table is missing (its input was not given, or
the stage was not run) the list falls back to what the network alone says and the reason says so.

Who counts as an *influencer* (the ``influencer_weight`` of a customer, 0..1) is decided once for
every list: the customer's influence percentile from ``influence_scores`` (their best category)
when that table exists, else their PageRank percentile; Ambassadors and Influencers of the value
stage's segments (``customer_value.segment``) and community leaders (``customer_scores.is_leader``)
count fully.  A customer is an influencer when the weight is at least the configured percentile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tiewise.config import Config
from tiewise.exceptions import InputError, NotRunError
from tiewise.store import RunContext, exact_sum, sql_identifier, sql_string

__all__ = ["KINDS", "CampaignList", "build_list", "influencer_sql"]


@dataclass(frozen=True)
class CampaignList:
    """The SQL of a ranked list (customer_id, score, reason, + extra columns) and its basis."""

    kind: str
    sql: str
    basis: str  # which tables the ranking came from, in words


def _has(ctx: RunContext, table: str, *columns: str) -> bool:
    present = ctx.columns(table)
    return bool(present) and all(c in present for c in columns)


def influencer_sql(ctx: RunContext, config: Config) -> tuple[str, str]:
    """SQL of (customer_id, influencer_weight, influencer_label) for every on-network customer.

    Returns the SQL and a phrase naming its basis.
    """
    if not _has(ctx, "customer_scores", "customer_id", "pagerank_pct", "is_leader"):
        raise NotRunError(
            "no customer_scores table in the workspace", then=" (campaign lists rank its customers)"
        )
    detected = _detected_categories(ctx)
    word = "influence"
    if _has(ctx, "influence_scores", "customer_id", "influence_score") and detected != []:
        only = ""
        if detected is not None:  # only categories where the shuffle test shows influence
            quoted = ", ".join(sql_string(c) for c in detected)
            only = f"WHERE category IN ({quoted})"
        influence = f"""
            SELECT customer_id, percent_rank() OVER (ORDER BY best) AS pct FROM (
                SELECT customer_id, max(influence_score) AS best FROM influence_scores {only}
                GROUP BY customer_id)
        """
        basis = "influence percentile (influence_scores)"
        if detected is not None:
            basis = f"influence percentile in {', '.join(detected)} (influence shown there)"
    else:
        influence = "SELECT customer_id, pagerank_pct / 100.0 AS pct FROM customer_scores"
        basis = "PageRank percentile (no influence_scores table)"
        if detected == []:
            basis = "PageRank percentile (no category shows influence from adoption timing)"
        word = "PageRank"
    segment = (
        "LEFT JOIN customer_value v USING (customer_id)"
        if _has(ctx, "customer_value", "customer_id", "segment")
        else "LEFT JOIN (SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS segment) v "
        "USING (customer_id)"
    )
    sql = f"""
        SELECT s.customer_id,
               CASE WHEN v.segment IN ('Ambassador', 'Influencer') OR s.is_leader THEN 1.0
                    ELSE coalesce(i.pct, 0.0) END AS influencer_weight,
               CASE WHEN v.segment IN ('Ambassador', 'Influencer') THEN v.segment
                    WHEN s.is_leader THEN 'community leader'
                    ELSE format('{word} top {{}}%',
                                greatest(1, CAST(round(100 * (1 - coalesce(i.pct, 0))) AS INTEGER)))
               END AS influencer_label
        FROM customer_scores s LEFT JOIN ({influence}) i USING (customer_id) {segment}
        WHERE s.on_network AND NOT s.is_service
    """
    return sql, basis


def _detected_categories(ctx: RunContext) -> list[str] | None:
    """The categories where influence is shown, or None when the workspace does not say."""
    if not _has(ctx, "influence_tests", "category", "influence_detected"):
        return None
    rows = ctx.con.execute(
        "SELECT category FROM influence_tests WHERE influence_detected AND category <> 'all' "
        "ORDER BY category"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _threshold(config: Config) -> float:
    return config.campaigns.influencer_percentile / 100.0


def _acquisition(ctx: RunContext, config: Config) -> CampaignList:
    """Off-network prospects ranked by the strength of their ties to on-network influencers."""
    influencers, basis = influencer_sql(ctx, config)
    cut = _threshold(config)
    sql = f"""
        WITH inf AS ({influencers}),
        ends AS (
            SELECT a AS prospect, b AS customer, strength FROM links UNION ALL
            SELECT b, a, strength FROM links
        ),
        ties AS (
            SELECT e.prospect AS customer_id, e.customer, e.strength, inf.influencer_weight,
                   inf.influencer_label
            FROM ends e
            JOIN nodes p ON p.customer_id = e.prospect AND NOT p.on_network AND NOT p.is_service
            JOIN inf ON inf.customer_id = e.customer
        )
        SELECT customer_id,
               {exact_sum("strength * influencer_weight", f"influencer_weight >= {cut}")}
                   AS score,
               count(*) AS customer_contacts,
               count(*) FILTER (WHERE influencer_weight >= {cut}) AS influencer_contacts,
               {exact_sum("strength")} AS tie_strength,
               {exact_sum("strength", f"influencer_weight >= {cut}")} AS influencer_tie_strength,
               format('off-network prospect tied to {{}} of our customers, {{}} of them '
                      || 'influencers (tie strength {{}} of {{}}); strongest influencer: {{}} '
                      || '{{}} (strength {{}})',
                      count(*), count(*) FILTER (WHERE influencer_weight >= {cut}),
                      round(coalesce({exact_sum("strength", f"influencer_weight >= {cut}")},
                                     0), 1),
                      round({exact_sum("strength")}, 1),
                      arg_max(influencer_label, strength * influencer_weight)
                          FILTER (WHERE influencer_weight >= {cut}),
                      arg_max(customer, strength * influencer_weight)
                          FILTER (WHERE influencer_weight >= {cut}),
                      round(max(strength) FILTER (WHERE influencer_weight >= {cut}), 1)) AS reason
        FROM ties GROUP BY customer_id
        HAVING count(*) FILTER (WHERE influencer_weight >= {cut}) > 0
    """
    return CampaignList("acquisition", sql, f"ties to influencers by {basis}")


def _referral(ctx: RunContext, config: Config) -> CampaignList:
    """On-network influencers with the most (and strongest) off-network contacts."""
    influencers, basis = influencer_sql(ctx, config)
    cut = _threshold(config)
    sql = f"""
        WITH inf AS ({influencers}),
        ends AS (
            SELECT a AS customer_id, b AS other, strength FROM links UNION ALL
            SELECT b, a, strength FROM links
        )
        SELECT e.customer_id,
               {exact_sum("e.strength")} * inf.influencer_weight AS score,
               count(*) AS offnet_contacts, {exact_sum("e.strength")} AS offnet_tie_strength,
               inf.influencer_label,
               format('{{}} with {{}} off-network contacts (tie strength {{}}): referral '
                      || 'incentive candidate', any_value(inf.influencer_label), count(*),
                      round({exact_sum("e.strength")}, 1)) AS reason
        FROM ends e JOIN inf USING (customer_id)
        JOIN nodes o ON o.customer_id = e.other AND NOT o.on_network AND NOT o.is_service
        WHERE inf.influencer_weight >= {cut}
        GROUP BY e.customer_id, inf.influencer_weight, inf.influencer_label
    """
    return CampaignList("referral", sql, f"influencers by {basis} with off-network contacts")


def _crosssell(ctx: RunContext, config: Config, category: str | None) -> CampaignList:
    """The influence-maximising seed set of a category, from the influence stage."""
    if not _has(ctx, "seed_sets", "customer_id"):
        raise InputError(
            "no seed_sets table: the cross-sell list is the influence stage's seed set. Run "
            "`tiewise seeds --k 50 --category X` (needs an adoptions input) first."
        )
    cols = ctx.columns("seed_sets")
    where = ""
    if "category" in cols:
        chosen = category if category is not None else "all"
        spelled = ctx.con.execute(
            "SELECT DISTINCT category FROM seed_sets WHERE lower(category) = lower(?)", [chosen]
        ).fetchall()
        if len(spelled) == 1:
            chosen = str(spelled[0][0])  # the category as the data spell it (any case typed)
        found = ctx.con.execute(
            "SELECT count(*) FROM seed_sets WHERE category = ?", [chosen]
        ).fetchall()[0][0]
        if not found:
            have = [
                r[0] for r in ctx.con.execute("SELECT DISTINCT category FROM seed_sets").fetchall()
            ]
            raise InputError(
                f"no seed set for category {chosen!r} (there are: {', '.join(sorted(have))}). "
                f"Run `tiewise seeds --category {chosen}` first, or pass --category."
            )
        where = f"WHERE category = {sql_string(chosen)}"
    score = "-rank" if "rank" in cols else "marginal_reach" if "marginal_reach" in cols else "1.0"
    drop = ", ".join(c for c in ("rank", "reason") if c in cols)
    keep = f"* EXCLUDE ({drop})" if drop else "*"
    reason = "reason" if "reason" in cols else "'influence-maximising seed'"
    score = f"CAST({score} AS DOUBLE)"  # -rank is an integer
    sql = f"SELECT {keep}, {score} AS score, {reason} AS reason FROM seed_sets {where}"
    return CampaignList("crosssell", sql, "the influence stage's seed set (seed_sets)")


def _retention(ctx: RunContext, config: Config) -> CampaignList:
    """The churn stage's retention priority: expected loss if the customer leaves."""
    if not _has(ctx, "retention_priority", "customer_id", "expected_loss"):
        raise InputError(
            "no retention_priority table: run the churn stage first (`tiewise churn`; needs a "
            "churn input)."
        )
    cols = ctx.columns("retention_priority")
    parts = [c for c in ("clv", "network_value") if c in cols]
    at_risk = " + ".join(f"coalesce({c}, 0)" for c in parts) if parts else "NULL::DOUBLE"
    why = "format('P(churn) {:.1f}% x value at risk {:,.0f} = expected loss {:,.0f}', "
    why += "100 * p_churn, value_at_risk, expected_loss)"
    if "p_churn" not in cols:
        why = "format('expected loss {:,.0f}', expected_loss)"
    reason = "reason" if "reason" in cols else why  # the churn stage's reason names both parts
    rest = ", ".join(
        sql_identifier(c) for c in sorted(cols - {"customer_id", "reason", "rank", "expected_loss"})
    )
    sql = f"""
        SELECT customer_id, expected_loss AS score, {rest}, value_at_risk, expected_loss,
               {reason} AS reason
        FROM (SELECT *, {at_risk} AS value_at_risk FROM retention_priority)
    """
    return CampaignList(
        "retention", sql, "expected loss = P(churn) x value at risk (clv + network value)"
    )


def _vip(ctx: RunContext, config: Config) -> CampaignList:
    """Influencers and Ambassadors to put at the top of the service queue."""
    influencers, basis = influencer_sql(ctx, config)
    cut = _threshold(config)
    has_value = _has(ctx, "customer_value", "customer_id", "true_value")
    value = "v.true_value" if has_value else "NULL::DOUBLE"
    join = "LEFT JOIN customer_value v USING (customer_id)" if has_value else ""
    rank = "percent_rank() OVER (ORDER BY v.true_value)" if has_value else "s.pagerank_pct / 100.0"
    sql = f"""
        WITH inf AS ({influencers})
        SELECT customer_id,
               inf.influencer_weight + {rank} AS score,
               inf.influencer_label, {value} AS true_value, s.community, s.contacts,
               format('{{}}{{}}: {{}} contacts in community {{}}; {{}}', inf.influencer_label,
                      CASE WHEN {value} IS NOT NULL
                           THEN format(', true value {{}}', round({value})) ELSE '' END,
                      s.contacts, s.community, s.reason) AS reason
        FROM inf JOIN customer_scores s USING (customer_id) {join}
        WHERE inf.influencer_weight >= {cut}
    """
    order = "true value and influence" if has_value else "influence"
    return CampaignList("vip", sql, f"influencers by {basis}, ranked by {order}")


def _response(ctx: RunContext, config: Config) -> CampaignList:
    """The response queue, one row per customer: their most pressing open conversation."""
    if not _has(ctx, "response_queue", "customer_id", "score", "reason"):
        raise InputError(
            "no response_queue table: add a conversations input ([inputs.conversations]: "
            "speaker, timestamp, channel) and run `tiewise run`."
        )
    sql = """
        SELECT customer_id, score, message_id, channel, sentiment, segment, true_value, p_churn,
               value_at_stake, expected_value_protected, reason
        FROM response_queue
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY score DESC, rank) = 1
    """
    return CampaignList(
        "response",
        sql,
        "the response queue: open conversations by negativity, recency, true value, churn "
        "risk and reach",
    )


_BUILDERS: dict[str, Callable[..., CampaignList]] = {
    "acquisition": _acquisition,
    "referral": _referral,
    "crosssell": _crosssell,
    "retention": _retention,
    "vip": _vip,
    "response": _response,
}
KINDS = tuple(_BUILDERS)


def build_list(
    ctx: RunContext, config: Config, kind: str, *, category: str | None = None
) -> CampaignList:
    """The ranked list of campaign ``kind`` (one of :data:`KINDS`)."""
    if kind not in _BUILDERS:
        raise InputError(f"unknown campaign {kind!r}; choose one of {', '.join(KINDS)}.")
    if kind == "crosssell":
        return _crosssell(ctx, config, category)
    return _BUILDERS[kind](ctx, config)
