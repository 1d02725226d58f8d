"""Ctrl-C and SIGTERM: a command stops at any point, exits 130 or 143, and keeps the workspace.

The command line calls :func:`install` before it imports anything heavy, that is before any
thread exists.  It blocks SIGINT and SIGTERM in every thread (threads inherit the mask) and
receives them in one watchdog thread (``sigwait``), so no library's own handler ever sees them:
NetworKit catches SIGINT during its algorithms and throws a C++ exception from inside OpenMP
regions, which aborts the process.  The watchdog then

* interrupts the main thread (``KeyboardInterrupt`` at its next Python instruction): the run's
  transaction rolls back, the ``runs`` table records the run as interrupted, and the command
  exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), whatever a library made of
  the ``KeyboardInterrupt`` on the way (DuckDB turns it into "Query interrupted");
* when the main thread does not get there within :data:`GRACE` seconds -- it is inside a long
  call into compiled code (NetworKit, numba, a DuckDB operator) -- records the run as
  interrupted on its own connection and ends the process with the same code.  The run's
  transaction is simply never committed: DuckDB keeps the previous results.  (The watchdog runs
  only if that code releases the GIL: NetworKit, DuckDB and tiewise's numba kernels, compiled
  with ``nogil=True``, do; igraph does not, and is seen when it returns.)

A commit in progress finishes first (:func:`committing`), and a run never commits after a
signal.  A second signal ends the process without waiting for the grace period.  Child
processes started with a ``preexec_fn`` (Spark's JVM) get the signals unblocked again.

Code that uses tiewise as a library gets none of this unless it calls :func:`install`; without
it, :meth:`tiewise.store.Workspace.run` still rolls back on ``KeyboardInterrupt``.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any

__all__ = [
    "GRACE",
    "committing",
    "exit_code",
    "finished",
    "install",
    "last_commit",
    "received",
    "stand_down",
    "watch_run",
]

GRACE = 5.0
"""Seconds the main thread has to stop by itself before the watchdog ends the process."""

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    signum: int | None = None  # the first signal received
    committing = False  # the main thread is inside committing()
    last_commit: int | None = None  # the last run this process committed
    run: tuple[Any, int] | None = None  # (a spare connection, run id) of the run in progress
    installed = False
    standing_down = False


_state = _State()
_lock = threading.Lock()  # held while a run commits; the watchdog waits for it
_done = threading.Event()  # the main thread has finished: the watchdog stands down


def received() -> int | None:
    """The signal that asked the command to stop (SIGINT or SIGTERM), or None."""
    return _state.signum


def exit_code() -> int:
    """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM (130 without a signal)."""
    return 128 + int(_state.signum or signal.SIGINT)


def last_commit() -> int | None:
    """The last run this process committed (its results are kept, signal or not), or None."""
    return _state.last_commit


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.signum is None:
        _state.signum = signum
        if not _state.committing:  # a commit in progress finishes; committing() raises after
            raise KeyboardInterrupt(_name(signum))
    # A second signal: the watchdog, woken through the wakeup fd, ends the process now.


def install(grace: float = GRACE) -> None:
    """Handle SIGINT and SIGTERM as described above (main thread, before any other thread)."""
    if _state.installed:
        return
    _state.installed = True
    for signum in _SIGNALS:
        signal.signal(signum, _handler)  # what the main thread runs when the watchdog asks
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    os.register_at_fork(after_in_child=_unblock)
    watchdog = threading.Thread(target=_watch, args=(grace,), name="tiewise-signals", daemon=True)
    watchdog.start()


def _unblock() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def stand_down() -> None:
    """The command handles signals itself from here (the web explorer's server): no watchdog."""
    _state.standing_down = True


def finished() -> None:
    """The main thread has finished its work or its clean-up: the watchdog stands down."""
    _done.set()


@contextmanager
def watch_run(con: Any, run_id: int) -> Iterator[None]:
    """While the block runs, the watchdog can record run ``run_id`` as interrupted.

    ``con`` is a spare connection to the workspace (``cursor()`` of the run's), made before the
    run starts: the run's own connection may be busy in a query when the watchdog needs it.
    """
    _state.run = (con, run_id)
    try:
        yield
    finally:
        _state.run = None


@contextmanager
def committing(run_id: int) -> Iterator[None]:
    """Around a run's commit: never after a signal, never cut short by one.

    Raises ``KeyboardInterrupt`` before the block when a signal has arrived, and after it when
    one arrived during the commit (the run is then committed; the command still stops).
    """
    with _lock:
        if _state.signum is not None:
            raise KeyboardInterrupt(_name(_state.signum))
        _state.committing = True
        try:
            yield
        finally:
            _state.committing = False
        _state.last_commit = run_id
    if _state.signum is not None:
        raise KeyboardInterrupt(_name(_state.signum))


def _watch(grace: float) -> None:
    """The watchdog: receive the signals; ask the main thread to stop; after ``grace``, stop it."""
    while True:
        first = signal.sigwait(_SIGNALS)
        # The main thread runs its handler for the signal (ours, or the web server's) at its
        # next Python instruction.
        _thread.interrupt_main(signal.Signals(first))
        if _state.standing_down or _done.is_set():
            continue
        deadline = time.monotonic() + grace
        while not _done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if signal.sigtimedwait(_SIGNALS, min(left, 0.1)) is not None:
                break  # a second signal: now
        if _done.is_set() or _state.standing_down:
            continue
        _hard_exit(_state.signum or first, grace)


def _hard_exit(signum: int, grace: float) -> None:
    with _lock:  # a commit in progress finishes first
        if _state.signum is None:
            _state.signum = signum
        run = _state.run
        note = "the previous results are kept"
        if run is not None:
            con, run_id = run
            try:
                con.execute(
                    "UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    [
                        datetime.now(UTC).replace(tzinfo=None),
                        f"{_name(signum)} (stopped inside a long computation)",
                        run_id,
                    ],
                )
                note = f"run {run_id} is recorded as interrupted; the previous results are kept"
            except Exception:  # the next command's recover() marks it
                note = "the previous results are kept"
        message = (
            f"Interrupted ({_name(signum)}) inside a long computation: stopped after "
            f"{grace:g} s without committing; {note}.\n"
        )
        try:
            if sys.stderr.isatty():
                sys.stderr.write("\x1b[?25h")  # the progress display hid the cursor
            sys.stderr.write(message)
            sys.stderr.flush()
        finally:
            os._exit(128 + signum)
