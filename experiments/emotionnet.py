"""Bhardwaj & Singh, "EmotionNet: Enhanced Facial Emotion Recognition Using a Hybrid CNN-LSTM
Architecture with Advanced Preprocessing" (EmotionNet++, ../shared/papers/002_dd2077de287baf74.txt).

Every value says where it comes from: a section of the paper, or "ASSUMPTION" where the paper
is silent, with the reason. All choices were fixed before any real-data result was seen. Run
with `make reproduce-emotionnet`, or:
    fer-keras run experiments/emotionnet.py --data PATH seeds=0

Out of scope, and why: the 3D-CNN baseline and every CK+ result ("Results and Evaluation")
need CK+'s video sequences, which this suite does not have (FER-2013 holds single images); the
"Sequence Augmentation" step is for CK+ only. The paper's unrelated "Data Set" table (1,300
images from Google, 64x64) matches neither FER-2013 nor CK+ and is not used.
"""

from fer_keras.claims.ledger import Consistent, Order, Robust, Value
from fer_keras.data.augment import AugmentConfig
from fer_keras.data.preprocess import PreprocessConfig
from fer_keras.train.config import ExperimentConfig
from fer_keras.train.reproduce import NoiseGain, Publish, Report, Run

PROPOSED = "emotionnet_pp"
# Both readings of the pooling padding (models/emotionnet.py), then the two FER-2013 baselines
# the paper names ("CNN-only, CNN-GRU"); the CNN-only one is also the "without the LSTM
# component" ablation.
MODELS = ("emotionnet_pp", "emotionnet_pp_seq4", "emotionnet_cnn", "emotionnet_cnn_gru")
PP = f"csv/{PROPOSED}"
BASELINES = ("csv/emotionnet_cnn", "csv/emotionnet_cnn_gru")  # "CNN-only, CNN-GRU" on FER-2013
# The same claims stand beside the other reading of the architecture's pooling.
SEQ4 = {"'same' pooling, 4 LSTM steps (emotionnet_pp_seq4)": {PP: "csv/emotionnet_pp_seq4"}}
# A number stands beside the reading of the training with class-wise augmentation too.
READINGS = {**SEQ4, "class-wise augmentation (variant classwise-aug)": {
    PP: f"{PP}+classwise-aug"}}
# "FER2013 Results", as printed (percent).
FER2013_RESULTS = {"accuracy": ("Accuracy", 90.5), "recall_macro": ("Recall (macro avg)", 87.8),
                   "f1_macro": ("F1-score (macro avg)", 90.0),
                   "precision_macro": ("Precision (macro avg)", 85.3)}
CK = "CK+ is video sequences; this suite has FER-2013 only"

CLAIMS = (
    # "FER2013 Results", every number, and whether they can hold together (first: the
    # number a table prints beside the measured one is the results section's, not the
    # abstract's).
    *(Value(cell=PP, metric=metric, value=value, where="FER2013 Results", readings=READINGS,
            quote=f"{name}: {value}%") for metric, (name, value) in FER2013_RESULTS.items()),
    Consistent(cell=PP, where="FER2013 Results",
               quote="Recall (macro avg): 87.8%, F1-score (macro avg): 90.0%, Precision "
                     "(macro avg): 85.3%"),
    # The central findings: the abstract's and the conclusion's.
    Value(cell=PP, metric="accuracy", value=92.5, central=True, where="Abstract",
          readings=READINGS, quote="Experiments conducted on FER2013 and CK+ datasets demonstrate "
                               "superior accuracy (92.5% and 97.2% respectively)"),
    # ASSUMPTIONS (fixed before any result): "improvements over baselines" read as accuracy
    # on the same test images, McNemar per seed at the claimed p < 0.01; FER-2013 (no data set
    # is named; the only one we have).
    *(Order(better=PP, worse=b, alpha=0.01, central=True, where="Results and Evaluation",
            readings=SEQ4,
            quote="McNemar's test confirms that our model's improvements over baselines are "
                  "statistically significant (p < 0.01)") for b in BASELINES),
    # "Ablation studies demonstrate that excluding preprocessing or the LSTM component reduces
    # accuracy by 4-6%". ASSUMPTIONS: on FER-2013, in percentage points (at 90.5 % a relative
    # 4-6 % would be 3.6-5.4 points); without the LSTM = the CNN-only baseline (the LSTMs
    # become dense layers of the same widths); without preprocessing = the variant
    # no-preprocessing. The abstract's "The results validate the importance of combining
    # spatial-temporal modeling with optimized preprocessing" rests on these two.
    Order(better=PP, worse=f"{PP}+no-preprocessing", size=(4.0, 6.0), central=True,
          where="Results and Evaluation; Abstract",
          quote="excluding preprocessing ... reduces accuracy by 4-6%"),
    Order(better=PP, worse="csv/emotionnet_cnn", size=(4.0, 6.0), central=True,
          where="Results and Evaluation; Abstract", readings=SEQ4,
          quote="excluding ... the LSTM component reduces accuracy by 4-6%"),
    # "particularly in recognizing subtle emotions such as 'Fear', 'surprise' and 'Disgust'"
    # (abstract); "notable improvements in detecting 'Fear' and 'Disgust', two classes often
    # misclassified in other models" (results). ASSUMPTION: better recall on the class's
    # test images than the baselines it is compared with, McNemar per seed on those images.
    *(Order(better=PP, worse=b, metric=f"recall.{cls}", central=True,
            where="Abstract; Results and Evaluation", readings=SEQ4,
            quote="The confusion matrix shows notable improvements in detecting 'Fear' and "
                  "'Disgust'" if cls != "surprise" else
                  "particularly in recognizing subtle emotions such as 'Fear', 'surprise' and "
                  "'Disgust'")
      for cls in ("fear", "disgust", "surprise") for b in BASELINES),
    # ASSUMPTION (no noise levels given): loses less accuracy to Gaussian noise (noise_eval's
    # levels) with its preprocessing than without.
    Robust(cell=PP, than=f"{PP}+no-preprocessing", central=True,
           where="Results and Evaluation",
           quote="EmotionNet++ remains robust under various noise conditions due to its "
                 "preprocessing strategy"),
    # CK+ numbers: listed, not judged (no CK+ here).
    Value(cell=PP, metric="accuracy", value=97.2, where="Abstract", scope=CK,
          quote="superior accuracy (92.5% and 97.2% respectively)"),
    Value(cell=PP, metric="accuracy", value=90.2, where="CK+ Results", scope=CK,
          quote="Accuracy: 90.2%"),
    Value(cell=PP, metric="f1_macro", value=92.8, where="CK+ Results", scope=CK,
          quote="F1-score: 92.8%"),
)

CONFIG = ExperimentConfig(
    name="emotionnet",
    paper="Bhardwaj & Singh, EmotionNet: Enhanced Facial Emotion Recognition Using a Hybrid "
    "CNN-LSTM Architecture with Advanced Preprocessing (EmotionNet++)",
    # "Datasets and Preprocessing": FER-2013's 35,887 images, all of them (the challenge CSV
    # holds exactly these; built from the image export when only that is given). The Usage
    # column is not used: step 5 splits the data set itself.
    formats=("csv",),
    csv_subset="all",
    models=MODELS,
    # ASSUMPTION: the paper reports one run, seed not given. `make reproduce-emotionnet` runs
    # every model with seed 0 first, then seeds 1 and 2 of the proposed model.
    seeds=(0, 1, 2),
    # Step 5: "70% training, 15% validation, and 15% testing splits with class-wise
    # stratification": 25,120 / 5,383 / 5,384 of 35,887.
    split="70/15/15",
    validation="split",
    # Steps 1-2: dlib 68-point eye alignment, then CLAHE, on every image (training, validation
    # and test alike); step 3, scaling to [0, 1], is the pipeline's (the models take [0, 1]).
    # ASSUMPTIONS (none of these is given), written in fer_keras/data/preprocess.py: tilts over
    # 45 degrees are left unrotated as likely landmark errors; CLAHE clip limit 2.0 on an 8x8
    # tile grid (OpenCV's usual values).
    preprocess=PreprocessConfig(align=True, max_angle_deg=45.0, clahe=True, clahe_clip=2.0,
                                clahe_tile=8),
    # Step 4, training batches only. Given: horizontal flips, rotations of +/-10 degrees,
    # zooming, translations, brightness, contrast, Gaussian noise. ASSUMPTION (no ranges given
    # except the rotation): 10 % for zoom, translation, brightness and contrast (the common
    # Keras values for 48x48 faces, as in Ashok's config and Wasey's notebook); noise of
    # standard deviation 0.02 on the [0, 1] scale (about 5 grey levels: visible texture, not
    # a different face).
    augment=AugmentConfig(rotation_deg=10.0, horizontal_flip=True, zoom=0.1, shift=0.1,
                          brightness=0.1, contrast=0.1, noise_std=0.02),
    # The Introduction's "class-wise data augmentation" is not among the five steps of the
    # pipeline the paper actually lists, so it is off here (oversample=False) and runs as the
    # variant "classwise-aug" of the proposed model. No class weights: none are named.
    oversample=False,
    class_weights=False,
    # "Training Configuration": Adam, learning rate 0.0001, categorical cross-entropy, early
    # stopping on validation loss with patience 10, batch size 64, 100 epochs.
    optimizer="adam",
    learning_rate=1e-4,
    batch_size=64,
    max_epochs=100,
    early_stopping=True,
    early_stopping_patience=10,
    # ASSUMPTION: the best epoch's weights are kept (the usual Keras practice with early
    # stopping; the paper does not say). No ReduceLROnPlateau: none is named.
    restore_best_weights=True,
    reduce_lr=False,
    deterministic=True,
    # "Results": robust "under various noise conditions due to its preprocessing strategy".
    # ASSUMPTION (no noise levels given): Gaussian noise of standard deviation 0, 5, 10, 20 and
    # 40 grey levels on the raw test images, before each cell's preprocessing.
    noise_eval=(0.0, 5.0, 10.0, 20.0, 40.0),
    # Ablations ("excluding preprocessing or the LSTM component reduces accuracy by 4-6 %"):
    # without the LSTM = the emotionnet_cnn model; without preprocessing = this variant (no
    # alignment, no CLAHE; scaling stays). "classwise-aug": see oversample above; seed 0 only
    # (an exploratory reading, and each of its epochs is 1.75 times as long).
    variants={
        "no-preprocessing": (f"models={PROPOSED}", "preprocess.align=false",
                             "preprocess.clahe=false"),
        "classwise-aug": (f"models={PROPOSED}", "oversample=true", "seeds=0"),
    },
    proposed_model=PROPOSED,
    claims=CLAIMS,
    claimed_notes="'FER2013 Results' of the paper (accuracy 90.5, macro recall 87.8, macro F1 "
    "90.0, macro precision 85.3; the abstract says 92.5 % accuracy). One run, seed not "
    "reported. Claimed without numbers: ablations without preprocessing or without the LSTM "
    "lose 4-6 points; McNemar p < 0.01 against the CNN-only, CNN-GRU and 3D-CNN baselines "
    "(3D-CNN and CK+ are out of scope: no video data); robustness to noise. For comparison, "
    "published single models on FER-2013 without extra training data reach about 73-76 %.",
)


# `fer-keras reproduce emotionnet` (make reproduce-emotionnet): every model (both pooling
# readings, the CNN-only and CNN-GRU baselines) and both variants with the first seed, then the
# proposed model and its variants with every seed; how much the preprocessing enlarges the
# robustness check's noise (noise-gain.json in the run folder, 1,000 random faces: the report
# shows it beside the robustness curves, so it comes first); the report; the proposed model
# published. Alignment + CLAHE of all 35,887 faces (about 2 minutes) is computed once and cached
# in the run folder.
REPRODUCE = (
    Run(seeds="first"),
    Run(models=("emotionnet_pp",)),
    NoiseGain(),
    Report(),
    Publish(models=("emotionnet_pp",)),
)
