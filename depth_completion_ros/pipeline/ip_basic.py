"""IP-Basic: the published classical depth completion, as a reference (OpenCV + numpy).

Re-implemented from the paper's description (Ku, Harakeh and Waslander, "In Defense of Classical Image Processing: Fast Depth Completion on the CPU",
CRV 2018), every kernel and switch a parameter with the published default:

* ``ip_basic``: the fast pipeline on inverted depth ``d' = 100 - d``: diamond dilation,
  close, 7x7 hole fill, optional top extrapolation + 31x31 fill, median 5, then a
  bilateral (best MAE) or valid-pixel Gaussian (best RMSE) blur, invert back;
* ``ip_basic_multiscale``: range-dependent cross-kernel dilations (near <= 15 m, 15-30 m,
  far > 30 m) then masked hole fills.

Published results on the KITTI depth-completion test set (64-beam input): multi-scale with
extrapolation and Gaussian blur, RMSE 1288 mm / MAE 302 mm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

from depth_completion_ros.errors import BadInputError

DEFAULT_INVERT_OFFSET = 100.0  # metres, as published
_KERNEL_SPEC = re.compile(r"^(full|diamond|cross)(\d+)$")


def make_kernel(spec: str) -> np.ndarray:
    """A square uint8 structuring element from a name such as ``diamond5``, ``cross7``, ``full31``.

    ``full``: all ones; ``diamond``: ``|dx| + |dy| <= r``; ``cross``: centre row and column.
    """
    match = _KERNEL_SPEC.match(spec)
    if not match or int(match[2]) % 2 == 0:
        raise BadInputError("kernel", f"'{spec}' is not full|diamond|cross followed by an odd size, e.g. diamond5")
    shape, size = match[1], int(match[2])
    radius = size // 2
    dy, dx = np.abs(np.mgrid[-radius : radius + 1, -radius : radius + 1])
    if shape == "full":
        return np.ones((size, size), np.uint8)
    if shape == "diamond":
        return (dx + dy <= radius).astype(np.uint8)
    return ((dx == 0) | (dy == 0)).astype(np.uint8)


def invert_depth(depth: np.ndarray, offset: float, threshold: float) -> np.ndarray:
    """``offset - d`` where ``d > threshold``, else 0: near objects get large values, so a
    dilation (max filter) lets the nearer surface win at depth edges. Its own inverse."""
    return np.where(depth > threshold, np.float32(offset) - depth, np.float32(0)).astype(np.float32)


def _fill_empty(depth: np.ndarray, kernel: np.ndarray, threshold: float, where: np.ndarray | None = None) -> np.ndarray:
    """Pixels ``< threshold`` (and in ``where``) take the dilation of ``depth`` with ``kernel``."""
    empty = depth < threshold if where is None else (depth < threshold) & where
    return np.where(empty, cv2.dilate(depth, kernel), depth)


def _below_top_measurement(inverted: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) bool: True at and below each column's top-most valid pixel.

    An empty column is all True, as in the published code (``argmax`` of no hit is row 0).
    """
    top_row = np.argmax(inverted > threshold, axis=0)
    return np.arange(inverted.shape[0])[:, None] >= top_row[None, :]


def _extrapolate_to_top(inverted: np.ndarray, threshold: float) -> np.ndarray:
    """Copy each column's top-most valid value up to row 0."""
    valid = inverted > threshold
    top_row = np.argmax(valid, axis=0)
    top_value = inverted[top_row, np.arange(inverted.shape[1])]
    above = np.arange(inverted.shape[0])[:, None] < top_row[None, :]
    return np.where(above, top_value[None, :], inverted).astype(np.float32)


@dataclass(frozen=True)
class BlurParams:
    """Final smoothing: ``bilateral`` (best MAE), ``gaussian`` on valid pixels (best RMSE) or ``none``."""

    blur: str = "bilateral"
    gaussian_size: int = 5
    bilateral_diameter: int = 5
    bilateral_sigma_color: float = 1.5
    bilateral_sigma_space: float = 2.0


def _final_blur(inverted: np.ndarray, p: BlurParams, threshold: float, where: np.ndarray | None = None) -> np.ndarray:
    """Smooth the valid pixels (and ``where``, when given) of an inverted depth map."""
    valid = inverted > threshold if where is None else (inverted > threshold) & where
    if p.blur == "bilateral":
        blurred = cv2.bilateralFilter(inverted, p.bilateral_diameter, p.bilateral_sigma_color, p.bilateral_sigma_space)
    elif p.blur == "gaussian":
        blurred = cv2.GaussianBlur(inverted, (p.gaussian_size, p.gaussian_size), 0)
    elif p.blur == "none":
        return inverted
    else:
        raise BadInputError("blur", f"'{p.blur}' is not bilateral, gaussian or none")
    if p.blur == "bilateral" and where is None:
        return blurred  # the fast pipeline blurs the whole map, as published
    return np.where(valid, blurred, inverted).astype(np.float32)


@dataclass(frozen=True)
class IPBasicParams(BlurParams):
    """Parameters of the fast IP-Basic pipeline; defaults are the published ones.

    Attributes:
        invert_offset: metres; inversion ``d' = invert_offset - d``.
        valid_threshold: metres; depths (and inverted values) at or below it are empty.
        dilation_kernel, close_kernel, hole_fill_kernel, large_fill_kernel: kernels
            (see :func:`make_kernel`).
        extrapolate: copy each column's top value to the image top, then fill holes with
            ``large_fill_kernel``.
        median_size: median blur aperture (0 = off).
    """

    invert_offset: float = DEFAULT_INVERT_OFFSET
    valid_threshold: float = 0.1
    dilation_kernel: str = "diamond5"
    close_kernel: str = "full5"
    hole_fill_kernel: str = "full7"
    extrapolate: bool = False
    large_fill_kernel: str = "full31"
    median_size: int = 5


def ip_basic_fast(sparse: np.ndarray, p: IPBasicParams = IPBasicParams()) -> np.ndarray:
    """The fast IP-Basic pipeline.

    As published, the bilateral blur runs over the whole inverted map, holes included, so
    a pixel next to a hole can come out near ``invert_offset`` metres; dense 64-beam
    input hides this, very sparse input shows it (see the benchmark's nuScenes rows).

    Args:
        sparse: (H, W) float32 metres, 0 = no measurement.

    Returns:
        (H, W) float32 metres, 0 where nothing was filled.
    """
    t = p.valid_threshold
    depth = invert_depth(sparse, p.invert_offset, t)
    depth = cv2.dilate(depth, make_kernel(p.dilation_kernel))
    depth = cv2.morphologyEx(depth, cv2.MORPH_CLOSE, make_kernel(p.close_kernel))
    depth = _fill_empty(depth, make_kernel(p.hole_fill_kernel), t)
    if p.extrapolate:
        depth = _extrapolate_to_top(depth, t)
        depth = _fill_empty(depth, make_kernel(p.large_fill_kernel), t)
    if p.median_size:
        depth = cv2.medianBlur(depth, p.median_size)
    depth = _final_blur(depth, p, t)
    return invert_depth(depth, p.invert_offset, t)


@dataclass(frozen=True)
class MultiscaleParams(BlurParams):
    """Parameters of the multi-scale IP-Basic pipeline; defaults are the published ones.

    Attributes:
        near_max, medium_max: metres; range bins ``(0.1, near_max]``, ``(near_max,
            medium_max]`` and beyond, dilated with ``near_kernel``, ``medium_kernel`` and
            ``far_kernel`` (larger kernels for nearer, sparser-in-pixels surfaces).
        hole_fill_kernel: fill of empty pixels below each column's top measurement.
        masked_fill_kernel, masked_fill_iterations: repeated fills of the remaining holes
            (below the top measurement unless ``extrapolate``).
    """

    bilateral_sigma_color: float = 0.5
    invert_offset: float = DEFAULT_INVERT_OFFSET
    valid_threshold: float = 0.1
    near_max: float = 15.0
    medium_max: float = 30.0
    near_kernel: str = "cross7"
    medium_kernel: str = "cross5"
    far_kernel: str = "cross3"
    close_kernel: str = "full5"
    median_size: int = 5
    hole_fill_kernel: str = "full9"
    extrapolate: bool = False
    masked_fill_kernel: str = "full5"
    masked_fill_iterations: int = 6


def _masked_median(inverted: np.ndarray, size: int, where: np.ndarray) -> np.ndarray:
    return np.where(where, cv2.medianBlur(inverted, size), inverted).astype(np.float32) if size else inverted


def ip_basic_multiscale(sparse: np.ndarray, p: MultiscaleParams = MultiscaleParams()) -> np.ndarray:
    """The multi-scale IP-Basic pipeline; same input and output as :func:`ip_basic_fast`."""
    t = p.valid_threshold
    inverted = invert_depth(sparse, p.invert_offset, t)
    bins = (
        (sparse > p.medium_max, p.far_kernel),
        ((sparse > p.near_max) & (sparse <= p.medium_max), p.medium_kernel),
        ((sparse > t) & (sparse <= p.near_max), p.near_kernel),
    )
    depth = inverted
    for in_bin, kernel in bins:  # far first, so nearer bins overwrite
        dilated = cv2.dilate(np.where(in_bin, inverted, np.float32(0)), make_kernel(kernel))
        depth = np.where(dilated > t, dilated, depth)
    depth = cv2.morphologyEx(depth, cv2.MORPH_CLOSE, make_kernel(p.close_kernel))
    depth = _masked_median(depth, p.median_size, depth > t)
    depth = _fill_empty(depth, make_kernel(p.hole_fill_kernel), t, _below_top_measurement(depth, t))
    if p.extrapolate:
        depth = _extrapolate_to_top(depth, t)
        fill_region = np.ones(depth.shape, bool)
    else:
        fill_region = _below_top_measurement(depth, t)
    masked_kernel = make_kernel(p.masked_fill_kernel)
    for _ in range(p.masked_fill_iterations):
        depth = _fill_empty(depth, masked_kernel, t, fill_region)
    depth = _masked_median(depth, p.median_size, (depth > t) & fill_region)
    depth = _final_blur(depth, p, t, where=fill_region)
    return invert_depth(depth, p.invert_offset, t)
