"""Claim-reachability studies: can a paper's numbers be reached with its printed architectures
under some honest setting of what it leaves open?

For each model of the config, an Optuna study (one per format-model, named so) draws settings
from the config's `search_space` (fer_keras.train.search) and trains each as one cell through the
experiment runner (same data, split, callbacks and records as every reproduction), maximising
the validation accuracy of the checkpoint the config's rule scores. The test split plays no
part in any choice: each trial's test accuracy is recorded only for the audit (the report's
distribution of validation and test accuracy over all trials), under the name
`audit_test_accuracy`, and the best trial is Optuna's best by validation.

Then the best setting of each model is run with every seed in every format (`best/`), with the
test accuracy after every epoch recorded beside the history (config test_curve): its maximum
is an oracle ceiling, labelled so, never used for a choice.

Layout of the study folder (default storage: a SQLite file in it):
    study.db                                   Optuna's storage (every trial, params, values,
                                               intermediate values, user attributes)
    trials/<format>-<model>/trial-<n>/...      one run folder per trial (its one cell)
    studies/<format>-<model>/trials.csv        every trial, for the report (no Optuna needed
                                               to read it), and best.json, importance.json
    best/<study>-trial-<n>/<format>-<model>/seed-<s>/...
                                               the best setting (trial n), every format and
                                               seed

Resumable: a killed worker's trial is failed after its heartbeat stops (RDB storage) and
retried with the same parameters in the same trial folder, where the runner resumes its cell
from the last epoch's backup. Scale-out: any number of `fer-keras study` processes may share
one storage URL (SQLite file on one machine, PostgreSQL/MySQL across machines, or
`journal:<file>` for Optuna's journal file storage); the trial count is shared
(MaxTrialsCallback counts finished and pruned trials of the study, whoever ran them).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import optuna
import sqlalchemy

from ..claims.ledger import claimed_values
from ..claims.printed import printed_protocol
from ..core.cellfiles import HISTORY_FILE, MANIFEST_FILE, METRICS_FILE, seed_folder
from ..core.errors import FerKerasError
from ..core.provenance import now, write_csv, write_json
from ..data.synthetic import is_synthetic
from .config import ExperimentConfig
from .plan import RunOptions, csv_source, resolve_format
from .runfolder import read_history
from .runner import run_experiment
from .search import configure, describe, suggest

PRUNERS = ("median", "none")
GRACE_SECONDS = 120  # a worker silent this long is taken for dead; its trial is retried
MAX_RETRY = 3  # a trial killed more often than this is left failed
AUDIT = "audit_test_accuracy"  # the only name under which a trial's test accuracy is kept


class StudyError(FerKerasError):
    pass


@dataclass(frozen=True)
class StudyOptions:
    data: Path
    out: Path  # the study folder, e.g. runs/ozer-reachability
    trials: int = 30  # finished (complete or pruned) trials per study, shared by all workers
    storage: str = ""  # Optuna storage URL; "" = sqlite:///<out>/study.db
    format: str = "csv"  # the format the search runs on
    models: tuple[str, ...] = ()  # default: the config's
    seed: int = 0  # every trial's seed (split, initial weights, shuffling): one test split
    pruner: str = "median"
    worker: int = 0  # this process's index among workers: offsets the sampler's seed
    rerun: bool = True  # then the best setting with every seed in every format
    grace: int = GRACE_SECONDS  # seconds without a heartbeat before a trial counts as dead
    export_only: bool = False  # only write the exports of the studies in the storage (for a
    # report or a commit while workers run); study.json is left as the workers wrote it
    csv: Path | None = None  # the CSV format's file (default: resolved from data once)
    # runs of the paper's printed protocol on the same data (e.g. reports/ozer/runs): a model
    # all of whose claims they reach (or come within noise of) is not searched
    reference: Path | None = None


def storage_of(opts: StudyOptions):
    """Optuna storage for the URL: RDB (SQLite, PostgreSQL, MySQL) with a heartbeat, so a
    killed worker's trial is failed and retried; `journal:<file>`: the journal file storage
    (several processes on one machine; no heartbeat: a killed trial stays RUNNING)."""
    url = opts.storage or f"sqlite:///{Path(opts.out).resolve() / 'study.db'}"
    if url.startswith("journal:"):
        path = url.removeprefix("journal:")
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    for attempt in range(10):
        try:
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=max(1, min(30, opts.grace // 4)),
                grace_period=opts.grace,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                    MAX_RETRY))
        except sqlalchemy.exc.SQLAlchemyError:
            # workers started together race to create the tables of a new database (SQLite:
            # "UNIQUE constraint failed: alembic_version"); the loser finds them made
            if attempt == 9:
                raise
            time.sleep(0.5 + random.random())


class PruningReport(keras.callbacks.Callback):
    """Each epoch's validation accuracy to the trial; stops the trial when Optuna's pruner
    says so (validation only). Comes after the backup, so a pruned trial's cell could be
    resumed like any other."""

    def __init__(self, trial: optuna.Trial):
        super().__init__()
        self.trial = trial

    def on_epoch_end(self, epoch, logs=None):
        self.trial.report(float(logs["val_accuracy"]), epoch + 1)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"epoch {epoch + 1}: val_accuracy "
                                     f"{logs['val_accuracy']:.4f} below the pruner's line")


def trial_root(trial: optuna.Trial) -> int:
    """The number of the trial whose folder this one uses: a retry continues its original's."""
    frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
    history = optuna.storages.RetryHeartbeatStaleTrialCallback.retry_history(frozen)
    return history[0] if history else trial.number


def scored_validation(folder: Path) -> tuple[float, int, int]:
    """(validation accuracy of the scored epoch, scored epoch, epochs) of a finished cell."""
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    history = read_history(folder / HISTORY_FILE)
    epoch = int(manifest["scored_epoch"])
    return float(history[epoch - 1]["val_accuracy"]), epoch, int(manifest["epochs"])


def objective(cfg: ExperimentConfig, opts: StudyOptions, model: str):
    def run(trial: optuna.Trial) -> float:
        params = suggest(trial, cfg, model)
        tcfg = configure(cfg, opts.format, model, (opts.seed,), params)
        out = (Path(opts.out) / "trials" / f"{opts.format}-{model}"
               / f"trial-{trial_root(trial):04d}")
        callbacks = (lambda: PruningReport(trial),) if opts.pruner != "none" else ()
        print(f"[{opts.format}-{model} trial {trial.number}] {describe(params)}", flush=True)
        run_experiment(tcfg, RunOptions(data=Path(opts.data), csv=opts.csv, out=out,
                                        callbacks=callbacks))
        folder = seed_folder(out / f"{opts.format}-{tcfg.models[0]}", opts.seed)
        value, epoch, epochs = scored_validation(folder)
        metrics = json.loads((folder / METRICS_FILE).read_text())
        trial.set_user_attr("folder", str(folder.relative_to(opts.out)))
        trial.set_user_attr("scored_epoch", epoch)
        trial.set_user_attr("epochs", epochs)
        trial.set_user_attr("worker", opts.worker)
        trial.set_user_attr(AUDIT, float(metrics["accuracy"]))  # audit only, never chosen on
        return value

    return run


def run_study(cfg: ExperimentConfig, opts: StudyOptions) -> Path:
    """Search every model (resuming the studies in the storage), export each study, then run
    the best settings; returns the study folder."""
    if not cfg.search_space:
        raise StudyError(f"{cfg.name}: the config has no search_space; expected "
                         "search_space={key: {...}} (fer_keras.train.search)")
    if opts.grace < 4:
        raise StudyError(f"--grace {opts.grace}: expected at least 4 seconds")
    if opts.pruner not in PRUNERS:
        raise StudyError(f"--pruner {opts.pruner}: expected one of {', '.join(PRUNERS)}")
    models = opts.models or cfg.models
    for m in models:
        if m not in cfg.models:
            raise StudyError(f"model {m!r}: not a model of {cfg.name} ({', '.join(cfg.models)})")
    if opts.format not in cfg.formats:
        raise StudyError(f"--format {opts.format}: not a format of {cfg.name}")
    Path(opts.out).mkdir(parents=True, exist_ok=True)
    if not Path(opts.data).exists():
        raise StudyError(f"{opts.data}: no such file or folder (given as --data)")
    # every trial and the re-run read one CSV (built once from an image export)
    opts = dataclasses.replace(opts, csv=csv_source(RunOptions(data=opts.data, out=opts.out)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and their retry callback are marked experimental in Optuna 5; we pin it
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = storage_of(opts)
    if opts.export_only:
        for model in models:
            export(load_study(storage, opts, model), cfg, opts, model)
        return Path(opts.out)
    printed, note = triage(cfg, opts) if opts.reference is not None else ([], None)
    for line in [note] if note else [f"{p['cell']}: claim {p['claim']:.2f}, printed protocol "
                                     f"{p['printed']['mean']:.2f} over {len(p['seeds'])} seeds: "
                                     f"{p['verdict']}" for p in printed]:
        print(line, flush=True)
    if printed:  # search only the models with a claim the printed protocol falls short of
        claimed = {p["model"] for p in printed}
        models = tuple(m for m in models
                       if m not in claimed or any(p["search"] for p in printed
                                                  if p["model"] == m))
    write_json(Path(opts.out) / "study.json", {
        "experiment": cfg.name, "paper": cfg.paper, "format": opts.format, "seed": opts.seed,
        "trials": opts.trials, "pruner": opts.pruner, "models": list(models),
        "formats": list(cfg.formats), "seeds": list(cfg.seeds),
        "search_space": cfg.search_space, "claimed_metrics": claimed_values(cfg.claims),
        "objective": "validation accuracy of the checkpoint the config's rule scores",
        "synthetic": is_synthetic(opts.data),
        "reference": str(opts.reference) if opts.reference else None,
        "printed_protocol": printed, "printed_protocol_note": note,
        "optuna": optuna.__version__})
    for model in models:
        study = load_study(storage, opts, model)
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        if len(study.get_trials(deepcopy=False, states=finished)) < opts.trials:
            # the exports follow every finished trial, so a report (or a commit) made while
            # the study runs shows every trial so far
            study.optimize(objective(cfg, opts, model), gc_after_trial=True,
                           callbacks=[optuna.study.MaxTrialsCallback(opts.trials, finished),
                                      lambda s, _, m=model: export(s, cfg, opts, m)])
        export(study, cfg, opts, model)
    if opts.rerun:
        for model in models:
            rerun_best(cfg, opts, model)
    return Path(opts.out)


def triage(cfg: ExperimentConfig, opts: StudyOptions) -> tuple[list[dict], str | None]:
    """The printed protocol first (issue #34): each claim against the reference runs of the
    paper's stated settings; (rows, None), or ([], why they cannot be used: then every model
    is searched). Usable only when trained on exactly the data this study trains on."""
    where = f"--reference {opts.reference}"
    rows = printed_protocol(claimed_values(cfg.claims), opts.reference)
    if not rows:
        return [], f"{where}: no finished run of a claimed cell; every model is searched"
    damaged = next((r["damaged"] for r in rows if r["damaged"]), None)
    if damaged:
        return [], f"{where}: trained on a damaged copy ({damaged}); every model is searched"
    if cfg.limit:
        return [], (f"{where}: this study trains on a subsample (limit={cfg.limit}), the "
                    "reference on all the data; every model is searched")
    run_opts = RunOptions(data=opts.data, out=opts.out, csv=opts.csv)
    for fmt in sorted({r["cell"].split("/", 1)[0] for r in rows}):
        # the manifest's fingerprint: of the data as trained on (no preprocessing in a
        # study's printed protocol, so the data as loaded)
        fingerprint = resolve_format(cfg, run_opts, fmt).fingerprint
        if any(r["fingerprints"] != [fingerprint] for r in rows
               if r["cell"].startswith(f"{fmt}/")):
            return [], (f"{where}: trained on other data than {opts.data} ({fmt} format); "
                        "every model is searched")
    return rows, None


def load_study(storage, opts: StudyOptions, model: str) -> optuna.Study:
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
              if opts.pruner == "median" else optuna.pruners.NopPruner())
    return optuna.create_study(
        study_name=f"{opts.format}-{model}", storage=storage, direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=opts.seed * 1000 + opts.worker),
        pruner=pruner, load_if_exists=True)


def export(study: optuna.Study, cfg: ExperimentConfig, opts: StudyOptions, model: str) -> Path:
    """studies/<format>-<model>/: trials.csv (every trial), best.json, importance.json; what
    the report reads (it never opens the storage)."""
    folder = Path(opts.out) / "studies" / study.study_name
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(cfg.search_space)
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append({
            "number": t.number, "state": t.state.name,
            "val_accuracy": "" if t.value is None else f"{t.value:.6f}",
            AUDIT: "" if AUDIT not in t.user_attrs else f"{t.user_attrs[AUDIT]:.6f}",
            "epochs": t.user_attrs.get("epochs", len(t.intermediate_values) or ""),
            "scored_epoch": t.user_attrs.get("scored_epoch", ""),
            "seconds": "" if t.duration is None else round(t.duration.total_seconds(), 1),
            "retry_of": optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
            if t.system_attrs.get("failed_trial") is not None else "",
            **{k: t.params.get(k, "") for k in keys}})
    # atomic: workers export the same study
    write_csv(folder / "trials.csv", rows, ["number", "state", "val_accuracy", AUDIT, "epochs",
                                            "scored_epoch", "seconds", "retry_of", *keys])
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = None
    if complete:
        b = study.best_trial
        best = {"study": study.study_name, "model": model, "format": opts.format,
                "trial": b.number, "val_accuracy": b.value, "params": b.params,
                "cell_model": b.params.get("model", model), "folder": b.user_attrs["folder"],
                "selected_on": "validation accuracy of the scored checkpoint",
                "exported": now()}
    write_json(folder / "best.json", best)
    write_json(folder / "importance.json", importance(study, complete))
    return folder


def importance(study: optuna.Study, complete: list) -> dict:
    """Optuna's parameter importance (its fANOVA evaluator, seeded) over the complete trials,
    for the parameters every complete trial has (conditional ones drop out), with the count."""
    varied = [k for k in (complete[0].params if complete else {})
              if all(k in t.params for t in complete)
              and len({repr(t.params[k]) for t in complete}) > 1]
    if len(complete) < 3 or not varied:
        return {"trials": len(complete), "importance": {}, "note": "too few complete trials"}
    if len({t.value for t in complete}) == 1:  # fANOVA has no variance to share out
        return {"trials": len(complete), "importance": {},
                "note": "every complete trial scored the same"}
    values = optuna.importance.get_param_importances(
        study, params=varied, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return {"trials": len(complete), "evaluator": "fANOVA (Optuna's, seed 0)",
            "importance": {k: float(v) for k, v in values.items()}}


def rerun_best(cfg: ExperimentConfig, opts: StudyOptions, model: str) -> None:
    """The best setting of `model` with every seed of the config in every format, each epoch's
    test accuracy recorded as the oracle (test_curve); resumable like any run."""
    best = json.loads((Path(opts.out) / "studies" / f"{opts.format}-{model}" / "best.json"
                       ).read_text())
    if best is None:
        raise StudyError(f"{opts.format}-{model}: no complete trial to re-run")
    rcfg = dataclasses.replace(configure(cfg, opts.format, model, cfg.seeds, best["params"]),
                               formats=cfg.formats, test_curve=True).validate()
    print(f"[best {model}] {describe(best['params'])}: seeds "
          f"{','.join(map(str, cfg.seeds))} in {', '.join(cfg.formats)}", flush=True)
    run_experiment(rcfg, RunOptions(data=Path(opts.data), csv=opts.csv,
                                    out=best_folder(Path(opts.out), best)))


def best_folder(root: Path, best: dict) -> Path:
    """The run folder of a study's best setting: one per best trial, so a study continued
    with more trials whose best changes runs the new best beside the old, never over it."""
    return root / "best" / f"{best['study']}-trial-{best['trial']}"
