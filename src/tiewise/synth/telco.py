"""The telecom operator generator: :func:`generate_telco`.

See :mod:`tiewise.synth.world` for the model and :mod:`tiewise.synth.telco_tables` for the
files written.
"""

from __future__ import annotations

from pathlib import Path

from tiewise.exceptions import InputError
from tiewise.synth import telco_tables as tables
from tiewise.synth.params import SynthResult, TelcoParams
from tiewise.synth.world import Progress, build_world
from tiewise.synth.writer import Format

__all__ = ["generate_telco", "prepare_dir", "quiet"]


def generate_telco(
    params: TelcoParams,
    out: Path,
    *,
    fmt: Format = "parquet",
    progress: Progress | None = None,
) -> SynthResult:
    """Generate a telecom operator's data set with hidden ground truth.

    Parameters
    ----------
    params
        Model parameters (see :class:`TelcoParams`).
    out
        Output directory (created if missing; existing files of the same names are replaced).
    fmt
        Format of the data files: ``"parquet"`` or ``"csv"``.  Truth files are always Parquet.
    progress
        Optional callback ``progress(step_name, fraction)`` called at each major step.

    Returns
    -------
    SynthResult
        Paths of the written files and their row counts.

    Raises
    ------
    InputError
        If the parameters, the format or the output directory are unusable.
    """
    if not isinstance(params, TelcoParams):
        raise InputError(f"params must be a TelcoParams, got {type(params).__name__}")
    if fmt not in ("parquet", "csv"):
        raise InputError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out = prepare_dir(out)
    report: Progress = progress if progress is not None else quiet
    world = build_world(params, report)
    report("writing", 0.7)
    result = SynthResult(out=out)
    tables.write_data(world, out, fmt, result)
    report("truth", 0.9)
    tables.write_truth(world, out / "truth", result)
    report("done", 1.0)
    return result


def quiet(step: str, fraction: float) -> None:
    """Progress callback that ignores progress."""
    del step, fraction


def prepare_dir(out: Path | str) -> Path:
    """Create ``out`` and ``out/truth`` and return ``out`` as a path.

    Raises
    ------
    InputError
        If the directory cannot be created.
    """
    try:
        path = Path(out)
        (path / "truth").mkdir(parents=True, exist_ok=True)
    except (OSError, TypeError) as exc:
        raise InputError(f"out must be a writable directory path, got {out!r} ({exc})") from exc
    return path
