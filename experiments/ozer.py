"""Özer & Subaşı, "Automatic Classification of Basic Emotions Using Deep Learning Techniques"
(../shared/papers/004_1e613427933bd58a.txt). 2x2 factorial: data format x architecture.

Every value says where it comes from: a section of the paper, or "ASSUMPTION" where the paper is
silent, with the reason for our choice. Override any key from the command line:
    fer-keras run experiments/ozer.py --data PATH seeds=0,1,2 max_epochs=50
"""

from fer_keras.config import ExperimentConfig
from fer_keras.reproduce import Publish, Report, Run

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
    # Table 1, percent as printed. Our report shows these beside the measured values.
    claimed_metrics={
        "directory/ozer_cnn": {"accuracy": 50.571, "precision_macro": 50.218,
                               "recall_macro": 47.145, "f1_macro": 48.095},
        "directory/ozer_cnn_lstm": {"accuracy": 49.819, "precision_macro": 50.672,
                                    "recall_macro": 46.787, "f1_macro": 48.037},
        "csv/ozer_cnn": {"accuracy": 55.001, "precision_macro": 53.031,
                         "recall_macro": 52.461, "f1_macro": 52.525},
        "csv/ozer_cnn_lstm": {"accuracy": 57.843, "precision_macro": 57.147,
                              "recall_macro": 55.200, "f1_macro": 55.995},
    },
    # Table 2: per-class AUC of the CSV-based hybrid CNN-LSTM. (§3.3's prose says Happiness
    # 0.99 and Fear 0.91; the table says 0.9277 and 0.7850. We compare with the table.)
    claimed_auc={
        "csv/ozer_cnn_lstm": {"angry": 0.8225, "disgust": 0.8974, "fear": 0.7850,
                              "happy": 0.9277, "sad": 0.7926, "surprise": 0.9255,
                              "neutral": 0.8277},
    },
    claimed_notes="Table 1 and Table 2 of the paper; one run per cell, seed not reported.",
)


# `fer-keras reproduce ozer` (make reproduce-ozer): the whole factorial, its report, and the
# best seed of each of the four cells published (reports/ozer/models).
REPRODUCE = (Run(), Report(), Publish())
