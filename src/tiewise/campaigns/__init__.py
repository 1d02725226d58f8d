"""Campaign target lists with reasons and a held-out control group; responses and uplift.

The Python API behind ``tiewise campaign`` and ``tiewise responses``::

    from tiewise import load_config
    from tiewise.campaigns import campaign, responses
    config = load_config("tiewise.toml")
    listing = campaign(config, "acquisition", size=5000)
    uplift = responses(config, "acquisition", Path("replies.csv"))
"""

from __future__ import annotations

import os
from pathlib import Path

from tiewise.campaigns.files import CampaignFiles, write_campaign_files
from tiewise.campaigns.lists import KINDS
from tiewise.campaigns.stage import CampaignSummary, Uplift, create_campaign, load_responses
from tiewise.config import Config
from tiewise.exceptions import InputError
from tiewise.ingest.pseudonym import load_key
from tiewise.store import Workspace

__all__ = [
    "KINDS",
    "CampaignFiles",
    "CampaignSummary",
    "Uplift",
    "campaign",
    "every_campaign",
    "export_campaign",
    "responses",
]


def campaign(
    config: Config,
    kind: str,
    *,
    name: str | None = None,
    size: int | None = None,
    category: str | None = None,
    command: str = "campaign",
) -> CampaignSummary:
    """Build campaign list ``kind`` in the workspace of ``config`` (one transactional run)."""
    with Workspace.open(config.workspace_path) as ws:
        ws.recover()
        with ws.run(command=command) as run:
            return create_campaign(run, config, kind, name=name, size=size, category=category)


def every_campaign(
    config: Config, *, command: str = "campaigns"
) -> list[tuple[str, CampaignSummary | str]]:
    """Build every kind of list the workspace has the inputs for, in one run.

    Returns each kind with its summary, or with the reason it could not be built (e.g. no
    churn input for the retention list).
    """
    built: list[tuple[str, CampaignSummary | str]] = []
    with Workspace.open(config.workspace_path) as ws:
        ws.recover()
        with ws.run(command=command) as run:
            for kind in KINDS:
                categories: list[str | None] = [None]
                if kind == "crosssell" and run.has_table("seed_sets"):
                    found = run.con.execute(
                        "SELECT DISTINCT category FROM seed_sets ORDER BY category"
                    ).fetchall()
                    categories = [row[0] for row in found] or [None]
                for category in categories:
                    label = f"{kind} {category}" if category else kind
                    try:
                        built.append((label, create_campaign(run, config, kind, category=category)))
                    except InputError as exc:
                        built.append((label, str(exc)))
    return built


def export_campaign(
    config: Config,
    name: str,
    out: Path,
    *,
    control_out: Path | None = None,
    customers: Path | None = None,
    id_column: str = "customer_id",
) -> CampaignFiles:
    """Write campaign ``name``'s targets (and control, apart) to files a CRM can load.

    With ``customers`` (the key holder's customer list), every row carries the list's columns:
    its identifiers are pseudonymised with the workspace key and joined in memory.
    """
    key = None
    if customers is not None and config.privacy.pseudonymise:
        key_file = config.resolve(config.privacy.key_file)
        if not key_file.exists() and not os.environ.get(config.privacy.key_env):
            raise InputError(
                f"--customers needs the key the workspace was pseudonymised with: neither "
                f"{key_file} nor ${config.privacy.key_env} is there."
            )
        key = load_key(key_file, config.privacy.key_env)
    table = f"campaign_{name}"
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        ws.table(table)
        listing = ws.con.execute(f'SELECT * FROM "{table}" ORDER BY rank').df()
    return write_campaign_files(
        listing, out, control_out=control_out, customers=customers, id_column=id_column, key=key
    )


def responses(
    config: Config,
    name: str,
    path: Path,
    *,
    pseudonymised: bool = False,
    id_column: str = "customer_id",
    response_column: str = "responded",
    value_column: str | None = None,
    command: str = "responses",
) -> Uplift:
    """Load the responses to campaign ``name`` and measure its uplift against the control arm.

    Identifiers in the file are raw (the key holder's own), pseudonymised here with the key as at
    ingest, unless ``pseudonymised`` says the file already holds the workspace's pseudonyms (or
    the workspace keeps raw identifiers: ``privacy.pseudonymise = false``).
    """
    hashed = config.privacy.pseudonymise and not pseudonymised
    key = (
        load_key(config.resolve(config.privacy.key_file), config.privacy.key_env)
        if hashed
        else None
    )
    with Workspace.open(config.workspace_path) as ws:
        ws.recover()
        with ws.run(command=command) as run:
            return load_responses(
                run,
                name,
                path,
                key=key,
                id_column=id_column,
                response_column=response_column,
                value_column=value_column,
            )
