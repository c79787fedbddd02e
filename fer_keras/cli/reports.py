"""`fer-keras report, index`: the reports wing's commands (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

from ..core.paths import output_folder
from .common import UsageError


def cmd_report(args) -> int:
    from ..reports import build_report

    reference = Path(args.reference) if args.reference else None
    if reference is not None and not reference.is_dir():
        raise UsageError(f"{reference}: no such run folder (given as --reference)")
    index = build_report(Path(args.runs), output_folder(args.out, "the report"), reference,
                         args.overwrite)
    print(f"report: {index}")
    return 0


def cmd_index(args) -> int:
    from ..reports import build_index
    from ..reports.markdown import update_docs

    if not Path(args.reports).is_dir():  # a mistyped path would become an empty scoreboard
        raise UsageError(f"{args.reports}: no such folder; expected the reports folder "
                         "(one folder per report, e.g. reports)")
    reports = output_folder(args.reports, "the index")
    print(f"index: {build_index(reports)}")
    docs = Path(args.docs) if args.docs else Path(reports).resolve().parent
    if args.docs and not (docs / "README.md").is_file():
        raise UsageError(f"{docs}: no README.md; expected the project's root (--docs)")
    if (docs / "docs" / "papers").is_dir():  # the project's own reports: its docs follow
        for path in update_docs(docs, reports):
            print(f"regenerated: {path}")
    return 0


def add(command) -> None:
    """This wing's commands on the `fer-keras` parser."""
    rep = command("report", help="HTML + PNG report from a run folder (writes only "
                         "inside --out)")
    rep.add_argument("runs", help="runs/<experiment>, or a study folder (fer-keras study)")
    rep.add_argument("--out", required=True, help="reports/<experiment>")
    rep.add_argument("--reference", help="for a study: the run folder of the paper's printed "
                     "protocol, shown beside the best setting (e.g. reports/ozer/runs)")
    rep.add_argument("--overwrite", action="store_true", help="replace files in --out that "
                     "no report wrote (never through a link, never a folder)")
    rep.set_defaults(handler=cmd_report)

    ix = command("index", help="reports/index.html: every report in a folder")
    ix.add_argument("reports", nargs="?", default="reports",
                    help="the folder of reports (one sub-folder per paper)")
    ix.add_argument("--docs", help="the project root whose README.md and docs/papers/*.md "
                    "have generated blocks (default: the folder above REPORTS, when it has "
                    "docs/papers/)")
    ix.set_defaults(handler=cmd_index)
