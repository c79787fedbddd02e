"""Training-time augmentation as Keras preprocessing layers, configured per paper.

Applied inside the tf.data pipeline to training batches only (never validation or test).
Values are fractions as Keras defines them, except rotation, given in degrees as papers give it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keras is imported only when augmentation is built: configs stay light
    import keras


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 0.0  # Ashok §3.3: "up to 15 degrees"
    horizontal_flip: bool = False
    zoom: float = 0.0  # fraction, e.g. 0.1 = up to 10 % in or out
    shift: float = 0.0  # fraction of height/width
    shear: float = 0.0  # shear intensity, Keras RandomShear factor
    brightness: float = 0.0  # fraction of the value range
    contrast: float = 0.0
    noise_std: float = 0.0  # Gaussian noise, in the units of the scaled input
    # Random crop of up to this fraction of height and width, resized back to the input size
    # (Ashok §3.3 "cropping the unnecessary background"). Added later: left out of a cell's
    # identity at its default (fer_keras.train.config.ADDED).
    crop: float = field(default=0.0, metadata={"omit_at_default": True})

    @property
    def enabled(self) -> bool:
        return any([self.rotation_deg, self.horizontal_flip, self.zoom, self.shift, self.shear,
                    self.brightness, self.contrast, self.noise_std, self.crop])

    def validate(self) -> None:
        """Ranges Keras' layers accept; a ValueError names the key (the config layer turns it
        into its own error)."""
        limits = {"rotation_deg": 180.0, "zoom": 0.99, "shift": 0.99, "shear": 1.0,
                  "brightness": 1.0, "contrast": 1.0, "noise_std": 255.0, "crop": 0.5}
        for key, high in limits.items():
            value = getattr(self, key)
            if not 0 <= value <= high:
                raise ValueError(f"augment.{key}={value}: expected 0 <= value <= {high}")


def build_augmenter(cfg: AugmentConfig, value_range: tuple[float, float], seed: int = 0,
                    size: tuple[int, int] = (48, 48)) -> keras.Sequential | None:
    """A Sequential of augmentation layers, or None when the config enables none. `size`:
    the images' height and width (a crop is resized back to it)."""
    if not cfg.enabled:
        return None
    import keras
    from keras import layers

    parts: list[keras.layers.Layer] = []
    if cfg.rotation_deg:
        parts.append(layers.RandomRotation(cfg.rotation_deg / 360.0, fill_mode="nearest",
                                           seed=seed, name="aug_rotation"))
    if cfg.horizontal_flip:
        parts.append(layers.RandomFlip("horizontal", seed=seed, name="aug_flip"))
    if cfg.zoom:
        parts.append(layers.RandomZoom(cfg.zoom, fill_mode="nearest", seed=seed, name="aug_zoom"))
    if cfg.shift:
        parts.append(layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="nearest",
                                              seed=seed, name="aug_shift"))
    if cfg.shear:
        parts.append(layers.RandomShear(x_factor=cfg.shear, y_factor=cfg.shear,
                                        fill_mode="nearest", seed=seed, name="aug_shear"))
    if cfg.brightness:
        parts.append(layers.RandomBrightness(cfg.brightness, value_range=value_range, seed=seed,
                                             name="aug_brightness"))
    if cfg.contrast:
        parts.append(layers.RandomContrast(cfg.contrast, value_range=value_range, seed=seed,
                                           name="aug_contrast"))
    if cfg.crop:  # a window of (1 - crop) of each side at a random place, back to full size
        h, w = (max(1, round((1 - cfg.crop) * d)) for d in size)
        parts.append(layers.RandomCrop(h, w, seed=seed, name="aug_crop"))
        parts.append(layers.Resizing(*size, interpolation="bilinear", name="aug_crop_resize"))
    if cfg.noise_std:
        parts.append(layers.GaussianNoise(cfg.noise_std, seed=seed, name="aug_noise"))
    return keras.Sequential(parts, name="augmentation")
