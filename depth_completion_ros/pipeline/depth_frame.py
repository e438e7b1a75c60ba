"""One synchronized frame in, dense depth out: the single code path shared by the
depth-completion node, ``dcr`` tools and the tests.

Sparse inputs are projected with the shared projection code
(:func:`geometry.projection.points_to_sparse_depth`), then completed by a
:class:`pipeline.engine.CompletionEngine`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import points_to_sparse_depth
from depth_completion_ros.geometry.transforms import transform_points
from depth_completion_ros.pipeline.engine import CompletionEngine, DepthResult


@dataclass(frozen=True)
class DepthFrame:
    """The arrays of one synchronized set.

    Attributes:
        rgb: (H, W, 3) uint8 RGB image.
        camera: the image's camera model.
        lidar_points: (N, 3+) float32 metres in the LiDAR frame (finite points only), or
            None for a rig without LiDAR (the method gets an all-zero sparse input).
        T_camera_lidar: (4, 4) camera optical frame <- LiDAR frame (None without LiDAR).
        radar_points: optional (M, 3+) float32 metres in the radar frame.
        T_camera_radar: (4, 4) camera optical frame <- radar frame (needed with radar).
    """

    rgb: np.ndarray
    camera: CameraModel
    lidar_points: np.ndarray | None
    T_camera_lidar: np.ndarray | None
    radar_points: np.ndarray | None = None
    T_camera_radar: np.ndarray | None = None


@dataclass(frozen=True)
class DepthFrameResult:
    """What a frame produced: the projected sparse input and the completed depth."""

    sparse: np.ndarray
    result: DepthResult


def lidar_depth(frame: DepthFrame, min_depth: float, max_depth: float,
                occlusion_window: int | None = None) -> np.ndarray:
    """(H, W) float32 sparse depth of the frame's LiDAR points, metres (0 = none; all 0
    for a frame without LiDAR).

    Raises:
        BadInputError: an empty LiDAR cloud, or no LiDAR point inside the image.
    """
    cam = frame.camera.image_model()
    if frame.lidar_points is None:
        return np.zeros((cam.height, cam.width), np.float32)
    if frame.lidar_points.shape[0] == 0:
        raise BadInputError("lidar", "the cloud is empty")
    sparse = points_to_sparse_depth(frame.lidar_points, cam, frame.T_camera_lidar, min_depth, max_depth,
                                    occlusion_window)
    if not np.any(sparse):
        raise BadInputError("lidar.projection", "no point projects into the image: check the LiDAR extrinsics and frame")
    return sparse


def complete_frame(engine: CompletionEngine, frame: DepthFrame, occlusion_window: int | None = None) -> DepthFrameResult:
    """Project the LiDAR (and radar) points and complete the depth of one frame (a frame
    without LiDAR completes from the image and radar alone).

    Args:
        occlusion_window: if set, drop LiDAR points occluded within this pixel window
            (parallax between LiDAR and camera) before completion.

    Raises:
        BadInputError: an empty LiDAR cloud, no LiDAR point inside the image, or an
            image whose size disagrees with the camera.
    """
    cam = frame.camera.image_model()
    if frame.rgb.shape[:2] != (cam.height, cam.width):
        raise BadInputError(
            "image", f"is {frame.rgb.shape[1]}x{frame.rgb.shape[0]} but its CameraInfo says {cam.width}x{cam.height}"
        )
    sparse = lidar_depth(frame, engine.min_depth, engine.max_depth, occlusion_window)
    radar = None
    if frame.radar_points is not None and frame.radar_points.shape[0] and frame.T_camera_radar is not None:
        radar = frame.radar_points.copy()
        radar[:, :3] = transform_points(frame.T_camera_radar, frame.radar_points[:, :3])
    return DepthFrameResult(sparse, engine.complete(frame.rgb, sparse, cam, radar))
