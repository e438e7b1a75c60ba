"""Real KITTI raw frames as held-out-ring completion protocols at several input densities.

The frames are the 78 consecutive ones of drive 2011_09_26 in the public snapshot
``udacity/SFND_3D_Object_Tracking`` @ 3f286436 (``../shared/data/REAL_SOURCES.md``, entry 1;
KITTI licence CC BY-NC-SA 3.0, research use): ``image_02`` colour PNGs 1242x375 and the
HDL-64E scans, without calibration files. Extract them outside the repository::

    git --git-dir=<snapshot> archive 3f2864369a4fc3afa88cbff39423566164a83d00 images/KITTI/2011_09_26 \
        | tar -x -C /work/data/kitti_raw

and point ``$DCR_KITTI_RAW`` (or ``--kitti-raw``) at ``.../images/KITTI/2011_09_26``.

Calibration: the velo -> cam0 transform and ``R_rect_00`` hard-coded in the snapshot's
``src/FinalProject_Camera.cpp``, and the 2011_09_26 ``P_rect_02`` (:data:`CALIBRATION`).

Split (fixed): the last scan is partial and is never used; of the 77 others the first
:data:`TRAINING_FRAMES` may train (``training``: all of them; ``fit``: the first
``TRAINING_FRAMES - TUNING_FRAMES``; ``tuning``: the last :data:`TUNING_FRAMES` of them, which
a trainer validates on), the last :data:`VALIDATION_FRAMES` (``validation``) are never
trained or tuned on.

:func:`cached_frame` turns a frame into a training
:class:`~depth_completion_ros.datasets.cached_frame.CachedFrame` (``dcr train cache --kitti-raw``).

Densities (:data:`DENSITIES`): the input is every 8th / 4th / 2nd ring (an 8-, 16-, 32-beam
LiDAR) or every second point in firing order (``half``); the ground truth is the other
points after the occlusion filter (:func:`~.kitti_protocol.protocol_frame`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from depth_completion_ros.datasets.kitti_protocol import protocol_frame
from depth_completion_ros.datasets.ring_protocol import ProtocolFrame
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.kitti_calib import KittiCalibration

DEFAULT_ROOT = Path("/work/data/kitti_raw/images/KITTI/2011_09_26")
USABLE_FRAMES = 77  # frame 77's scan is partial
TRAINING_FRAMES = 57
TUNING_FRAMES = 10
VALIDATION_FRAMES = 20

_T_CAM0_VELO = np.array([
    [7.533745e-03, -9.999714e-01, -6.166020e-04, -4.069766e-03],
    [1.480249e-02, 7.280733e-04, -9.998902e-01, -7.631618e-02],
    [9.998621e-01, 7.523790e-03, 1.480755e-02, -2.717806e-01],
    [0.0, 0.0, 0.0, 1.0],
])
_R_RECT_00 = np.array([
    [9.999239e-01, 9.837760e-03, -7.445048e-03],
    [-9.869795e-03, 9.999421e-01, -4.278459e-03],
    [7.402527e-03, 4.351614e-03, 9.999631e-01],
])
_P_RECT_02 = np.array([
    [7.215377e02, 0.0, 6.095593e02, 4.485728e01],
    [0.0, 7.215377e02, 1.728540e02, 2.163791e-01],
    [0.0, 0.0, 1.0, 2.745884e-03],
])
CALIBRATION = KittiCalibration(P_rect={2: _P_RECT_02}, R_rect=_R_RECT_00, T_cam0_velo=_T_CAM0_VELO,
                               source="KITTI raw 2011_09_26 (SFND_3D_Object_Tracking)")

DENSITIES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "8-beam": lambda points, rings: rings % 8 == 0,
    "16-beam": lambda points, rings: rings % 4 == 0,
    "32-beam": lambda points, rings: rings % 2 == 0,
    "half": lambda points, rings: np.arange(len(points)) % 2 == 0,
}
SPLITS = ("training", "fit", "tuning", "validation")


def find_kitti_raw() -> Path | None:
    """``$DCR_KITTI_RAW``, else :data:`DEFAULT_ROOT`, when it holds the scans; None otherwise."""
    root = Path(os.environ.get("DCR_KITTI_RAW", DEFAULT_ROOT))
    return root if (root / "velodyne_points" / "data").is_dir() else None


def frame_stems(root: str | Path, split: str) -> list[str]:
    """The frame names (``0000000057``) of ``split`` in a drive folder, in time order."""
    if split not in SPLITS:
        raise BadInputError("split", f"'{split}' is not one of {SPLITS}")
    scans = sorted((Path(root) / "velodyne_points" / "data").glob("*.bin"))
    if len(scans) < USABLE_FRAMES:
        raise BadInputError(str(root), f"holds {len(scans)} scans, expected the snapshot's 78; see "
                            "depth_completion_ros/datasets/kitti_raw.py for how to extract them")
    usable = [scan.stem for scan in scans[:USABLE_FRAMES]]
    training = usable[:TRAINING_FRAMES]
    return {"training": training, "fit": training[:-TUNING_FRAMES], "tuning": training[-TUNING_FRAMES:],
            "validation": usable[-VALIDATION_FRAMES:]}[split]


def build_raw_protocol(root: str | Path, density: str, split: str = "validation") -> list[ProtocolFrame]:
    """The protocol frames of ``split`` at input ``density`` (one of :data:`DENSITIES`)."""
    if density not in DENSITIES:
        raise BadInputError("density", f"'{density}' is not one of {sorted(DENSITIES)}")
    root = Path(root)
    return [protocol_frame(root / "image_02" / "data" / f"{stem}.png",
                           root / "velodyne_points" / "data" / f"{stem}.bin", CALIBRATION, DENSITIES[density])
            for stem in frame_stems(root, split)]


def cached_frame(root: str | Path, stem: str):
    """Frame ``stem`` as a training :class:`~depth_completion_ros.datasets.cached_frame.CachedFrame`.

    ``rgb`` the whole 1242x375 image; ``points`` the scan in camera 2's rectified optical
    frame (in front of it), ``ring`` KITTI's scan order (0 = top beam, unlike the
    simulator's frames: ring % 4 then picks the 16-beam protocol's input); ``camera`` ``K`` of
    ``P_rect_02``; ``depth``: no dense ground truth exists, so it holds the 16-beam protocol's
    ground truth in its crop (the held-out rings after the occlusion filter, 0 elsewhere):
    what a trainer's validation scores (every 4th ring as input, the same crop) is then the
    16-beam protocol exactly. Train real frames with ``supervision: sparse`` only.
    """
    from depth_completion_ros.datasets.kitti import read_velodyne_bin
    from depth_completion_ros.datasets.kitti_depth_completion import read_rgb
    from depth_completion_ros.datasets.kitti_protocol import HDL64_RINGS, check_rings_descend, completion_crop, ring_ids
    from depth_completion_ros.datasets.ring_protocol import split_input_and_ground_truth
    from depth_completion_ros.geometry.kitti_calib import camera_in_own_frame
    from depth_completion_ros.geometry.transforms import transform_points
    from depth_completion_ros.datasets.cached_frame import CachedFrame

    root = Path(root)
    scan_path = root / "velodyne_points" / "data" / f"{stem}.bin"
    rgb = read_rgb(root / "image_02" / "data" / f"{stem}.png")
    scan = read_velodyne_bin(scan_path)
    rings = ring_ids(scan)
    if rings.max() + 1 != HDL64_RINGS:
        raise BadInputError(str(scan_path), f"found {rings.max() + 1} rings, expected {HDL64_RINGS} (HDL-64E)")
    check_rings_descend(scan, rings, str(scan_path))
    camera, T_camera_velo = camera_in_own_frame(CALIBRATION, 2, rgb.shape[1], rgb.shape[0])
    x, y, width, height = completion_crop(camera)
    _, crop_truth = split_input_and_ground_truth(scan, camera.cropped(x, y, width, height), T_camera_velo,
                                                 rings % 4 == 0)
    ground_truth = np.zeros(rgb.shape[:2], np.float32)
    ground_truth[y:y + height, x:x + width] = crop_truth
    points = transform_points(T_camera_velo, scan[:, :3])
    ahead = points[:, 2] > 0.1
    return CachedFrame(rgb, ground_truth, camera, points[ahead].astype(np.float32), rings[ahead].astype(np.int64),
                       "kitti-raw")
