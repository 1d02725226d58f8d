"""The analyst's whole path: files with their own column names -> init -> run -> a campaign with
the key holder's identifiers -> responses -> the uplift in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from tests.analyst_files import unusual_files

from tiewise.store import Workspace


@pytest.mark.slow
def test_from_raw_files_to_a_measured_campaign(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("TIEWISE_KEY", "ab" * 32)
    raw, files, proj = tmp_path / "raw", tmp_path / "files", tmp_path / "proj"
    made = cli(
        "synth", "telco", "--out", str(raw), "--customers", "1500", "--days", "120",
        "--format", "csv", "--seed", "3",
    )  # fmt: skip
    assert made.code == 0, made.err
    unusual_files(raw, files)

    # init reads the headers: every input wired, the day/month/year times recognised.
    init = cli("init", "--data", str(files), str(proj / "tiewise.toml"))
    assert init.code == 0, init.err
    assert "calls.csv: mapped as interactions" in init.out
    assert "'%d/%m/%Y %H:%M'" in init.out
    for name in ("sms.csv", "subscribers.csv", "purchases.csv", "product_uptake.csv"):
        assert f"{name}: mapped as" in init.out
    assert "churners.csv: mapped as churn" in init.out
    config = str(proj / "tiewise.toml")

    run = cli("run", "--config", config)
    assert run.code == 0, run.err
    with Workspace.open(proj / "workspace", read_only=True) as ws:
        found = ws.con.execute("SELECT DISTINCT category FROM adoptions").fetchall()
        categories = {r[0] for r in found}
        calls = ws.con.execute("SELECT count(*) FROM link_state").fetchall()[0][0]
    assert categories == {"Devices", "Roaming", "Streaming"}  # kept as the file spells them
    assert calls > 0

    assert "churn skipped" not in run.err  # 120 days are enough for the churn model

    # The retention list is ranked by expected loss = P(churn) x value at risk, both shown.
    kept = tmp_path / "retention.parquet"
    retention = cli("campaign", "retention", "--size", "50", "--config", config, "--out", str(kept))
    assert retention.code == 0, retention.err
    ranked = pd.read_parquet(kept)
    assert np.allclose(ranked["p_churn"] * ranked["value_at_risk"], ranked["expected_loss"])
    assert ranked["expected_loss"].is_monotonic_decreasing

    # A campaign a CRM can load: targets and control apart, the subscribers' msisdn attached.
    targets, control = tmp_path / "targets.xlsx", tmp_path / "control.csv"
    built = cli(
        "campaign", "vip", "--size", "200", "--config", config, "--out", str(targets),
        "--control-out", str(control), "--customers", str(files / "subscribers.csv"),
        "--id-column", "msisdn",
    )  # fmt: skip
    assert built.code == 0, built.err
    sheet = openpyxl.load_workbook(targets).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[:2] == ["rank", "msisdn"] and "arm" not in header
    sent = pd.read_excel(targets, dtype=str)
    held = pd.read_csv(control, dtype=str)
    subscribers = set(pd.read_csv(files / "subscribers.csv", dtype=str)["msisdn"])
    assert len(sent) + len(held) == 200 and len(held) > 0
    assert set(sent["msisdn"]) <= subscribers and set(held["msisdn"]) <= subscribers
    assert not set(sent["msisdn"]) & set(held["msisdn"])

    # An unknown suffix is refused before any work.
    refused = cli("campaign", "vip", "--config", config, "--out", str(tmp_path / "x.xls"))
    assert refused.code == 2 and ".xls" in refused.err

    # Responses with the raw ids: matched, the unknown ones listed and left out.
    responders = list(sent["msisdn"][: len(sent) // 2]) + list(held["msisdn"][:2])
    answers = pd.DataFrame({"msisdn": [*responders, "440000000001"], "responded": "yes"})
    answers.to_csv(tmp_path / "answers.csv", index=False)
    loaded = cli(
        "responses", "vip", str(tmp_path / "answers.csv"), "--id-column", "msisdn",
        "--config", config,
    )  # fmt: skip
    assert loaded.code == 0, loaded.err
    assert f"{len(responders)} of the file's {len(responders) + 1} customer ids" in loaded.out
    assert "1 ids are not on the campaign list" in loaded.err

    # Pseudonyms pasted without --pseudonymised: nothing matches, exit 2 with the hint.
    with Workspace.open(proj / "workspace", read_only=True) as ws:
        rows = ws.con.execute("SELECT customer_id FROM campaign_vip").fetchall()
        pseudonyms = [r[0] for r in rows]
    pd.DataFrame({"customer_id": pseudonyms[:5], "responded": 1}).to_csv(
        tmp_path / "pasted.csv", index=False
    )
    pasted = cli("responses", "vip", str(tmp_path / "pasted.csv"), "--config", config)
    assert pasted.code == 2 and "--pseudonymised" in pasted.err

    # The uplift of the matched responses is in the report.
    with Workspace.open(proj / "workspace", read_only=True) as ws:
        (targets_n, responders_n) = ws.con.execute(
            "SELECT targets, target_responders FROM campaign_uplift WHERE campaign = 'vip'"
        ).fetchall()[0]
    assert (targets_n, responders_n) == (len(sent), len(sent) // 2)
    report = cli("report", "--config", config)
    assert report.code == 0, report.err
    html = (proj / "report.html").read_text(encoding="utf-8")
    assert 'id="uplift"' in html
    assert f"{len(sent) // 2:,} / {len(sent):,}" in html  # target responders / targets
    assert html.index('id="summary"') < html.index('id="influence"') < html.index('id="appendix"')
