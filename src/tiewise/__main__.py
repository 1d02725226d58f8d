"""``tiewise`` and ``python -m tiewise``: signals are handled before anything heavy is imported.

Importing the command line takes a few tenths of a second (Typer, Rich; the stages load when a
command runs); a SIGTERM in that time must still end the command with exit code 143, not kill
it with no word.
"""

from __future__ import annotations

import os
import sys

from tiewise import interrupts


def entry() -> None:
    """Console-script entry point (``tiewise``)."""
    interrupts.install()
    try:
        from tiewise.cli import entry as run
    except KeyboardInterrupt:
        interrupts.finished()
        sys.stderr.write("Interrupted while starting: nothing was done.\n")
        sys.stderr.flush()
        os._exit(interrupts.exit_code())
    run()


if __name__ == "__main__":
    entry()
