"""`fer-keras`: the command line, a thin layer over the wings. Each wing's commands are one
module here (use.py, train.py, reports.py, data.py), each command a parser and a function
that checks the user's input and calls the wing; this module builds the parser and turns
every failure into one line.

Bad input ends with one line `error: ...` naming the file/row and what was expected, exit 2;
Ctrl-C with one line saying how to resume, exit 130. Never a traceback for either.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

from ..core.errors import FerKerasError  # noqa: E402  (light: no TensorFlow)
from ..train.workers import (  # noqa: E402
    Terminated,
    interrupt_on_sigterm,
    os_error_line,
    quiet_failed_writes,
)
from . import data, reports, train, use  # noqa: E402
from .common import EXAMPLES, Formatter, UsageError, commands  # noqa: E402,F401

INTERRUPTED = ("interrupted: nothing finished was lost; re-running the same command resumes "
               "from the last finished epoch")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fer-keras")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fer-keras", description="Reproduce published facial-"
                                "emotion-recognition papers on FER-2013, read their reports, "
                                "and use their models on your own images.",
                                formatter_class=Formatter,
                                epilog="examples:\n  " + "\n  ".join(
                                    EXAMPLES[k] for k in ("predict", "run", "report")))
    p.add_argument("--version", action="version", version=f"fer-keras {_version()}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    command = commands(sub)
    for wing in (use, train, reports, data):  # the order of `fer-keras --help`
        wing.add(command)
    return p


TRAINING_COMMANDS = ("run", "study", "reproduce", "blur-check")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may stand before or after the options of `run`
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.cmd not in ("run", "study", "noise-gain") or any(x.startswith("-")
                                                                 for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        bare = next((x for x in extra if "=" not in x), None)
        if bare is not None:  # what the config layer says of the same mistake before options
            print(f"error: {bare!r}: overrides are written key=value (e.g. seeds=0,1)",
                  file=sys.stderr)
            return 2
        args.overrides = [*args.overrides, *extra]
    interrupt_on_sigterm()
    quiet_failed_writes()
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe is found here, inside the try, not at exit
        return status
    except FerKerasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `fer-keras models | head -1`: the reader took what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # 128 + SIGPIPE, as a tool the pipe ended would
    except OSError as e:  # a path the system refused (permissions, a full disk, ...)
        output = getattr(args, "out", None) or getattr(args, "reports", None)
        print(f"error: {os_error_line(e, output, args.cmd in TRAINING_COMMANDS)}",
              file=sys.stderr)
        if argv is None:  # the command itself, not a caller in Python
            # HDF5 crashes the interpreter's clean-up of a file it could not write (a full
            # disk): end here, after the one line (finished cells and epochs are on disk)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(2)
        return 2
    except KeyboardInterrupt as e:
        print(INTERRUPTED, file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
