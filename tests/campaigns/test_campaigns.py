"""Campaign lists on generated telco data: who is listed, the control arm, responses and uplift."""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from tiewise.campaigns import campaign, responses
from tiewise.campaigns.stage import uplift_test
from tiewise.config import Config, load_config, template
from tiewise.exceptions import InputError
from tiewise.ingest.pseudonym import pseudonymise
from tiewise.pipeline import rewrite_report, run_pipeline
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

KEY_HEX = "3c" * 32


@pytest.fixture(scope="module")
def telco(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("campaigns")
    generate_telco(TelcoParams(customers=4_000, days=45, seed=5), folder / "data")
    (folder / "tiewise.toml").write_text(template(folder / "data", config_dir=folder))
    (folder / "tiewise.key").write_text(KEY_HEX + "\n")
    config = load_config(folder / "tiewise.toml")
    run_pipeline(config)
    truth = pd.read_parquet(folder / "data" / "truth" / "nodes.parquet")
    truth["pseudonym"] = [pseudonymise(i, bytes.fromhex(KEY_HEX)) for i in truth["id"]]
    return config, truth


def listed(config: Config, name: str) -> pd.DataFrame:
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        return ws.con.execute(f"SELECT * FROM campaign_{name} ORDER BY rank").df()


def test_acquisition_lists_off_network_prospects_tied_to_influencers(
    telco: tuple[Config, pd.DataFrame],
) -> None:
    config, truth = telco
    summary = campaign(config, "acquisition", size=300)
    frame = listed(config, "acquisition").merge(
        truth, left_on="customer_id", right_on="pseudonym", how="left"
    )
    assert len(frame) == 300 and summary.targets + summary.controls == 300
    assert not frame["on_network"].any() and not frame["is_service"].any()
    assert (frame["influencer_contacts"] >= 1).all()
    assert frame["score"].is_monotonic_decreasing
    assert frame["rank"].tolist() == list(range(1, 301))
    first = frame.iloc[0]
    assert f"tied to {first['customer_contacts']} of our customers" in first["reason"]


def test_referral_and_vip_list_on_network_influencers(
    telco: tuple[Config, pd.DataFrame],
) -> None:
    config, truth = telco
    campaign(config, "referral", size=100)
    campaign(config, "vip", size=100)
    for name in ("referral", "vip"):
        frame = listed(config, name).merge(truth, left_on="customer_id", right_on="pseudonym")
        assert len(frame) == 100 and frame["on_network"].all()
    referral = listed(config, "referral")
    assert (referral["offnet_contacts"] >= 1).all()
    assert referral["reason"].str.contains("off-network contacts").all()


def test_the_control_arm_is_a_stable_seeded_share_of_each_list(
    telco: tuple[Config, pd.DataFrame],
) -> None:
    config, _ = telco
    campaign(config, "acquisition", name="grow", size=200)
    small = listed(config, "grow").set_index("customer_id")["arm"]
    campaign(config, "acquisition", name="grow", size=600)
    large = listed(config, "grow").set_index("customer_id")["arm"]
    assert (small == large[small.index]).all()  # a customer keeps its arm when the list grows
    share = (large == "control").mean()
    assert 0.06 <= share <= 0.14  # 10% ± 3.3 standard errors of a binomial share at n = 600
    campaign(config, "acquisition", name="other", size=600)
    other = listed(config, "other").set_index("customer_id")["arm"]
    assert not other.equals(large)  # each campaign draws its own control arm


def _replies(
    telco: tuple[Config, pd.DataFrame], name: str, size: int, seed: int, rates: tuple[float, float]
) -> tuple[pd.DataFrame, npt.NDArray[np.bool_]]:
    """A new acquisition list joined to the raw ids; who replied, at ``rates`` (target, control)."""
    config, truth = telco
    campaign(config, "acquisition", name=name, size=size)
    frame = listed(config, name).merge(truth, left_on="customer_id", right_on="pseudonym")
    rate = np.where(frame["arm"] == "target", *rates)
    return frame, np.random.default_rng(seed).random(len(frame)) < rate


def test_responses_with_raw_ids_give_the_planted_uplift(
    telco: tuple[Config, pd.DataFrame], tmp_path: Path
) -> None:
    config = telco[0]
    frame, replied = _replies(telco, "trial", 2000, 3, (0.30, 0.10))
    file = tmp_path / "replies.csv"
    pd.DataFrame({"phone": frame.loc[replied, "id"], "answer": "yes", "spend": 25.0}).to_csv(
        file, index=False
    )
    u = responses(
        config, "trial", file, id_column="phone", response_column="answer", value_column="spend"
    )
    assert u.targets + u.controls == len(frame)
    assert u.target_responders + u.control_responders == replied.sum()
    assert u.ci_low < 0.20 < u.ci_high and u.p_value < 1e-4
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        row = ws.con.execute(
            "SELECT value_per_target, value_per_control FROM campaign_uplift "
            "WHERE campaign = 'trial'"
        ).fetchall()[0]
    assert row[0] == pytest.approx(25.0 * u.target_rate)
    assert row[1] == pytest.approx(25.0 * u.control_rate)


def test_responses_from_excel_match_the_same_rows_as_csv(
    telco: tuple[Config, pd.DataFrame], tmp_path: Path
) -> None:
    config = telco[0]
    frame, replied = _replies(telco, "sheet", 500, 4, (0.2, 0.2))
    rows = pd.DataFrame({"phone": frame.loc[replied, "id"], "answer": "yes", "spend": 12.5})
    rows.to_csv(tmp_path / "replies.csv", index=False)
    rows.to_excel(tmp_path / "replies.xlsx", index=False, engine="xlsxwriter")
    read = [
        responses(config, "sheet", tmp_path / f"replies.{suffix}", id_column="phone",
                  response_column="answer", value_column="spend")
        for suffix in ("csv", "xlsx")
    ]  # fmt: skip
    assert read[0].target_responders + read[0].control_responders == replied.sum() > 0
    assert read[1] == read[0]


def test_uplift_p_value_is_the_two_proportion_z_test() -> None:
    nt, kt, nc, kc = 900, 117, 1100, 110
    pt, pc, pooled = kt / nt, kc / nc, (kt + kc) / (nt + nc)
    z = (pt - pc) / math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
    u = uplift_test("x", nt, kt, nc, kc)
    assert u.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert u.uplift == pytest.approx(pt - pc)
    small = uplift_test("x", 20, 3, 20, 0)  # expected counts below 5: Fisher's exact test
    assert small.p_value == pytest.approx(0.2307692, rel=1e-5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("customer_id,responded\nabc,maybe\n", "data row 1, column 'responded': 'maybe'"),
        ("customer_id,answer\nabc,1\n", "no column 'responded'"),
        ("customer_id,responded\n,1\n", "data row 1: the customer identifier is empty"),
    ],
)
def test_bad_response_files_say_where_and_what(
    telco: tuple[Config, pd.DataFrame], tmp_path: Path, content: str, message: str
) -> None:
    config, _ = telco
    campaign(config, "vip", name="badfile", size=50)
    file = tmp_path / "r.csv"
    file.write_text(content)
    with pytest.raises(InputError, match=message):
        responses(config, "badfile", file)


def test_lists_that_need_a_later_stage_say_which(
    telco: tuple[Config, pd.DataFrame],
) -> None:
    config, _ = telco
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        tables = {t.name for t in ws.tables()}
        warnings = ws.table("run_warnings").df()
    # 45 days are too few for the churn model: the run said so, with the setting to change.
    assert "retention_priority" not in tables
    (churn,) = warnings[warnings["stage"] == "churn"].itertuples()
    assert "the data covers" in churn.reason and "horizon_days" in churn.enable
    with pytest.raises(InputError, match="churn stage"):
        campaign(config, "retention")
    with pytest.raises(InputError, match="unknown campaign 'spam'"):
        campaign(config, "spam")
    with pytest.raises(InputError, match="campaign name"):
        campaign(config, "vip", name="Robert'); DROP TABLE")


def test_the_cli_builds_and_exports_a_list(
    telco: tuple[Config, pd.DataFrame], tmp_path: Path, cli: Callable[..., object]
) -> None:
    config, _ = telco
    toml = config.base_dir / "tiewise.toml"
    result = cli("campaign", "referral", "--size", "40", "--out", str(tmp_path / "r.csv"),
                 "--config", str(toml))  # fmt: skip
    assert result.code == 0, result.err
    assert "[target]" in result.out or "[control]" in result.out
    arms = listed(config, "referral")["arm"]
    written = pd.read_csv(tmp_path / "r.csv")
    # The file holds the customers to contact only: the control group is not in it.
    assert len(written) == (arms == "target").sum() and (arms == "control").any()
    assert "arm" not in written.columns
    both = cli("export", "campaign_referral", str(tmp_path / "all.xlsx"), "--include-control",
               "--config", str(toml))  # fmt: skip
    assert both.code == 0, both.err
    assert len(pd.read_excel(tmp_path / "all.xlsx")) == 40
    refused = cli("export", "campaign_referral", str(tmp_path / "r.xls"), "--config", str(toml))
    assert refused.code == 2 and "unknown suffix" in refused.err


def test_a_list_file_it_cannot_write_is_refused_before_the_list_is_built(
    telco: tuple[Config, pd.DataFrame], tmp_path: Path, cli: Callable[..., object]
) -> None:
    config, _ = telco
    toml = config.base_dir / "tiewise.toml"
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        before = len(ws.runs())
    result = cli("campaign", "vip", "--out", str(tmp_path / "v.json"), "--config", str(toml))
    assert result.code == 2 and ".csv" in result.err  # type: ignore[attr-defined]
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        assert len(ws.runs()) == before


def test_the_report_shows_campaigns_and_their_uplift(
    telco: tuple[Config, pd.DataFrame], tmp_path: Path, cli: Callable[..., object]
) -> None:
    config, truth = telco
    campaign(config, "referral", name="report_check", size=300)
    frame = listed(config, "report_check").merge(truth, left_on="customer_id", right_on="pseudonym")
    file = tmp_path / "replies.csv"
    pd.DataFrame({"customer_id": frame["id"], "responded": (frame.index % 4 == 0)}).to_csv(
        file, index=False
    )
    responses(config, "report_check", file)
    result = cli("report", "--config", str(config.base_dir / "tiewise.toml"))
    assert result.code == 0, result.err
    html = config.resolve(config.report.path).read_text()
    assert '<h2 id="campaigns">Campaigns</h2>' in html and "report_check" in html
    assert "Campaign response: contacted (target) vs held out (control)" in html


def test_crosssell_takes_the_influence_stage_seed_set_in_its_order(
    telco: tuple[Config, pd.DataFrame],
) -> None:
    config, _ = telco
    with Workspace.open(config.workspace_path) as ws:
        tables = {t.name for t in ws.tables()}
        if "seed_sets" not in tables:  # stand in for the influence stage: its table's shape
            with ws.run(command="test seeds") as run:
                run.write_table(
                    "seed_sets",
                    "SELECT 'devices' AS category, row_number() OVER (ORDER BY customer_id) "
                    "AS rank, customer_id, 10.0 / row_number() OVER (ORDER BY customer_id) "
                    "AS marginal_reach, 'seed' AS reason FROM customer_scores "
                    "WHERE on_network ORDER BY customer_id LIMIT 30",
                    stage="influence",
                    description="test",
                    check=False,
                )
        expected = [
            r[0]
            for r in ws.con.execute(
                "SELECT customer_id FROM seed_sets WHERE category = 'devices' ORDER BY rank"
            ).fetchall()
        ]
    campaign(config, "crosssell", category="devices", size=20)
    assert listed(config, "crosssell_devices")["customer_id"].tolist() == expected[:20]
    # the report gives the seed set's reach with its interval, or none for a fallback
    rewrite_report(config)
    html = config.resolve(config.report.path).read_text()
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        last = ws.con.execute(
            "SELECT * FROM seed_sets WHERE category = 'devices' ORDER BY rank DESC LIMIT 1"
        ).df()
    if "reach_low" in last and np.isfinite(last["expected_reach"].iloc[0]):
        r = last.iloc[0]
        assert (
            f"expected reach of the seed set {r['expected_reach']:,.0f} adopters (90% interval "
            f"{r['reach_low']:,.0f} to {r['reach_high']:,.0f}; a conservative figure"
        ) in html
    else:
        assert "expected reach of the seed set" not in html
    with pytest.raises(InputError, match="no seed set for category 'garden'"):
        campaign(config, "crosssell", category="garden")
