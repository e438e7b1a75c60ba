"""The rays of a depth image: every valid pixel is a ray from the camera centre into a grid's frame.

What occupancy insertion (:func:`~depth_completion_ros.pipeline.occupancy.insert_points`) and the
geometry occupancy model's features start from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import depth_to_points
from depth_completion_ros.geometry.transforms import transform_points


@dataclass(frozen=True)
class DepthRays:
    """The rays of a depth image in a grid's frame (what :func:`~depth_completion_ros.pipeline.occupancy.insert_points` takes).

    Attributes:
        points: (N, 3) float64 endpoints in metres, one per valid pixel (row-major order).
        origin: (3,) the camera centre.
        ray_mask: (N,) bool, the points whose rays are traced for free space (None: all).
        labels: (N,) class ids of the points (None without a semantic image).
    """

    points: np.ndarray
    origin: np.ndarray
    ray_mask: np.ndarray | None = None
    labels: np.ndarray | None = None


def depth_rays(depth: np.ndarray, camera: CameraModel, T_grid_camera: np.ndarray, semantic: np.ndarray | None = None,
               stride: int = 1, ray_stride: int | None = None) -> DepthRays:
    """The rays of one depth image (every valid pixel is a ray from the camera centre).

    Args:
        depth: (H, W) float32 metres, 0 / NaN / Inf = no measurement (REP 118 inputs
            converted by the caller).
        camera: the depth image's camera model; ``T_grid_camera``: (4, 4) grid frame <- the
            frame the model projects from (its optical frame, or camera 0 for KITTI's P2);
            rays start at the model's :func:`camera_centre`.
        semantic: optional (H, W) class ids, carried into the voxels.
        stride: use every ``stride``-th row and column (a cheaper, coarser insert).
        ray_stride: trace free space along the rays of every ``ray_stride``-th row and
            column only (default: ``stride``); the other pixels still mark their hits.
    """
    cam = camera.image_model()
    if depth.shape != (cam.height, cam.width):
        raise BadInputError("depth", f"is {depth.shape[1]}x{depth.shape[0]}, its camera is {cam.width}x{cam.height}")
    depth = np.asarray(depth, dtype=np.float32)
    if stride > 1:
        sparse = np.zeros_like(depth)
        sparse[::stride, ::stride] = depth[::stride, ::stride]
        depth = sparse
    depth = np.nan_to_num(depth, nan=0.0, posinf=0.0, neginf=0.0)
    points, _ = depth_to_points(depth, cam)
    ray_mask = None
    if ray_stride is not None and ray_stride > 1 and ray_stride != stride:
        pixel = np.flatnonzero(depth.reshape(-1) > 0)  # depth_to_points' row-major order
        ray_mask = (pixel // cam.width % ray_stride == 0) & (pixel % cam.width % ray_stride == 0)
    labels = None
    if semantic is not None:
        flat = depth.reshape(-1)
        labels = np.asarray(semantic).reshape(-1)[np.flatnonzero(np.isfinite(flat) & (flat > 0))]
    T = np.asarray(T_grid_camera, dtype=np.float64)
    origin = transform_points(T, camera_centre(cam)[None])[0]
    return DepthRays(transform_points(T, points), origin, ray_mask, labels)


def camera_centre(camera: CameraModel) -> np.ndarray:
    """(3,) optical centre in the frame the camera model projects from.

    A rectified model's ``P = Kp [I | t]`` may project from another camera's frame (KITTI's
    P2 takes camera-0 points, its centre 6 cm away): the centre solves ``P [C_rect; 1] = 0``
    and is rotated back by R. A raw model (K, D) projects from its own centre, the origin.
    """
    model = camera.image_model()
    if not model.rectified:
        return np.zeros(3)
    return model.R.T @ -np.linalg.solve(model.P[:, :3], model.P[:, 3])
