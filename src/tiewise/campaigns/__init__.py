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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tiewise.campaigns.files import CampaignFiles, file_format, write_campaign_files, write_frame
from tiewise.campaigns.lists import KINDS
from tiewise.campaigns.stage import CampaignSummary, Uplift, create_campaign, load_responses
from tiewise.config import Config
from tiewise.exceptions import InputError, NotRunError
from tiewise.ingest.pseudonym import load_key
from tiewise.store import Workspace, export_format

__all__ = [
    "KINDS",
    "CampaignFiles",
    "CampaignSummary",
    "ExportedTable",
    "Uplift",
    "campaign",
    "campaign_list",
    "every_campaign",
    "export_campaign",
    "export_table",
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
                    except (InputError, NotRunError) as exc:
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
    listing = campaign_list(config, name)
    return write_campaign_files(
        listing, out, control_out=control_out, customers=customers, id_column=id_column, key=key
    )


def campaign_list(config: Config, name: str, *, limit: int | None = None) -> pd.DataFrame:
    """Campaign ``name``'s list, both arms, in rank order (the first ``limit`` rows if given).

    Raises
    ------
    WorkspaceError
        There is no list ``name`` (no table ``campaign_<name>``).
    """
    table = f"campaign_{name}"
    with Workspace.open(config.workspace_path, read_only=True) as ws:
        rows = ws.table(table).order("rank")
        return (rows if limit is None else rows.limit(limit)).df()


@dataclass(frozen=True)
class ExportedTable:
    """What :func:`export_table` wrote."""

    path: Path
    control_left_out: bool  # a campaign list's control arm was left out (not to be contacted)


def export_table(
    workspace: Path,
    table: str,
    out: Path,
    *,
    fmt: str | None = None,
    include_control: bool = False,
) -> ExportedTable:
    """Write a workspace table to CSV, Parquet or Excel: the Python API of ``tiewise export``.

    A campaign list (``campaign_<name>`` with an ``arm`` column) is written without its control
    arm -- customers who must not be contacted -- unless ``include_control``; ranked tables are
    written in rank order.  The format is ``fmt`` (csv, parquet, xlsx), else the suffix's.

    Raises
    ------
    InputError
        Unknown format or suffix, or ``out`` is a folder.
    WorkspaceError
        No workspace, or no table ``table`` in it.
    """
    if fmt is None:
        file_format(out, "export file")  # an unknown suffix: the message names every format
    xlsx = fmt == "xlsx" or (fmt is None and out.name.lower().endswith(".xlsx"))
    chosen = "xlsx" if xlsx else export_format(out, fmt)
    with Workspace.open(workspace, read_only=True) as ws:
        rows = ws.table(table)  # a clear error when missing
        arms = table.startswith("campaign_") and "arm" in rows.columns
        drop_control = arms and not include_control
        if chosen == "xlsx" or drop_control:
            if drop_control:
                rows = rows.filter("arm = 'target'")
            if "rank" in rows.columns:
                rows = rows.order("rank")
            frame = rows.df()
            if drop_control:
                frame = frame.drop(columns=["arm"])
            written = write_frame(frame, out, chosen)
        else:
            written = ws.export(table, out, fmt=chosen)
    return ExportedTable(written, control_left_out=drop_control)


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
