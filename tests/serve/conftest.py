"""Workspaces for the explorer's tests: generated telco data run through the real pipeline.

``hostile`` keeps raw identifiers and renames the busiest customer to a ``<script>`` tag, with a
``<script>`` segment, so every page that shows them must escape them.  It also carries tables
shaped like the later stages' contracts (customer_value, churn_scores, influence_scores and a
campaign list), built here from the graph stage's scores, so the explorer's optional sections
are exercised before those stages land.  ``plain`` is pseudonymised, with the key in a file,
and has none of the later tables.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
import uvicorn

from tiewise.config import Config, load_config, template
from tiewise.pipeline import run_pipeline
from tiewise.serve import ServeSettings, server_config
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco

HOSTILE_ID = "<script>alert('id')</script>"
HOSTILE_SEGMENT = '<script>alert("segment")</script>'


@dataclass
class Project:
    root: Path
    config: Config
    data: Path
    hostile_id: str = HOSTILE_ID
    hostile_segment: str = HOSTILE_SEGMENT

    @property
    def workspace(self) -> Path:
        return self.config.workspace_path


def _project(root: Path, *, customers: int, seed: int) -> tuple[Path, Path]:
    data = root / "data"
    generate_telco(TelcoParams(customers=customers, days=60, seed=seed), data)
    config = root / "tiewise.toml"
    config.write_text(template(data, config_dir=root), encoding="utf-8")
    return config, data


def _rename_busiest(data: Path) -> str:
    """Give the on-network customer with the most records a hostile id and segment."""
    customers = pd.read_parquet(data / "customers.parquet")
    calls = pd.read_parquet(data / "interactions.parquet")
    counts = pd.concat([calls["from_id"], calls["to_id"]]).value_counts()
    on_net = set(customers.loc[customers["on_network"], "customer_id"])
    busiest = next(i for i in counts.index if i in on_net)
    customers.loc[customers["customer_id"] == busiest, "segment"] = HOSTILE_SEGMENT
    customers["customer_id"] = customers["customer_id"].replace(busiest, HOSTILE_ID)
    calls["from_id"] = calls["from_id"].replace(busiest, HOSTILE_ID)
    calls["to_id"] = calls["to_id"].replace(busiest, HOSTILE_ID)
    customers.to_parquet(data / "customers.parquet", index=False)
    calls.to_parquet(data / "interactions.parquet", index=False)
    return busiest


def _add_later_stages(workspace: Path) -> None:
    """Tables shaped like the influence/value/churn/campaign contracts, from the real scores."""
    with Workspace.open(workspace) as ws, ws.run(command="test: later stages") as run:
        run.write_table(
            "customer_value",
            """
            WITH spend AS (SELECT customer_id, sum(amount) AS historical_spend
                           FROM transactions GROUP BY customer_id),
            v AS (
                SELECT s.customer_id, coalesce(p.historical_spend, 0) AS historical_spend,
                       coalesce(p.historical_spend, 0) * 0.8 AS clv, NULL::DOUBLE AS p_alive,
                       0.0 AS network_value, s.weighted_degree AS social_value
                FROM customer_scores s LEFT JOIN spend p USING (customer_id)
                WHERE s.on_network)
            SELECT *, clv + network_value AS true_value,
                   100 * percent_rank() OVER (ORDER BY clv) AS financial_percentile,
                   100 * percent_rank() OVER (ORDER BY social_value) AS social_percentile,
                   CASE WHEN financial_percentile >= 80 AND social_percentile >= 80
                        THEN 'Ambassador' WHEN social_percentile >= 80 THEN 'Influencer'
                        WHEN financial_percentile >= 80 THEN 'High spender' ELSE 'Other' END
                        AS segment,
                   'spend ' || round(historical_spend, 2) || ', tie strength '
                        || round(social_value, 1) AS reason
            FROM v
            """,
            stage="value",
            description="Financial and social value per customer (test fixture).",
            check=False,
        )
        run.write_table(
            "churn_scores",
            """
            SELECT v.customer_id, 1 - exp(-1.0 / (1 + s.contacts)) AS p_churn,
                   v.clv * (1 - exp(-1.0 / (1 + s.contacts))) AS expected_loss,
                   'few contacts: ' || s.contacts AS reason
            FROM customer_value v JOIN customer_scores s USING (customer_id)
            """,
            stage="churn",
            description="Churn probability per customer (test fixture).",
            check=False,
        )
        run.write_table(
            "influence_scores",
            """
            SELECT customer_id, category, 1000 * pagerank AS influence_score,
                   contacts - 2 AS excess_followers,
                   CASE WHEN contacts >= 8 THEN 0.01 ELSE 0.5 END AS p_value,
                   'PageRank ' || round(pagerank, 5) AS reason
            FROM customer_scores, (VALUES ('devices'), ('books')) AS c(category)
            WHERE on_network
            """,
            stage="influence",
            description="Influence per customer and category (test fixture).",
            check=False,
        )
        run.write_table(
            "influence_tests",
            """
            SELECT * FROM (VALUES
                ('devices', 120, 80.0, 40.0, 40.0, 0.005, true, 'devices: 80 follows, 40 expected'),
                ('books', 90, 30.0, 29.0, 1.0, 0.41, false, 'books: 30 follows, 29 expected'))
                AS t(category, adopters, follows, follows_expected, excess, p_value,
                     influence_detected, reason)
            """,
            stage="influence",
            description="The shuffle test per category (test fixture).",
            check=False,
        )
        run.write_table(
            "campaign_retention",
            """
            SELECT row_number() OVER (ORDER BY expected_loss DESC, customer_id) AS rank,
                   customer_id,
                   CASE WHEN hash(customer_id) % 10 = 0 THEN 'control' ELSE 'target' END AS arm,
                   expected_loss,
                   'expected loss ' || round(expected_loss, 2) AS reason
            FROM churn_scores ORDER BY expected_loss DESC, customer_id LIMIT 200
            """,
            stage="campaigns",
            description="Retention list: the customers whose loss would cost most.",
            check=False,
        )
        run.write_table(
            "campaigns",
            """
            SELECT 'retention' AS campaign, 'retention' AS kind, NULL::VARCHAR AS category,
                   200 AS size, 200 AS listed,
                   (SELECT count(*) FROM campaign_retention WHERE arm = 'control')::INTEGER
                       AS controls, 'expected loss' AS basis
            """,
            stage="campaigns",
            description="Campaign lists (test fixture).",
            check=False,
        )
        run.write_table(
            "campaign_uplift",
            """
            SELECT 'retention' AS campaign, 180 AS targets, 36 AS target_responders,
                   0.2 AS target_rate, 20 AS controls, 2 AS control_responders,
                   0.1 AS control_rate, 0.1 AS uplift, -0.04 AS ci_low, 0.24 AS ci_high,
                   0.21 AS p_value
            """,
            stage="campaigns",
            description="Uplift per campaign (test fixture).",
            check=False,
        )


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("hostile")
    config_path, data = _project(root, customers=1500, seed=5)
    _rename_busiest(data)
    config = load_config(config_path)
    run_pipeline(config, keep_raw_ids=True)
    _add_later_stages(config.workspace_path)
    return Project(root, config, data)


@pytest.fixture(scope="session")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("plain")
    config_path, data = _project(root, customers=1200, seed=6)
    config = load_config(config_path)
    run_pipeline(config)  # pseudonymised with the key file beside the configuration
    return Project(root, config, data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(settings: ServeSettings) -> Iterator[str]:
    """The explorer on a free loopback port, configured as `tiewise serve` runs it, in a thread."""
    port = free_port()
    server = uvicorn.Server(server_config(replace(settings, port=port), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the explorer stopped while starting"
        assert time.monotonic() < deadline, "the explorer did not start within 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def run_explorer() -> object:
    """:func:`running`, for tests: ``with run_explorer(settings) as url: ...``."""
    return running
