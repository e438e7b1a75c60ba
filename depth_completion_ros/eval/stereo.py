"""Stereo disparity errors, as the Middlebury and KITTI stereo benchmarks count them.

Invalid predictions are filled first by :func:`fill_background` (KITTI devkit's
"interpolate background": each gap takes the smaller of its two horizontal neighbours),
so a sparse matcher pays for its holes instead of being scored on its easy pixels.
"""

from __future__ import annotations

import numpy as np

from depth_completion_ros.stereo.disparity import Disparity


def fill_background(disparity: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W) float32 disparity with each invalid run filled by the smaller of the valid
    values just left and right of it (one side at the image edges; rows without any
    valid pixel become 0)."""
    height, width = disparity.shape
    columns = np.broadcast_to(np.arange(width), (height, width))
    left_index = np.maximum.accumulate(np.where(valid, columns, -1), axis=1)
    right_index = np.minimum.accumulate(np.where(valid, columns, width)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(height)[:, None]
    left_value = np.where(left_index >= 0, disparity[rows, np.clip(left_index, 0, width - 1)], np.inf)
    right_value = np.where(right_index < width, disparity[rows, np.clip(right_index, 0, width - 1)], np.inf)
    filled = np.minimum(left_value, right_value)
    filled = np.where(np.isfinite(filled), filled, 0.0)
    return np.where(valid, disparity, filled).astype(np.float32)


def disparity_errors(predicted: Disparity, ground_truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Errors of a disparity map on the pixels of ``mask`` (e.g. non-occluded, valid GT).

    Returns:
        ``bad1``, ``bad2``: fraction of pixels with an absolute error > 1 and > 2 px;
        ``epe``: mean absolute error in pixels; ``density``: fraction the matcher filled itself.
    """
    filled = fill_background(predicted.disparity, predicted.valid)
    error = np.abs(filled[mask] - ground_truth[mask])
    return {"bad1": float(np.mean(error > 1.0)), "bad2": float(np.mean(error > 2.0)), "epe": float(np.mean(error)),
            "density": float(np.mean(predicted.valid[mask]))}
