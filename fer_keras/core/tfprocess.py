"""What a process sets up before TensorFlow runs: a quiet import and the threads it trains with.

Light on purpose (TensorFlow is imported only inside the functions), so the command line and
worker processes can call it first.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up log lines (oneDNN and CUDA notices, which
    TF_CPP_MIN_LOG_LEVEL does not silence) held back, so they never stand before our own
    messages; shown if the import fails. The run's manifest records the devices used."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, io.UnsupportedOperation):  # stderr is not a file (captured)
        import tensorflow  # noqa: F401
        return
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), fd)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        except Exception:  # a failed import: its notices say why (a stop, Ctrl-C or SIGTERM
            os.dup2(saved, fd)  # during the import, is no failure: they stay held back)
            held.seek(0)
            sys.stderr.buffer.write(held.read())
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)


def pin_threads(n: int) -> bool:
    """Make this process's TensorFlow use `n` intra-op and `n` inter-op threads; True when it
    does. TensorFlow fixes both when its runtime starts (the first op), so this works only
    before that, or when they were pinned to `n` already; False means the process runs with
    other threads and must not train a cell that asks for `n` (the runner then trains it in a
    worker process of its own)."""
    import_tensorflow_quietly()
    import tensorflow as tf

    threading = tf.config.threading
    for get, put in ((threading.get_intra_op_parallelism_threads,
                      threading.set_intra_op_parallelism_threads),
                     (threading.get_inter_op_parallelism_threads,
                      threading.set_inter_op_parallelism_threads)):
        if get() != n:
            try:
                put(n)
            except RuntimeError:  # the runtime has started with other threads
                return False
    return True


def threads_in_effect() -> dict:
    """This process's pinned threads as the manifest records them (0: TensorFlow's default,
    one per core)."""
    import tensorflow as tf

    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
