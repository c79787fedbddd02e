"""Xu, "Enhancing Facial Emotion Recognition Through Deep Learning: Integrating CNN and RNN-LSTM
Models" (../shared/papers/000_1b12a397d85afe8b.txt).

The paper runs no experiment of its own: it argues that a CNN outperforms an RNN-LSTM on
FER-2013 and exceeds human accuracy (about 65 % +/- 5 %, §2.1), quoting other works' results
(Table 1). Everything about the training is therefore an ASSUMPTION, fixed before any
real-data result was seen, chosen so that our numbers can stand beside Table 1's. Run with
`make reproduce-xu`, or:
    fer-keras run experiments/xu.py --data PATH seeds=0,1,2
"""

from fer_keras.claims.ledger import Bound, Order
from fer_keras.data.augment import AugmentConfig
from fer_keras.train.config import ExperimentConfig
from fer_keras.train.reproduce import Publish, Report, Run

CONFIG = ExperimentConfig(
    name="xu",
    paper="Xu, Enhancing Facial Emotion Recognition Through Deep Learning: Integrating CNN and "
    "RNN-LSTM Models",
    # ASSUMPTION: the official challenge split (Training 28,709 / PublicTest 3,589 for early
    # stopping and checkpoint selection / PrivateTest 3,589 scored once), the protocol of the
    # FER-2013 results Table 1 quotes, from the challenge CSV (its Usage column).
    formats=("csv",),
    split="official",
    validation="split",
    models=("xu_cnn", "xu_rnn_lstm"),  # §2.2.1 and §2.2.2; layers: models/xu.py
    seeds=(0, 1, 2),
    # ASSUMPTION: the augmentation of the one FER-2013 protocol in this suite that is given in
    # full (Wasey's notebook): rotation 10 degrees, shifts and zoom 10 %, horizontal flip.
    augment=AugmentConfig(rotation_deg=10.0, horizontal_flip=True, zoom=0.1, shift=0.1),
    # ASSUMPTION: Adam at Keras' default 1e-3, batch 64, at most 50 epochs, early stopping on
    # validation loss with patience 10 and the best epoch kept; no ReduceLROnPlateau, no class
    # weights (nothing is named, so nothing is added).
    optimizer="adam",
    learning_rate=1e-3,
    batch_size=64,
    max_epochs=50,
    early_stopping=True,
    early_stopping_patience=10,
    restore_best_weights=True,
    reduce_lr=False,
    class_weights=False,
    deterministic=True,
    proposed_model="xu_cnn",  # §4: "the CNN significantly outperforms other models"
    claims=(
        # Abstract, §4: the paper's two findings. ASSUMPTION: on FER-2013's official split
        # (the only data set here), McNemar per seed on the same PrivateTest images.
        Order(better="csv/xu_cnn", worse="csv/xu_rnn_lstm", central=True,
              where="Abstract; §4",
              quote="this study demonstrates that the CNN significantly outperforms other "
                    "models on the FER-2013 dataset"),
        # Abstract, §3.1, §4: "exceeds" human recognition, about 65 % (§2.1). ASSUMPTION:
        # above 65 % by a one-sided exact binomial test per seed.
        Bound(cell="csv/xu_cnn", above=65.0, central=True, where="Abstract; §3.1; §4",
              quote="achieving accuracy levels that surpass human recognition"),
    ),
    # Table 1 as printed (accuracy %, other works, other protocols), and §2.1's human band.
    literature={"Mishra, SVM": 63.03, "Gan et al., VGGNet": 64.24, "Manual (human)": 65.00,
                "Liu et al., VGGNet (84M)": 65.03, "Wan et al., AlexNet+VGG (14M)": 65.34,
                "Agarwal et al. (0.93M)": 65.77, "Mollahosseini et al., AlexNet (25M)": 66.4,
                "Tang, AlexNet (7.17M)": 69.30, "Bodapati, CNN (2.3M)": 69.57},
    literature_band={"label": "human, 65 % +/- 5 % (§2.1)", "low": 60.0, "high": 70.0},
    claimed_notes="The paper reports no experiment and no number of its own. Claims checked "
    "below: the CNN beats the RNN-LSTM (McNemar, same test images); the CNN's accuracy is "
    "above human accuracy, 65 % (one-sided binomial test). Table 1 is quoted from other works.",
)


# `fer-keras reproduce xu` (make reproduce-xu): both models with every seed, the report, each
# model's best seed published.
REPRODUCE = (Run(), Report(), Publish())
