"""Radar points as network input (Sparse Beats Dense): point depth, column map, point list.

Radar points reach the completion code as an (M, 6) float32 array with the columns of
:data:`RADAR_FEATURES` (the node maps the driver's field names onto them and moves x, y, z
into the camera optical frame; the velocities stay in the radar frame, as drivers give
them). From one frame and one camera this module makes the three radar inputs of
:class:`~depth_completion_ros.models.completion_net.CompletionNet`:

* the projected point depth (:func:`radar_depth_image`, a sparse (H, W) image: the radar's
  own measurement, never replaced);
* the **column map** (:func:`column_map`): radar measures no reliable elevation, so each
  point's depth is spread over its whole image column (``half_width`` pixels either
  side, the nearest point winning); a separate channel, beside the point depth;
* the padded point list (:func:`pad_radar_points`) for the radar-position injection MLP.

The prior the network refines is :func:`column_prior`: the column map filled sideways from
the nearest radar column, a dense but crude first guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import project_to_pixels, zbuffer

RADAR_FEATURES = ("x", "y", "z", "rcs", "vx", "vy")  # camera optical metres, dBsm, m/s (radar frame)
DEFAULT_MAX_POINTS = 128  # nuScenes' front radar keeps <= 125 returns per sweep
COLUMN_HALF_WIDTH_PX = 2


def check_radar(radar: np.ndarray | None) -> np.ndarray:
    """(M, 6) float32 radar points, or an empty (0, 6) array for None.

    Missing trailing columns (a driver without rcs or velocity) are zero-filled; NaN rows
    are dropped.

    Raises:
        ValueError: not a 2-D array with at least x, y, z.
    """
    if radar is None:
        return np.zeros((0, len(RADAR_FEATURES)), np.float32)
    radar = np.asarray(radar, dtype=np.float32)
    if radar.ndim != 2 or radar.shape[1] < 3:
        raise ValueError(f"radar points must be (M, 3+) x, y, z[, rcs, vx, vy], got shape {radar.shape}")
    out = np.zeros((radar.shape[0], len(RADAR_FEATURES)), np.float32)
    columns = min(radar.shape[1], len(RADAR_FEATURES))
    out[:, :columns] = radar[:, :columns]
    return out[np.all(np.isfinite(out), axis=1)]


def radar_in_view(radar: np.ndarray, camera: CameraModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The radar points that project into the image.

    Args:
        radar: (M, 6) float32, :data:`RADAR_FEATURES`, x, y, z in the camera optical frame.

    Returns:
        ``(points (n, 6), rows (n,), cols (n,))`` of the points in front of the camera and
        inside the image.
    """
    hits = project_to_pixels(radar, camera)
    return radar[hits.point_index], hits.rows, hits.cols


def radar_depth_image(radar: np.ndarray, camera: CameraModel) -> np.ndarray:
    """(H, W) float32 sparse depth of the radar points (metres, 0 = none; nearest per pixel)."""
    cam = camera.image_model()
    depth, _ = zbuffer(project_to_pixels(radar, cam), cam.height, cam.width)
    return depth


def column_depths(radar_depth: np.ndarray, half_width: int = COLUMN_HALF_WIDTH_PX) -> np.ndarray:
    """(W,) float32 nearest radar depth of each column (0 = none), spread ``half_width`` px sideways.

    Args:
        radar_depth: (H, W) float32 sparse radar depth, metres.
    """
    as_far = np.where(radar_depth > 0, radar_depth, np.float32(np.inf)).min(axis=0)
    if half_width > 0:
        padded = np.pad(as_far, half_width, constant_values=np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_width + 1)
        as_far = windows.min(axis=1)
    return np.where(np.isfinite(as_far), as_far, 0).astype(np.float32)


def column_map(radar_depth: np.ndarray, half_width: int = COLUMN_HALF_WIDTH_PX) -> np.ndarray:
    """(H, W) float32: every row of a column holds that column's radar depth (0 = none)."""
    columns = column_depths(radar_depth, half_width)
    return np.broadcast_to(columns, radar_depth.shape).copy()


def column_prior(column: np.ndarray) -> np.ndarray:
    """(H, W) float32 dense prior: the column map filled sideways from the nearest radar column.

    Args:
        column: (H, W) float32 :func:`column_map` (all rows equal).

    Returns:
        All zeros when there is no radar column.
    """
    row = column[0]
    filled = np.flatnonzero(row > 0)
    if filled.size == 0:
        return np.zeros_like(column)
    positions = np.arange(row.size)
    # Nearest filled column: the index into `filled` left or right of each position.
    right = np.clip(np.searchsorted(filled, positions), 0, filled.size - 1)
    left = np.clip(right - 1, 0, filled.size - 1)
    nearest = np.where(np.abs(filled[left] - positions) <= np.abs(filled[right] - positions), filled[left],
                       filled[right])
    return np.broadcast_to(row[nearest], column.shape).astype(np.float32)


def pad_radar_points(points: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-size point list for the injection MLP.

    Args:
        points: (n, 6) float32 radar points in view.
        max_points: N; with more points the strongest (highest rcs) are kept.

    Returns:
        ``(features (N, 6) float32, valid (N,) bool)``; padding rows are zero and invalid.
    """
    if points.shape[0] > max_points:
        points = points[np.argsort(-points[:, 3], kind="stable")[:max_points]]
    features = np.zeros((max_points, len(RADAR_FEATURES)), np.float32)
    valid = np.zeros(max_points, bool)
    features[: points.shape[0]] = points
    valid[: points.shape[0]] = True
    return features, valid


def flip_radar_points(points: np.ndarray) -> np.ndarray:
    """(n, 6) points mirrored with a horizontally flipped image: camera x and lateral vy negated."""
    flipped = points.copy()
    flipped[:, 0] *= -1
    flipped[:, 5] *= -1
    return flipped


DEFAULT_EMPTY_SCALE = 20.0  # metres; the per-image scale m of a frame without radar points


@dataclass(frozen=True)
class RadarInputs:
    """Everything the radar network takes besides the image (one frame, one camera).

    Attributes:
        sparse: (H, W) float32 radar point depth, metres (0 = none).
        column: (H, W) float32 :func:`column_map`.
        prior: (H, W) float32 :func:`column_prior`.
        points: (N, 6) float32 padded point list; valid: (N,) bool.
        scale: metres, the median radar depth in view (``empty_scale`` without points).
    """

    sparse: np.ndarray
    column: np.ndarray
    prior: np.ndarray
    points: np.ndarray
    valid: np.ndarray
    scale: float


def ground_depth(camera: CameraModel, height_m: float, pitch_deg: float = 0.0) -> np.ndarray:
    """(H,) float32 depth (optical-axis z, metres) at which each image row's ray meets a flat
    road ``height_m`` below the camera; ``inf`` for rows at or above the horizon.

    Args:
        camera: the image's pinhole model (rows through ``cy`` / ``fy``; roll is ignored).
        height_m: camera height above the road.
        pitch_deg: downward pitch of the optical axis (positive = looking down).
    """
    cam = camera.image_model()
    pitch = np.deg2rad(pitch_deg)
    ray_y = (np.arange(cam.height, dtype=np.float64) - cam.cy) / cam.fy  # per unit z, y down
    drop = ray_y * np.cos(pitch) + np.sin(pitch)  # the ray's fall per unit of its z, level frame
    depth = np.full(cam.height, np.inf)
    depth[drop > 1e-6] = height_m / drop[drop > 1e-6]
    return depth.astype(np.float32)


def road_cut(columns: np.ndarray, road: np.ndarray) -> np.ndarray:
    """(H, W) float32: radar column depths cut where the flat road is nearer; without any
    radar column, the road below the horizon and 0 above it.

    Args:
        columns: (H, W) float32 :func:`column_prior` (0 = no radar column in the image).
        road: (H,) float32 :func:`ground_depth`.
    """
    road = road[:, None]
    cut = np.where(columns > 0, np.minimum(columns, road), np.where(np.isfinite(road), road, 0.0))
    return np.broadcast_to(cut, columns.shape).astype(np.float32)


def radar_network_inputs(radar: np.ndarray, camera: CameraModel, max_points: int,
                         empty_scale: float = DEFAULT_EMPTY_SCALE,
                         road: tuple[float, float] | None = None) -> RadarInputs:
    """The radar inputs of one frame (training samples, validation and inference all use this).

    Args:
        radar: (M, 6) float32 :data:`RADAR_FEATURES`, x, y, z in the camera optical frame.
        camera: the camera of the image the network sees (after any resize or crop).
        max_points: N of the padded point list.
        road: (camera height m, downward pitch deg) above a flat road: the prior is then the
            column prior cut by the road (:func:`road_cut`); None = the column prior alone.
    """
    in_view, _, _ = radar_in_view(radar, camera)
    sparse = radar_depth_image(in_view, camera)
    column = column_map(sparse)
    prior = column_prior(column)
    if road is not None:
        prior = road_cut(prior, ground_depth(camera, *road))
    points, valid = pad_radar_points(in_view, max_points)
    depths = sparse[sparse > 0]
    scale = float(np.median(depths)) if depths.size else float(empty_scale)
    return RadarInputs(sparse, column, prior, points, valid, scale)
