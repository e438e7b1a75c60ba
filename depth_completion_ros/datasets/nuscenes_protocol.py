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
from depth_completion_ros.geometry.transforms import validate_transform

CALIBRATION_FILE = "calib_from_pkl.json"
HDL32_RINGS = 32
INPUT_RING_STEP = 2  # every 2nd ring: a 16-beam input


def read_lidar_top(path: Path) -> np.ndarray:
    """(N, 5) float32 x, y, z (metres, LiDAR frame), intensity, ring."""
    raw = np.fromfile(path, dtype="<f4")
    if raw.size == 0 or raw.size % 5:
        raise BadInputError(str(path), f"{raw.size} floats is not a whole number of 5-float nuScenes points")
    return raw.reshape(-1, 5)


def build_protocol(sample_root: str | Path) -> list[ProtocolFrame]:
    """One protocol frame per camera of the key frame, named after the camera."""
    root = Path(sample_root)
    try:
        calibration = json.loads((root / CALIBRATION_FILE).read_text())
        cameras = calibration["cameras"]
        points = read_lidar_top(root / calibration["lidar"]["file"])
    except (OSError, ValueError, KeyError) as error:
        raise BadInputError(str(root / CALIBRATION_FILE), f"cannot read the sample ({error})") from None
    rings = points[:, 4].astype(np.int64)
    if rings.min() != 0 or rings.max() != HDL32_RINGS - 1:
        raise BadInputError(str(root), f"ring ids span {rings.min()}..{rings.max()}, expected 0..{HDL32_RINGS - 1}")
    check_rings_descend(points, HDL32_RINGS - 1 - rings, str(root))  # nuScenes ring 0 is the lowest
    frames = []
    for name, entry in sorted(cameras.items()):
        rgb = read_rgb(root / entry["file"])
        camera = CameraModel(width=rgb.shape[1], height=rgb.shape[0], K=np.array(entry["cam2img"]))
        T_camera_lidar = validate_transform(np.array(entry["lidar2cam"]), f"{CALIBRATION_FILE}: {name}.lidar2cam")
        sparse, truth = split_input_and_ground_truth(points, camera, T_camera_lidar, rings % INPUT_RING_STEP == 0)
        frames.append(ProtocolFrame(CompletionFrame(f"{name}.png", rgb, sparse, camera), truth))
    return frames
