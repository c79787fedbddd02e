"""Cells trained side by side, each in a worker process of its own (`fer-keras run --jobs N`).

The parent owns the run folder: it hands out cells, receives each one's result and alone
rebuilds the folder's aggregates (`on_done`). A worker is a fresh interpreter ("spawn": no
TensorFlow state is inherited) that pins its threads before the first op, trains one cell and
ends. Ctrl-C (or a failing cell) stops every worker: each ends within its epoch and keeps its
per-epoch backup, so the same command resumes them.

Light on purpose: TensorFlow is imported only inside the worker.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait

STOP_WAIT_S = 120  # how long a stopped worker may take to end its epoch's step cleanly


@dataclass(frozen=True)
class Task:
    key: object  # the parent's name for it (a cell)
    fn: Callable  # a module-level function, called in the worker as fn(*args)
    args: tuple


class WorkerError(RuntimeError):
    """A worker ended without a result (killed, out of memory, a crash in native code)."""


def interrupt_on_sigterm() -> None:
    """SIGTERM (what `kill`, `timeout`, batch schedulers and the parent send) stops this
    process the way Ctrl-C does: KeyboardInterrupt, so the current cell keeps its backup. (A
    job started in the background of a non-interactive shell ignores SIGINT altogether.)"""
    def interrupt(signum, frame):
        raise Terminated

    signal.signal(signal.SIGTERM, interrupt)


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


def _child(conn, payload: bytes, parent: int) -> None:
    interrupt_on_sigterm()
    try:
        _die_with(parent)
        from .tfprocess import import_tensorflow_quietly

        import_tensorflow_quietly()
        fn, args = pickle.loads(payload)
        message = ("ok", fn(*args))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: already stopping
        message = ("interrupted", None)
    except BaseException as e:  # the parent re-raises it: one error line or a traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            pickle.dumps(e)
        except Exception:
            e = RuntimeError(f"{type(e).__name__}: {e}")
        message = ("error", (e, traceback.format_exc()))
    try:
        conn.send(message)
    finally:
        conn.close()


def _stop(running: dict) -> None:
    """SIGTERM to every worker still running (it stops as on Ctrl-C: interrupt_on_sigterm; its
    backup is kept), then wait; a worker that does not end in time is killed."""
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
    finally:
        _stop(running)
