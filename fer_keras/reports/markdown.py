"""The generated blocks of the README and of docs/: Markdown rendered from run folders alone.

A block is the text between `<!-- generated:NAME ... -->` and `<!-- /generated:NAME -->` in a
Markdown file. `fer-keras index` rewrites every block from the committed runs
(`reports/<paper>/runs/`), and tests/test_docs.py regenerates them and fails on any
difference, so a number in the README or the docs never drifts from the runs. Prose around the
blocks is written by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..core.cellfiles import FINISHED_GLOB
from ..core.errors import FerKerasError
from ..core.published import published_in
from ..core.rundata import read_near_copies, read_noise_gain, read_runs
from .build import report_view, result_summaries
from .leaderboard import rejudged
from .render import markdown_env

README_BLOCK = "papers"  # the README's table of papers
MODELS_BLOCK = "models"  # the published models, by name (README and docs/predict.md)
RESULTS_BLOCK = "results"  # each docs/papers/<paper>.md's results
STUDIES_BLOCK = "studies"  # the README's reachability studies, with their controls
LEADERBOARD_BLOCK = "leaderboard"  # the README's common-protocol leaderboard and its claims
SUPERSEDED = "**superseded** (trained on the blurred copy): "  # before a damaged run's verdict


class DocsError(FerKerasError):
    pass


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- generated:{name} (written by `fer-keras index` from the committed runs; "
            "do not edit) -->", f"<!-- /generated:{name} -->")


def has_runs(runs_dir: Path) -> bool:
    return any(Path(runs_dir).glob(FINISHED_GLOB))


def paper_view(runs_dir: Path) -> dict:
    experiment, runs = read_runs(runs_dir)
    return report_view(experiment, runs, read_noise_gain(runs_dir), read_near_copies(runs_dir))


def results_markdown(view: dict) -> str:
    """A paper's results (docs/papers/<paper>.md): provenance, claims vs measured, the claim
    checks and every statistic its report computes, as Markdown tables."""
    text = markdown_env().get_template("results.md.j2").render(**view)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _pm(mean: float, std: float | None) -> str:
    """A mean with its standard deviation over seeds, as every generated block writes it."""
    return f"{mean:.2f}" + ("" if std is None else f" ± {std:.2f}")


def central_findings(view: dict) -> str:
    """The paper's central findings (abstract, conclusion) and what became of each, in one
    table cell: "k of n reproduced: claim: verdict (another reading: its verdict, where it
    differs); ...". Every claim with its numbers: the paper's page."""
    rows = [r for r in view["ledger"] if r["central"] and r["reproduced"] is not None]
    if not rows:
        return "–"
    parts = []
    for r in rows:
        other = "".join(f" ({o['label']}: {o['verdict']})" for o in r["readings"]
                        if o["verdict"] != r["verdict"])
        parts.append(f"{r['short']}: {r['verdict']}{other}")
    k = sum(bool(r["reproduced"]) for r in rows)
    return f"**{k} of {len(rows)} reproduced**: " + "; ".join(parts)


def _row(paper: str, view: dict | None, common: str) -> str:
    link = f"[{paper}](docs/papers/{paper}.md)"
    if view is None:
        return f"| {link} | – | {common} | – | not run on the repaired FER-2013 yet | – | – |"
    title = view["experiment"].get("paper", "").split(",")[0]
    h, prov = view["headline"], view["prov"]
    lead = (SUPERSEDED if prov["damaged"] else
            "**synthetic sample, not a result**: " if prov["synthetic"] else "")
    done = view["coverage"]
    if done["cells"]:  # a later run can change the verdict
        lead = f"partial ({done['finished']} of {done['runs']} planned runs): {lead}"
    central = lead + central_findings(view)
    if h is None:
        return f"| {link} ({title}) | {central} | {common} | – | – | – | – |"
    # the headline cell's own seeds, not the paper's: a cell still training has fewer
    seeds = ",".join(str(s) for s in h["seeds"])
    return (f"| {link} ({title}) | {central} | {common} | {h['claimed']:.2f} ({h['cell']}) | "
            f"{_pm(h['measured'], h['std'])} ({len(h['seeds'])} seed(s): {seeds}) | "
            f"{h['gap']:+.2f} | {lead}{h['verdict_text']} ({h['where']}) |")


def papers_markdown(reports_root: Path, papers: list[str]) -> str:
    """The README's table: one line per paper, its central findings and how many reproduce,
    its claims judged again under a common protocol (common_protocol), its headline claim,
    what we measure (mean ± sd over seeds), the gap and the two-sided verdict, from
    reports/<paper>/runs/."""
    summaries = result_summaries(reports_root, "summary.json")
    lines = ["| paper | central findings (abstract, conclusion) | its claims under the common "
             "protocol (own → common) | headline claim (accuracy %, cell) | measured (mean ± "
             "sd, seeds) | gap | verdict |", "|---|---|---|---|---|---|---|"]
    for paper in papers:
        runs = Path(reports_root) / paper / "runs"
        lines.append(_row(paper, paper_view(runs) if has_runs(runs) else None,
                          common_protocol(paper, summaries)))
    return "\n".join(lines) + "\n"


def paper_results(reports_root: Path, paper: str) -> str:
    runs = Path(reports_root) / paper / "runs"
    if not has_runs(runs):
        return (f"No reference run of `{paper}` on the repaired FER-2013 is committed yet: "
                f"`make reproduce-{paper}` makes one.\n")
    return results_markdown(paper_view(runs))


def models_markdown(reports_root: Path) -> str:
    """The published models (`fer-keras publish` into reports/<paper>/models/), by the name
    `predict` and `Predictor.from_pretrained` take, with what their runs measured."""
    lines = ["| name | model | published seed: test accuracy % | all seeds (mean ± sd) | "
             "paper claims | data, test images per seed |", "|---|---|---|---|---|---|"]
    for p in published_in(reports_root):
        m = p.measured
        if not m:
            continue  # published before the accuracy was recorded: publish it again
        claim = "–" if m["claimed_accuracy"] is None else f"{m['claimed_accuracy']}"
        lines.append(f"| `{p.name}` | `{p.model}` | seed {p.seed}: {m['test_accuracy']:.2f} | "
                     f"{_pm(m['test_accuracy_mean'], m['test_accuracy_sd'])} "
                     f"({len(m['seeds'])} seeds) | {claim} | {m['data']}, {m['test_images']:,} |")
    return "\n".join(lines) + "\n"


def _measured(row: dict) -> str:
    """What a studied cell measures here: its best searched setting, else the printed
    protocol it was set against (mean ± sd over seeds)."""
    for key, label in (("best", "best setting"), ("reference", "printed protocol")):
        m = row.get(key)
        if m:
            return f"{label} {_pm(m['mean'], m['std'])} ({m['n']} seed(s))"
    return "–"


def studies_markdown(reports_root: Path, root: Path) -> str:
    """A table of the reachability studies (reports/<study>/study-summary.json, written by its
    report from the study folder): each claimed cell's verdict beside what it rests on, and
    each control beside the control's public figures."""
    lines = []
    for name, s in result_summaries(reports_root, "study-summary.json"):
        page = f"docs/{name}.md" if (Path(root) / "docs" / f"{name}.md").is_file() else \
            f"reports/{name}/index.html"
        lead = SUPERSEDED if s.get("damaged") else ""
        study = f"[{name}]({page}) ({s.get('paper', '').split(',')[0]})"
        for r in s["rows"]:
            lines.append(f"| {study} | {r['cell']} | {r['claim']:.2f} | {_measured(r)} | "
                         f"{lead}{r['verdict']} |")
            study = ""
        for c in s.get("control", []):
            public = "; ".join(f"{acc:.2f} ({label})" for label, acc in c["literature"].items())
            gap = "; ".join(f"{g['points']:+.2f} points from {g['figure']:.2f}"
                            for g in c["gaps"]) or "no public figure"
            lines.append(f"| {study} | control {c['cell']} | {public or '–'} | "
                         f"{_pm(c['acc']['mean'], c['acc']['std'])} (seed(s) "
                         f"{', '.join(str(x) for x in c['seeds'])}; {c['test_images']:,} test "
                         f"images) | {lead}{gap} |")
            study = ""
        if not s.get("control"):
            lines.append(f"| {study} | control | – | not run on this data yet | – |")
    if not lines:
        return "No reachability study is committed yet.\n"
    return "\n".join(["| study | cell | claim, or the control's public figures (%) | measured "
                      "here (mean ± sd) | verdict |", "|---|---|---|---|---|", *lines]) + "\n"


def _cell_pm(m: dict | None) -> str:
    return "–" if m is None else _pm(m["mean"], m["std"])


def _count(value, scale: float = 1.0, fmt: str = "{:,.0f}") -> str:
    return "–" if value is None else fmt.format(value / scale)


TOP = 5  # the leaderboard's rows in the README; every row: the report and the scoreboard


def leaderboard_markdown(reports_root: Path) -> str:
    """The README's leaderboard: each report with one (a common protocol: its config records
    model costs), its best TOP cells by test accuracy (mean ± sd over seeds, the claims
    ledger's 95 % interval of one run, without near-copies), the validation accuracy that
    chooses a model (★: the best there, a cell or an average of the top cells, a row of its
    own), macro F1 and costs, and how many of the papers'
    claims it judges again hold (each beside its own verdict: the papers table)."""
    parts = []
    for name, s in result_summaries(reports_root, "summary.json"):
        if not s.get("leaderboard"):
            continue
        done = s["coverage"]
        lead = (f"partial ({done['finished']} of {done['runs']} planned runs); "
                if done["cells"] else "")
        lines = [f"[{name}](reports/{name}/index.html): {lead}{', '.join(s['hardware'])}, "
                 "1 thread a cell; ★ the model to take: the best by validation accuracy (a cell, "
                 "or an average of the top cells where one beats that cell there).", "",
                 "| rank | cell | seeds | test accuracy % (mean ± sd) | 95 % interval of one "
                 "run | without near-copies | validation % | macro F1 % | parameters | "
                 "MFLOPs | s / epoch | ms / face |", "|---|---|---|---|---|---|---|---|---|"
                 "---|---|---|"]
        board = s["leaderboard"]
        shown = board[:TOP] + [r for r in board[TOP:] if r.get("chosen")]
        for r in shown:
            a = r["accuracy"]
            lines.append(
                f"| {r['rank']} | {r['cell']}{' ★' if r.get('chosen') else ''} | "
                f"{', '.join(str(x) for x in r['seeds'])} | {_cell_pm(a)} | "
                f"{a['low']:.2f} – {a['high']:.2f} | {_cell_pm(r['clean'])} | "
                f"{_cell_pm(r.get('validation'))} | {_cell_pm(r['f1_macro'])} | "
                f"{_count(r['params'])} | {_count(r['forward_flops'], 1e6, '{:.1f}')} | "
                f"{_count(r['seconds_per_epoch'])} | "
                f"{_count(r['one_face_ms'], fmt='{:.2f}')} |")
        average = next((e for e in s.get("ensembles") or [] if e.get("chosen")), None)
        if average:  # it beats the best cell there: the model to take instead
            lines.append(f"| – | average of {' + '.join(average['cells'])} ★ | "
                         f"{', '.join(str(x) for x in average['seeds'])} | "
                         f"{_cell_pm(average['test'])} | – | – | "
                         f"{_cell_pm(average['validation'])} | – | – | – | – | "
                         f"{_count(average['one_face_ms'], fmt='{:.2f}')} |")
        for label, acc in (s.get("literature") or {}).items():  # a public figure, beside
            lines.append(f"| – | public figure: {label} | – | {acc:.2f} |" + " – |" * 8)
        rest = [r["cell"] for r in board if r not in shown]
        again = rejudged(s["ledger"], {})
        judged = sum(r["reproduced"] is not None for r in again)
        held = sum(r["reproduced"] is True for r in again)
        lines += ["", (f"Then {', '.join(rest)}: every row, per-class recall and the McNemar "
                       "matrix in the report. " if rest else "")
                  + (f"The papers' claims judged again on these cells: {judged} of "
                     f"{len(again)} judged so far, {held} hold (the papers table above sets "
                     "each beside its verdict under the paper's own protocol)." if again
                     else "")]
        parts.append("\n".join(lines).rstrip() + "\n")
    return "\n".join(parts) or "No leaderboard is committed yet.\n"


def common_protocol(paper: str, summaries: list[tuple[str, dict]]) -> str:
    """A paper's claims judged again by the reports with a leaderboard, in one table cell:
    "k of j judged hold (n claims): claim: own verdict → this one; ...", judged ones only."""
    own = {name: s["ledger"] for name, s in summaries}
    again = [r for _, s in summaries if s.get("leaderboard")
             for r in rejudged(s["ledger"], own) if r["paper"] == paper]
    if not again:
        return "–"
    judged = [r for r in again if r["reproduced"] is not None]
    held = sum(r["reproduced"] is True for r in judged)
    claims = f"{len(again)} claim{'s' if len(again) > 1 else ''}"
    if not judged:
        return f"none judged yet ({claims})"
    return (f"**{held} of {len(judged)} judged hold** ({claims})"
            + "".join(f"{'; ' if i else ': '}{r['short']}: {r['own']} → {r['here']}"
                      for i, r in enumerate(judged)))


def replace_block(text: str, name: str, content: str, where: Path) -> str:
    begin, end = _markers(name)
    pattern = re.compile(re.escape(begin.split(" (")[0]) + r"[^\n]*\n.*?" + re.escape(end),
                         re.S)
    if not pattern.search(text):
        raise DocsError(f"{where}: no generated block {name!r}; expected a line starting with "
                        f"'{begin.split(' (')[0]}' and a line '{end}'")
    return pattern.sub(lambda _: f"{begin}\n{content}{end}", text, count=1)


def papers(root: Path) -> list[str]:
    """The papers with a docs page (docs/papers/<paper>.md), in the README's order."""
    return [p.stem for p in sorted((Path(root) / "docs" / "papers").glob("*.md"))]


def generated(root: Path, reports_root: Path) -> dict[Path, str]:
    """Every file with generated blocks, as it must read: {path: text}."""
    root = Path(root)
    out = {}
    readme = root / "README.md"
    names = papers(root)
    out[readme] = replace_block(readme.read_text(), README_BLOCK,
                                papers_markdown(reports_root, names), readme)
    out[readme] = replace_block(out[readme], STUDIES_BLOCK,
                                studies_markdown(reports_root, root), readme)
    out[readme] = replace_block(out[readme], LEADERBOARD_BLOCK,
                                leaderboard_markdown(reports_root), readme)
    models = models_markdown(reports_root)
    out[readme] = replace_block(out[readme], MODELS_BLOCK, models, readme)
    guide = root / "docs" / "predict.md"
    if guide.is_file():
        out[guide] = replace_block(guide.read_text(), MODELS_BLOCK, models, guide)
    for paper in names:
        page = root / "docs" / "papers" / f"{paper}.md"
        out[page] = replace_block(page.read_text(), RESULTS_BLOCK,
                                  paper_results(reports_root, paper), page)
    return out


def update_docs(root: Path, reports_root: Path) -> list[Path]:
    """Rewrite every generated block under `root`; the files that changed."""
    changed = []
    for path, text in generated(root, reports_root).items():
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
