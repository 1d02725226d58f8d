"""The report opened in real headless Chromium (Debian's, driven by Playwright): hostile text in
every input that reaches it -- raw ids (``--keep-raw-ids``), adoption categories and items,
segments, plans, an input file's name -- shows as text, and nothing runs or is fetched.

Skips, saying why, when no chromium is installed (``make test`` installs it when run as root).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from markupsafe import escape

from tiewise.config import template
from tiewise.report.html import CSP
from tiewise.synth import TelcoParams, generate_telco

CHROMIUM = next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None
)

# Each payload runs script if it reaches the page as markup.  A file name cannot hold "/".
PAYLOADS = {
    "id": "<script>alert('id')</script>",
    "category": "<img src=x onerror=alert('category')>",
    "item": "<img src=x onerror=alert('item')>",
    "segment": '<script>alert("segment")</script>',
    "plan": "<svg onload=alert('plan')>",
    "file": "<img src=x onerror=alert('file')>",
}
# Where each shows in today's report (the others must still never run, wherever they go).
SHOWN = ("id", "category", "plan", "file")


def _hostile_id(i: int) -> str:
    return PAYLOADS["id"].replace("'id'", f"'id{i}'")


def _hostile_project(root: Path) -> Path:
    """Telco data whose 50 busiest customers, one category, item, segment and plan are
    payloads; the adoptions file is named by a payload and holds one row that breaks a rule, so
    the ingest report names the file."""
    data = root / "data"
    generate_telco(TelcoParams(customers=1000, days=60, seed=3), data)
    customers = pd.read_parquet(data / "customers.parquet")
    calls = pd.read_parquet(data / "interactions.parquet")
    adoptions = pd.read_parquet(data / "adoptions.parquet")
    counts = pd.concat([calls["from_id"], calls["to_id"]]).value_counts()
    on_net = set(customers.loc[customers["on_network"], "customer_id"])
    busiest = [i for i in counts.index if i in on_net][:50]
    hostile = {old: _hostile_id(i) for i, old in enumerate(busiest)}
    for frame, columns in (
        (customers, ["customer_id"]),
        (calls, ["from_id", "to_id"]),
        (adoptions, ["customer_id"]),
    ):
        for column in columns:
            frame[column] = frame[column].replace(hostile)
    top_category = adoptions["category"].value_counts().index[0]
    adoptions["category"] = adoptions["category"].replace(top_category, PAYLOADS["category"])
    adoptions["item"] = adoptions["item"].replace(adoptions["item"].iloc[0], PAYLOADS["item"])
    top_plan = customers["plan"].value_counts().index[0]
    customers["plan"] = customers["plan"].replace(top_plan, PAYLOADS["plan"])
    customers["segment"] = customers["segment"].replace(
        customers["segment"].iloc[0], PAYLOADS["segment"]
    )
    broken = adoptions.iloc[[0]].copy()
    broken["customer_id"] = None  # breaks a rule: the ingest report's example names the file
    adoptions = pd.concat([adoptions, broken], ignore_index=True)
    config = root / "tiewise.toml"
    text = template(data, config_dir=root)
    assert "data/adoptions.parquet" in text
    text = text.replace("data/adoptions.parquet", f"data/{PAYLOADS['file']}.parquet")
    for slow, quick in (  # fewer samples: this test is about the page, not the figures
        ("shuffles = 199", "shuffles = 19"),
        ("seeds = 50 ", "seeds = 10 "),
        ("network_value_samples = 0 ", "network_value_samples = 20000 "),
        ("sbg_min_churned = 20", "sbg_min_churned = 3"),  # so each plan is named
    ):
        assert slow in text
        text = text.replace(slow, quick)
    config.write_text(text, encoding="utf-8")
    customers.to_parquet(data / "customers.parquet", index=False)
    calls.to_parquet(data / "interactions.parquet", index=False)
    (data / "adoptions.parquet").unlink()
    adoptions.to_parquet(data / f"{PAYLOADS['file']}.parquet", index=False)
    return config


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: `make test` installs Debian's chromium when run as root "
    "(apt-get install chromium); without it the report's browser test cannot run",
)
def test_hostile_text_shows_as_text_and_nothing_runs(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("TIEWISE_KEY", "00" * 32)
    config = _hostile_project(tmp_path)
    result = cli("run", "--config", str(config), "--keep-raw-ids")
    assert result.code == 0, result.err
    report = tmp_path / "report.html"
    source = report.read_text(encoding="utf-8")
    ids = [_hostile_id(i) for i in range(50)]
    for name, payload in PAYLOADS.items():
        assert payload not in source, f"the {name} reaches the report as markup"
    assert not any(i in source for i in ids), "an id reaches the report as markup"
    shown = {name: PAYLOADS[name] for name in SHOWN}
    shown["id"] = next((i for i in ids if escape(i) in source), "no hostile id in the report")
    for name, payload in shown.items():
        assert escape(payload) in source, f"no {name} in the report: the test no longer tests it"
    assert f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">' in source

    dialogs: list[str] = []
    requests: list[str] = []
    console: list[str] = []
    url = report.as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url) if r.url != url else None)
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.goto(url)
        page.wait_for_load_state("load")
        text = page.inner_text("body")
        scripts = page.evaluate("document.querySelectorAll('script').length")
        handlers = page.evaluate(
            "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
            ".some(a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 80))"
        )
        images = page.evaluate("document.querySelectorAll('img').length")
        svgs = page.evaluate("document.querySelectorAll('svg').length")
        browser.close()
    assert dialogs == [], f"script ran in the report: {dialogs}"
    assert scripts == 0 and handlers == [] and images == 0, (scripts, handlers, images)
    assert requests == [], f"the report fetched {requests}"
    assert console == [], f"the report logged (e.g. a CSP violation): {console}"
    for name, payload in shown.items():
        assert payload in text, f"the {name} does not show as text"
    assert svgs >= 3  # the plots are inline SVG, unaffected by the escaping
