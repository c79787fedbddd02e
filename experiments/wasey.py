"""Wasey, "Facial Emotion Recognition Using CNN-LSTM" (../shared/papers/003_c88dc6450790f003.txt).

The paper gives no filter counts, no LSTM size, no learning rate, no epochs and no accuracy.
The author's public notebook that goes with it fixes all of these, so this config follows the
notebook (values quoted in issue #14) and says where the paper's text differs. Every other
value is an ASSUMPTION with its reason, fixed before any real-data result was seen. Run with
`make reproduce-wasey`, or:
    fer-keras run experiments/wasey.py --data PATH seeds=0,1,2
"""

from fer_keras.claims.ledger import Extremes, Order
from fer_keras.data.augment import AugmentConfig
from fer_keras.train.config import ExperimentConfig
from fer_keras.train.reproduce import Publish, Report, Run

NOTEBOOK, PAPER, BASELINE = ("directory/wasey_cnn_lstm", "directory/wasey_cnn_lstm_paper",
                             "directory/wasey_cnn")
# Each claim about the CNN-LSTM is judged on the notebook's model (the config follows the
# notebook) and, beside it, on §7's reading of the architecture.
SECTION_7 = {"§7's architecture (wasey_cnn_lstm_paper)": {NOTEBOOK: PAPER}}

CLAIMS = (
    # §9 and the abstract ("competitive accuracy"): the paper's one comparison. ASSUMPTION:
    # accuracy on test/, McNemar per seed.
    Order(better=NOTEBOOK, worse=BASELINE, central=True, where="§9; §10", readings=SECTION_7,
          quote="The CNN-LSTM model achieved improved accuracy compared to a baseline CNN "
                "model"),
    # §9: "Happy and Surprise are recognized with higher accuracy, while Fear and Disgust remain
    # more challenging". ASSUMPTION: the two highest and the two lowest per-class recalls.
    Extremes(cell=NOTEBOOK, highest=("happy", "surprise"), where="§9", readings=SECTION_7,
             quote="emotions such as Happy and Surprise are recognized with higher accuracy"),
    Extremes(cell=NOTEBOOK, lowest=("fear", "disgust"), where="§9", readings=SECTION_7,
             quote="while Fear and Disgust remain more challenging"),
)

CONFIG = ExperimentConfig(
    name="wasey",
    paper="Wasey, Facial Emotion Recognition Using CNN-LSTM",
    # Notebook: `flow_from_directory` on the image export (§4 links the Kaggle export
    # msambare/fer2013): train/ for training and validation, test/ (7,178) scored once.
    formats=("directory",),
    directory_subset="all",
    split="folders",
    # Notebook: ImageDataGenerator(validation_split=0.3): per class the first 30 % of the
    # file names in sorted order are validation (20,099 training / 8,610 validation). Not
    # random, so the same for every seed. Difference: the notebook's validation images pass
    # through the same augmenting generator; ours never are augmented (validation chooses
    # nothing here, see select below, so only the validation curves can differ).
    validation="keras",
    validation_fraction=0.3,
    # The notebook's model, §7's reading (BatchNorm + Dropout in every block), and §9's
    # "baseline CNN" (models/wasey.py).
    models=("wasey_cnn_lstm", "wasey_cnn_lstm_paper", "wasey_cnn"),
    # ASSUMPTION: the notebook runs once, unseeded; 3 seeds here (initial weights, shuffling,
    # augmentation and dropout follow the seed; the split does not).
    seeds=(0, 1, 2),
    # Notebook: rotation_range=10, width/height_shift_range=0.1, zoom_range=0.1,
    # horizontal_flip=True, rescale=1/255 (the pipeline's scaling). §5.1 also names shearing,
    # which the notebook does not use: we follow the notebook.
    augment=AugmentConfig(rotation_deg=10.0, horizontal_flip=True, zoom=0.1, shift=0.1),
    # Notebook: Adam(learning_rate=0.0004), categorical cross-entropy, batch 64 (§8 too),
    # 30 epochs, no callbacks, the last epoch's model evaluated once on test/.
    optimizer="adam",
    learning_rate=4e-4,
    batch_size=64,
    max_epochs=30,
    early_stopping=False,
    reduce_lr=False,
    select="last",
    class_weights=False,
    deterministic=True,
    proposed_model="wasey_cnn_lstm",
    # §9, qualitative only; the claims and how each is read: CLAIMS above.
    claims=CLAIMS,
    claimed_notes="The paper reports no number (§8-§9: accuracy and a confusion matrix, "
    "without values). Its qualitative claims are checked below: CNN-LSTM better than the "
    "baseline CNN; happy and surprise recognised best, fear and disgust worst.",
)


# `fer-keras reproduce wasey` (make reproduce-wasey): every model with every seed, the report,
# each model's best seed published.
REPRODUCE = (Run(), Report(), Publish())
