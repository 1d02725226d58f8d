"""The explorer's HTTP interface: what it shows, escaping, tokens, read-only, raw-id search."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tiewise.ingest.pseudonym import load_key, pseudonymise
from tiewise.serve import ServeSettings, create_app, settings_from_config

LOCAL = ["testserver"]
HOSTILE_ID = "<script>alert('id')</script>"  # as the hostile workspace (conftest) holds them
HOSTILE_SEGMENT = '<script>alert("segment")</script>'
Project = Any


def _client(project: Project, **changes: object) -> TestClient:
    settings = replace(settings_from_config(project.config, environ={}), **changes)
    return TestClient(create_app(settings, allowed_hosts=LOCAL))


def test_the_fixture_holds_the_hostile_values(hostile: Project) -> None:
    assert (hostile.hostile_id, hostile.hostile_segment) == (HOSTILE_ID, HOSTILE_SEGMENT)


@pytest.fixture
def hostile_client(hostile: Project) -> Iterator[TestClient]:
    with _client(hostile) as client:
        yield client


@pytest.fixture
def plain_client(plain: Project) -> Iterator[TestClient]:
    with _client(plain) as client:
        yield client


def _sql(project: Project, sql: str) -> list[tuple]:
    con = duckdb.connect(str(project.workspace / "tiewise.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _scripts_are_only_ours(html: str) -> None:
    """Every <script> element in a page loads a file of the explorer's own, none is inline."""
    tags = re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE)
    assert all(re.fullmatch(r'<script src="/static/[\w./-]+" defer>', t) for t in tags), tags


# -- what it shows ---------------------------------------------------------------------------


def test_overview_matches_the_workspace(plain: Project, plain_client: TestClient) -> None:
    page = plain_client.get("/")
    assert page.status_code == 200
    figures = plain_client.get("/api/overview").json()["figures"]
    ((parties, customers, services),) = _sql(
        plain,
        "SELECT count(*), count(*) FILTER (on_network), count(*) FILTER (is_service) FROM nodes",
    )
    ((communities,),) = _sql(plain, "SELECT count(*) FROM communities")
    ((links,),) = _sql(plain, "SELECT count(*) FROM link_state")
    assert figures["parties in the network"] == parties
    assert figures["customers (on-network)"] == customers
    assert figures["service numbers set aside"] == services
    assert figures["communities"] == communities
    assert figures["links"] == links
    assert f"{communities:,}" in page.text and f"{parties:,}" in page.text
    # the data quality summary: one row per ingest_report row
    report = _sql(plain, "SELECT input, rule, rows FROM ingest_report")
    quality = re.search(r'<table class="data" id="quality">(.*?)</table>', page.text, re.S)
    assert quality is not None
    assert quality.group(1).count("<tr class=") == len(report)
    for _, _, rows in report:
        assert f"{rows:,}" in quality.group(1)
    # the pipeline's value stage wrote segments; no campaign lists, and no error for them
    ((segments,),) = _sql(plain, "SELECT count(DISTINCT segment) FROM customer_value")
    assert 'id="chart-segments"' in page.text and segments >= 1
    assert 'id="lists"' not in page.text


def test_later_stages_are_shown_when_present(hostile: Project, hostile_client: TestClient) -> None:
    page = hostile_client.get("/").text
    for table in (
        "chart-segments",
        "chart-churn",
        "chart-influence",
        "churn",
        "influence",
        "lists",
    ):
        assert f'id="{table}"' in page
    assert "campaign_retention" in page
    ((listed,),) = _sql(hostile, "SELECT customer_id FROM campaign_retention WHERE rank = 1")
    customer = hostile_client.get(f"/customer/{quote(listed, safe='')}").text
    for table in ("customer_value", "churn_scores"):
        assert f'id="profile-{table}"' in customer
    assert 'id="related-campaign_retention"' in customer
    assert 'id="related-influence_scores"' in customer
    ((segment,),) = _sql(
        hostile, f"SELECT segment FROM customer_value WHERE customer_id = '{listed}'"
    )
    assert f'id="value-segment">{segment}<' in customer


def test_customer_page_shows_scores_reason_and_community(
    plain: Project, plain_client: TestClient
) -> None:
    ((cid, community, reason),) = _sql(
        plain,
        "SELECT customer_id, community, reason FROM customer_scores WHERE is_leader "
        "ORDER BY weighted_degree DESC, customer_id LIMIT 1",
    )
    page = plain_client.get(f"/customer/{cid}")
    assert page.status_code == 200
    assert reason.replace("&", "&amp;") in page.text
    assert f'href="/community/{community}"' in page.text
    assert 'id="profile-customer_scores"' in page.text
    data = plain_client.get(f"/api/customer/{cid}").json()
    assert data["profile"]["customer_scores"]["community"] == community
    assert plain_client.get("/customer/0000000000nope").status_code == 404


def test_search_by_prefix_and_exact_id(plain: Project, plain_client: TestClient) -> None:
    ((cid,),) = _sql(plain, "SELECT customer_id FROM nodes ORDER BY customer_id LIMIT 1 OFFSET 7")
    prefix = cid[:3]
    expected = {
        r[0]
        for r in _sql(
            plain, f"SELECT customer_id FROM nodes WHERE starts_with(customer_id, '{prefix}')"
        )
    }
    found = plain_client.get("/api/search", params={"q": prefix}).json()["results"]
    assert {r["customer_id"] for r in found} == set(list(expected)[:50]) or len(found) == 50
    assert {r["customer_id"] for r in found} <= expected
    exact = plain_client.post(
        "/search", data={"q": cid, "kind": "pseudonym"}, follow_redirects=False
    )
    assert exact.status_code == 303 and exact.headers["location"] == f"/customer/{cid}"
    # LIKE wildcards are taken literally
    assert plain_client.get("/api/search", params={"q": "%"}).json()["results"] == []
    assert plain_client.get("/api/search", params={"q": "_"}).json()["results"] == []


def test_network_is_the_strongest_contacts_and_their_links(
    plain: Project, plain_client: TestClient
) -> None:
    ((cid,),) = _sql(
        plain,
        "SELECT customer_id FROM customer_scores WHERE is_leader "
        "ORDER BY contacts DESC, customer_id LIMIT 1",
    )
    limit = 12
    net = plain_client.get(f"/api/network/{cid}", params={"limit": limit}).json()
    # the analysed network: links to service numbers are left out (the default)
    analysed = (
        "(SELECT * FROM links WHERE strength > 0 AND a NOT IN (SELECT customer_id FROM "
        "service_numbers) AND b NOT IN (SELECT customer_id FROM service_numbers))"
    )
    strongest = _sql(
        plain,
        f"SELECT CASE WHEN a = '{cid}' THEN b ELSE a END AS other, strength FROM {analysed} "
        f"WHERE a = '{cid}' OR b = '{cid}' ORDER BY strength DESC, other",
    )
    assert net["contacts_total"] == len(strongest) > limit
    ids = {n["id"] for n in net["nodes"]}
    assert ids == {cid} | {o for o, _ in strongest[:limit]}
    assert sum(n["center"] for n in net["nodes"]) == 1
    among = _sql(
        plain,
        f"SELECT count(*) FROM {analysed} WHERE a IN (SELECT unnest($ids)) "
        "AND b IN (SELECT unnest($ids))".replace("$ids", str(sorted(ids))),
    )[0][0]
    assert len(net["edges"]) == among
    assert all(e["source"] in ids and e["target"] in ids for e in net["edges"])
    page = plain_client.get(f"/network/{cid}")
    assert page.status_code == 200 and f'data-api="/api/network/{cid}"' in page.text
    _scripts_are_only_ours(page.text)


def test_communities_pages_and_order(plain: Project, plain_client: TestClient) -> None:
    sizes = [r[0] for r in _sql(plain, "SELECT size FROM communities ORDER BY size DESC")]
    page = plain_client.get("/communities").text
    assert f"{len(sizes):,} in all" in page
    ((community,),) = _sql(plain, "SELECT community FROM communities ORDER BY size DESC LIMIT 1")
    detail = plain_client.get(f"/community/{community}")
    assert detail.status_code == 200 and f"{sizes[0]:,} members" in detail.text
    assert plain_client.get("/community/999999").status_code == 404
    assert plain_client.get("/communities", params={"order": "size; DROP"}).status_code == 200


def test_export_streams_the_table_as_csv(hostile: Project, hostile_client: TestClient) -> None:
    response = hostile_client.get("/export/campaign_retention.csv")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        'attachment; filename="campaign_retention.csv"'
    )
    got = pd.read_csv(io.BytesIO(response.content), dtype={"customer_id": str})
    con = duckdb.connect(str(hostile.workspace / "tiewise.duckdb"), read_only=True)
    want = con.execute("SELECT * FROM campaign_retention ORDER BY rank").df()
    con.close()
    assert list(got.columns) == list(want.columns)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    assert got["rank"].tolist() == list(range(1, len(want) + 1))
    big = hostile_client.get("/export/link_state.csv")
    ((pairs,),) = _sql(hostile, "SELECT count(*) FROM link_state")
    assert big.content.count(b"\n") == pairs + 1
    assert hostile_client.get("/export/runs.csv").status_code == 404  # not a registered table
    assert hostile_client.get('/export/x"; DROP TABLE links; --.csv').status_code == 404


# -- escaping --------------------------------------------------------------------------------


def test_hostile_id_and_segment_come_back_escaped(hostile_client: TestClient) -> None:
    pages = {
        "overview": hostile_client.get("/"),
        "customer": hostile_client.get(f"/customer/{quote(HOSTILE_ID, safe='')}"),
        "network": hostile_client.get(f"/network/{quote(HOSTILE_ID, safe='')}"),
        "search": hostile_client.post(
            "/search", data={"q": "<script>al", "kind": "pseudonym"}, follow_redirects=True
        ),
        "no result": hostile_client.post("/search", data={"q": "<b>nobody", "kind": "pseudonym"}),
        "not found": hostile_client.get(f"/customer/{quote('<img src=x onerror=alert(1)>')}"),
    }
    customer = pages["customer"]
    assert customer.status_code == 200
    assert "&lt;script&gt;alert(&#39;id&#39;)&lt;/script&gt;" in customer.text
    assert "&lt;script&gt;alert(&#34;segment&#34;)&lt;/script&gt;" in customer.text
    community = re.search(r'href="/community/(\d+)"', customer.text)
    assert community is not None
    pages["community"] = hostile_client.get(f"/community/{community.group(1)}")
    assert "&lt;script&gt;alert(&#39;id&#39;)" in pages["community"].text
    assert "&lt;script&gt;alert(&#39;id&#39;)" in pages["search"].text  # found by its start
    assert "&lt;b&gt;nobody" in pages["no result"].text
    for name, response in pages.items():
        assert response.headers["content-type"].startswith("text/html"), name
        for raw in (HOSTILE_ID, HOSTILE_SEGMENT, "<b>nobody", "<img src=x"):
            assert raw not in response.text, (name, raw)
        _scripts_are_only_ours(response.text)
    # JSON carries the value as data, with a JSON content type (the page writes it as text)
    data = hostile_client.get(f"/api/customer/{quote(HOSTILE_ID, safe='')}")
    assert data.headers["content-type"] == "application/json"
    assert data.json()["profile"]["customers"]["segment"] == HOSTILE_SEGMENT


def test_security_headers_on_every_response(hostile_client: TestClient) -> None:
    for path in ("/", "/static/network.js", "/customer/nobody", "/api/overview", "/nope"):
        response = hostile_client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert hostile_client.get("/").headers["cache-control"] == "no-store"


# -- access ----------------------------------------------------------------------------------


def test_token_is_required_beyond_localhost(plain: Project) -> None:
    settings = settings_from_config(plain.config, host="0.0.0.0", environ={})
    assert settings.token and settings.token_generated and len(settings.token) >= 40
    other = settings_from_config(plain.config, host="0.0.0.0", environ={})
    assert other.token != settings.token  # generated afresh
    with TestClient(create_app(settings)) as client:
        for path in (
            "/",
            "/api/overview",
            "/export/customer_scores.csv",
            "/static/network.js",
            "/customer/x",
            "/api/network/x",
        ):
            denied = client.get(path)
            assert denied.status_code == 401, path
            assert "customer" not in denied.text.replace("/customer/x", "")
        assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.post("/search", data={"q": "a"}).status_code == 401
        browser = client.get(
            "/communities?order=size", headers={"Accept": "text/html"}, follow_redirects=False
        )
        assert browser.status_code == 303
        assert browser.headers["location"] == "/login?next=/communities%3Forder%3Dsize"
        ok = client.get("/api/overview", headers={"Authorization": f"Bearer {settings.token}"})
        assert ok.status_code == 200
        bad = client.post("/login", data={"token": "guess", "next": "/"})
        assert bad.status_code == 401 and "not right" in bad.text
        good = client.post(
            "/login",
            data={"token": settings.token, "next": "//evil.example/"},
            follow_redirects=False,
        )
        assert good.status_code == 303 and good.headers["location"] == "/"
        cookie = good.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/").status_code == 200  # the cookie now rides along


def test_token_from_the_environment_is_required_on_localhost_too(plain: Project) -> None:
    settings = settings_from_config(plain.config, environ={"TIEWISE_SERVE_TOKEN": "s3cret-abc"})
    assert settings.token == "s3cret-abc" and not settings.token_generated
    with TestClient(create_app(settings, allowed_hosts=LOCAL)) as client:
        assert client.get("/api/overview").status_code == 401
        assert (
            client.get("/api/overview", headers={"Authorization": "Bearer s3cret-abc"}).status_code
            == 200
        )


def test_localhost_without_token_checks_the_host_header(plain: Project) -> None:
    settings = settings_from_config(plain.config, environ={})
    assert settings.token is None
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8765") as client:
        assert client.get("/api/overview").status_code == 200
        rebound = client.get("/api/overview", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400
    with pytest.raises(ValueError, match="token"):
        create_app(replace(settings, host="0.0.0.0"))


# -- read-only -------------------------------------------------------------------------------


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_session_leaves_the_workspace_unchanged(hostile: Project) -> None:
    before = _fingerprint(hostile.workspace)
    mtime = (hostile.workspace / "tiewise.duckdb").stat().st_mtime_ns
    with _client(hostile) as client:
        assert client.get("/").status_code == 200
        client.get(f"/customer/{quote(HOSTILE_ID, safe='')}")
        client.get(f"/api/network/{quote(HOSTILE_ID, safe='')}")
        client.post("/search", data={"q": "44", "kind": "pseudonym"})
        client.get("/communities")
        client.get("/export/campaign_retention.csv")
        client.get("/export/links.csv")
        explorer = client.app.state.explorer  # type: ignore[attr-defined]
        with pytest.raises(duckdb.Error, match="read-only"):
            explorer.ws.con.execute("CREATE TABLE intruder (x INTEGER)")
        with pytest.raises(duckdb.Error, match="read-only"):
            explorer.ws.con.execute("DELETE FROM customers")
    assert _fingerprint(hostile.workspace) == before
    assert (hostile.workspace / "tiewise.duckdb").stat().st_mtime_ns == mtime


# -- raw identifiers -------------------------------------------------------------------------


def test_raw_id_search_hashes_server_side_and_never_echoes(
    plain: Project, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = load_key(plain.config.resolve(plain.config.privacy.key_file), "NO_SUCH_VARIABLE")
    raw = str(pd.read_parquet(plain.data / "customers.parquet")["customer_id"].iloc[3])
    with _client(plain) as client:
        form = client.get("/search").text
        assert 'value="raw" >' in form or 'value="raw">' in form  # enabled: the key is there
        found = client.post("/search", data={"q": raw, "kind": "raw"}, follow_redirects=False)
        assert found.status_code == 303
        assert found.headers["location"] == f"/customer/{pseudonymise(raw, key)}"
        assert raw not in found.text
        page = client.get(found.headers["location"])
        assert page.status_code == 200 and raw not in page.text
        unknown = "447000000000"
        missing = client.post("/search", data={"q": unknown, "kind": "raw"})
        assert missing.status_code == 404 and "No customer has that identifier" in missing.text
        assert unknown not in missing.text
    assert raw not in caplog.text and unknown not in caplog.text


def test_raw_id_search_is_off_without_a_key(plain: Project, tmp_path: Path) -> None:
    config = plain.config.model_copy(
        update={
            "privacy": plain.config.privacy.model_copy(
                update={"key_file": str(tmp_path / "absent.key")}
            )
        }
    )
    settings = settings_from_config(config, environ={})
    assert settings.key is None and "absent.key" in settings.key_note
    assert not (tmp_path / "absent.key").exists()  # never created by the explorer
    with TestClient(create_app(settings, allowed_hosts=LOCAL)) as client:
        assert "Raw-identifier search is off" in client.get("/search").text
        refused = client.post("/search", data={"q": "447900000001", "kind": "raw"})
        assert refused.status_code == 400 and "447900000001" not in refused.text


def test_settings_type(plain: Project) -> None:
    settings = settings_from_config(plain.config, port=9999, environ={})
    assert isinstance(settings, ServeSettings)
    assert (settings.host, settings.port, settings.network_contacts) == ("127.0.0.1", 9999, 60)


def test_an_empty_workspace_still_serves_every_page(tmp_path: Path) -> None:
    from tiewise.store import Workspace

    Workspace.open(tmp_path / "ws", create=True).close()
    settings = ServeSettings(workspace=tmp_path / "ws")
    with TestClient(create_app(settings, allowed_hosts=LOCAL)) as client:
        for path in ("/", "/communities", "/tables", "/search", "/api/overview", "/api/tables"):
            assert client.get(path).status_code == 200, path
        assert "No complete run" in client.get("/").text
        assert client.post("/search", data={"q": "abc", "kind": "pseudonym"}).status_code == 200
        assert client.get("/customer/abc").status_code == 404
        assert client.get("/export/customers.csv").status_code == 404
