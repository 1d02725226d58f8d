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
            SELECT customer_id, 'devices' AS category, 1000 * pagerank AS influence_score,
                   'PageRank ' || round(pagerank, 5) AS reason
            FROM customer_scores WHERE on_network
            """,
            stage="influence",
            description="Influence per customer and category (test fixture).",
            check=False,
        )
        run.write_table(
            "campaign_retention",
            """
            SELECT row_number() OVER (ORDER BY expected_loss DESC, customer_id) AS rank,
                   customer_id, expected_loss, (hash(customer_id) % 10 = 0) AS control,
                   'expected loss ' || round(expected_loss, 2) AS reason
            FROM churn_scores ORDER BY expected_loss DESC, customer_id LIMIT 200
            """,
            stage="campaigns",
            description="Retention list: the customers whose loss would cost most.",
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
