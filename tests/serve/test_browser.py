"""End to end in headless Chromium (Debian's, driven by Playwright): what a new user does.

Opens the overview, searches a customer, opens their network, downloads a campaign list, and
saves a screenshot of each step under ``build/test-output/serve/``.  Any console error or
Content-Security-Policy violation fails the test.  Skips, saying why, when no chromium is
installed (``make test`` installs it when run as root).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tiewise.serve import settings_from_config

OUTPUT = Path(__file__).resolve().parents[2] / "build" / "test-output" / "serve"
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
    ((contacts,),) = con.execute(
        "SELECT count(*) FROM links WHERE a = ? OR b = ?", [customer, customer]
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
