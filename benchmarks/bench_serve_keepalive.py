"""Benchmark: does the explorer drop requests sent on kept-alive connections?

Reported (issue #21): 2-7 requests in 1,000 failed under concurrency when the client kept
connections alive, so the concurrency test turned keep-alive off.  The suspected cause: uvicorn
closes an idle connection after ``timeout_keep_alive`` (its default 5 s), the same time httpx
keeps one idle (``keepalive_expiry`` 5 s), so a request can go out on a connection the server is
closing.  Two scenarios, each against the server with uvicorn's default (5 s) and with tiewise's
setting (:data:`tiewise.serve.KEEP_ALIVE_SECONDS`), through a real uvicorn on loopback (as
``tiewise serve`` runs it, in a thread) and an httpx client with its default keep-alive:

* ``idle``: one connection reused after an idle gap at the client's expiry (5 s minus 1-40 ms),
  ``--idle`` times: the race's textbook case (it did not trigger here: 0 of 20 either way);
* ``burst``: ``--requests`` requests over the explorer's pages, ``--concurrency`` in flight at
  once, as the concurrency test sends them but with keep-alive on: 48 of 1,000 failed with 5 s
  (ReadError, RemoteProtocolError; load average 11 on 2 cores), none with tiewise's 120 s.

Usage::

    python benchmarks/bench_serve_keepalive.py
    python benchmarks/bench_serve_keepalive.py --requests 1000 --idle 20

The workspace is generated (``--customers`` telco customers) into a temporary folder.  Prints a
table and writes ``benchmarks/results/serve_keepalive.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import socket
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
import uvicorn

from tiewise.config import load_config, template
from tiewise.pipeline import run_pipeline
from tiewise.serve import KEEP_ALIVE_SECONDS, server_config, settings_from_config
from tiewise.synth import TelcoParams, generate_telco

ROOT = Path(__file__).resolve().parents[1]
CLIENT_EXPIRY = 5.0  # httpx's default keepalive_expiry
PATHS = ["/", "/api/overview", "/communities", "/tables", "/customers", "/api/tables"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The explorer in a thread with a given keep-alive timeout."""

    def __init__(self, settings: Any, keep_alive: float) -> None:
        port = _free_port()
        config = server_config(replace(settings, port=port), log_level="error")
        config.timeout_keep_alive = int(keep_alive)
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> str:
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self.url

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def idle(url: str, times: int) -> collections.Counter[str]:
    """Reuse one connection after idling just under the client's expiry, ``times`` times."""
    outcomes: collections.Counter[str] = collections.Counter()
    with httpx.Client(base_url=url, timeout=60) as client:
        for k in range(times):
            client.get("/api/tables")
            time.sleep(CLIENT_EXPIRY - 0.001 - 0.039 * k / max(1, times - 1))
            try:
                outcomes[str(client.get("/api/tables").status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
    return outcomes


async def _burst(url: str, requests: int, concurrency: int) -> collections.Counter[str]:
    outcomes: collections.Counter[str] = collections.Counter()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)  # keep-alive on, httpx's defaults
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one(k: int) -> None:
            async with gate:
                try:
                    response = await client.get(PATHS[k % len(PATHS)])
                except httpx.HTTPError as exc:
                    outcomes[type(exc).__name__] += 1
                    return
            outcomes[str(response.status_code)] += 1

        await asyncio.gather(*(one(k) for k in range(requests)))
    return outcomes


def main() -> None:
    """Build a small workspace, run both scenarios against both settings, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--idle", type=int, default=20, help="Idle reuses per setting.")
    out = ROOT / "benchmarks/results/serve_keepalive.json"
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_telco(TelcoParams(customers=args.customers, seed=3), root / "data")
        path = root / "tiewise.toml"
        path.write_text(template(root / "data", config_dir=root), encoding="utf-8")
        config = load_config(path)
        run_pipeline(config)
        settings = settings_from_config(config, environ={})
        results: dict[str, Any] = {}
        for label, keep_alive in (("uvicorn default 5 s", 5), ("tiewise", KEEP_ALIVE_SECONDS)):
            with Server(settings, keep_alive) as url:
                started = time.perf_counter()
                burst = asyncio.run(_burst(url, args.requests, args.concurrency))
                burst_s = time.perf_counter() - started
                reused = idle(url, args.idle)
            results[label] = {
                "keep_alive_s": keep_alive,
                "burst": dict(burst),
                "burst_failed": sum(v for k, v in burst.items() if not k.isdigit()),
                "burst_seconds": burst_s,
                "idle": dict(reused),
                "idle_failed": sum(v for k, v in reused.items() if not k.isdigit()),
            }
            r = results[label]
            print(
                f"{label:22} burst {args.requests} at {args.concurrency}: "
                f"{r['burst_failed']} failed {dict(burst)} in {burst_s:.1f} s; "
                f"idle reuse x{args.idle}: {r['idle_failed']} failed {dict(reused)}",
                flush=True,
            )
    report = {
        "benchmark": "serve_keepalive",
        "customers": args.customers,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "client_keepalive_expiry_s": CLIENT_EXPIRY,
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
