"""tf.data input pipeline: shuffle, batch, channel adaptation, scaling exactly once, cache,
augment, prefetch.

The pipeline does not know models. The caller says how many channels the consumer wants and
whether it wants raw 0..255 pixels (a model whose first layer is a Rescaling layer) or [0, 1]
(every other model); the pipeline converts grey <-> RGB and divides by 255 only in the second
case, so pixels are divided by 255 exactly once (Özer §2.1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..labels import NUM_CLASSES
from .augment import AugmentConfig, build_augmenter

# Fixed parallelism instead of tf.data AUTOTUNE. Measured with TensorFlow 2.21 here: with
# AUTOTUNE on, a `fit` call over a fresh iterator returns only at about 5.1, 10.2 or 20.5 s
# after it started, waiting after its last batch (a 400-batch fit of ozer_cnn_lstm: 20.5 s,
# 9 s of it after the last batch; the waits double like a backoff timer), and every epoch
# ends like that. With AUTOTUNE off: 7.8 s, no wait. A batch map with one call per core and
# two prefetched batches keep the model fed (`make bench`).
PARALLEL_CALLS = os.cpu_count() or 1
PREFETCH_BATCHES = 2


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


@dataclass(frozen=True)
class InputSpec:
    """What the consumer of the pipeline expects."""

    channels: int  # 1 (grey) or 3 (RGB made of three identical grey channels)
    raw_pixels: bool  # True: 0..255 floats; False: [0, 1]


def adapt_images(images: tf.Tensor, spec: InputSpec) -> tf.Tensor:
    """uint8 (..., h, w, c) -> float32 with spec's channels and scale."""
    x = tf.cast(images, tf.float32)
    have = images.shape[-1]
    if have == 1 and spec.channels == 3:
        x = tf.repeat(x, 3, axis=-1)  # what image_dataset_from_directory gives a grey JPEG
    elif have == 3 and spec.channels == 1:
        x = tf.reduce_mean(x, axis=-1, keepdims=True)
    elif have != spec.channels:
        raise ValueError(f"cannot adapt {have} channel(s) to {spec.channels}")
    if not spec.raw_pixels:
        x = x / 255.0
    return x


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    spec: InputSpec,
    *,
    batch_size: int,
    training: bool,
    seed: int = 0,
    augment: AugmentConfig | None = None,
    num_classes: int = NUM_CLASSES,
) -> tf.data.Dataset:
    """Batches of (float32 images, one-hot labels) for categorical cross-entropy.

    Training data is shuffled every epoch (seeded) and augmented when `augment` enables it;
    evaluation data keeps its order and is never augmented.
    """
    # The uint8 arrays are already in memory, so the source needs no cache. Shuffling acts on
    # single images; channel adaptation, scaling and one-hot act on whole batches (one
    # vectorised op per batch instead of one per image). Evaluation batches never change, so
    # they are cached after adaptation.
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if training:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda x, y: (adapt_images(x, spec), tf.one_hot(y, num_classes)),
                num_parallel_calls=PARALLEL_CALLS, deterministic=True)
    if not training:
        ds = ds.cache()
    augmenter = build_augmenter(augment, (0.0, 255.0) if spec.raw_pixels else (0.0, 1.0), seed) \
        if (training and augment is not None) else None
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y),
                    num_parallel_calls=PARALLEL_CALLS, deterministic=True)
    return ds.prefetch(PREFETCH_BATCHES).with_options(_options())
