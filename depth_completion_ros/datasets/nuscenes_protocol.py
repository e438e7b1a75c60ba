"""A held-out real-data check from one nuScenes key frame (HDL-32E, six cameras).

The ``nuscenes_sample`` folder holds the LIDAR_TOP scan (``.pcd.bin``, float32 x, y, z,
intensity, ring) and ``calib_from_pkl.json`` (per camera: ``file``, ``cam2img`` 3x3 and
``lidar2cam`` 4x4). For each camera, every 2nd of the 32 rings is the input (a 16-beam
LiDAR, rings ~2.7 deg apart, ~60 px at this focal length) and the other rings, after the
occlusion filter, the ground truth; the full 1600x900 image is kept.

Nothing in the classical methods was chosen on this data, so it is a check of whether
what was measured on the KITTI protocol carries over to another sensor and camera.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame, read_rgb
from depth_completion_ros.datasets.kitti_protocol import check_rings_descend
from depth_completion_ros.datasets.ring_protocol import ProtocolFrame, split_input_and_ground_truth
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.projection import OCCLUSION_WINDOW, points_to_sparse_depth
from depth_completion_ros.geometry.transforms import transform_points, validate_transform

CALIBRATION_FILE = "calib_from_pkl.json"
HDL32_RINGS = 32
INPUT_RING_STEP = 2  # every 2nd ring: a 16-beam input


def read_lidar_top(path: Path) -> np.ndarray:
    """(N, 5) float32 x, y, z (metres, LiDAR frame), intensity, ring."""
    raw = np.fromfile(path, dtype="<f4")
    if raw.size == 0 or raw.size % 5:
        raise BadInputError(str(path), f"{raw.size} floats is not a whole number of 5-float nuScenes points")
    return raw.reshape(-1, 5)


def read_sample(root: Path) -> tuple[dict, np.ndarray]:
    """``(cameras entry of calib_from_pkl.json, (N, 5) LIDAR_TOP points)`` of the sample folder."""
    try:
        calibration = json.loads((root / CALIBRATION_FILE).read_text())
        return calibration["cameras"], read_lidar_top(root / calibration["lidar"]["file"])
    except (OSError, ValueError, KeyError) as error:
        raise BadInputError(str(root / CALIBRATION_FILE), f"cannot read the sample ({error})") from None


def sample_camera(root: Path, name: str, entry: dict) -> tuple[np.ndarray, CameraModel, np.ndarray]:
    """``(rgb, camera, T_camera_lidar)`` of one camera of the sample."""
    rgb = read_rgb(root / entry["file"])
    camera = CameraModel(width=rgb.shape[1], height=rgb.shape[0], K=np.array(entry["cam2img"]))
    return rgb, camera, validate_transform(np.array(entry["lidar2cam"]), f"{CALIBRATION_FILE}: {name}.lidar2cam")


def build_protocol(sample_root: str | Path) -> list[ProtocolFrame]:
    """One protocol frame per camera of the key frame, named after the camera."""
    root = Path(sample_root)
    cameras, points = read_sample(root)
    rings = points[:, 4].astype(np.int64)
    if rings.min() != 0 or rings.max() != HDL32_RINGS - 1:
        raise BadInputError(str(root), f"ring ids span {rings.min()}..{rings.max()}, expected 0..{HDL32_RINGS - 1}")
    check_rings_descend(points, HDL32_RINGS - 1 - rings, str(root))  # nuScenes ring 0 is the lowest
    frames = []
    for name, entry in sorted(cameras.items()):
        rgb, camera, T_camera_lidar = sample_camera(root, name, entry)
        sparse, truth = split_input_and_ground_truth(points, camera, T_camera_lidar, rings % INPUT_RING_STEP == 0)
        frames.append(ProtocolFrame(CompletionFrame(f"{name}.png", rgb, sparse, camera), truth))
    return frames


RADAR_HEIGHT_IN_LIDAR = -1.32  # metres: a front radar 0.52 m above the road, LIDAR_TOP at 1.84 m
RADAR_LIKE_BAND = (-1.6, 0.2)  # LiDAR-frame z of returns a radar sees: objects, not the road


def radar_like_points(points: np.ndarray, count: int, rng: np.random.Generator,
                      range_noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A radar-like point set drawn from a LiDAR scan (the shared sample has no radar).

    ``count`` random returns on objects (LiDAR-frame z in :data:`RADAR_LIKE_BAND`, 2-80 m)
    are moved to the radar plane (no elevation, as a radar measures none) with range
    noise; rcs is a constant 10 dBsm and the velocities 0 (not derivable from one scan).

    Args:
        points: (N, 3+) LiDAR-frame metres.

    Returns:
        ``(radar (count, 6) float32 x, y, z, rcs, vx, vy in the LiDAR frame, used (N,) bool)``.
    """
    distance = np.linalg.norm(points[:, :2], axis=1)
    band = (points[:, 2] > RADAR_LIKE_BAND[0]) & (points[:, 2] < RADAR_LIKE_BAND[1]) & (distance > 2) & (distance < 80)
    chosen = rng.choice(np.flatnonzero(band), size=min(count, int(band.sum())), replace=False)
    xy = points[chosen, :2] * (1 + rng.normal(0, range_noise, len(chosen)) / distance[chosen])[:, None]
    radar = np.zeros((len(chosen), 6), np.float32)
    radar[:, :2], radar[:, 2], radar[:, 3] = xy, RADAR_HEIGHT_IN_LIDAR, 10.0
    used = np.zeros(len(points), bool)
    used[chosen] = True
    return radar, used


def radar_like_frames(sample_root: str | Path, count: int = 100, seed: int = 0
                      ) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, CameraModel]]:
    """Per camera: ``(name, rgb, radar (M, 6) camera frame, ground truth (H, W), camera)``.

    The radar-like points (:func:`radar_like_points`, drawn once for the whole scan) are the
    input; every other LiDAR return, after the occlusion filter, is the ground truth.
    """
    root = Path(sample_root)
    cameras, points = read_sample(root)
    radar, used = radar_like_points(points, count, np.random.default_rng(seed))
    frames = []
    for name, entry in sorted(cameras.items()):
        rgb, camera, T_camera_lidar = sample_camera(root, name, entry)
        in_camera = radar.copy()
        in_camera[:, :3] = transform_points(T_camera_lidar, radar[:, :3].astype(np.float64))
        truth = points_to_sparse_depth(points[~used], camera, T_camera_lidar, occlusion_window=OCCLUSION_WINDOW)
        frames.append((name, rgb, in_camera, truth, camera))
    return frames
