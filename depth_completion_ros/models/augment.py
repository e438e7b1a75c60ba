"""Disruption augmentations (Sparse Beats Dense), shared by LiDAR and radar training.

They break the position pattern a network would otherwise learn from one sensor setup
(LiDAR rings always on the same image rows, the same focal length, the same colours):

* :func:`rescale_and_crop`: resize by a random factor and crop; the camera follows
  through :meth:`CameraModel.resized` and :meth:`CameraModel.cropped` (the one intrinsics
  function), so points re-projected with the new camera land on the new pixels;
* :func:`flip_horizontal`: mirror the image-space arrays (applied after projection, so no
  camera model is needed);
* :func:`colour_jitter`: brightness, contrast, saturation and a per-channel gain;
* :func:`blur`: Gaussian blur of the RGB.

All work on numpy arrays: RGB (H, W, 3) uint8, depth-like (H, W) float32 metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from depth_completion_ros.geometry.camera import CameraModel


@dataclass(frozen=True)
class DisruptionConfig:
    """Probabilities and ranges of the disruption augmentations.

    Attributes:
        scale_range: (min, max) resize factor of :func:`rescale_and_crop`.
        flip_probability: probability of a horizontal flip.
        jitter_probability: probability of :func:`colour_jitter`.
        jitter_strength: maximum relative change of brightness, contrast, saturation, gains.
        blur_probability: probability of :func:`blur`.
        blur_sigma_range: (min, max) Gaussian sigma in pixels.
    """

    scale_range: tuple[float, float] = (0.7, 1.3)
    flip_probability: float = 0.5
    jitter_probability: float = 0.8
    jitter_strength: float = 0.3
    blur_probability: float = 0.3
    blur_sigma_range: tuple[float, float] = (0.5, 1.5)

    @classmethod
    def from_dict(cls, data: dict) -> DisruptionConfig:
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        return cls(**values)


def random_crop_window(rng: np.random.Generator, width: int, height: int, crop_width: int, crop_height: int,
                       bottom_bias: float = 0.0) -> tuple[int, int]:
    """Top-left ``(x, y)`` of a crop inside a ``width x height`` image.

    ``bottom_bias`` in [0, 1] moves the vertical draw towards the bottom rows (where a
    front camera sees the ground and the LiDAR returns; the top rows are mostly sky).
    """
    x = int(rng.integers(0, width - crop_width + 1))
    span = height - crop_height
    y = int(round(span * (bottom_bias + (1 - bottom_bias) * rng.random())))
    return x, y


def rescale_and_crop(rgb: np.ndarray, depth_maps: list[np.ndarray], camera: CameraModel, scale: float,
                     crop: tuple[int, int, int, int]) -> tuple[np.ndarray, list[np.ndarray], CameraModel]:
    """Resize by ``scale`` then crop ``(x, y, width, height)`` of the resized image.

    RGB is resized bilinearly, depth maps by nearest neighbour (no mixed depths at edges).

    Returns:
        ``(rgb, depth_maps, camera)`` of the crop; the camera is
        ``camera.resized(...).cropped(...)``.
    """
    cam = camera.image_model()
    new_w, new_h = int(round(cam.width * scale)), int(round(cam.height * scale))
    x, y, w, h = crop
    if x < 0 or y < 0 or x + w > new_w or y + h > new_h:
        raise ValueError(f"crop {crop} does not fit the {new_w}x{new_h} resized image")
    resized_camera = cam.resized(new_w, new_h)
    rgb = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)[y : y + h, x : x + w]
    depth_maps = [cv2.resize(d, (new_w, new_h), interpolation=cv2.INTER_NEAREST)[y : y + h, x : x + w]
                  for d in depth_maps]
    return np.ascontiguousarray(rgb), depth_maps, resized_camera.cropped(x, y, w, h)


def random_rescale_and_crop(rng: np.random.Generator, rgb: np.ndarray, depth_maps: list[np.ndarray],
                            camera: CameraModel, crop_size: tuple[int, int], scale_range: tuple[float, float],
                            bottom_bias: float = 0.5) -> tuple[np.ndarray, list[np.ndarray], CameraModel]:
    """:func:`rescale_and_crop` with a random scale (at least large enough for the crop) and window."""
    cam = camera.image_model()
    crop_w, crop_h = crop_size
    smallest = max(crop_w / cam.width, crop_h / cam.height)
    scale = max(float(rng.uniform(*scale_range)), smallest)
    new_w, new_h = int(round(cam.width * scale)), int(round(cam.height * scale))
    x, y = random_crop_window(rng, new_w, new_h, crop_w, crop_h, bottom_bias)
    return rescale_and_crop(rgb, depth_maps, camera, scale, (x, y, crop_w, crop_h))


def flip_horizontal(rgb: np.ndarray, image_maps: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mirror left-right (use on arrays already projected; the camera is not needed after)."""
    return np.ascontiguousarray(rgb[:, ::-1]), [np.ascontiguousarray(m[:, ::-1]) for m in image_maps]


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random brightness, contrast, saturation and per-channel gain, each within ``1 +- strength``."""
    image = rgb.astype(np.float32) / 255.0
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, 3)
    gains = rng.uniform(1 - strength / 3, 1 + strength / 3, 3)
    image = image * brightness
    image = (image - image.mean()) * contrast + image.mean()
    grey = image.mean(axis=2, keepdims=True)
    image = (image - grey) * saturation + grey
    image = image * gains
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with ``sigma`` pixels."""
    return cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma)


def disrupt_appearance(rgb: np.ndarray, rng: np.random.Generator, config: DisruptionConfig) -> np.ndarray:
    """Colour jitter and blur, each with its probability."""
    if rng.random() < config.jitter_probability:
        rgb = colour_jitter(rgb, rng, config.jitter_strength)
    if rng.random() < config.blur_probability:
        rgb = blur(rgb, float(rng.uniform(*config.blur_sigma_range)))
    return rgb
