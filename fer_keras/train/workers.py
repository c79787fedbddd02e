"""Cells trained side by side, each in a worker process of its own (`fer-keras run --jobs N`).

The parent owns the run folder: it hands out cells, receives each one's result and alone
rebuilds the folder's aggregates (`on_done`). A worker is a fresh interpreter ("spawn": no
TensorFlow state is inherited) that pins its threads before the first op, trains one cell and
ends. Ctrl-C (or a failing cell) stops every worker: each ends within its epoch and keeps its
per-epoch backup, so the same command resumes them.

Light on purpose: TensorFlow is imported only inside the worker.
"""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import pickle
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait

STOP_WAIT_S = 120  # how long a stopped worker may take to end its epoch's step cleanly
CTRL_C_GRACE_S = 10  # how long workers may take to stop on a Ctrl-C of their own (_stop)


@dataclass(frozen=True)
class Task:
    key: object  # the parent's name for it (a cell)
    fn: Callable  # a module-level function, called in the worker as fn(*args)
    args: tuple


class WorkerError(RuntimeError):
    """A worker ended without a result (killed, out of memory, a crash in native code)."""


_STOPS: list[type[KeyboardInterrupt]] = []  # the stop signals this process received, in order
_DEFERRED: list[bool] = []  # non-empty inside stops_between_batches()


def interrupt_on_sigterm() -> None:
    """SIGTERM (what `kill`, `timeout`, batch schedulers and the parent send) stops this
    process the way Ctrl-C does: KeyboardInterrupt, so the current cell keeps its backup. (A
    job started in the background of a non-interactive shell ignores SIGINT altogether.)
    Both handlers note the stop; inside stops_between_batches() they only note it."""
    _STOPS.clear()

    def interrupt(signum, frame):
        _note_stop(Terminated)

    def ctrl_c(signum, frame):
        _note_stop(KeyboardInterrupt)

    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # never one ignored
        signal.signal(signal.SIGINT, ctrl_c)


def _note_stop(kind: type[KeyboardInterrupt]) -> None:
    _STOPS.append(kind)
    if not _DEFERRED:
        raise kind


@contextmanager
def stops_between_batches():
    """Within (a Keras fit whose callbacks call raise_if_stopped between batches): Ctrl-C and
    SIGTERM are noted, not raised where the handler happens to run. Raised there, inside
    TensorFlow's native code calling back into Python (nest.flatten importing a module), the
    KeyboardInterrupt became a SystemError that TensorFlow printed and dropped: the worker
    trained on until it was killed, and a traceback broke the one-line stop (seen in CI)."""
    _DEFERRED.append(True)
    try:
        yield
    finally:
        _DEFERRED.pop()


def raise_if_stopped() -> None:
    """Raise a noted stop here, where Python code runs on its own (between batches); once."""
    if _STOPS:
        stop = _STOPS[0]
        _STOPS.clear()
        raise stop


class Terminated(KeyboardInterrupt):
    """Stopped by SIGTERM rather than Ctrl-C."""


def _die_with(parent: int) -> None:
    """SIGTERM to this worker when its parent dies (Linux prctl PR_SET_PDEATHSIG), so a killed
    run leaves no worker training on alone; it stops as on Ctrl-C, keeping its backup."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent's own stop (_stop) is what ends workers
    if os.getppid() != parent:  # the parent died before the line above
        raise Terminated


WRITE_FAILED = ("file write failed", "No space left on device", "errno = 28")


def quiet_failed_writes() -> None:
    """Drop the tracebacks HDF5 objects print while they are freed after a write failed (a
    full disk): the one error line already says it. Any other still shows."""
    default, default_except = sys.unraisablehook, sys.excepthook

    def hook(unraisable):
        if not any(w in str(unraisable.exc_value) for w in WRITE_FAILED):
            default(unraisable)

    def excepthook(kind, value, tb):  # Cython's clean-up prints its traceback through this
        if not any(w in str(value) for w in WRITE_FAILED):
            default_except(kind, value, tb)

    sys.unraisablehook, sys.excepthook = hook, excepthook


def os_error_line(e: OSError, output: str | os.PathLike | None = None,
                  resumable: bool = True) -> str:
    """One line for an OSError (HDF5's own messages span several lines and name the file
    inside the text): the path (else the command's `output`, where it was writing), what went
    wrong, what was expected; for a command that trains (`resumable`), that what finished is
    kept."""
    text = str(e)
    found = re.search(r"filename = '([^']+)'", text)
    where = e.filename or (found[1] if found else None) or \
        (f"writing under {os.fspath(output)}" if output else "a file of this command")
    if e.errno == errno.ENOSPC or any(w in text for w in WRITE_FAILED[1:]):
        return (f"{where}: no space left on the device; expected free space for the outputs"
                + (" (finished cells and epochs are kept: the same command resumes)"
                   if resumable else " (nothing was replaced: run it again once there is room)"))
    reason = (e.strerror or text).splitlines()[0].strip()
    return f"{where}: {reason}; expected a readable input or a writable output path"


def _child(conn, payload: bytes, parent: int) -> None:
    interrupt_on_sigterm()
    quiet_failed_writes()
    try:
        message = _outcome(payload, parent)
    except KeyboardInterrupt:  # a stop in the instant between a failure and its handler
        message = ("interrupted", None)
    try:
        conn.send(message)
    finally:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # no interpreter clean-up: HDF5's crashes after a failed write


def _outcome(payload: bytes, parent: int) -> tuple[str, object]:
    """The task's result, or how it ended: ("ok", result), ("interrupted", None) or ("error",
    (exception, traceback text)). Once it has ended, a stop is ignored: the parent stops every
    worker when one fails, and two workers filling one disk fail at once; its SIGTERM, raised
    inside the second one's handler (formatting its traceback), escaped as a traceback of
    multiprocessing's own and broke the one error line (seen in CI, test_faults)."""
    try:
        _die_with(parent)
        from ..core.tfprocess import import_tensorflow_quietly

        import_tensorflow_quietly()
        fn, args = pickle.loads(payload)
        return "ok", fn(*args)
    except KeyboardInterrupt:
        _ignore_stops()  # a second Ctrl-C, or the parent's SIGTERM: already stopping
        return "interrupted", None
    except BaseException as e:  # the parent re-raises it: one error line or a traceback
        _ignore_stops()
        try:
            pickle.dumps(e)
        except Exception:
            e = RuntimeError(f"{type(e).__name__}: {e}")
        return "error", (e, traceback.format_exc())


def _ignore_stops() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop(running: dict, ctrl_c: bool = False) -> None:
    """SIGTERM to every worker still running (it stops as on Ctrl-C: interrupt_on_sigterm; its
    backup is kept), then wait; a worker that does not end in time is killed. After a Ctrl-C
    the workers first get CTRL_C_GRACE_S to end by themselves: a terminal sends it to every
    process of the group, and a second signal would interrupt a worker's clean-up."""
    deadline = time.monotonic() + (CTRL_C_GRACE_S if ctrl_c else 0)
    for _, proc in running.values():
        proc.join(max(0.0, deadline - time.monotonic()))
    for _, proc in running.values():
        if proc.is_alive():
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except OSError:
                pass
    for _, proc in running.values():
        proc.join(STOP_WAIT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()


def run_tasks(tasks: list[Task], jobs: int, on_done: Callable[[object, object], None]) -> None:
    """Run every task, up to `jobs` at once, each in a new worker process; call on_done(key,
    result) in this process as each finishes, in the order they finish. The first failure stops
    the others and is raised here; Ctrl-C stops them and raises KeyboardInterrupt."""
    ctx = mp.get_context("spawn")
    pending, running = list(tasks), {}
    ctrl_c = False
    try:
        while pending or running:
            while pending and len(running) < jobs:
                task = pending.pop(0)
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, daemon=True, args=(
                    send, pickle.dumps((task.fn, task.args)), os.getpid()))
                proc.start()
                send.close()
                running[receive] = (task, proc)
            for conn in wait(list(running)):
                task, proc = running.pop(conn)
                try:
                    status, value = conn.recv()
                except EOFError:
                    status, value = "died", None
                conn.close()
                proc.join()
                if status == "ok":
                    on_done(task.key, value)
                elif status == "interrupted":
                    raise KeyboardInterrupt
                elif status == "error":
                    error, _ = value
                    raise error
                else:
                    raise WorkerError(f"{task.key}: its worker process ended without a result "
                                      f"(exit code {proc.exitcode}); its last finished epoch "
                                      "is kept: run the same command again to resume it")
    except KeyboardInterrupt as stopped:
        ctrl_c = not isinstance(stopped, Terminated)  # SIGTERM came to this process alone
        raise
    finally:
        _stop(running, ctrl_c)
