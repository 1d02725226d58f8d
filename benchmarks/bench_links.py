"""Links made right (issue 18): history kept, both-phone duplicates found, communities per level.

Each part measures against something the code does not define, on data the tests do not use
(other seeds and sizes):

1. **History.** A generated three-year telco log (4,000 customers, seed 21): the NMI between
   Leiden communities on ln(1 + strength) and the generator's planted communities, with a
   half-life of 30 days, one year, and the one chosen from the data.
2. **Duplicates.** A call log where every call is logged by both phones (the callee's clock
   skewed by N(0, 12 s), its durations off by up to 2 s), with missed calls redialled after
   20-60 s: calls counted, copies found and redials wrongly merged, with the defaults
   (30 s skew, 2 s duration tolerance) and with exact matching only (tolerance 0).
3. **Communities.** An LFR graph (20,000 nodes, mu 0.4, NetworKit, seed 3): the ARI of the main
   level (γ = 2) against the planted communities when other levels are asked for too, and for
   every level the modularity of the nested partition and of a direct run.

Saves benchmarks/results/links.json.  Run: ``python benchmarks/bench_links.py``.
"""

from __future__ import annotations

import datetime
import json
import tempfile
from pathlib import Path
from typing import Any

import networkit as nk
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from tiewise.config import load_config
from tiewise.graph.communities import leiden, leiden_levels
from tiewise.graph.network import graph_from_edges
from tiewise.graph.quality import nmi
from tiewise.ingest.load import ingest
from tiewise.links.strength import build_links
from tiewise.store import Workspace
from tiewise.synth import TelcoParams, generate_telco


def workspace(folder: Path, path: Path, **sections: Any) -> Path:
    config = load_config(
        None,
        workspace=str(folder),
        inputs={"interactions": {"path": str(path), **sections.pop("source", {})}},
        **sections,
    )
    with Workspace.open(config.workspace_path, create=True) as ws, ws.run(command="b") as run:
        ingest(run, config, None)
        build_links(run, config)
    return config.workspace_path


def history(tmp: Path) -> dict[str, Any]:
    data = tmp / "long"
    generate_telco(
        TelcoParams(customers=4000, days=3 * 365, seed=21, start=datetime.date(2021, 6, 1)), data
    )
    truth = pd.read_parquet(data / "truth" / "nodes.parquet").set_index("id")
    rows = {}
    for name, half_life in (("30 days", 30.0), ("365 days", 365.0), ("chosen", None)):
        ws_path = workspace(
            tmp / f"h{name}", data / "interactions.parquet", links={"half_life_days": half_life}
        )
        with Workspace.open(ws_path, read_only=True) as ws:
            links = ws.con.execute("SELECT a, b, strength FROM links").df()
            chosen = ws.con.execute("SELECT half_life_days FROM link_meta").fetchall()[0][0]
        ids = pd.Index(sorted(set(links["a"]) | set(links["b"])))
        graph = graph_from_edges(
            len(ids),
            ids.get_indexer(links["a"]),
            ids.get_indexer(links["b"]),
            np.log1p(links["strength"].to_numpy()),
        )
        labels = leiden(graph, resolution=2.0, seed=0).labels_
        known = truth.reindex(ids)
        people = (known["community"].notna() & ~known["is_service"].astype(bool)).to_numpy()
        score = nmi(labels[people], known["community"].to_numpy()[people].astype(int))
        rows[name] = {"half_life_days": chosen, "nmi": round(score, 4)}
        print(f"history: half-life {name:<9} ({chosen:g} days): NMI {score:.3f}")
    return rows


def both_phones(seed: int = 4) -> tuple[pd.DataFrame, int, int]:
    rng = np.random.default_rng(seed)
    rows, calls, copies = [], 0, 0
    start = pd.Timestamp("2025-09-01")
    for i in range(3000):
        caller, callee = (str(x) for x in rng.choice(300, size=2, replace=False) + 1000)
        t = start + pd.Timedelta(seconds=int(rng.integers(0, 86400 * 60)))
        skew = pd.Timedelta(seconds=float(np.clip(rng.normal(0, 12), -29, 29)))
        if i % 4 == 0:  # a missed call, redialled twice 20-60 s later
            gaps = np.cumsum(rng.integers(20, 61, 2))
            attempts = [(t, 0, 0)] + [(t + pd.Timedelta(seconds=int(g)), 0, 0) for g in gaps]
        else:
            d = int(rng.integers(20, 1200))
            attempts = [(t, d, d + int(rng.integers(-2, 3)))]
        for when, d_out, d_in in attempts:
            calls += 1
            rows.append((caller, callee, when, d_out, "out"))
            rows.append((callee, caller, when + skew, d_in, "in"))
            copies += 1
    frame = pd.DataFrame(rows, columns=["party", "other", "ts", "duration_s", "dir"])
    frame["channel"] = "voice"
    return frame.sample(frac=1.0, random_state=seed), calls, copies


def duplicates(tmp: Path) -> dict[str, Any]:
    frame, calls, copies = both_phones()
    path = tmp / "cdr.parquet"
    frame.to_parquet(path)
    columns = {"from_id": "party", "to_id": "other", "timestamp": "ts", "direction": "dir"}
    rows = {}
    for name, tolerance in (("defaults (30 s, 2 s)", 30), ("exact matching only", 0)):
        ws_path = workspace(
            tmp / f"d{tolerance}",
            path,
            source={"columns": columns},
            ingest={"duplicate_tolerance_s": tolerance},
        )
        with Workspace.open(ws_path, read_only=True) as ws:
            kept, dropped = ws.con.execute(
                "SELECT sum(n_voice_ab + n_voice_ba), sum(duplicates) FROM link_state"
            ).fetchall()[0]
        rows[name] = {
            "calls_planted": calls,
            "copies_planted": copies,
            "calls_counted": int(kept),
            "copies_found": int(dropped),
            "calls_lost_by_merging": max(0, calls - int(kept)),
        }
        print(f"duplicates, {name}: {rows[name]}")
    return rows


def communities() -> dict[str, Any]:
    nk.setSeed(3, False)
    generator = nk.generators.LFRGenerator(20_000)
    generator.generatePowerlawDegreeSequence(15, 80, -2.0)
    generator.generatePowerlawCommunitySizeSequence(20, 500, -1.0)
    generator.setMu(0.4)
    generator.run()
    planted = np.asarray(generator.getPartition().getVector())
    edges = np.asarray(list(generator.getGraph().iterEdges()), dtype=np.int64)
    u, v, w = edges[:, 0], edges[:, 1], np.ones(len(edges))
    graph = graph_from_edges(20_000, u, v, w)
    out: dict[str, Any] = {"main_level_ari": {}, "levels": []}
    for others in ([], [4.0], [1.0, 4.0], [0.5, 1.0, 4.0, 8.0, 16.0, 32.0]):
        main = leiden_levels(graph, u, v, w, [2.0, *others], seed=0, compare=False)[0]
        ari = adjusted_rand_score(planted, main.labels_)
        out["main_level_ari"][str([2.0, *others])] = round(ari, 4)
        print(f"communities: main level with levels {[2.0, *others]}: ARI {ari:.3f}")
    resolutions = [2.0, 0.5, 1.0, 4.0, 8.0]
    found = leiden_levels(graph, u, v, w, resolutions, seed=0)
    for resolution, level in zip(resolutions, found, strict=True):
        row = {
            "resolution": resolution,
            "built": level.built,
            "communities": int(level.labels_.max()),
            "modularity": round(level.modularity_, 4),
            "direct_modularity": None
            if level.direct_modularity_ is None
            else round(level.direct_modularity_, 4),
            "ari": round(adjusted_rand_score(planted, level.labels_), 4),
        }
        out["levels"].append(row)
        print(f"communities: {row}")
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "history": history(Path(tmp)),
            "duplicates": duplicates(Path(tmp)),
            "communities": communities(),
        }
    out = Path(__file__).parent / "results" / "links.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
