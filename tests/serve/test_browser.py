"""End to end in headless Chromium (Debian's, driven by Playwright): what a new user does.

Opens the overview, searches a customer, opens their network, downloads a campaign list, and
saves a screenshot of each step and of every page under ``build/screenshots/`` (git-ignored) for
a reviewer to look at.  Any console error or
Content-Security-Policy violation fails the test.  Skips, saying why, when no chromium is
installed (``make test`` installs it when run as root).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest

from tiewise.serve import settings_from_config

OUTPUT = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: `make test` installs Debian's chromium when run as root "
    "(apt-get install chromium); without it the browser test cannot run",
)


@pytest.fixture
def server(hostile: Any, run_explorer: Any) -> Iterator[str]:
    """The explorer over the hostile workspace, with no token (loopback)."""
    with run_explorer(settings_from_config(hostile.config, environ={})) as url:
        yield url


def _launch(p: Any) -> Any:
    return p.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )


def test_the_login_page_asks_for_the_token(hostile: Any, run_explorer: Any) -> None:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    settings = settings_from_config(hostile.config, environ={"TIEWISE_SERVE_TOKEN": "t0ken-e2e"})
    with run_explorer(settings) as url, sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 900, "height": 500})
        page.goto(url + "/communities")
        assert page.url == url + "/login?next=/communities"
        page.fill("input[name=token]", "wrong")
        page.click("button[type=submit]")
        assert page.locator("#failed").is_visible()
        page.fill("input[name=token]", "t0ken-e2e")
        page.screenshot(path=str(OUTPUT / "0-login.png"))
        page.click("button[type=submit]")
        page.wait_for_url(url + "/communities")
        assert page.locator("#communities tbody tr").count() > 10
        browser.close()


def test_overview_search_network_download(server: str, hostile: Any) -> None:
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(hostile.workspace / "tiewise.duckdb"), read_only=True)
    ((customer,),) = con.execute(
        "SELECT s.customer_id FROM customer_scores s JOIN campaign_retention c "
        "USING (customer_id) WHERE s.contacts >= 5 ORDER BY c.rank LIMIT 1"
    ).fetchall()
    ((contacts,),) = con.execute(  # in the analysed network: service numbers' links left out
        "SELECT count(*) FROM links WHERE (a = ? OR b = ?) AND strength > 0 "
        "AND a NOT IN (SELECT customer_id FROM service_numbers) "
        "AND b NOT IN (SELECT customer_id FROM service_numbers)",
        [customer, customer],
    ).fetchall()
    ((listed,),) = con.execute("SELECT count(*) FROM campaign_retention").fetchall()
    con.close()

    problems: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        page.on(
            "console",
            lambda m: problems.append(f"{m.text} ({m.location})") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: problems.append(f"a dialog opened: {d.message}"))

        # 1. the overview
        page.goto(server + "/")
        assert page.locator("h1").inner_text() == "The network at a glance"
        assert page.locator(".figure").count() >= 8
        assert page.locator("#quality tbody tr").count() >= 4
        page.screenshot(path=str(OUTPUT / "1-overview.png"), full_page=True)

        # 2. search by the start of the id, from the header's search box
        page.fill("header input[name=q]", customer[:8])
        page.click("header button[type=submit]")
        page.wait_for_url("**/customer/**")
        assert page.locator("#customer-id").inner_text() == customer
        assert page.locator("#reasons li").count() >= 1
        page.screenshot(path=str(OUTPUT / "2-customer.png"), full_page=True)

        # 3. their network, drawn by Cytoscape
        page.click("#network-link")
        page.wait_for_selector("body[data-graph-ready]", timeout=20_000)
        drawn = page.evaluate("document.body.dataset.graphReady")
        assert drawn != "error", page.locator("#graph-status").inner_text()
        assert int(drawn) == min(contacts, 60) + 1
        assert page.locator("#graph canvas").count() >= 1
        assert "strongest of" in page.locator("#graph-status").inner_text()
        page.screenshot(path=str(OUTPUT / "3-network.png"), full_page=True)

        # the hostile customer's network: its id is drawn as text, never run
        page.goto(server + "/search")
        page.fill("#search-q", "<script>alert(")
        page.click("#search-form button[type=submit]")
        page.wait_for_url("**/customer/**")
        assert page.locator("#customer-id").inner_text() == hostile.hostile_id
        assert hostile.hostile_segment in page.locator("#segment").inner_text()
        page.click("#network-link")
        page.wait_for_selector("body[data-graph-ready]", timeout=20_000)
        assert page.locator("#details-list").inner_text().count(hostile.hostile_id) == 1
        page.screenshot(path=str(OUTPUT / "4-hostile-network.png"), full_page=True)

        # 5. download a campaign list
        page.goto(server + "/tables")
        with page.expect_download() as info:
            page.click("#download-campaign_retention")
        download = info.value
        target = OUTPUT / download.suggested_filename
        download.save_as(str(target))
        lines = target.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith('"rank","customer_id"')
        assert len(lines) == listed + 1
        page.screenshot(path=str(OUTPUT / "5-downloads.png"), full_page=True)
        browser.close()
    assert problems == []


def _watch(page: Any, problems: list[str]) -> None:
    page.on(
        "console",
        lambda m: (
            problems.append(f"{page.url}: {m.text} ({m.location})") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    page.on("dialog", lambda d: problems.append(f"a dialog opened: {d.message}"))


def _first(hostile: Any, sql: str) -> Any:
    con = duckdb.connect(str(hostile.workspace / "tiewise.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_every_page_renders_without_errors_or_overflow(server: str, hostile: Any) -> None:
    """Each page at 1,400 px: no console error, no horizontal scroll, a screenshot."""
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    customer = _first(
        hostile,
        "SELECT customer_id FROM customer_scores WHERE on_network AND contacts >= 5 "
        "ORDER BY contacts DESC, customer_id LIMIT 1",
    )
    community = _first(hostile, "SELECT community FROM communities ORDER BY size DESC LIMIT 1")
    ident = quote(customer, safe="")
    pages = {
        "overview": "/",
        "customers": "/customers",
        "customers-filtered": "/customers?segment=Ambassador&sort=clv",
        "customers-influence": "/customers?influence=devices",
        "customers-no-influence": "/customers?influence=books",
        "customer": f"/customer/{ident}",
        "network": f"/network/{ident}",
        "communities": "/communities",
        "community": f"/community/{community}",
        "campaigns": "/campaigns",
        "campaign": "/campaign/retention",
        "downloads": "/tables",
        "search": "/search",
        "not-found": "/customer/nobody-here",
        "bad-request": "/customers?churn_band=extreme",
    }
    problems: list[str] = []
    overflow: dict[str, int] = {}
    with sync_playwright() as p:
        browser = _launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        _watch(page, problems)
        for name, path in pages.items():
            page.goto(server + path)
            if name in ("network", "community"):
                page.wait_for_selector("body[data-graph-ready]", timeout=30_000)
                assert page.evaluate("document.body.dataset.graphReady") != "error", name
            wide = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if wide > 0:
                overflow[name] = wide
            page.screenshot(path=str(OUTPUT / f"page-{name}.png"), full_page=True)
        browser.close()
    # a 404 and a 400 page log their status as a console error in Chromium: only those
    expected = ("nobody-here", "churn_band=extreme")
    assert [m for m in problems if not any(e in m for e in expected)] == []
    assert overflow == {}


def test_filter_download_and_drawings_in_the_browser(server: str, hostile: Any) -> None:
    """What an analyst does: filter, download the selection, redraw and expand a network."""
    from playwright.sync_api import sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    customer = _first(
        hostile,
        "SELECT customer_id FROM customer_scores WHERE on_network AND contacts >= 12 "
        "ORDER BY contacts DESC, customer_id LIMIT 1",
    )
    problems: list[str] = []
    with sync_playwright() as p:
        browser = _launch(p)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        _watch(page, problems)

        # filter from the form; the page lists what the API says
        page.goto(server + "/customers")
        page.select_option("#filter-segment", "Other")
        page.select_option("#filter-churn_band", "high")
        page.click("#apply")
        page.wait_for_url("**/customers?**")
        want = page.request.get(
            server + "/api/customers?segment=Other&churn_band=high&page_number=1"
        ).json()
        assert want["total"] > 0
        assert page.locator("#customers tbody tr").count() == min(want["total"], 50)
        shown = page.locator("#customers tbody tr td:first-child").all_inner_texts()
        assert shown == [r["customer_id"] for r in want["rows"]][: len(shown)]
        page.screenshot(path=str(OUTPUT / "flow-1-filtered.png"), full_page=True)

        # download this selection: the same rows
        with page.expect_download() as info:
            page.click("#download-csv")
        target = OUTPUT / "selection.csv"
        info.value.save_as(str(target))
        import pandas as pd

        frame = pd.read_csv(target, dtype={"customer_id": str})
        assert len(frame) == want["total"]
        assert list(frame["customer_id"])[: len(want["rows"])] == [
            r["customer_id"] for r in want["rows"]
        ]

        # the ego network: fewer contacts, then expand a neighbour
        page.goto(server + f"/network/{quote(customer, safe='')}")
        page.wait_for_selector("body[data-graph-ready]", timeout=30_000)
        page.evaluate("delete document.body.dataset.graphReady")
        page.select_option("#contacts-limit", "10")
        page.wait_for_selector("body[data-graph-ready]", timeout=30_000)
        assert page.evaluate("document.body.dataset.graphReady") == "11"
        assert "10 strongest of" in page.locator("#graph-status").inner_text()
        labelled = page.evaluate("document.getElementById('graph').graph.nodes('.labelled').length")
        assert 1 <= labelled <= 12
        page.evaluate(  # tap a contact (return nothing: the collection is not serialisable)
            "() => { document.getElementById('graph').graph.nodes()"
            ".filter(n => !n.data('center'))[0].emit('tap'); }"
        )
        assert page.locator("#expand").is_visible()
        page.click("#expand")
        page.wait_for_selector("body[data-expanded]", timeout=30_000)
        drawn = page.evaluate("document.getElementById('graph').graph.nodes().length")
        assert drawn == 11 + int(page.evaluate("document.body.dataset.expanded"))
        page.screenshot(path=str(OUTPUT / "flow-2-expanded.png"), full_page=True)
        browser.close()
    assert problems == []
