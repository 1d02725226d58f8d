"""tiewise.serve: the read-only web explorer (``tiewise serve``).

:func:`create_app` builds the FastAPI application over a workspace; :func:`serve` runs it with
uvicorn.  See :mod:`tiewise.serve.app` for the security model.
"""

from __future__ import annotations

from tiewise.serve.app import ServeSettings, create_app, is_loopback, settings_from_config
from tiewise.serve.explorer import Explorer

__all__ = [
    "Explorer",
    "ServeSettings",
    "create_app",
    "is_loopback",
    "serve",
    "settings_from_config",
]


def serve(settings: ServeSettings) -> None:
    """Run the explorer until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        server_header=False,
        proxy_headers=False,
    )
