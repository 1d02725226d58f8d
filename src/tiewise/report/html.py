"""The HTML report: one self-contained file that opens offline (no script or style fetched).

Every value is HTML-escaped when the template renders it (autoescaping is on for every template:
names, categories, items, plans, file names and raw ids are data, never markup).  The only text
that goes in unescaped is matplotlib's SVG, which escapes the labels it draws.  The page's
Content-Security-Policy (:data:`CSP`) allows no script and no request at all, so even markup
that slipped through could not run or fetch anything.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from tiewise.config import Config
from tiewise.report.plots import (
    community_sizes_svg,
    community_svg,
    degree_ccdf_svg,
    lift_chart_svg,
    spread_svg,
    uplift_svg,
    value_quadrants_svg,
)
from tiewise.store import Workspace, scalar

__all__ = ["CSP", "write_report"]

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""The report's Content-Security-Policy: no script, no request; inline styles (the page's and
the SVGs') and ``data:`` images only."""

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tiewise.report", "templates"),
    # Every template here is HTML.  (select_autoescape(["html"]) matched names ending in .html
    # only, and the template is report.html.j2: nothing was escaped.)
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _records(ws: Workspace, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = ws.con.execute(sql, params or [])
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _community_picture(ws: Workspace, config: Config, limit: int = 120) -> tuple[str, str]:
    """The community of the strongest customer, its strongest members drawn with their roles."""
    top = ws.con.execute(
        "SELECT community FROM customer_scores WHERE on_network AND NOT is_service "
        "ORDER BY weighted_degree DESC, customer_id LIMIT 1"
    ).fetchall()
    if not top:
        return "", ""
    community = top[0][0]
    members = _records(
        ws,
        "SELECT customer_id, CASE WHEN NOT on_network THEN 'off-network' "
        "WHEN is_leader THEN 'leader' ELSE business_role END AS role, rank_in_community "
        "FROM customer_scores WHERE community = ? ORDER BY is_leader DESC, "
        "business_role = 'bridge' DESC, weighted_degree DESC, customer_id LIMIT ?",
        [community, limit],
    )
    index = {m["customer_id"]: i for i, m in enumerate(members)}
    for m in members:
        m["label"] = f"#{m['rank_in_community']} {m['customer_id'][:6]}"
    ws.con.execute("CREATE OR REPLACE TEMP TABLE _drawn (customer_id VARCHAR)")
    ws.con.executemany("INSERT INTO _drawn VALUES (?)", [[m] for m in index])
    edges = ws.con.execute(
        "SELECT a, b, ln(1 + strength) FROM links WHERE a IN (SELECT * FROM _drawn) "
        "AND b IN (SELECT * FROM _drawn) ORDER BY a, b"
    ).fetchall()
    ws.con.execute("DROP TABLE _drawn")
    size = ws.con.execute(
        "SELECT size FROM communities WHERE community = ?", [community]
    ).fetchall()[0][0]
    title = f"Community {community}: its {len(members)} strongest of {size} members"
    svg = community_svg(
        members, [(index[a], index[b], w) for a, b, w in edges], title, seed=config.seed
    )
    return svg, title


def _value_context(ws: Workspace, config: Config, limit: int = 5000) -> dict[str, Any]:
    """The value section: segments, models, the quadrant plot, the top Ambassadors."""
    present = ws.table_names()
    if "customer_value" not in present:
        return {"value": None}
    points = ws.con.execute(
        "SELECT financial_percentile, social_percentile, segment FROM customer_value "
        "ORDER BY hash(customer_id), customer_id LIMIT ?",
        [limit],
    ).fetchnumpy()
    plot = value_quadrants_svg(
        np.asarray(points["financial_percentile"], dtype=np.float64),
        np.asarray(points["social_percentile"], dtype=np.float64),
        np.asarray(points["segment"], dtype=str),
        config.value.financial_cutoff,
        config.value.social_cutoff,
    )
    return {
        "value": {
            "segments": _active_segments(ws),
            "models": _records(ws, "SELECT * FROM value_models ORDER BY model DESC, parameter")
            if "value_models" in present
            else [],
            "cohorts": _records(ws, "SELECT * FROM retention_cohorts ORDER BY cohort")
            if "retention_cohorts" in present
            else [],
            "weights": _records(ws, "SELECT * FROM engagement_weights ORDER BY weight DESC")
            if "engagement_weights" in present
            else [],
            "ambassadors": _records(
                ws,
                "SELECT customer_id, clv, network_value, true_value, social_value, reason "
                "FROM customer_value WHERE segment = 'Ambassador' "
                "ORDER BY true_value DESC, customer_id LIMIT ?",
                [config.report.top_customers],
            ),
            "plot": plot,
            "shown": min(limit, len(points["segment"])),
            "network": "network_value" in present,
        }
    }


def _active_segments(ws: Workspace) -> list[dict[str, Any]]:
    """The value segments over the active base: customers who have not left.

    Customers who left have no future value, so counting them would give the high-value
    segments a churn rate of 0 by construction; the segment table counts current customers.
    """
    cols = _columns(ws, "customer_value")
    active = "WHERE NOT v.churned" if "churned" in cols else ""
    definition = (
        "any_value(s.definition)" if "definition" in _columns(ws, "value_segments") else "NULL"
    )
    return _records(
        ws,
        f"""
        SELECT v.segment, count(*) AS customers, count(*) / sum(count(*)) OVER () AS share,
               sum(v.clv) AS total_clv, sum(v.network_value) AS total_network_value,
               sum(v.true_value) AS total_true_value, avg(v.true_value) AS mean_true_value,
               {definition} AS definition
        FROM customer_value v LEFT JOIN value_segments s USING (segment) {active}
        GROUP BY v.segment ORDER BY sum(v.true_value) DESC
        """,
    )


def _churn(ws: Workspace, config: Config) -> dict[str, Any] | None:
    """The churn section: evaluation, lift chart, retention priority, triggers (when run)."""
    names = ws.table_names()
    if "churn_evaluation" not in names:
        return None
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for row in _records(
        ws, "SELECT model, targeted_share, lift FROM churn_lift ORDER BY model, targeted_share"
    ):
        share, lift = curves.setdefault(row["model"], ([], []))
        share.append(row["targeted_share"])
        lift.append(row["lift"])
    return {
        "evaluation": _records(ws, "SELECT * FROM churn_evaluation"),
        "lift_plot": lift_chart_svg(curves),
        "priority": _records(
            ws,
            "SELECT * FROM retention_priority ORDER BY rank LIMIT ?",
            [config.report.top_customers],
        ),
        "triggers": _records(
            ws,
            "SELECT trigger, count(*) AS customers, min(trigger_date) AS first, "
            "max(trigger_date) AS last FROM churn_triggers GROUP BY 1 ORDER BY 1",
        ),
    }


def _conversations(ws: Workspace, config: Config) -> dict[str, Any] | None:
    """The response-queue section (with the conversations input)."""
    names = ws.table_names()
    if not {"conversations", "response_queue"} <= names:
        return None
    threshold = config.conversations.negative_threshold
    stats = _records(
        ws,
        f"""
        SELECT count(*) AS messages,
               count(*) FILTER (WHERE customer_id IS NOT NULL) AS by_customers,
               count(*) FILTER (WHERE customer_id IS NULL) AS by_prospects,
               (SELECT count(*) FROM conversation_prospects) AS prospects,
               count(*) FILTER (WHERE sentiment <= {threshold!r}) AS negative,
               (SELECT count(*) FROM response_queue) AS listed
        FROM conversations
        """,
    )[0]
    stats["open"] = scalar(
        ws.con,
        "SELECT count(*) FROM conversations c, (SELECT max(timestamp) AS t FROM conversations) n "
        "WHERE c.customer_id IS NOT NULL AND NOT c.answered "
        f"AND c.timestamp > n.t - INTERVAL {int(config.conversations.open_days * 24)} HOUR",
    )
    return {
        "stats": stats,
        "sources": _records(
            ws,
            "SELECT sentiment_source, count(*) AS n FROM conversations GROUP BY 1 ORDER BY 2 DESC",
        ),
        "queue": _records(
            ws,
            "SELECT * FROM response_queue ORDER BY rank LIMIT ?",
            [config.report.top_customers],
        ),
    }


def _context(ws: Workspace, config: Config) -> dict[str, Any]:
    con = ws.con
    sizes = np.asarray(
        con.execute("SELECT size FROM communities").fetchnumpy()["size"], dtype=np.int64
    )
    degree = np.asarray(
        con.execute("SELECT contacts FROM customer_scores WHERE NOT is_service").fetchnumpy()[
            "contacts"
        ],
        dtype=np.int64,
    )
    top_k = config.report.top_communities
    communities = _records(
        ws,
        "SELECT * FROM communities WHERE size >= 3 ORDER BY size DESC, community LIMIT ?",
        [top_k],
    )
    members = _records(
        ws,
        "SELECT community, customer_id, rank_in_community, contacts, weighted_degree, pagerank, "
        "reason FROM customer_scores WHERE community IN (SELECT community FROM communities "
        "WHERE size >= 3 ORDER BY size DESC, community LIMIT ?) "
        "AND rank_in_community BETWEEN 1 AND 5 "
        "ORDER BY community, rank_in_community",
        [top_k],
    )
    by_community: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        by_community.setdefault(m["community"], []).append(m)
    run = ws.last_complete_run() or {}
    headline = _records(
        ws,
        "SELECT (SELECT count(*) FROM nodes) AS parties, "
        "(SELECT count(*) FROM nodes WHERE on_network) AS customers, "
        "(SELECT count(*) FROM links) AS links, "
        "(SELECT count(*) FROM communities WHERE size >= 3) AS communities, "
        "(SELECT count(*) FROM communities WHERE size < 3) AS small_groups, "
        "(SELECT count(*) FROM service_numbers) AS service_numbers, "
        "(SELECT CAST(sum(records) AS BIGINT) FROM links) AS interactions, "
        "(SELECT first_ts FROM link_meta) AS first_record, "
        "(SELECT as_of FROM link_meta) AS last_record"
        + (
            ", (SELECT half_life_days FROM link_meta) AS half_life_days, "
            "(SELECT half_life_reason FROM link_meta) AS half_life_reason"
            if {"half_life_days", "half_life_reason"} <= _columns(ws, "link_meta")
            else ""
        ),
    )[0]
    return {
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "headline": headline,
        "run": run,
        "inputs": json.loads(run.get("inputs") or "{}"),
        "versions": json.loads(run.get("versions") or "{}"),
        "runs": ws.runs()[:10],
        "ingest": _records(ws, "SELECT * FROM ingest_report ORDER BY input, action DESC, rule"),
        "service_numbers": _records(ws, "SELECT * FROM service_numbers LIMIT 10"),
        "top_customers": _records(
            ws,
            "SELECT customer_id, community, contacts, weighted_degree, pagerank, reason "
            "FROM customer_scores WHERE on_network AND NOT is_service "
            "ORDER BY weighted_degree DESC, customer_id LIMIT ?",
            [config.report.top_customers],
        ),
        "communities": communities,
        "members": by_community,
        "in_large": scalar(
            ws.con,
            "SELECT coalesce(sum(size) FILTER (WHERE size >= 3), 0) * 1.0 / "
            "greatest(1, sum(size)) FROM communities",
        ),
        "size_plot": community_sizes_svg(sizes),
        "community_plot": _community_picture(ws, config)[0],
        "roles": _records(
            ws,
            "SELECT business_role, role_name, count(*) AS members FROM customer_scores "
            "WHERE on_network AND NOT is_service GROUP BY ALL ORDER BY min(role)",
        ),
        "changes": _records(
            ws,
            "SELECT event, count(*) AS n FROM community_changes WHERE level = 0 AND run_id = "
            "(SELECT max(run_id) FROM community_changes) GROUP BY event ORDER BY event",
        ),
        "degree_plot": degree_ccdf_svg(degree),
        "churn": _churn(ws, config),
        "conversations": _conversations(ws, config),
        "config": config,
        **_value_context(ws, config),
        "summary": _summary(ws, config),
        **_campaigns(ws),
        **_influence(ws),
    }


def _influence(ws: Workspace, per_category: int = 5) -> dict[str, Any]:
    """The shuffle test per category, the top influencers with their evidence, the spread."""
    names = ws.table_names()
    if "influence_tests" not in names:
        return {"influence_tests": [], "influencers": {}, "spread_plot": ""}
    top = _records(
        ws,
        "SELECT category, customer_id, influence_score, influence_low, influence_high, "
        "adoptions, followers, followers_expected, p_value, reason FROM influence_scores "
        "WHERE category <> 'all' AND influence_shown AND rank <= ? ORDER BY category, rank",
        [per_category],
    )
    influencers: dict[str, list[dict[str, Any]]] = {}
    for row in top:
        influencers.setdefault(row["category"], []).append(row)
    curves = {}
    if "spread_curve" in names:
        frame = ws.con.execute(
            "SELECT category, expected_reach, top_degree_reach, reach_low, reach_high "
            "FROM spread_curve ORDER BY category, k"
        ).df()
        for category, part in frame.groupby("category", sort=True):
            curves[str(category)] = tuple(
                part[c].to_numpy(np.float64)
                for c in ("expected_reach", "top_degree_reach", "reach_low", "reach_high")
            )
    return {
        "influence_tests": _records(ws, "SELECT * FROM influence_tests ORDER BY category"),
        "influencers": influencers,
        "spread_plot": spread_svg(curves) if curves else "",
    }


def _campaigns(ws: Workspace) -> dict[str, Any]:
    """The campaign lists and their measured uplift, when campaigns were built."""
    names = ws.table_names()
    if "campaigns" not in names:
        return {"campaigns": [], "uplift": [], "uplift_plot": ""}
    uplift = (
        _records(ws, "SELECT * FROM campaign_uplift ORDER BY campaign")
        if "campaign_uplift" in names
        else []
    )
    return {
        "campaigns": _records(ws, "SELECT * FROM campaigns ORDER BY created_at"),
        "uplift": uplift,
        "uplift_plot": uplift_svg(uplift) if uplift else "",
    }


def _columns(ws: Workspace, table: str) -> set[str]:
    rows = ws.con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def _influence_summary(ws: Workspace, config: Config, names: set[str]) -> dict[str, Any]:
    """Influencers per category, only where the shuffle test shows influence."""
    if "influence_tests" not in names or "influence_scores" not in names:
        return {"measured": False, "shown": {}, "not_shown": []}
    tests = _columns(ws, "influence_tests")
    if "influence_detected" in tests:
        detected = "influence_detected"
    else:  # an older table: the same rule as the stage
        detected = f"p_value < {float(config.influence.significance)!r}"
    rows = ws.con.execute(
        f"SELECT category, {detected} FROM influence_tests WHERE category <> 'all' ORDER BY 1"
    ).fetchall()
    if not rows:  # no adoptions: scores are structural, nothing was tested
        return {"measured": False, "shown": {}, "not_shown": []}
    shown = [str(c) for c, d in rows if d]
    not_shown = [str(c) for c, d in rows if not d]
    cols = _columns(ws, "influence_scores")
    pick = [
        c
        for c in (
            "influence_score", "influence_low", "influence_high", "conversion_rate",
            "adoptions", "followers", "followers_expected", "reason",
        )
        if c in cols
    ]  # fmt: skip
    per: dict[str, list[dict[str, Any]]] = {}
    if shown:
        order = "rank" if "rank" in cols else "influence_score DESC, customer_id"
        where = "rank <= 3" if "rank" in cols else "true"
        for row in _records(
            ws,
            f"SELECT category, customer_id, {', '.join(pick)} FROM influence_scores "
            f"WHERE category IN (SELECT unnest(?)) AND {where} ORDER BY category, {order}",
            [shown],
        ):
            per.setdefault(str(row["category"]), []).append(row)
    return {
        "measured": True,
        "shown": {c: per.get(c, [])[:3] for c in shown},
        "not_shown": not_shown,
    }


def _advocates(ws: Workspace, names: set[str], limit: int = 5) -> list[dict[str, Any]]:
    """B2B: the top advocate of each key account (the accounts with the most value)."""
    if "customer_value" not in names or "customers" not in names:
        return []
    cols = _columns(ws, "customer_value")
    if "engagement_score" not in cols or "account_id" not in _columns(ws, "customers"):
        return []
    moved = "v.colleagues_moved" if "colleagues_moved" in cols else "NULL::BIGINT"
    linked = "v.colleagues_linked" if "colleagues_linked" in cols else "NULL::BIGINT"
    earned = "v.top_behaviour" if "top_behaviour" in cols else "v.reason"
    return _records(
        ws,
        f"""
        WITH people AS (
            SELECT v.*, c.account_id FROM customer_value v JOIN customers c USING (customer_id)
            WHERE c.account_id IS NOT NULL
        ),
        accounts AS (
            SELECT account_id, sum(true_value) AS account_value, count(*) AS contacts
            FROM people GROUP BY 1 ORDER BY account_value DESC, contacts DESC, account_id LIMIT ?
        ),
        ranked AS (
            SELECT v.account_id, v.customer_id, v.engagement_score, {moved} AS colleagues_moved,
                   {linked} AS colleagues_linked, {earned} AS earned,
                   row_number() OVER (PARTITION BY v.account_id
                                      ORDER BY v.engagement_score DESC, v.customer_id) AS r
            FROM people v JOIN accounts USING (account_id)
        )
        SELECT a.account_id, a.account_value, a.contacts, r.customer_id, r.engagement_score,
               r.colleagues_moved, r.colleagues_linked, r.earned
        FROM accounts a JOIN ranked r USING (account_id) WHERE r.r = 1
        ORDER BY a.account_value DESC, a.contacts DESC, a.account_id
        """,
        [limit],
    )


def _summary(ws: Workspace, config: Config) -> dict[str, Any]:
    """The executive summary: who moves others, who is worth most, what is at risk, what to do."""
    names = ws.table_names()
    out: dict[str, Any] = {
        "warnings": _records(ws, "SELECT * FROM run_warnings") if "run_warnings" in names else [],
        "influence": _influence_summary(ws, config, names),
        "advocates": _advocates(ws, names),
        "b2b": "engagement_events" in names and "adoptions" not in names,
        "ambassadors": None,
        "risk": None,
        "lists": [],
    }
    if "customer_value" in names:
        active = "NOT churned" if "churned" in _columns(ws, "customer_value") else "true"
        out["ambassadors"] = _records(
            ws,
            f"SELECT count(*) FILTER (WHERE segment = 'Ambassador') AS n, "
            f"coalesce(sum(true_value) FILTER (WHERE segment = 'Ambassador'), 0) AS value, "
            f"coalesce(sum(true_value), 0) AS total, count(*) AS customers "
            f"FROM customer_value WHERE {active}",
        )[0]
    if "churn_scores" in names and "expected_loss" in _columns(ws, "churn_scores"):
        out["risk"] = _records(
            ws,
            "SELECT count(*) AS customers, sum(expected_loss) AS expected_loss, "
            "sum(p_churn) AS expected_churners, "
            "(SELECT sum(expected_loss) FROM (SELECT expected_loss FROM churn_scores "
            " ORDER BY expected_loss DESC LIMIT 100)) AS top100 FROM churn_scores",
        )[0]
    if "campaigns" in names:
        uplift = (
            {r["campaign"]: r for r in _records(ws, "SELECT * FROM campaign_uplift")}
            if "campaign_uplift" in names
            else {}
        )
        for c in _records(ws, "SELECT * FROM campaigns ORDER BY created_at"):
            table = f"campaign_{c['campaign']}"
            expected = ""
            if table in names and c["kind"] == "retention":
                loss = scalar(ws.con, f"SELECT sum(score) FROM {table} WHERE arm = 'target'")
                expected = f"expected loss covered {float(loss or 0):,.0f}"
            elif c["kind"] == "crosssell" and "seed_sets" in names:
                reach = (
                    ws.con.execute(
                        "SELECT expected_reach, reach_low, reach_high FROM seed_sets "
                        "WHERE lower(category) = lower(?) ORDER BY rank DESC LIMIT 1",
                        [c["category"] or "all"],
                    ).fetchone()
                    if {"expected_reach", "reach_low"} <= set(_columns(ws, "seed_sets"))
                    else None
                )
                if reach is not None and reach[0] is not None and reach[0] == reach[0]:
                    expected = (
                        f"expected reach of the seed set {float(reach[0]):,.0f} adopters "
                        f"(90% interval {float(reach[1]):,.0f} to {float(reach[2]):,.0f}; a "
                        "conservative figure: on generated data with known cascades it ran below "
                        "the true reach)"
                    )
            measured = uplift.get(c["campaign"])
            if measured is not None and measured["uplift"] == measured["uplift"]:
                expected = (
                    f"measured uplift {100 * measured['uplift']:+.1f} points "
                    f"(95% CI {100 * measured['ci_low']:+.1f} to {100 * measured['ci_high']:+.1f})"
                )
                step = "act on the result; rebuild the list on fresh data for the next wave"
            else:
                options = f"--name {c['campaign']} --size {c['size']}"
                if c["category"]:
                    options += f" --category {c['category']}"
                step = (
                    f"tiewise campaign {c['kind']} {options} --out targets.xlsx --control-out "
                    "control.csv --customers YOUR_LIST.csv; after the campaign, tiewise "
                    f"responses {c['campaign']} RESPONSES.csv"
                )
            out["lists"].append(
                {
                    **c,
                    "targets": int(c["listed"]) - int(c["controls"]),
                    "expected": expected,
                    "step": step,
                }
            )
    return out


def write_report(ws: Workspace, path: Path, config: Config) -> Path:
    """Render the report for the workspace's current results to ``path`` (atomically)."""
    html = _ENV.get_template("report.html.j2").render(csp=CSP, **_context(ws, config))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
