"""tf.data input pipeline: shuffle, batch, channel adaptation, scaling exactly once, cache,
augment, prefetch.

Every random choice of a training pipeline in epoch e (the shuffle order, each augmentation)
is a function of (seed, e) alone, read from an `EpochClock` that the trainer sets at the start
of each epoch. So a run killed after epoch k and resumed draws in epoch k + 1 exactly what an
uninterrupted run draws: nothing random continues from state that a restart would lose.

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

from ..core.labels import NUM_CLASSES
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


SEED_STATE = "seed_generator_state"  # the variable behind each keras.random.SeedGenerator


def reseed(variables, seed: int, epoch: int, salt: int = 0) -> int:
    """Set every Keras SeedGenerator state among `variables` (a model's or an augmenter's
    `.variables`) to a value derived from (seed, epoch, salt, position); returns how many.

    Dropout and augmentation layers draw from such generators; their state is not part of a
    saved model, so a resumed run would otherwise restart them."""
    states = [v for v in variables if v.path.endswith(SEED_STATE)]
    for i, v in enumerate(states):
        word = np.random.SeedSequence([seed, epoch, salt, i]).generate_state(1, np.uint32)[0]
        v.assign(np.array([word, 0], dtype=np.uint32).astype(v.dtype))
    return len(states)


class EpochClock:
    """The epoch a training dataset is in; `set(e)` at the start of epoch e (before its
    iterator is made) fixes that epoch's shuffle order and augmentation draws."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="pipeline_epoch")
        self.augmenters: list = []

    def set(self, epoch: int) -> None:
        self.epoch.assign(epoch)
        for i, augmenter in enumerate(self.augmenters):
            reseed(augmenter.variables, self.seed, epoch, salt=1000 + i)


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
    clock: EpochClock | None = None,
    augment: AugmentConfig | None = None,
    num_classes: int = NUM_CLASSES,
) -> tf.data.Dataset:
    """Batches of (float32 images, one-hot labels) for categorical cross-entropy.

    Training data (`clock` required) is shuffled in an order given by (clock.seed,
    clock.epoch) and augmented when `augment` enables it; evaluation data keeps its order and
    is never augmented.
    """
    # The uint8 arrays are already in memory, so the source needs no cache. Shuffling acts on
    # indices; gathering, channel adaptation, scaling and one-hot act on whole batches (one
    # vectorised op per batch instead of one per image). Evaluation batches never change, so
    # they are cached after adaptation.
    labels = labels.astype(np.int32)
    if training:
        if clock is None:
            raise TypeError("a training dataset needs an EpochClock (its shuffle follows it)")
        n, seed, epoch = len(labels), clock.seed, clock.epoch
        images_t, labels_t = tf.constant(images), tf.constant(labels)

        def epoch_order(_):  # runs when an epoch's iterator starts: reads the clock then
            key = tf.stack([tf.constant(seed, tf.int64), epoch.read_value()])
            return tf.data.Dataset.from_tensor_slices(
                tf.random.experimental.stateless_shuffle(tf.range(n), seed=key))

        ds = tf.data.Dataset.from_tensors(0).flat_map(epoch_order).batch(batch_size)
        # flat_map hides the length; Keras needs it to know an epoch's steps.
        ds = ds.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))
        ds = ds.map(lambda i: (tf.gather(images_t, i), tf.gather(labels_t, i)),
                    num_parallel_calls=PARALLEL_CALLS, deterministic=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    ds = ds.map(lambda x, y: (adapt_images(x, spec), tf.one_hot(y, num_classes)),
                num_parallel_calls=PARALLEL_CALLS, deterministic=True)
    if not training:
        ds = ds.cache()
    augmenter = build_augmenter(augment, (0.0, 255.0) if spec.raw_pixels else (0.0, 1.0),
                                clock.seed, size=images.shape[1:3]) \
        if (training and augment is not None) else None
    if augmenter is not None:
        clock.augmenters.append(augmenter)
        # One call at a time: the augmentation layers advance their seed generators on each
        # call, so parallel calls would draw in a thread-dependent order.
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y))
    return ds.prefetch(PREFETCH_BATCHES).with_options(_options())
