"""Özer & Subaşı, "Automatic Classification of Basic Emotions Using Deep Learning Techniques"
(../shared/papers/004_1e613427933bd58a.txt). 2x2 factorial: data format x architecture.

Every value says where it comes from: a section of the paper, or "ASSUMPTION" where the paper is
silent, with the reason for our choice. Override any key from the command line:
    fer-keras run experiments/ozer.py --data PATH seeds=0,1,2 max_epochs=50
"""

from fer_keras.claims.ledger import Best, Consistent, Effect, Extremes, Value
from fer_keras.train.config import ExperimentConfig
from fer_keras.train.reproduce import Publish, Report, Run

CELLS = ("directory/ozer_cnn", "directory/ozer_cnn_lstm", "csv/ozer_cnn", "csv/ozer_cnn_lstm")
# Table 1, percent as printed: accuracy, macro precision, macro recall, macro F1 per cell.
TABLE_1 = {
    "directory/ozer_cnn": (50.571, 50.218, 47.145, 48.095),
    "directory/ozer_cnn_lstm": (49.819, 50.672, 46.787, 48.037),
    "csv/ozer_cnn": (55.001, 53.031, 52.461, 52.525),
    "csv/ozer_cnn_lstm": (57.843, 57.147, 55.200, 55.995),
}
METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro")
# Table 1's own names of its rows and columns, for the quotes.
PRINTED = {"directory": "Directory-Based", "csv": "CSV-Based", "ozer_cnn": "Pure CNN",
           "ozer_cnn_lstm": "Hybrid CNN-LSTM", "accuracy": "Accuracy",
           "precision_macro": "Precision (Macro)", "recall_macro": "Recall (Macro)",
           "f1_macro": "F1-Score (Macro)"}


def _table_1(cell: str, metric: str, value: float) -> str:
    fmt, model = cell.split("/")
    return f"{PRINTED[fmt]} {PRINTED[model]}, {PRINTED[metric]}: {value}%"

# Table 2: per-class AUC of the CSV-based hybrid CNN-LSTM.
TABLE_2 = {"angry": 0.8225, "disgust": 0.8974, "fear": 0.7850, "happy": 0.9277, "sad": 0.7926,
           "surprise": 0.9255, "neutral": 0.8277}
BEST = "csv/ozer_cnn_lstm"

CLAIMS = (
    # The central findings: abstract, §3.1, §4.1, §4.4 and §5.
    Effect(factor="format", central=True, where="Abstract; §3.1; §5",
           quote="the choice of both data format and model architecture significantly "
                 "influences performance"),
    Effect(factor="model", central=True, where="Abstract; §3.1",
           quote="the choice of both data format and model architecture significantly "
                 "influences performance"),
    Effect(factor="interaction", central=True, where="§4.4; §5",
           quote="By demonstrating the significant interaction between data format and model "
                 "choice"),
    Best(cell=BEST, among=tuple(c for c in CELLS if c != BEST), central=True,
         where="Abstract; §4.1; §5",
         quote="a hybrid CNN-LSTM architecture, when applied to a tabular (CSV) representation "
               "of image data, consistently outperformed other combinations"),
    # §3.1's "approximately 5 %" (Table 1: 55.001 - 50.571 = 4.43 points); §5: "the pronounced
    # effect of the data format on the pure CNN model".
    Effect(factor="format", within="ozer_cnn", high="csv", low="directory", size=5.0,
           central=True, where="§3.1; §4.1; §5",
           quote="the CSV format yielding an approximately 5% increase in accuracy compared to "
                 "the directory-based format"),
    # Table 1, every number.
    *(Value(cell=cell, metric=metric, value=value, where="Table 1",
            quote=_table_1(cell, metric, value))
      for cell, values in TABLE_1.items() for metric, value in zip(METRICS, values)),
    # §3.1 singles out the best cell's macro F1 ("its superior macro F1-score of 55.995%"):
    # the same number as Table 1's, judged there. Table 1's P, R and F1 of each cell must be
    # able to hold together.
    *(Consistent(cell=cell, where="Table 1", quote="Precision (Macro), Recall (Macro), "
                 "F1-Score (Macro)") for cell in CELLS),
    # Table 2, and §3.3's prose, which prints other AUCs for two classes.
    *(Value(cell=BEST, metric=f"roc_auc.{name}", value=auc, where="Table 2",
            quote=f"{name.capitalize()} {auc}") for name, auc in TABLE_2.items()),
    Value(cell=BEST, metric="roc_auc.happy", value=0.99, where="§3.3",
          quote="'Happiness' achieved a near-perfect AUC of 0.99"),
    Value(cell=BEST, metric="roc_auc.fear", value=0.91, where="§3.3",
          quote="'Fear' had the lowest AUC (0.91)"),
    Extremes(cell=BEST, highest=("happy", "surprise"), where="§3.3",
             quote="the model excels at recognizing 'Happiness' and 'Surprise'"),
)

CONFIG = ExperimentConfig(
    name="ozer",
    paper="Özer & Subaşı, Automatic Classification of Basic Emotions Using Deep Learning "
    "Techniques",
    # §2.2: the two factors. Format "directory" = the 28,709 images of the Kaggle export's
    # train/ folder; format "csv" = all 35,887 rows of the challenge CSV (§2.1, Data
    # Availability). When only the image export is given, the CSV is built from all of its
    # images by our converter (fer-keras data to-csv), then parsed by the CSV loader.
    formats=("directory", "csv"),
    directory_subset="train",  # §2.1: "a total of 28,709 grayscale images"
    csv_subset="all",  # §2.1: "This format contained 35,887 images"
    # §2.3, Figures 2 and 4. Each keeps its published input shape in every cell: ozer_cnn takes
    # (48, 48, 3) (Figure 2), ozer_cnn_lstm (48, 48, 1) (Figure 4); the pipeline repeats grey
    # to RGB for the first. The prose says (48, 48, 1) for both; the printed summaries win.
    models=("ozer_cnn", "ozer_cnn_lstm"),
    # ASSUMPTION: the paper reports one run per cell with no seed; we run 3 seeds so the
    # factorial ANOVA (§2.2) has a within-cell error term. The seed drives the split, the
    # initial weights and the shuffling.
    seeds=(0, 1, 2),
    split="80/10/10",  # §2.4: "training (80%), validation (10%), and test (10%) ... stratified"
    optimizer="adam",  # §2.4
    # ASSUMPTION: no learning rate is given; Keras' Adam default, which "compiled using the
    # Adam optimizer" implies.
    learning_rate=1e-3,
    # ASSUMPTION: no batch size is given; 32 is the Keras default of both fit() and
    # image_dataset_from_directory, which Figure 2's Rescaling-first model suggests was used.
    batch_size=32,
    max_epochs=50,  # §2.4: "a maximum of 50 epochs"
    early_stopping_patience=5,  # §2.4: "early stopping callback (patience=5) monitoring the
    # validation loss"
    # ASSUMPTION: the paper does not say whether the best weights were restored. We evaluate the
    # best checkpoint by validation loss (ModelCheckpoint), which is what restoring gives.
    restore_best_weights=True,
    reduce_lr_patience=3,  # §2.4: "reduced on a plateau (patience=3)"
    # ASSUMPTION: factor and floor are not given; Keras' ReduceLROnPlateau defaults.
    reduce_lr_factor=0.1,
    min_lr=0.0,
    class_weights=False,  # not mentioned; §3.1 uses macro metrics "to account for imbalance"
    # §2.1: "No data augmentation techniques ... were applied" (default AugmentConfig: none)
    deterministic=True,
    # Every number the paper prints about its results, and every finding of its abstract and
    # conclusion, as claims (fer_keras.claims.ledger), judged two-sided by the report.
    claims=CLAIMS,
    claimed_notes="Table 1 and Table 2 of the paper; one run per cell, seed not reported.",
)


# `fer-keras reproduce ozer` (make reproduce-ozer): the whole factorial, its report, and the
# best seed of each of the four cells published (reports/ozer/models).
REPRODUCE = (Run(), Report(), Publish())
