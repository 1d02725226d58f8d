"""The SQL link builder against a slow, obviously-correct reference written in plain Python."""

import math
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tiewise.config import Config, LinksConfig, load_config
from tiewise.ingest.load import ingest
from tiewise.links.strength import LinkSummary, build_links, link_state_sql
from tiewise.store import Workspace


def links_of(
    tmp_path: Path, frame: pd.DataFrame, **ingest_options: object
) -> tuple[Config, LinkSummary]:
    """Ingest `frame` (raw ids kept) and build its links in a workspace under tmp_path."""
    frame.to_parquet(tmp_path / "records.parquet")
    config = load_config(
        None,
        workspace=str(tmp_path / "ws"),
        inputs={"interactions": {"path": str(tmp_path / "records.parquet")}},
        ingest=ingest_options,
    )
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="t") as run:
        ingest(run, config, None)
        summary = build_links(run, config)
    return config, summary


def reference_links(
    frame: pd.DataFrame, cfg: LinksConfig, half_life_days: float
) -> dict[tuple[str, str], dict[str, float]]:
    """The link strength of the README, record by record, in plain Python."""
    as_of = frame["timestamp"].max()

    def monday(t: pd.Timestamp) -> pd.Timestamp:
        return t.normalize() - pd.Timedelta(days=t.weekday())

    weeks = min(52, (monday(as_of) - monday(frame["timestamp"].min())).days // 7 + 1)
    out: dict[tuple[str, str], dict[str, float]] = {}
    groups: dict[tuple[str, str], list[pd.Series]] = defaultdict(list)
    for _, r in frame.iterrows():
        groups[(min(r.from_id, r.to_id), max(r.from_id, r.to_id))].append(r)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in groups:
        neighbours[a].add(b)
        neighbours[b].add(a)
    for (a, b), records in groups.items():
        volume = 0.0
        n_ab = n_ba = 0
        active_weeks = set()
        for r in records:
            minutes = (0 if pd.isna(r.duration_s) else r.duration_s) / 60
            age_days = (as_of - r.timestamp).total_seconds() / 86400
            volume += (
                cfg.channel_weights[r.channel]
                * (1 + cfg.duration_weight * math.log(1 + minutes))
                * 2 ** (-age_days / half_life_days)
            )
            n_ab += r.from_id == a
            n_ba += r.from_id == b
            weeks_back = (monday(as_of) - monday(r.timestamp)).days // 7
            if weeks_back < weeks:
                active_weeks.add(weeks_back)
        reciprocity = min(n_ab, n_ba) / max(n_ab, n_ba)
        regularity = len(active_weeks) / weeks
        common = {
            k
            for k in neighbours[a] & neighbours[b]
            if len(neighbours[k]) < cfg.service_min_contacts
        }
        out[(a, b)] = {
            "records": len(records),
            "n_ab": n_ab,
            "n_ba": n_ba,
            "volume": volume,
            "reciprocity": reciprocity,
            "regularity": regularity,
            "common_contacts": len(common),
            "strength": volume
            * (1 + reciprocity)
            / 2
            * (1 + regularity)
            / 2
            * (1 + math.log(1 + len(common))),
        }
    return out


def random_log(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    people = [f"p{i}" for i in range(25)]
    a = rng.integers(0, 25, n)
    b = (a + rng.integers(1, 5, n)) % 25
    channel = rng.choice(["voice", "sms", "meeting"], n)
    return pd.DataFrame(
        {
            "from_id": [people[i] for i in a],
            "to_id": [people[i] for i in b],
            "timestamp": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(rng.integers(0, 70 * 86400, n), unit="s"),
            "channel": channel,
            "duration_s": np.where(channel == "sms", np.nan, rng.integers(0, 3600, n)).astype(
                float
            ),
        }
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_strength_components_match_the_reference(tmp_path: Path, seed: int) -> None:
    frame = random_log(seed)
    config, _ = links_of(tmp_path, frame, deduplicate=False)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        got = ws.con.execute(
            "SELECT a, b, records, n_ab, n_ba, volume, reciprocity, regularity, common_contacts, "
            "strength FROM links"
        ).fetchall()
        half_life = ws.con.execute("SELECT half_life_days FROM link_meta").fetchall()[0][0]
    span = (frame["timestamp"].max() - frame["timestamp"].min()).total_seconds() / 86400
    assert half_life >= round(span, 1)  # chosen from the data: at least its span
    expected = reference_links(frame, config.links, half_life)
    assert len(got) == len(expected)
    assert any(row[8] > 0 for row in got)  # the log has triangles: common contacts are counted
    for a, b, records, n_ab, n_ba, volume, reciprocity, regularity, common, strength in got:
        ref = expected[(a, b)]
        assert (records, n_ab, n_ba) == (ref["records"], ref["n_ab"], ref["n_ba"])
        assert volume == pytest.approx(ref["volume"], rel=1e-9)
        assert reciprocity == pytest.approx(ref["reciprocity"])
        assert regularity == pytest.approx(ref["regularity"])
        assert common == ref["common_contacts"]
        assert strength == pytest.approx(ref["strength"], rel=1e-9)


def test_service_numbers_are_detected_with_evidence(tmp_path: Path) -> None:
    people = [f"c{i}" for i in range(1200)]
    rows = [("svc", p, "voice", 20.0) for p in people[:600]]  # calls 600, none call back
    rows += [(p, "hotline", "voice", 90.0) for p in people[600:]]  # 600 call in, never called
    rows += [(people[i], people[i + 1], "sms", None) for i in range(1199)]
    rows += [(people[i + 1], people[i], "sms", None) for i in range(1199)]
    # A sociable super-connector: contacts 1,200 people, few both ways, but traffic both ways.
    rows += [("star", p, "voice", 60.0) for p in people[::2]]
    rows += [(p, "star", "voice", 60.0) for p in people[1::2]]
    # A friend who calls a lot but is called back: never a service number.
    rows += [("hub", p, "voice", 60.0) for p in people[:600]]
    rows += [(p, "hub", "voice", 60.0) for p in people[:600:2]]
    frame = pd.DataFrame(rows, columns=["from_id", "to_id", "channel", "duration_s"])
    frame["timestamp"] = pd.Timestamp("2026-01-01")
    config, summary = links_of(tmp_path, frame)
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        service = ws.con.execute(
            "SELECT customer_id, contacts, reason FROM service_numbers ORDER BY customer_id"
        ).fetchall()
        flagged = ws.con.execute("SELECT customer_id FROM nodes WHERE is_service ORDER BY 1")
        flagged_ids = [r[0] for r in flagged.fetchall()]
    assert summary.service_numbers == 2
    assert [s[:2] for s in service] == [("hotline", 600), ("svc", 600)]
    assert (
        "only 0.0% of them ever contact it back; 100% of its records are inbound" in service[0][2]
    )
    assert "100% of its records are outbound; 20 s per record" in service[1][2]
    assert flagged_ids == ["hotline", "svc"]


def communities_nmi(workspace: Path, truth: pd.DataFrame) -> float:
    """NMI of Leiden communities on ln(1 + strength) against the generator's communities."""
    from tiewise.graph.communities import leiden
    from tiewise.graph.network import graph_from_edges
    from tiewise.graph.quality import nmi

    with Workspace.open(workspace, read_only=True) as ws:
        # as the graph stage: fully decayed links (strength 0) are no edges (a node whose links
        # all weigh 0 makes NetworKit's Leiden loop forever)
        links = ws.con.execute("SELECT a, b, strength FROM links WHERE strength > 0").df()
    ids = pd.Index(sorted(set(links["a"]) | set(links["b"])))
    u, v = ids.get_indexer(links["a"]), ids.get_indexer(links["b"])
    graph = graph_from_edges(len(ids), u, v, np.log1p(links["strength"].to_numpy()))
    labels = leiden(graph, resolution=2.0, seed=0).labels_
    known = truth.set_index("id").reindex(ids)
    people = (known["community"].notna() & ~known["is_service"].astype(bool)).to_numpy()
    return nmi(labels[people], known["community"].to_numpy()[people].astype(int))


def test_a_multi_year_log_keeps_its_communities_with_the_chosen_half_life(tmp_path: Path) -> None:
    import datetime

    from tiewise.synth import TelcoParams, generate_telco

    data = tmp_path / "data"
    generate_telco(
        TelcoParams(customers=2000, days=3 * 365, seed=8, start=datetime.date(2022, 3, 1)), data
    )
    truth = pd.read_parquet(data / "truth" / "nodes.parquet")
    scores = {}
    for name, half_life in (("fixed", 30.0), ("chosen", None)):
        config = load_config(
            None,
            workspace=str(tmp_path / name),
            inputs={"interactions": {"path": str(data / "interactions.parquet")}},
            links={"half_life_days": half_life},
        )
        with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="t") as run:
            ingest(run, config, None)
            summary = build_links(run, config)
            chosen = ws.con.execute("SELECT half_life_days FROM link_meta").fetchall()[0][0]
        scores[name] = communities_nmi(config.workspace_path, truth)
        if half_life is None:
            assert chosen >= 3 * 365 - 7  # the whole span: the oldest record counts half
            assert summary.half_life_days == chosen
            assert "chosen from the data: it spans" in summary.half_life_reason
    # a 30-day half-life keeps a few months of three years; the chosen one keeps the structure
    assert scores["chosen"] >= 0.9, scores
    assert scores["chosen"] >= scores["fixed"] + 0.1, scores


def test_replies_and_mentions_join_link_state_as_their_sum_per_pair() -> None:
    """DuckDB matches ``conversation_links`` to ``link_state`` by a full outer join; Spark sums
    their union per pair: the same rows and types, for pairs in both, in either alone."""
    con = duckdb.connect()
    t = "TIMESTAMP '2026-01-05 10:00:00'"
    counts = ", ".join(
        f"{n} AS {c}" for n, c in enumerate(
            ["n_voice_ab", "n_voice_ba", "n_sms_ab", "n_sms_ba", "n_other_ab", "n_other_ba",
             "duplicates", "two_sided", "missed", "n_off_hours"], start=1)
    )  # fmt: skip
    con.execute(
        f"""CREATE TABLE link_state AS
        SELECT x AS a, 'z' AS b, {counts}, 12.5 AS voice_seconds_ab, 3.0 AS voice_seconds_ba,
               CAST(4294967296 * 3 AS HUGEINT) AS weight_fp,
               (CAST(1 AS HUGEINT) << 100) | 5 AS week_mask, {t} AS first_ts,
               {t} + INTERVAL 3 DAY AS last_ts
        FROM (VALUES ('p'), ('q')) v(x)"""
    )
    con.execute(
        f"""CREATE TABLE conversation_links AS
        SELECT x AS a, y AS b, 2 AS n_replies_ab, 0 AS n_replies_ba, 1 AS n_mentions_ab,
               3 AS n_mentions_ba, CAST(4294967296 AS HUGEINT) AS weight_fp,
               (CAST(1 AS HUGEINT) << 120) | 2 AS week_mask, {t} - INTERVAL 9 DAY AS first_ts,
               {t} + INTERVAL 5 DAY AS last_ts, 1 AS n_off_hours
        FROM (VALUES ('p', 'z'), ('r', 's')) v(x, y)"""
    )
    joined = f"SELECT * FROM {link_state_sql(True)} ORDER BY a, b"
    summed = f"SELECT * FROM {link_state_sql(True, spark=True)} ORDER BY a, b"
    rows = con.execute(joined).fetchall()
    assert rows == con.execute(summed).fetchall()
    assert (
        con.execute(f"DESCRIBE {joined}").fetchall() == con.execute(f"DESCRIBE {summed}").fetchall()
    )
    assert [r[:2] for r in rows] == [("p", "z"), ("q", "z"), ("r", "s")]
    both, alone, talk = rows
    assert both[6] == 5 + 2 + 1 and both[7] == 6 + 0 + 3  # n_other: records, replies, mentions
    assert both[15] == (1 << 120) | (1 << 100) | 7  # week masks or-ed
    assert alone[6:8] == (5, 6) and talk[2:6] == (0, 0, 0, 0) and talk[12:14] == (0.0, 0.0)
    assert both[16] < alone[16] and both[17] > alone[17]  # first and last contact of either
