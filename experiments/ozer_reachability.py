"""Can Özer & Subaşı's Table 1 be reached at all? The reference config (experiments/ozer.py)
with a search space over every choice the paper leaves open; `make reproduce-ozer-reachability`
or:
    fer-keras study experiments/ozer_reachability.py --data PATH --trials 30

Fixed, as printed (§2.1-§2.4): the architectures parameter for parameter, the stratified
80/10/10 split, no augmentation, Adam, at most 50 epochs, early stopping on validation loss.
Searched (the space below was fixed before any study result was seen): everything §2.4 does not
give. Selection on validation accuracy only; the test split scores the best setting (and, for
the audit, every trial, never used for a choice).
"""

import dataclasses
import runpy
from pathlib import Path

from fer_keras.train.reproduce import Report, Run, Study

# the reference config, unchanged, read from beside this file
OZER = runpy.run_path(str(Path(__file__).with_name("ozer.py")))["CONFIG"]

CONFIG = dataclasses.replace(
    OZER,
    name="ozer-reachability",
    search_space={
        # no learning rate is given (§2.4 "Adam"): Adam's usual range around its 1e-3 default
        "learning_rate": {"low": 1e-4, "high": 3e-3, "log": True},
        # no batch size is given
        "batch_size": {"choices": (16, 32, 64, 128)},
        # §2.4 names ReduceLROnPlateau (patience 3) but no factor; whether it was active at
        # all is searched too, as the issue asks
        "reduce_lr": {"choices": (True, False)},
        "reduce_lr_factor": {"choices": (0.1, 0.2, 0.5), "if": "reduce_lr"},
        # §2.4 prints patience 5; longer patience is the most common unstated deviation
        "early_stopping_patience": {"choices": (5, 10, 20)},
        # not said whether the best weights were restored: best-by-validation-loss or last
        "select": {"choices": ("best", "last")},
        # the Pure CNN: Figure 2's RGB input (grey repeated) or §2.3(a)'s single channel
        "model": {"choices": ("ozer_cnn", "ozer_cnn_grey"), "for": ("ozer_cnn",)},
    },
)


# `fer-keras reproduce ozer-reachability` (make reproduce-ozer-reachability): the printed
# protocol first (issue #34): each Table 1 claim against the committed Özer runs on the same
# data; a model whose claims they reach (or come within noise of) is not searched. Then the
# search (30 finished trials per model, resumable from the SQLite storage in the study folder), the
# best setting with every seed in both formats, then the mini-Xception control into
# <study>/control/ with oneDNN's CPU kernels off (they abort its training here; see
# experiments/mini_xception_control.py), then the report beside the printed protocol's runs.
REPRODUCE = (
    Study(trials=30, reference="reports/ozer/runs"),
    Run(config="mini_xception_control.py", folder="control",
        env=(("TF_ENABLE_ONEDNN_OPTS", "0"),)),
    Report(reference="reports/ozer/runs"),
)
