"""The explorer as an analyst's workspace: charts, filters, downloads, campaign and customer pages.

Every filter's rows are checked against SQL written here from the filter's plain meaning (not the
explorer's query), and every download against what `tiewise export` writes for the tables the
columns come from.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tiewise.serve import create_app, settings_from_config

Project = Any
BASE = (
    "SELECT s.customer_id FROM customer_scores s "
    "LEFT JOIN customer_value v USING (customer_id) "
    "LEFT JOIN churn_scores c USING (customer_id) "
    "WHERE s.on_network AND NOT s.is_service"
)


@pytest.fixture(scope="module")
def client(hostile: Project) -> Iterator[TestClient]:
    settings = settings_from_config(hostile.config, environ={})
    with TestClient(create_app(settings, allowed_hosts=["testserver"])) as c:
        yield c


def _ids(project: Project, sql: str, params: list[Any] | None = None) -> set[str]:
    con = duckdb.connect(str(project.workspace / "tiewise.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute(sql, params or []).fetchall()}
    finally:
        con.close()


def _listed(client: TestClient, query: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every row the customer list gives for ``query`` (all pages, through the JSON API)."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(f"/api/customers?{query}&page_number={page}").json()
        rows += body["rows"]
        if len(rows) >= body["total"] or not body["rows"]:
            return rows, body
        page += 1


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("segment=Ambassador", "v.segment = 'Ambassador'"),
        ("role=bridge", "s.business_role = 'bridge'"),
        ("min_clv=100&max_clv=400", "v.clv BETWEEN 100 AND 400"),
        ("min_contacts=10&segment=Other", "s.contacts >= 10 AND v.segment = 'Other'"),
        ("max_p_churn=0.1", "c.p_churn <= 0.1"),
        (
            "churn_band=high",
            # riskier than at least 90% of the other scored customers
            "(SELECT count(*) FROM churn_scores x WHERE x.p_churn < c.p_churn) "
            ">= 0.9 * (SELECT count(p_churn) - 1 FROM churn_scores)",
        ),
        (
            "churn_band=medium",
            "(SELECT count(*) FROM churn_scores x WHERE x.p_churn < c.p_churn) "
            "BETWEEN 0.7 * (SELECT count(p_churn) - 1 FROM churn_scores) "
            "AND 0.9 * (SELECT count(p_churn) - 1 FROM churn_scores) - 1e-9",
        ),
        (
            "churn_band=low&sort=p_churn",
            "(SELECT count(*) FROM churn_scores x WHERE x.p_churn < c.p_churn) "
            "< 0.7 * (SELECT count(p_churn) - 1 FROM churn_scores)",
        ),
    ],
)
def test_a_filter_returns_exactly_the_rows_it_names(
    hostile: Project, client: TestClient, query: str, where: str
) -> None:
    rows, body = _listed(client, query)
    want = _ids(hostile, f"{BASE} AND {where}")
    assert want, "the fixture must hold rows for this filter"
    assert {r["customer_id"] for r in rows} == want
    assert body["total"] == len(want)
    if "churn_band=" in query:  # every row says the band it was picked for
        assert {r["churn_band"] for r in rows} == {query.split("=")[1].split("&")[0]}


def test_pages_follow_one_another_in_the_downloads_order(client: TestClient) -> None:
    for query in ("sort=clv", "sort=p_churn&order=asc", "segment=Other&sort=contacts"):
        rows, body = _listed(client, query)
        download = pd.read_csv(
            io.BytesIO(client.get(f"/customers.csv?{query}").content), dtype={"customer_id": str}
        )
        assert len(rows) == body["total"] == len(download) > 50  # more than one page
        assert [r["customer_id"] for r in rows] == download["customer_id"].tolist()
        bands = [r.get("churn_band") for r in rows]
        assert bands == download["churn_band"].where(download["churn_band"].notna(), None).tolist()


def test_a_community_filter_and_the_sort_order(hostile: Project, client: TestClient) -> None:
    (community,) = _ids(
        hostile,
        "SELECT community FROM customer_scores WHERE on_network GROUP BY community "
        "ORDER BY count(*) DESC, community LIMIT 1",
    )
    rows, _ = _listed(client, f"community={community}&sort=contacts&order=asc")
    assert {r["customer_id"] for r in rows} == _ids(
        hostile, f"{BASE} AND s.community = ?", [community]
    )
    contacts = [r["contacts"] for r in rows]
    assert contacts == sorted(contacts)
    rows, _ = _listed(client, f"community={community}&sort=contacts")
    assert [r["contacts"] for r in rows] == sorted(contacts, reverse=True)


def test_influencers_only_where_the_shuffle_test_found_influence(
    hostile: Project, client: TestClient
) -> None:
    rows, body = _listed(client, "influence=devices")
    want = _ids(
        hostile,
        f"{BASE} AND s.customer_id IN (SELECT customer_id FROM influence_scores "
        "WHERE category = 'devices' AND excess_followers > 0 AND p_value <= 0.05)",
    )
    assert want and {r["customer_id"] for r in rows} == want
    scores = [r["influence_score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    # books: the fixture's shuffle test found nothing, so no list is shown as influence
    rows, body = _listed(client, "influence=books")
    assert rows == [] and body["total"] == 0
    assert "no influence beyond homophily" in body["note"]
    page = client.get("/customers?influence=books")
    assert page.status_code == 200 and 'id="note"' in page.text
    assert 'id="customers"' not in page.text
    overview = client.get("/").text
    assert 'href="/customers?influence=devices"' in overview
    assert 'href="/customers?influence=books"' not in overview
    assert "not detected: no influencer list" in overview


@pytest.mark.parametrize(
    "query",
    [
        "churn_band=extreme",
        "min_clv=abc",
        "min_clv=inf",
        "community=x",
        "sort=reason",
        "order=sideways",
        "influence=nope",
        "segment=" + "x" * 300,
    ],
)
def test_a_bad_filter_is_a_400(client: TestClient, query: str) -> None:
    assert client.get(f"/customers?{query}").status_code == 400
    assert client.get(f"/api/customers?{query}").status_code == 400
    assert client.get(f"/customers.csv?{query}").status_code == 400


def _export(cli: Any, hostile: Project, table: str, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / f"{table}.parquet"
    result = cli("export", table, str(out), "--workspace", str(hostile.workspace))
    assert result.code == 0, result.err
    return pd.read_parquet(out).set_index("customer_id")


def test_downloads_match_tiewise_export(
    hostile: Project, client: TestClient, cli: Any, tmp_path: Path
) -> None:
    query = "segment=Ambassador&sort=true_value"
    csv = client.get(f"/customers.csv?{query}")
    parquet = client.get(f"/customers.parquet?{query}")
    excel = client.get(f"/customers.xlsx?{query}")
    assert csv.status_code == parquet.status_code == excel.status_code == 200
    assert "attachment" in excel.headers["content-disposition"]
    frames = {
        "csv": pd.read_csv(io.BytesIO(csv.content), dtype={"customer_id": str}),
        "parquet": pd.read_parquet(io.BytesIO(parquet.content)),
        "xlsx": pd.read_excel(io.BytesIO(excel.content), dtype={"customer_id": str}),
    }
    rows, _ = _listed(client, query)
    for name, frame in frames.items():
        assert list(frame["customer_id"]) == [r["customer_id"] for r in rows], name
    table = frames["parquet"].set_index("customer_id")
    assert {"value_reason", "churn_reason", "network_reason"} <= set(table.columns)
    # each column equals what `tiewise export` writes for the table it comes from
    value = _export(cli, hostile, "customer_value", tmp_path)
    churn = _export(cli, hostile, "churn_scores", tmp_path)
    scores = _export(cli, hostile, "customer_scores", tmp_path)
    pairs = [
        (value, "segment", "segment"),
        (value, "clv", "clv"),
        (value, "true_value", "true_value"),
        (value, "reason", "value_reason"),
        (churn, "p_churn", "p_churn"),
        (churn, "reason", "churn_reason"),
        (scores, "business_role", "business_role"),
        (scores, "weighted_degree", "tie_strength"),
        (scores, "reason", "network_reason"),
    ]
    for source, column, shown in pairs:
        pd.testing.assert_series_equal(
            table[shown], source.loc[table.index, column], check_names=False, check_dtype=False
        )
    # the CSV and the Excel file carry the same values (as text and numbers may round-trip)
    for name in ("csv", "xlsx"):
        other = frames[name].set_index("customer_id")
        assert list(other.columns) == list(table.columns)
        assert (other["value_reason"] == table["value_reason"]).all()
        pd.testing.assert_series_equal(other["clv"], table["clv"], check_dtype=False)


def test_a_campaign_page_shows_both_arms_and_the_uplift(
    hostile: Project, client: TestClient
) -> None:
    page = client.get("/campaign/retention")
    assert page.status_code == 200
    text = page.text
    controls = len(
        _ids(hostile, "SELECT customer_id FROM campaign_retention WHERE arm = 'control'")
    )
    targets = len(_ids(hostile, "SELECT customer_id FROM campaign_retention WHERE arm = 'target'"))
    assert f"{targets:,}</span> to contact" in text
    assert f"{controls:,}</span> held out as control" in text
    assert "+10.0 points" in text and "95% interval -4.0 to +24.0 points" in text
    assert "The interval includes zero" in text
    shown = len(re.findall(r'<td><a href="/customer/', text))
    assert shown == min(targets, 50) + min(controls, 50)  # the first of each arm, by rank
    assert client.get("/campaign/nope").status_code == 404
    assert client.get("/campaigns").status_code == 200
    assert 'href="/campaign/retention"' in client.get("/").text


def test_every_chart_links_to_the_customers_behind_it(client: TestClient) -> None:
    page = client.get("/").text
    for chart in ("chart-segments", "chart-influence", "chart-churn", "chart-communities"):
        assert f'id="{chart}"' in page, chart
    links = set(re.findall(r'href="(/customers\?[^"]+)"', page))
    assert len(links) >= 8
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        # a bar's figure is the number of customers its link lists
    high = client.get("/api/customers?churn_band=high").json()["total"]
    assert f"{high:,}</text>" in page


def test_the_customer_page_leads_with_the_summary(hostile: Project, client: TestClient) -> None:
    (customer,) = _ids(hostile, "SELECT customer_id FROM campaign_retention WHERE rank = 1")
    text = client.get(f"/customer/{quote(customer, safe='')}").text
    assert text.index('id="summary"') < text.index('id="raw"')
    for card in ("card-value", "card-influence", "card-churn", "card-campaigns"):
        assert f'id="{card}"' in text
    assert '<a href="/campaign/retention">retention</a> #1' in text
    assert "No influence beyond homophily was detected in books" in text


def test_the_community_drawing_is_sampled_with_a_note(hostile: Project, client: TestClient) -> None:
    (community,) = _ids(
        hostile,
        "SELECT community FROM communities ORDER BY size DESC, community LIMIT 1",
    )
    full = client.get(f"/api/community/{community}?limit=1000").json()
    small = client.get(f"/api/community/{community}?limit=5").json()
    assert not full["sampled"] and len(full["nodes"]) == full["members"]
    assert small["sampled"] and len(small["nodes"]) == 5
    leaders = _ids(
        hostile,
        "SELECT customer_id FROM customer_scores WHERE community = ? AND is_leader",
        [community],
    )
    assert leaders <= {n["id"] for n in small["nodes"]} or len(leaders) > 5
    ids = {n["id"] for n in small["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in small["edges"])
    assert client.get("/api/community/999999999").status_code == 404
    assert client.get("/api/community/1?limit=0").status_code == 400
