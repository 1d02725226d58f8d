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
    "Explorer",
    "ServeSettings",
    "create_app",
    "is_loopback",
    "serve",
    "server_config",
    "settings_from_config",
]


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
    )


def serve(settings: ServeSettings) -> None:
    """Run the explorer until interrupted (Ctrl-C)."""
    import uvicorn

    uvicorn.Server(server_config(settings)).run()
