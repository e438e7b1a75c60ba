"""Points <-> depth images: z-buffered sparse depth, occlusion filter, back-projection.

Depth images are float32 metres with 0 meaning "no measurement" (see DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from depth_completion_ros.geometry.camera import CameraModel, project, unproject

DEFAULT_MIN_DEPTH = 0.1  # metres; closer returns are the sensor housing or noise
OCCLUSION_RELATIVE_THRESHOLD = 0.1  # DESIGN.md: drop i when (d_i - min neighbour d) / d_i > 0.1
OCCLUSION_WINDOW = 7  # pixels, the neighbourhood of that rule


@dataclass(frozen=True)
class PixelHits:
    """Points that landed inside an image, one entry per point (not yet z-buffered).

    Attributes:
        rows, cols: (M,) int64 pixel indices.
        depth: (M,) float32 depth in metres.
        point_index: (M,) int64 index of each hit in the input point array.
    """

    rows: np.ndarray
    cols: np.ndarray
    depth: np.ndarray
    point_index: np.ndarray


def project_to_pixels(
    points: np.ndarray,
    camera: CameraModel,
    T_camera_points: np.ndarray | None = None,
    min_depth: float = DEFAULT_MIN_DEPTH,
    max_depth: float = np.inf,
) -> PixelHits:
    """Project points and keep those inside the image with ``min_depth < depth <= max_depth``.

    Args:
        points: (N, 3+) points in metres; only the first three columns are used.
        camera: target camera (ROI and binning applied).
        T_camera_points: (4, 4) camera-optical-frame <- points-frame transform; None if the
            points are already in the camera frame.

    Returns:
        The hits, with pixel indices rounded to the nearest pixel centre.
    """
    cam = camera.image_model()
    uv, depth = project(cam, np.asarray(points)[:, :3], T_camera_points)
    with np.errstate(invalid="ignore"):  # NaN/Inf points fail every comparison: dropped
        keep = (depth > min_depth) & (depth <= max_depth)
        index = np.flatnonzero(keep)
        cols = np.floor(uv[index, 0] + 0.5)
        rows = np.floor(uv[index, 1] + 0.5)
        inside = (cols >= 0) & (cols < cam.width) & (rows >= 0) & (rows < cam.height)
    index = index[inside]
    return PixelHits(
        rows=rows[inside].astype(np.int64),
        cols=cols[inside].astype(np.int64),
        depth=depth[index].astype(np.float32),
        point_index=index,
    )


def zbuffer(hits: PixelHits, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the nearest hit per pixel.

    Returns:
        ``(depth, point_index)``: (H, W) float32 metres (0 = empty) and (H, W) int64 index
        of the kept point (-1 = empty; of equally near points, one of them).
    """
    linear = hits.rows * width + hits.cols
    nearest = np.full(height * width, np.inf, dtype=np.float32)
    np.minimum.at(nearest, linear, hits.depth)
    winner = nearest[linear] == hits.depth
    index = np.full(height * width, -1, dtype=np.int64)
    index[linear[winner]] = hits.point_index[winner]
    nearest[index < 0] = 0
    return nearest.reshape(height, width), index.reshape(height, width)


def occlusion_filter(
    sparse_depth: np.ndarray, window: int = OCCLUSION_WINDOW, threshold: float = OCCLUSION_RELATIVE_THRESHOLD
) -> np.ndarray:
    """Drop measurements hidden behind nearer ones (LiDAR/camera parallax "bleeding").

    A pixel with depth ``d`` is dropped when the nearest depth ``m`` in the ``window x
    window`` neighbourhood satisfies ``(d - m) / d > threshold``.

    Args:
        sparse_depth: (H, W) float32 metres, 0 = none.
        window: odd neighbourhood size in pixels.

    Returns:
        (H, W) float32 copy with the occluded measurements set to 0.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"occlusion window must be a positive odd number of pixels, got {window}")
    valid = sparse_depth > 0
    as_far = np.where(valid, sparse_depth, np.float32(np.inf)).astype(np.float32)
    nearest = cv2.erode(as_far, np.ones((window, window), np.uint8), borderType=cv2.BORDER_REPLICATE)
    keep = valid & ((sparse_depth - nearest) <= threshold * sparse_depth)
    return np.where(keep, sparse_depth, np.float32(0)).astype(np.float32)


def points_to_sparse_depth(
    points: np.ndarray,
    camera: CameraModel,
    T_camera_points: np.ndarray | None = None,
    min_depth: float = DEFAULT_MIN_DEPTH,
    max_depth: float = np.inf,
    occlusion_window: int | None = None,
) -> np.ndarray:
    """Project a point cloud into a sparse depth image (nearest point per pixel).

    Args:
        points: (N, 3+) points in metres (extra columns ignored).
        camera: target camera; the output has its delivered image size.
        T_camera_points: (4, 4) camera <- points transform, None if already in camera frame.
        occlusion_window: if set, apply :func:`occlusion_filter` with this window.

    Returns:
        (H, W) float32 depth in metres, 0 = no measurement.
    """
    cam = camera.image_model()
    hits = project_to_pixels(points, cam, T_camera_points, min_depth, max_depth)
    depth, _ = zbuffer(hits, cam.height, cam.width)
    if occlusion_window:
        depth = occlusion_filter(depth, occlusion_window)
    return depth


def depth_to_points(
    depth: np.ndarray, camera: CameraModel, rgb: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Back-project the valid pixels of a depth image.

    Args:
        depth: (H, W) depth in metres; 0, NaN and Inf are invalid.
        camera: the camera of the depth image.
        rgb: optional (H, W, 3) uint8 colours.

    Returns:
        ``(points, colors)``: (N, 3) float32 points in the camera optical frame (row-major
        pixel order) and (N, 3) uint8 colours or None.
    """
    cam = camera.image_model()
    if depth.shape != (cam.height, cam.width):
        raise ValueError(f"depth is {depth.shape[1]}x{depth.shape[0]}, camera is {cam.width}x{cam.height}")
    flat = depth.reshape(-1)
    valid = np.flatnonzero(np.isfinite(flat) & (flat > 0))
    uv = np.column_stack([valid % cam.width, valid // cam.width]).astype(np.float64)
    points = unproject(cam, uv, flat[valid]).astype(np.float32)
    colors = None if rgb is None else rgb.reshape(-1, rgb.shape[-1])[valid, :3]
    return points, colors
