"""Benchmark of the web explorer: page latency and CSV export throughput on a 100k workspace.

What is measured, in one process, through FastAPI's TestClient (the full application: routing,
token/CSP middleware, queries, templates; no network, no uvicorn):

* latency of each kind of request -- the overview, a customer's page, their network (JSON), a
  community's page, a prefix search -- over ``--samples`` customers drawn with a seed (median,
  95th percentile, max);
* the same questions asked of :class:`tiewise.serve.Explorer` directly (the DuckDB queries
  alone), so ``overhead`` = HTTP + templating + JSON on top of the data;
* CSV export of ``customer_scores`` and ``link_state`` through ``/export/NAME.csv`` (streamed in
  Arrow batches) against DuckDB's own ``COPY (... ORDER BY ALL) TO 'file' (FORMAT CSV)`` on the
  same rows in the same order: the baseline an analyst would otherwise use;
* peak resident memory of the process (``ru_maxrss``) and the load average.

The workspace is ``--workspace`` (default ``demo/workspace``, as ``make demo`` leaves it); when
it is missing, a telco dataset of ``--customers`` is generated into ``--workdir`` and the
pipeline run on it first.

Usage::

    python benchmarks/bench_serve.py
    python benchmarks/bench_serve.py --workspace demo/workspace --samples 50
    python benchmarks/bench_serve.py --workspace build/demo5k/workspace --samples 10 \
        --out benchmarks/results/serve_5k.json

Prints a table and writes ``benchmarks/results/serve.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

from tiewise.config import load_config, template
from tiewise.serve import create_app, settings_from_config
from tiewise.serve.selection import parse_selection

ROOT = Path(__file__).resolve().parents[1]


def _workspace(args: argparse.Namespace) -> Path:
    config = Path(args.workspace).parent / "tiewise.toml"
    if (Path(args.workspace) / "tiewise.duckdb").exists() and config.exists():
        return config
    from tiewise.campaigns import every_campaign
    from tiewise.pipeline import run_pipeline
    from tiewise.synth import TelcoParams, generate_telco

    work = Path(args.workdir)
    config = work / "tiewise.toml"
    if not (work / "workspace" / "tiewise.duckdb").exists():
        print(f"no workspace at {args.workspace}: generating {args.customers:,} customers")
        generate_telco(TelcoParams(customers=args.customers, seed=42), work / "data")
        config.write_text(template(work / "data", config_dir=work), encoding="utf-8")
        cfg = load_config(config, seed=42)
        run_pipeline(cfg)
        for _ in every_campaign(cfg, command="bench_serve: campaigns"):  # as `tiewise demo` does
            pass
    return config


def _time(call: Callable[[], Any], repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def _ok(response: Any, name: str) -> None:
    """A timed request must have answered (a quick error page would time nothing)."""
    assert response.status_code == 200, f"{name}: HTTP {response.status_code} {response.text[:300]}"


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "n": len(ordered),
        "median_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * ordered[max(0, int(0.95 * len(ordered)) - 1)], 2),
        "max_ms": round(1000 * ordered[-1], 2),
    }


_FILTERED_PARAMS = {
    "influence": "devices",
    "min_influence_score": "1",
    "max_p_churn": "0.5",
    "sort": "true_value",
}
_FILTERED = "/customers?" + "&".join(f"{k}={v}" for k, v in _FILTERED_PARAMS.items())
_TOP = "100"  # a true value above which the high-risk selection fits an Excel sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", default=str(ROOT / "demo" / "workspace"))
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "tiewise-bench"))
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve.json"))
    args = parser.parse_args()

    config = load_config(_workspace(args))
    settings = settings_from_config(config, environ={})
    start = time.perf_counter()
    app = create_app(settings, allowed_hosts=["testserver"])
    opened = time.perf_counter() - start
    results: dict[str, Any] = {"workspace": str(settings.workspace), "open_s": round(opened, 3)}
    with TestClient(app) as client:
        ex = app.state.explorer
        people = [
            r["customer_id"]
            for r in ex._records(
                "SELECT customer_id FROM customer_scores WHERE NOT is_service ORDER BY customer_id"
            )
        ]
        rng = random.Random(args.seed)
        sample = rng.sample(people, args.samples)
        (biggest,) = [
            r["community"]
            for r in ex._records("SELECT community FROM communities ORDER BY size DESC LIMIT 1")
        ]
        (hub,) = [
            r["customer_id"]
            for r in ex._records(
                "SELECT customer_id FROM customer_scores WHERE NOT is_service "
                "ORDER BY contacts DESC, customer_id LIMIT 1"
            )
        ]
        results["parties"] = len(people)
        results["links"] = ex._records("SELECT count(*) AS n FROM link_state")[0]["n"]
        client.get("/")  # warm up the caches (registry, counts) once
        cases: dict[str, tuple[Callable[[str], Any], Callable[[str], Any]]] = {
            "overview": (lambda _: client.get("/"), lambda _: (ex.overview(), ex.charts())),
            "customer page": (
                lambda c: client.get(f"/customer/{c}"),
                lambda c: (ex.profile(c), ex.related(c)),
            ),
            "network (JSON, 60 contacts)": (
                lambda c: client.get(f"/api/network/{c}"),
                lambda c: ex.ego_network(c, limit=60),
            ),
            "network (JSON, the customer with the most contacts)": (
                lambda _: client.get(f"/api/network/{hub}"),
                lambda _: ex.ego_network(hub, limit=60),
            ),
            "community page (largest)": (
                lambda _: client.get(f"/community/{biggest}"),
                lambda _: ex.community(biggest),
            ),
            "customer list (first page)": (
                lambda _: client.get("/customers"),
                lambda _: ex.customer_list(parse_selection({})),
            ),
            "customer list (page 200, by churn risk)": (
                lambda _: client.get("/customers?sort=p_churn&page_number=200"),
                lambda _: ex.customer_list(parse_selection({"sort": "p_churn"}), page=200),
            ),
            "customer list (segment + risk band)": (
                lambda _: client.get("/customers?segment=Ambassador&churn_band=high"),
                lambda _: ex.customer_list(
                    parse_selection({"segment": "Ambassador", "churn_band": "high"})
                ),
            ),
            "download selection (CSV, Ambassadors)": (
                lambda _: client.get("/customers.csv?segment=Ambassador"),
                lambda _: ex.selection_table(parse_selection({"segment": "Ambassador"})),
            ),
            "customer list (influencers in devices)": (
                lambda _: client.get("/customers?influence=devices"),
                lambda _: ex.customer_list(parse_selection({"influence": "devices"})),
            ),
            "customer list (influence + 2 ranges, by value)": (
                lambda _: client.get(_FILTERED),
                lambda _: ex.customer_list(parse_selection(_FILTERED_PARAMS)),
            ),
            "download selection (Parquet, Ambassadors)": (
                lambda _: client.get("/customers.parquet?segment=Ambassador"),
                lambda _: ex.selection_table(parse_selection({"segment": "Ambassador"})),
            ),
            "download selection (Excel, high risk)": (
                lambda _: client.get("/customers.xlsx?churn_band=high&min_true_value=" + _TOP),
                lambda _: ex.selection_table(
                    parse_selection({"churn_band": "high", "min_true_value": _TOP})
                ),
            ),
            "communities page": (
                lambda _: client.get("/communities"),
                lambda _: ex.communities(),
            ),
            "tables page": (lambda _: client.get("/tables"), lambda _: ex.tables()),
            "community drawing (JSON, largest)": (
                lambda _: client.get(f"/api/community/{biggest}"),
                lambda _: ex.community_graph(biggest),
            ),
            "search (3-character prefix)": (
                lambda c: client.post("/search", data={"q": c[:3], "kind": "pseudonym"}),
                lambda c: ex.search(c[:3]),
            ),
        }
        lists = [
            t.name.removeprefix("campaign_") for t in ex.lists() if t.name != "retention_priority"
        ]
        if lists:
            name = "retention" if "retention" in lists else lists[0]
            cases[f"campaign page ({name})"] = (
                lambda _, n=name: client.get(f"/campaign/{n}"),
                lambda _, n=name: ex.campaign(n),
            )
        else:
            print("no campaign lists in this workspace (`tiewise campaign ...`): page not measured")
        latency: dict[str, Any] = {}
        for name, (http, direct) in cases.items():
            web = [t for c in sample for t in _time(lambda c=c, f=http, n=name: _ok(f(c), n))]
            data = [t for c in sample for t in _time(lambda c=c, f=direct: f(c))]
            latency[name] = {
                "http": _summary(web),
                "explorer_only": _summary(data),
                "overhead_ms": round(1000 * (statistics.median(web) - statistics.median(data)), 2),
            }
        results["latency"] = latency

        export: dict[str, Any] = {}
        with tempfile.TemporaryDirectory() as tmp:
            db = duckdb.connect(str(settings.workspace / "tiewise.duckdb"), read_only=True)
            for table in ("customer_scores", "link_state"):
                size = 0

                def fetch(table: str = table) -> None:
                    nonlocal size
                    response = client.get(f"/export/{table}.csv")
                    assert response.status_code == 200
                    size = len(response.content)

                web = min(_time(fetch, 2))
                target = Path(tmp) / f"{table}.csv"
                sql = f"COPY (SELECT * FROM {table} ORDER BY ALL) TO '{target}' (FORMAT CSV)"
                base = min(_time(lambda sql=sql: db.execute(sql), 2))
                rows = db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                export[table] = {
                    "rows": rows,
                    "bytes": size,
                    "explorer_s": round(web, 3),
                    "duckdb_copy_s": round(base, 3),
                    "explorer_mb_per_s": round(size / web / 1e6, 1),
                    "ratio_copy_over_explorer": round(base / web, 3),
                }
            db.close()
        results["export"] = export
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["load_average"] = list(os.getloadavg())
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}

    print(f"workspace {results['workspace']}: {results['parties']:,} parties, "
          f"{results['links']:,} links; opened in {opened:.2f} s")  # fmt: skip
    print(f"{'request':32s} {'median':>9s} {'p95':>9s} {'max':>9s} {'data only':>10s}")
    for name, row in latency.items():
        h = row["http"]
        print(f"{name:32s} {h['median_ms']:7.1f}ms {h['p95_ms']:7.1f}ms {h['max_ms']:7.1f}ms "
              f"{row['explorer_only']['median_ms']:8.1f}ms")  # fmt: skip
    for table, row in export.items():
        print(f"export {table}: {row['rows']:,} rows, {row['bytes'] / 1e6:.1f} MB in "
              f"{row['explorer_s']:.2f} s ({row['explorer_mb_per_s']} MB/s); DuckDB COPY "
              f"{row['duckdb_copy_s']:.2f} s")  # fmt: skip
    print(f"peak RSS {results['peak_rss_mb']} MB; load average {results['load_average']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
