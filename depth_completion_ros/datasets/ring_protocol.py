"""Held-out-ring depth-completion protocols: a LiDAR scan split into input and ground truth.

Real data has no dense ground truth, so some LiDAR rings form the sparse input and the
other rings, after an occlusion filter, the ground truth. The filter runs on *all* points,
so an input point can hide a ground-truth point behind it (LiDAR/camera parallax).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame, write_frame
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import (
    occlusion_filter,
    points_to_sparse_depth,
    project_to_pixels,
    zbuffer,
)


@dataclass(frozen=True)
class ProtocolFrame:
    """One protocol frame: the input and the ground truth (float32 metres, 0 = none)."""

    frame: CompletionFrame
    ground_truth: np.ndarray


def split_input_and_ground_truth(
    points: np.ndarray, camera: CameraModel, T_camera_lidar: np.ndarray, input_points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse input and occlusion-filtered ground truth from one scan.

    Args:
        points: (N, 3+) the whole scan, LiDAR frame.
        camera: the (cropped) camera.
        T_camera_lidar: (4, 4) camera <- LiDAR.
        input_points: (N,) bool, True for the points that form the input.

    Returns:
        ``(sparse, ground_truth)``, (H, W) float32 metres, 0 = none.
    """
    sparse = points_to_sparse_depth(points[input_points], camera, T_camera_lidar)
    nearest, winner = zbuffer(project_to_pixels(points, camera, T_camera_lidar), camera.height, camera.width)
    visible = occlusion_filter(nearest) > 0
    held_out = visible & (winner >= 0) & ~input_points[np.maximum(winner, 0)]
    return sparse, np.where(held_out, nearest, np.float32(0)).astype(np.float32)


def write_protocol(frames: list[ProtocolFrame], out_dir: str | Path) -> Path:
    """Write the frames in the KITTI depth-completion layout (with ``groundtruth_depth/``)."""
    for item in frames:
        write_frame(out_dir, item.frame, item.ground_truth)
    return Path(out_dir)
