"""The disparity map a stereo matcher produces (ROS-free; ``ros/disparity.py`` converts it
to and from ``stereo_msgs/DisparityImage``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Disparity:
    """A disparity map with what is needed to turn it into depth (``z = f * T / d``).

    Attributes:
        disparity: (H, W) float32 pixels, ``x_left - x_right``.
        valid: (H, W) bool, True where the disparity is a measurement.
        focal_px: focal length in pixels.
        baseline_m: stereo baseline in metres.
        min_disparity, max_disparity: searched range in pixels.
        delta_d: smallest resolvable disparity step in pixels.
    """

    disparity: np.ndarray
    valid: np.ndarray
    focal_px: float
    baseline_m: float
    min_disparity: float
    max_disparity: float
    delta_d: float

    def to_depth(self) -> np.ndarray:
        """(H, W) float32 depth in metres, 0 where invalid or disparity <= 0."""
        usable = self.valid & (self.disparity > 0)
        depth = np.zeros(self.disparity.shape, dtype=np.float32)
        depth[usable] = self.focal_px * self.baseline_m / self.disparity[usable]
        return depth
