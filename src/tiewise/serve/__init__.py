"""tiewise.serve: the read-only web explorer (``tiewise serve``).

:func:`create_app` builds the FastAPI application over a workspace; :func:`serve` runs it with
uvicorn.  See :mod:`tiewise.serve.app` for the security model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiewise.serve.app import ServeSettings, create_app, is_loopback, settings_from_config
from tiewise.serve.explorer import Explorer

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "KEEP_ALIVE_SECONDS",
    "Explorer",
    "ServeSettings",
    "create_app",
    "is_loopback",
    "serve",
    "server_config",
    "settings_from_config",
]


KEEP_ALIVE_SECONDS = 120
"""How long an idle kept-alive connection stays open: longer than clients keep one idle (httpx
5 s, Firefox 115 s), so the client gives a connection up before the server closes it.  With
uvicorn's default of 5 s, equal to httpx's, requests sent on a connection the server was closing
were dropped: 48 of 1,000 at 200 in flight (``benchmarks/bench_serve_keepalive.py``, load average
11 on 2 cores), none with 120 s."""


def server_config(settings: ServeSettings, *, log_level: str = "info") -> uvicorn.Config:
    """How uvicorn runs the explorer (``tiewise serve`` and the tests use the same)."""
    import uvicorn

    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def serve(settings: ServeSettings) -> None:
    """Run the explorer until interrupted (Ctrl-C)."""
    import uvicorn

    uvicorn.Server(server_config(settings)).run()
