"""Reference fills that every completion method is compared against."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def nearest_fill(sparse: np.ndarray) -> np.ndarray:
    """Every pixel takes the depth of its nearest measurement (Euclidean, in pixels).

    Args:
        sparse: (H, W) float32 metres, 0 = none.

    Returns:
        (H, W) float32 metres; all 0 when there is no measurement.
    """
    if not np.any(sparse > 0):
        return np.zeros_like(sparse, dtype=np.float32)
    rows, cols = ndimage.distance_transform_edt(sparse <= 0, return_distances=False, return_indices=True)
    return sparse[rows, cols].astype(np.float32)
