"""tiewise: customer link analytics.

Turns customers' interaction logs into a weighted social network, finds its communities and the
customers who lead them, and hands marketing ranked target lists with reasons.

The Python API::

    import tiewise
    config = tiewise.load_config("tiewise.toml")
    result = tiewise.run_pipeline(config)
    with tiewise.Workspace.open(config.workspace_path, read_only=True) as ws:
        leaders = ws.table("customer_scores").filter("is_leader").df()
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Config", "Workspace", "load_config", "run_pipeline", "run_value"]

_LAZY = {
    "Config": "tiewise.config",
    "load_config": "tiewise.config",
    "Workspace": "tiewise.store",
    "run_pipeline": "tiewise.pipeline",
    "run_value": "tiewise.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import the public API lazily, so ``tiewise --help`` and the generator start quickly."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tiewise' has no attribute {name!r}")
