"""A small real-data depth-completion protocol built from KITTI object frames.

For each frame of a KITTI object folder (``image_2/``, ``velodyne/``, ``calib/``):

1. split the HDL-64E scan into its 64 rings by scan order: a new ring starts where the
   azimuth wraps around (it grows through each ring); then check that the median
   elevation falls strictly from ring to ring. (Binning by elevation alone mixes rings,
   because the HDL-64E's laser blocks are offset.)
2. the *input* is every 4th ring (a 16-beam LiDAR), projected into ``image_2``;
3. the *ground truth* is the other rings' points that survive the occlusion filter, run
   on all points so an input point can hide a ground-truth point behind it;
4. both are cropped as KITTI depth completion does: bottom 352 rows, central 1216
   columns, with the intrinsics following the crop (:meth:`CameraModel.cropped`).

:func:`~depth_completion_ros.datasets.ring_protocol.write_protocol` writes the result in
the KITTI depth-completion layout, so ``dcr complete`` and ``dcr evaluate`` run on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from depth_completion_ros.datasets.kitti import read_velodyne_bin
from depth_completion_ros.datasets.kitti_depth_completion import CompletionFrame, read_rgb
from depth_completion_ros.datasets.ring_protocol import ProtocolFrame, split_input_and_ground_truth
from depth_completion_ros.errors import BadInputError
from depth_completion_ros.geometry.camera import CameraModel
from depth_completion_ros.geometry.kitti_calib import KittiCalibration, load_object_calib

CROP_WIDTH, CROP_HEIGHT = 1216, 352  # KITTI depth-completion crop
HDL64_RINGS = 64
INPUT_RING_STEP = 4  # every 4th ring: a 16-beam input
RISE_TOLERANCE_DEG = 0.5


def ring_ids(points: np.ndarray) -> np.ndarray:
    """Ring index of each point of a scan stored in firing order.

    Args:
        points: (N, 3+) LiDAR-frame points in scan order.

    Returns:
        (N,) int64 ring ids 0, 1, ...: a new ring starts where the azimuth (in [0, 2 pi))
        drops by more than pi, i.e. wraps around. KITTI stores each ring as one sweep from
        azimuth 0 (straight ahead) round to 2 pi; a ring may start later when its first
        returns are missing.
    """
    azimuth = np.mod(np.arctan2(points[:, 1], points[:, 0]), 2 * np.pi)
    rings = np.zeros(points.shape[0], np.int64)
    rings[1:] = np.cumsum(np.diff(azimuth) < -np.pi)
    return rings


def check_rings_descend(points: np.ndarray, rings: np.ndarray, source: str = "scan") -> np.ndarray:
    """Check that the median elevation falls from ring to ring, up to a rise of
    :data:`RISE_TOLERANCE_DEG`: the HDL-64E's two laser blocks overlap in elevation at their
    boundary (rings 29-30 rise by up to 0.18 deg in KITTI raw 2011_09_26) and a near object
    shifts a ring's median by parallax (0.46 deg at ring 20 of its frame 0, with normal
    point counts); a split that merges or cuts rings moves whole rings (several degrees).

    Returns:
        (R,) median elevation of each ring in radians.

    Raises:
        BadInputError: the scan is not in firing order (the ring split is wrong).
    """
    counts = np.bincount(rings)
    if np.any(counts == 0):
        raise BadInputError(source, f"ring {int(np.argmin(counts))} has no point; the ring ids are not contiguous")
    elevation = np.arctan2(points[:, 2], np.hypot(points[:, 0], points[:, 1]))
    medians = np.array([np.median(elevation[rings == r]) for r in range(counts.size)])
    rising = np.flatnonzero(np.diff(medians) > np.radians(RISE_TOLERANCE_DEG))
    if rising.size:
        raise BadInputError(
            source,
            f"median elevation does not fall from ring {rising[0]} to {rising[0] + 1} "
            f"({np.degrees(medians[rising[0]]):.2f} -> {np.degrees(medians[rising[0] + 1]):.2f} deg): "
            "the points are not in the sensor's firing order, so rings cannot be told apart",
        )
    return medians


def completion_crop(camera: CameraModel) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the bottom 352 rows and central 1216 columns."""
    if camera.width < CROP_WIDTH or camera.height < CROP_HEIGHT:
        raise BadInputError("image", f"{camera.width}x{camera.height} is smaller than the {CROP_WIDTH}x{CROP_HEIGHT} crop")
    return (camera.width - CROP_WIDTH) // 2, camera.height - CROP_HEIGHT, CROP_WIDTH, CROP_HEIGHT


def build_frame(image_path: Path, velodyne_path: Path, calib_path: Path) -> ProtocolFrame:
    """The protocol frame of one KITTI object sample (see the module docstring)."""
    return protocol_frame(image_path, velodyne_path, load_object_calib(calib_path),
                          lambda points, rings: rings % INPUT_RING_STEP == 0)


def protocol_frame(image_path: Path, velodyne_path: Path, calib: KittiCalibration,
                   input_mask: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> ProtocolFrame:
    """One HDL-64E frame split into input and ground truth, cropped as KITTI depth completion.

    Args:
        image_path, velodyne_path: the ``image_2`` PNG and the scan (``.bin``, firing order).
        calib: its calibration (camera 2's ``P_rect``, ``R_rect``, ``T_cam0_velo``).
        input_mask: ``(points, rings) -> (N,) bool``, the points that form the input.
    """
    rgb = read_rgb(image_path)
    points = read_velodyne_bin(velodyne_path)
    rings = ring_ids(points)
    if rings.max() + 1 != HDL64_RINGS:
        raise BadInputError(str(velodyne_path), f"found {rings.max() + 1} rings, expected {HDL64_RINGS} (HDL-64E)")
    check_rings_descend(points, rings, str(velodyne_path))
    full_camera = calib.camera(2, rgb.shape[1], rgb.shape[0])
    x, y, width, height = completion_crop(full_camera)
    camera = full_camera.cropped(x, y, width, height)
    sparse, ground_truth = split_input_and_ground_truth(points, camera, calib.T_cam0_velo, input_mask(points, rings))
    frame = CompletionFrame(f"{image_path.stem}.png", np.ascontiguousarray(rgb[y : y + height, x : x + width]), sparse, camera)
    return ProtocolFrame(frame, ground_truth)


def build_protocol(kitti_object_root: str | Path) -> list[ProtocolFrame]:
    """Protocol frames for every ``velodyne/*.bin`` of a KITTI object folder."""
    root = Path(kitti_object_root)
    scans = sorted((root / "velodyne").glob("*.bin"))
    if not scans:
        raise BadInputError(str(root / "velodyne"), "no .bin scans found; point to a KITTI object training folder")
    return [
        build_frame(root / "image_2" / f"{scan.stem}.png", scan, root / "calib" / f"{scan.stem}.txt")
        for scan in scans
    ]
